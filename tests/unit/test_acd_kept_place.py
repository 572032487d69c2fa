"""Keep your place (callback in queue) in the pure ACD core: table-driven cases and a property test."""

import heapq

import pytest
from harness.acd_days import KINDS, day_event, steps
from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.acd import (
    Acd,
    AgentAnswered,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentPhoneBusy,
    AgentState,
    CallbackGaveUp,
    CallbackUnreached,
    CallEnded,
    CallState,
    CallWaiting,
    Event,
    HandOff,
    IllegalTransition,
    LinkDown,
    LinkUp,
    Offer,
    PlaceKept,
    RingFailed,
    RingStarted,
    Strategy,
    Tick,
    WakeAt,
)

RING = 10.0


def acd_with(*agents: str, **options) -> Acd:
    acd = Acd(ring_timeout=RING, **options)
    for n, agent in enumerate(agents):
        acd.handle(AgentLoggedIn(agent, float(n)))
    return acd


def offers(commands) -> list[Offer]:
    return [c for c in commands if isinstance(c, Offer)]


def busy_room(**options) -> Acd:
    """One operator "a" talking to "talk"; callers "k" (then "x", "y") wait behind nobody else."""
    acd = acd_with("a", wrap_up=0, **options)
    acd.handle(CallWaiting("talk", 10))
    acd.handle(AgentAnswered("talk", "a", 11))
    return acd


# ---- keeping the place ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kept", "expected_order"),
    [
        # the first caller keeps their place: still first, ahead of a caller who came later
        ("k", ["k", "x", "y"]),
        # the middle caller keeps theirs: still second
        ("x", ["k", "x", "y"]),
        # the last: still last
        ("y", ["k", "x", "y"]),
    ],
)
def test_a_kept_place_keeps_its_position_and_waiting_time(kept, expected_order):
    acd = busy_room()
    for n, call_id in enumerate(["k", "x", "y"]):
        acd.handle(CallWaiting(call_id, 20 + n))
    before = acd.calls[kept].waiting_since
    position = acd.position(kept)
    assert acd.handle(PlaceKept(kept, 60)) == []
    assert [c.call_id for c in acd.waiting()] == expected_order
    assert acd.position(kept) == position
    call = acd.calls[kept]
    assert (call.state, call.waiting_since, call.kept_at) == (CallState.WAITING, before, 60)
    assert acd.violations(60) == []


def test_a_kept_place_is_offered_in_its_turn_as_a_callback():
    acd = busy_room()
    acd.handle(CallWaiting("k", 20))
    acd.handle(CallWaiting("x", 21))
    acd.handle(PlaceKept("k", 60))
    out = acd.handle(CallEnded("talk", 90))  # the operator frees: the kept place is first in line
    assert offers(out) == [Offer("k", "a", RING, False, "first", callback=True)]
    # The next caller is offered as an ordinary call once the callback is over.
    acd.handle(RingStarted("k", "a", 90.5))
    assert acd.handle(AgentAnswered("k", "a", 92)) and acd.calls["k"].state == CallState.CONNECTED
    out = acd.handle(CallEnded("k", 150))
    assert offers(out) == [Offer("x", "a", RING, False, "first")]


def _in_menu() -> Acd:
    from callcenter.acd import CallArrived

    acd = acd_with()
    acd.handle(CallArrived("k", 20))
    return acd


def _ringing() -> Acd:
    acd = acd_with("b")
    acd.handle(CallWaiting("k", 20))  # offered to b at once
    acd.handle(RingStarted("k", "b", 21))
    return acd


def _connected() -> Acd:
    acd = _ringing()
    acd.handle(AgentAnswered("k", "b", 22))
    return acd


def _kept() -> Acd:
    acd = acd_with()
    acd.handle(CallWaiting("k", 20))
    acd.handle(PlaceKept("k", 22))
    return acd


