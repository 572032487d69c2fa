"""Sampled satisfaction campaigns, the pure parts: the seeded draw and the day-dependent windows."""

from __future__ import annotations

import datetime as dt
import itertools
import random
from zoneinfo import ZoneInfo

import pytest

from callcenter.outbound.planner import (
    Capacity,
    DayWindows,
    ListTask,
    in_windows,
    next_window_start,
    parse_windows,
    plan,
)
from callcenter.outbound.sampling import Closed, draw, group_size
from callcenter.workcalendar import WorkingCalendar

TZ = ZoneInfo("Asia/Shanghai")


def tickets(per_department: dict[int | None, int]) -> list[Closed]:
    out, n = [], 0
    for department, count in per_department.items():
        for _ in range(count):
            n += 1
            out.append(Closed(n, department, f"1390000{n:04d}"))
    return out


def test_the_same_seed_draws_the_same_sample_whatever_the_order():
    pool = tickets({1: 30, 2: 12, None: 7})
    shuffled = pool[:]
    random.Random(5).shuffle(shuffled)
    first = draw(pool, 42, per_department=5)
    assert draw(shuffled, 42, per_department=5) == first
    assert draw(pool, 43, per_department=5) != first  # another seed, another sample


def test_counts_per_department_and_the_group_without_one():
    sample = draw(tickets({1: 30, 2: 3, None: 7}), 7, per_department=5)
    counts = {d: sum(1 for t in sample if t.department_id == d) for d in (1, 2, None)}
    assert counts == {1: 5, 2: 3, None: 5}
    assert [t.department_id for t in sample] == [1] * 5 + [2] * 3 + [None] * 5  # grouped, department order
    assert len({t.ticket_id for t in sample}) == len(sample)


def test_a_share_rounds_up_per_group():
    assert group_size(30, None, 0.1) == 3
    assert group_size(7, None, 0.1) == 1
    assert group_size(10, None, 0.25) == 3
    assert group_size(4, None, 1.0) == 4
    sample = draw(tickets({1: 30, 2: 7}), 1, share=0.1)
    assert sum(t.department_id == 1 for t in sample) == 3 and sum(t.department_id == 2 for t in sample) == 1


def test_no_number_twice_even_across_departments():
    # one patient with many tickets in two departments; everyone else once
    pool = [Closed(n, 1 if n <= 10 else 2, "13900000001") for n in range(1, 21)]
    pool += [Closed(100 + n, 2, f"1380000{n:04d}") for n in range(3)]
    for seed in range(50):
        sample = draw(pool, seed, per_department=4)
        numbers = [t.number for t in sample]
        assert len(numbers) == len(set(numbers))
        assert sum(t.department_id == 1 for t in sample) == 1  # department 1 has one distinct patient
        assert sum(t.department_id == 2 for t in sample) == 3  # the shared patient is not drawn twice


def test_a_department_sample_does_not_move_when_another_grows():
    base = tickets({1: 20, 2: 20})
    grown = base + [Closed(1000 + n, 2, f"1370000{n:04d}") for n in range(10)]
    one = [t for t in draw(base, 9, per_department=4) if t.department_id == 1]
    assert one == [t for t in draw(grown, 9, per_department=4) if t.department_id == 1]


def test_tickets_without_a_number_are_never_drawn():
    pool = [Closed(1, 1, ""), Closed(2, 1, "13900000002")]
    assert draw(pool, 3, per_department=5) == [Closed(2, 1, "13900000002")]


# -- windows by the kind of day ----------------------------------------------------------------------

# Mon 2026-09-28 .. Wed 2026-10-07: working days, then the National Day holiday (Oct 1-7);
# Sat 2026-10-10 is a make-up working day (调休), Sun 2026-10-11 a weekend day.
CALENDAR = WorkingCalendar.build(TZ, holidays=[dt.date(2026, 10, d) for d in range(1, 8)],
                                 workdays=[dt.date(2026, 10, 10)])
WORKDAY = parse_windows(["08:00-09:00", "12:00-13:30", "18:30-20:30"])
HOLIDAY = parse_windows(["09:30-11:30", "15:00-20:00"])
FREE = DayWindows(WORKDAY, HOLIDAY, CALENDAR.is_holiday)


def local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ)


def test_windows_follow_the_kind_of_day():
    tuesday, holiday, makeup, sunday = (dt.date(2026, 9, 29), dt.date(2026, 10, 2), dt.date(2026, 10, 10),
                                        dt.date(2026, 10, 11))
    assert in_windows(local(tuesday, 8, 30), FREE, TZ) and not in_windows(local(tuesday, 10), FREE, TZ)
    assert in_windows(local(holiday, 10), FREE, TZ) and not in_windows(local(holiday, 8, 30), FREE, TZ)
    assert in_windows(local(makeup, 8, 30), FREE, TZ) and not in_windows(local(makeup, 10), FREE, TZ)
    assert in_windows(local(sunday, 16), FREE, TZ) and not in_windows(local(sunday, 12, 30), FREE, TZ)
    # Wednesday Sep 30 after the evening window: the next start is the holiday's morning, 09:30
    assert next_window_start(local(dt.date(2026, 9, 30), 21), FREE, TZ) == local(dt.date(2026, 10, 1), 9, 30)
    # the last holiday evening: then a working Thursday's 08:00
    assert next_window_start(local(dt.date(2026, 10, 7), 20), FREE, TZ) == local(dt.date(2026, 10, 8), 8)


