"""WorkingCalendar: working days (weekends, holidays, make-up workdays) and working-time arithmetic."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcenter.workcalendar import CalendarError, WorkingCalendar

SH = ZoneInfo("Asia/Shanghai")
# National Day week (Thu 1 - Wed 7 October), a Monday holiday (19 October), a make-up Saturday (10 October).
CAL = WorkingCalendar.build(SH, holidays=["2026-10-01..2026-10-07", "2026-10-19"], workdays=["2026-10-10"])


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=SH)


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def test_working_days_weekends_holidays_and_make_up_days():
    assert CAL.is_working_day(d("2026-09-30"))  # Wednesday
    assert not CAL.is_working_day(d("2026-09-26"))  # Saturday
    assert CAL.is_holiday(d("2026-09-27"))  # Sunday: a day off, for campaigns' "holiday" windows
    assert all(CAL.is_holiday(d(f"2026-10-0{n}")) for n in range(1, 8))
    assert CAL.is_working_day(d("2026-10-08"))
    assert CAL.is_working_day(d("2026-10-10"))  # make-up Saturday
    assert not CAL.is_holiday(d("2026-10-10"))
    assert CAL.is_holiday(d("2026-10-19"))  # Monday holiday


def test_friday_evening_complaint_before_a_monday_holiday_is_due_wednesday():
    assert CAL.add_working_days(at("2026-10-16 16:00"), 2) == at("2026-10-21 17:30")
    assert CAL.add_working_days(at("2026-10-16 23:00"), 2) == at("2026-10-21 17:30")
    # Before the holiday week: Wed 30 Sep (1), then Thu 8 Oct (2).
    assert CAL.add_working_days(at("2026-09-29 10:00"), 2) == at("2026-10-08 17:30")
    # The make-up Saturday counts: Fri 9 Oct -> Sat 10 Oct (1), Mon 12 Oct (2).
    assert CAL.add_working_days(at("2026-10-09 09:00"), 2) == at("2026-10-12 17:30")
    assert CAL.add_working_days(at("2026-10-09 09:00"), 1) == at("2026-10-10 17:30")


def test_end_of_working_day():
    assert CAL.end_of_working_day(at("2026-09-30 09:00")) == at("2026-09-30 17:30")
    assert CAL.end_of_working_day(at("2026-09-30 17:29")) == at("2026-09-30 17:30")
    assert CAL.end_of_working_day(at("2026-09-30 17:30")) == at("2026-10-08 17:30")  # after hours, holiday week
    assert CAL.end_of_working_day(at("2026-10-09 18:00")) == at("2026-10-10 17:30")  # make-up Saturday next
    assert CAL.end_of_working_day(at("2026-10-18 12:00")) == at("2026-10-20 17:30")  # Sunday, Monday holiday
    # A moment in another zone is read in the hospital's: 09:00 UTC is 17:00 in Shanghai.
    assert CAL.end_of_working_day(dt.datetime(2026, 9, 30, 9, 0, tzinfo=dt.UTC)) == at("2026-09-30 17:30")


def test_add_working_hours_skips_lunch_nights_weekends_and_holidays():
    assert CAL.add_working_hours(at("2026-09-28 08:00"), 4) == at("2026-09-28 12:00")  # a period's end
    assert CAL.add_working_hours(at("2026-09-28 11:00"), 2) == at("2026-09-28 14:30")  # over lunch
    assert CAL.add_working_hours(at("2026-09-28 12:30"), 1) == at("2026-09-28 14:30")  # starts in lunch
    assert CAL.add_working_hours(at("2026-09-30 16:30"), 2) == at("2026-10-08 09:00")  # over the holiday week
    assert CAL.add_working_hours(at("2026-10-16 17:00"), 1) == at("2026-10-20 08:30")  # weekend + Monday holiday
    assert CAL.add_working_hours(at("2026-09-26 10:00"), 0.5) == at("2026-09-28 08:30")  # from a Saturday
    assert CAL.add_working_hours(at("2026-09-28 08:00"), 16) == at("2026-09-29 17:30")


def test_working_time_between():
    assert CAL.working_time_between(at("2026-09-28 08:00"), at("2026-09-28 17:30")) == dt.timedelta(hours=8)
    assert CAL.working_time_between(at("2026-09-30 17:30"), at("2026-10-08 12:00")) == dt.timedelta(hours=4)
    assert CAL.working_time_between(at("2026-10-16 17:30"), at("2026-10-19 23:00")) == dt.timedelta(0)
    assert CAL.working_time_between(at("2026-09-28 12:00"), at("2026-09-28 08:00")) == dt.timedelta(0)


@given(
    start=st.datetimes(min_value=dt.datetime(2026, 9, 1), max_value=dt.datetime(2026, 12, 31)),
    minutes=st.integers(min_value=1, max_value=60 * 60),
)
def test_adding_working_hours_then_measuring_gives_them_back(start, minutes):
    start = start.replace(tzinfo=SH)
    end = CAL.add_working_hours(start, minutes / 60)
    assert CAL.working_time_between(start, end) == dt.timedelta(minutes=minutes)
    assert CAL.is_working_day(end.date())


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"weekdays": ["mon", "funday"]}, "funday"),
        ({"hours": ["08:00-12:00", "11:00-13:00"]}, "overlap"),
        ({"hours": ["22:00-06:00"]}, "same day"),
        ({"hours": ["8-12"]}, "8-12"),
        ({"hours": []}, "at least one working window"),
        ({"weekdays": []}, "at least one working day"),
        ({"holidays": ["2026-13-01"]}, "2026-13-01"),
        ({"holidays": ["2026-10-07..2026-10-01"]}, "ends before"),
        ({"workdays": ["tomorrow"]}, "workdays"),
    ],
)
def test_bad_calendars_are_refused_naming_the_problem(kwargs, words):
    with pytest.raises(CalendarError, match=words):
        WorkingCalendar.build(SH, **kwargs)


def test_naive_moments_are_refused():
    with pytest.raises(ValueError, match="naive"):
        CAL.end_of_working_day(dt.datetime(2026, 9, 28, 9, 0))
