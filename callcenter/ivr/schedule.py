"""Which seasonal messages play at a moment: a pure rules engine, no I/O and no clock of its own.

Theory of operation: a ``Rule`` is a message name plus conditions (month-day range, time of day,
weekdays, explicit dates).  ``parse_rule`` turns one table of the hospital's schedule file (or a
row of the database, which stores the same table as JSON) into a ``Rule`` and rejects anything it
does not understand with a ``ScheduleError`` naming the rule and the field.  ``select`` takes the
rules and a *local* datetime (hospital time) and returns the rules that apply, highest priority
first; default rules are used only when nothing else applies.

Month-day ranges are inclusive and may wrap: ``from = "11-01", to = "03-31"`` runs across the new
year.  ``times`` is a ``callcenter.timewindow.TimeWindow``: ``"22:00-07:00"`` runs across midnight
and equal ends (``"08:00-08:00"``) mean the whole day.  The calendar date of the moment is what the
date conditions look at, so 23:30 on 31 March is still in a range ending "03-31".
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from callcenter.ivr.exceptions import ScheduleError
from callcenter.timewindow import TimeWindow, TimeWindowError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
RULE_KEYS = frozenset({"name", "message", "priority", "from", "to", "times", "weekdays", "dates", "default", "enabled"})
NAME_LEN = 64


@dataclass(frozen=True)
class Rule:
    """One schedule rule; ``None`` conditions always hold."""

    name: str
    message: str
    priority: int = 0
    month_days: tuple[tuple[int, int], tuple[int, int]] | None = None  # ((m, d) from, (m, d) to)
    times: TimeWindow | None = None  # local time of day
    weekdays: frozenset[int] | None = None  # 0 = Monday
    dates: tuple[tuple[dt.date, dt.date], ...] | None = None  # inclusive day ranges
    default: bool = False
    enabled: bool = True

    def applies(self, moment: dt.datetime) -> bool:
        """Every condition of this rule holds at the local ``moment``."""
        day = moment.date()
        if self.month_days is not None and not _in_month_days(day, *self.month_days):
            return False
        if self.times is not None and not self.times.contains(moment.time()):
            return False
        if self.weekdays is not None and day.weekday() not in self.weekdays:
            return False
        if self.dates is not None and not any(first <= day <= last for first, last in self.dates):
            return False
        return True

    def to_spec(self) -> dict[str, Any]:
        """The rule as a schedule-file table (what the database stores and the web API shows)."""
        spec: dict[str, Any] = {"name": self.name, "message": self.message, "priority": self.priority}
        if self.month_days is not None:
            (fm, fd), (tm, td) = self.month_days
            spec["from"], spec["to"] = f"{fm:02d}-{fd:02d}", f"{tm:02d}-{td:02d}"
        if self.times is not None:
            spec["times"] = str(self.times)
        if self.weekdays is not None:
            spec["weekdays"] = [WEEKDAYS[n] for n in sorted(self.weekdays)]
        if self.dates is not None:
            spec["dates"] = [a.isoformat() if a == b else f"{a.isoformat()}..{b.isoformat()}" for a, b in self.dates]
        if self.default:
            spec["default"] = True
        if not self.enabled:
            spec["enabled"] = False
        return spec


def select(rules: Iterable[Rule], moment: dt.datetime, limit: int | None = None) -> list[Rule]:
    """The enabled rules applying at local ``moment``, highest priority first (name breaks ties).

    Default rules are used only when no other rule applies.  ``limit`` caps how many are returned.
    """
    enabled = [r for r in rules if r.enabled]
    chosen = [r for r in enabled if not r.default and r.applies(moment)]
    if not chosen:
        chosen = [r for r in enabled if r.default and r.applies(moment)]
    chosen.sort(key=lambda r: (-r.priority, r.name))
    return chosen if limit is None else chosen[: max(0, limit)]


def parse_schedule(text: str, source: str = "schedule") -> list[Rule]:
    """Rules of a schedule file (TOML with ``[[rule]]`` tables); names must be unique."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ScheduleError("ivr.schedule_syntax", f"{source}: {err}") from err
    unknown = set(raw) - {"rule"}
    if unknown:
        raise ScheduleError("ivr.schedule_key", f"{source}: unknown top-level key(s) {', '.join(sorted(unknown))}")
    tables = raw.get("rule", [])
    if not isinstance(tables, list):
        raise ScheduleError("ivr.schedule_key", f"{source}: 'rule' must be an array of tables ([[rule]])")
    rules = [parse_rule(table, f"{source} rule #{n}") for n, table in enumerate(tables, 1)]
    names = [r.name for r in rules]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ScheduleError("ivr.schedule_duplicate", f"{source}: rule name(s) used twice: {', '.join(duplicates)}")
    return rules


