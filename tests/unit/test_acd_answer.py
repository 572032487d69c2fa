"""The pure ACD core, issue 11: answer memory, likely-first choice, adaptive guard, escalation,
pairing, auto-resume, queue position and estimated wait.  Table-driven, on a fake clock."""

import pytest

from callcenter.acd import (
    AUTO_RESUMED,
    MISSED_CALLS,
    PRIOR_OFFERS,
    Acd,
    AgentAnswered,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentPaused,
    AgentResumed,
    AgentState,
    AgentStateChanged,
    CallEnded,
    CallWaiting,
    LinkDown,
    Offer,
    OfferWithdrawn,
    RingFailed,
    RingStarted,
    StopRinging,
    Strategy,
    Tick,
    WakeAt,
)

RING = 10.0
MISS = None  # an outcome: the ring ran out


def core(*agents: str, **options) -> Acd:
    """Agents logged in at 0, 1, 2, ... (the first is the longest idle); no decay unless asked."""
    options.setdefault("memory_half_life", 0.0)
    options.setdefault("max_missed", 0)
    acd = Acd(ring_timeout=RING, **options)
    for n, agent in enumerate(agents):
        acd.handle(AgentLoggedIn(agent, n))
    return acd


def offers(commands) -> list[tuple[str, str]]:
    """(agent, kind) of every offer."""
    return [(c.agent_id, c.kind) for c in commands if isinstance(c, Offer)]


def teach(acd: Acd, agent_id: str, outcomes, at: float) -> float:
    """``agent_id`` alone is free while calls ring at their phone: each outcome is the seconds
    from ring start to answer, or MISS.  The others are paused and resumed; returns the clock."""
    others = [a for a, agent in acd.agents.items() if a != agent_id and agent.state == AgentState.AVAILABLE]
    for other in others:
        acd.handle(AgentPaused(other, at, "break"))
    for n, delay in enumerate(outcomes):
        call = f"{agent_id}-h{at:g}-{n}"
        acd.handle(CallWaiting(call, at))
        acd.handle(RingStarted(call, agent_id, at))
        if delay is MISS:
            acd.handle(RingFailed(call, agent_id, at + RING))  # offered again to the same agent ...
            acd.handle(CallEnded(call, at + RING))  # ... and the caller leaves: nobody's miss
        else:
            acd.handle(AgentAnswered(call, agent_id, at + delay))
            acd.handle(CallEnded(call, at + delay + 1))
        at += 20
    for other in others:
        acd.handle(AgentResumed(other, at))
    return at


def idle_order(acd: Acd, *agent_ids: str, at: float) -> float:
    """Make ``agent_ids`` idle in this order (the first is the longest idle)."""
    for agent_id in agent_ids:
        acd.handle(AgentPaused(agent_id, at, "break"))
        acd.handle(AgentResumed(agent_id, at))
        at += 1
    return at


# ---- the memory ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "outcomes, remembered, share, p_window, typical",
    [
        ([], 0.0, None, 1.0, None),  # a new operator: the prior alone, answers within the window
        ([2, 2, 2, 2], 4.0, 1.0, 1.0, 2.0),
        ([MISS], 1.0, 0.0, PRIOR_OFFERS / (PRIOR_OFFERS + 1), None),  # one miss does not condemn
        ([MISS, MISS], 2.0, 0.0, PRIOR_OFFERS / (PRIOR_OFFERS + 2), None),
        ([1, 3, MISS, MISS], 4.0, 0.5, (PRIOR_OFFERS + 2) / (PRIOR_OFFERS + 4), 1.0),
        ([0.2, 0.7, 4, 9.5], 4.0, 1.0, 1.0, 1.0),  # median of 0.5 s bins: 0.2 -> 0.5, 0.7 -> 1.0
    ],
)
def test_an_operator_remembers_offers_that_rang(outcomes, remembered, share, p_window, typical):
    acd = core("a")
    teach(acd, "a", outcomes, at=100)
    figures = acd.agent_figures(1000)["a"]
    assert figures.offers_remembered == pytest.approx(remembered)
    assert figures.answer_share == (pytest.approx(share) if share is not None else None)
    assert figures.p_within_window == pytest.approx(p_window)
    assert figures.typical_answer == typical
    assert figures.likely is (p_window >= acd.likely_threshold)


