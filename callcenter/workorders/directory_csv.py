"""Reading the directory from CSV (departments and their escalation contacts), row by row; no I/O.

The file is UTF-8 (a BOM is fine) or GB18030 (``callcenter.csv_reader``) with a header row; one
row per contact, and a department may have a row with no contact.  Columns, in any order:

| column | 中文列名 | meaning |
|---|---|---|
| ``department`` | 科室 | the department's name (required, at most 64 characters) |
| ``office_phone`` | 办公电话 | the office phone, rung first (may be empty) |
| ``contact_name`` | 联系人 | an escalation contact (empty: a row of the department alone) |
| ``title`` | 职称 | the contact's title |
| ``mobile`` | 手机 | the contact's phone (required with a contact) |
| ``duty_weekdays`` | 值班日 | ``mon,tue,...`` or ``一,二,...`` (empty: every day) |
| ``duty_times`` | 值班时间 | ``HH:MM-HH:MM`` (empty: all day) |
| ``rank`` | 顺序 | the order contacts are called in, 0-1000 (empty: 0) |

Phones are read by the dialling policy (``check``: raw -> (number, problem)), so a number the
hotline could not dial is refused here and not at the first escalation.  Every problem is reported
with its line and column; the import is all or nothing (``DirectoryService.import_csv``).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from callcenter import csv_reader
from callcenter.timewindow import TimeWindow, TimeWindowError

NumberCheck = Callable[[str], tuple[str, str | None]]

COLUMNS = {
    "department": ("department", "科室", "部门", "科室名称"),
    "office_phone": ("office_phone", "办公电话", "科室电话"),
    "contact_name": ("contact_name", "contact", "联系人", "姓名"),
    "title": ("title", "职称", "职务"),
    "mobile": ("mobile", "手机", "联系电话"),
    "duty_weekdays": ("duty_weekdays", "值班日"),
    "duty_times": ("duty_times", "值班时间"),
    "rank": ("rank", "顺序"),
}
REQUIRED = ("department",)
LIMITS = {"department": 64, "office_phone": 32, "contact_name": 64, "title": 64, "mobile": 32,
          "duty_weekdays": 100, "duty_times": 20, "rank": 4}
MAX_ROWS = 5_000
MAX_RANK = 1000
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CHINESE_DAYS = {"一": "mon", "二": "tue", "三": "wed", "四": "thu", "五": "fri", "六": "sat", "日": "sun", "天": "sun"}
_DAYS = {**{d: d for d in WEEKDAYS}, **_CHINESE_DAYS,
         **{full: full[:3] for full in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")}}
_SEPARATORS = re.compile(r"[\s,;，；、/]+")


@dataclass(frozen=True)
class ContactRow:
    """One escalation contact, valid; ``mobile`` as the dialling policy normalises it."""

    line: int
    name: str
    title: str
    mobile: str
    duty: dict[str, Any]
    rank: int


@dataclass
class DepartmentRows:
    """A department of the file with its contacts, in the file's order."""

    line: int
    name: str
    office_phone: str
    contacts: list[ContactRow] = field(default_factory=list)


def parse(data: bytes | str, check: NumberCheck) -> tuple[list[DepartmentRows], list[dict[str, str]]]:
    """The departments and every problem (``{"line", "field", "problem"}``)."""
    try:
        return _parse(data, check)
    except csv.Error as err:  # a stray quote, a field beyond the csv module's limit
        return [], [{"line": "?", "field": "file", "problem": f"is not valid CSV ({err})"}]


