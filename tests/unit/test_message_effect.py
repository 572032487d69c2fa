"""The effect of a hotline message: half-open windows either side of its start, one category's tickets."""

from __future__ import annotations

import datetime as dt

from callcenter.workorders.effect import MessageRow, message_effect, message_effects

UTC = dt.UTC
START = dt.datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
NOW = START + dt.timedelta(days=2)


def test_tickets_at_the_edges_fall_on_one_side_only() -> None:
    created = [
        START - dt.timedelta(days=2, seconds=1),  # before the "before" window
        START - dt.timedelta(days=2),  # its first moment
        START - dt.timedelta(seconds=1),
        START,  # the start counts after
        NOW - dt.timedelta(seconds=1),
        NOW,  # now itself: not yet
    ]
    assert message_effect(START, NOW, created) == {
        "before_from": (START - dt.timedelta(days=2)).isoformat(), "after_to": NOW.isoformat(),
        "before": 2, "after": 2, "change": 0}
    not_started = message_effect(START, START - dt.timedelta(hours=1), created)
    assert (not_started["before"], not_started["after"]) == (0, 0)


def test_each_message_counts_its_own_category_in_order_of_start() -> None:
    zone = dt.timezone(dt.timedelta(hours=8))
    late = MessageRow(2, "kb2", 2, "medical", {"zh": "z"}, dt.date(2026, 12, 8), dt.date(2026, 12, 9),
                      (START + dt.timedelta(days=1)).astimezone(zone))
    early = MessageRow(1, "kb1", 1, "reports", {"zh": "z"}, dt.date(2026, 12, 7), dt.date(2026, 12, 9), START)
    created = {"reports": [START + dt.timedelta(hours=1)], "medical": [START, START + dt.timedelta(days=1, hours=1)]}
    rows = message_effects([late, early], created, NOW)
    assert [(r["id"], r["effect"]["before"], r["effect"]["after"]) for r in rows] == [(1, 0, 1), (2, 1, 1)]
    assert rows[1]["starts_at"] == (START + dt.timedelta(days=1)).isoformat()  # in UTC
