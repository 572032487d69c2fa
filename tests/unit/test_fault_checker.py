"""The fault-injection checker (tests/harness/checker.py) on hand-made histories: it must flag what it claims to."""

from __future__ import annotations

from harness.checker import Fault, LegSpan, Sample, TicketView, check
from harness.queue_log import QueueLogEntry
from harness.traffic import CallRecord, History, Ring

OFFSET = 1_000_000.0  # wall = monotonic + OFFSET


def history() -> History:
    h = History(started_at=0.0, wall_offset=OFFSET, operators=("1001", "1002"), callers=("2001", "2002"))
    h.rings = {"1001": [], "1002": []}
    return h


def answered_call(h: History, n: int, caller: str, op: str, at: float, ends: str = "caller", talk: float = 6.5) -> CallRecord:
    """Dialled at ``at``, on hold 0.5 s later, rung at ``op`` after 1 s, answered 1 s later, ``talk`` s of talk."""
    closed = at + 2.0 + talk
    call = CallRecord(n, caller, at, established_at=at + 0.5, closed_at=closed)
    ring = Ring(op, f"c{n}", caller, at + 1.0, answered_at=at + 2.0, closed_at=closed, call=n)
    call.rings.append(ring)
    call.hangups.append((ends, closed - 0.01))
    h.calls.append(call)
    h.rings[op].append(ring)
    return call


def ticket_of(call: CallRecord, **changes: object) -> TicketView:
    bridged = call.bridged
    values: dict[str, object] = {
        "id": call.n + 1, "uniqueid": f"u{call.n}", "caller_number": call.caller, "source": "controller",
        "call_status": "completed" if bridged else "abandoned", "arrived_at": call.dialled_at + 0.2 + OFFSET,
        "answered_at": bridged.answered_at + OFFSET if bridged and bridged.answered_at else None,
        "ended_at": call.closed_at + OFFSET if call.closed_at else None,
        "agent_id": bridged.operator if bridged else None, "hangup_by": call.hangup_by, "details": {},
    }
    values.update(changes)
    return TicketView(**values)  # type: ignore[arg-type]


def samples(h: History, until: float, override=None) -> list[Sample]:
    """What a correct controller shows, every 0.25 s; ``override(t, op)`` may replace a state."""
    out = []
    t = 0.0
    while t <= until:
        states = {}
        for op in h.operators:
            status, _ = h.phone_status(op, t)
            state = {"idle": "available", "ringing": "ringing", "talking": "on_call"}[status]
            states[op] = ((override(t, op) if override else None) or state, None)
        out.append(Sample(t, states))
        t += 0.25
    return out


def run(h, tickets, smp, faults=(), queue_log=(), end=40.0):
    return check(h, tickets, smp, faults, queue_log, threshold=7.0, end=end)


def test_a_clean_history_passes():
    h = history()
    a = answered_call(h, 0, "2001", "1001", 1.0)
    b = answered_call(h, 1, "2002", "1002", 12.0, ends="agent")
    report = run(h, [ticket_of(a), ticket_of(b)], samples(h, 40.0), [Fault("db_lock", 5.0, 15.0)])
    assert report.ok, report.describe()
    assert report.summary() == {"calls": 2, "faults": 1, "stranded_callers": 0, "stuck_operators": 0,
                                "tickets_missing": 0, "tickets_wrong_outcome": 0, "max_recovery_s": 0.0}


def test_a_caller_left_on_hold_while_an_operator_is_idle_is_stranded():
    h = history()
    call = CallRecord(0, "2001", 1.0, established_at=1.5, closed_at=20.0, hangups=[("caller", 19.99)])
    h.calls.append(call)
    report = run(h, [ticket_of(call)], samples(h, 40.0))
    assert report.stranded_callers == 1 and "call 0 from 2001" in report.stranded[0]


