"""Scheduled outbound lists: which tasks to dial now, and when to try again (pure, no I/O).

Theory of operation
-------------------
A list task (a day-7 follow-up of a discharged patient, a reminder the day before an appointment)
may be dialled when all of these hold:

- it is pending, due (``not_before`` has passed) and not past its deadline (``due_by``: the end of
  the follow-up's grace days, the start of the appointment day); a task past its deadline expires;
- the hospital's local time lies in one of the off-peak **windows** (``callcenter.timewindow``:
  ``HH:MM-HH:MM``, across midnight when the end comes first, the whole day when both are equal);
- capacity allows: fewer than ``concurrent`` list calls in flight, and the last call started at
  least ``3600 / per_hour`` seconds ago, so the calls of an hour are spread evenly over it (at
  most ``per_hour`` an hour, and a long list runs on into the next windows and days).

At most one call starts per plan; the runner asks again at ``wake_at``.  Tasks go earliest
deadline first (a reminder for tomorrow before a follow-up with grace days left), then oldest.

Windows may depend on the day (``DayWindows``: a sampled satisfaction campaign calls at the times
residents are free, one set on working days and another on weekends and holidays, the hospital's
calendar saying which day is which).  A window belongs to the day it starts on, so ``"18:30-00:30"``
of a Friday still holds at Saturday 00:10.  A task may carry its own windows (a campaign's); the
others use the plan's.

After an attempt, ``after_attempt`` says what becomes of the task: done when answered, failed when
its attempts are used up, else pending again after the retry delay of its outcome (busy sooner
than no answer).  A retry that falls outside the windows simply waits for the next window.

Abandoned-call callbacks are different work: they need a free operator first (operator, then the
caller, see ``callcenter.outbound.service``).  ``pick_callback`` offers one only when no inbound
caller is waiting, an operator is free, and the time is within the callback windows.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from callcenter.timewindow import TimeWindow

OUTCOMES = ("answered", "no_answer", "busy", "failed")
HOUR = dt.timedelta(hours=1)


def parse_windows(texts: Iterable[str]) -> tuple[TimeWindow, ...]:
    """Windows from ``"HH:MM-HH:MM"`` texts, sorted by start; ValueError (TimeWindowError) quoting the bad one."""
    return tuple(sorted((TimeWindow.parse(text) for text in texts), key=lambda w: w.start))


def _never(day: dt.date) -> bool:
    return False


@dataclass(frozen=True)
class DayWindows:
    """Windows by the kind of day: ``workday`` on working days, ``holiday`` on weekends and holidays."""

    workday: tuple[TimeWindow, ...]
    holiday: tuple[TimeWindow, ...]
    is_holiday: Callable[[dt.date], bool] = field(default=_never, compare=False)

    def of(self, day: dt.date) -> tuple[TimeWindow, ...]:
        """The windows that start on local day ``day``."""
        return self.holiday if self.is_holiday(day) else self.workday


Windows = Sequence[TimeWindow] | DayWindows
LOOKAHEAD_DAYS = 31  # next_window_start gives up after this many days without a window


def in_windows(moment: dt.datetime, windows: Windows, tz: dt.tzinfo) -> bool:
    """``moment`` (aware) falls inside a window, in local time ``tz``."""
    local = moment.astimezone(tz)
    if not isinstance(windows, DayWindows):
        return any(w.contains(local.time()) for w in windows)
    return any(w.started_on(local) == day for day in (local.date(), local.date() - dt.timedelta(days=1))
               for w in windows.of(day))


def next_window_start(moment: dt.datetime, windows: Windows, tz: dt.tzinfo) -> dt.datetime | None:
    """``moment`` itself when inside a window, else the next window's start (None: no windows)."""
    if in_windows(moment, windows, tz):
        return moment
    local = moment.astimezone(tz)
    if not isinstance(windows, DayWindows):
        return min(w.next_start(local) for w in windows).astimezone(moment.tzinfo) if windows else None
    for days in range(LOOKAHEAD_DAYS + 1):
        day = local.date() + dt.timedelta(days=days)
        starts = [s for w in windows.of(day) if (s := dt.datetime.combine(day, w.start, tzinfo=tz)) > local]
        if starts:
            return min(starts).astimezone(moment.tzinfo)
    return None


@dataclass(frozen=True)
class ListTask:
    """What the planner needs of a pending list task."""

    id: int
    not_before: dt.datetime
    due_by: dt.datetime | None = None
    attempts: int = 0
    max_attempts: int = 3
    windows: Windows | None = None  # its own windows (a campaign's); None: the plan's


@dataclass(frozen=True)
class Capacity:
    per_hour: int
    concurrent: int

    @property
    def gap(self) -> dt.timedelta:
        """Time between two call starts that spreads ``per_hour`` calls evenly over an hour."""
        return dt.timedelta(seconds=3600 / self.per_hour)