def test_a_bad_hour_fades_with_the_half_life():
    acd = core("a", memory_half_life=1800)
    teach(acd, "a", [MISS, MISS, MISS, MISS], at=0)  # all at (about) 0..60
    stamp = acd.agents["a"].memory.stamp
    for later, weight in [(0, 1.0), (1800, 0.5), (3600, 0.25)]:
        figures = acd.agent_figures(stamp + later)["a"]
        assert figures.offers_remembered == pytest.approx(4 * weight, rel=0.03)
        assert figures.p_within_window == pytest.approx(PRIOR_OFFERS / (PRIOR_OFFERS + 4 * weight), rel=0.03)
    assert not acd.agent_figures(stamp)["a"].likely and acd.agent_figures(stamp + 3600)["a"].likely


def test_an_unlikely_operator_is_preferred_again_once_the_memory_has_faded():
    acd = core("a", "b", memory_half_life=1800)
    teach(acd, "a", [MISS, MISS], at=0)  # 4 of 6 with the prior: back to 4 of 5 (likely) after one half-life
    stamp = acd.agents["a"].memory.stamp
    assert acd.agents["a"].memory.likely_from == pytest.approx(stamp + 1800, abs=20)  # the first miss faded a bit
    idle_order(acd, "a", "b", at=100)
    for call, at, expected in [("x", stamp + 1700, "b"), ("y", stamp + 1900, "a")]:
        assert offers(acd.handle(CallWaiting(call, at))) == [(expected, "first")]
        acd.handle(CallEnded(call, at))


# ---- what is nobody's miss -------------------------------------------------------------------------


def _guard_pair(acd):  # a rings at 10, b is the guard's ring at 16
    acd.handle(CallWaiting("x", 10))
    acd.handle(RingStarted("x", "a", 10))
    acd.handle(Tick(16))
    acd.handle(RingStarted("x", "b", 16))


@pytest.mark.parametrize(
    "ending, missed_in_row, remembered",
    [
        ([AgentAnswered("x", "b", 17)], 0, 0.0),  # the guard's ring answered: a's ring stopped
        ([CallEnded("x", 17)], 0, 0.0),  # the caller left while both rang
        ([OfferWithdrawn("x", "a", 17)], 0, 0.0),  # transport: the ring never was
        ([RingFailed("x", "a", 20)], 1, 1.0),  # a real miss: it rang and ran out
    ],
)
def test_only_a_ring_that_ran_out_is_a_miss_or_remembered(ending, missed_in_row, remembered):
    acd = core("a", "b", sla_guard_after=6, max_missed=2)
    _guard_pair(acd)
    for event in ending:
        acd.handle(event)
    assert acd.agents["a"].missed_in_row == missed_in_row
    assert acd.agent_figures(20)["a"].offers_remembered == remembered
    assert acd.violations(20) == []


def test_a_refused_offer_that_never_rang_is_a_miss_but_not_remembered():
    acd = core("a", "b", max_missed=2)
    acd.handle(CallWaiting("x", 10))
    acd.handle(RingFailed("x", "a", 10.2))  # busy: Asterisk gave up before any ring
    assert acd.agents["a"].missed_in_row == 1 and acd.agent_figures(11)["a"].offers_remembered == 0


# ---- who rings: likely first, the strategy inside --------------------------------------------------


