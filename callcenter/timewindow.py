"""Windows of the hospital's time of day, ``"HH:MM-HH:MM"``: one type and one meaning (pure, no I/O, no clock).

Theory of operation
-------------------
The IVR's seasonal rules (``times``), the rota's shifts (``start``/``end``), the outbound
``[lists] windows`` and ``callback_windows``, and the departments' duty hours (``duty.times``) all
say "from this time of day to that one".  They all mean it the same way, here:

- a window is the half-open interval [start, end): the start is in, the end is out;
- ``start < end``: within one day (``"08:00-17:30"``);
- ``start > end``: across midnight, from ``start`` until ``end`` the next morning (``"22:00-07:00"``);
- ``start == end``: **the whole day**, 24 hours from ``start`` (``"08:00-08:00"`` is a 24-hour duty
  handed over at 08:00; ``"00:00-00:00"`` is the calendar day).  A window is never empty.

A window knows nothing of days or zones.  The caller turns a moment into the hospital's local time
(``settings.hospital.zone``) and decides which days apply: the IVR and the duty hours look at the
moment's calendar day; the rota looks at the day a shift started (``started_on``), so a night shift
on Fridays runs into Saturday morning.

Text is ``HH:MM`` on a 24-hour clock (``HH:MM:SS`` and TOML's native times are read too); anything
else is a ``TimeWindowError`` (a ``ValueError``) that quotes the text it could not read.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

# What the JSON APIs accept (their schemas use these): minutes, no seconds.
CLOCK_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
WINDOW_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$"

_CLOCK = re.compile(r"(\d{2}):(\d{2})(?::(\d{2}))?")
_WINDOW = re.compile(r"\s*(\d{2}:\d{2}(?::\d{2})?)\s*-\s*(\d{2}:\d{2}(?::\d{2})?)\s*")
DAY = dt.timedelta(days=1)
EXAMPLE = '"08:00-17:30"'


class TimeWindowError(ValueError):
    """A time of day or a window that cannot be read; the message quotes the text."""


def parse_clock(value: object) -> dt.time:
    """A time of day from ``"HH:MM"`` (or ``"HH:MM:SS"``, or a ``datetime.time`` without zone)."""
    if isinstance(value, dt.time):
        if value.tzinfo is not None or value.microsecond:
            raise TimeWindowError(f"{value!r} is not a time of day HH:MM (no zone, no fractions)")
        return value
    match = _CLOCK.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise TimeWindowError(f"{value!r} is not a time of day HH:MM (24-hour clock, e.g. \"08:00\")")
    hour, minute, second = (int(part or 0) for part in match.groups())
    if hour > 23 or minute > 59 or second > 59:
        raise TimeWindowError(f"{value!r} is not a time of day HH:MM (00:00 to 23:59)")
    return dt.time(hour, minute, second)


@dataclass(frozen=True)
class TimeWindow:
    """[start, end) of local time of day; across midnight when start > end; the whole day when start == end."""

    start: dt.time
    end: dt.time

    def __post_init__(self) -> None:
        for clock in (self.start, self.end):
            if not isinstance(clock, dt.time) or clock.tzinfo is not None:
                raise TimeWindowError(f"{clock!r}: a window's ends are times of day without a zone")

    @classmethod
    def parse(cls, text: object) -> TimeWindow:
        """A window from ``"HH:MM-HH:MM"``; TimeWindowError quoting ``text`` when it is not one."""
        match = _WINDOW.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            raise TimeWindowError(f"{text!r} is not a time window like {EXAMPLE} (HH:MM-HH:MM, 24-hour clock)")
        try:
            return cls(parse_clock(match[1]), parse_clock(match[2]))
        except TimeWindowError as err:
            raise TimeWindowError(f"{text!r}: {err}") from None

    @classmethod
    def of(cls, start: object, end: object) -> TimeWindow:
        """A window from separate ends (the rota's ``start``/``end``), each read by ``parse_clock``."""
        return cls(parse_clock(start), parse_clock(end))

    def __str__(self) -> str:
        return f"{_clock_text(self.start)}-{_clock_text(self.end)}"

    @property
    def whole_day(self) -> bool:
        """24 hours from ``start`` (``start == end``)."""
        return self.start == self.end

    @property
    def overnight(self) -> bool:
        """Some of the window lies in the day after the one it starts on."""
        return self.end < self.start or (self.whole_day and self.start != dt.time(0))

    @property
    def duration(self) -> dt.timedelta:
        """How long the window lasts (a whole day: 24 hours; wall-clock time, a DST change not counted)."""
        length = _seconds(self.end) - _seconds(self.start)
        return dt.timedelta(seconds=length) if length > 0 else DAY + dt.timedelta(seconds=length)

    def contains(self, clock: dt.time) -> bool:
        """``clock`` (a local time of day) lies in the window."""
        clock = clock.replace(tzinfo=None)
        if self.start < self.end:
            return self.start <= clock < self.end
        if self.start > self.end:
            return clock >= self.start or clock < self.end
        return True  # the whole day

    def started_on(self, local: dt.datetime) -> dt.date | None:
        """The local day on which the occurrence holding ``local`` started (None: ``local`` is outside).

        ``local`` is a moment already in the hospital's time.  For ``"22:00-07:00"``, Saturday 03:00
        belongs to the window that started on Friday.
        """
        clock = local.time()
        if not self.contains(clock):
            return None
        return local.date() if clock >= self.start else local.date() - DAY

    def next_start(self, local: dt.datetime) -> dt.datetime:
        """The first start of the window strictly after ``local``, in ``local``'s zone (wall-clock time)."""
        for days in (0, 1):
            start = dt.datetime.combine(local.date() + dt.timedelta(days=days), self.start, tzinfo=local.tzinfo)
            if start > local:
                return start
        raise AssertionError("not reached: a window starts every day")


def _seconds(clock: dt.time) -> int:
    return clock.hour * 3600 + clock.minute * 60 + clock.second


def _clock_text(clock: dt.time) -> str:
    return f"{clock:%H:%M:%S}" if clock.second else f"{clock:%H:%M}"
