"""Requests and answers of the outbound-list API as pydantic models (validation and OpenAPI alike)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from callcenter.outbound.models import ATTEMPT_RESULTS, DIALLED_KINDS
from callcenter.outbound.sampling import SEED_MAX
from callcenter.timewindow import WINDOW_PATTERN
from callcenter.web.api import Body, Count, Id, Moment, Query, Reply, limit, line, text
from callcenter.workorders.models import TASK_STATES
from callcenter.workorders.schemas import Task

ListName = line(128, 1)
Limit500 = limit(500)
CancelReason = text(200)
Kind = Literal[(*DIALLED_KINDS, "abandoned")]  # type: ignore[valid-type]


class ImportQuery(Query):
    name: ListName | None = Field(None, description="a label for the list (default: the file name)")
    dry_run: bool = Field(False, description="check the file and report, write nothing")


class TasksQuery(Query):
    kind: Kind | None = None
    state: Literal[(*TASK_STATES, "all")] = "all"  # type: ignore[valid-type]
    list_id: Id | None = None
    offset: Count = 0
    limit: Limit500 = 100


class AttemptsQuery(Query):
    task_id: Id | None = None
    result: Literal[ATTEMPT_RESULTS] | None = None  # type: ignore[valid-type]
    since: Moment | None = None
    limit: Limit500 = 100


class Cancel(Body):
    """Why calling stops (optional; no body at all is fine)."""

    reason: CancelReason = ""


class ListImportReport(Reply):
    list_id: int | None
    rows: int
    created: int
    skipped: int
    dry_run: bool


class ListTask(Task):
    list_id: int | None
    due_by: str | None


class Attempt(Reply):
    id: int
    task_id: int
    kind: str
    number: str
    started_at: str
    ended_at: str | None
    result: str
    agent_id: str | None
    call_ticket_id: int | None
    details: dict[str, Any] | None


class TaskWithAttempts(ListTask):
    attempt_log: list[Attempt]


class ListTaskList(Reply):
    tasks: list[ListTask]


class AttemptList(Reply):
    attempts: list[Attempt]


class ImportedList(Reply):
    id: int
    name: str
    imported_by: str | None
    imported_at: str
    rows: int
    created: int
    skipped: int


class ImportList(Reply):
    lists: list[ImportedList]


# -- sampled satisfaction campaigns -------------------------------------------------------------------

WindowText = line(11, 11, WINDOW_PATTERN)
CampaignName = line(128)


class CampaignWindows(Body):
    """Free-time windows of a campaign (default: ``[campaigns]`` workday_windows and holiday_windows)."""

    workday: list[WindowText] | None = Field(None, max_length=12, description='working days, e.g. ["08:00-09:00"]')
    holiday: list[WindowText] | None = Field(None, max_length=12, description="weekends and holidays ([calendar])")


class CampaignCreate(Body):
    """Draw a sample of the tickets closed in [from, to] into an outbound list of satisfaction calls."""

    from_: Moment = Field(alias="from", description="period start (tickets closed from then)")
    to: Moment = Field(description="period end (tickets closed until then)")
    per_department: int | None = Field(None, ge=1, le=10_000, description="patients per department "
                                                                          "(default [campaigns] per_department)")
    share: float | None = Field(None, gt=0, le=1, description="instead of per_department: this share of each "
                                                              "department's closed tickets, rounded up")
    seed: int | None = Field(None, ge=0, le=SEED_MAX, description="the draw's seed (default: a new one, recorded)")
    windows: CampaignWindows | None = None
    until: Moment | None = Field(None, description="calls stop then (default: [campaigns] days from now)")
    name: CampaignName = ""
    dry_run: bool = Field(False, description="show the sample, write nothing")


class CampaignDepartment(Reply):
    department_id: int | None
    department: str | None
    drawn: int


class CampaignReport(Reply):
    id: int | None
    closed: int
    drawn: int
    seed: int
    dry_run: bool
    by_department: list[dict[str, Any]]
    sample: list[dict[str, Any]]


class CampaignProgress(Reply):
    id: int
    name: str
    seed: int
    list_id: int | None
    drawn: int
    called: int
    reached: int
    scored: int
    scores: dict[str, int]
    mean: float | None


class CampaignDetail(CampaignProgress):
    departments: list[CampaignDepartment]


class CampaignList(Reply):
    campaigns: list[CampaignProgress]
