"""The wallboard's charts (callcenter/web/trend.py): quarter hours by hand-counted rows, last week's
same weekday, empty bins, a local day in Asia/Shanghai, the waiting samples, the wall screen's message."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from callcenter.web import figures, trend
from callcenter.web.figures import CallRow, Ring

SH = ZoneInfo("Asia/Shanghai")
DAY = dt.date(2026, 11, 30)  # a Monday


def local(hh: int, mm: int, ss: int = 0, day: dt.date = DAY) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hh, mm, ss), SH).astimezone(dt.UTC)


def call(at: dt.datetime, *, answered: bool = True, within: bool | None = True, rang: bool = True) -> CallRow:
    return CallRow(arrived_at=at, call_status="completed" if answered else "abandoned",
                   agent_id="1001" if answered else None,
                   rings=(Ring("1001", at, "answered" if answered else "caller_left"),) if rang else (),
                   answered_at=at + dt.timedelta(seconds=5) if answered else None,
                   within_two_rings=within if answered else None)


def test_quarter_hours_by_hand() -> None:
    rows = [
        call(local(8, 0, 0)),                        # 08:00 bin, within
        call(local(8, 14, 59), within=False),        # 08:00 bin, answered late
        call(local(8, 15, 0)),                       # 08:15 bin (the edge belongs to the next quarter)
        call(local(8, 20), answered=False),          # 08:15 bin, rang, the caller left
        call(local(8, 29), answered=False, rang=False),  # 08:15 bin, hung up in the menu: not offered to an operator
        call(local(23, 59, 59)),                     # the last bin
    ]
    bins = trend.quarters(rows, SH)
    assert len(bins) == 96 and bins[0]["start"] == "00:00" and bins[95]["start"] == "23:45"
    b800, b815 = bins[32], bins[33]
    assert b800 == {"start": "08:00", "offered": 2, "offered_to_agent": 2, "within_two_rings": 1, "service_level": 0.5}
    assert b815 == {"start": "08:15", "offered": 3, "offered_to_agent": 2, "within_two_rings": 1, "service_level": 0.5}
    assert bins[95]["offered"] == 1 and bins[95]["service_level"] == 1.0
    # Empty bins are present, with no service level (nothing offered), not 0%.
    empty = [b for i, b in enumerate(bins) if i not in (32, 33, 95)]
    assert len(empty) == 93
    assert all(b["offered"] == 0 and b["offered_to_agent"] == 0 and b["service_level"] is None for b in empty)
    # The quarters add up to the report's hours, under the same definition.
    hours = figures.by_hour(rows, SH)
    for hour in range(24):
        quarter = bins[hour * 4:hour * 4 + 4]
        assert sum(b["offered"] for b in quarter) == hours[hour]["offered"]
        assert sum(b["within_two_rings"] for b in quarter) == hours[hour]["within_two_rings"]
        assert sum(b["offered_to_agent"] for b in quarter) == hours[hour]["offered_to_agent"]


def test_a_shanghai_day_starts_at_16_utc_the_day_before() -> None:
    start, end = figures.local_day_bounds(DAY, SH)
    assert start == dt.datetime(2026, 11, 29, 16, tzinfo=dt.UTC) and end == dt.datetime(2026, 11, 30, 16, tzinfo=dt.UTC)
    rows = [call(dt.datetime(2026, 11, 29, 16, 10, tzinfo=dt.UTC)),   # 00:10 local: bin 0
            call(dt.datetime(2026, 11, 30, 15, 50, tzinfo=dt.UTC))]   # 23:50 local: bin 95
    bins = trend.quarters(rows, SH)
    assert bins[0]["offered"] == 1 and bins[95]["offered"] == 1
    assert sum(b["offered"] for b in bins) == 2
    # A UTC day's bins would be 8 hours off: the 16:10 UTC call is not in the 16:00 bin.
    assert bins[64]["offered"] == 0


def test_today_beside_the_same_weekday_last_week() -> None:
    last_week_day = DAY - dt.timedelta(days=7)
    today_rows = [call(local(9, 5)), call(local(9, 10), within=False)]
    last_rows = [call(local(9, 1, day=last_week_day)), call(local(9, 2, day=last_week_day)),
                 call(local(9, 3, day=last_week_day)), call(local(10, 0, day=last_week_day), within=False)]
    series = trend.day(today_rows, last_rows, SH, DAY, local(9, 31))
    assert series["day"] == "2026-11-30" and series["last_week_day"] == "2026-11-23"
    assert dt.date.fromisoformat(series["last_week_day"]).weekday() == DAY.weekday()
    assert series["now_bin"] == 38  # 09:30-09:45
    assert series["today"][36]["offered"] == 2 and series["today"][36]["service_level"] == 0.5
    assert series["last_week"][36]["offered"] == 3 and series["last_week"][36]["service_level"] == 1.0
    assert series["last_week"][40]["offered"] == 1 and series["last_week"][40]["service_level"] == 0.0
    assert series["today"][40]["offered"] == 0
    # A moment of another day (the page asked just after midnight): every bin is in the past.
    assert trend.day([], [], SH, DAY, local(0, 5, day=DAY + dt.timedelta(days=1)))["now_bin"] == 95


def test_waiting_samples_every_n_seconds_over_the_last_hour() -> None:
    samples = trend.WaitingSamples(every=15.0, span=3600.0)
    assert samples.add(1000.0, 2)
    assert not samples.add(1010.0, 5)  # not due yet: dropped
    assert samples.add(1015.0, 3)
    assert samples.series(1015.0) == [[1000.0, 2], [1015.0, 3]]
    for i in range(1, 300):  # 75 minutes later
        samples.add(1015.0 + 15 * i, i % 4)
    now = 1015.0 + 15 * 299
    series = samples.series(now)
    assert series[0][0] >= now - 3600 and series[-1] == [now, 299 % 4]
    assert len(series) == 241  # 3600 / 15 + 1: an hour of samples, ends included
    assert samples.series(now + 1800) == [s for s in series if s[0] >= now - 1800]  # older samples leave the chart


def test_the_wall_screen_message_carries_no_caller_or_alert() -> None:
    board = {
        "type": "wallboard", "now": 5000.0, "target": 0.8, "long_wait_alert": 60,
        "calls": [
            {"call_id": "c1", "caller_number": "13800000001", "callback": False, "state": "waiting", "waiting_since": 4900.0},
            {"call_id": "c2", "caller_number": "13800000002", "callback": False, "state": "offered", "waiting_since": 4950.0},
            {"call_id": "c3", "caller_number": "13800000003", "callback": True, "state": "waiting", "waiting_since": 4000.0},
            {"call_id": "c4", "caller_number": "13800000004", "callback": False, "state": "connected", "waiting_since": 3000.0},
        ],
        "callbacks_waiting": 1,
        "agents": [{"agent_id": "1001", "name": "王", "state": "on_call", "since": 4000.0, "reason": None,
                    "registered": True, "call_id": "c4", "answer": {"likely": True}}],
        "today": {"offered": 4, "agents": []}, "trend": {"today": []},
        "alerts": [{"kind": "long_wait", "caller_number": "13800000001"}], "ladder": [{"ticket_id": 1}],
    }
    screen = trend.screen(board)
    assert screen["type"] == "wallscreen" and screen["waiting"] == 2 and screen["longest_since"] == 4900.0
    assert screen["agents"] == [{"agent_id": "1001", "name": "王", "state": "on_call", "since": 4000.0,
                                 "reason": None, "registered": True}]
    text = repr(screen)
    assert "138000" not in text and "c4" not in text and "alerts" not in screen and "ladder" not in screen
