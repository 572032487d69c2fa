"""Reading an outbound list exported by the hospital information system (CSV), row by row.

The file is UTF-8 (a BOM is fine; GB18030, which Chinese spreadsheet programs still write, is read
too) with a header row.  Columns, in any order (English or Chinese names):

| column | 中文列名 | meaning |
|---|---|---|
| ``type`` | 类型 | ``followup`` (出院随访) or ``reminder`` (预约提醒) |
| ``phone`` | 电话 | the patient's (parent's) phone: a mobile ``13912345678``, a landline with area code ``010-64028401``, a local landline ``64028401``, ``+86`` allowed |
| ``date`` | 日期 | followup: the discharge date; reminder: the appointment date (``2025-03-10``, ``2025/3/10``, a time after it is kept) |
| ``name`` | 姓名 | the patient's name (optional) |
| ``patient_id`` | 病案号 | the hospital's record number (optional; kept for the operator) |
| ``department`` | 科室 | the department (optional) |
| ``language`` | 语言 | ``zh`` (default) or ``en``: the message's language |

A follow-up is called on day ``followup_day`` after discharge (7), or on the ``followup_grace_days``
after it when the patient was not reached; a reminder on the day before the appointment.  Each
row is checked on its own and every problem is reported with its line number: a phone number
that is no phone number, a date that is no date or too old to call in time, an unknown type, the
same patient, type and date twice in the file.  The import is all or nothing (see
``callcenter.outbound.lists``).
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from callcenter import csv_reader
from callcenter.store.models import clean_text, normalise_name

COLUMNS = {
    "type": ("type", "类型", "kind"),
    "phone": ("phone", "电话", "手机", "联系电话", "number"),
    "date": ("date", "日期", "出院日期", "预约日期"),
    "name": ("name", "姓名", "患者姓名"),
    "patient_id": ("patient_id", "病案号", "患者编号"),
    "department": ("department", "科室"),
    "language": ("language", "语言"),
}
TYPES = {
    "followup": "followup_day7", "followup_day7": "followup_day7", "随访": "followup_day7", "出院随访": "followup_day7",
    "reminder": "appointment_reminder", "appointment_reminder": "appointment_reminder", "预约提醒": "appointment_reminder",
    "提醒": "appointment_reminder",
}
LANGUAGES = {"": "zh", "zh": "zh", "zh-cn": "zh", "中文": "zh", "en": "en", "english": "en", "英文": "en"}
MAX_ROWS = 20_000
_PUNCTUATION = re.compile(r"[\s\-().]")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_AREA_CODE = re.compile(r"^0[1-9]\d{8,10}$")
_LOCAL = re.compile(r"^[2-9]\d{6,7}$")
_EXTENSION = re.compile(r"^[2-9]\d{2,5}$")  # the hospital's own phones (and the test Asterisk's)
_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T](\d{1,2}):(\d{2}))?")


@dataclass(frozen=True)
class Rules:
    """What the importer needs from the settings."""

    tz: dt.tzinfo
    followup_day: int = 7
    followup_grace_days: int = 2


@dataclass(frozen=True)
class ListRow:
    """One valid row, ready to become a task."""

    line: int
    kind: str
    number: str
    name: str
    date: dt.date
    not_before: dt.datetime  # UTC
    due_by: dt.datetime  # UTC
    details: dict[str, Any]

    @property
    def dedupe_key(self) -> str:
        return f"{self.number}:{self.date.isoformat()}"


def phone_problem(raw: str) -> tuple[str, str | None]:
    """(digits to dial, None) or ("", what is wrong with it)."""
    text = _PUNCTUATION.sub("", clean_text(raw))
    if not text:
        return "", "is empty"
    for prefix in ("+86", "0086"):
        if text.startswith(prefix):
            text = text[len(prefix):]
            if not _MOBILE.match(text):
                text = "0" + text  # +86 10 6402 8401: the area code's trunk 0 comes back
            break
    if not text.isascii() or not text.isdigit():
        return "", f"{raw!r} has characters other than digits"
    if text.startswith("1") and not _MOBILE.match(text):
        return "", f"{raw!r} is not a mobile number (11 digits, 13x-19x)"
    if text.startswith("0") and not _AREA_CODE.match(text):
        return "", f"{raw!r} is not a landline with area code (0 and 9-11 digits)"
    if not (_MOBILE.match(text) or _AREA_CODE.match(text) or _LOCAL.match(text) or _EXTENSION.match(text)):
        return "", f"{raw!r} is not a phone number (mobile, landline, or 3-6 digit extension)"
    return text, None


def parse_date(raw: str) -> tuple[dt.date, dt.time | None]:
    """A date (and optional time) in the forms information systems write; ValueError otherwise."""
    match = _DATE.match(clean_text(raw).strip())
    if not match:
        raise ValueError(raw)
    year, month, day, hour, minute = match.groups()
    date = dt.date(int(year), int(month), int(day))
    at = dt.time(int(hour), int(minute)) if hour is not None else None
    return date, at


def parse(data: bytes | str, now: dt.datetime, rules: Rules) -> tuple[list[ListRow], list[dict[str, str]]]:
    """Valid rows and the problems of the others (``{"line", "field", "problem"}``)."""
    try:
        return _parse(data, now, rules)
    except csv.Error as err:  # a field beyond the csv module's limit, a stray quote
        return [], [{"line": "?", "field": "file", "problem": f"is not valid CSV ({err})"}]


def _parse(data: bytes | str, now: dt.datetime, rules: Rules) -> tuple[list[ListRow], list[dict[str, str]]]:
    try:
        text = csv_reader.decode(data, "the list")
    except csv_reader.UndecodableCsv as err:
        problem = f"is not text (UTF-8 or GB18030 CSV): {err.reason}"
        return [], [{"line": str(err.line), "field": "file", "problem": problem}]
    reader = csv_reader.rows(text)
    header = next(reader, None)
    if not header:
        return [], [{"line": "1", "field": "file", "problem": "is empty (a header row and one row per patient)"}]
    columns, problems = _columns(header)
    if problems:
        return [], problems
    rows: list[ListRow] = []
    seen: dict[tuple[str, str], int] = {}
    for values in reader:
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        if len(rows) + len(problems) >= MAX_ROWS:
            problems.append({"line": str(line), "field": "file", "problem": f"has more than {MAX_ROWS} rows; split it"})
            break
        record = {name: (values[i].strip() if i < len(values) else "") for name, i in columns.items()}
        row, row_problems = _row(line, record, now, rules)
        if row is not None:
            key = (row.kind, row.dedupe_key)
            if key in seen:
                row_problems.append({"field": "phone", "problem": f"the same patient, type and date as line {seen[key]}"})
            else:
                seen[key] = line
                rows.append(row)
        problems += [{"line": str(line), **p} for p in row_problems]
    return rows, problems


def _columns(header: list[str]) -> tuple[dict[str, int], list[dict[str, str]]]:
    names = [clean_text(h).strip().lower() for h in header]
    columns: dict[str, int] = {}
    for column, aliases in COLUMNS.items():
        for i, name in enumerate(names):
            if name in aliases:
                columns[column] = i
                break
    missing = [c for c in ("type", "phone", "date") if c not in columns]
    if missing:
        return {}, [{"line": "1", "field": c, "problem": f"column is missing (header: {', '.join(header)})"} for c in missing]
    return columns, []


def _row(line: int, rec: dict[str, str], now: dt.datetime, rules: Rules) -> tuple[ListRow | None, list[dict[str, str]]]:
    problems: list[dict[str, str]] = []
    kind = TYPES.get(rec["type"].lower())
    if kind is None:
        problems.append({"field": "type", "problem": f"{rec['type']!r} is not followup (随访) or reminder (预约提醒)"})
    number, trouble = phone_problem(rec["phone"])
    if trouble:
        problems.append({"field": "phone", "problem": trouble})
    language = LANGUAGES.get(rec.get("language", "").lower())
    if language is None:
        problems.append({"field": "language", "problem": f"{rec['language']!r} is not zh or en"})
    try:
        date, at = parse_date(rec["date"])
    except ValueError:
        problems.append({"field": "date", "problem": f"{rec['date']!r} is not a date like 2025-03-10"})
        return None, problems
    if not 2000 <= date.year <= 2100:  # a typing mistake (and day arithmetic near year 1 or 9999 overflows)
        problems.append({"field": "date", "problem": f"{rec['date']!r} is not a year between 2000 and 2100"})
        return None, problems
    if kind is None or problems:
        return None, problems
    tz = rules.tz
    if kind == "followup_day7":
        day = date + dt.timedelta(days=rules.followup_day)
        start = dt.datetime.combine(day, dt.time(0), tzinfo=tz)
        end = start + dt.timedelta(days=1 + rules.followup_grace_days)
        too_late = f"discharged {date.isoformat()}: day {rules.followup_day} and its grace days are over"
    else:
        start = dt.datetime.combine(date - dt.timedelta(days=1), dt.time(0), tzinfo=tz)
        end = start + dt.timedelta(days=1)  # the reminder is for the day before only
        too_late = f"appointment {date.isoformat()}: the day before it has passed"
    if end <= now:
        return None, [{"field": "date", "problem": too_late}]
    if start > now + dt.timedelta(days=366):
        return None, [{"field": "date", "problem": f"{date.isoformat()} is more than a year ahead"}]
    details = {"date": date.isoformat(), "language": language}
    if at is not None:
        details["time"] = at.strftime("%H:%M")
    for extra in ("patient_id", "department"):
        if rec.get(extra):
            details[extra] = clean_text(rec[extra])[:64]
    row = ListRow(line, kind, number, normalise_name(rec.get("name", "")), date, start.astimezone(dt.UTC),
                  end.astimezone(dt.UTC), details)
    return row, []