@pytest.mark.parametrize("setup", [_in_menu, _ringing, _connected, _kept])
def test_only_a_waiting_call_can_keep_its_place(setup):
    acd = setup()
    before = (repr(acd.agents), repr(acd.calls), list(acd._queue))
    with pytest.raises(IllegalTransition):
        acd.handle(PlaceKept("k", 30))
    assert (repr(acd.agents), repr(acd.calls), list(acd._queue)) == before
    assert acd.violations(30) == []


@pytest.mark.parametrize(
    "guard_options",
    [
        {"sla_guard_after": 4},  # the guard would ring a second operator at 4 s
        {"sla_guard_after": 4, "guard_likelihood": 0.99},  # ... or at once for an unlikely one
        {"sla_guard_after": 4, "escalate_after": 6},  # escalation would ring every free phone
        {"sla_guard_after": 4, "pair_when_idle": True},  # pairing would ring two at once
    ],
)
def test_a_kept_call_never_rings_two_operators(guard_options):
    acd = acd_with("a", "b", "c", "d", **guard_options)
    for agent_id in "abcd":
        acd.handle(AgentPhoneBusy(agent_id, 5, busy=True))
    acd.handle(CallWaiting("k", 10))
    acd.handle(PlaceKept("k", 20))
    for agent_id in "abcd":
        acd.handle(AgentPhoneBusy(agent_id, 30, busy=False))
    call = acd.calls["k"]
    assert len(call.ringing) == 1
    (agent_id,) = call.ringing
    acd.handle(RingStarted("k", agent_id, 30))
    for t in range(31, 40):
        out = acd.handle(Tick(float(t)))
        assert offers(out) == [] and len(call.ringing) == 1
        assert acd.violations(float(t)) == []


@pytest.mark.parametrize("guard_options", [{"sla_guard_after": 4, "escalate_after": 6}, {"sla_guard_after": 4}])
def test_a_guard_or_escalation_due_from_a_ring_before_the_place_was_kept_never_rings_a_second_phone(guard_options):
    acd = acd_with("a", "b", "c", **guard_options)
    acd.handle(AgentPhoneBusy("b", 1, busy=True))
    acd.handle(AgentPhoneBusy("c", 1, busy=True))
    acd.handle(CallWaiting("k", 10))  # rings a; its guard and escalation points are set from this ring
    acd.handle(RingStarted("k", "a", 10))
    acd.handle(RingFailed("k", "a", 11))  # back in the queue, offered to a again at once
    acd.handle(RingFailed("k", "a", 12))  # a paused for missed calls: k waits
    assert acd.agents["a"].state == AgentState.PAUSED and acd.calls["k"].state == CallState.WAITING
    acd.handle(PlaceKept("k", 13))
    acd.handle(AgentPhoneBusy("b", 13, busy=False))  # k rings b as a callback
    acd.handle(RingStarted("k", "b", 13))
    acd.handle(AgentPhoneBusy("c", 13, busy=False))
    for t in range(14, 20):  # past the old guard (14) and escalation (16) points
        assert offers(acd.handle(Tick(float(t)))) == [] and list(acd.calls["k"].ringing) == ["b"]
        assert acd.violations(float(t)) == []


def test_never_more_callbacks_than_free_operators():
    acd = acd_with("a", "b", "c")
    for agent_id in "abc":
        acd.handle(AgentPhoneBusy(agent_id, 5, busy=True))
    for n in range(5):
        acd.handle(CallWaiting(f"k{n}", 10 + n))
        acd.handle(PlaceKept(f"k{n}", 20 + n))
    out = acd.handle(AgentPhoneBusy("a", 30, busy=False)) + acd.handle(AgentPhoneBusy("b", 30, busy=False))
    assert [(o.call_id, o.agent_id, o.callback) for o in offers(out)] == [("k0", "a", True), ("k1", "b", True)]
    assert [c.call_id for c in acd.waiting()] == ["k2", "k3", "k4"]


