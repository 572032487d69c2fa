"""The life of a ticket after its call, as a pure state machine: no I/O, no clock of its own.

Theory of operation: a ticket is *open* until the caller's problem was solved **and** the caller
was called back for satisfaction (the closed loop).  Every change of status is one named move
from the table ``MOVES`` below; a move not in the table raises ``IllegalMove`` naming the moves
that are allowed from the current status.  Callers ask for a *target* status (what the operator
picks in the form); ``move()`` finds the one move that leads there.

    new ──start──> in_progress ──solve──> solved ──callback──> callback_due ──close──> closed
     │                 │  ^                  ^                     │  (satisfied / unreachable)
     │                 │  └─department_replied┐                    │
     │                 └──escalate──> escalated ──solve────────────┘
     │                                                     reopen (unsatisfied callback, or a
     ├─merge──> merged (a repeat call joined to the caller's open ticket)   closed ticket revived)
     └─close (invalid: silent call, wrong number, nuisance)

Rules beyond the table:
- an unsolved ticket (new, in progress, escalated) whose call has ended must carry a promised
  reply time (``check_promise``); escalating needs one too (the caller was told when);
- closing needs a reason: ``satisfied`` (a satisfaction score of at least ``SATISFIED_MIN`` is on
  the ticket), ``unreachable`` (callback attempts exhausted) or ``invalid`` (not a real request);
- a survey score (1-5) closes a ticket waiting for its callback when satisfied, and reopens it
  when not (``after_survey``);
- overdue: an unsolved ticket past its promised reply time, or a solved one past its callback
  deadline; lateness in whole calendar days is counted in the hospital's time zone.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, replace

from callcenter.workcalendar import require_aware
from callcenter.workorders.exceptions import IllegalMove, PromiseRequired


class Status(enum.StrEnum):
    """Where a ticket is in its closed loop."""

    NEW = "new"
    IN_PROGRESS = "in_progress"
    ESCALATED = "escalated"  # waiting on a department
    SOLVED = "solved"
    CALLBACK_DUE = "callback_due"  # solved; the satisfaction callback is owed
    CLOSED = "closed"
    MERGED = "merged"  # a repeat call folded into the caller's open ticket


UNSOLVED = frozenset({Status.NEW, Status.IN_PROGRESS, Status.ESCALATED})
AWAITING_CALLBACK = frozenset({Status.SOLVED, Status.CALLBACK_DUE})
OPEN = UNSOLVED | AWAITING_CALLBACK  # a repeat caller's new call links to one of these

CLOSE_REASONS = ("satisfied", "unreachable", "invalid")
SATISFIED_MIN = 3  # survey keys: 5 very satisfied, 4 satisfied, 3 fairly, 2 dissatisfied, 1 very
SURVEY_KEYS = range(1, 6)

CATEGORIES: dict[str, str] = {
    "registration": "挂号预约",
    "reports": "检查检验报告",
    "guidance": "就医指导",
    "medical": "医疗咨询",
    "urgent": "急症求助",
    "complaint": "投诉",
    "suggestion": "建议表扬",
    "lost_property": "失物招领",
    "billing": "费用医保",
    "hotline_12345": "12345转办",
    "other": "其他",
}
PRIORITIES = ("low", "normal", "high", "urgent")


@dataclass(frozen=True)
class Move:
    """One allowed change of status."""

    name: str
    sources: frozenset[Status]
    target: Status


MOVES: tuple[Move, ...] = (
    Move("start", frozenset({Status.NEW}), Status.IN_PROGRESS),
    Move("escalate", frozenset({Status.NEW, Status.IN_PROGRESS}), Status.ESCALATED),
    Move("department_replied", frozenset({Status.ESCALATED}), Status.IN_PROGRESS),
    Move("solve", UNSOLVED, Status.SOLVED),
    Move("callback", frozenset({Status.SOLVED}), Status.CALLBACK_DUE),
    Move("close", frozenset({Status.NEW, Status.IN_PROGRESS, Status.SOLVED, Status.CALLBACK_DUE}), Status.CLOSED),
    Move("reopen", frozenset({Status.SOLVED, Status.CALLBACK_DUE, Status.CLOSED}), Status.IN_PROGRESS),
    Move("merge", frozenset({Status.NEW}), Status.MERGED),
    Move("unmerge", frozenset({Status.MERGED}), Status.NEW),
)
_BY_NAME = {m.name: m for m in MOVES}
_BY_EDGE = {(source, m.target): m for m in MOVES for source in m.sources}
assert len(_BY_EDGE) == sum(len(m.sources) for m in MOVES), "two moves share a (source, target) edge"


@dataclass(frozen=True)
class WorkState:
    """What the lifecycle needs to know about one ticket."""

    status: Status = Status.NEW
    promised_reply_at: dt.datetime | None = None
    call_ended: bool = False  # the caller's call is over (always true for imported orders)
    satisfaction: int | None = None
    callback_by: dt.datetime | None = None  # deadline of the satisfaction callback once solved
    close_reason: str | None = None
    parent_id: int | None = None  # the open ticket a merged call belongs to
    callback_attempts_exhausted: bool = False


def allowed_targets(status: Status) -> tuple[str, ...]:
    """Statuses reachable from ``status`` in one move."""
    return tuple(sorted({m.target.value for m in MOVES if status in m.sources}))


def move(
    state: WorkState,
    target: Status | str,
    at: dt.datetime,
    *,
    reason: str | None = None,
    parent_id: int | None = None,
    callback_within: dt.timedelta = dt.timedelta(hours=48),
) -> WorkState:
    """The state after moving to ``target``; raises ``IllegalMove`` / ``PromiseRequired`` when refused."""
    require_aware(at)
    target = _status(target, state.status)
    if target == state.status:
        raise IllegalMove(
            f"the ticket is already {state.status.value}",
            status=state.status.value,
            allowed=allowed_targets(state.status),
        )
    found = _BY_EDGE.get((state.status, target))
    if found is None:
        allowed = allowed_targets(state.status)
        raise IllegalMove(
            f"a ticket that is {state.status.value} cannot become {target.value}; "
            f"allowed: {', '.join(allowed) or 'nothing (final state)'}",
            status=state.status.value,
            allowed=allowed,
        )
    return _GUARDS[found.name](state, found, at, reason, parent_id, callback_within)


def apply_move(state: WorkState, name: str, at: dt.datetime, **kwargs: object) -> WorkState:
    """Like ``move`` but by the move's name (``"solve"``, ``"reopen"``...)."""
    found = _BY_NAME.get(name)
    if found is None:
        raise IllegalMove(f"unknown move {name!r}", status=state.status.value, allowed=allowed_targets(state.status))
    return move(state, found.target, at, **kwargs)  # type: ignore[arg-type]


