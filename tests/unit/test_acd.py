"""The pure ACD core: table-driven cases and a randomised property test."""

import heapq

import pytest
from harness.acd_days import KINDS, day_event, steps
from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.acd import (
    AUTO_RESUMED,
    MISSED_CALLS,
    Acd,
    AgentAnswered,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentPaused,
    AgentPhoneBusy,
    AgentResumed,
    AgentState,
    AgentStateChanged,
    CallAdopted,
    CallArrived,
    CallEnded,
    CallState,
    CallWaiting,
    HandOff,
    IllegalTransition,
    LateAnswer,
    LinkDown,
    LinkUp,
    Offer,
    OfferWithdrawn,
    RingFailed,
    RingStarted,
    StopRinging,
    Strategy,
    Tick,
    WakeAt,
    WrapUpEnded,
)

RING = 10.0


def acd_with(*agents: str, at: float = 0.0, **options) -> Acd:
    acd = Acd(ring_timeout=RING, **options)
    for n, agent in enumerate(agents):
        acd.handle(AgentLoggedIn(agent, at + n))
    return acd


def routing(commands):
    """Only the commands that ring or stop phones."""
    return [c for c in commands if isinstance(c, (Offer, StopRinging))]


def ring(acd: Acd, commands, at: float):
    """The phones of these offers start ringing at ``at`` (as Newstate Ringing would say); the commands returned."""
    out = list(commands)
    for offer in [c for c in commands if isinstance(c, Offer)]:
        out += acd.handle(RingStarted(offer.call_id, offer.agent_id, at))
    return out


def test_waiting_call_goes_to_longest_idle_agent():
    acd = acd_with("a", "b", "c")  # a idle since 0, b since 1, c since 2
    assert routing(acd.handle(CallWaiting("x", 5))) == [Offer("x", "a", RING)]
    assert acd.agents["a"].state == AgentState.RINGING
    assert acd.calls["x"].state == CallState.OFFERED


def test_call_in_menu_is_not_offered_until_it_waits():
    acd = acd_with("a")
    assert routing(acd.handle(CallArrived("x", 1))) == []
    assert acd.calls["x"].state == CallState.IN_MENU
    assert routing(acd.handle(CallWaiting("x", 4))) == [Offer("x", "a", RING)]
    assert acd.calls["x"].waiting_since == 4


def test_call_waits_when_nobody_is_free_and_is_offered_when_an_agent_logs_in():
    acd = Acd(ring_timeout=RING)
    assert routing(acd.handle(CallWaiting("x", 1))) == []
    assert routing(acd.handle(AgentLoggedIn("a", 2))) == [Offer("x", "a", RING)]


def test_missed_ring_moves_call_to_next_agent_at_once():
    acd = acd_with("a", "b")
    acd.handle(CallWaiting("x", 5))
    assert routing(acd.handle(RingFailed("x", "a", 15))) == [Offer("x", "b", RING)]
    assert acd.calls["x"].missed_by == ["a"]
    assert acd.agents["a"].state == AgentState.AVAILABLE


def test_agent_who_missed_is_last_choice_but_still_used_when_alone():
    acd = acd_with("a", max_missed=0)
    acd.handle(CallWaiting("x", 5))
    assert routing(acd.handle(RingFailed("x", "a", 15))) == [Offer("x", "a", RING)]


def test_agent_missing_calls_in_a_row_is_paused_with_a_reason():
    acd = acd_with("a", "b", max_missed=2)
    acd.handle(CallWaiting("x", 1))  # a
    acd.handle(RingFailed("x", "a", 11))  # -> b
    acd.handle(CallWaiting("y", 12))  # a again (b is ringing with x)
    commands = acd.handle(RingFailed("y", "a", 22))
    assert AgentStateChanged("a", AgentState.PAUSED, MISSED_CALLS) in commands
    assert acd.agents["a"].pause_reason == MISSED_CALLS
    assert routing(commands) == []  # nobody free for y: b still rings with x
    acd.handle(AgentAnswered("x", "b", 23))
    acd.handle(AgentResumed("a", 30))
    assert acd.agents["a"].missed_in_row == 0
    assert acd.calls["y"].agent_id is None and "a" in acd.calls["y"].ringing