def test_waiting_while_every_operator_talks_is_not_stranded_but_an_ami_cut_is():
    h = history()
    answered_call(h, 0, "2001", "1001", 0.0, talk=28.0)
    answered_call(h, 1, "2002", "1002", 0.2, talk=28.0)
    waiting = CallRecord(2, "2001", 1.0, established_at=1.5, closed_at=20.0, hangups=[("caller", 19.99)])
    h.callers = ("2001", "2002", "2003")
    waiting.caller = "2003"
    h.calls.append(waiting)
    assert run(h, [], samples(h, 40.0)).stranded_callers == 0
    cut = run(h, [], samples(h, 40.0), [Fault("ami_cut", 2.0, 12.0)])
    assert cut.stranded_callers == 1
    handed_off = [QueueLogEntry(int(OFFSET + 6.0), "u2", "hotline-fallback", "NONE", "ENTERQUEUE", ("", "2003", "1"))]
    assert run(h, [], samples(h, 40.0), [Fault("ami_cut", 2.0, 12.0)], handed_off).stranded_callers == 0


def test_an_operator_shown_ringing_with_an_idle_phone_after_the_recovery_window_is_stuck():
    h = history()
    a = answered_call(h, 0, "2001", "1001", 1.0)
    stuck = samples(h, 40.0, lambda t, op: "ringing" if op == "1002" and t >= 10.0 else None)
    report = run(h, [ticket_of(a)], stuck, [Fault("ami_cut", 2.0, 12.0)])
    assert report.stuck_operators == 1 and report.stuck[0].startswith("1002 after ami_cut #1: ACD ringing")
    assert report.max_recovery_s >= 15.0
    brief = samples(h, 40.0, lambda t, op: "ringing" if op == "1002" and 12.0 <= t < 20.0 else None)
    report = run(h, [ticket_of(a)], brief, [Fault("ami_cut", 2.0, 12.0)])
    assert report.stuck_operators == 0 and report.max_recovery_s == 8.0


def test_available_while_talking_on_a_controller_call_is_stuck_unless_app_queue_placed_it():
    h = history()
    a = answered_call(h, 0, "2001", "1001", 20.0)
    wrong = samples(h, 40.0, lambda t, op: "available" if op == "1001" else None)
    assert run(h, [ticket_of(a)], wrong, [Fault("controller_kill", 1.0, 2.0)]).stuck_operators == 1
    log = [
        QueueLogEntry(int(OFFSET + 20.5), "u0", "hotline-fallback", "NONE", "ENTERQUEUE", ("", "2001", "1")),
        QueueLogEntry(int(OFFSET + 22.0), "u0", "hotline-fallback", "PJSIP/1001", "CONNECT", ("1", "x", "1")),
    ]
    assert run(h, [ticket_of(a)], wrong, [Fault("controller_kill", 1.0, 2.0)], log).stuck_operators == 0


def test_missing_duplicate_and_phantom_tickets():
    h = history()
    a = answered_call(h, 0, "2001", "1001", 1.0)
    b = answered_call(h, 1, "2002", "1002", 12.0)
    report = run(h, [ticket_of(b), ticket_of(b, id=9, uniqueid="u9")], samples(h, 40.0))
    assert len(report.missing) == 2
    assert "call 0 from 2001" in report.missing[0] + report.missing[1] and "2 tickets" in "".join(report.missing)
    phantom = ticket_of(a, arrived_at=OFFSET + 35.0, ended_at=OFFSET + 36.0)
    report = run(h, [ticket_of(a), ticket_of(b), phantom], samples(h, 40.0))
    assert len(report.wrong) == 1 and "no such call was made" in report.wrong[0]


def test_a_caller_dropped_outside_an_asterisk_restart_counts_as_stranded():
    h = history()
    dropped = CallRecord(0, "2001", 1.0, established_at=1.5, closed_at=5.0)  # neither phone hung up
    h.calls.append(dropped)
    assert run(h, [ticket_of(dropped)], samples(h, 40.0), [Fault("controller_kill", 4.0, 9.0)]).stranded_callers == 1
    assert run(h, [ticket_of(dropped)], samples(h, 40.0), [Fault("asterisk_restart", 4.0, 9.0)]).ok