@pytest.mark.parametrize(
    "strategy, histories, idle, options, expected",
    [
        # a is the longest idle but missed twice of two: b (likely) rings first
        (Strategy.LONGEST_IDLE, {"a": [MISS, MISS]}, "abc", {}, "b"),
        (Strategy.LONGEST_IDLE, {"a": [MISS, MISS]}, "abc", {"likely_threshold": 0}, "a"),  # turned off
        (Strategy.LONGEST_IDLE, {"a": [MISS, MISS], "b": [MISS, MISS], "c": [MISS, MISS]}, "abc", {}, "a"),  # all alike
        (Strategy.LONGEST_IDLE, {"a": [MISS], "b": [3]}, "abc", {}, "a"),  # one miss in a fresh memory: still likely
        (Strategy.LONGEST_IDLE, {"a": [1] * 8 + [MISS, MISS]}, "abc", {}, "a"),  # 10 of 12 with the prior
        (Strategy.LONGEST_IDLE, {"a": [1] * 6 + [MISS] * 4}, "abc", {}, "b"),  # 10 of 14
        (Strategy.FEWEST_CALLS, {"a": [MISS, MISS], "b": [2], "c": [2, 2]}, "abc", {}, "b"),
        (Strategy.ROUND_ROBIN, {"b": [MISS, MISS, MISS]}, "abc", {}, "c"),  # the rota skips the unlikely b
    ],
)
def test_the_likely_operator_rings_first_and_the_strategy_breaks_ties(strategy, histories, idle, options, expected):
    acd = core("a", "b", "c", strategy=strategy, **options)
    at = 10.0
    for agent_id, outcomes in histories.items():
        at = teach(acd, agent_id, outcomes, at)
    at = idle_order(acd, *idle, at=at)
    if strategy == Strategy.ROUND_ROBIN:
        acd._rr_last = acd.agents["a"].order  # a took the last call: b is next in the rota
    assert offers(acd.handle(CallWaiting("x", at))) == [(expected, "first")]


def test_an_operator_who_missed_this_call_stays_the_last_choice_even_if_likelier():
    acd = core("a", "b")
    at = teach(acd, "b", [MISS, MISS, MISS], 10)
    at = idle_order(acd, "b", "a", at=at)
    acd.handle(CallWaiting("x", at))  # b is the longest idle but unlikely: a rings
    assert set(acd.calls["x"].ringing) == {"a"}
    acd.handle(RingStarted("x", "a", at))
    assert offers(acd.handle(RingFailed("x", "a", at + RING))) == [("b", "first")]  # a missed x: b, unlikely or not


def test_work_is_shared_among_likely_operators():
    acd = core("a", "b", "c")
    at = teach(acd, "c", [MISS, MISS, MISS], 10)
    at = idle_order(acd, "c", "a", "b", at=at)
    rung = []
    for n in range(4):
        commands = acd.handle(CallWaiting(f"x{n}", at))
        ((agent_id, _),) = offers(commands)
        rung.append(agent_id)
        acd.handle(AgentAnswered(f"x{n}", agent_id, at + 1))
        acd.handle(CallEnded(f"x{n}", at + 2))
        at += 5
    assert rung == ["a", "b", "a", "b"]  # c is left for when both are busy


# ---- the adaptive guard ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "history, options, guard_at",
    [
        ([], {}, 6.0),  # an unknown operator is guarded at sla_guard_after
        ([1] * 10, {}, 6.0),  # always answers: nothing to fear
        ([1] * 6 + [MISS] * 4, {}, 0.0),  # 10 of 14 with the prior: unlikely from the start, guarded at once
        ([1] * 12 + [MISS] * 2, {}, 1.0),  # answers in a second or never: past 1 s, 3.6 chances in 5.6
        ([1] * 12 + [MISS] * 2, {"guard_likelihood": 0.5}, 5.5),  # ... below one in two only past 5 s
        ([1] * 12 + [MISS] * 2, {"guard_likelihood": 0}, 6.0),  # adaptive guard off: the fixed point
        ([1] * 6 + [MISS] * 4, {"sla_guard_after": None}, None),  # guard off: never
    ],
)
def test_the_guard_fires_when_the_ringing_operators_history_says_so(history, options, guard_at):
    options = {"sla_guard_after": 6, "likely_threshold": 0, **options}  # a rings first whatever its history
    acd = core("a", "b", **options)
    at = teach(acd, "a", history, 10)
    start = idle_order(acd, "a", "b", at=at) + 100
    acd.handle(CallWaiting("x", start))
    second = None
    for step in range(0, 20):
        t = start + step * 0.5
        got = offers(acd.handle(RingStarted("x", "a", t) if step == 0 else Tick(t)))
        if got:
            second = (t - start, got)
            break
    assert second == (None if guard_at is None else (guard_at, [("b", "guard")]))


def test_the_guard_point_is_computed_at_ring_start():
    """An operator who answers in 1 s or never: the guard is due at 1 s, asked for with a WakeAt."""
    acd = core("a", "b", sla_guard_after=6)
    at = teach(acd, "a", [1] * 12 + [MISS] * 2, 10)
    at = idle_order(acd, "a", "b", at=at)
    acd.handle(CallWaiting("x", at))
    commands = acd.handle(RingStarted("x", "a", at + 0.3))
    assert WakeAt(at + 1.3) in commands
    assert offers(acd.handle(Tick(at + 1.2))) == []
    assert offers(acd.handle(Tick(at + 1.3))) == [("b", "guard")]


