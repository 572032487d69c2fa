"""TimeWindow: the one meaning of "HH:MM-HH:MM" (within a day, across midnight, start == end the whole day)."""

import datetime as dt
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcenter.timewindow import CLOCK_PATTERN, WINDOW_PATTERN, TimeWindow, TimeWindowError, parse_clock

BJ = dt.timezone(dt.timedelta(hours=8))


def t(text: str) -> dt.time:
    return dt.time.fromisoformat(text)


@pytest.mark.parametrize(
    ("text", "start", "end", "shown"),
    [
        ("08:00-17:30", "08:00", "17:30", "08:00-17:30"),
        ("22:00-07:00", "22:00", "07:00", "22:00-07:00"),
        ("08:00-08:00", "08:00", "08:00", "08:00-08:00"),
        ("00:00-00:00", "00:00", "00:00", "00:00-00:00"),
        (" 09:30 - 11:30 ", "09:30", "11:30", "09:30-11:30"),  # spaces around the parts
        ("16:00-00:00", "16:00", "00:00", "16:00-00:00"),
        ("08:00:30-09:00", "08:00:30", "09:00", "08:00:30-09:00"),  # seconds are kept and shown
        ("23:59-00:00", "23:59", "00:00", "23:59-00:00"),
    ],
)
def test_parse_reads_the_ends_and_prints_them_back(text, start, end, shown):
    window = TimeWindow.parse(text)
    assert (window.start, window.end) == (t(start), t(end))
    assert str(window) == shown
    assert TimeWindow.parse(str(window)) == window


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("9-11", "'9-11' is not a time window like"),
        ("8:00-17:00", "'8:00-17:00' is not a time window"),
        ("08:00", "'08:00' is not a time window"),
        ("08:00-17:00-18:00", "'08:00-17:00-18:00' is not a time window"),
        ("0800-1700", "'0800-1700' is not a time window"),
        ("", "'' is not a time window"),
        ("25:00-07:00", "'25:00-07:00': '25:00' is not a time of day"),
        ("08:00-08:60", "'08:00-08:60': '08:60' is not a time of day"),
        ("24:00-07:00", "'24:00-07:00'"),
        ("08:00+08:00-17:00", "'08:00\\+08:00-17:00' is not a time window"),
        (None, "None is not a time window"),
        (800, "800 is not a time window"),
    ],
)
def test_parse_refuses_nonsense_quoting_the_text(text, words):
    with pytest.raises(TimeWindowError, match=words):
        TimeWindow.parse(text)
    assert issubclass(TimeWindowError, ValueError)  # callers that catch ValueError keep working


@pytest.mark.parametrize(
    ("window", "inside", "outside"),
    [
        # within one day: start in, end out
        ("08:00-17:30", ["08:00", "12:00", "17:29:59"], ["07:59:59", "17:30", "23:00", "00:00"]),
        # across midnight
        ("22:00-07:00", ["22:00", "23:59:59", "00:00", "06:59:59"], ["07:00", "12:00", "21:59:59"]),
        ("16:00-00:00", ["16:00", "23:59:59"], ["00:00", "15:59"]),
        ("00:00-08:00", ["00:00", "07:59"], ["08:00", "23:59"]),
        # start == end: the whole day, whatever the hour
        ("08:00-08:00", ["08:00", "07:59:59", "00:00", "12:00", "23:59:59"], []),
        ("00:00-00:00", ["00:00", "12:00", "23:59:59"], []),
    ],
)
def test_contains(window, inside, outside):
    w = TimeWindow.parse(window)
    assert [c for c in inside if not w.contains(t(c))] == []
    assert [c for c in outside if w.contains(t(c))] == []


@pytest.mark.parametrize(
    ("window", "whole_day", "overnight", "hours"),
    [
        ("08:00-17:30", False, False, 9.5),
        ("22:00-07:00", False, True, 9),
        ("16:00-00:00", False, True, 8),
        ("08:00-08:00", True, True, 24),
        ("00:00-00:00", True, False, 24),
        ("23:59-00:00", False, True, 1 / 60),
    ],
)
def test_shape(window, whole_day, overnight, hours):
    w = TimeWindow.parse(window)
    assert (w.whole_day, w.overnight) == (whole_day, overnight)
    assert w.duration == dt.timedelta(hours=hours)