def test_a_missed_callback_ring_is_offered_to_the_next_operator_at_once():
    acd = acd_with("a", "b")
    for agent_id in "ab":
        acd.handle(AgentPhoneBusy(agent_id, 5, busy=True))
    acd.handle(CallWaiting("k", 10))
    acd.handle(PlaceKept("k", 20))
    out = acd.handle(AgentPhoneBusy("a", 30, busy=False))
    acd.handle(RingStarted("k", "a", 30))
    acd.handle(AgentPhoneBusy("b", 31, busy=False))  # b frees while a rings: a kept call is not guarded
    out = acd.handle(RingFailed("k", "a", 40))
    assert offers(out) == [Offer("k", "b", RING, False, "first", callback=True)]
    assert acd.calls["k"].missed_by == ["a"] and acd.calls["k"].callback_attempts == 0


# ---- a caller not reached -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempts", "retry_after", "failures", "expected"),
    [
        # first attempt fails: back in the queue, in its old place, not offered before the pause ends
        (3, 120.0, 1, "waiting"),
        (3, 120.0, 2, "waiting"),
        # the last attempt fails: the core gives up and forgets the call
        (3, 120.0, 3, "gave_up"),
        (1, 120.0, 1, "gave_up"),
        # no pause: offered again at once
        (2, 0.0, 1, "offered"),
    ],
)
def test_a_callback_that_does_not_reach_the_caller_is_retried_then_given_up(attempts, retry_after, failures, expected):
    acd = acd_with("a", wrap_up=30, callback_attempts=attempts, callback_retry_after=retry_after)
    acd.handle(AgentPhoneBusy("a", 5, busy=True))
    acd.handle(CallWaiting("k", 10))
    acd.handle(PlaceKept("k", 20))
    now = 30.0
    acd.handle(AgentPhoneBusy("a", now, busy=False))
    out: list = []
    for n in range(failures):
        if n:
            now = acd.calls["k"].not_before or now
            out = acd.handle(Tick(now))
            assert offers(out) == [Offer("k", "a", RING, False, "first", callback=True)]
        acd.handle(RingStarted("k", "a", now + 0.5))
        acd.handle(AgentAnswered("k", "a", now + 2))
        now += 30
        out = acd.handle(CallbackUnreached("k", "a", now))
        # The operator is free at once: no wrap-up, no miss.
        agent = acd.agents["a"]
        again = retry_after == 0 and n + 1 < attempts  # no pause: the kept call rings the free operator again
        expect = (AgentState.RINGING, 0, "k") if again else (AgentState.AVAILABLE, 0, None)
        assert (agent.state, agent.missed_in_row, agent.call_id) == expect
        assert acd.violations(now) == []
    if expected == "gave_up":
        assert CallbackGaveUp("k", attempts) in out and "k" not in acd.calls
        return
    call = acd.calls["k"]
    assert call.callback_attempts == failures and call.waiting_since == 10 and call.agent_id is None
    if expected == "offered":
        assert offers(out) == [Offer("k", "a", RING, False, "first", callback=True)]
        return
    assert offers(out) == [] and call.state == CallState.WAITING and call.not_before == now + retry_after
    assert WakeAt(now + retry_after) in out
    assert not offers(acd.handle(Tick(now + retry_after - 1)))
    assert offers(acd.handle(Tick(now + retry_after))) == [Offer("k", "a", RING, False, "first", callback=True)]


def test_a_kept_call_in_its_retry_pause_lets_the_callers_behind_it_through_and_keeps_its_place():
    acd = acd_with("a", "b", callback_retry_after=60)
    for agent_id in "ab":
        acd.handle(AgentPhoneBusy(agent_id, 1, busy=True))
    acd.handle(CallWaiting("k", 10))
    acd.handle(PlaceKept("k", 20))
    acd.handle(AgentPhoneBusy("a", 21, busy=False))  # k rings a
    acd.handle(AgentAnswered("k", "a", 22))
    acd.handle(CallWaiting("x", 30))
    acd.handle(CallWaiting("y", 31))
    out = acd.handle(CallbackUnreached("k", "a", 40))
    # k pauses till 100 but stays first; a takes x meanwhile
    assert [o.call_id for o in offers(out)] == ["x"]
    assert [c.call_id for c in acd.waiting()] == ["k", "y"] and acd.position("k") == 1
    assert acd.violations(41) == []
    out = acd.handle(AgentPhoneBusy("b", 100, busy=False))
    # b frees when the pause ends: the kept call goes first, y waits
    assert offers(out) == [Offer("k", "b", RING, False, "first", callback=True)]
    assert [c.call_id for c in acd.waiting()] == ["y"]