def test_answering_resets_the_missed_count():
    acd = acd_with("a", "b", max_missed=2)
    acd.handle(CallWaiting("x", 1))
    acd.handle(RingFailed("x", "a", 11))
    acd.handle(AgentAnswered("x", "b", 12))
    acd.handle(CallWaiting("y", 13))
    acd.handle(AgentAnswered("y", "a", 14))
    assert acd.agents["a"].missed_in_row == 0


def test_freed_agent_takes_oldest_waiting_call_and_priority_jumps_ahead():
    acd = acd_with("a")
    acd.handle(CallWaiting("first", 1))
    acd.handle(CallWaiting("second", 2))
    acd.handle(CallWaiting("urgent", 3, priority=5))
    acd.handle(AgentAnswered("first", "a", 4))
    assert routing(acd.handle(CallEnded("first", 60))) == [Offer("urgent", "a", RING)]
    assert [c.call_id for c in acd.waiting()] == ["second"]


def test_on_call_agent_is_never_offered():
    acd = acd_with("a", "b")
    acd.handle(CallWaiting("x", 1))
    acd.handle(AgentAnswered("x", "a", 2))
    assert routing(acd.handle(CallWaiting("y", 3))) == [Offer("y", "b", RING)]
    assert routing(acd.handle(CallWaiting("z", 4))) == []


def test_agent_busy_on_a_call_outside_the_acd_is_not_offered():
    acd = acd_with("a", "b")
    acd.handle(AgentPhoneBusy("a", 2, busy=True))
    assert routing(acd.handle(CallWaiting("x", 3))) == [Offer("x", "b", RING)]
    acd.handle(CallWaiting("y", 4))
    assert routing(acd.handle(AgentPhoneBusy("a", 5, busy=False))) == [Offer("y", "a", RING)]


def test_paused_agent_is_never_offered_until_resumed():
    acd = acd_with("a")
    acd.handle(AgentPaused("a", 1, "lunch"))
    assert acd.agents["a"].pause_reason == "lunch"
    assert routing(acd.handle(CallWaiting("x", 2))) == []
    assert routing(acd.handle(AgentResumed("a", 3))) == [Offer("x", "a", RING)]


def test_pause_requested_on_a_call_applies_when_the_call_ends():
    acd = acd_with("a")
    acd.handle(CallWaiting("x", 1))
    acd.handle(AgentAnswered("x", "a", 2))
    acd.handle(AgentPaused("a", 3, "training"))
    acd.handle(CallWaiting("y", 4))
    assert routing(acd.handle(CallEnded("x", 5))) == []
    assert (acd.agents["a"].state, acd.agents["a"].pause_reason) == (AgentState.PAUSED, "training")


def test_wrap_up_holds_the_agent_then_frees_them_on_tick_or_early():
    acd = acd_with("a", wrap_up=15)
    acd.handle(CallWaiting("x", 1))
    acd.handle(AgentAnswered("x", "a", 2))
    commands = acd.handle(CallEnded("x", 10))
    assert WakeAt(25) in commands
    assert acd.agents["a"].state == AgentState.WRAP_UP
    acd.handle(CallWaiting("y", 11))
    assert routing(acd.handle(Tick(24.9))) == []
    assert routing(acd.handle(Tick(25))) == [Offer("y", "a", RING)]
    acd.handle(AgentAnswered("y", "a", 26))
    acd.handle(CallEnded("y", 30))
    acd.handle(CallWaiting("z", 31))
    assert routing(acd.handle(WrapUpEnded("a", 32))) == [Offer("z", "a", RING)]


def test_caller_hanging_up_while_ringing_stops_the_ring_and_frees_the_agent():
    acd = acd_with("a")
    acd.handle(CallWaiting("x", 1))
    acd.handle(CallWaiting("y", 2))
    assert routing(acd.handle(CallEnded("x", 3))) == [StopRinging("x", "a"), Offer("y", "a", RING)]
    assert "x" not in acd.calls


