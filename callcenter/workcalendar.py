"""The hospital's working calendar: working days, working hours, holidays (pure, no I/O, no clock).

Theory of operation
-------------------
A day is a *working day* when its weekday is one of ``weekdays`` (default Monday to Friday) and it
is not one of ``holidays``, or when it is one of ``workdays``: China's make-up working days (调休),
a Saturday or Sunday worked to pay for a long holiday.  ``workdays`` win over everything else.
On a working day the *working time* is the ``hours`` windows (``callcenter/timewindow.py``, default
``"08:00-12:00"`` and ``"13:30-17:30"``), in the hospital's zone; each window lies within its day
(start before end) and they do not overlap.

Every function takes and returns timezone-aware datetimes (any zone; results are in the calendar's
zone) and plain local dates.  Time limits (``callcenter/workorders/timelimits.py``) and campaigns'
"holiday" windows are built on this:

- ``add_working_hours(start, h)``: the moment ``h`` hours of working time after ``start``;
- ``add_working_days(start, n)``: the end of the n-th working day after ``start``'s local day
  ("within 2 working days" of a Friday-evening complaint before a Monday holiday: Wednesday 17:30);
- ``end_of_working_day(moment)``: the end of ``moment``'s working day, or of the next one when
  ``moment`` is after hours or on a day off;
- ``working_time_between(a, b)``: how much working time lies in [a, b).

A calendar with no working day within ``HORIZON_DAYS`` of a moment raises ``CalendarError``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from callcenter.timewindow import TimeWindow

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
DEFAULT_HOURS = ("08:00-12:00", "13:30-17:30")
HORIZON_DAYS = 400  # how far a walk looks for the next working day before it gives up
DAY = dt.timedelta(days=1)


class CalendarError(ValueError):
    """A calendar that cannot be built or used; the message says what is wrong."""


@dataclass(frozen=True)
class WorkingCalendar:
    """Working days and hours of the hospital, in its time zone ``zone``."""

    zone: dt.tzinfo
    weekdays: frozenset[int] = frozenset(range(5))  # date.weekday(): 0 Monday .. 6 Sunday
    hours: tuple[TimeWindow, ...] = field(default_factory=lambda: tuple(TimeWindow.parse(w) for w in DEFAULT_HOURS))
    holidays: frozenset[dt.date] = frozenset()
    workdays: frozenset[dt.date] = frozenset()  # make-up working days (调休), working whatever their weekday

    def __post_init__(self) -> None:
        if not self.hours:
            raise CalendarError("hours: give at least one working window, e.g. \"08:00-17:30\"")
        if not self.weekdays and not self.workdays:
            raise CalendarError("weekdays: give at least one working day, e.g. [\"mon\", \"fri\"]")
        ordered = sorted(self.hours, key=lambda w: w.start)
        for window in ordered:
            if not window.start < window.end:
                raise CalendarError(f"hours: {str(window)!r}: a working window must start and end on the same day")
        for before, after in zip(ordered, ordered[1:]):
            if after.start < before.end:
                raise CalendarError(f"hours: {str(before)!r} and {str(after)!r} overlap")
        object.__setattr__(self, "hours", tuple(ordered))

    @classmethod
    def build(
        cls,
        zone: dt.tzinfo,
        *,
        weekdays: Iterable[str] = DEFAULT_WEEKDAYS,
        hours: Iterable[str] = DEFAULT_HOURS,
        holidays: Iterable[dt.date | str] = (),
        workdays: Iterable[dt.date | str] = (),
    ) -> WorkingCalendar:
        """A calendar from settings' text: weekday names, ``"HH:MM-HH:MM"`` windows, dates (ISO text or dates)."""
        days = set()
        for name in weekdays:
            key = str(name).strip().lower()[:3]
            if key not in WEEKDAYS:
                raise CalendarError(f"weekdays: {name!r} is not one of {', '.join(WEEKDAYS)}")
            days.add(WEEKDAYS.index(key))
        try:
            windows = tuple(TimeWindow.parse(text) for text in hours)
        except ValueError as err:
            raise CalendarError(f"hours: {err}") from None
        return cls(zone=zone, weekdays=frozenset(days), hours=windows,
                   holidays=frozenset(_dates(holidays, "holidays")), workdays=frozenset(_dates(workdays, "workdays")))

    @classmethod
    def of(cls, settings: Any) -> WorkingCalendar:
        """The calendar of ``settings`` (``[calendar]`` in ``[hospital] timezone``; ``callcenter.settings``)."""
        cal = settings.calendar
        return cls.build(settings.hospital.zone, weekdays=cal.weekdays, hours=cal.hours, holidays=cal.holidays,
                         workdays=cal.workdays)

    # -- days -------------------------------------------------------------------------------------

    def is_working_day(self, day: dt.date) -> bool:
        """A weekday that is not a holiday, or a make-up working day."""
        if day in self.workdays:
            return True
        return day.weekday() in self.weekdays and day not in self.holidays

    def is_holiday(self, day: dt.date) -> bool:
        """A day off: a holiday or a weekend (not a make-up working day)."""
        return not self.is_working_day(day)

    def periods(self, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        """The working periods of ``day`` as aware local [start, end) pairs; empty on a day off."""
        if not self.is_working_day(day):
            return []
        return [(self._at(day, w.start), self._at(day, w.end)) for w in self.hours]

    def next_working_day(self, day: dt.date) -> dt.date:
        """The first working day strictly after ``day``."""
        for offset in range(1, HORIZON_DAYS + 1):
            candidate = day + dt.timedelta(days=offset)
            if self.is_working_day(candidate):
                return candidate
        raise CalendarError(f"no working day within {HORIZON_DAYS} days after {day.isoformat()}")

    def day_end(self, day: dt.date) -> dt.datetime:
        """The end of the last working window of ``day`` (whether or not ``day`` is a working day)."""
        return self._at(day, self.hours[-1].end)

    # -- moments ----------------------------------------------------------------------------------

    def end_of_working_day(self, moment: dt.datetime) -> dt.datetime:
        """The end of ``moment``'s working day; after hours or on a day off, the end of the next working day."""
        day = self._local(moment).date()
        if self.is_working_day(day) and moment < self.day_end(day):
            return self.day_end(day)
        return self.day_end(self.next_working_day(day))

    def add_working_days(self, start: dt.datetime, n: int) -> dt.datetime:
        """The end of the n-th working day after ``start``'s local day (n=0: ``end_of_working_day``)."""
        if n < 0:
            raise CalendarError(f"working days to add: {n} is negative")
        if n == 0:
            return self.end_of_working_day(start)
        day = self._local(start).date()
        for _ in range(n):
            day = self.next_working_day(day)
        return self.day_end(day)

    def add_working_hours(self, start: dt.datetime, hours: float) -> dt.datetime:
        """The moment ``hours`` of working time after ``start`` (a period's end, not the next one's start)."""
        if hours < 0:
            raise CalendarError(f"working hours to add: {hours} is negative")
        left = dt.timedelta(hours=hours)
        if not left:
            return self._local(start)
        for begin, end in self._periods_from(start):
            begin = max(begin, start)
            if begin + left <= end:
                return begin + left
            left -= end - begin
        raise AssertionError("not reached: _periods_from raises before it runs out")

    def working_time_between(self, a: dt.datetime, b: dt.datetime) -> dt.timedelta:
        """The working time within [a, b); zero when ``b`` is not after ``a``."""
        total = dt.timedelta(0)
        if b <= a:
            return total
        day, last = self._local(a).date(), self._local(b).date()
        while day <= last:
            for begin, end in self.periods(day):
                overlap = min(end, b) - max(begin, a)
                if overlap > dt.timedelta(0):
                    total += overlap
            day += DAY
        return total

    def _periods_from(self, start: dt.datetime) -> Iterator[tuple[dt.datetime, dt.datetime]]:
        """Working periods that end after ``start``, in order, for as long as the walk is asked to go on."""
        day = self._local(start).date()
        if not self.is_working_day(day):
            day = self.next_working_day(day)
        while True:
            for begin, end in self.periods(day):
                if end > start:
                    yield begin, end
            day = self.next_working_day(day)

    def _at(self, day: dt.date, clock: dt.time) -> dt.datetime:
        return dt.datetime.combine(day, clock, tzinfo=self.zone)

    def _local(self, moment: dt.datetime) -> dt.datetime:
        require_aware(moment)
        return moment.astimezone(self.zone)


def _dates(values: Iterable[dt.date | str], key: str) -> Iterator[dt.date]:
    """Dates from ISO text (``"2026-10-01"``), ranges (``"2026-10-01..2026-10-07"``) or dates."""
    for value in values:
        if isinstance(value, dt.datetime):
            raise CalendarError(f"{key}: {value!r} is a moment, not a date")
        if isinstance(value, dt.date):
            yield value
            continue
        text = str(value).strip()
        first, _, last = text.partition("..")
        try:
            begin = dt.date.fromisoformat(first.strip())
            end = dt.date.fromisoformat(last.strip()) if last else begin
        except ValueError:
            raise CalendarError(f"{key}: {value!r} is not a date like \"2026-10-01\" "
                                "or a range like \"2026-10-01..2026-10-07\"") from None
        if end < begin:
            raise CalendarError(f"{key}: {value!r} ends before it starts")
        if (end - begin).days > 366:
            raise CalendarError(f"{key}: {value!r} is longer than a year")
        while begin <= end:
            yield begin
            begin += DAY


def require_aware(moment: dt.datetime) -> None:
    """The pure modules' guard: a naive datetime is a programming error (whose zone would it be?)."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: pass a timezone-aware one")
