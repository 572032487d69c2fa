"""The pure ACD core: table-driven cases and a randomised property test."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.acd import (
    Acd,
    AgentAnswered,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentState,
    CallEnded,
    CallState,
    CallWaiting,
    IllegalTransition,
    Offer,
    RingFailed,
    StopRinging,
)

RING = 10.0


def acd_with(*agents: str, at: float = 0.0) -> Acd:
    acd = Acd(ring_timeout=RING)
    for n, agent in enumerate(agents):
        acd.handle(AgentLoggedIn(agent, at + n))
    return acd


def test_waiting_call_goes_to_longest_idle_agent():
    acd = acd_with("a", "b", "c")  # a idle since 0, b since 1, c since 2
    assert acd.handle(CallWaiting("x", 5)) == [Offer("x", "a", RING)]
    assert acd.agents["a"].state == AgentState.RINGING
    assert acd.calls["x"].state == CallState.OFFERED


def test_call_waits_when_nobody_is_free_and_is_offered_when_an_agent_logs_in():
    acd = Acd(ring_timeout=RING)
    assert acd.handle(CallWaiting("x", 1)) == []
    assert acd.handle(AgentLoggedIn("a", 2)) == [Offer("x", "a", RING)]


def test_missed_ring_moves_call_to_next_agent_at_once():
    acd = acd_with("a", "b")
    acd.handle(CallWaiting("x", 5))
    assert acd.handle(RingFailed("x", "a", 15)) == [Offer("x", "b", RING)]
    assert acd.calls["x"].missed_by == ["a"]
    assert acd.agents["a"].state == AgentState.AVAILABLE


def test_agent_who_missed_is_last_choice_but_still_used_when_alone():
    acd = acd_with("a")
    acd.handle(CallWaiting("x", 5))
    assert acd.handle(RingFailed("x", "a", 15)) == [Offer("x", "a", RING)]


def test_freed_agent_takes_oldest_waiting_call_and_priority_jumps_ahead():
    acd = acd_with("a")
    acd.handle(CallWaiting("first", 1))
    acd.handle(CallWaiting("second", 2))
    acd.handle(CallWaiting("urgent", 3, priority=5))
    acd.handle(AgentAnswered("first", "a", 4))
    assert acd.handle(CallEnded("first", 60)) == [Offer("urgent", "a", RING)]


def test_on_call_agent_is_never_offered():
    acd = acd_with("a", "b")
    acd.handle(CallWaiting("x", 1))
    acd.handle(AgentAnswered("x", "a", 2))
    assert acd.handle(CallWaiting("y", 3)) == [Offer("y", "b", RING)]
    assert acd.handle(CallWaiting("z", 4)) == []


def test_caller_hanging_up_while_ringing_stops_the_ring_and_frees_the_agent():
    acd = acd_with("a")
    acd.handle(CallWaiting("x", 1))
    acd.handle(CallWaiting("y", 2))
    assert acd.handle(CallEnded("x", 3)) == [StopRinging("x", "a"), Offer("y", "a", RING)]
    assert "x" not in acd.calls


def test_logout_while_on_call_applies_when_the_call_ends():
    acd = acd_with("a")
    acd.handle(CallWaiting("x", 1))
    acd.handle(AgentAnswered("x", "a", 2))
    acd.handle(AgentLoggedOut("a", 3))
    assert acd.agents["a"].state == AgentState.ON_CALL
    acd.handle(CallWaiting("y", 4))
    assert acd.handle(CallEnded("x", 5)) == []
    assert acd.agents["a"].state == AgentState.LOGGED_OUT


@pytest.mark.parametrize(
    "event",
    [
        AgentAnswered("x", "b", 2),  # b was not offered x
        RingFailed("nope", "a", 2),  # unknown call
        CallWaiting("x", 2),  # duplicate call id
        AgentLoggedOut("ghost", 2),  # unknown agent
        CallEnded("nope", 2),
    ],
)
def test_illegal_events_raise_and_leave_state_unchanged(event):
    acd = acd_with("a", "b")
    acd.handle(CallWaiting("x", 1))
    before = (repr(acd.agents), repr(acd.calls))
    with pytest.raises(IllegalTransition):
        acd.handle(event)
    assert (repr(acd.agents), repr(acd.calls)) == before


# ---- property test -----------------------------------------------------------------------------

AGENTS = ["a1", "a2", "a3", "a4"]
steps = st.lists(
    st.tuples(st.sampled_from(["login", "logout", "call", "fail", "answer", "end"]), st.integers(0, 30)),
    max_size=80,
)


@settings(max_examples=3000, deadline=None)
@given(steps)
def test_random_sequences_keep_the_invariants(sequence):
    acd = Acd(ring_timeout=RING)
    now, next_call = 0.0, 0
    live_calls: set[str] = set()
    for kind, pick in sequence:
        now += 1
        agent_id = AGENTS[pick % len(AGENTS)]
        offered = [c for c in acd.calls.values() if c.state == CallState.OFFERED]
        connected = [c for c in acd.calls.values() if c.state == CallState.CONNECTED]
        if kind == "login":
            event = AgentLoggedIn(agent_id, now)
        elif kind == "logout" and agent_id in acd.agents:
            event = AgentLoggedOut(agent_id, now)
        elif kind == "call":
            event = CallWaiting(f"c{next_call}", now, priority=pick % 3)
            live_calls.add(event.call_id)
            next_call += 1
        elif kind == "fail" and offered:
            c = offered[pick % len(offered)]
            event = RingFailed(c.call_id, c.agent_id, now)
        elif kind == "answer" and offered:
            c = offered[pick % len(offered)]
            event = AgentAnswered(c.call_id, c.agent_id, now)
        elif kind == "end" and acd.calls:
            c = list(acd.calls.values())[pick % len(acd.calls)]
            event = CallEnded(c.call_id, now)
            live_calls.discard(c.call_id)
        else:
            continue
        commands = acd.handle(event)
        # Commands only name known calls and agents, and an offer matches the new state.
        for command in commands:
            if isinstance(command, Offer):
                assert acd.calls[command.call_id].agent_id == command.agent_id
                assert acd.agents[command.agent_id].state == AgentState.RINGING
        # No agent has two calls; a call is with at most one agent; states agree both ways.
        holders = [a.call_id for a in acd.agents.values() if a.call_id is not None]
        assert len(holders) == len(set(holders))
        for agent in acd.agents.values():
            if agent.state in (AgentState.RINGING, AgentState.ON_CALL):
                assert acd.calls[agent.call_id].agent_id == agent.agent_id
            else:
                assert agent.call_id is None
        # No call is lost: every call not ended is still known to the core.
        assert set(acd.calls) == live_calls
        # Work-conserving: no call waits while an agent is available.
        free = [a for a in acd.agents.values() if a.state == AgentState.AVAILABLE]
        assert not (free and acd.waiting())
