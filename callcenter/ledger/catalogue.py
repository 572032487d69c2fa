"""Reading the feedback catalogue from CSV (department, code, item), row by row; no I/O.

The file is UTF-8 (a BOM is fine) or GB18030 (``callcenter.csv_reader``) with a header row.
Columns, in any order (English or Chinese names):

| column | 中文列名 | meaning |
|---|---|---|
| ``department`` | 科室 / 部门 | a department's name as in the directory (``/api/departments``) |
| ``code`` | 编码 / 代码 | the item's code, unique within its department (at most 32 characters) |
| ``item`` | 项目 / 条目 | the item's name (at most 200 characters) |

Every row is checked and every problem is reported with its line and column: an unknown
department, an empty or too long code or item, control characters (NUL...), the same department
and code twice in the file.  The import is all or nothing (``callcenter.ledger.service``).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass

from callcenter import csv_reader
from callcenter.ledger.models import MAX_CODE, MAX_ITEM

COLUMNS = {
    "department": ("department", "科室", "部门", "职能部门"),
    "code": ("code", "编码", "代码", "编号"),
    "item": ("item", "name", "项目", "条目", "名称"),
}
MAX_ROWS = 5_000
LIMITS = {"code": MAX_CODE, "item": MAX_ITEM, "department": 64}


@dataclass(frozen=True)
class CatalogueRow:
    """One valid row."""

    line: int
    department_id: int
    code: str
    item: str


def parse(data: bytes | str, departments: Mapping[str, int]) -> tuple[list[CatalogueRow], list[dict[str, str]]]:
    """Valid rows and every problem (``{"line", "field", "problem"}``); ``departments``: name -> id."""
    try:
        return _parse(data, departments)
    except csv.Error as err:  # a stray quote, a field beyond the csv module's limit
        return [], [{"line": "?", "field": "file", "problem": f"is not valid CSV ({err})"}]


def _parse(data: bytes | str, departments: Mapping[str, int]) -> tuple[list[CatalogueRow], list[dict[str, str]]]:
    try:
        text = csv_reader.decode(data, "the catalogue")
    except csv_reader.UndecodableCsv as err:
        return [], [{"line": str(err.line), "field": "file", "problem": f"is not text (UTF-8 or GB18030): {err.reason}"}]
    reader = csv_reader.rows(text)
    header = next(reader, None)
    if not header:
        return [], [{"line": "1", "field": "file", "problem": "is empty (a header row: department, code, item)"}]
    names = [h.strip().lower() for h in header]
    columns = {col: next((i for i, n in enumerate(names) if n in aliases), -1) for col, aliases in COLUMNS.items()}
    missing = [col for col, i in columns.items() if i < 0]
    if missing:
        return [], [{"line": "1", "field": col, "problem": f"column is missing (header: {', '.join(header)})"}
                    for col in missing]
    rows: list[CatalogueRow] = []
    problems: list[dict[str, str]] = []
    seen: dict[tuple[int, str], int] = {}
    for values in reader:
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        if len(rows) + len(problems) >= MAX_ROWS:
            problems.append({"line": str(line), "field": "file", "problem": f"has more than {MAX_ROWS} rows"})
            break
        record = {col: (values[i].strip() if i < len(values) else "") for col, i in columns.items()}
        found = _problems(record, departments)
        problems += [{"line": str(line), "field": field, "problem": problem} for field, problem in found]
        if found:
            continue
        department_id = departments[record["department"]]
        key = (department_id, record["code"])
        if key in seen:
            problems.append({"line": str(line), "field": "code",
                             "problem": f"{record['code']!r} of {record['department']} is already on line {seen[key]}"})
            continue
        seen[key] = line
        rows.append(CatalogueRow(line, department_id, record["code"], record["item"]))
    return rows, problems


def _problems(record: dict[str, str], departments: Mapping[str, int]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for field, value in record.items():
        if not value:
            found.append((field, "is empty"))
        elif any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
            found.append((field, "has control characters (NUL, tab, line break...)"))
        elif len(value) > LIMITS[field]:
            found.append((field, f"is {len(value)} characters, at most {LIMITS[field]}"))
    if record["department"] and not any(f == "department" for f, _ in found) and record["department"] not in departments:
        found.append(("department", f"{record['department']!r} is not a department of the directory"))
    return found