# ---- pairing when idle ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "agents, options, calls, expected",
    [
        ("abc", {}, ["x"], [[("a", "first"), ("b", "pair")]]),
        ("ab", {}, ["x"], [[("a", "first")]]),  # one operator is kept free for the next caller
        ("abc", {"pair_when_idle": False}, ["x"], [[("a", "first")]]),
        ("abc", {"sla_guard_after": None}, ["x"], [[("a", "first")]]),  # one phone at a time
        ("abcd", {}, ["x", "y"], [[("a", "first"), ("b", "pair")], [("c", "first")]]),
        ("abcde", {}, ["x", "y"], [[("a", "first"), ("b", "pair")], [("c", "first"), ("d", "pair")]]),
    ],
)
def test_a_new_call_rings_two_phones_when_the_room_is_idle(agents, options, calls, expected):
    options = {"sla_guard_after": 6, "pair_when_idle": True, **options}
    acd = core(*agents, **options)
    got = [offers(acd.handle(CallWaiting(call, 10 + n))) for n, call in enumerate(calls)]
    assert got == expected
    assert acd.violations(12) == []


def test_a_paired_call_first_answer_wins_and_the_other_is_no_miss():
    acd = core("a", "b", "c", sla_guard_after=6, pair_when_idle=True, max_missed=1)
    acd.handle(CallWaiting("x", 10))
    acd.handle(RingStarted("x", "a", 10))
    acd.handle(RingStarted("x", "b", 10))
    commands = acd.handle(AgentAnswered("x", "b", 12))
    assert [c for c in commands if isinstance(c, StopRinging)] == [StopRinging("x", "a")]
    assert acd.agents["a"].state == AgentState.AVAILABLE and acd.agents["a"].missed_in_row == 0
    assert acd.agent_figures(12)["b"].typical_answer == 2.0 and acd.agent_figures(12)["a"].offers_remembered == 0


def test_one_ring_of_a_pair_failing_brings_the_guard_back_for_the_other():
    acd = core("a", "b", "c", sla_guard_after=6, pair_when_idle=True)
    acd.handle(CallWaiting("x", 10))
    acd.handle(RingStarted("x", "a", 10))
    acd.handle(RingStarted("x", "b", 10))
    assert offers(acd.handle(RingFailed("x", "a", 11))) == []  # b still rings; its guard is due at 16
    assert offers(acd.handle(Tick(16))) == [("c", "guard")]


# ---- escalation -------------------------------------------------------------------------------------


def test_a_call_unanswered_at_the_escalation_point_rings_every_free_operator():
    acd = core("a", "b", "c", "d", "e", sla_guard_after=6, escalate_after=7)
    acd.handle(AgentPaused("e", 0.5, "lunch"))
    acd.handle(CallWaiting("x", 10))
    commands = acd.handle(RingStarted("x", "a", 10))
    assert WakeAt(17) in commands
    assert offers(acd.handle(Tick(16))) == [("b", "guard")]
    acd.handle(RingStarted("x", "b", 16))
    assert offers(acd.handle(Tick(16.9))) == []
    assert offers(acd.handle(Tick(17))) == [("c", "all"), ("d", "all")]
    assert acd.violations(17) == []
    assert offers(acd.handle(AgentResumed("e", 17.5))) == [("e", "all")]  # freed while it escalates: rings too
    commands = acd.handle(AgentAnswered("x", "d", 18))
    assert sorted(c.agent_id for c in commands if isinstance(c, StopRinging)) == ["a", "b", "c", "e"]
    assert all(acd.agents[a].missed_in_row == 0 for a in "abce")
    assert acd.violations(18) == []


