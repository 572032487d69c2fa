"""The invariant over a whole run: what the phones saw against what the controller recorded.

``check()`` is a pure function (no I/O, no clock).  It takes the phones' history
(``harness.traffic.History``), the tickets in the database, the controller's ACD states sampled
during the run, the faults injected, app_queue's queue_log lines and the controller's own
invariant reports, and says:

- **stranded callers**: a caller dropped (the call ended though neither phone hung up, and
  Asterisk was not restarting), or a caller on hold (answered by Asterisk, not yet talking to an operator nor
  in the fallback queue) who went longer than ``threshold`` (``ami_down_handoff`` plus two rings)
  without any operator phone ringing for them, while an operator who chose to take calls sat
  idle at the phone the whole time, or while AMI was cut;
- **stuck operators**: from ``recovery_window`` (15 s) after a fault ended until the next fault,
  an operator whose ACD state disagrees with the state they chose and with their phone for more
  than ``settle`` seconds: ``ringing`` while their phone is idle, ``paused`` (``missed_calls``)
  though they chose to take calls, ``available`` while they are talking on a call the controller
  placed, ``logged_out`` while registered...;
- **tickets missing**: a call Asterisk answered with no ticket, or with more than one;
- **tickets with the wrong outcome**: answered by someone else (or by nobody) than the phones say,
  completed/abandoned, ``hangup_by`` (caller, agent, or system when neither phone hung up), the
  end time (within ``end_tolerance``), a ticket never ended, a ticket for a call that never was;
- **two controllers ringing** (a pair, ``legs`` from Asterisk's AMI events): a moment when agent legs
  of both controllers were ringing (created, not yet answered nor hung up), or a leg the old leader
  created after the other took over (``takeovers``).

Times: the history is in ``time.monotonic()`` seconds; tickets and queue_log in Unix seconds,
turned into the history's clock with ``history.wall_offset``.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.queue_log import QueueLogEntry
from harness.traffic import CallRecord, History, Ring

STEP = 0.25  # s: the resolution of the stranded-caller scan
KILL_LOSES = 3.0  # s before a SIGKILL whose unwritten ends may come back as "observed"
KILLS = ("controller_kill", "leader_kill")
# Faults during which no controller sees every hang-up: the controller (or the leader) is dead, cut from
# AMI, or cut from its database and stopping while the other takes over.
BLIND = (*KILLS, "ami_cut", "leader_db_cut")
IDLE_BEFORE_COUNTED = 1.0  # s an operator phone must have been idle before an un-offered caller counts


@dataclass(frozen=True)
class TicketView:
    """The fields of one ticket the check needs, as plain values (Unix seconds)."""

    id: int
    uniqueid: str
    caller_number: str
    source: str
    call_status: str
    arrived_at: float
    answered_at: float | None
    ended_at: float | None
    agent_id: str | None
    hangup_by: str | None
    details: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, ticket: Any) -> TicketView:
        """From a ``callcenter.store.models.Ticket`` row."""

        def ts(value: dt.datetime | None) -> float | None:
            return None if value is None else value.timestamp()

        return cls(
            ticket.id, ticket.uniqueid, ticket.caller_number_raw or ticket.caller_number, ticket.source,
            ticket.call_status, ts(ticket.arrived_at) or 0.0, ts(ticket.answered_at), ts(ticket.ended_at),
            ticket.agent_id, ticket.hangup_by, dict(ticket.details or {}),
        )


@dataclass(frozen=True)
class Fault:
    """One fault injected: ``start`` and ``end`` in monotonic seconds (end: the cause is gone)."""

    kind: str  # ami_cut, asterisk_restart, controller_kill, db_lock; a pair: leader_kill, leader_db_cut
    start: float
    end: float
    note: str = ""
    in_flight: int = 0  # calls up when it began


@dataclass(frozen=True)
class Sample:
    """The controller's ACD agent states at one moment: agent -> (state, pause reason or None).

    ``agents`` is None when the controller did not answer (killed, not yet up).
    """

    at: float
    agents: Mapping[str, tuple[str, str | None]] | None


@dataclass
class LegSpan:
    """One agent leg a controller of a pair placed (uniqueid ``acd-<controller>-...``), from AMI events."""

    uniqueid: str
    controller: str
    created: float  # Newchannel (monotonic seconds)
    answered: float | None = None  # Newstate Up
    hung_up: float | None = None  # Hangup

    def ringing_until(self, end: float) -> float:
        """When it stopped ringing: answered or hung up (``end`` when neither was seen)."""
        return min((t for t in (self.answered, self.hung_up) if t is not None), default=end)


@dataclass
class Report:
    calls: int  # calls Asterisk answered (each owes a ticket)
    dialled: int
    faults: list[Fault]
    stranded: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    rings: list[str] = field(default_factory=list)  # two controllers ringing at once, or the old leader after a takeover
    notes: list[str] = field(default_factory=list)
    recovery: list[float] = field(default_factory=list)  # per fault: seconds until operators were right
    stats: dict[str, Any] = field(default_factory=dict)
    stranded_callers: int = 0
    stuck_operators: int = 0

    @property
    def ok(self) -> bool:
        return not (self.stranded or self.stuck or self.missing or self.wrong or self.violations or self.rings)

    @property
    def max_recovery_s(self) -> float:
        return round(max(self.recovery, default=0.0), 1)

    def summary(self) -> dict[str, Any]:
        """The figures, as bench/fault_soak.py prints them."""
        return {
            "calls": self.calls,
            "faults": len(self.faults),
            "stranded_callers": self.stranded_callers,
            "stuck_operators": self.stuck_operators,
            "tickets_missing": len(self.missing),
            "tickets_wrong_outcome": len(self.wrong),
            "max_recovery_s": self.max_recovery_s,
        }

    def describe(self, limit: int = 25) -> str:
        """What went wrong, for an assertion message."""
        lines = [json.dumps(self.summary()), json.dumps(self.stats)]
        for fault, recovery in zip(self.faults, self.recovery):
            lines.append(f"fault {fault.kind} ({fault.note}) for {fault.end - fault.start:.1f} s with {fault.in_flight} calls "
                         f"in flight: operators right {recovery:.1f} s after it ended")
        for title, items in (
            ("stranded callers", self.stranded), ("stuck operators", self.stuck), ("tickets missing", self.missing),
            ("tickets with the wrong outcome", self.wrong), ("controller invariant violations", self.violations),
            ("two controllers ringing", self.rings), ("notes", self.notes),
        ):
            if items:
                lines.append(f"{title} ({len(items)}):")
                lines += [f"  - {item}" for item in items[:limit]]
                if len(items) > limit:
                    lines.append(f"  ... and {len(items) - limit} more")
        return "\n".join(lines)


def check(
    history: History,
    tickets: Sequence[TicketView],
    samples: Sequence[Sample],
    faults: Sequence[Fault],
    queue_log: Iterable[QueueLogEntry] = (),
    *,
    threshold: float,
    end: float,
    recovery_window: float = 15.0,
    settle: float = 2.0,
    wrap_up: float = 0.0,
    end_tolerance: float = 3.0,
    warm_up: float = 10.0,
    violations: Iterable[tuple[float, Sequence[str]]] = (),
    pause_reasons: Mapping[str, str] | None = None,
    max_missed: int = 2,
    legs: Sequence[LegSpan] = (),
    takeovers: Sequence[tuple[str, float]] = (),
) -> Report:
    """Check a run that ended (traffic stopped, calls drained) at monotonic time ``end``.

    ``legs``: a pair's agent legs; ``takeovers``: (the old leader's name, when the other took over).
    """
    faults = sorted(faults, key=lambda f: f.start)
    queue = _QueueLog(list(queue_log), history.wall_offset)
    history, zombies = _clip_at_restarts(history, faults)
    dialled = [c for c in history.calls if c.dial_error is None]
    report = Report(calls=sum(1 for c in dialled if c.reached), dialled=len(dialled), faults=list(faults))
    _stranded(report, history, faults, queue, threshold, end)
    _stuck(report, history, samples, faults, queue, end, recovery_window, settle, wrap_up, warm_up,
           pause_reasons or {}, max_missed)
    _tickets(report, history, tickets, end_tolerance, queue, faults)
    _rings(report, history, legs, takeovers, end)
    if zombies:
        report.notes.append(f"{zombies} call(s) or ring(s) were still up on the phones after an Asterisk restart (no BYE "
                            "reached them): taken as cut when the restart began")
    seen: set[str] = set()
    for at, found in violations:
        for text in found:
            if text not in seen:
                seen.add(text)
                report.violations.append(f"t={at - history.started_at:.1f} s: {text}")
    report.stats = {
        "dialled": len(dialled),
        "answered_by_asterisk": report.calls,
        "talked_to_operator": sum(1 for c in dialled if c.bridged is not None),
        "fallback_queue": sum(1 for c in dialled if queue.entered(c) is not None),
        "max_in_flight": history.max_in_flight(),
        "skipped_no_free_phone": history.skipped,
        "stray_rings": len(history.stray_rings),
    }
    if legs:
        report.stats["agent_legs"] = {name: sum(1 for leg in legs if leg.controller == name)
                                      for name in sorted({leg.controller for leg in legs})}
    if history.stray_rings:
        report.notes += [f"{r.operator} rang for {r.caller} at t={r.rang_at - history.started_at:.1f} s with no live "
                         f"call of that caller" for r in history.stray_rings[:10]]
    return report


def _clip_at_restarts(history: History, faults: Sequence[Fault]) -> tuple[History, int]:
    """A copy of the history where calls and rings that a phone still had after an Asterisk restart
    end when the restart began: Asterisk carries no call across a restart, and a channel it did not
    hang up cleanly sends no BYE, so the phone goes on with a call that no longer exists."""
    restarts = [(f.start, f.end) for f in faults if f.kind == "asterisk_restart"]
    if not restarts:
        return history, 0
    history = copy.deepcopy(history)
    clipped = 0

    def cut(begun: float | None, closed: float | None) -> float | None:
        # Also a call Asterisk answered while it was already shutting down: it is killed with the
        # rest, and the phone hears nothing of it either.
        for start, stop in restarts:
            if begun is not None and begun < stop and (closed is None or closed > stop + 1.0):
                return max(start, begun)
        return None

    rings = [r for per in history.rings.values() for r in per]
    for ring in rings:
        at = cut(ring.rang_at, ring.closed_at)
        if at is not None:
            ring.closed_at, clipped = at, clipped + 1
            if ring.answered_at is not None and ring.answered_at > at:
                ring.answered_at = None
    for call in history.calls:
        at = cut(call.established_at or call.dialled_at, call.closed_at)
        if at is not None:
            call.closed_at, clipped = at, clipped + 1
    return history, clipped


# -- queue_log --------------------------------------------------------------------------------------


class _QueueLog:
    """Who entered the fallback queue when, and which member took which caller."""

    def __init__(self, entries: list[QueueLogEntry], offset: float) -> None:
        self.offset = offset
        self.enter: list[tuple[str, float, str]] = []  # (caller number, mono time, callid)
        self.connect: list[tuple[str, str, float]] = []  # (operator, caller number, mono time)
        callers: dict[str, str] = {}
        for e in entries:
            if e.event == "ENTERQUEUE":
                number = e.data[1] if len(e.data) > 1 else ""
                callers[e.callid] = number
                self.enter.append((number, e.time - offset, e.callid))
        for e in entries:
            if e.event == "CONNECT":
                operator = e.agent.split("/", 1)[-1]
                self.connect.append((operator, callers.get(e.callid, ""), e.time - offset))

    def entered(self, call: CallRecord) -> float | None:
        """When this call entered the fallback queue (queue_log has whole seconds: +-1 s)."""
        start, stop = call.dialled_at - 1.0, (call.closed_at if call.closed_at is not None else float("inf")) + 1.0
        times = [t for number, t, _ in self.enter if number == call.caller and start <= t <= stop]
        return max(min(times), call.established_at or call.dialled_at) if times else None

    def served(self, ring: Ring) -> bool:
        """This answered ring was app_queue's (CONNECT of that member to that caller)."""
        if ring.answered_at is None:
            return False
        return any(op == ring.operator and number == ring.caller and abs(t - ring.answered_at) <= 2.0
                   for op, number, t in self.connect)


