"""What rose most against the previous period: a pure ranking, no I/O, no clock.

Used for 未诉先办 (answering before the question): the question categories and the knowledge-base
entries callers and operators needed more this period than the one before.  Rows are ordered by
the absolute rise, then by the relative rise (an item absent before counts as an infinite rise),
then by key; only items that rose are returned.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rise:
    """One item's count now against before."""

    key: str
    now: int
    before: int
    change: int  # now - before, > 0

    @property
    def ratio(self) -> float:
        """The relative rise (change / before); infinite for an item new this period."""
        return math.inf if self.before == 0 else self.change / self.before


def rising(now_counts: Mapping[str, int], before_counts: Mapping[str, int], top: int = 10) -> list[Rise]:
    """The at most ``top`` items whose count rose most from ``before_counts`` to ``now_counts``."""
    if top <= 0:
        return []
    rows = [
        Rise(key, now, before, now - before)
        for key in now_counts.keys() | before_counts.keys()
        if (now := now_counts.get(key, 0)) > (before := before_counts.get(key, 0))
    ]
    rows.sort(key=lambda r: (-r.change, -r.ratio, r.key))
    return rows[:top]
