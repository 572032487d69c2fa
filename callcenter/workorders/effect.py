"""The effect of a hotline message (未诉先办): tickets of its category before and after it started.

A message made from a knowledge-base entry should prevent tickets of one category.  Its effect at a
moment ``now`` compares the tickets of that category created from its start to ``now`` with those
created in the same length of time just before its start (half-open windows: a ticket created at
the start counts after).  The /prevention page and the reports both use ``message_effect`` with the
rows they read, so they show the same numbers for the same moment.  Pure: no I/O, no clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Window = tuple[dt.datetime, dt.datetime]  # [start, end)


def effect_windows(starts_at: dt.datetime, now: dt.datetime) -> tuple[Window, Window]:
    """(before, after) of a message: from its start to now, and the same length just before its start."""
    length = max(now - starts_at, dt.timedelta(0))
    return (starts_at - length, starts_at), (starts_at, starts_at + length)


def message_effect(starts_at: dt.datetime, now: dt.datetime, created: Iterable[dt.datetime]) -> dict[str, Any]:
    """The effect at ``now`` of a message that started at ``starts_at``, from the creation times of the
    tickets of its category (any others are ignored); not started yet: 0 against 0."""
    (b0, b1), (a0, a1) = effect_windows(starts_at, now)
    before = after = 0
    for at in created:
        before += b0 <= at < b1
        after += a0 <= at < a1
    return {"before_from": b0.astimezone(dt.UTC).isoformat(), "after_to": a1.astimezone(dt.UTC).isoformat(),
            "before": before, "after": after, "change": after - before}


@dataclass(frozen=True)
class MessageRow:
    """A hotline message as stored (``prevention_messages``)."""

    id: int
    rule: str
    entry_id: int | None
    category: str
    texts: Mapping[str, str]
    first_day: dt.date
    last_day: dt.date
    starts_at: dt.datetime


def message_effects(messages: Iterable[MessageRow], created: Mapping[str, Sequence[dt.datetime]],
                    now: dt.datetime) -> list[dict[str, Any]]:
    """Each message (in order of start) with its effect at ``now``; ``created``: category -> ticket creation times."""
    return [
        {"id": m.id, "rule": m.rule, "entry_id": m.entry_id, "category": m.category, "texts": dict(m.texts),
         "from": m.first_day.isoformat(), "to": m.last_day.isoformat(),
         "starts_at": m.starts_at.astimezone(dt.UTC).isoformat(),
         "effect": message_effect(m.starts_at, now, created.get(m.category, ()))}
        for m in sorted(messages, key=lambda m: (m.starts_at, m.id))
    ]