# -- stranded callers -------------------------------------------------------------------------------


def _stranded(report: Report, history: History, faults: Sequence[Fault], queue: _QueueLog, threshold: float, end: float) -> None:
    cuts = [(f.start, f.end) for f in faults if f.kind == "ami_cut"]
    restarts = [(f.start, f.end) for f in faults if f.kind == "asterisk_restart"]
    for call in history.calls:
        if not call.reached:
            continue
        if call.hangup_by == "system" and call.closed_at is not None and not any(
            a <= call.closed_at <= b for a, b in restarts
        ):
            # Neither phone hung up and Asterisk was not restarting: the system dropped a caller.
            report.stranded_callers += 1
            report.stranded.append(f"call {call.n} from {call.caller}: dropped (neither phone hung up, Asterisk was "
                                   f"not restarting) [{trace(call, history, queue)}]")
            continue
        hold_start = call.established_at
        assert hold_start is not None
        stops = [call.closed_at if call.closed_at is not None else end]
        bridged = call.bridged
        if bridged is not None and bridged.answered_at is not None:
            stops.append(bridged.answered_at)
        entered = queue.entered(call)
        if entered is not None:
            stops.append(entered)
        hold_end = min(stops)
        neglect, worst, worst_at, t = 0.0, 0.0, hold_start, hold_start
        while t < hold_end:
            offered = any(r.rang_at <= t < (r.answered_at or r.closed_at or float("inf")) for r in call.rings)
            ami_down = any(a <= t <= b for a, b in cuts)
            if offered:
                neglect = 0.0
            elif ami_down or _idle_operator(history, t):
                neglect += STEP
                if neglect > worst:
                    worst, worst_at = neglect, t
            else:
                neglect = 0.0  # every operator busy: waiting is what a queue is for
            t += STEP
        if worst > threshold:
            report.stranded_callers += 1
            rel = lambda x: f"{x - history.started_at:.1f}"
            report.stranded.append(
                f"call {call.n} from {call.caller}: on hold from t={rel(hold_start)} s, {worst:.1f} s without an offer "
                f"(until t={rel(worst_at)} s) while an operator was free or AMI was cut; rings: "
                + (", ".join(f"{r.operator}@{rel(r.rang_at)}" for r in call.rings) or "none")
                + ("" if entered is None else f"; fallback queue at t={rel(entered)} s")
                + f" [{trace(call, history, queue)}]"
            )