def test_sla_guard_rings_a_second_agent_and_first_answer_wins():
    acd = acd_with("a", "b", "c", sla_guard_after=6)
    commands = ring(acd, acd.handle(CallWaiting("x", 10)), 10.5)  # the phone rings half a second after the offer
    assert routing(commands) == [Offer("x", "a", RING)] and WakeAt(16.5) in commands
    assert routing(acd.handle(Tick(16.4))) == []
    assert routing(ring(acd, acd.handle(Tick(16.5)), 16.5)) == [Offer("x", "b", RING, guard=True)]
    assert set(acd.calls["x"].ringing) == {"a", "b"}
    assert routing(acd.handle(AgentAnswered("x", "b", 17))) == [StopRinging("x", "a")]
    assert acd.agents["a"].state == AgentState.AVAILABLE and acd.agents["a"].missed_in_row == 0
    assert acd.calls["x"].agent_id == "b"


def test_sla_guard_one_ring_failing_keeps_the_other_ringing():
    acd = acd_with("a", "b", sla_guard_after=6)
    ring(acd, acd.handle(CallWaiting("x", 10)), 10)
    ring(acd, acd.handle(Tick(16)), 16)
    assert routing(acd.handle(RingFailed("x", "a", 20))) == []
    assert acd.calls["x"].state == CallState.OFFERED and set(acd.calls["x"].ringing) == {"b"}


def test_sla_guard_uses_an_agent_freed_after_the_guard_point_before_waiting_calls():
    acd = acd_with("a", "b", sla_guard_after=6)
    ring(acd, acd.handle(CallWaiting("x", 10)), 10)  # a rings
    ring(acd, acd.handle(CallWaiting("y", 11)), 11)  # b rings
    acd.handle(AgentAnswered("y", "b", 12))
    assert routing(acd.handle(Tick(16))) == []  # guard point for x, nobody free
    acd.handle(CallWaiting("z", 17))  # waits
    # x's two-ring promise runs out in seconds, z's has not started: the guard first
    assert routing(acd.handle(CallEnded("y", 18))) == [Offer("x", "b", RING, guard=True)]
    acd.handle(AgentLoggedIn("c", 19))
    assert acd.agents["c"].state == AgentState.RINGING and "c" in acd.calls["z"].ringing  # then the queue


def test_sla_guard_keeps_two_rings_going_when_the_first_ring_fails():
    acd = acd_with("a", "b", "c", sla_guard_after=6)
    acd.handle(CallWaiting("busy", 0.5))  # c is on a call
    acd.handle(AgentAnswered("busy", "a", 0.6))
    ring(acd, acd.handle(CallWaiting("x", 1)), 1)  # rings b
    assert routing(ring(acd, acd.handle(Tick(7)), 7)) == [Offer("x", "c", RING, guard=True)]
    acd.handle(CallEnded("busy", 8))  # a is free
    # b's ring fails at 11; c still rings (since 7): a free agent is rung at once, not at 17
    assert routing(acd.handle(RingFailed("x", "b", 11))) == [Offer("x", "a", RING, guard=True)]


def test_sla_guard_and_ring_window_wait_for_the_phone_to_ring():
    acd = acd_with("a", "b", sla_guard_after=6)
    acd.handle(CallWaiting("x", 10))  # offered at 10; the Originate takes 3 s to reach the phone
    commands = acd.handle(RingStarted("x", "a", 13))
    assert WakeAt(19) in commands and WakeAt(13 + RING + acd.ring_grace) in commands
    assert routing(acd.handle(Tick(16))) == []  # 6 s after the offer: no guard, the phone rang only 3 s
    assert routing(ring(acd, acd.handle(Tick(19)), 19)) == [Offer("x", "b", RING, guard=True)]


# ---- the core owns time: deadlines, transport failures, link outages, adoption ----------------