def test_wrong_outcomes_who_answered_who_hung_up_when_it_ended():
    h = history()
    a = answered_call(h, 0, "2001", "1001", 1.0)
    cut = CallRecord(1, "2002", 12.0, established_at=12.5, closed_at=20.0)  # neither phone hung up: Asterisk restarted
    ring = Ring("1002", "c1", "2002", 13.0, answered_at=14.0, closed_at=20.0, call=1)
    cut.rings.append(ring)
    h.calls.append(cut)
    h.rings["1002"].append(ring)
    assert cut.hangup_by == "system"
    tickets = [ticket_of(a, agent_id="1002"), ticket_of(cut, hangup_by="caller", ended_at=OFFSET + 30.0)]
    restart = [Fault("asterisk_restart", 19.5, 24.0)]
    report = run(h, tickets, samples(h, 40.0), restart)
    assert len(report.wrong) == 2 and report.stranded_callers == 0
    assert "answered by 1001, ticket says 1002" in report.wrong[0]
    assert "hung up by system, ticket says caller" in report.wrong[1] and "+10.0 s from the real end" in report.wrong[1]
    never = run(h, [ticket_of(a), ticket_of(cut, ended_at=None)], samples(h, 40.0), restart)
    assert "never ended" in never.wrong[0]


def test_a_call_that_ended_while_the_controller_was_dead_may_say_system_if_it_says_observed():
    h = history()
    a = answered_call(h, 0, "2001", "1001", 1.0)  # ends at 9.5, by the caller
    kill = [Fault("controller_kill", 5.0, 11.0)]
    observed = ticket_of(a, hangup_by="system", details={"end": {"observed": "after_restart"}})
    report = run(h, [observed], samples(h, 40.0), kill)
    assert report.ok and "ticket says system (observed)" in report.notes[0]
    assert not run(h, [ticket_of(a, hangup_by="system")], samples(h, 40.0), kill).ok  # claims to have seen it
    assert not run(h, [observed], samples(h, 40.0)).ok  # the controller was watching


def test_a_leg_hung_up_the_moment_it_was_answered_did_not_reach_the_caller():
    h = history()
    call = CallRecord(0, "2001", 1.0, established_at=1.5, closed_at=3.1)
    leg = Ring("1001", "c0", "2001", 2.0, answered_at=3.0, closed_at=3.1, call=0)
    call.rings.append(leg)
    h.calls.append(call)
    h.rings["1001"].append(leg)
    assert call.bridged is None and call.hangup_by == "system" and call.unclear is leg
    restart = [Fault("asterisk_restart", 3.0, 8.0)]
    either = [ticket_of(call), ticket_of(call, agent_id="1001", answered_at=OFFSET + 3.0, call_status="completed")]
    for ticket in either:  # bridged or not, the phones cannot tell: both answers are accepted
        assert run(h, [ticket], samples(h, 40.0), restart).ok
    assert not run(h, [ticket_of(call, agent_id="1002", answered_at=OFFSET + 3.0, call_status="completed")],
                   samples(h, 40.0), restart).ok


def test_an_answered_leg_that_never_reached_the_caller_is_not_who_answered():
    h = history()
    call = CallRecord(0, "2001", 1.0, established_at=1.5, closed_at=9.0, hangups=[("agent", 4.0), ("caller", 8.99)])
    late = Ring("1001", "c0", "2001", 2.0, answered_at=3.0, closed_at=4.0, call=0)  # hung up, caller still on hold
    call.rings.append(late)
    h.calls.append(call)
    h.rings["1001"].append(late)
    assert call.bridged is None and call.hangup_by == "caller"
    report = run(h, [ticket_of(call, agent_id="1001", answered_at=OFFSET + 3.0, call_status="completed")], samples(h, 40.0))
    assert "nobody answered" in report.wrong[0]


def test_a_wrong_state_at_the_edge_of_the_next_fault_is_not_stuck():
    h = history()
    a = answered_call(h, 0, "2001", "1001", 1.0)
    faults = [Fault("db_lock", 2.0, 4.0), Fault("controller_kill", 30.0, 36.0)]

    def edge(t: float, op: str) -> str | None:  # offered just before the kill, then the controller is gone
        return "ringing" if op == "1002" and 29.9 <= t < 30.0 else None

    smp = [s if not 30.0 <= s.at < 36.0 else Sample(s.at, None) for s in samples(h, 40.0, edge)]
    report = run(h, [ticket_of(a)], smp, faults)
    assert report.stuck_operators == 0, report.describe()