@dataclass(frozen=True)
class Plan:
    dial: tuple[int, ...]  # task ids to dial now
    expire: tuple[int, ...]  # task ids past their deadline (or out of attempts)
    wake_at: dt.datetime | None  # when planning again could dial something (None: nothing pending)


def plan(
    tasks: Iterable[ListTask],
    now: dt.datetime,
    windows: Windows,
    tz: dt.tzinfo,
    capacity: Capacity,
    *,
    in_flight: frozenset[int] = frozenset(),
    recent_starts: Sequence[dt.datetime] = (),
) -> Plan:
    """Which list tasks to dial at ``now`` (see the module's rules)."""
    live, expire = [], []
    for task in tasks:
        if task.id in in_flight:
            continue
        if (task.due_by is not None and task.due_by <= now) or task.attempts >= task.max_attempts:
            expire.append(task.id)
        else:
            live.append(task)
    live.sort(key=lambda t: (t.due_by or dt.datetime.max.replace(tzinfo=dt.UTC), t.not_before, t.id))
    last = max((s for s in recent_starts if s <= now), default=None)
    started_last_hour = sum(1 for s in recent_starts if now - HOUR < s <= now)
    paced_from = last + capacity.gap if last is not None else now
    room = len(in_flight) < capacity.concurrent and started_last_hour < capacity.per_hour
    if room and paced_from <= now:
        due = [t for t in live if t.not_before <= now and in_windows(now, _windows(t, windows), tz)]
        if due:
            return Plan((due[0].id,), tuple(expire), now + capacity.gap)
    wake = None
    for task in live:
        start = next_window_start(max(task.not_before, now, paced_from), _windows(task, windows), tz)
        if start is None:
            continue
        if task.due_by is not None and start >= task.due_by:
            start = task.due_by  # it cannot be dialled in time: plan again to expire it
        wake = start if wake is None else min(wake, start)
    return Plan((), tuple(expire), wake)


def _windows(task: ListTask, windows: Windows) -> Windows:
    return windows if task.windows is None else task.windows


@dataclass(frozen=True)
class RetryRules:
    """Minutes to wait before the next attempt, by outcome."""

    no_answer: float = 60.0
    busy: float = 15.0
    failed: float = 30.0

    def delay(self, outcome: str) -> dt.timedelta:
        minutes = {"no_answer": self.no_answer, "busy": self.busy}.get(outcome, self.failed)
        return dt.timedelta(minutes=minutes)


@dataclass(frozen=True)
class AfterAttempt:
    state: str  # done | failed | pending
    not_before: dt.datetime | None  # the next attempt (pending only)


def after_attempt(outcome: str, attempts: int, max_attempts: int, now: dt.datetime, rules: RetryRules) -> AfterAttempt:
    """The task's state after its ``attempts``-th attempt ended with ``outcome``."""
    if outcome == "answered":
        return AfterAttempt("done", None)
    if attempts >= max_attempts:
        return AfterAttempt("failed", None)
    return AfterAttempt("pending", now + rules.delay(outcome))


def outcome_of(reason: str) -> str:
    """One of OUTCOMES for an Originate outcome word (``callcenter.outbound.service.REASONS``)."""
    if reason in OUTCOMES:
        return reason
    if reason == "hung_up":  # rang, then rejected before answering
        return "no_answer"
    return "failed"  # congestion, unreachable, AMI trouble


@dataclass(frozen=True)
class Operator:
    agent_id: str
    idle_since: float


def pick_callback(
    tasks: Iterable[ListTask],
    now: dt.datetime,
    windows: Sequence[TimeWindow],
    tz: dt.tzinfo,
    *,
    free: Sequence[Operator],
    callers_waiting: int,
    in_flight: frozenset[int] = frozenset(),
) -> tuple[int, str] | None:
    """(task id, agent id) of the abandoned-call callback to offer now, or None.

    Inbound callers come first: nothing is offered while one waits.  The operator idle longest gets
    the oldest due callback.
    """
    if callers_waiting or not free or not in_windows(now, windows, tz):
        return None
    due = sorted((t for t in tasks if t.id not in in_flight and t.not_before <= now and t.attempts < t.max_attempts),
                 key=lambda t: (t.not_before, t.id))
    if not due:
        return None
    operator = min(free, key=lambda o: (o.idle_since, o.agent_id))
    return due[0].id, operator.agent_id


def calls_per_day(windows: Sequence[TimeWindow], capacity: Capacity) -> int:
    """List calls the windows take in one day at this pace (for import reports)."""
    return sum(math.floor(w.duration / capacity.gap) for w in windows)
