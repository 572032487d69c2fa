"""The reports' presets with a fixed ``today``: days ending today, the previous calendar month and quarter."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from callcenter.web.reports import parse_range, report_kind

BJ = ZoneInfo("Asia/Shanghai")
D = dt.date


def preset(period: str, today: dt.date) -> tuple[dt.date, dt.date]:
    return parse_range({"period": period}, BJ, today)


def test_days_ending_today_are_kept() -> None:
    today = D(2026, 3, 2)
    assert preset("day", today) == (today, today)
    assert preset("week", today) == (D(2026, 2, 24), today)
    assert preset("month", today) == (D(2026, 2, 1), today)  # 30 days


@pytest.mark.parametrize(("today", "expected"), [
    (D(2026, 3, 2), (D(2026, 2, 1), D(2026, 2, 28))),
    (D(2024, 3, 31), (D(2024, 2, 1), D(2024, 2, 29))),  # a leap year
    (D(2027, 1, 1), (D(2026, 12, 1), D(2026, 12, 31))),  # across the year's end
    (D(2026, 8, 31), (D(2026, 7, 1), D(2026, 7, 31))),
])
def test_last_month_is_the_previous_calendar_month(today: dt.date, expected: tuple[dt.date, dt.date]) -> None:
    assert preset("last_month", today) == expected
    assert report_kind(*expected) == "reports.kind.month"


@pytest.mark.parametrize(("today", "expected"), [
    (D(2027, 1, 1), (D(2026, 10, 1), D(2026, 12, 31))),  # the first day of a year: Q4 of the year before
    (D(2027, 2, 15), (D(2026, 10, 1), D(2026, 12, 31))),
    (D(2027, 3, 31), (D(2026, 10, 1), D(2026, 12, 31))),
    (D(2027, 4, 1), (D(2027, 1, 1), D(2027, 3, 31))),
    (D(2026, 9, 30), (D(2026, 4, 1), D(2026, 6, 30))),
    (D(2026, 12, 31), (D(2026, 7, 1), D(2026, 9, 30))),
])
def test_last_quarter_is_the_previous_calendar_quarter(today: dt.date, expected: tuple[dt.date, dt.date]) -> None:
    assert preset("last_quarter", today) == expected
    assert report_kind(*expected) == "reports.kind.quarter"


def test_the_kind_follows_the_range() -> None:
    assert report_kind(D(2026, 10, 5), D(2026, 10, 5)) == "reports.kind.day"
    assert report_kind(D(2026, 10, 5), D(2026, 10, 11)) == "reports.kind.week"
    assert report_kind(D(2026, 10, 2), D(2026, 10, 31)) == "reports.kind.month"  # 30 days ending today
    assert report_kind(D(2026, 10, 1), D(2026, 12, 30)) == "reports.kind.range"  # a quarter but a day
    assert report_kind(D(2026, 11, 1), D(2027, 1, 31)) == "reports.kind.range"  # 92 days, not a quarter
    assert report_kind(D(2026, 1, 1), D(2026, 12, 31)) == "reports.kind.range"


def test_explicit_days_and_bad_presets() -> None:
    assert parse_range({"from": "2026-07-01", "to": "2026-09-30"}, BJ, D(2026, 11, 30)) == (D(2026, 7, 1), D(2026, 9, 30))
    with pytest.raises(ValueError):
        parse_range({"from": "2026-10-02", "to": "2026-10-01"}, BJ, D(2026, 11, 30))