def test_a_ring_asterisk_never_ends_is_a_miss_at_the_core_deadline():
    acd = acd_with("a", "b", max_missed=2)
    ring(acd, acd.handle(CallWaiting("x", 10)), 10)
    deadline = 10 + RING + acd.ring_grace
    assert routing(acd.handle(Tick(deadline - 0.1))) == []
    assert routing(acd.handle(Tick(deadline))) == [StopRinging("x", "a"), Offer("x", "b", RING)]
    assert acd.calls["x"].missed_by == ["a"] and acd.agents["a"].missed_in_row == 1
    assert acd.violations(deadline) == []


def test_an_offer_that_never_reaches_the_phone_is_withdrawn_without_a_miss():
    acd = acd_with("a", "b", setup_timeout=4, retry_after=2)
    acd.handle(CallWaiting("x", 10))  # a is offered; no RingStarted ever comes
    assert routing(acd.handle(Tick(14))) == [StopRinging("x", "a"), Offer("x", "b", RING)]
    assert acd.agents["a"].missed_in_row == 0 and acd.agents["a"].state == AgentState.AVAILABLE
    assert acd.calls["x"].missed_by == []


def test_transport_failures_never_pause_anyone_and_hold_the_agent_briefly():
    acd = acd_with("a", max_missed=2, retry_after=2)
    acd.handle(CallWaiting("x", 10))
    for n in range(5):  # Asterisk refuses the Originate again and again
        now = 10 + n * 2
        assert routing(acd.handle(OfferWithdrawn("x", "a", now))) == []  # held: no hot loop
        assert acd.agents["a"].state == AgentState.AVAILABLE and acd.agents["a"].missed_in_row == 0
        assert routing(acd.handle(Tick(now + 2))) == [Offer("x", "a", RING)]
    assert acd.agents["a"].state == AgentState.RINGING


def test_link_down_stops_offers_and_hands_waiting_callers_back_after_the_handoff():
    acd = acd_with("a", handoff_after=5)
    acd.handle(AgentPhoneBusy("a", 1, busy=True))
    acd.handle(CallWaiting("old", 2))
    acd.handle(LinkDown(20))  # "old" has waited 18 s already: it gets the same 5 s as everyone
    acd.handle(CallWaiting("new", 22))
    acd.handle(AgentPhoneBusy("a", 23, busy=False))
    assert acd.agents["a"].state == AgentState.AVAILABLE and acd.calls["old"].state == CallState.WAITING  # no offer
    assert [c for c in acd.handle(Tick(25)) if isinstance(c, (Offer, HandOff))] == [HandOff("old", "ami_down")]
    assert "old" not in acd.calls
    assert [c for c in acd.handle(Tick(27)) if isinstance(c, (Offer, HandOff))] == [HandOff("new", "ami_down")]
    assert acd.violations(27) == []


def test_link_up_offers_again_at_once():
    acd = acd_with("a")
    acd.handle(LinkDown(5))
    acd.handle(CallWaiting("x", 6))
    assert routing(acd.handle(LinkUp(7))) == [Offer("x", "a", RING)]


def test_a_call_found_connected_at_start_puts_its_operator_on_the_call():
    acd = acd_with("a", "b", wrap_up=0)
    acd.handle(AgentPaused("b", 1, "lunch"))
    acd.handle(CallAdopted("x", "a", 2))
    acd.handle(CallAdopted("y", "b", 2))
    assert acd.agents["a"].state == AgentState.ON_CALL and acd.agents["b"].state == AgentState.ON_CALL
    acd.handle(CallWaiting("z", 3))
    assert acd.calls["z"].state == CallState.WAITING  # nobody free
    assert routing(acd.handle(CallEnded("x", 4))) == [Offer("z", "a", RING)]
    acd.handle(CallEnded("y", 5))
    assert acd.agents["b"].state == AgentState.PAUSED and acd.agents["b"].pause_reason == "lunch"
    assert acd.violations(5) == []