@pytest.mark.parametrize(
    "event",
    [
        CallbackUnreached("k", "a", 50),  # not kept
        CallbackUnreached("nobody", "a", 50),
    ],
)
def test_callback_unreached_needs_a_kept_call_in_progress(event):
    acd = acd_with("a")
    acd.handle(CallWaiting("k", 10))
    acd.handle(AgentAnswered("k", "a", 11))
    with pytest.raises(IllegalTransition):
        acd.handle(event)


def test_callback_unreached_of_another_operator_is_refused():
    acd = acd_with("a", "b")
    acd.handle(AgentPhoneBusy("a", 1, busy=True))
    acd.handle(AgentPhoneBusy("b", 1, busy=True))
    acd.handle(CallWaiting("k", 10))
    acd.handle(PlaceKept("k", 20))
    acd.handle(AgentPhoneBusy("a", 30, busy=False))
    acd.handle(AgentAnswered("k", "a", 31))
    with pytest.raises(IllegalTransition):
        acd.handle(CallbackUnreached("k", "b", 40))


def test_an_operator_who_asked_to_log_out_during_the_callback_leaves_when_it_fails():
    acd = acd_with("a", callback_retry_after=60)
    acd.handle(AgentPhoneBusy("a", 1, busy=True))
    acd.handle(CallWaiting("k", 10))
    acd.handle(PlaceKept("k", 20))
    acd.handle(AgentPhoneBusy("a", 30, busy=False))
    acd.handle(AgentAnswered("k", "a", 31))
    acd.handle(AgentLoggedOut("a", 35))
    acd.handle(CallbackUnreached("k", "a", 40))
    assert acd.agents["a"].state == AgentState.LOGGED_OUT and acd.calls["k"].state == CallState.WAITING


def test_a_kept_call_is_not_handed_back_in_an_outage_and_is_offered_when_the_link_returns():
    acd = acd_with("a", handoff_after=5)
    acd.handle(AgentPhoneBusy("a", 1, busy=True))
    acd.handle(CallWaiting("k", 10))
    acd.handle(CallWaiting("x", 11))
    acd.handle(PlaceKept("k", 20))
    acd.handle(LinkDown(30))
    out = acd.handle(Tick(40))
    assert [c.call_id for c in out if isinstance(c, HandOff)] == ["x"]  # the caller on the line goes to the fallback
    assert acd.violations(40) == [] and [c.call_id for c in acd.waiting()] == ["k"]
    acd.handle(AgentPhoneBusy("a", 50, busy=False))
    out = acd.handle(LinkUp(60))
    assert offers(out) == [Offer("k", "a", RING, False, "first", callback=True)]


# ---- property test --------------------------------------------------------------------------------

AGENTS = ["a1", "a2", "a3"]
# Busy enough that callers wait (and keep places), and kept calls get answered and then not reached.
KEPT_KINDS = KINDS + ["call", "busy", "keep", "keep", "keep", "answer", "cb_answer", "unreached"] * 2
kept_steps = steps(KEPT_KINDS, min_size=10, max_size=120)


