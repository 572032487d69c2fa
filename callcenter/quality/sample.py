"""Which calls a supervisor reviews in a week: pure, no I/O, no clock of its own.

Every call with a low satisfaction score (1-2) or in a complaint category is listed, recorded or
not.  Beside those, each operator gets ``per_operator`` calls drawn from their answered calls with
a recording: each call's rank is a hash of (seed, week, operator, ticket), and the lowest ranks are
drawn.  So the draw is fixed for a seed and a week, a call arriving later in the week displaces at
most one drawn call, and calls already reviewed stay in the list (they count towards the quota).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

LOW_SCORES = (1, 2)
COMPLAINT_CATEGORIES = ("complaint",)
REASONS = ("sample", "low_score", "complaint")


@dataclass(frozen=True)
class Call:
    """One answered call of the week, as the review list needs it."""

    ticket_id: int
    agent_id: str
    answered_at: dt.datetime
    recorded: bool  # a complete recording exists
    satisfaction: int | None = None
    category: str | None = None


@dataclass(frozen=True)
class Pick:
    """A call to review and why (one or more of ``REASONS``)."""

    call: Call
    reasons: tuple[str, ...]


def week_start(day: dt.date) -> dt.date:
    """The Monday of ``day``'s week."""
    return day - dt.timedelta(days=day.weekday())


def _rank(seed: str, week: dt.date, agent_id: str, ticket_id: int) -> bytes:
    return hashlib.blake2b(f"{seed}|{week.isoformat()}|{agent_id}|{ticket_id}".encode(), digest_size=8).digest()


def flagged(call: Call) -> tuple[str, ...]:
    """The reasons a call is reviewed whatever the draw: a low score, a complaint."""
    reasons = []
    if call.satisfaction in LOW_SCORES:
        reasons.append("low_score")
    if call.category in COMPLAINT_CATEGORIES:
        reasons.append("complaint")
    return tuple(reasons)


def pick(calls: Iterable[Call], *, per_operator: int, seed: str, week: dt.date,
         reviewed: Iterable[int] = ()) -> list[Pick]:
    """The week's calls to review, oldest first: every flagged call, plus each operator's draw."""
    done = set(reviewed)
    chosen: dict[int, list[str]] = {}
    pool: dict[str, list[Call]] = {}
    by_id: dict[int, Call] = {}
    for call in calls:
        by_id[call.ticket_id] = call
        reasons = flagged(call)
        if reasons:
            chosen[call.ticket_id] = list(reasons)
        elif call.recorded:
            pool.setdefault(call.agent_id, []).append(call)
    for agent_id, candidates in pool.items():
        kept = [c for c in candidates if c.ticket_id in done]
        rest = sorted((c for c in candidates if c.ticket_id not in done),
                      key=lambda c: _rank(seed, week, agent_id, c.ticket_id))
        for call in (kept + rest)[:max(per_operator, len(kept))]:
            chosen[call.ticket_id] = ["sample"]
    picks = [Pick(by_id[t], tuple(r)) for t, r in chosen.items()]
    return sorted(picks, key=lambda p: (p.call.answered_at, p.call.ticket_id))
