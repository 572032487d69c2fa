"""The IVR on the real Asterisk, heard by a real SIP phone.

The controller's schedule clock is set to a July morning (``[ivr] fixed_time``), so the caller
hears the heatstroke message; the phone records what it receives, and the recording's energy
envelope must match the generated prompt's from start to end.  Keys skip messages, the menu
choice reaches the ACD with its skill, garbage keys end at any operator, and the ticket keeps
the path.
"""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from harness import eventually
from harness.agi_commands import AgiCommands
from harness.audio import best_match, envelope, read_wav, received_audio, wav_duration
from harness.controller import Controller

from callcenter import keys
from callcenter.ivr.prompts import sound_path
from callcenter.settings import DatabaseSettings

pytestmark = pytest.mark.e2e

JULY_MORNING = "2025-07-15T10:00:00+08:00"


class Observed:
    """What the controller did: the prompts Asterisk started playing (AMI) and serve_call's arguments."""

    def __init__(self, controller: Controller, commands: AgiCommands) -> None:
        self.commands = commands
        self.served: list[dict] = []
        adapter = controller[keys.ADAPTER]
        serve = adapter.serve_call

        async def spy_serve(agi, call_id, priority=0, skill=None):
            self.served.append({"call_id": call_id, "priority": priority, "skill": skill})
            return await serve(agi, call_id, priority=priority, skill=skill)

        adapter.serve_call = spy_serve

    @classmethod
    async def watch(cls, controller: Controller) -> Observed:
        return cls(controller, await AgiCommands.watch(controller[keys.AMI]))

    async def playing(self, name: str, language: str = "zh", timeout: float = 20.0) -> None:
        """Asterisk has started this prompt (the next time after the last one waited for).

        A key sent now is a barge-in on it: Asterisk announces the command before running it, and a
        key that arrives while STREAM FILE opens the file waits on the channel until it is read.
        """
        await self.commands.prompt(language, name, timeout=timeout)


@pytest.fixture
async def ivr_controller(asterisk, db_url):
    """A controller whose schedule sees a July morning, a short menu timeout, agent 1003 on "guidance"."""
    agents = tuple(
        dataclasses.replace(a, skills=("guidance",)) if a.id == "1003" else a for a in asterisk.agents
    )
    settings = dataclasses.replace(
        asterisk,
        database=DatabaseSettings(url=db_url),
        agents=agents,
        ivr=dataclasses.replace(asterisk.ivr, enabled=True, fixed_time=JULY_MORNING, menu_timeout=1.5, menu_attempts=2),
    )
    controller = await Controller(settings).start()
    yield controller
    await controller.stop()


async def ticket_of(controller: Controller, number: str, ended: bool = True):
    async def probe():
        rows = [t for t in await controller[keys.TICKETS].list_recent() if t.caller_number == number]
        if rows and "ivr" in rows[0].details and (rows[0].ended_at is not None or not ended):
            return rows
        return None

    rows = await eventually(probe, timeout=10, message=f"ticket of {number}")
    assert len(rows) == 1
    return rows[0]


async def test_july_caller_hears_heatstroke_and_menu_choice_reaches_the_acd(ivr_controller, phone_factory, asterisk, tmp_path):
    controller = ivr_controller
    seen = await Observed.watch(controller)
    agent = await phone_factory("1003", answer="manual", answer_after=0.3)
    caller = await phone_factory("2004", answer="manual", record_to=tmp_path / "rec")
    await eventually(lambda: "1003" in controller[keys.ADAPTER].acd.agents, timeout=5, message="agent known")

    await caller.dial(asterisk.asterisk.hotline_number)
    await caller.wait_event("CALL_ESTABLISHED", timeout=5)
    for prompt in ("greeting", "for_english", "recording_notice"):  # keys skip what is not under test
        await seen.playing(prompt)
        await caller.send_dtmf("1")
    await seen.playing("heatstroke")
    await seen.playing("menu", timeout=60)  # heatstroke plays to its end, then the menu
    await caller.send_dtmf("3")  # medical guidance
    await agent.wait_event("CALL_ESTABLISHED", timeout=15)
    await asyncio.sleep(0.5)
    await agent.hangup()
    await caller.wait_event("CALL_CLOSED", timeout=5)
    await caller.stop()  # closes the recording

    # the menu choice reached the ACD with its skill
    assert [(s["skill"], s["priority"]) for s in seen.served] == [("guidance", 0)]

    # the ticket keeps the path
    ticket = await ticket_of(controller, "2004")
    assert ticket.call_status == "completed" and ticket.agent_id == "1003"
    ivr = ticket.details["ivr"]
    assert ivr["outcome"] == "routed" and ivr["language"] == "zh"
    assert ivr["seasonal"] == ["heatstroke"]
    messages = {m["prompt"]: m for m in ivr["messages"]}
    assert [m["prompt"] for m in ivr["messages"]] == [
        "greeting", "for_english", "recording_notice", "heatstroke", "menu", "connecting",
    ]
    assert messages["greeting"]["outcome"] == "skipped" and messages["greeting"]["key"] == "1"
    assert messages["heatstroke"]["outcome"] == "played"
    assert messages["menu"] == {**messages["menu"], "outcome": "skipped", "key": "3"}
    assert ivr["menu"]["choice"] == "guidance" and ivr["menu"]["skill"] == "guidance"
    assert ivr["keys"] == ["1", "1", "1", "3"]
    reference = sound_path(asterisk.sounds_path, "zh", "heatstroke")
    assert messages["heatstroke"]["seconds"] == pytest.approx(wav_duration(reference), abs=1.0)
    assert ivr["seconds"] > messages["heatstroke"]["seconds"]

    # the caller really heard the heatstroke message, all of it
    received = received_audio(tmp_path / "rec")
    heard = envelope(*read_wav(received))
    match = best_match(envelope(*read_wav(reference)), heard)
    print(f"heatstroke in the recording: {match}")
    assert match.correlation > 0.8, match
    assert match.tail_correlation > 0.7, match  # its last seconds too: it was not cut short
    # a control: another message of about the same length does not fit the recording
    other = best_match(envelope(*read_wav(sound_path(asterisk.sounds_path, "zh", "flu"))), heard)
    assert other.correlation < match.correlation - 0.3, (match, other)