@pytest.mark.parametrize(
    "options, answered_before, expected",
    [
        ({"escalate_after": None}, None, []),  # off
        ({"escalate_after": 12}, None, []),  # past the ring window: off
        ({"sla_guard_after": None}, None, []),  # one phone at a time
        ({}, 16.5, []),  # answered in time: nothing to do
    ],
)
def test_escalation_is_off_or_not_needed(options, answered_before, expected):
    options = {"sla_guard_after": 6, "escalate_after": 7, **options}
    acd = core("a", "b", "c", "d", **options)
    acd.handle(CallWaiting("x", 10))
    acd.handle(RingStarted("x", "a", 10))
    acd.handle(Tick(16))
    if answered_before is not None:
        acd.handle(AgentAnswered("x", "a", answered_before))
    assert offers(acd.handle(Tick(17))) == expected


def test_escalation_rings_only_operators_with_the_skill_before_overflow():
    acd = Acd(ring_timeout=RING, sla_guard_after=6, escalate_after=7, overflow_after=30)
    for n, agent_id in enumerate(("n1", "n2", "n3")):
        acd.handle(AgentLoggedIn(agent_id, n, skills=frozenset({"medical"})))
    acd.handle(AgentLoggedIn("general", 3))
    acd.handle(AgentPaused("n2", 4, "break"))
    acd.handle(AgentPaused("n3", 4, "break"))
    acd.handle(CallWaiting("x", 10, skill="medical"))
    acd.handle(RingStarted("x", "n1", 10))
    assert offers(acd.handle(Tick(16))) == []  # the guard: general lacks the skill
    assert offers(acd.handle(AgentResumed("n2", 16.5))) == [("n2", "guard")]  # the guard is served first
    assert offers(acd.handle(Tick(17))) == []  # escalation: still not general
    assert offers(acd.handle(AgentResumed("n3", 17.5))) == [("n3", "all")]


def test_a_call_back_in_the_queue_stops_escalating():
    acd = core("a", "b", sla_guard_after=6, escalate_after=7)
    acd.handle(AgentPaused("b", 1, "break"))
    acd.handle(CallWaiting("x", 10))
    acd.handle(RingStarted("x", "a", 10))
    acd.handle(Tick(17))  # nobody else free
    assert offers(acd.handle(RingFailed("x", "a", 20))) == [("a", "first")]  # rung anew, one phone
    assert "x" not in acd._escalating
    assert offers(acd.handle(AgentResumed("b", 21))) == [("b", "guard")]  # past its guard point


# ---- ringing calls before the queue, unlikely operators as helpers ----------------------------------


def _x_rings_c_alone_and_z_waits(acd):
    """a and b on calls, x rings c alone from 10, z waits from 11."""
    for call, at, agent_id in (("y1", 5, "a"), ("y2", 6, "b")):
        acd.handle(CallWaiting(call, at))
        acd.handle(AgentAnswered(call, agent_id, at + 0.5))
    assert offers(acd.handle(CallWaiting("x", 10))) == [("c", "first")]
    acd.handle(RingStarted("x", "c", 10))
    assert offers(acd.handle(CallWaiting("z", 11))) == []


@pytest.mark.parametrize(
    "options, frees, expected",
    [
        ({}, [("a", 12)], [[("a", "first")]]),  # x before its guard point (14): the queue
        ({}, [("a", 14.5)], [[("a", "guard")]]),  # x past its guard point: its second phone before z
        ({}, [("a", 15.5)], [[("a", "guard")]]),  # past both points, one ring: the guard first
        ({}, [("a", 14.5), ("b", 15.5)], [[("a", "guard")], [("b", "all")]]),  # escalating: one more phone first
        ({}, [("a", 14.5), ("b", 14.8)], [[("a", "guard")], [("b", "first")]]),  # two rings, not escalating: z
        ({"escalate_after": None}, [("a", 14.5), ("b", 15.5)], [[("a", "guard")], [("b", "first")]]),
        ({"sla_guard_after": None}, [("a", 14.5)], [[("a", "first")]]),  # one phone at a time: the queue
    ],
)
def test_an_operator_who_frees_serves_the_ringing_call_before_the_queue(options, frees, expected):
    options = {"sla_guard_after": 4, "escalate_after": 5, **options}
    acd = core("a", "b", "c", **options)
    _x_rings_c_alone_and_z_waits(acd)
    timeline = sorted([(14.0, None), (15.0, None), *((at, agent_id) for agent_id, at in frees)])
    got = []
    for at, agent_id in timeline:
        if agent_id is None:
            assert offers(acd.handle(Tick(at))) == []  # nobody free at the points themselves
        else:
            got.append(offers(acd.handle(CallEnded("y1" if agent_id == "a" else "y2", at))))
        assert acd.violations(at) == []
    assert got == expected


