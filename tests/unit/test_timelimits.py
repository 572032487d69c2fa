"""Time limits by category, their deadlines on the working calendar, the overdue ladder, their settings."""

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from callcenter import settings as config
from callcenter.exceptions import ConfigError
from callcenter.workcalendar import WorkingCalendar
from callcenter.workorders.lifecycle import CATEGORIES
from callcenter.workorders.service import WorkOrderService
from callcenter.workorders.timelimits import Ladder, Limit, LimitError, due_at, ladder_level, parse_limit, parse_table

SH = ZoneInfo("Asia/Shanghai")
CAL = WorkingCalendar.build(SH, holidays=["2026-10-01..2026-10-07", "2026-10-19"], workdays=["2026-10-10"])
TABLE = parse_table(config.Settings().workorders.time_limits)
GRACE = dt.timedelta(minutes=15)


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=SH)


@pytest.mark.parametrize(
    ("text", "limit", "shown"),
    [
        ("on_call", Limit("on_call"), "on_call"),
        ("Same day", Limit("same_day"), "same_day"),
        ("2 working days", Limit("working_days", 2), "2 working days"),
        ("1 working day", Limit("working_days", 1), "1 working day"),
        (" 4  working-hours ", Limit("working_hours", 4), "4 working hours"),
    ],
)
def test_parse_limit(text, limit, shown):
    assert parse_limit(text) == limit
    assert str(limit) == shown
    assert parse_limit(str(limit)) == limit


@pytest.mark.parametrize("text", ["", "soon", "0 working days", "2 days", "-1 working hours", "2.5 working days", 3, None])
def test_bad_limits_are_refused_quoting_the_text(text):
    with pytest.raises(LimitError, match="is not a time limit"):
        parse_limit(text)


def test_a_table_names_the_bad_category():
    with pytest.raises(LimitError, match="^haircut: not a category"):
        parse_table({"haircut": "on_call"}, CATEGORIES)
    assert parse_table({"haircut": "on_call"}) == {"haircut": Limit("on_call")}  # names unchecked without the list
    with pytest.raises(LimitError, match="^complaint: 'two days'"):
        parse_table({"complaint": "two days"})
    with pytest.raises(LimitError, match="^escalation: .*on the call"):
        parse_table({"escalation": "on_call"})


def test_default_deadlines_per_category():
    opened, ended = at("2026-10-16 16:00"), at("2026-10-16 16:05")  # a Friday before the Monday holiday

    def due(category, escalated=None, opened=opened, ended=ended):
        found = due_at(category, opened, ended, escalated, CAL, TABLE, GRACE)
        return found.astimezone(SH) if found else None

    assert due("registration") == at("2026-10-16 16:20")  # on the call, plus the wrap-up grace
    assert due("registration", ended=None) is None  # the call goes on
    assert due("medical") == at("2026-10-16 17:30")
    assert due("medical", opened=at("2026-10-16 18:00")) == at("2026-10-20 17:30")  # after hours: next working day
    assert due("complaint") == at("2026-10-21 17:30")  # Tue 20 (1), Wed 21 (2)
    assert due("suggestion") == at("2026-10-26 17:30")
    assert due(None) is None
    # Escalated: the department's 5 working days from the escalation, unless the category's is later.
    assert due("registration", escalated=at("2026-10-16 16:03")) == at("2026-10-26 17:30")
    # Over the holiday week: Thu 8 (1), Fri 9 (2), the make-up Saturday 10 (3), Mon 12 (4), Tue 13 (5).
    assert due(None, escalated=at("2026-09-30 10:00")) == at("2026-10-13 17:30")
    # A UTC answer, whatever the zone given.
    assert due_at("complaint", opened, ended, None, CAL, TABLE).tzinfo == dt.UTC


def test_working_hours_limit():
    table = parse_table({"medical": "4 working hours"})
    assert due_at("medical", at("2026-09-30 15:00"), None, None, CAL, table) == at("2026-10-08 09:30")  # 2h30 + 1h30


@pytest.mark.parametrize(
    ("now", "level", "level_without_department"),
    [
        ("2026-10-21 17:30", 0, 0),  # the deadline itself is on time
        ("2026-10-21 17:31", 1, 1),  # the operator
        ("2026-10-22 11:59", 1, 1),  # 3h59 of working time late
        ("2026-10-22 12:00", 2, 2),  # 4 working hours: the supervisor
        ("2026-10-22 17:29", 2, 2),
        ("2026-10-22 17:30", 3, 2),  # 8 working hours: the department's head (with a department)
    ],
)
def test_ladder_levels_count_working_time(now, level, level_without_department):
    deadline, steps = at("2026-10-21 17:30"), Ladder(4, 8)
    assert ladder_level(deadline, at(now), CAL, steps) == level
    assert ladder_level(deadline, at(now), CAL, steps, has_department=False) == level_without_department


def test_the_ladder_does_not_climb_over_a_holiday_week():
    deadline, steps = at("2026-09-30 16:00"), Ladder(4, 8)
    assert ladder_level(deadline, at("2026-10-07 23:00"), CAL, steps) == 1  # 1h30 of working time late
    assert ladder_level(deadline, at("2026-10-08 10:30"), CAL, steps) == 2
    assert ladder_level(None, at("2026-10-08 10:30"), CAL, steps) == 0
    with pytest.raises(LimitError):
        Ladder(8, 4)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "callcenter.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_settings_merge_limits_and_read_the_calendar(tmp_path):
    loaded = config.load(write(tmp_path, """
[workorders.time_limits]
complaint = "3 working days"
[calendar]
holidays = ["2026-10-01..2026-10-07", 2026-10-19]
workdays = [2026-10-10]
"""), env={})
    assert loaded.workorders.time_limits["complaint"] == "3 working days"
    assert loaded.workorders.time_limits["medical"] == "same_day"  # the defaults stay
    calendar = WorkingCalendar.of(loaded)
    assert calendar.is_holiday(dt.date(2026, 10, 19)) and calendar.is_working_day(dt.date(2026, 10, 10))


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[workorders.time_limits]\ncomplaint = "soon"', "workorders.time_limits.complaint: 'soon' is not a time limit"),
        ('[workorders]\ntime_limits = "x"', r"\[workorders.time_limits\] must be a table"),
        ('[calendar]\nholidays = ["2026-02-30"]', "calendar.holidays: '2026-02-30'"),
        ('[calendar]\nhours = ["08:00-12:00", "11:00-14:00"]', "calendar.hours: .*overlap"),
        ('[calendar]\nweekdays = ["mon", "moon"]', "calendar.weekdays: 'moon'"),
        ("[workorders]\nsupervisor_after_hours = 9", "supervisor_after_hours <= head_after_hours"),
    ],
)
def test_broken_settings_are_refused_naming_the_key(tmp_path, text, words):
    with pytest.raises(ConfigError, match=words):
        config.load(write(tmp_path, text), env={})


def test_an_unknown_category_is_refused_when_the_work_orders_start(tmp_path):
    loaded = config.load(write(tmp_path, '[workorders.time_limits]\nhaircut = "on_call"'), env={})
    with pytest.raises(ConfigError, match="workorders.time_limits.haircut: not a category"):
        WorkOrderService(None, loaded)  # type: ignore[arg-type]
