"""A caller on hold hears their place and the estimated wait, on the real Asterisk with real phones.

One operator is talking; two more callers wait.  The one next in line hears nothing (an announcement
would only delay the answer); the one behind hears "one caller ahead of you" and the wait, every
``announce_every`` seconds, and the phone's recording holds the prompt.
"""

from __future__ import annotations

import re

import pytest
from harness import eventually
from harness.agi_commands import AgiCommands
from harness.audio import best_match, envelope, read_wav, received_audio

from callcenter import keys
from callcenter.ivr.prompts import sound_path

pytestmark = pytest.mark.e2e


async def test_the_second_caller_in_line_hears_place_and_wait_the_first_hears_nothing(
    controller_factory, phone_factory, asterisk, tmp_path
):
    controller = await controller_factory(announce_every=2.0, pair_when_idle=False)
    adapter = controller[keys.ADAPTER]
    commands = await AgiCommands.watch(controller[keys.AMI])
    operator = await phone_factory("1001", answer="manual", answer_after=0.3)
    await eventually(lambda: "1001" in adapter.acd.agents and adapter.acd.agents["1001"].state == "available",
                     timeout=5, message="1001 available")
    talking = await phone_factory("2001", answer="manual")
    first = await phone_factory("2002", answer="manual")
    second = await phone_factory("2003", answer="manual", record_to=tmp_path / "rec")

    await talking.dial(asterisk.asterisk.hotline_number)
    await operator.wait_event("CALL_ESTABLISHED", timeout=10)
    await first.dial(asterisk.asterisk.hotline_number)
    await eventually(lambda: len(adapter.acd.waiting()) == 1, timeout=10, message="first caller waiting")
    await second.dial(asterisk.asterisk.hotline_number)
    await eventually(lambda: len(adapter.acd.waiting()) == 2, timeout=10, message="second caller waiting")
    [_head, behind] = adapter.acd.waiting()
    assert adapter.acd.position(behind.call_id) == 2

    place = await commands.next(r"STREAM FILE \S+/hotline/zh/queue_ahead_1 ", timeout=10)
    wait = await commands.next(r"STREAM FILE \S+/hotline/zh/queue_wait_(\d+m|long) ", timeout=10)
    assert place.uniqueid == behind.call_id and wait.uniqueid == behind.call_id
    await commands.next(r"STREAM FILE \S+/hotline/zh/queue_ahead_1 ", timeout=10)  # again, announce_every later
    told = [c for c in commands.log if "/queue_" in c.command]
    assert {c.uniqueid for c in told} == {behind.call_id}, "the caller next in line was told something"
    minutes = re.search(r"queue_wait_(\d+m|long)", wait.command)
    print(f"announced: one ahead, wait {minutes.group(1) if minutes else '?'}; "
          f"core's estimate now {adapter.acd.estimated_wait(behind.call_id, adapter.clock())}")

    await second.hangup()
    await second.stop()  # closes the recording
    for phone in (first, talking):
        await phone.hangup()
    await eventually(lambda: not adapter.calls, timeout=10, message="calls over")

    reference = sound_path(asterisk.sounds_path, "zh", "queue_ahead_1")
    heard = envelope(*read_wav(received_audio(tmp_path / "rec")))
    match = best_match(envelope(*read_wav(reference)), heard)
    print(f"queue_ahead_1 in the recording: {match}")
    assert match.correlation > 0.8, match
    other = best_match(envelope(*read_wav(sound_path(asterisk.sounds_path, "zh", "queue_ahead_many"))), heard)
    assert other.correlation < match.correlation, (match, other)