def _idle_operator(history: History, t: float) -> bool:
    """Some operator who chose to take calls has had an idle phone for a moment at ``t``."""
    for op in history.operators:
        if history.chosen_at(op, t) != "available":
            continue
        since = history.idle_since(op, t)
        if since is not None and t - since >= IDLE_BEFORE_COUNTED:
            return True
    return False


# -- stuck operators --------------------------------------------------------------------------------


def _expected(
    history: History, queue: _QueueLog, op: str, t: float, wrap_up: float, max_missed: int = 2
) -> tuple[set[str], str]:
    """States the ACD may show for ``op`` at ``t``, and what the phone was doing.

    ``paused`` is explained when the operator's phone let its last ``max_missed`` rings ring out:
    the ACD pauses for missed calls (reason ``missed_calls``) and resumes them by itself later.
    """
    chosen = history.chosen_at(op, t)
    status, ring = history.phone_status(op, t)
    if chosen == "paused":
        return {"paused"}, f"chose paused, phone {status}"
    if chosen == "logged_out":
        return {"logged_out", "absent"}, f"chose logged out, phone {status}"
    if status == "ringing":
        return {"ringing", "available"}, f"phone ringing for {ring.caller if ring else '?'}"
    if status == "talking":
        assert ring is not None
        if queue.served(ring):
            return {"on_call", "available"}, f"talking to {ring.caller} (fallback queue call)"
        return {"on_call"}, f"talking to {ring.caller}"
    allowed = {"available"}
    closed = [r for r in history.rings.get(op, []) if r.closed_at is not None and r.closed_at <= t]
    if max_missed > 0 and len(closed) >= max_missed and all(r.answered_at is None for r in closed[-max_missed:]):
        allowed.add("paused")
    since = history.idle_since(op, t)
    if wrap_up > 0 and since is not None and t - since <= wrap_up + 1.0:
        allowed.add("wrap_up")
    return allowed, "phone idle"