@pytest.mark.parametrize(
    ("window", "moment", "started"),
    [
        ("22:00-07:00", "2026-11-27T23:00", "2026-11-27"),  # Friday night
        ("22:00-07:00", "2026-11-28T03:00", "2026-11-27"),  # Saturday morning: still Friday's window
        ("22:00-07:00", "2026-11-28T07:00", None),
        ("08:00-16:00", "2026-11-28T08:00", "2026-11-28"),
        ("08:00-16:00", "2026-11-28T16:00", None),
        ("08:00-08:00", "2026-11-28T07:59", "2026-11-27"),  # a 24-hour duty handed over at 08:00
        ("08:00-08:00", "2026-11-28T08:00", "2026-11-28"),
        ("00:00-00:00", "2026-11-28T23:59", "2026-11-28"),
        ("00:00-00:00", "2026-11-28T00:00", "2026-11-28"),
    ],
)
def test_started_on(window, moment, started):
    got = TimeWindow.parse(window).started_on(dt.datetime.fromisoformat(moment))
    assert got == (dt.date.fromisoformat(started) if started else None)


@pytest.mark.parametrize(
    ("window", "moment", "next_start"),
    [
        ("09:30-11:30", "2026-11-28T08:00", "2026-11-28T09:30"),
        ("09:30-11:30", "2026-11-28T09:30", "2026-11-29T09:30"),  # strictly after
        ("09:30-11:30", "2026-11-28T12:00", "2026-11-29T09:30"),
        ("22:00-07:00", "2026-11-28T03:00", "2026-11-28T22:00"),
        ("08:00-08:00", "2026-11-28T23:00", "2026-11-29T08:00"),
    ],
)
def test_next_start_keeps_the_zone(window, moment, next_start):
    got = TimeWindow.parse(window).next_start(dt.datetime.fromisoformat(moment).replace(tzinfo=BJ))
    assert got == dt.datetime.fromisoformat(next_start).replace(tzinfo=BJ) and got.tzinfo is BJ


@pytest.mark.parametrize(
    ("value", "expected"),
    [("08:00", dt.time(8)), ("23:59", dt.time(23, 59)), (" 07:05 ", dt.time(7, 5)), ("08:00:30", dt.time(8, 0, 30)),
     (dt.time(22, 0), dt.time(22))],  # a TOML local time arrives as datetime.time
)
def test_parse_clock(value, expected):
    assert parse_clock(value) == expected


@pytest.mark.parametrize("value", ["8:00", "24:00", "12:60", "noon", "0800", dt.time(8, tzinfo=BJ), dt.time(8, 0, 0, 5), 8])
def test_parse_clock_refuses_quoting_the_value(value):
    with pytest.raises(TimeWindowError, match=re.escape(repr(value))):
        parse_clock(value)


def test_of_reads_separate_ends_and_refuses_zones():
    assert TimeWindow.of("22:00", dt.time(7)) == TimeWindow(dt.time(22), dt.time(7))
    with pytest.raises(TimeWindowError):
        TimeWindow(dt.time(8, tzinfo=BJ), dt.time(9))


def test_the_api_patterns_accept_exactly_minutes():
    assert re.match(WINDOW_PATTERN, "08:00-08:00") and re.match(CLOCK_PATTERN, "23:59")
    for bad in ("24:00-07:00", "8:00-09:00", "08:00-09:00:00"):
        assert not re.match(WINDOW_PATTERN, bad)


@given(st.times(), st.times(), st.times())
def test_a_window_and_its_reverse_split_the_day(start, end, clock):
    """Across midnight is exactly the complement of the same ends read the other way (unless whole day)."""
    start, end = start.replace(microsecond=0), end.replace(microsecond=0)
    forward, reverse = TimeWindow(start, end), TimeWindow(end, start)
    if start == end:
        assert forward.contains(clock) and reverse.contains(clock)
    else:
        assert forward.contains(clock) != reverse.contains(clock)


@given(st.times(), st.times(), st.datetimes(min_value=dt.datetime(2000, 1, 2), max_value=dt.datetime(2100, 1, 1)))
def test_started_on_is_a_start_at_most_one_duration_before(start, end, moment):
    w = TimeWindow(start.replace(microsecond=0), end.replace(microsecond=0))
    day = w.started_on(moment)
    if day is None:
        assert not w.contains(moment.time())
        return
    began = dt.datetime.combine(day, w.start)
    assert began <= moment < began + w.duration