async def test_keys_skip_switch_language_and_garbage_ends_at_any_operator(ivr_controller, phone_factory, asterisk):
    controller = ivr_controller
    seen = await Observed.watch(controller)
    caller = await phone_factory("2005", answer="manual")  # no agent: the caller waits, then leaves

    await caller.dial(asterisk.asterisk.hotline_number)
    await caller.wait_event("CALL_ESTABLISHED", timeout=5)
    await seen.playing("greeting")
    await caller.send_dtmf("*")  # English: the greeting again, in English
    await seen.playing("greeting", "en")
    await caller.send_dtmf("1")
    for prompt in ("for_chinese", "recording_notice", "heatstroke"):
        await seen.playing(prompt, "en")
        await caller.send_dtmf("5")
    await seen.playing("menu", "en")
    await caller.send_dtmf("7")  # no such choice
    await seen.playing("menu", "en")  # after "not a menu choice" the menu again
    await caller.send_dtmf("#")  # garbage again: menu_attempts (2) used up
    await eventually(lambda: seen.served, timeout=15, message="handed to the ACD")
    assert seen.served[0]["skill"] is None  # any operator
    await asyncio.sleep(0.3)
    await caller.hangup()

    ticket = await ticket_of(controller, "2005")
    assert ticket.call_status == "abandoned"  # the ticket is kept, ended by the caller
    ivr = ticket.details["ivr"]
    assert ivr["language"] == "en"
    heat = next(m for m in ivr["messages"] if m["prompt"] == "heatstroke")
    assert heat["outcome"] == "skipped" and heat["key"] == "5" and heat["language"] == "en"
    assert heat["seconds"] < 5
    assert ivr["menu"]["invalid"] == 2 and ivr["menu"]["gave_up"] is True
    assert ivr["menu"]["choice"] == "operator" and ivr["menu"]["skill"] is None
    assert ivr["keys"][:2] == ["*", "1"] and ivr["keys"][-2:] == ["7", "#"]


async def test_caller_leaving_during_the_greeting_keeps_ticket_and_path(ivr_controller, phone_factory, asterisk):
    controller = ivr_controller
    seen = await Observed.watch(controller)
    caller = await phone_factory("2006", answer="manual")
    await caller.dial(asterisk.asterisk.hotline_number)
    await caller.wait_event("CALL_ESTABLISHED", timeout=5)
    await seen.playing("greeting")
    await caller.hangup()

    ticket = await ticket_of(controller, "2006")
    assert ticket.call_status == "abandoned" and ticket.hangup_by == "caller"
    assert ticket.details["ivr"]["outcome"] == "hangup"
    assert ticket.details["ivr"]["messages"][0]["prompt"] == "greeting"
    assert not seen.served


async def test_repeat_caller_skips_the_seasonal_message(ivr_controller, phone_factory, asterisk):
    controller = ivr_controller
    seen = await Observed.watch(controller)
    caller = await phone_factory("2006", answer="manual")
    for attempt in range(2):
        await caller.dial(asterisk.asterisk.hotline_number)
        await caller.wait_event("CALL_ESTABLISHED", timeout=5)
        await seen.playing("greeting")
        await caller.send_dtmf("1")
        await seen.playing("for_english")
        await caller.send_dtmf("1")
        await seen.playing("recording_notice")
        await caller.send_dtmf("1")
        expected = "heatstroke" if attempt == 0 else "menu"
        await seen.playing(expected)
        await caller.hangup()
        await caller.wait_event("CALL_CLOSED", timeout=5)

    rows = await eventually(
        lambda: _two_paths(controller), timeout=10, message="two tickets with IVR paths"
    )
    second, first = rows  # newest first
    assert first.details["ivr"]["seasonal"] == ["heatstroke"]
    assert second.details["ivr"]["seasonal"] == []
    assert second.details["ivr"]["seasonal_skipped"] == "repeat_caller"


async def _two_paths(controller):
    rows = [t for t in await controller[keys.TICKETS].list_recent() if t.caller_number == "2006"]
    return rows if len(rows) == 2 and all("ivr" in t.details for t in rows) else None