def test_skills_route_to_skilled_agents_then_overflow_to_anyone():
    acd = Acd(ring_timeout=RING, overflow_after=20)
    acd.handle(AgentLoggedIn("general", 0))
    acd.handle(AgentLoggedIn("nurse", 1, skills=frozenset({"medical"})))
    assert routing(acd.handle(CallWaiting("fever", 5, skill="medical"))) == [Offer("fever", "nurse", RING)]
    acd.handle(AgentAnswered("fever", "nurse", 5.5))
    commands = acd.handle(CallWaiting("fever2", 6, skill="medical"))
    assert routing(commands) == [] and WakeAt(26) in commands  # general is free but not skilled
    assert routing(acd.handle(CallWaiting("any", 7))) == [Offer("any", "general", RING)]
    acd.handle(AgentAnswered("any", "general", 8))
    acd.handle(CallEnded("any", 17))  # general is free again; fever2 has not waited long enough
    assert routing(acd.handle(Tick(25))) == []
    assert routing(acd.handle(Tick(26))) == [Offer("fever2", "general", RING)]


def test_call_for_a_skill_nobody_logged_in_has_goes_to_anyone_at_once():
    acd = Acd(ring_timeout=RING, overflow_after=20)
    acd.handle(AgentLoggedIn("general", 0))
    acd.handle(AgentLoggedIn("nurse", 1, skills=frozenset({"medical"})))
    acd.handle(AgentLoggedOut("nurse", 2))
    assert routing(acd.handle(CallWaiting("x", 3, skill="medical"))) == [Offer("x", "general", RING)]


def test_fewest_calls_prefers_the_agent_with_fewer_answered_calls():
    for strategy, expected in [(Strategy.LONGEST_IDLE, "a"), (Strategy.FEWEST_CALLS, "b")]:
        acd = Acd(ring_timeout=RING, strategy=strategy)
        acd.handle(AgentLoggedIn("a", 0))
        acd.handle(CallWaiting("1", 1))
        acd.handle(AgentAnswered("1", "a", 2))
        acd.handle(CallEnded("1", 5))  # a: one call, idle since 5
        acd.handle(AgentLoggedIn("b", 6))  # b: no call, idle since 6
        assert routing(acd.handle(CallWaiting("2", 7))) == [Offer("2", expected, RING)], strategy


def test_round_robin_follows_the_rota_not_idle_time():
    for strategy, expected in [(Strategy.LONGEST_IDLE, "a"), (Strategy.ROUND_ROBIN, "c")]:
        acd = Acd(ring_timeout=RING, strategy=strategy)
        for n, agent in enumerate("abc"):
            acd.handle(AgentLoggedIn(agent, n))
        acd.handle(AgentPaused("c", 2.5, "break"))
        for call, t in [("1", 3), ("2", 5)]:  # a then b take a call (both strategies)
            acd.handle(CallWaiting(call, t))
            agent = next(iter(acd.calls[call].ringing))
            acd.handle(AgentAnswered(call, agent, t))
            acd.handle(CallEnded(call, t + 1))
        acd.handle(AgentResumed("c", 8))  # c idle since 8: the shortest idle, but next in the rota
        assert routing(acd.handle(CallWaiting("3", 9))) == [Offer("3", expected, RING)], strategy


def test_logout_while_on_call_applies_when_the_call_ends():
    acd = acd_with("a")
    acd.handle(CallWaiting("x", 1))
    acd.handle(AgentAnswered("x", "a", 2))
    acd.handle(AgentLoggedOut("a", 3))
    assert acd.agents["a"].state == AgentState.ON_CALL
    acd.handle(CallWaiting("y", 4))
    assert routing(acd.handle(CallEnded("x", 5))) == []
    assert acd.agents["a"].state == AgentState.LOGGED_OUT


