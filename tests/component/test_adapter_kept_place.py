"""Keep your place, over real sockets (``fake_asterisk``): press 1, hang up, called back in turn.

The scripted Asterisk of ``adapter_env`` (as in ``test_adapter``) plays the caller, the operator's
phone and Dial on the operator's leg.  The ``env`` fixture (``conftest.py``) checks the invariant
after each test (no leg, session or caller left, every ticket ended), and each test checks the order of what happened: the kept call is
offered only once the operator is free, the operator's phone rings first, the caller is dialled
from the operator's answered leg.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest
from adapter_env import Env
from fake_asterisk import AgiCall, Originate
from harness.polling import eventually

from callcenter.acd import (
    AgentState,
    CallbackGaveUp,
    CallbackUnreached,
    CallEnded,
    Offer,
    PlaceKept,
)
from callcenter.ivr.prompts import sound_path

KEPT = {"callback_offer_after": 0.3, "announce_every": 0.0, "callback_attempts": 2, "callback_retry_after": 0.5}


async def start(env: Env, dialler: Dialler | None = None) -> Env:
    """Operator 1001, callbacks offered after 0.3 s on hold, the two prompts in a sounds dir of the test's own.

    ``dialler``: the dialling policy kept places are called back through; None: no callback is offered.
    """
    await env.start(devices=("1001",), dialler=dialler, **KEPT)
    settings = env.adapter.settings
    sounds = env.tmp_path / "sounds"
    for name in ("queue_callback_offer", "queue_callback_confirm"):
        path = sound_path(sounds, settings.ivr.language, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"RIFF")
    env.adapter.settings = dataclasses.replace(settings, ivr=dataclasses.replace(settings.ivr, sounds_dir=str(sounds)))
    return env


class Dialler:
    """The dialling policy as the adapter sees it (``KeptDialler``): every number allowed, calls counted."""

    def __init__(self) -> None:
        self.admitted: list[tuple[str, str | None, str]] = []

    def external(self, number: str) -> str:
        return f"PJSIP/{number}"

    def admit(self, number: str, *, by: str | None, kind: str, ticket_id: int | None = None,
              task_id: int | None = None) -> str:
        self.admitted.append((number, by, kind))
        return f"PJSIP/{number}"


async def operator_leg(env: Env, o: Originate, dial: str, answered: asyncio.Future | None = None) -> AgiCall:
    """The operator answers ``o``; on their leg, Dial reaches the caller (``dial``: a DIALSTATUS).

    ``answered``: the caller picks up (DialEnd ANSWER) and the call goes on until it resolves.
    """
    await env.fake.answer(o, session=False)
    leg = AgiCall(env.fake, "agent", o.leg_id, o.channel or "", o.agent, "", {})
    plain = leg._reply

    async def reply(command: str) -> str | None:
        if command.startswith("EXEC Dial"):
            if dial == "ANSWER":
                env.fake.event("DialEnd", Channel=o.channel or "", Uniqueid=o.leg_id, DialStatus="ANSWER",
                               DestChannel="PJSIP/13800138000-00000001")
                if answered is not None:
                    await answered
            return "200 result=0"
        if command == "GET VARIABLE DIALSTATUS":
            return f"200 result=1 ({dial})"
        return await plain(command)

    leg._reply = reply  # type: ignore[method-assign]
    env.fake.calls.append(leg)
    await leg.open(env.agi_port)
    return leg


async def busy_operator(env: Env) -> tuple[AgiCall, AgiCall]:
    """Operator 1001 talking to a first caller (bridged)."""
    first = await env.call()
    [o] = await env.originates(1, "1001")
    await env.fake.answer(o)
    await eventually(lambda: first.bridging, message="the first caller bridged")
    return first, env.fake.session_on(o.channel or "")  # type: ignore[return-value]


async def keep_place(env: Env, via: str) -> AgiCall:
    """A second caller waits, then presses 1 (on hold: AMI DTMFEnd; or during the offer: STREAM FILE)."""
    replies = {"STREAM FILE": "200 result=49 endpos=8000"} if via == "announcement" else None
    caller = await env.call(replies=replies)
    if via == "dtmf":
        await asyncio.sleep(0.1)
        env.fake.event("DTMFEnd", Channel=caller.channel, Uniqueid=caller.uniqueid, Digit="1", Direction="Received")
        await asyncio.sleep(0.1)
        assert env.accepted(PlaceKept) == [], "1 before the offer is open does nothing"
        await asyncio.sleep(0.3)
        env.fake.event("DTMFEnd", Channel=caller.channel, Uniqueid=caller.uniqueid, Digit="1", Direction="Received")
    await eventually(lambda: env.accepted(PlaceKept, call_id=caller.uniqueid), 5, message="place kept")
    await asyncio.wait_for(caller.closed.wait(), 5)
    return caller


@pytest.mark.parametrize("via", ["dtmf", "announcement"])
async def test_press_1_hang_up_and_be_called_back_in_turn_operator_first_then_caller(env, via):
    dialler = Dialler()
    await start(env, dialler)
    first, _ = await busy_operator(env)
    caller = await keep_place(env, via)
    # The caller heard the confirmation and was hung up; the dialplan will not queue them again.
    assert caller.saw('SET VARIABLE HOTLINE_DONE "1"') and caller.commands[-1] == "HANGUP"
    confirm = [c for c in caller.commands if "queue_callback_confirm" in c]
    assert len(confirm) == 1
    if via == "announcement":
        assert any("queue_callback_offer" in c and c.endswith('"1"') for c in caller.commands)
    call = env.adapter.acd.calls[caller.uniqueid]
    assert call.kept_at is not None and env.accepted(CallEnded, call_id=caller.uniqueid) == []
    ticket = await env.ticket(caller.uniqueid)
    assert ticket.ended_at is None and ticket.details["callback"]["outcome"] == "waiting"
    assert ticket.details["callback"]["position"] == 1
    assert len(env.fake.originates_to("1001")) == 1, "no callback while the operator talks"

    first.end_bridge()  # the operator's first call ends: the kept place is next
    [_, o] = await env.originates(2, "1001")
    freed = env.when(CallEnded, call_id=first.uniqueid)
    assert o.call_id == caller.uniqueid
    [(_, offer)] = env.issued(Offer, call_id=caller.uniqueid)
    assert offer.callback and o.at >= freed
    originate = next(s for s in env.fake.actions("Originate") if s.action.get("channelid") == o.leg_id)
    assert "13800138000" in originate.action["callerid"]  # the operator's phone shows whom they call back

    talk = asyncio.get_running_loop().create_future()
    leg = await operator_leg(env, o, "ANSWER", talk)
    await eventually(lambda: leg.saw("EXEC Dial"), 5, message="the caller dialled from the operator's leg")
    dial = next(c for c in leg.commands if c.startswith("EXEC Dial"))
    assert "PJSIP/13800138000" in dial and ",g" in dial
    assert dialler.admitted == [("13800138000", "1001", "kept_place")]
    assert leg.saw("SET VARIABLE CALLERID(all)")
    await eventually(lambda: env.adapter.kept[caller.uniqueid].answered_at, 5, message="the caller answered")
    assert env.agent("1001").state == AgentState.ON_CALL

    started = time.time()
    talk.set_result(None)  # they talk, then the caller hangs up: Dial returns on the operator's leg
    ticket = await env.ended_ticket(caller.uniqueid)
    await asyncio.wait_for(leg.closed.wait(), 5)
    assert leg.commands[-1] == "HANGUP"
    assert ticket.call_status == "completed" and ticket.agent_id == "1001" and ticket.answered_at is not None
    assert ticket.hangup_by == "caller" and ticket.details["end"]["stage"] == "callback"
    story = ticket.details["callback"]
    assert story["outcome"] == "answered" and story["position"] == 1 and story["waited_seconds"] >= 0.3
    assert [(a["agent_id"], a["outcome"]) for a in story["attempts"]] == [("1001", "answered")]
    assert ticket.details["acd"]["offered_to"] == ["1001"]
    assert caller.uniqueid not in env.adapter.kept and env.accepted(CallEnded, call_id=caller.uniqueid)
    assert env.when(CallEnded, call_id=caller.uniqueid) >= started
    first_ticket = await env.ended_ticket(first.uniqueid)
    assert first_ticket.call_status == "completed"


async def test_a_caller_not_reached_is_tried_again_then_given_up_and_the_operator_is_never_charged(env):
    await start(env, Dialler())
    first, _ = await busy_operator(env)
    caller = await keep_place(env, "dtmf")
    first.end_bridge()
    legs = []
    for attempt in (1, 2):
        [*_, o] = await env.originates(1 + attempt, "1001")
        assert o.call_id == caller.uniqueid
        legs.append(await operator_leg(env, o, "NOANSWER"))
        await eventually(lambda n=attempt: len(env.accepted(CallbackUnreached, call_id=caller.uniqueid)) == n, 5)
        # Free at once: not a miss, no wrap-up, no pause.
        agent = env.agent("1001")
        assert agent.missed_in_row == 0 and agent.state == AgentState.AVAILABLE
        if attempt == 1:
            unreached = env.when(CallbackUnreached, call_id=caller.uniqueid)
            assert env.adapter.acd.calls[caller.uniqueid].not_before == pytest.approx(unreached + 0.5, abs=0.2)
    assert env.fake.originates[2].at - env.when(CallbackUnreached, call_id=caller.uniqueid) >= 0.45
    await eventually(lambda: env.issued(CallbackGaveUp, call_id=caller.uniqueid), 5)
    ticket = await env.ended_ticket(caller.uniqueid)
    # Given up: an unanswered call (the work-order side makes it an abandoned-call task)
    assert ticket.call_status == "abandoned" and ticket.answered_at is None and ticket.hangup_by == "caller"
    story = ticket.details["callback"]
    assert story["outcome"] == "unreached"
    assert [(a["agent_id"], a["outcome"]) for a in story["attempts"]] == [("1001", "no_answer")] * 2
    assert caller.uniqueid not in env.adapter.kept and caller.uniqueid not in env.adapter.acd.calls
    assert len(env.fake.originates_to("1001")) == 3 and env.paused() == []
    for leg in legs:
        await asyncio.wait_for(leg.closed.wait(), 5)


async def test_no_callback_is_offered_without_a_dialling_policy(env):
    await start(env)  # no dialler: outbound calls are not set up
    first, _ = await busy_operator(env)
    caller = await env.call()
    await asyncio.sleep(0.5)
    env.fake.event("DTMFEnd", Channel=caller.channel, Uniqueid=caller.uniqueid, Digit="1", Direction="Received")
    await asyncio.sleep(0.3)
    assert env.accepted(PlaceKept) == [] and not caller.closed.is_set()
    caller.hangup()
    first.end_bridge()


async def test_no_callback_is_offered_to_a_caller_without_a_number(env):
    await start(env, Dialler())
    first, _ = await busy_operator(env)
    anonymous = await env.fake.open_agi("hotline", "1741568400.999", "PJSIP/trunk-anon", callerid="")
    await eventually(lambda: anonymous.saw("SET MUSIC ON"), 5)
    await asyncio.sleep(0.5)
    env.fake.event("DTMFEnd", Channel=anonymous.channel, Uniqueid=anonymous.uniqueid, Digit="1", Direction="Received")
    await asyncio.sleep(0.3)
    assert env.accepted(PlaceKept) == [] and not anonymous.closed.is_set()
    anonymous.hangup()
    first.end_bridge()
