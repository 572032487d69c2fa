"""Figures count a kept place (press 1 on hold, called back in turn) as a callback, never as abandoned."""

from __future__ import annotations

import datetime as dt

import pytest

from callcenter.web import figures
from callcenter.web.store import _row

T0 = dt.datetime(2025, 7, 1, 1, 30, tzinfo=dt.UTC)


def ticket(status: str, callback: str | None, *, answered: bool) -> figures.CallRow:
    """A call's figures as ``web.store`` reads them from its ticket (``details.callback`` when kept)."""
    details: dict = {"rings": [{"agent_id": "1001", "started_at": T0.isoformat(), "outcome": "answered"}]}
    if callback is not None:
        details["callback"] = {"requested_at": T0.isoformat(), "position": 2, "attempts": [], "outcome": callback}
    ended = T0 + dt.timedelta(seconds=300)
    return _row(T0, status, "1001" if answered else None, T0 + dt.timedelta(seconds=200) if answered else None, ended,
                200.0 if answered else 300.0, 100.0 if answered else 0.0, details)


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        # an ordinary caller who hung up: abandoned
        ([("abandoned", None, False)], {"abandoned": 1, "callbacks": 0}),
        # a kept place called back and answered: answered, a callback
        ([("completed", "answered", True)], {"answered": 1, "abandoned": 0, "callbacks": 1, "callbacks_answered": 1}),
        # a kept place whose every attempt failed: its ticket says abandoned (an abandoned-call task), figures do not
        ([("abandoned", "unreached", False)], {"abandoned": 0, "callbacks": 1, "callbacks_unreached": 1}),
        # one of each
        ([("abandoned", None, False), ("completed", "answered", True), ("abandoned", "unreached", False)],
         {"offered": 3, "answered": 1, "abandoned": 1, "callbacks": 2, "abandon_rate": round(1 / 3, 4)}),
    ],
)
def test_a_kept_place_is_a_callback_not_an_abandoned_call(rows, expected):
    summary = figures.summarise([ticket(status, callback, answered=answered) for status, callback, answered in rows])
    assert {k: summary[k] for k in expected} == expected


def test_a_ticket_without_a_kept_place_has_no_callback_and_a_kept_one_defaults_to_waiting():
    assert ticket("completed", None, answered=True).callback is None
    assert _row(T0, "new", None, None, None, None, None, {"callback": {"attempts": []}}).callback == "waiting"
