"""Time limits by kind of ticket and the overdue ladder (pure: no I/O, no clock of its own).

Theory of operation
-------------------
Each category of ticket (``lifecycle.CATEGORIES``) has a time limit, from ``[workorders.time_limits]``
(defaults in ``callcenter.settings.WorkOrderSettings``):

- ``on_call``: a consultation, answered on the call: due when the call ends plus a short wrap-up
  grace (``workorders.on_call_grace_minutes``);
- ``same_day``: by the end of the working day it was opened on (after hours or on a day off: the
  end of the next working day);
- ``"N working hours"`` / ``"N working days"``: N hours of working time after it was opened, or the
  end of the N-th working day after the day it was opened (``callcenter/workcalendar.py``).

``escalation`` is the limit of a department's finding once the ticket is escalated, counted from
the escalation; an escalated ticket is due at the later of its category's deadline and that one
(escalating never shortens the time a ticket has).  A ticket without a category, or of a category
not in the table, has no time limit.

The ladder: an unsolved ticket past its deadline climbs one level at a time, each told once:
1 the operator (past the deadline), 2 the supervisor (past it by ``supervisor_after`` working
hours), 3 the department's head (past it by ``head_after`` working hours; only a ticket with a
department, the others stay at 2).  Lateness is working time, so a ticket does not climb over a
weekend or a holiday.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from callcenter.workcalendar import WorkingCalendar, require_aware

ESCALATION = "escalation"  # not a category: the department's finding once escalated
ON_CALL, SAME_DAY, HOURS, DAYS = "on_call", "same_day", "working_hours", "working_days"
TOLD = {1: "operator", 2: "supervisor", 3: "department_head"}  # who a ladder level tells
_AMOUNT = re.compile(r"(\d{1,3}) working[ _-]?(hour|day)s?")
EXAMPLES = 'on_call, same_day, "4 working hours" or "2 working days"'


class LimitError(ValueError):
    """A time limit, or a table of them, that cannot be read; the message quotes the text."""


@dataclass(frozen=True)
class Limit:
    """One time limit: ``kind`` (on_call, same_day, working_hours, working_days) and its amount."""

    kind: str
    amount: int = 0

    def __str__(self) -> str:
        if self.kind in (ON_CALL, SAME_DAY):
            return self.kind
        unit = "hour" if self.kind == HOURS else "day"
        return f"{self.amount} working {unit}{'' if self.amount == 1 else 's'}"


@dataclass(frozen=True)
class Ladder:
    """When an overdue ticket climbs: working hours past its deadline for the supervisor and the head."""

    supervisor_after: float = 4.0
    head_after: float = 8.0

    def __post_init__(self) -> None:
        if not 0 <= self.supervisor_after <= self.head_after:
            raise LimitError(f"ladder: 0 <= supervisor_after ({self.supervisor_after}) <= head_after "
                             f"({self.head_after}) is required")


def parse_limit(text: object) -> Limit:
    """A limit from its text (``"on_call"``, ``"same_day"``, ``"N working hours"``, ``"N working days"``)."""
    words = " ".join(text.lower().split()) if isinstance(text, str) else ""
    if re.sub(r"[\s-]", "_", words) in (ON_CALL, SAME_DAY):
        return Limit(re.sub(r"[\s-]", "_", words))
    match = _AMOUNT.fullmatch(words)
    if match is None or int(match[1]) < 1:
        raise LimitError(f"{text!r} is not a time limit: use {EXAMPLES}")
    return Limit(HOURS if match[2] == "hour" else DAYS, int(match[1]))


def parse_table(raw: Mapping[str, object], categories: Collection[str] | None = None) -> dict[str, Limit]:
    """Category -> Limit; a bad limit, or a category not in ``categories`` (when given: the settings check
    only the limits, the work-order service the names too), raises ``LimitError`` naming the category."""
    table = {}
    for category, text in raw.items():
        if categories is not None and category not in categories and category != ESCALATION:
            raise LimitError(f"{category}: not a category; categories: {', '.join([*categories, ESCALATION])}")
        try:
            table[category] = parse_limit(text)
        except LimitError as err:
            raise LimitError(f"{category}: {err}") from None
    if ESCALATION in table and table[ESCALATION].kind == ON_CALL:
        raise LimitError(f"{ESCALATION}: a department's finding cannot be due on the call; use {EXAMPLES}")
    return table


def deadline(limit: Limit, start: dt.datetime | None, calendar: WorkingCalendar,
             grace: dt.timedelta = dt.timedelta(0)) -> dt.datetime | None:
    """When ``limit`` counted from ``start`` runs out (aware UTC); None without a start."""
    if start is None:
        return None
    if limit.kind == ON_CALL:
        end = start + grace
    elif limit.kind == SAME_DAY:
        end = calendar.end_of_working_day(start)
    elif limit.kind == HOURS:
        end = calendar.add_working_hours(start, limit.amount)
    else:
        end = calendar.add_working_days(start, limit.amount)
    return end.astimezone(dt.UTC)


def due_at(
    category: str | None,
    opened_at: dt.datetime,
    call_ended_at: dt.datetime | None,
    escalated_at: dt.datetime | None,
    calendar: WorkingCalendar,
    table: Mapping[str, Limit],
    grace: dt.timedelta = dt.timedelta(minutes=15),
) -> dt.datetime | None:
    """A ticket's time-limit deadline (aware UTC), or None when it has none (yet).

    An ``on_call`` ticket is due ``grace`` after its call ended (None while the call goes on).
    """
    limit = table.get(category) if category else None
    due = None
    if limit is not None:
        due = deadline(limit, call_ended_at if limit.kind == ON_CALL else opened_at, calendar, grace)
    if escalated_at is not None and ESCALATION in table:
        found = deadline(table[ESCALATION], escalated_at, calendar)
        due = found if due is None else max(due, found)  # type: ignore[type-var]
    return due


def ladder_level(deadline: dt.datetime | None, now: dt.datetime, calendar: WorkingCalendar, steps: Ladder,
                 *, has_department: bool = True) -> int:
    """0 on time, 1 the operator, 2 the supervisor, 3 the department's head (see the module's doc)."""
    require_aware(now)
    if deadline is None or now <= deadline:
        return 0
    late = calendar.working_time_between(deadline, now)
    if has_department and late >= dt.timedelta(hours=steps.head_after):
        return 3
    if late >= dt.timedelta(hours=steps.supervisor_after):
        return 2
    return 1
