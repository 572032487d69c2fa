"""The life of a ledger item (台账), as a pure state machine: no I/O, no clock of its own.

Theory of operation: an item is *open* when feedback arrives (a complaint, a dissatisfied survey
score, a suggestion).  Rectifying starts once someone owns it with a measure and a deadline; a
supervisor verifies that the measure worked, and only a verified item is struck off (销号).  A
verified or struck-off item may be reopened (the problem came back); the store keeps every earlier
step in the item's history.  Every change of status is one named move of ``MOVES``; a move not in
the table raises ``IllegalMove`` naming the moves that are allowed from the current status.

    open ──rectify──> rectifying ──verify──> verified ──strike_off──> struck_off
     ^                                          │                        │
     └──────────────────reopen──────────────────┴────────────────────────┘

Rules beyond the table:
- ``rectify`` needs a measure, an owner and a deadline on the item;
- ``verify``, ``strike_off`` and ``reopen`` are a supervisor's (``SUPERVISOR_MOVES``);
- classification (department and catalogue item) may change at any time before the strike-off;
- overdue: the deadline has passed while the item is not struck off.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, replace

from callcenter.ledger.exceptions import IllegalMove
from callcenter.workcalendar import require_aware


class Status(enum.StrEnum):
    """Where an item is."""

    OPEN = "open"
    RECTIFYING = "rectifying"
    VERIFIED = "verified"
    STRUCK_OFF = "struck_off"  # 销号


@dataclass(frozen=True)
class Move:
    """One allowed change of status."""

    name: str
    sources: frozenset[Status]
    target: Status


MOVES: tuple[Move, ...] = (
    Move("rectify", frozenset({Status.OPEN}), Status.RECTIFYING),
    Move("verify", frozenset({Status.RECTIFYING}), Status.VERIFIED),
    Move("strike_off", frozenset({Status.VERIFIED}), Status.STRUCK_OFF),
    Move("reopen", frozenset({Status.VERIFIED, Status.STRUCK_OFF}), Status.OPEN),
)
MOVE_NAMES = tuple(m.name for m in MOVES)
SUPERVISOR_MOVES = frozenset({"verify", "strike_off", "reopen"})
_BY_NAME = {m.name: m for m in MOVES}


@dataclass(frozen=True)
class ItemState:
    """What the lifecycle needs to know about one item."""

    status: Status = Status.OPEN
    measure: str = ""
    owner: str = ""
    deadline: dt.datetime | None = None
    struck_off_at: dt.datetime | None = None
    verified_by: str | None = None


def allowed_moves(status: Status) -> tuple[str, ...]:
    """The moves possible from ``status``."""
    return tuple(m.name for m in MOVES if status in m.sources)


def apply(state: ItemState, name: str, at: dt.datetime, by: str | None) -> ItemState:
    """The state after move ``name``; ``IllegalMove`` naming what is allowed when refused."""
    require_aware(at)
    found = _BY_NAME.get(name)
    allowed = allowed_moves(state.status)
    if found is None:
        raise IllegalMove(f"unknown move {name!r}; moves: {', '.join(MOVE_NAMES)}", status=state.status.value,
                          allowed=allowed)
    if state.status not in found.sources:
        raise IllegalMove(
            f"an item that is {state.status.value} cannot {name.replace('_', ' ')}; "
            f"allowed: {', '.join(allowed) or 'nothing'}",
            status=state.status.value, allowed=allowed)
    if name == "rectify":
        missing = [f for f in ("measure", "owner", "deadline") if not getattr(state, f)]
        if missing:
            raise IllegalMove(f"rectifying needs a measure, an owner and a deadline: {', '.join(missing)} missing",
                              status=state.status.value, allowed=allowed, missing=tuple(missing))
        return replace(state, status=found.target)
    if name == "verify":
        return replace(state, status=found.target, verified_by=by)
    if name == "strike_off":
        return replace(state, status=found.target, struck_off_at=at)
    return replace(state, status=found.target, struck_off_at=None, verified_by=None)  # reopen


def may_classify(state: ItemState) -> bool:
    """Department and catalogue item may change until the item is struck off."""
    return state.status != Status.STRUCK_OFF


def overdue(state: ItemState, now: dt.datetime) -> bool:
    """The deadline has passed and the item is not struck off."""
    require_aware(now)
    return state.deadline is not None and state.status != Status.STRUCK_OFF and now > state.deadline