@pytest.mark.parametrize(
    "history, options, guard_at",
    [
        ([], {}, 4.0),  # unknown: likely (the prior), guarded at sla_guard_after
        ([1, 1, MISS], {}, 0.1),  # 6 of 7 with the prior, below 0.9: guarded from ring start (b as it frees)
        ([MISS], {}, 0.1),  # 4 of 5
        ([MISS], {"guard_likelihood": 0}, 0.1),  # the adaptive guard off: unlikely still guarded at once
        ([1, 1, MISS], {"likely_threshold": 0.8}, 1.0),  # likely at 0.8: its own history's point
        ([MISS], {"likely_threshold": 0.8, "guard_likelihood": 0}, 4.0),  # likely at 0.8: the fixed point
        ([MISS], {"likely_threshold": 0, "guard_likelihood": 0}, 4.0),  # likelihood off
        ([MISS], {"sla_guard_after": None}, None),  # guard off: one phone at a time
    ],
)
def test_an_unlikely_operator_ringing_a_call_alone_is_guarded_from_ring_start(history, options, guard_at):
    """a alone is free when x arrives (b on a break): a rings, and b is a's guard once due and free."""
    options = {"sla_guard_after": 4, "likely_threshold": 0.9, **options}
    acd = core("a", "b", **options)
    at = teach(acd, "a", history, 10)
    start = idle_order(acd, "b", "a", at=at) + 100
    acd.handle(AgentPaused("b", start - 1, "break"))
    assert offers(acd.handle(CallWaiting("x", start))) == [("a", "first")]  # no likelier operator free
    acd.handle(RingStarted("x", "a", start))
    second = None
    for event in [AgentResumed("b", start + 0.1), *(Tick(start + k * 0.5) for k in range(1, 20))]:
        got = offers(acd.handle(event))
        assert acd.violations(event.at) == []
        if got:
            second = (round(event.at - start, 3), got)
            break
    assert second == (None if guard_at is None else (guard_at, [("b", "guard")]))


def test_an_unlikely_operator_rings_with_a_new_call_only_beside_a_likely_one():
    """Both free: the likely b is the call's first ring, the unlikely a only its pair."""
    acd = core("a", "b", "c", sla_guard_after=4, likely_threshold=0.9, pair_when_idle=True)
    at = teach(acd, "a", [MISS], 10)
    at = idle_order(acd, "a", "b", "c", at=at)
    assert offers(acd.handle(CallWaiting("x", at))) == [("b", "first"), ("c", "pair")]
    acd.handle(AgentPaused("c", at + 1, "break"))
    assert offers(acd.handle(CallWaiting("y", at + 2))) == [("a", "first")]  # nobody likelier free: a rings ...
    acd.handle(RingStarted("y", "a", at + 2))
    assert acd.calls["y"].call_id in acd._guard_due  # ... guarded from ring start


# ---- auto-resume -------------------------------------------------------------------------------------


def _missed_twice(acd):
    for n, t in enumerate((10, 30)):
        acd.handle(CallWaiting(f"m{n}", t))
        acd.handle(RingStarted(f"m{n}", "a", t))
        acd.handle(RingFailed(f"m{n}", "a", t + RING))
        acd.handle(CallEnded(f"m{n}", t + RING))
    return 40  # paused at 40


@pytest.mark.parametrize(
    "between, at_due",
    [
        ([], (AgentState.AVAILABLE, None)),
        ([AgentResumed("a", 60)], (AgentState.AVAILABLE, None)),  # resumed by hand: nothing to do
        ([AgentResumed("a", 60), AgentPaused("a", 70, "lunch")], (AgentState.PAUSED, "lunch")),
        ([AgentPaused("a", 60, "lunch")], (AgentState.PAUSED, "lunch")),  # now a break they chose
        ([AgentLoggedOut("a", 60)], (AgentState.LOGGED_OUT, None)),
    ],
)
def test_a_missed_calls_pause_is_ended_by_the_core_unless_something_else_happened(between, at_due):
    acd = core("a", max_missed=2, auto_resume_after=120)
    paused_at = _missed_twice(acd)
    agent = acd.agents["a"]
    assert (agent.state, agent.pause_reason, agent.resume_at) == (AgentState.PAUSED, MISSED_CALLS, paused_at + 120)
    assert acd.agent_figures(paused_at)["a"].resume_at == paused_at + 120
    for event in between:
        acd.handle(event)
    commands = acd.handle(Tick(paused_at + 120))
    assert (agent.state, agent.pause_reason) == at_due
    if at_due[0] == AgentState.AVAILABLE:
        assert agent.missed_in_row == 0
    auto = AgentStateChanged("a", AgentState.AVAILABLE, AUTO_RESUMED)
    assert (auto in commands) == (not between)
    assert agent.resume_at is None and acd.violations(paused_at + 120) == []


