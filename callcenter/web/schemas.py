"""Requests and answers of the web side's JSON APIs (operator desk, wallboard, rota, accounts, reports).

The same pydantic models validate each request (``callcenter.web.api``) and make the OpenAPI
document (``callcenter.web.openapi``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from callcenter.accounts.models import ROLES
from callcenter.timewindow import CLOCK_PATTERN
from callcenter.web.api import Body, Day, Patch, Query, Reply, line

PAUSE_REASONS = ("break", "meal", "training", "meeting", "admin")
SKILL = r"^[a-z][a-z0-9_]{0,31}$"
SHIFT_NAME = r"^[\w\- .:()\u4e00-\u9fff]{1,64}$"
AGENT = r"^[A-Za-z0-9]{1,32}$"
AGENT_PARAM = {"type": "string", "pattern": AGENT}
NUMBER_PARAM = {"type": "string", "minLength": 1, "maxLength": 40, "pattern": r"^[0-9+*#() -]{1,40}$"}
SHIFT_PARAM = {"type": "string", "pattern": r"^[A-Za-z0-9_. :()-]{1,64}$"}
Role = Literal[ROLES]  # type: ignore[valid-type]
PauseReason = Literal[PAUSE_REASONS]  # type: ignore[valid-type]
UniqueId = line(64)
ShiftName = line(64, 1, SHIFT_NAME)
Clock = line(5, 5, CLOCK_PATTERN)
AgentId = line(32, 1)
Skill = line(32, 1, SKILL)
Username = line(64, 1)
Password = line(256, 1)
DisplayName = line(80)
UserAgent = line(64)
IsoWeekday = Annotated[int, Field(ge=1, le=7)]


# -- operator desk and agent control ---------------------------------------------------------------


class AgentOp(Body):
    op: Literal["login", "ready", "pause", "resume", "logout"] = Field(
        description="login to the rota, ready (ends a pause or wrap-up), pause (with a reason), resume, logout")
    reason: PauseReason | None = Field(None, description="why a pause (default break)")


class HistoryQuery(Query):
    exclude: UniqueId = Field("", description="leave out this call (Asterisk uniqueid): the one ringing now")


class AgentState(Reply):
    type: str
    agent_id: str
    state: str
    registered: bool


class AgentAnswer(Reply):
    agent: AgentState


class AgentRefused(Reply):
    error: str
    message: str
    agent: AgentState


class Tickets(Reply):
    tickets: list[dict[str, Any]]


class Wallboard(Reply):
    type: str
    today: dict[str, Any]
    overdue: int
    alerts: list[Any]


class Me(Reply):
    user: dict[str, Any]
    csrf: str


# -- rota --------------------------------------------------------------------------------------------


class ShiftIn(Body):
    name: ShiftName | None = Field(None, description="the URL's name (may be left out)")
    start: Clock = Field(description="HH:MM, the hospital's time")
    end: Clock = Field(description="HH:MM; before start: the shift runs past midnight; equal to start: 24 hours")
    days: list[IsoWeekday] = Field([1, 2, 3, 4, 5, 6, 7], min_length=1, max_length=7,
                            description="ISO weekdays the shift starts on, 1 = Monday")
    agents: list[AgentId] = Field([], max_length=200)

    def spec(self) -> dict[str, Any]:
        """The shift as the rota store reads it."""
        return self.model_dump(exclude={"name"})


class Skills(Body):
    skills: list[Skill] = Field(max_length=16, description="menu skills like medical, reports")


class Rota(Reply):
    shifts: list[dict[str, Any]]
    agents: list[dict[str, Any]]
    menu_skills: list[str]
    now: str


class ShiftSaved(Reply):
    shift: dict[str, Any]


class ShiftDeleted(Reply):
    deleted: str


class SkillsSaved(Reply):
    agent_id: str
    skills: list[str]


# -- accounts ----------------------------------------------------------------------------------------


class UserIn(Body):
    username: Username = Field(description="a-z, 0-9, . _ - (stored lower-case)")
    password: Password
    role: Role
    display_name: DisplayName = ""
    agent_id: UserAgent | None = Field(None, description="an operator's phone (PJSIP endpoint)")


class UserPatch(Patch):
    role: Role = "operator"
    display_name: DisplayName = ""
    agent_id: UserAgent | None = Field(None, description="empty or null: no phone")
    active: bool = True


class NewPassword(Body):
    password: Password


class Account(Reply):
    id: int
    username: str
    display_name: str
    role: Role
    agent_id: str | None
    active: bool
    locked: bool
    last_login_at: str | None


class AccountAnswer(Reply):
    user: Account


class Accounts(Reply):
    users: list[Account]


class Done(Reply):
    ok: bool


# -- reports -----------------------------------------------------------------------------------------


class ReportQuery(Query):
    period: Literal["day", "week", "month", "last_month", "last_quarter"] | None = Field(
        None, description="1, 7 or 30 days ending today, or the previous calendar month or quarter (instead of from/to)")
    from_: Day | None = Field(None, alias="from", description="first day, inclusive (default today)")
    to: Day | None = Field(None, description="last day, inclusive (default from); at most a year after from")

    def as_strings(self) -> dict[str, str]:
        """The range as ``reports.parse_range`` reads it."""
        out = {"period": self.period or ""}
        if self.from_ is not None:
            out["from"] = self.from_.isoformat()
        if self.to is not None:
            out["to"] = self.to.isoformat()
        return out


class MessageEffect(Reply):
    before_from: str = Field(description="start of the period before (as long as the message has played), UTC")
    after_to: str = Field(description="the moment counted to: the range's end, or now for a range not over")
    before: int = Field(description="tickets of the category from before_from to the message's start")
    after: int = Field(description="tickets of the category from the message's start to after_to")
    change: int


class HotlineMessage(Reply):
    id: int
    rule: str
    entry_id: int | None
    category: str
    texts: dict[str, str]
    from_: str = Field(alias="from", description="first day it plays")
    to: str = Field(description="last day it plays")
    starts_at: str
    effect: MessageEffect


class Loop(Reply):
    totals: dict[str, Any]
    by_category: list[dict[str, Any]]
    by_department: list[dict[str, Any]]
    problems: dict[str, Any]
    messages: list[HotlineMessage] = Field(description="hotline messages (未诉先办) that played or started in the "
                                           "range, with their effect (docs/reports.md)")


class QualityWeek(Reply):
    week: str = Field(description="the week's Monday")
    reviews: int
    average: float | None = Field(description="average review score, percent (None: no review that week)")


class QualityAgent(Reply):
    agent_id: str
    reviews: int
    average: float | None
    two_ring_rate: float | None = Field(description="as by_agent's service_level")
    avg_talk: float | None = Field(description="handling time, as by_agent's avg_talk")
    weeks: list[QualityWeek]


class Quality(Reply):
    weeks: list[str]
    agents: list[QualityAgent]


class Report(Reply):
    from_: str = Field(alias="from")
    to: str
    days: int
    timezone: str
    summary: dict[str, Any]
    loop: Loop = Field(description="the closed loop's figures (docs/reports.md): totals, by_category, "
                       "by_department, problems, hotline messages and their effect")
    quality: Quality = Field(description="each operator's weekly quality-review score beside their two-ring rate "
                             "and handling time (docs/quality.md)")