def _stuck(
    report: Report, history: History, samples: Sequence[Sample], faults: Sequence[Fault], queue: _QueueLog,
    end: float, recovery_window: float, settle: float, wrap_up: float, warm_up: float, pause_reasons: Mapping[str, str],
    max_missed: int = 2,
) -> None:
    # Mismatch episodes per operator: consecutive samples where the ACD shows the same wrong state.
    episodes: list[tuple[str, float, float, str]] = []  # (operator, first, last, what)
    open_: dict[str, tuple[float, str, str]] = {}  # operator -> (first, what, state seen)
    last_at = samples[-1].at if samples else end
    for sample in samples:
        for op in history.operators:
            allowed, phone = _expected(history, queue, op, sample.at, wrap_up, max_missed)
            if sample.agents is None:
                seen, reason = "unreachable", None
            else:
                seen, reason = sample.agents.get(op, ("absent", None))
            wrong = seen not in allowed
            chosen_reason = pause_reasons.get(op)
            if not wrong and seen == "paused" and reason and chosen_reason and reason != chosen_reason:
                wrong = True
            if op in open_ and (not wrong or open_[op][2] != seen):
                first, what, _ = open_.pop(op)
                episodes.append((op, first, sample.at, what))
            if wrong and op not in open_:
                open_[op] = (sample.at, f"ACD {seen}{f' ({reason})' if reason else ''}, {phone}", seen)
    for op, (first, what, _) in open_.items():
        episodes.append((op, first, last_at, what))
    lasting = [e for e in episodes if e[2] - e[1] >= settle]

    windows: list[tuple[str, float, float, Fault | None]] = []
    first_fault = faults[0].start if faults else end
    windows.append(("before any fault", history.started_at + warm_up, first_fault, None))
    for i, fault in enumerate(faults):
        stop = faults[i + 1].start if i + 1 < len(faults) else end
        windows.append((f"after {fault.kind} #{i + 1}", fault.end + recovery_window, stop, fault))
    rel = lambda x: f"{x - history.started_at:.1f}"
    for label, start, stop, fault in windows:
        if stop <= start:
            continue
        inside = [e for e in lasting if min(e[2], stop) - max(e[1], start) >= settle]
        stuck_here = sorted({e[0] for e in inside})
        report.stuck_operators += len(stuck_here)
        for op in stuck_here:
            ep = next(e for e in inside if e[0] == op)
            report.stuck.append(f"{op} {label}: {ep[3]} from t={rel(ep[1])} to t={rel(ep[2])} s "
                                f"(checked from t={rel(start)} s)")
    for i, fault in enumerate(faults):
        # Until every lasting mismatch that began before the recovery deadline was over (a lower
        # bound when one was still on at the end: that operator is reported stuck as well).
        stop = faults[i + 1].start if i + 1 < len(faults) else end
        mine = [e for e in lasting if e[2] > fault.end and e[1] < min(stop, fault.end + recovery_window)]
        report.recovery.append(round(max([0.0, *(e[2] - fault.end for e in mine)]), 1))