@pytest.mark.parametrize(
    "event",
    [
        AgentAnswered("x", "b", 2),  # b was not offered x
        RingFailed("nope", "a", 2),  # unknown call
        CallWaiting("x", 2),  # duplicate call id
        AgentLoggedOut("ghost", 2),  # unknown agent
        CallEnded("nope", 2),
        AgentResumed("b", 2),  # b is not paused
        WrapUpEnded("b", 2),  # b is not in wrap-up
        CallArrived("x", 2),  # already known
    ],
)
def test_illegal_events_raise_and_leave_state_unchanged(event):
    acd = acd_with("a", "b")
    acd.handle(CallWaiting("x", 1))
    before = (repr(acd.agents), repr(acd.calls), list(acd._queue), set(acd._free))
    with pytest.raises(IllegalTransition):
        acd.handle(event)
    assert (repr(acd.agents), repr(acd.calls), list(acd._queue), set(acd._free)) == before


# ---- property test -----------------------------------------------------------------------------

AGENTS = ["a1", "a2", "a3", "a4"]
quiet_steps = steps(KINDS, max_size=80)
# A staffed room: every agent logged in first, and a longer, busier day (rings, answers, misses).
BUSY = KINDS + ["call", "rang", "rang", "answer", "fail", "tick", "tick"]
busy_steps = steps(BUSY, min_size=20, max_size=120)


@settings(max_examples=3000, deadline=None)
@given(st.one_of(quiet_steps.map(lambda s: (False, s)), busy_steps.map(lambda s: (True, s))), st.sampled_from(list(Strategy)),
       st.booleans(), st.booleans())
def test_random_sequences_keep_the_invariants(day, strategy, guard, extras):
    staffed, sequence = day
    # extras: pairing, escalation (both need the guard), auto-resume and a short memory
    more = {"escalate_after": 7, "pair_when_idle": True, "auto_resume_after": 5, "memory_half_life": 30} if extras else {}
    acd = Acd(ring_timeout=RING, wrap_up=3, max_missed=2, sla_guard_after=6 if guard else None, strategy=strategy,
              **more)
    for agent_id in AGENTS if staffed else []:
        acd.handle(AgentLoggedIn(agent_id, 0.0))
    now, next_call = 0.0, 0
    live_calls: set[str] = set()
    wakes: list[float] = []
    for kind, pick in sequence:
        now += 1
        commands = []
        while wakes and wakes[0] <= now:  # the adapter's timers: every Tick asked for arrives on time
            commands += acd.handle(Tick(heapq.heappop(wakes)))
        for command in commands:
            if isinstance(command, WakeAt):
                heapq.heappush(wakes, command.at)
            if isinstance(command, HandOff):
                live_calls.discard(command.call_id)
        event = day_event(acd, kind, pick, AGENTS[pick % len(AGENTS)], now, f"c{next_call}", priorities=3)
        if event is None:
            continue
        if isinstance(event, CallWaiting):
            live_calls.add(event.call_id)
            next_call += 1
        elif isinstance(event, CallEnded):
            live_calls.discard(event.call_id)
        latest = acd.handle(event)
        commands += latest
        for command in commands:
            if isinstance(command, WakeAt):
                heapq.heappush(wakes, command.at)
        for command in commands:
            if isinstance(command, HandOff):
                live_calls.discard(command.call_id)
        for command in latest:  # earlier Ticks' offers may have been answered or withdrawn since
            if isinstance(command, Offer):
                assert command.agent_id in acd.calls[command.call_id].ringing
                assert acd.agents[command.agent_id].state == AgentState.RINGING
        # An agent holds one call at most (by construction); a connected call is with one agent;
        # a call rings at most two agents (the second only through the SLA guard).
        talking = [a.call_id for a in acd.agents.values() if a.state == AgentState.ON_CALL]
        assert len(talking) == len(set(talking))
        if not guard:
            rung = [a.call_id for a in acd.agents.values() if a.state == AgentState.RINGING]
            assert len(rung) == len(set(rung))
        for call in acd.calls.values():
            assert len(call.ringing) <= 2 or (extras and guard and call.call_id in acd._escalating)
            assert not (call.ringing and call.state != CallState.OFFERED)
        for agent in acd.agents.values():
            if agent.state == AgentState.RINGING:
                assert agent.agent_id in acd.calls[agent.call_id].ringing
            elif agent.state == AgentState.ON_CALL:
                assert acd.calls[agent.call_id].agent_id == agent.agent_id
            else:
                assert agent.call_id is None
        # No call is lost: every call not ended is still known to the core.
        assert set(acd.calls) == live_calls
        assert {c.call_id for c in acd.waiting()} == {c.call_id for c in acd.calls.values() if c.state == CallState.WAITING}
        # Work-conserving: no call waits while an agent is free and eligible.
        free = [a for a in acd.agents.values() if a.state == AgentState.AVAILABLE and not a.phone_busy and a.held_until is None]
        assert not (free and acd.waiting() and acd.link_down_since is None)
        assert acd.violations(now, slack=1.0) == []
        # Where callers stand: positions 1..n in offer order, estimates never negative nor shorter further back.
        waiting = acd.waiting()
        assert [acd.position(c.call_id) for c in waiting] == list(range(1, len(waiting) + 1))
        estimates = [acd.estimated_wait(c.call_id, now) for c in waiting]
        known = [e for e in estimates if e is not None]
        assert all(e >= 0 for e in known) and known == sorted(known)
        for agent_id, figures in acd.agent_figures(now).items():
            assert 0 <= figures.p_within_window <= 1 + 1e-9 and figures.offers_remembered >= 0
            assert figures.resume_at == acd.agents[agent_id].resume_at
            if abs(figures.p_within_window - acd.likely_threshold) > 1e-6:  # the cached flip time agrees
                assert figures.likely == (now >= acd.agents[agent_id].memory.likely_from)


