"""The adapter under faults, over real sockets: a scripted AMI server and Asterisk's side of FastAGI
(``fake_asterisk``) against a real Adapter, AgiServer, AmiClient and TicketService on SQLite.

Each test scripts what the phones and Asterisk do (rings, answers, refusals, a dropped AMI
connection, a restart) and checks what the controller did.  After every test the ``env`` fixture
(``conftest.py``, over ``adapter_env.Env``) checks the invariant: ``Adapter.violations()`` is
empty, no leg, caller session, adopted call or ticket end in progress is left, no agent is ringing,
no FastAGI session is left open (no caller stranded on hold), and every ticket has ended, except
those deliberately handed to the dialplan's fallback queue (their end comes from queue_log:
``hangup_by`` stays empty, never "abandoned").

Timings are short: the test ring cadence (0.2 s on, 0.8 s off: a 2 s ring window), ring grace
0.5 s, setup timeout 1 s, retry hold 0.5 s, outage hand-off 1 s.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable

import pytest
from adapter_env import ANSWER_GRACE, RING_WINDOW, SLACK, TIMINGS
from fake_asterisk import AgiCall
from harness.polling import eventually

from callcenter.acd import (
    AgentAnswered,
    AgentPhoneBusy,
    AgentState,
    CallEnded,
    CallWaiting,
    HandOff,
    LateAnswer,
    LinkDown,
    Offer,
    OfferWithdrawn,
    RingFailed,
    RingStarted,
    StopRinging,
)
from callcenter.tickets import TicketService


async def closed(session: AgiCall, timeout: float = 5) -> None:
    await asyncio.wait_for(session.closed.wait(), timeout)


# -- late answers -----------------------------------------------------------------------------------


@pytest.mark.parametrize("ring_ended_by", ["caller_left", "core_deadline"])
async def test_an_answer_after_the_ring_ended_is_hung_up_and_leaves_no_leg(env, ring_ended_by):
    await env.start(devices=("1001",))
    caller = await env.call()
    [o] = await env.originates(1, "1001")
    env.fake.ring(o)
    await eventually(lambda: env.accepted(RingStarted, agent_id="1001"))
    if ring_ended_by == "caller_left":
        caller.hangup()
        await eventually(lambda: env.accepted(CallEnded, call_id=caller.uniqueid))
    else:  # Asterisk never reports the end: the core ends it (a miss) and offers the call again
        await eventually(lambda: env.issued(StopRinging, agent_id="1001"), 5)
        await env.originates(2, "1001")
    await eventually(lambda: o.channel in env.hung_up_channels(), message="the ended ring hung up")

    if ring_ended_by == "core_deadline":
        assert env.agent("1001").missed_in_row == 1
    late = await env.fake.agent_session(o)  # the agent picked up just as the ring ended
    await closed(late)
    assert late.commands == ["GET VARIABLE HOTLINE_CALL", "HANGUP"]  # whose ring it was, then hung up
    assert o.leg_id not in env.adapter.legs
    assert env.accepted(AgentAnswered) == []
    # They picked up: the miss is taken back (a ring the caller ended was never one).
    assert env.accepted(LateAnswer, agent_id="1001") and env.agent("1001").missed_in_row == 0
    if ring_ended_by == "core_deadline":
        # the late answer did not take the new offer ringing the same phone
        second = env.fake.originates_to("1001")[1]
        assert env.agent("1001").state == AgentState.RINGING and list(env.adapter.legs) == [second.leg_id]
        caller.hangup()
    else:
        assert env.agent("1001").state == AgentState.AVAILABLE
    ticket = await env.ended_ticket(caller.uniqueid)
    assert ticket.hangup_by == "caller" and ticket.agent_id is None and ticket.details["end"]["stage"] == "queue"


# -- one of a pair ----------------------------------------------------------------------------------


async def test_a_caller_back_from_the_other_controller_skips_the_ivr_keeps_its_route_and_legs_carry_the_name(env):
    await env.start(devices=("1001",), ha_name="b")
    fresh = await env.call()  # a new caller: its route is kept on the channel for the other controller
    assert fresh.saw('SET VARIABLE HOTLINE_ROUTE "0:"')
    fresh.hangup()
    back = await env.call(replies={"GET VARIABLE HOTLINE_ROUTE": "200 result=1 (5:medical)"})
    [waiting] = env.accepted(CallWaiting, call_id=back.uniqueid)
    assert (waiting.priority, waiting.skill) == (5, "medical")
    assert not back.saw("SET VARIABLE HOTLINE_ROUTE")  # it had one
    [o] = await env.originates(1, "1001")
    assert o.leg_id.startswith("acd-b-")  # which controller rang is in every AMI event of the leg
    back.hangup()
    await env.ended_ticket(back.uniqueid)


# -- AMI outage --------------------------------------------------------------------------------------


async def test_ami_cut_while_ringing_hands_callers_off_charges_nobody_and_offers_resume_after_resync(env):
    await env.start(devices=("1001", "1002"))
    first = await env.call()
    [o] = await env.originates(1)
    env.fake.ring(o)
    await eventually(lambda: env.accepted(RingStarted))

    env.fake.accepting = False
    env.fake.drop()
    await eventually(lambda: env.accepted(LinkDown), message="LinkDown")
    cut = env.when(LinkDown)
    second = await env.call()  # arrives during the outage

    await eventually(lambda: env.issued(HandOff, call_id=second.uniqueid), 3, message="second caller handed off")
    [(handed, _)] = env.issued(HandOff, call_id=second.uniqueid)
    waited = handed - env.when(CallWaiting, call_id=second.uniqueid)
    assert TIMINGS["ami_down_handoff"] - 0.01 <= waited <= TIMINGS["ami_down_handoff"] + SLACK
    # The caller whose phone was ringing at the cut: handed off once that ring is over.
    await eventually(lambda: env.issued(HandOff, call_id=first.uniqueid), RING_WINDOW + 2, message="first caller handed off")
    for caller in (first, second):
        await closed(caller)
        # Back to the dialplan, marked for its fallback queue (not for the other controller of a pair)
        assert caller.saw("SET MUSIC OFF") and caller.saw('SET VARIABLE HOTLINE_DONE "2"')
        env.handed.add(caller.uniqueid)
        assert (await env.ticket(caller.uniqueid)).details["handoff"]["reason"] == "ami_down"

    assert env.issued(Offer)[-1][0] < cut, "no offer may be made while AMI is down"
    assert len(env.fake.originates) == 1
    assert env.accepted(RingFailed) == [] and env.paused() == []
    assert [env.agent(a).missed_in_row for a in ("1001", "1002")] == [0, 0], "an outage is nobody's miss"

    env.fake.hang_up(o.leg_id, reason="3")  # meanwhile the phone rang out in Asterisk
    env.fake.accepting = True
    await eventually(lambda: env.adapter.link["resyncs"] == 2 and env.adapter.link["up"], 4, message="resync")
    for action in ("CoreStatus", "CoreShowChannels", "DeviceStateList"):
        assert env.fake.actions(action, login=2), f"{action} not asked again after the reconnect"
    assert all(env.agent(a).state == AgentState.AVAILABLE for a in ("1001", "1002"))

    third = await env.call()  # offers resume
    await env.originates(2)
    assert len(env.fake.actions("Originate", login=2)) == 1
    third.hangup()
    assert (await env.ended_ticket(third.uniqueid)).hangup_by == "caller"


async def test_after_a_short_outage_the_resync_withdraws_vanished_rings_and_keeps_live_ones(env):
    await env.start(devices=("1001", "1002"), ami_down_handoff=3.0)  # the outage (~1 s) ends before any hand-off
    env.fake.on_originate = env.fake.ring
    gone_caller = await env.call()
    [gone] = await env.originates(1)
    live_caller = await env.call()
    _, live = await env.originates(2)
    await eventually(lambda: len(env.accepted(RingStarted)) == 2)

    env.fake.accepting = False
    env.fake.drop()
    await eventually(lambda: env.accepted(LinkDown))
    env.fake.hang_up(gone.leg_id, reason="0")  # this ring failed while AMI was away; the other rings on
    env.fake.accepting = True
    await eventually(lambda: env.adapter.link["resyncs"] == 2, 3, message="resync")

    [withdrawn] = env.accepted(OfferWithdrawn)
    assert (withdrawn.call_id, withdrawn.agent_id, withdrawn.reason) == (gone_caller.uniqueid, gone.agent, "leg gone after outage")
    assert env.agent(gone.agent).missed_in_row == 0 and env.accepted(RingFailed) == []
    assert env.agent(live.agent).state == AgentState.RINGING and live.leg_id in env.adapter.legs

    agent = await env.fake.answer(live)  # answered after the reconnect: its OriginateResponse went to the old connection
    await eventually(lambda: live_caller.bridging, message="caller bridged")
    await closed(agent)
    live_caller.end_bridge()
    ticket = await env.ended_ticket(live_caller.uniqueid)
    assert ticket.agent_id == live.agent and ticket.hangup_by == "agent"

    _, _, again = await env.originates(3)  # the other caller is offered again once the hold is over
    assert again.call_id == gone_caller.uniqueid
    gone_caller.hangup()
    assert (await env.ended_ticket(gone_caller.uniqueid)).hangup_by == "caller"


# -- Originate refused --------------------------------------------------------------------------------


@pytest.mark.parametrize("refusal", ["response_error", "failure_reason_0"])
async def test_originate_errors_withdraw_the_offer_without_a_miss_and_never_pause_the_agent(env, refusal):
    await env.start(devices=("1001",))
    if refusal == "response_error":
        env.fake.originate_reply = "error"
    else:
        env.fake.on_originate = lambda o: env.fake.respond(o, "Failure", "0")
    caller = await env.call()
    sent = await eventually(lambda: len(env.fake.actions("Originate")) >= 5 and env.fake.actions("Originate"), 6,
                            message="five Originates")
    gaps = [b.at - a.at for a, b in itertools.pairwise(sent[:5])]
    assert min(gaps) >= TIMINGS["retry_after"] - 0.05, f"retried without the hold: {gaps}"
    assert len(env.accepted(OfferWithdrawn, agent_id="1001")) >= 4
    assert env.accepted(RingFailed) == [] and env.paused() == []
    assert env.agent("1001").missed_in_row == 0
    caller.hangup()
    ticket = await env.ended_ticket(caller.uniqueid)
    assert ticket.hangup_by == "caller" and ticket.details["end"]["stage"] == "queue"


# -- answered, but the agent's FastAGI session never comes ------------------------------------------


async def test_an_answer_without_an_agent_session_is_withdrawn_within_the_grace_and_the_agent_is_free_again(env):
    await env.start(devices=("1001",))
    caller = await env.call()
    [o] = await env.originates(1, "1001")
    env.fake.ring(o)
    await env.fake.answer(o, session=False)
    answered = time.time()

    [withdrawn] = await eventually(lambda: env.accepted(OfferWithdrawn, agent_id="1001"), 3)
    took = env.when(OfferWithdrawn, agent_id="1001") - answered
    assert ANSWER_GRACE - 0.05 <= took <= ANSWER_GRACE + SLACK
    assert withdrawn.reason == "answered but no agent session"
    await eventually(lambda: o.channel in env.hung_up_channels(), message="the answered phone hung up")
    assert o.leg_id not in env.fake.channels and o.leg_id not in env.adapter.legs
    assert env.accepted(AgentAnswered) == [] and env.accepted(RingFailed) == [] and env.agent("1001").missed_in_row == 0

    _, again = await env.originates(2, "1001")  # free again after the hold: the call is offered anew
    assert again.at - env.when(OfferWithdrawn, agent_id="1001") >= TIMINGS["retry_after"] - 0.05
    caller.hangup()
    assert (await env.ended_ticket(caller.uniqueid)).hangup_by == "caller"


# -- the SLA guard's two rings --------------------------------------------------------------------------


async def test_a_caller_leaving_while_two_phones_ring_hangs_up_both_legs(env):
    await env.start(devices=("1001", "1002"), sla_guard_after=0.5)
    env.fake.on_originate = env.fake.ring
    caller = await env.call()
    first, second = await env.originates(2)
    assert first.agent != second.agent
    assert [c.guard for _, c in env.issued(Offer)] == [False, True]
    assert second.at - env.when(RingStarted, agent_id=first.agent) >= 0.5 - 0.05  # the guard runs from the ring
    await eventually(lambda: len(env.accepted(RingStarted)) == 2)

    caller.hangup()
    await eventually(lambda: {first.channel, second.channel} <= env.hung_up_channels(), message="both legs hung up")
    await eventually(lambda: not env.adapter.legs)
    assert first.leg_id not in env.fake.channels and second.leg_id not in env.fake.channels
    for agent in (first.agent, second.agent):
        assert env.agent(agent).state == AgentState.AVAILABLE and env.agent(agent).missed_in_row == 0
    assert env.accepted(RingFailed) == []
    ticket = await env.ended_ticket(caller.uniqueid)
    assert ticket.hangup_by == "caller" and ticket.details["end"]["stage"] == "queue"


async def test_two_answers_to_a_guard_pair_the_first_wins_and_the_second_is_hung_up(env):
    await env.start(devices=("1001", "1002"), sla_guard_after=0.5)
    env.fake.on_originate = env.fake.ring
    caller = await env.call()
    first, second = await env.originates(2)
    await eventually(lambda: len(env.accepted(RingStarted)) == 2)

    await env.fake.answer(first, session=False)  # both pick up at once
    await env.fake.answer(second, session=False)
    winner = await env.fake.agent_session(first)
    await eventually(lambda: env.accepted(AgentAnswered, agent_id=first.agent))
    await eventually(lambda: second.channel in env.hung_up_channels(), message="the other leg hung up")
    loser = await env.fake.agent_session(second)  # its FastAGI session arrives a moment later
    await closed(loser)
    assert loser.commands == ["GET VARIABLE HOTLINE_CALL", "HANGUP"]  # whose ring, for a late answer; then hung up
    assert len(env.accepted(AgentAnswered)) == 1

    await eventually(lambda: caller.bridging, message="caller bridged")
    assert caller.saw(f'EXEC Bridge "{first.channel}"')
    await closed(winner)  # Bridge took the agent's channel out of its session
    assert list(env.adapter.legs) == []
    caller.end_bridge()  # the agent hangs up
    ticket = await env.ended_ticket(caller.uniqueid)
    assert ticket.agent_id == first.agent and ticket.answered_at is not None and ticket.call_status == "completed"
    assert ticket.hangup_by == "agent" and ticket.details["end"]["stage"] == "bridge"
    assert ticket.details["acd"]["offered_to"] == [first.agent, second.agent]
    for agent in (first.agent, second.agent):
        assert env.agent(agent).state == AgentState.AVAILABLE and env.agent(agent).missed_in_row == 0


# -- reconnect: device states read again -------------------------------------------------------------


async def test_device_states_changed_during_an_outage_are_followed_after_the_reconnect(env):
    await env.start(devices={"1001": "NOT_INUSE", "1002": "NOT_INUSE", "1003": "UNAVAILABLE"})
    core = env.adapter.acd
    assert core._free == {"1001", "1002"} and "1003" not in core.agents

    env.fake.accepting = False
    env.fake.drop()
    await eventually(lambda: env.accepted(LinkDown))
    env.fake.devices = {"1001": "INUSE", "1002": "UNAVAILABLE", "1003": "NOT_INUSE"}
    env.fake.accepting = True
    await eventually(lambda: env.adapter.link["resyncs"] == 2, 4, message="resync")

    assert core.agents["1001"].phone_busy and core.agents["1001"].state == AgentState.AVAILABLE
    assert core.agents["1002"].state == AgentState.LOGGED_OUT
    assert core.agents["1003"].state == AgentState.AVAILABLE
    assert core._free == {"1003"}

    caller = await env.call()
    [o] = await env.originates(1)
    assert o.agent == "1003"
    env.fake.event("DeviceStateChange", Device="PJSIP/1001", State="NOT_INUSE")  # 1001's own call ended
    await eventually(lambda: "1001" in core._free, message="1001 free again")
    caller.hangup()
    assert (await env.ended_ticket(caller.uniqueid)).hangup_by == "caller"


# -- the core's deadlines --------------------------------------------------------------------------------


async def test_a_ring_that_never_reaches_the_phone_is_withdrawn_at_the_setup_timeout(env):
    await env.start(devices=("1001",))
    caller = await env.call()
    [o] = await env.originates(1, "1001")  # queued, and then Asterisk says nothing

    [(stopped, _)] = await eventually(lambda: env.issued(StopRinging, agent_id="1001"), 4)
    assert TIMINGS["setup_timeout"] - 0.05 <= stopped - o.at <= TIMINGS["setup_timeout"] + SLACK
    assert env.accepted(RingFailed) == [] and env.agent("1001").missed_in_row == 0 and env.paused() == []
    assert o.leg_id not in env.adapter.legs
    _, again = await env.originates(2, "1001")  # held briefly, then offered again
    assert again.at - stopped >= TIMINGS["retry_after"] - 0.05
    env.fake.ring(again)
    await eventually(lambda: env.accepted(RingStarted, agent_id="1001"))
    caller.hangup()
    assert (await env.ended_ticket(caller.uniqueid)).hangup_by == "caller"


async def test_a_ring_asterisk_never_ends_is_a_miss_at_the_core_deadline(env):
    await env.start(devices=("1001", "1002"))
    caller = await env.call()
    [o] = await env.originates(1)
    env.fake.ring(o)  # rings; no OriginateResponse ever comes
    await eventually(lambda: env.accepted(RingStarted))
    rang = env.when(RingStarted)

    [(stopped, _)] = await eventually(lambda: env.issued(StopRinging, agent_id=o.agent), RING_WINDOW + 2)
    deadline = RING_WINDOW + TIMINGS["ring_grace"]
    assert deadline - 0.05 <= stopped - rang <= deadline + SLACK
    assert env.agent(o.agent).missed_in_row == 1 and env.agent(o.agent).state == AgentState.AVAILABLE
    await eventually(lambda: o.channel in env.hung_up_channels(), message="the ring hung up")
    _, again = await env.originates(2)  # offered again at once, the other agent first
    assert again.agent != o.agent and again.at - stopped < SLACK
    caller.hangup()
    ticket = await env.ended_ticket(caller.uniqueid)
    assert ticket.hangup_by == "caller"


@pytest.mark.parametrize("reason", ["3", "5"])  # no answer, busy
async def test_a_ring_at_a_phone_taken_by_another_call_is_nobodys_miss(env, reason):
    """The offer went out before the phone's busy state reached us (a fallback-queue call, say): its
    operator was talking, not away, so the ring is withdrawn and never counts toward a missed-calls pause."""
    await env.start(devices=("1001",))
    caller = await env.call()
    [o] = await env.originates(1, "1001")
    env.fake.ring(o)
    await eventually(lambda: env.accepted(RingStarted, agent_id="1001"), message="ringing")
    env.fake.event("DeviceStateChange", Device="PJSIP/1001", State="RINGINUSE")
    await eventually(lambda: env.accepted(AgentPhoneBusy, agent_id="1001"), message="busy state seen")
    env.fake.fail(o, reason)
    [withdrawn] = await eventually(lambda: env.accepted(OfferWithdrawn, agent_id="1001"), message="withdrawn")
    assert withdrawn.reason.endswith("phone in use on another call")
    assert env.accepted(RingFailed) == [] and env.agent("1001").missed_in_row == 0
    caller.hangup()
    await env.ended_ticket(caller.uniqueid)


@pytest.mark.parametrize("reason", ["3", "5"])
async def test_a_ring_at_an_idle_phone_that_is_not_answered_is_a_miss(env, reason):
    await env.start(devices=("1001",))
    caller = await env.call()
    [o] = await env.originates(1, "1001")
    env.fake.ring(o)
    await eventually(lambda: env.accepted(RingStarted, agent_id="1001"), message="ringing")
    env.fake.fail(o, reason)
    await eventually(lambda: env.accepted(RingFailed, agent_id="1001"), message="a miss")
    assert env.agent("1001").missed_in_row == 1
    caller.hangup()
    await env.ended_ticket(caller.uniqueid)


# -- every ticket ends, with the truth -----------------------------------------------------------------


@pytest.mark.parametrize(("command", "what"), [
    ("SET VARIABLE HOTLINE_TICKET", "HANGUP"),
    ("ANSWER", "HANGUP"),
    ("ANSWER", "CLOSE"),
])
async def test_a_caller_gone_before_the_answer_ends_the_ticket_at_arrival(env, command, what):
    await env.start(devices=("1001",))
    caller = await env.call(replies={command: what}, hold=False)
    await closed(caller)
    ticket = await env.ended_ticket(caller.uniqueid)
    assert ticket.hangup_by == "caller" and ticket.call_status == "abandoned"
    assert ticket.details["end"] == {"stage": "arrival", "hangup_by": "caller"}
    assert env.accepted(CallWaiting) == [] and env.fake.originates == []


@pytest.mark.parametrize("stage", ["on_hold", "after_answer"])
async def test_a_controller_error_leaves_the_caller_to_the_fallback_queue_not_abandoned(env, stage):
    await env.start(devices=("1001",))
    if stage == "on_hold":
        caller = await env.call(replies={"SET MUSIC ON": "garbage"}, hold=False)
    else:
        caller = await env.call(replies={"SET VARIABLE HOTLINE_DONE": "garbage"})
        [o] = await env.originates(1, "1001")
        env.fake.ring(o)
        agent = await env.fake.answer(o)
        await closed(agent)
        assert agent.commands == ["HANGUP"]  # the agent's leg released and hung up
    await closed(caller)
    assert not caller.saw("EXEC Bridge")
    env.handed.add(caller.uniqueid)
    await asyncio.sleep(0)  # let any (wrong) end be queued before looking
    await eventually(lambda: not env.adapter.ending)
    ticket = await env.ticket(caller.uniqueid)
    assert ticket.ended_at is None and ticket.hangup_by is None and ticket.call_status != "abandoned"
    assert "end" not in ticket.details
    assert env.agent("1001").state == AgentState.AVAILABLE


@pytest.mark.parametrize(("cut", "hangup_by"), [
    ("asterisk_crashed", "system"),  # no word from Asterisk; it comes back with a new start time
    ("clean_restart", "system"),  # SoftHangupRequest Cause 4 for the channel, then Shutdown
    ("caller_left_just_before_clean_restart", "caller"),  # the restart cut other channels, not this one
    ("ami_cut_only", "caller"),
])
async def test_a_call_cut_when_asterisk_goes_away_ends_as_system(env, cut, hangup_by):
    await env.start(devices=("1001",))
    caller = await env.call()
    [o] = await env.originates(1, "1001")
    env.fake.ring(o)
    await env.fake.answer(o)
    await eventually(lambda: caller.bridging, message="caller bridged")

    env.fake.accepting = False
    if cut == "clean_restart":
        env.fake.event("SoftHangupRequest", Uniqueid=caller.uniqueid, Cause="4")
        env.fake.event("SoftHangupRequest", Uniqueid=o.leg_id, Cause="4")
    if cut == "caller_left_just_before_clean_restart":
        caller.hangup()
        await eventually(lambda: env.accepted(CallEnded, call_id=caller.uniqueid))
        env.fake.event("SoftHangupRequest", Uniqueid="1741568400.99", Cause="4")  # another call's channel
    if cut in ("clean_restart", "caller_left_just_before_clean_restart"):
        env.fake.event("Shutdown", Shutdown="Cleanly", Restart="True")
    env.fake.drop()
    caller.hangup()  # the caller's channel goes in the same moment (a no-op if it already went)
    await eventually(lambda: env.accepted(CallEnded, call_id=caller.uniqueid))
    if cut in ("asterisk_crashed", "clean_restart", "caller_left_just_before_clean_restart"):
        env.fake.started = ("2025-03-10", "09:30:00")
    env.fake.hang_up(o.leg_id)
    env.fake.accepting = True
    ticket = await env.ended_ticket(caller.uniqueid)
    assert ticket.hangup_by == hangup_by and ticket.agent_id == "1001"
    assert ticket.details["end"]["stage"] == "bridge"


# -- a call in progress at start -----------------------------------------------------------------------


UID, AGENT_UID = "1741568000.7", "1741568000.8"  # a caller bridged to 1001 when the controller starts


def bridged_at_start(env) -> Callable[[TicketService], Awaitable[None]]:
    """Asterisk holds a caller bridged to 1001; returns the ``before`` hook that opens its ticket."""
    env.fake.channels = {
        UID: {"Channel": "PJSIP/trunk-00000007", "ChannelState": "6", "BridgeId": "b-1", "Linkedid": UID},
        AGENT_UID: {"Channel": "PJSIP/1001-00000008", "ChannelState": "6", "BridgeId": "b-1", "Linkedid": UID},
    }

    async def earlier_call(tickets: TicketService) -> None:
        assert await tickets.open_for_arrival(UID, "13800138000", "张三", "PJSIP/trunk-7", None) is not None

    return earlier_call


async def test_a_call_bridged_at_start_is_adopted_and_its_ticket_ends_at_the_real_hang_up(env):
    uid, agent_uid = UID, AGENT_UID
    earlier_call = bridged_at_start(env)
    await env.start(devices={"1001": "INUSE", "1002": "NOT_INUSE"}, before=earlier_call)
    assert env.agent("1001").state == AgentState.ON_CALL and list(env.adapter.adopted) == [uid]

    caller = await env.call()  # the operator on the adopted call is not offered it
    [o] = await env.originates(1)
    assert o.agent == "1002"
    caller.hangup()

    env.fake.hang_up(agent_uid)  # the operator hangs up first, then the caller's channel goes
    env.fake.hang_up(uid)
    ended = time.time()
    ticket = await env.ended_ticket(uid)
    assert ticket.hangup_by == "agent"
    assert abs(ticket.ended_at.timestamp() - ended) < SLACK
    env.fake.event("DeviceStateChange", Device="PJSIP/1001", State="NOT_INUSE")
    await eventually(lambda: env.agent("1001").state == AgentState.AVAILABLE and "1001" in env.adapter.acd._free)
    await env.ended_ticket(caller.uniqueid)


async def test_a_call_that_ends_while_the_controller_starts_is_not_adopted_for_ever(env):
    """The call was in CoreShowChannels' list, and hung up before the controller had adopted it
    (the start reads the database in between): its Hangup named nothing the adapter held."""
    uid, agent_uid = UID, AGENT_UID
    earlier_call = bridged_at_start(env)

    def caller_leaves_now() -> None:
        env.fake.after_channel_list = None
        env.fake.hang_up(uid)
        env.fake.hang_up(agent_uid)

    env.fake.after_channel_list = caller_leaves_now
    await env.start(devices={"1001": "INUSE", "1002": "NOT_INUSE"}, before=earlier_call)
    ticket = await env.ended_ticket(uid)
    assert ticket.hangup_by == "system" and ticket.details["end"]["observed"] == "after_outage"
    assert not env.adapter.adopted
    env.fake.event("DeviceStateChange", Device="PJSIP/1001", State="NOT_INUSE")
    await eventually(lambda: env.agent("1001").state == AgentState.AVAILABLE, message="1001 free again")

async def test_a_ring_asterisk_cuts_as_it_restarts_is_nobodys_miss(env):
    """A restart hangs up the ringing leg (SoftHangupRequest Cause 4, then OriginateResponse reason 1)."""
    await env.start(devices=("1001",))
    caller = await env.call()
    [o] = await env.originates(1, "1001")
    env.fake.ring(o)
    await eventually(lambda: env.accepted(RingStarted, agent_id="1001"), message="ringing")
    env.fake.event("SoftHangupRequest", Uniqueid=o.leg_id, Cause="4")
    env.fake.fail(o, "1")  # what a hang-up looks like to Originate: "the agent hung up"
    await eventually(lambda: env.accepted(OfferWithdrawn, agent_id="1001"), message="withdrawn")
    assert env.accepted(RingFailed) == [] and env.agent("1001").missed_in_row == 0
    caller.hangup()
    await env.ended_ticket(caller.uniqueid)