# -- two controllers ringing -----------------------------------------------------------------------


def _rings(report: Report, history: History, legs: Sequence[LegSpan], takeovers: Sequence[tuple[str, float]],
           end: float) -> None:
    rel = lambda x: f"{x - history.started_at:.2f}"
    names = sorted({leg.controller for leg in legs})
    for i, one in enumerate(names):
        for other in names[i + 1:]:
            for p in (leg for leg in legs if leg.controller == one):
                for q in (leg for leg in legs if leg.controller == other):
                    start, stop = max(p.created, q.created), min(p.ringing_until(end), q.ringing_until(end))
                    if stop > start:
                        report.rings.append(f"{p.uniqueid} and {q.uniqueid} both ringing for {stop - start:.3f} s "
                                            f"from t={rel(start)} s")
    for old, moment in takeovers:
        for leg in legs:
            if leg.controller == old and leg.created > moment:
                report.rings.append(f"{leg.uniqueid} created at t={rel(leg.created)} s by {old}, "
                                    f"{leg.created - moment:.2f} s after the other controller took over")


# -- tickets ----------------------------------------------------------------------------------------


ANSWERED_STAGES = {"bridge", "talking", "connected", "bridged", "on_call", "answered"}
UNANSWERED_STAGES = {"arrival", "ivr", "menu", "queue", "waiting", "ringing"}