def _parse(data: bytes | str, check: NumberCheck) -> tuple[list[DepartmentRows], list[dict[str, str]]]:
    try:
        text = csv_reader.decode(data, "the directory")
    except csv_reader.UndecodableCsv as err:
        return [], [{"line": str(err.line), "field": "file", "problem": f"is not text (UTF-8 or GB18030): {err.reason}"}]
    reader = csv_reader.rows(text)
    header = next(reader, None)
    if not header:
        return [], [{"line": "1", "field": "file", "problem": "is empty (a header row: " + ", ".join(COLUMNS) + ")"}]
    names = [h.strip().lower() for h in header]
    columns = {col: next((i for i, n in enumerate(names) if n in aliases), -1) for col, aliases in COLUMNS.items()}
    missing = [col for col in REQUIRED if columns[col] < 0]
    if missing:
        return [], [{"line": "1", "field": col, "problem": f"column is missing (header: {', '.join(header)})"}
                    for col in missing]
    departments: dict[str, DepartmentRows] = {}
    contacts_seen: dict[tuple[str, str], int] = {}
    problems: list[dict[str, str]] = []
    count = 0
    for values in reader:
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        count += 1
        if count > MAX_ROWS:
            problems.append({"line": str(line), "field": "file", "problem": f"has more than {MAX_ROWS} rows"})
            break
        record = {col: (values[i].strip() if 0 <= i < len(values) else "") for col, i in columns.items()}
        found, office, contact = _row(line, record, check)
        problems += [{"line": str(line), "field": f, "problem": p} for f, p in found]
        if found:
            continue
        dep = departments.get(record["department"])
        if dep is None:
            dep = departments[record["department"]] = DepartmentRows(line, record["department"], office)
        elif office and dep.office_phone and office != dep.office_phone:
            problems.append({"line": str(line), "field": "office_phone",
                             "problem": f"{office} differs from line {dep.line}'s {dep.office_phone}"})
            continue
        elif office:
            dep.office_phone, dep.line = office, line
        if contact is not None:
            key = (dep.name, contact.mobile)
            if key in contacts_seen:
                problems.append({"line": str(line), "field": "mobile", "problem":
                                 f"{contact.mobile} of {dep.name} is already on line {contacts_seen[key]}"})
                continue
            contacts_seen[key] = line
            dep.contacts.append(contact)
    return list(departments.values()), problems


def _row(line: int, record: dict[str, str], check: NumberCheck) -> tuple[list[tuple[str, str]], str, ContactRow | None]:
    """The row's problems, its office phone (normalised) and its contact (None: the department alone)."""
    found: list[tuple[str, str]] = []
    for name, value in record.items():
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
            found.append((name, "has control characters (NUL, tab, line break...)"))
        elif len(value) > LIMITS[name]:
            found.append((name, f"is {len(value)} characters, at most {LIMITS[name]}"))
    if found:
        return found, "", None
    if not record["department"]:
        found.append(("department", "is empty"))
    office = ""
    if record["office_phone"]:
        office, trouble = check(record["office_phone"])
        if trouble:
            found.append(("office_phone", trouble))
    has_contact = any(record[c] for c in ("contact_name", "title", "mobile", "duty_weekdays", "duty_times", "rank"))
    if not has_contact:
        return found, office, None
    if not record["contact_name"]:
        found.append(("contact_name", "is empty (the row has other contact columns)"))
    mobile = ""
    if not record["mobile"]:
        found.append(("mobile", "is empty (a contact needs a phone)"))
    else:
        mobile, trouble = check(record["mobile"])
        if trouble:
            found.append(("mobile", trouble))
    duty: dict[str, Any] = {}
    days, trouble = weekdays(record["duty_weekdays"])
    if trouble:
        found.append(("duty_weekdays", trouble))
    elif days:
        duty["weekdays"] = days
    if record["duty_times"]:
        try:
            window = TimeWindow.parse(record["duty_times"])
            duty["times"] = f"{window.start:%H:%M}-{window.end:%H:%M}"
        except TimeWindowError as err:
            found.append(("duty_times", str(err)))
    rank = 0
    if record["rank"]:
        if not (record["rank"].isascii() and record["rank"].isdigit()) or int(record["rank"]) > MAX_RANK:
            found.append(("rank", f"{record['rank']!r} is not a whole number from 0 to {MAX_RANK}"))
        else:
            rank = int(record["rank"])
    if found:
        return found, office, None
    return found, office, ContactRow(line, record["contact_name"], record["title"], mobile, duty, rank)


def weekdays(text: str) -> tuple[list[str], str | None]:
    """``mon,wed`` or ``一、三`` (周一, 星期三...) as the API's weekday list, in week order; empty: every day."""
    days: set[str] = set()
    for part in _SEPARATORS.split(text.strip()):
        if not part:
            continue
        word = part.lower() if part.isascii() else part.removeprefix("星期").removeprefix("周")
        day = _DAYS.get(word)
        if day is None:
            return [], f"{part!r} is not a weekday (mon...sun or 一...日)"
        days.add(day)
    return [d for d in WEEKDAYS if d in days], None