def test_an_overnight_window_belongs_to_the_day_it_starts_on():
    late = DayWindows(parse_windows(["22:00-01:00"]), parse_windows(["10:00-11:00"]), CALENDAR.is_holiday)
    # Wed Sep 30 22:00 (a working day) runs into the holiday's first hour; the holiday's own 22:00 is not a window
    assert in_windows(local(dt.date(2026, 10, 1), 0, 30), late, TZ)
    assert not in_windows(local(dt.date(2026, 10, 1), 22, 30), late, TZ)
    assert not in_windows(local(dt.date(2026, 10, 2), 0, 30), late, TZ)


def in_a_window_of_its_day(moment: dt.datetime) -> bool:
    """Independent check: the local clock lies in one of the windows of that day's kind (no overnight windows here)."""
    day = moment.astimezone(TZ)
    windows = HOLIDAY if CALENDAR.is_holiday(day.date()) else WORKDAY
    return any(w.start <= day.time() < w.end for w in windows)


def test_walking_the_clock_minute_by_minute_a_campaign_is_dialled_only_in_its_windows():
    """A working day, the holidays, a make-up Saturday and a Sunday: every "dial now" lies in a window of its day."""
    start, end = local(dt.date(2026, 9, 29), 0), local(dt.date(2026, 10, 12), 0)
    tasks = {n: ListTask(n, start, due_by=end, windows=FREE) for n in range(1, 4)}  # topped up: always work to do
    capacity = Capacity(per_hour=12, concurrent=1)
    starts: list[dt.datetime] = []
    dialled_days: set[tuple[dt.date, bool]] = set()
    now = start
    while now < end:
        decided = plan(tasks.values(), now, WORKDAY, TZ, capacity, recent_starts=starts[-20:])
        for task_id in decided.dial:
            assert in_a_window_of_its_day(now), now
            dialled_days.add((now.date(), CALENDAR.is_holiday(now.date())))
            starts.append(now)
            del tasks[task_id]
            tasks[task_id + 1000] = ListTask(task_id + 1000, start, due_by=end, windows=FREE)
        if decided.wake_at is not None:  # the planner's own wake-up never points before a window either
            assert decided.wake_at >= now
        now += dt.timedelta(minutes=1)
    days = {d for d, _ in dialled_days}
    assert len(days) == 13  # every day of the walk had calls
    assert {h for _, h in dialled_days} == {True, False}
    # the pace: 12 an hour at most
    assert all(b - a >= dt.timedelta(minutes=5) for a, b in itertools.pairwise(starts))
    # the plan's windows (a plain list) still hold for tasks without their own: 10:00 on a working Tuesday is not one
    plain = plan([ListTask(1, start)], local(dt.date(2026, 9, 29), 10), WORKDAY, TZ, capacity)
    assert plain.dial == () and plain.wake_at == local(dt.date(2026, 9, 29), 12)


def test_next_window_start_with_no_windows_on_any_day_is_none():
    empty = DayWindows((), (), CALENDAR.is_holiday)
    assert next_window_start(local(dt.date(2026, 9, 29), 10), empty, TZ) is None
    decided = plan([ListTask(1, local(dt.date(2026, 9, 29), 0), windows=empty)], local(dt.date(2026, 9, 29), 10),
                   WORKDAY, TZ, Capacity(60, 1))
    assert decided.dial == () and decided.wake_at is None


@pytest.mark.parametrize("moment", [local(dt.date(2026, 10, 3), 12), local(dt.date(2026, 9, 29), 11)])
def test_wake_at_is_the_start_of_the_next_window_of_the_right_kind(moment):
    decided = plan([ListTask(1, moment - dt.timedelta(hours=1), windows=FREE)], moment, WORKDAY, TZ, Capacity(60, 1))
    assert decided.dial == ()
    assert in_a_window_of_its_day(decided.wake_at)
    assert not any(in_windows(moment + dt.timedelta(minutes=m), FREE, TZ)
                   for m in range(int((decided.wake_at - moment).total_seconds() // 60)))


# -- settings --------------------------------------------------------------------------------------------


def test_campaign_settings_are_checked_at_load(tmp_path):
    from callcenter.exceptions import ConfigError
    from callcenter.settings import load

    path = tmp_path / "c.toml"
    path.write_text('[campaigns]\nholiday_windows = ["09:30-11:30", "3pm-8pm"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"campaigns\.holiday_windows: '3pm-8pm'"):
        load(path, env={})
    path.write_text("[campaigns]\ndays = 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="campaigns: days"):
        load(path, env={})
    path.write_text('[campaigns]\nworkday_windows = ["07:30-08:30"]\n', encoding="utf-8")
    settings = load(path, env={})
    assert settings.campaigns.workday_windows == ("07:30-08:30",)
    assert settings.campaigns.holiday_windows == ("09:30-11:30", "15:00-20:00")