def _tickets(
    report: Report, history: History, tickets: Sequence[TicketView], end_tolerance: float, queue: _QueueLog,
    faults: Sequence[Fault],
) -> None:
    # While the controller is dead or cut from AMI it cannot see who hangs up: a ticket that says so
    # (hangup_by "system", end "observed") is not a lie about a call that ended then.  A SIGKILL also
    # loses what the process saw in its last moments but had not written yet.
    blind = [(f.start - (KILL_LOSES if f.kind in KILLS else 0.0), f.end + 2.0) for f in faults if f.kind in BLIND]
    wall = history.wall
    since = wall(history.started_at) - 0.5  # a ticket stamped before our first dial is not ours
    by_call: dict[int, list[TicketView]] = {}
    calls = [c for c in history.calls if c.dial_error is None]
    for ticket in tickets:
        if ticket.arrived_at < since or ticket.caller_number not in history.callers:
            continue  # another test's call, or a caller that is not ours
        call = _call_of(ticket, calls, wall)
        if call is None:
            report.wrong.append(f"ticket {ticket.id} ({ticket.uniqueid}) of {ticket.caller_number} arrived at "
                                f"t={ticket.arrived_at - wall(history.started_at):.1f} s: no such call was made")
            continue
        by_call.setdefault(call.n, []).append(ticket)
    for call in calls:
        mine = by_call.get(call.n, [])
        label = f"call {call.n} from {call.caller} (dialled t={call.dialled_at - history.started_at:.1f} s)"
        if len(mine) > 1:
            report.missing.append(f"{label}: {len(mine)} tickets {[t.uniqueid for t in mine]} [{trace(call, history, queue)}]")
            continue
        if not mine:
            if call.reached:
                report.missing.append(f"{label}: answered by Asterisk, no ticket [{trace(call, history, queue)}]")
            continue
        ticket = mine[0]
        unseen = call.closed_at is not None and any(a <= call.closed_at <= b for a, b in blind)
        problems = _outcome_problems(call, ticket, wall, end_tolerance, unseen)
        if unseen and ticket.hangup_by == "system" and call.hangup_by != "system" and not problems:
            report.notes.append(f"{label}: ended while the controller could not see it; hung up by {call.hangup_by}, "
                                "ticket says system (observed)")
        if problems:
            report.wrong.append(f"{label}, ticket {ticket.id} ({ticket.source}): " + "; ".join(problems)
                                + f" [{trace(call, history, queue)}]")