def test_auto_resume_is_asked_for_with_a_wake_and_the_operator_is_rung_again():
    acd = core("a", max_missed=2, auto_resume_after=120)
    acd.handle(CallWaiting("m0", 10))
    acd.handle(RingStarted("m0", "a", 10))
    acd.handle(RingFailed("m0", "a", 20))  # offered m0 again
    acd.handle(RingStarted("m0", "a", 20))
    commands = acd.handle(RingFailed("m0", "a", 30))  # second miss in a row: paused, m0 waits
    assert WakeAt(150) in commands
    assert offers(acd.handle(Tick(150))) == [("a", "first")]


def test_no_auto_resume_when_it_is_off():
    acd = core("a", max_missed=2)
    paused_at = _missed_twice(acd)
    acd.handle(Tick(paused_at + 1000))
    assert (acd.agents["a"].state, acd.agents["a"].resume_at) == (AgentState.PAUSED, None)


# ---- position and estimated wait ------------------------------------------------------------------


def test_position_follows_the_order_calls_are_offered():
    acd = core("a")
    acd.handle(CallWaiting("ringing", 1))  # offered to a
    for call, t, priority in [("x", 2, 0), ("y", 3, 0), ("urgent", 4, 5)]:
        acd.handle(CallWaiting(call, t, priority=priority))
    assert [acd.position(c) for c in ("urgent", "x", "y", "ringing", "nope")] == [1, 2, 3, None, None]


def _on_call(acd, agent_id, call_id, answered):
    """Put ``agent_id`` on a call answered at ``answered`` (the others paused meanwhile)."""
    others = [a for a, agent in acd.agents.items() if a != agent_id and agent.state == AgentState.AVAILABLE]
    for other in others:
        acd.handle(AgentPaused(other, answered, "tmp"))
    acd.handle(CallWaiting(call_id, answered))
    acd.handle(AgentAnswered(call_id, agent_id, answered))
    for other in others:
        acd.handle(AgentResumed(other, answered))


@pytest.mark.parametrize(
    "setup, now, waiting, expected",
    [
        # one operator on a call since 0, no history: talk 180 s assumed
        (lambda acd: _on_call(acd, "a", "c1", 0), 60, ["x"], {"x": 120}),
        (lambda acd: _on_call(acd, "a", "c1", 0), 60, ["x", "y"], {"x": 120, "y": 300}),
        # two on calls (since 0 and 100): frees at 180 and 280
        (lambda acd: (_on_call(acd, "a", "c1", 0), _on_call(acd, "b", "c2", 100)), 120, ["x", "y", "z"],
         {"x": 60, "y": 160, "z": 240}),
        # a call past its expected end frees the operator now
        (lambda acd: _on_call(acd, "a", "c1", 0), 500, ["x"], {"x": 0}),
    ],
)
def test_estimated_wait_from_the_operators_and_the_queue(setup, now, waiting, expected):
    acd = core("a", "b")
    acd.handle(AgentPaused("b", 0, "break"))
    acd.handle(AgentResumed("b", 0))
    setup(acd)
    if acd.agents["b"].state == AgentState.AVAILABLE:
        acd.handle(AgentLoggedOut("b", 0))
    for n, call in enumerate(waiting):
        acd.handle(CallWaiting(call, now - 1 + n * 0.01))
    assert {c: acd.estimated_wait(c, now) for c in waiting} == pytest.approx(expected)


