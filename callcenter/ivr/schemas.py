"""Requests and answers of the schedule API (``/api/ivr/*``) as pydantic models."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import AfterValidator, Field

from callcenter.ivr.schedule import NAME_LEN, WEEKDAYS
from callcenter.timewindow import WINDOW_PATTERN
from callcenter.web.api import YEARS, Body, Query, Reply, line, within_years

RULE_NAME = r"^[A-Za-z0-9_-]{1,64}$"
MONTH_DAY = r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
DATES = r"^20[0-9]{2}-[01][0-9]-[0-3][0-9](\.\.20[0-9]{2}-[01][0-9]-[0-3][0-9])?$"
RuleName = line(NAME_LEN, 1)
MonthDay = line(5, 5, MONTH_DAY)
Times = line(11, 11, WINDOW_PATTERN)
DayRange = line(22, 10, DATES)
Weekday = line(9, 3)
NAME_PARAM = {"type": "string", "pattern": RULE_NAME}
At = Annotated[dt.datetime, AfterValidator(within_years)]


class RuleIn(Body):
    """One schedule rule, as a table of the schedule file (``ivr.schedule``); its name is the URL's."""

    name: RuleName | None = Field(None, description="the URL's name (may be left out)")
    message: RuleName = Field(description="the prompt to play (a file name without extension)")
    priority: int = Field(0, ge=-1000, le=1000)
    from_: MonthDay | None = Field(None, alias="from", description="month-day, e.g. 06-01 (with to)")
    to: MonthDay | None = Field(None, description="month-day, e.g. 08-31 (with from); may wrap past 31 December")
    times: Times | None = Field(None, description="HH:MM-HH:MM, may run across midnight; equal ends: the whole day")
    weekdays: list[Weekday] | None = Field(None, min_length=1, max_length=7, description=", ".join(WEEKDAYS))
    dates: list[DayRange] | None = Field(None, min_length=1, max_length=100,
                                         description="days (2025-10-01) or ranges (2025-10-01..2025-10-08)")
    default: bool = Field(False, description="played only when no other rule applies")
    enabled: bool = True

    def spec(self, name: str) -> dict[str, Any]:
        """The rule as the schedule file writes it (what ``parse_rule`` reads)."""
        spec = self.model_dump(by_alias=True, exclude_unset=True)
        spec["name"] = name
        return spec


class PreviewQuery(Query):
    at: At | None = Field(None, description=f"the moment (ISO 8601; without offset the hospital's time; years "
                                            f"{YEARS[0]}-{YEARS[1]}); default now")


class Rule(Reply):
    name: str
    message: str
    priority: int


class RuleRow(Rule):
    origin: str = Field(description="file or web")


class RuleList(Reply):
    rules: list[RuleRow]


class RuleSaved(Reply):
    rule: Rule


class RuleDeleted(Reply):
    deleted: str


class Preview(Reply):
    at: str
    messages: list[str]
    rules: list[str]
