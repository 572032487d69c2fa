"""The closed loop's figures for the reports: rows in, figures out; no I/O, no clock of its own.

Every figure is defined in docs/reports.md in the hospital's words; in short, for the local days
[start, end) of a report:

- a *call* is a ticket that arrived in the range; a *case* is such a ticket that is not a repeat
  call merged into another (``status`` merged) and was not closed as invalid (silent call, wrong
  number); a merged call counts under the category and department of the case it joined;
- *answered on the call*: a case whose call was answered and that was solved no later than
  ``ON_CALL_GRACE`` after the call ended (the wrap-up);
- *time limit*: a case with a deadline (``due_at``) is *on time* when solved before the end of the
  range and no later than its deadline, *late* when its deadline passed before the end of the
  range and it was not solved on time, and *pending* otherwise (not counted in the rate);
- *overdue at the end*: any case (of any date) not solved by the end of the range whose deadline
  or promised reply time had passed by then;
- *return visits* are the survey contacts of the range that reached the patient (a key pressed, or
  answered with no key); *satisfied* is a score of ``SATISFIED_MIN`` or more, *praise* a score of
  5, *criticism* a score of 1-2 or a visit about a complaint;
- *ledger*: items created before the end and not struck off by then are *open*; items struck off
  in the range are *struck off*;
- *problems*: the categories whose calls rose most against the previous period of the same length
  (``rising``), the knowledge-base entries looked up more often (the questions), the entries looked up
  most in the range (``looked_up_most``), repeat callers (two or more calls in the range, or a case
  with revisits), and the cases overdue at the end.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from callcenter.workorders.lifecycle import SATISFIED_MIN
from callcenter.workorders.rising import rising

ON_CALL_GRACE = dt.timedelta(minutes=5)  # the wrap-up after the call in which a solve still counts as on the call
NO_CATEGORY = ""  # a case nobody categorised
NO_DEPARTMENT = ""  # a case the hotline kept (never handed to a department)
ALL = "*"  # the all-departments key of the per-department tallies
TOP_RISING = 10
TOP_LOOKED_UP = 10
TOP_REPEAT = 20
TOP_OVERDUE = 50
SCORED = frozenset(str(k) for k in range(1, 6))
NO_KEY = "no_key"  # the patient answered the survey and pressed nothing


@dataclass(frozen=True)
class TicketRow:
    """One ticket with its work order (for a merged call: the category and department of its case)."""

    ticket_id: int
    arrived_at: dt.datetime
    caller_number: str = ""
    answered: bool = False
    ended_at: dt.datetime | None = None  # the call's end
    status: str = "new"
    category: str | None = None
    department: str | None = None  # the department's name
    solved_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None
    close_reason: str | None = None
    due_at: dt.datetime | None = None  # the time-limit deadline
    promised_reply_at: dt.datetime | None = None
    revisits: int = 0


@dataclass(frozen=True)
class SurveyRow:
    """One survey contact: its outcome is the key pressed ("1".."5"), ``no_key``, or a failed dial."""

    ticket_id: int
    at: dt.datetime
    outcome: str | None
    category: str | None = None
    department: str | None = None


@dataclass(frozen=True)
class LedgerRow:
    """One feedback-ledger item."""

    department: str | None
    status: str
    created_at: dt.datetime
    struck_off_at: dt.datetime | None = None


def is_case(row: TicketRow) -> bool:
    """A real request of its own: not a merged repeat call, not closed as invalid."""
    return row.status != "merged" and row.close_reason != "invalid"


def on_the_call(row: TicketRow, grace: dt.timedelta = ON_CALL_GRACE) -> bool:
    """Solved before the end of its (answered) call plus the wrap-up grace."""
    return (row.answered and row.ended_at is not None and row.solved_at is not None
            and row.solved_at <= row.ended_at + grace)


def time_limit(row: TicketRow, end: dt.datetime) -> str | None:
    """``on_time``, ``late`` or ``pending`` as known at ``end``; None for a case without a deadline."""
    if row.due_at is None:
        return None
    if row.solved_at is not None and row.solved_at < end and row.solved_at <= row.due_at:
        return "on_time"
    if row.due_at < end:
        return "late"
    return "pending"


def overdue_at(row: TicketRow, end: dt.datetime) -> dt.datetime | None:
    """The deadline an unsolved case had passed at ``end`` (the earliest), else None."""
    if not is_case(row) or (row.solved_at is not None and row.solved_at < end):
        return None
    if row.closed_at is not None and row.closed_at < end:
        return None
    passed = [d for d in (row.due_at, row.promised_reply_at) if d is not None and d < end]
    return min(passed) if passed else None


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _key(value: str | None, empty: str) -> str:
    return value or empty


def _count(calls: Iterable[TicketRow], end: dt.datetime, grace: dt.timedelta) -> Counter[str]:
    tally: Counter[str] = Counter()
    for row in calls:
        tally["calls"] += 1
        if not is_case(row):
            continue
        tally["cases"] += 1
        if row.answered:
            tally["answered"] += 1
            tally["on_call"] += on_the_call(row, grace)
        if (state := time_limit(row, end)) is not None:
            tally[state] += 1
    return tally


def _limit_row(head: dict[str, Any], tally: Counter[str]) -> dict[str, Any]:
    return {
        **head,
        "calls": tally["calls"], "cases": tally["cases"], "answered": tally["answered"], "on_call": tally["on_call"],
        "on_call_rate": _rate(tally["on_call"], tally["answered"]),
        "on_time": tally["on_time"], "late": tally["late"], "pending": tally["pending"],
        "on_time_rate": _rate(tally["on_time"], tally["on_time"] + tally["late"]),
    }


def by_category(calls: list[TicketRow], end: dt.datetime, grace: dt.timedelta = ON_CALL_GRACE) -> list[dict[str, Any]]:
    """Per category: calls, cases, answered on the call, and the time limit (on time, late, pending)."""
    groups: dict[str, list[TicketRow]] = defaultdict(list)
    for row in calls:
        groups[_key(row.category, NO_CATEGORY)].append(row)
    rows = [_limit_row({"category": name}, _count(group, end, grace)) for name, group in groups.items()]
    return sorted(rows, key=lambda r: (-r["calls"], r["category"]))


def by_department(calls: list[TicketRow], overdue: list[dict[str, Any]], surveys: list[SurveyRow],
                  ledger: list[LedgerRow], start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
    """Per department: cases, time limit, overdue at the end, return visits and the ledger."""
    names: set[str] = set()
    cases: dict[str, Counter[str]] = defaultdict(Counter)
    for row in calls:
        if is_case(row):
            name = _key(row.department, NO_DEPARTMENT)
            names.add(name)
            cases[name]["cases"] += 1
            if (state := time_limit(row, end)) is not None:
                cases[name][state] += 1
    late_now = Counter(item["department"] for item in overdue)
    visits = satisfaction(surveys)
    items = ledger_figures(ledger, start, end)
    names |= (set(late_now) | set(visits) | set(items)) - {ALL}
    out = []
    for name in sorted(names):
        tally = cases[name]
        out.append({
            "department": name,
            "cases": tally["cases"],
            "on_time": tally["on_time"], "late": tally["late"], "pending": tally["pending"],
            "on_time_rate": _rate(tally["on_time"], tally["on_time"] + tally["late"]),
            "overdue": late_now[name],
            **visits.get(name, _visit_figures(Counter())),
            **items.get(name, {"ledger_new": 0, "ledger_open": 0, "ledger_struck_off": 0}),
        })
    return out


def visit_score(outcome: str | None) -> int | None:
    """The key pressed, 1-5; None for a visit without a score."""
    return int(outcome) if outcome in SCORED else None


def satisfaction(surveys: Iterable[SurveyRow]) -> dict[str, dict[str, Any]]:
    """Per department (and ``ALL``): return visits reached, scored, satisfied, praise, criticism and their rates."""
    tallies: dict[str, Counter[str]] = defaultdict(Counter)
    for visit in surveys:
        score = visit_score(visit.outcome)
        if score is None and visit.outcome != NO_KEY:
            continue  # not reached: no answer, busy, failed
        for name in (_key(visit.department, NO_DEPARTMENT), ALL):
            tally = tallies[name]
            tally["reached"] += 1
            if score is not None:
                tally["scored"] += 1
                tally["satisfied"] += score >= SATISFIED_MIN
                tally["praise"] += score == 5
            tally["criticism"] += (score is not None and score <= 2) or visit.category == "complaint"
    return {name: _visit_figures(tally) for name, tally in tallies.items()}


def _visit_figures(tally: Counter[str]) -> dict[str, Any]:
    reached, scored = tally["reached"], tally["scored"]
    return {
        "visits_reached": reached, "visits_scored": scored, "satisfied": tally["satisfied"],
        "praise": tally["praise"], "criticism": tally["criticism"],
        "satisfaction_rate": _rate(tally["satisfied"], reached),
        "effective_satisfaction_rate": _rate(tally["satisfied"], scored),
        "praise_rate": _rate(tally["praise"], reached),
        "criticism_rate": _rate(tally["criticism"], reached),
    }


def ledger_figures(ledger: Iterable[LedgerRow], start: dt.datetime, end: dt.datetime) -> dict[str, dict[str, int]]:
    """Per department (and ``ALL``): items new in the range, open at its end, struck off in it."""
    tallies: dict[str, Counter[str]] = defaultdict(Counter)
    for item in ledger:
        if item.created_at >= end:
            continue
        struck = item.struck_off_at is not None and item.struck_off_at < end
        for name in (_key(item.department, NO_DEPARTMENT), ALL):
            tally = tallies[name]
            tally["ledger_new"] += item.created_at >= start
            tally["ledger_open"] += not struck
            tally["ledger_struck_off"] += struck and item.struck_off_at >= start
    return {name: {k: t[k] for k in ("ledger_new", "ledger_open", "ledger_struck_off")} for name, t in tallies.items()}


def overdue_list(rows: Iterable[TicketRow], end: dt.datetime) -> list[dict[str, Any]]:
    """The cases overdue at ``end``, the longest overdue first."""
    items = []
    for row in rows:
        deadline = overdue_at(row, end)
        if deadline is None:
            continue
        items.append({
            "ticket_id": row.ticket_id, "category": _key(row.category, NO_CATEGORY),
            "department": _key(row.department, NO_DEPARTMENT), "status": row.status,
            "deadline": deadline.isoformat(), "hours_over": round((end - deadline).total_seconds() / 3600, 1),
        })
    items.sort(key=lambda i: (-i["hours_over"], i["ticket_id"]))
    return items


def repeat_callers(calls: Iterable[TicketRow], top: int = TOP_REPEAT) -> list[dict[str, Any]]:
    """Callers with two or more calls in the range, or a case they called about again (revisits)."""
    seen: dict[str, list[TicketRow]] = defaultdict(list)
    for row in calls:
        if row.caller_number:
            seen[row.caller_number].append(row)
    out = []
    for number, rows in seen.items():
        calls_made = max(len(rows), 1 + max(r.revisits for r in rows))
        if calls_made < 2:
            continue
        out.append({
            "caller_number": number, "calls": calls_made,
            "tickets": sorted(r.ticket_id for r in rows),
            "categories": sorted({_key(r.category, NO_CATEGORY) for r in rows}),
        })
    out.sort(key=lambda r: (-r["calls"], r["caller_number"]))
    return out[:top]


def looked_up_most(views: Mapping[str, int], questions: Mapping[str, str],
                   top: int = TOP_LOOKED_UP) -> list[dict[str, Any]]:
    """The knowledge-base entries opened most from the desk in the range (lookups per entry id), most first."""
    ranked = sorted(((n, int(key)) for key, n in views.items() if n > 0), key=lambda pair: (-pair[0], pair[1]))
    return [{"entry_id": entry, "question": questions.get(str(entry), ""), "views": n} for n, entry in ranked[:top]]


def closed_loop(calls: list[TicketRow], before_counts: Mapping[str, int], open_rows: list[TicketRow],
                surveys: list[SurveyRow], ledger: list[LedgerRow], start: dt.datetime, end: dt.datetime,
                kb_views: Mapping[str, int] | None = None, kb_views_before: Mapping[str, int] | None = None,
                kb_questions: Mapping[str, str] | None = None, grace: dt.timedelta = ON_CALL_GRACE) -> dict[str, Any]:
    """Every closed-loop figure of the range [start, end).

    ``calls``: the tickets that arrived in the range; ``before_counts``: calls per category in the
    previous period of the same length; ``open_rows``: tickets of any date that may be overdue at
    ``end`` (the read may pass more, the figures decide); ``surveys``: the range's survey contacts;
    ``ledger``: every ledger item created before ``end``; ``kb_views``/``kb_views_before``:
    lookups per knowledge-base entry (its id) in the range and the period before, ``kb_questions``
    the questions of those entries.
    """
    categories = by_category(calls, end, grace)
    overdue = overdue_list({r.ticket_id: r for r in [*open_rows, *calls]}.values(), end)
    total = _limit_row({}, _count(calls, end, grace))
    now_counts = Counter(_key(r.category, NO_CATEGORY) for r in calls)
    visits = satisfaction(surveys).get(ALL, _visit_figures(Counter()))
    items = ledger_figures(ledger, start, end).get(ALL, {"ledger_new": 0, "ledger_open": 0, "ledger_struck_off": 0})
    return {
        "grace_minutes": grace.total_seconds() / 60,
        "totals": {**total, "overdue": len(overdue), **visits, **items},
        "by_category": categories,
        "by_department": by_department(calls, overdue, surveys, ledger, start, end),
        "problems": {
            "rising": [{"category": r.key, "now": r.now, "before": r.before, "change": r.change}
                       for r in rising(now_counts, before_counts, TOP_RISING)],
            "rising_questions": [
                {"entry_id": int(r.key), "question": (kb_questions or {}).get(r.key, ""), "now": r.now,
                 "before": r.before, "change": r.change}
                for r in rising(kb_views or {}, kb_views_before or {}, TOP_RISING)],
            "looked_up_most": looked_up_most(kb_views or {}, kb_questions or {}),
            "repeat_callers": repeat_callers(calls),
            "overdue": overdue[:TOP_OVERDUE],
        },
    }