def check_promise(state: WorkState) -> None:
    """An unsolved ticket whose call has ended needs a promised reply time."""
    if state.call_ended and state.status in UNSOLVED and state.promised_reply_at is None:
        raise PromiseRequired(
            f"the call has ended and the ticket is {state.status.value} (unsolved): "
            "give the caller a promised reply time (promised_reply_at)"
        )


def after_survey(state: WorkState, score: int, at: dt.datetime) -> WorkState:
    """Record a satisfaction score; a ticket waiting for its callback closes or reopens on it."""
    if score not in SURVEY_KEYS:
        raise ValueError(f"a survey score is 1-5, not {score!r}")
    state = replace(state, satisfaction=score)
    if state.status in AWAITING_CALLBACK:
        if score >= SATISFIED_MIN:
            return move(state, Status.CLOSED, at, reason="satisfied")
        return move(state, Status.IN_PROGRESS, at)
    return state


# -- overdue --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Overdue:
    """How late a ticket is: exact lateness, and calendar days late in the hospital's zone."""

    deadline: dt.datetime
    late: dt.timedelta
    days: int  # 0: late but still on the deadline's local day


def deadline_of(state: WorkState) -> dt.datetime | None:
    """The deadline that matters now: the promised reply while unsolved, the callback once solved."""
    if state.status in UNSOLVED:
        return state.promised_reply_at
    if state.status in AWAITING_CALLBACK:
        return state.callback_by
    return None


