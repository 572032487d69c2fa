"""Requests and answers of the outbound-list API as pydantic models (validation and OpenAPI alike)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from callcenter.outbound.models import ATTEMPT_RESULTS, DIALLED_KINDS
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