def test_a_call_still_up_on_the_phones_after_an_asterisk_restart_ended_when_it_began():
    h = history()
    zombie = CallRecord(0, "2001", 1.0, established_at=1.5, closed_at=41.5, hangups=[("caller", 41.49)])
    h.calls.append(zombie)  # no BYE reached the phone: it hung up by itself at the end of its patience
    restart = [Fault("asterisk_restart", 3.0, 20.0)]
    cut = ticket_of(zombie, hangup_by="system", ended_at=OFFSET + 4.0, call_status="abandoned")
    report = run(h, [cut], samples(h, 50.0), restart, end=50.0)
    assert report.ok, report.describe()
    assert zombie.closed_at == 41.5  # the history itself is left as the phones saw it
    assert not run(h, [ticket_of(zombie)], samples(h, 50.0), restart, end=50.0).ok  # "caller" at 41.5 is not what happened


def test_paused_for_missed_calls_is_explained_only_after_the_phone_let_its_rings_ring_out():
    h = history()
    a = answered_call(h, 0, "2001", "1001", 1.0)
    for n, at in enumerate((20.0, 23.0)):  # 1002 lets two rings ring out
        h.rings["1002"].append(Ring("1002", f"m{n}", "2002", at, closed_at=at + 2.0))
    paused = samples(h, 40.0, lambda t, op: "paused" if op == "1002" and t >= 25.0 else None)
    assert run(h, [ticket_of(a)], paused, [Fault("db_lock", 2.0, 5.0)]).stuck_operators == 0
    early = samples(h, 40.0, lambda t, op: "paused" if op == "1002" and t >= 22.5 else None)  # after one miss only
    report = run(h, [ticket_of(a)], early, [Fault("db_lock", 2.0, 5.0)])
    assert report.stuck_operators == 1 and report.stuck[0].startswith("1002 after db_lock #1: ACD paused")


def test_two_controllers_ringing_at_once_or_the_old_leader_ringing_after_a_takeover_is_flagged():
    h = history()
    a = answered_call(h, 0, "2001", "1001", 1.0)
    tickets, smp = [ticket_of(a)], samples(h, 40.0)

    def legs(*spans: tuple[str, float, float | None, float | None]) -> list[LegSpan]:
        return [LegSpan(f"acd-{who}-{n}", who, created, answered, hung_up)
                for n, (who, created, answered, hung_up) in enumerate(spans)]

    # a rang until 3.0 (answered), b's first leg after it, and b's next one ringing on to the end: fine.
    clean = legs(("a", 2.0, 3.0, 9.0), ("a", 4.0, None, 5.0), ("b", 5.0, None, 6.0), ("b", 7.0, None, None))
    report = check(h, tickets, smp, [], threshold=7.0, end=40.0, legs=clean, takeovers=[("a", 4.5)])
    assert report.ok and report.stats["agent_legs"] == {"a": 2, "b": 2}, report.describe()

    overlap = legs(("a", 2.0, None, 5.2), ("b", 5.0, 6.0, 8.0))  # a's ring was not hung up before b's began
    report = check(h, tickets, smp, [], threshold=7.0, end=40.0, legs=overlap)
    assert not report.ok and len(report.rings) == 1 and "both ringing for 0.200 s" in report.rings[0]

    unanswered = legs(("a", 2.0, None, None), ("b", 30.0, None, 31.0))  # never answered nor hung up: rings to the end
    assert len(check(h, tickets, smp, [], threshold=7.0, end=40.0, legs=unanswered).rings) == 1

    late = legs(("b", 5.0, None, 6.0), ("a", 6.5, None, 7.0))  # the old leader rang after b took over at 4.5
    report = check(h, tickets, smp, [], threshold=7.0, end=40.0, legs=late, takeovers=[("a", 4.5)])
    assert report.rings == ["acd-a-1 created at t=6.50 s by a, 2.00 s after the other controller took over"]