def trace(call: CallRecord, history: History, queue: _QueueLog | None = None) -> str:
    """One call's story in seconds from its dial: hold, rings, fallback queue, end."""
    t0 = call.dialled_at
    rel = lambda x: "-" if x is None else f"+{x - t0:.1f}"
    parts = [f"t={t0 - history.started_at:.1f} s", f"answered by Asterisk {rel(call.established_at)}"]
    for r in call.rings:
        parts.append(f"{r.operator} rang {rel(r.rang_at)}" + (f" answered {rel(r.answered_at)}" if r.answered_at else "")
                     + f" closed {rel(r.closed_at)}" + (" (bridged)" if r is call.bridged else ""))
    entered = queue.entered(call) if queue is not None else None
    if entered is not None:
        parts.append(f"fallback queue {rel(entered)}")
    if call.hangups:
        parts.append("hang-up sent by " + ", ".join(f"{who} {rel(at)}" for who, at in call.hangups))
    parts.append(f"closed {rel(call.closed_at)} by {call.hangup_by}")
    return ", ".join(parts)


def _call_of(ticket: TicketView, calls: Sequence[CallRecord], wall: Any) -> CallRecord | None:
    """The call of that caller that was up when the ticket's call arrived (queue_log: whole seconds)."""
    candidates = [
        c for c in calls
        if c.caller == ticket.caller_number
        and wall(c.dialled_at) - 1.5 <= ticket.arrived_at <= wall(c.closed_at if c.closed_at is not None else float("inf")) + 1.5
    ]
    if not candidates:
        return None
    return min(candidates, key=lambda c: abs(wall(c.dialled_at) - ticket.arrived_at))


def _outcome_problems(call: CallRecord, ticket: TicketView, wall: Any, end_tolerance: float, unseen: bool = False) -> list[str]:
    problems: list[str] = []
    bridged = call.bridged
    truth_agent = bridged.operator if bridged is not None else None
    if not call.reached:
        if ticket.answered_at is not None:
            problems.append(f"never answered by Asterisk, ticket says answered by {ticket.agent_id}")
        return problems
    if ticket.ended_at is None:
        problems.append(f"never ended (status {ticket.call_status}, phones: "
                        f"{'talked to ' + truth_agent if truth_agent else 'nobody answered'}, ended by {call.hangup_by})")
        return problems
    if truth_agent is not None:
        if ticket.answered_at is None or ticket.agent_id != truth_agent:
            problems.append(f"answered by {truth_agent}, ticket says {ticket.agent_id if ticket.answered_at else 'unanswered'}"
                            f" ({ticket.call_status})")
        elif ticket.call_status != "completed":
            problems.append(f"answered, ticket status {ticket.call_status}")
    elif call.unclear is not None and ticket.agent_id == call.unclear.operator and ticket.call_status == "completed":
        pass  # answered a moment before the call was cut: bridged or not, the phones cannot tell
    elif ticket.answered_at is not None or ticket.call_status != "abandoned":
        problems.append(f"nobody answered, ticket says {ticket.call_status} by {ticket.agent_id}")
    truth_end = call.hangup_by
    end_details = ticket.details.get("end") if isinstance(ticket.details.get("end"), dict) else {}
    observed = bool(end_details and end_details.get("observed"))
    if ticket.hangup_by != truth_end and not (unseen and observed and ticket.hangup_by == "system"):
        problems.append(f"hung up by {truth_end}, ticket says {ticket.hangup_by}"
                        + (f" (end {dict(end_details)})" if end_details else ""))
    if call.closed_at is not None and abs(ticket.ended_at - wall(call.closed_at)) > end_tolerance:
        problems.append(f"ended {ticket.ended_at - wall(call.closed_at):+.1f} s from the real end")
    stage = end_details.get("stage") if end_details else None
    if (stage in ANSWERED_STAGES | UNANSWERED_STAGES and (stage in ANSWERED_STAGES) != (truth_agent is not None)
            and call.unclear is None):
        problems.append(f"ended at stage {stage!r}, phones: {'talking' if truth_agent else 'not answered'}")
    return problems


__all__ = ["Fault", "LegSpan", "Report", "Sample", "TicketView", "check", "trace"]