def parse_rule(spec: Mapping[str, Any], where: str = "rule") -> Rule:
    """One rule from its table; ScheduleError says which field is wrong and why."""
    if not isinstance(spec, Mapping):
        raise ScheduleError("ivr.rule_type", f"{where}: must be a table")
    unknown = set(spec) - RULE_KEYS
    if unknown:
        raise ScheduleError("ivr.rule_key", f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    name = _text(spec, "name", where)
    where = f"rule {name!r}"
    message = _text(spec, "message", where)
    has_from, has_to = "from" in spec, "to" in spec
    if has_from != has_to:
        raise ScheduleError("ivr.rule_value", f"{where}: 'from' and 'to' go together")
    month_days = (_month_day(spec["from"], where, "from"), _month_day(spec["to"], where, "to")) if has_from else None
    return Rule(
        name=name,
        message=message,
        priority=_int(spec.get("priority", 0), where, "priority"),
        month_days=month_days,
        times=_times(spec["times"], where) if "times" in spec else None,
        weekdays=_weekdays(spec["weekdays"], where) if "weekdays" in spec else None,
        dates=_dates(spec["dates"], where) if "dates" in spec else None,
        default=_bool(spec.get("default", False), where, "default"),
        enabled=_bool(spec.get("enabled", True), where, "enabled"),
    )


# -- conditions --------------------------------------------------------------------------------


def _in_month_days(day: dt.date, first: tuple[int, int], last: tuple[int, int]) -> bool:
    """``day`` lies in the inclusive month-day range, which wraps past 31 December when first > last."""
    here = (day.month, day.day)
    if first <= last:
        return first <= here <= last
    return here >= first or here <= last


# -- field parsing -----------------------------------------------------------------------------


def _text(spec: Mapping[str, Any], key: str, where: str) -> str:
    value = spec.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ScheduleError("ivr.rule_value", f"{where}: '{key}' must be a non-empty string")
    value = value.strip()
    if len(value) > NAME_LEN or not all(ch.isalnum() or ch in "_-" for ch in value):
        raise ScheduleError("ivr.rule_value", f"{where}: '{key}' must be letters, digits, '_' or '-' (at most {NAME_LEN})")
    return value


def _int(value: Any, where: str, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScheduleError("ivr.rule_value", f"{where}: '{key}' must be an integer")
    return value


def _bool(value: Any, where: str, key: str) -> bool:
    if not isinstance(value, bool):
        raise ScheduleError("ivr.rule_value", f"{where}: '{key}' must be true or false")
    return value


def _month_day(value: Any, where: str, key: str) -> tuple[int, int]:
    try:
        month, day = (int(part) for part in str(value).split("-"))
        dt.date(2000, month, day)  # a leap year, so 02-29 is accepted
    except (ValueError, TypeError):
        raise ScheduleError("ivr.rule_value", f"{where}: '{key}' must be a month-day like \"06-01\", not {value!r}") from None
    return month, day


def _times(value: Any, where: str) -> TimeWindow:
    try:
        return TimeWindow.parse(value)
    except TimeWindowError as err:
        raise ScheduleError("ivr.rule_value", f"{where}: 'times': {err}") from None


def _weekdays(value: Any, where: str) -> frozenset[int]:
    if not isinstance(value, list) or not value:
        raise ScheduleError("ivr.rule_value", f"{where}: 'weekdays' must be a non-empty list like [\"sat\", \"sun\"]")
    days = set()
    for item in value:
        name = str(item).strip().lower()[:3]
        if name not in WEEKDAYS:
            raise ScheduleError("ivr.rule_value", f"{where}: unknown weekday {item!r} (use {', '.join(WEEKDAYS)})")
        days.add(WEEKDAYS.index(name))
    return frozenset(days)


def _dates(value: Any, where: str) -> tuple[tuple[dt.date, dt.date], ...]:
    if not isinstance(value, list) or not value:
        raise ScheduleError("ivr.rule_value", f"{where}: 'dates' must be a non-empty list of days or day ranges")
    ranges = []
    for item in value:
        if isinstance(item, dt.date) and not isinstance(item, dt.datetime):  # TOML's bare dates
            ranges.append((item, item))
            continue
        try:
            first, _, last = str(item).partition("..")
            a = dt.date.fromisoformat(first.strip())
            b = dt.date.fromisoformat(last.strip()) if last else a
        except ValueError:
            raise ScheduleError("ivr.rule_value", f"{where}: {item!r} is not a day (2025-10-01) or range (2025-10-01..2025-10-08)") from None
        if b < a:
            raise ScheduleError("ivr.rule_value", f"{where}: range {item!r} ends before it starts")
        ranges.append((a, b))
    return tuple(ranges)