def overdue(state: WorkState, now: dt.datetime, tz: dt.tzinfo) -> Overdue | None:
    """None when the ticket is on time (or has no deadline, or is closed/merged)."""
    require_aware(now)
    deadline = deadline_of(state)
    if deadline is None or now <= deadline:
        return None
    days = (now.astimezone(tz).date() - deadline.astimezone(tz).date()).days
    return Overdue(deadline=deadline, late=now - deadline, days=days)


def end_of_local_day(moment: dt.datetime, tz: dt.tzinfo, days_later: int = 0) -> dt.datetime:
    """23:59:59 of ``moment``'s local day (plus ``days_later``), as aware UTC: "reply by tomorrow"."""
    local = moment.astimezone(tz).date() + dt.timedelta(days=days_later)
    return dt.datetime.combine(local, dt.time(23, 59, 59), tz).astimezone(dt.UTC)


# -- guards -----------------------------------------------------------------------------------------


def _plain(state: WorkState, m: Move, at: dt.datetime, *_: object) -> WorkState:
    return replace(state, status=m.target)


def _escalate(state: WorkState, m: Move, at: dt.datetime, *_: object) -> WorkState:
    if state.promised_reply_at is None:
        raise PromiseRequired("escalating needs the reply time promised to the caller (promised_reply_at)")
    return replace(state, status=m.target)


def _solve(state: WorkState, m: Move, at: dt.datetime, _r: object, _p: object, within: dt.timedelta) -> WorkState:
    return replace(state, status=m.target, callback_by=at + within)


def _close(state: WorkState, m: Move, at: dt.datetime, reason: str | None, *_: object) -> WorkState:
    if reason not in CLOSE_REASONS:
        raise IllegalMove(
            f"closing needs a reason: one of {', '.join(CLOSE_REASONS)} (got {reason!r})",
            status=state.status.value,
            allowed=allowed_targets(state.status),
        )
    if reason == "invalid" and state.status not in (Status.NEW, Status.IN_PROGRESS):
        raise IllegalMove(
            "only a new or in-progress ticket can be closed as invalid",
            status=state.status.value,
            allowed=allowed_targets(state.status),
        )
    if reason == "satisfied":
        if state.status not in AWAITING_CALLBACK:
            raise IllegalMove(
                "a ticket closes as satisfied only after it was solved",
                status=state.status.value,
                allowed=allowed_targets(state.status),
            )
        if state.satisfaction is None or state.satisfaction < SATISFIED_MIN:
            raise IllegalMove(
                f"closing as satisfied needs a satisfaction score of {SATISFIED_MIN}-5 from the callback "
                f"(the ticket has {state.satisfaction!r}); an unsatisfied caller reopens the ticket",
                status=state.status.value,
                allowed=allowed_targets(state.status),
            )
    if reason == "unreachable":
        if state.status != Status.CALLBACK_DUE or not state.callback_attempts_exhausted:
            raise IllegalMove(
                "a ticket closes as unreachable only when its callback is due and every attempt failed",
                status=state.status.value,
                allowed=allowed_targets(state.status),
            )
    return replace(state, status=m.target, close_reason=reason)


def _reopen(state: WorkState, m: Move, *_: object) -> WorkState:
    return replace(state, status=m.target, close_reason=None, callback_by=None)


def _merge(state: WorkState, m: Move, at: dt.datetime, _r: object, parent_id: int | None, *_: object) -> WorkState:
    if parent_id is None:
        raise IllegalMove("merging needs the open ticket to merge into (parent_id)", status=state.status.value,
                          allowed=allowed_targets(state.status))
    return replace(state, status=m.target, parent_id=parent_id)


def _unmerge(state: WorkState, m: Move, *_: object) -> WorkState:
    return replace(state, status=m.target, parent_id=None)


_GUARDS = {
    "start": _plain,
    "escalate": _escalate,
    "department_replied": _plain,
    "solve": _solve,
    "callback": _plain,
    "close": _close,
    "reopen": _reopen,
    "merge": _merge,
    "unmerge": _unmerge,
}
assert set(_GUARDS) == set(_BY_NAME)


def _status(value: Status | str, current: Status) -> Status:
    try:
        return Status(value)
    except ValueError:
        raise IllegalMove(
            f"unknown status {value!r}; statuses: {', '.join(s.value for s in Status)}",
            status=current.value,
            allowed=allowed_targets(current),
        ) from None