def test_estimated_wait_learns_talk_time_and_counts_wrap_up():
    acd = core("a", wrap_up=30)
    for n, t in enumerate((0, 200)):  # two calls of 60 s: mean talk (180 + 120) / 3 = 100
        acd.handle(CallWaiting(f"h{n}", t))
        acd.handle(AgentAnswered(f"h{n}", "a", t))
        acd.handle(CallEnded(f"h{n}", t + 60))
        if n == 0:
            acd.handle(Tick(t + 90))  # wrap-up over
    assert acd.handle_time() == pytest.approx(100 + 30)
    acd.handle(CallWaiting("x", 265))  # a is in wrap-up until 290
    acd.handle(CallWaiting("y", 266))
    assert acd.estimated_wait("x", 270) == pytest.approx(20)
    assert acd.estimated_wait("y", 270) == pytest.approx(20 + 130)



@pytest.mark.parametrize("rings, told", [((0, 0, 0), 0.0), ((3, 3, 3), 3.0), ((1, 4, 4, 4), 4.0), ((2, MISS, 2), 2.0)])
def test_estimated_wait_runs_to_the_answer_not_to_the_ring(rings, told):
    """The caller is told when someone will speak: the typical ring before an answer is added
    (``_on_call`` answers at once: one more answer after 0 s, which leaves these medians as they are)."""
    acd = core("a")
    at = teach(acd, "a", rings, 0)
    _on_call(acd, "a", "c1", at)
    acd.handle(CallWaiting("x", at + 1))
    frees = at + acd.handle_time() - max(acd.wrap_up, 0.0)
    assert acd.estimated_wait("x", at + 10) == pytest.approx(frees - (at + 10) + told)

def test_estimated_wait_counts_a_missed_calls_pause_from_its_auto_resume():
    acd = core("a", "b", max_missed=1, auto_resume_after=120)
    acd.handle(CallWaiting("m", 10))
    acd.handle(RingStarted("m", "a", 10))
    acd.handle(RingFailed("m", "a", 20))  # a paused until 140, m rings b
    acd.handle(AgentAnswered("m", "b", 21))
    acd.handle(CallWaiting("x", 30))
    assert acd.estimated_wait("x", 40) == pytest.approx(100)  # a back at 140; b frees at 21 + 180 = 201


def test_estimated_wait_honours_the_skill_overflow():
    acd = Acd(ring_timeout=RING, overflow_after=30)
    acd.handle(AgentLoggedIn("nurse", 0, skills=frozenset({"medical"})))
    acd.handle(AgentLoggedIn("general", 1))
    acd.handle(AgentPaused("general", 1.5, "break"))
    acd.handle(CallWaiting("c1", 2))
    acd.handle(AgentAnswered("c1", "nurse", 2))  # the nurse frees at 182
    acd.handle(AgentResumed("general", 3))
    acd.handle(CallWaiting("x", 10, skill="medical"))  # general may take it from 40
    assert acd.estimated_wait("x", 20) == pytest.approx(20)


@pytest.mark.parametrize(
    "case",
    ["offered", "unknown", "nobody logged in", "all on a break", "link down", "nothing observed"],
)
def test_estimated_wait_is_none_when_not_meaningful(case):
    acd = core("a")
    call = "x"
    if case == "offered":
        acd.handle(CallWaiting("x", 1))  # rings a
    elif case == "unknown":
        call = "nope"
    elif case == "nobody logged in":
        acd.handle(AgentLoggedOut("a", 1))
        acd.handle(CallWaiting("x", 2))
    elif case == "all on a break":
        _on_call(acd, "a", "c1", 0)
        acd.handle(AgentPaused("a", 1, "lunch"))  # applies when the call ends
        acd.handle(CallEnded("c1", 2))
        acd.handle(CallWaiting("x", 3))
    elif case == "link down":
        _on_call(acd, "a", "c1", 0)
        acd.handle(LinkDown(1))
        acd.handle(CallWaiting("x", 2))
    elif case == "nothing observed":  # a is free but lacks the skill; no call has ended, nobody busy
        acd = Acd(ring_timeout=RING)
        acd.handle(AgentLoggedIn("general", 0))
        acd.handle(AgentLoggedIn("nurse", 0, skills=frozenset({"medical"})))
        acd.handle(AgentPaused("nurse", 0, "lunch"))
        acd.handle(CallWaiting("x", 1, skill="medical"))
    assert acd.estimated_wait(call, 5) is None
