"""The phone API against the real Asterisk: register, ring, accept by hand, DTMF, hang up."""

from __future__ import annotations

import pytest

from harness import eventually

pytestmark = pytest.mark.e2e


async def test_manual_answer_between_agents(phone_factory, asterisk):
    callee = await phone_factory("1001", answer="manual")
    caller = await phone_factory("1002", answer="manual")

    await caller.dial("1001")
    incoming = await callee.wait_event("CALL_INCOMING", timeout=5)
    assert "1002" in incoming["peeruri"]
    await caller.wait_event("CALL_RINGING", timeout=5)
    assert not callee.has_event("CALL_ESTABLISHED")  # manual: it keeps ringing until accepted

    await callee.accept()
    await callee.wait_event("CALL_ESTABLISHED", timeout=5)
    await caller.wait_event("CALL_ESTABLISHED", timeout=5)

    await caller.send_dtmf("5")
    dtmf = await callee.wait_event("CALL_DTMF_START", timeout=5)
    assert dtmf["param"] == "5"

    await caller.hangup()
    await callee.wait_event("CALL_CLOSED", timeout=5)
    await caller.wait_event("CALL_CLOSED", timeout=5)


async def test_answer_after_and_never(phone_factory):
    slow = await phone_factory("1003", answer="manual", answer_after=0.5)
    never = await phone_factory("1004", answer="manual", answer_after=None)
    caller = await phone_factory("1001", answer="manual")

    await caller.dial("1003")
    rang = await slow.wait_event("CALL_INCOMING", timeout=5)
    answered = await slow.wait_event("CALL_ESTABLISHED", timeout=5)
    assert answered["at"] - rang["at"] >= 0.5
    await caller.hangup()
    await slow.wait_event("CALL_CLOSED", timeout=5)
    await caller.wait_event("CALL_CLOSED", timeout=5)

    await caller.dial("1004")
    await never.wait_event("CALL_INCOMING", timeout=5)
    await eventually(lambda: caller.has_event("CALL_RINGING"), timeout=5, message="caller hears ringing")
    assert not never.has_event("CALL_ESTABLISHED")
    await caller.hangup()
    await never.wait_event("CALL_CLOSED", timeout=5)


async def test_recording_and_baresip_in_the_root(phone_factory, asterisk, tmp_path):
    """The root's baresip (1.1) works too; record_to keeps each call's audio as wav files."""
    agent = await phone_factory("1002", answer="auto", chroot=asterisk.asterisk.root)
    caller = await phone_factory("1001", answer="manual", record_to=tmp_path / "rec")

    await caller.dial("1002")
    await agent.wait_event("CALL_INCOMING", timeout=5)
    await caller.wait_event("CALL_ESTABLISHED", timeout=5)
    await caller.wait_event("CALL_RTPESTAB", timeout=5)  # audio flows before we hang up
    await caller.hangup()
    await agent.wait_event("CALL_CLOSED", timeout=5)
    await caller.wait_event("CALL_CLOSED", timeout=5)
    await caller.stop()  # sndfile closes its files when the call is torn down

    recordings = await eventually(lambda: sorted((tmp_path / "rec").glob("*.wav")), timeout=5, message="recordings")
    assert any(p.stat().st_size > 44 for p in recordings), recordings