@settings(max_examples=3000, deadline=None)
@given(kept_steps, st.sampled_from(list(Strategy)), st.booleans(), st.integers(1, 3), st.sampled_from([0.0, 5.0, 40.0]))
def test_random_days_with_kept_places_keep_the_invariants(sequence, strategy, guard, attempts, retry_after):
    extras = {"escalate_after": 7, "pair_when_idle": True} if guard else {}
    acd = Acd(ring_timeout=RING, wrap_up=3, max_missed=2, sla_guard_after=6 if guard else None, strategy=strategy,
              callback_attempts=attempts, callback_retry_after=retry_after, **extras)
    for agent_id in AGENTS:
        acd.handle(AgentLoggedIn(agent_id, 0.0))
    now, next_call = 0.0, 0
    live: set[str] = set()  # calls not ended nor handed off nor given up
    unreached: dict[str, int] = {}
    wakes: list[float] = []

    def absorb(commands):
        for command in commands:
            if isinstance(command, WakeAt):
                heapq.heappush(wakes, command.at)
            elif isinstance(command, HandOff):
                live.discard(command.call_id)
                assert not acd.calls.get(command.call_id)
            elif isinstance(command, CallbackGaveUp):
                live.discard(command.call_id)
                assert command.attempts == attempts == unreached[command.call_id]
            elif isinstance(command, Offer):
                call = acd.calls.get(command.call_id)
                if call is not None and command.agent_id in call.ringing:
                    assert command.callback == (call.kept_at is not None)
                    if command.callback:
                        assert command.kind == "first"

    for kind, pick in sequence:
        now += 1
        while wakes and wakes[0] <= now:
            absorb(acd.handle(Tick(heapq.heappop(wakes))))
        agent_id = AGENTS[pick % len(AGENTS)]
        ringing = [(c.call_id, a) for c in acd.calls.values() for a in c.ringing]
        waiting = [c for c in acd.waiting() if c.kept_at is None]
        callbacks = [c for c in acd.calls.values() if c.kept_at is not None and c.state == CallState.CONNECTED]
        event: Event | None
        if kind == "keep":
            event = PlaceKept(waiting[pick % len(waiting)].call_id, now) if waiting else None
        elif kind == "unreached":
            event = None
            if callbacks:
                call = callbacks[pick % len(callbacks)]
                event = CallbackUnreached(call.call_id, call.agent_id, now)
                unreached[call.call_id] = unreached.get(call.call_id, 0) + 1
        elif kind == "cb_answer":
            event = None
            if any(acd.calls[r[0]].kept_at is not None for r in ringing):
                call_id, ringing_agent = next(r for r in ringing if acd.calls[r[0]].kept_at is not None)
                event = AgentAnswered(call_id, ringing_agent, now)
        else:  # every operator is logged in from the start: the core knows each one
            event = day_event(acd, kind, pick, agent_id, now, f"c{next_call}", priorities=2)
        if event is None:
            continue
        if isinstance(event, CallWaiting):
            live.add(event.call_id)
            next_call += 1
        elif isinstance(event, CallEnded):
            live.discard(event.call_id)
        absorb(acd.handle(event))
        # One call per operator; a kept call rings one phone at most; no call lost.
        talking = [a.call_id for a in acd.agents.values() if a.state == AgentState.ON_CALL]
        assert len(talking) == len(set(talking))
        for call in acd.calls.values():
            if call.kept_at is not None:
                assert len(call.ringing) <= 1
                assert call.callback_attempts < attempts
            else:
                assert call.not_before is None
        assert set(acd.calls) == live
        # Work-conserving, except for a kept call in its retry pause.
        free = [a for a in acd.agents.values() if a.state == AgentState.AVAILABLE and not a.phone_busy and a.held_until is None]
        due = [c for c in acd.waiting() if c.not_before is None or c.not_before <= now]
        if acd.link_down_since is None and free and due:
            assert all(acd._choose_agent(c, now, {a.agent_id for a in free}) is None for c in due)
        # Callbacks in progress never outnumber the operators on them: each is ringing or connected to one.
        for call in acd.calls.values():
            if call.kept_at is not None and call.state == CallState.CONNECTED:
                assert acd.agents[call.agent_id].state == AgentState.ON_CALL
        waiting_now = acd.waiting()
        assert [acd.position(c.call_id) for c in waiting_now] == list(range(1, len(waiting_now) + 1))
        assert acd.violations(now, slack=1.0) == []