def test_a_ring_that_runs_out_while_ami_is_down_is_nobodys_miss():
    acd = acd_with("a", max_missed=1, handoff_after=60)
    ring(acd, acd.handle(CallWaiting("x", 10)), 10)
    acd.handle(LinkDown(11))  # Asterisk could not tell us how the ring ended
    acd.handle(Tick(10 + RING + acd.ring_grace))
    assert acd.agents["a"].missed_in_row == 0 and acd.agents["a"].state == AgentState.AVAILABLE
    assert acd.calls["x"].missed_by == []


def test_a_late_answer_takes_the_miss_back_and_ends_the_pause_it_caused():
    acd = acd_with("a", "b", max_missed=2)
    acd.handle(CallWaiting("x", 1))  # a
    acd.handle(RingFailed("x", "a", 11))  # -> b
    acd.handle(CallWaiting("y", 12))  # a again
    acd.handle(RingFailed("y", "a", 22))
    assert acd.agents["a"].pause_reason == MISSED_CALLS
    commands = acd.handle(LateAnswer("y", "a", 22.3))  # a's phone answered y just after its ring ended
    assert AgentStateChanged("a", AgentState.AVAILABLE, AUTO_RESUMED) in commands
    assert acd.agents["a"].missed_in_row == 1
    assert routing(commands) == [Offer("y", "a", RING)]  # free again, and y still waits
    assert acd.handle(LateAnswer("y", "a", 22.4)) == [] and acd.agents["a"].missed_in_row == 1  # once only


def test_a_late_answer_to_an_older_ring_or_a_ring_that_was_no_miss_takes_nothing_back():
    acd = acd_with("a", "b", max_missed=3)
    acd.handle(CallWaiting("x", 1))  # a
    acd.handle(RingFailed("x", "a", 11))  # -> b
    acd.handle(CallWaiting("y", 12))  # a
    acd.handle(RingFailed("y", "a", 22))
    acd.handle(LateAnswer("x", "a", 22.5))  # not a's latest miss: the one in between still stands
    assert acd.agents["a"].missed_in_row == 2
    acd.handle(LateAnswer("z", "a", 23))  # a call that never rang a
    acd.handle(LateAnswer("y", "nobody", 23))  # an agent the core does not know
    assert acd.agents["a"].missed_in_row == 2
