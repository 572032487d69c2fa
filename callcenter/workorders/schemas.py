"""Requests and answers of the work-order API (tickets, callbacks, departments, knowledge base) as models.

The same pydantic models validate each request (``callcenter.web.api``) and make the OpenAPI
document (``callcenter.web.openapi``), so the document cannot drift from what the server accepts.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from callcenter.timewindow import WINDOW_PATTERN
from callcenter.web.api import Body, Count, Id, Patch, Promise, Query, Reply, limit, line, text
from callcenter.workorders.lifecycle import CATEGORIES, CLOSE_REASONS, PRIORITIES, Status
from callcenter.workorders.models import CONTACT_KINDS, TASK_KINDS, TASK_STATES

StatusName = Literal[tuple(s.value for s in Status)]  # type: ignore[valid-type]
Category = Literal[tuple(CATEGORIES)]  # type: ignore[valid-type]
Priority = Literal[PRIORITIES]  # type: ignore[valid-type]
CloseReason = Literal[CLOSE_REASONS]  # type: ignore[valid-type]
TaskKind = Literal[TASK_KINDS]  # type: ignore[valid-type]
TaskState = Literal[TASK_STATES]  # type: ignore[valid-type]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
AgentId = line(32, 1)
Phone = line(32, 1)
CallerNumber = line(40, 1)
Limit500 = limit(500)
Limit50 = limit(50)
Notes = text(4000)
Name = line(64)
NoteText = text(4000, 1)
Reason = text(1000)
Question = text(500, 1)
Answer = text(5000, 1)
Keywords = text(500)
Label = line(32)
RequiredName = line(64, 1)
RequiredLabel = line(32, 1)
LongNotes = text(2000)
DutyTimes = line(11, 11, WINDOW_PATTERN)


# -- requests ---------------------------------------------------------------------------------------


class TicketQuery(Query):
    caller: CallerNumber | None = Field(None, description="caller's number (punctuation ignored)")
    status: list[StatusName] | None = Field(None, min_length=1, max_length=len(Status),
                                            description="comma-separated statuses")
    open: bool = Field(False, description="only tickets not closed or merged")
    overdue: bool = Field(False, description="only tickets past their promised reply or callback deadline")
    ladder: int | None = Field(None, ge=1, le=3, description="only tickets at this overdue ladder level or higher")
    mine: bool = Field(False, description="only the logged-in operator's tickets: assigned to them, or unassigned "
                                          "and answered by them")
    limit: Limit500 = 50


class TicketPatch(Patch):
    """Fields to change, and at most one status move."""

    category: Category | None = Field(None, description="; ".join(f"{k}: {v}" for k, v in CATEGORIES.items()))
    priority: Priority = "normal"
    notes: Notes = ""
    status: StatusName | None = Field(None, description="target status; one move at a time (see allowed_status)")
    close_reason: CloseReason | None = Field(None, description="needed when status is closed")
    promised_reply_at: Promise | None = None
    assigned_agent: Name | None = None
    department_id: Id | None = None


class Note(Body):
    text: NoteText


class Escalate(Body):
    department_id: Id
    promised_reply_at: Promise | None = None
    reason: Reason = ""
    call: bool = Field(True, description="ring the department now")


class Callback(Body):
    agent_id: AgentId | None = Field(None, description="operator whose phone rings first (default: the logged-in one)")
    number: Phone | None = Field(None, description="number to call (default: the ticket's caller)")
    survey: bool | None = Field(None, description="after the operator hangs up, the caller hears the survey")
    task_id: Id | None = Field(None, description="the callback task this call works off")
    at: Promise | None = Field(None, description="schedule instead of calling now: a pending callback task due at "
                                                 "this time (a ticket may have several)")


class Survey(Body):
    score: int = Field(ge=1, le=5)


class ImportQuery(Query):
    format: Literal["csv", "json"] | None = Field(None, description="default: from the Content-Type")


class DirectoryImportQuery(Query):
    dry_run: bool = Field(False, description="check the file and report, write nothing")


class TasksQuery(Query):
    state: Literal[(*TASK_STATES, "all")] = "pending"  # type: ignore[valid-type]
    kind: TaskKind | None = None
    mine: bool = Field(False, description="only the logged-in operator's tasks and unassigned ones")
    limit: Limit500 = 100


class KbEntryIn(Body):
    question: Question
    answer: Answer
    keywords: Keywords = ""
    category: Label = ""
    department: Name = ""


class KbEntryPatch(Patch):
    question: Question = ""
    answer: Answer = ""
    keywords: Keywords = ""
    category: Label = ""
    department: Name = ""


class DepartmentIn(Body):
    name: RequiredName
    office_phone: Label = ""
    notes: LongNotes = ""
    active: bool = True


class DepartmentPatch(Patch):
    name: RequiredName = ""
    office_phone: Label = ""
    notes: LongNotes = ""
    active: bool = True


class Duty(Body):
    weekdays: list[Weekday] | None = Field(None, max_length=7)
    times: DutyTimes | None = Field(None, description="HH:MM-HH:MM in the hospital's time; may run "
                                                                "across midnight; equal ends: the whole day")


class SpecialistIn(Body):
    name: RequiredName
    title: Name = ""
    mobile: Phone
    duty: Duty | None = None
    rank: int = Field(0, ge=0, le=1000)
    active: bool = True


class SpecialistPatch(Patch):
    name: RequiredName = ""
    title: Name = ""
    mobile: Phone = ""
    duty: Duty | None = None
    rank: int = Field(0, ge=0, le=1000)
    active: bool = True


class SearchQuery(Query):
    # Any length a request line carries is answered (only the first 200 characters count): a paste of
    # a whole letter into the box gets results or an empty list, not an error.
    q: str = Field(max_length=10_000, description="what the operator typed: Chinese words, synonyms, pinyin or "
                   "initials; entries with any of its words, best first (the first 200 characters count)")
    category: RequiredLabel | None = None
    department: RequiredName | None = None
    limit: Limit50 = 10


class KbListQuery(Query):
    category: RequiredLabel | None = None
    offset: Count = 0
    limit: Limit500 = 50


# -- answers ----------------------------------------------------------------------------------------

Moment = str  # ISO 8601 with offset, as the answers write them


class Overdue(Reply):
    deadline: Moment
    late_seconds: int
    days: int


class Ticket(Reply):
    id: int
    work_ticket_id: int = Field(description="the ticket to work on: the parent when this call was merged")
    caller_number: str
    caller_name: str
    call_status: str
    source: str = Field(description="controller, fallback_queue or 12345")
    arrived_at: Moment
    answered_at: Moment | None
    ended_at: Moment | None
    agent_id: str | None
    menu_choice: str | None
    status: StatusName
    allowed_status: list[StatusName]
    category: str | None
    priority: Priority
    notes: str
    promised_reply_at: Moment | None
    callback_by: Moment | None
    satisfaction: int | None
    close_reason: str | None
    parent_id: int | None
    revisits: int
    department_id: int | None
    external_ref: str | None
    needs_promise: bool = Field(description="the call ended unsolved without a promised reply time")
    overdue: Overdue | None
    due_at: Moment | None = Field(None, description="the deadline of the category's time limit (docs/time_limits.md)")
    ladder_level: int = Field(0, ge=0, le=3, description="overdue ladder: 0 on time, 1 operator told, 2 supervisor, "
                                                         "3 department head")
    ladder_at: Moment | None = Field(None, description="when the ticket last climbed the ladder")


class Contact(Reply):
    id: int
    kind: Literal[CONTACT_KINDS]  # type: ignore[valid-type]
    at: Moment
    agent_id: str | None
    number: str | None
    outcome: str | None
    reached: str | None
    call_ticket_id: int | None
    text: str
    details: dict[str, Any]


class Task(Reply):
    id: int
    ticket_id: int | None
    kind: TaskKind
    number: str
    state: TaskState
    attempts: int
    max_attempts: int
    not_before: Moment
    result: str | None
    agent_id: str | None
    category: str | None = Field(None, description="the ticket's category (task lists)")
    due_at: Moment | None = Field(None, description="the ticket's time-limit deadline (task lists)")


class TicketDetail(Ticket):
    contacts: list[Contact]
    tasks: list[Task]
    linked_calls: list[int]
    parent: Ticket | None
    department: dict[str, Any] | None
    ivr: dict[str, Any] | None = Field(description="what the caller did in the IVR")


class TicketList(Reply):
    tickets: list[Ticket]


class Escalation(Reply):
    ticket: TicketDetail
    escalation: dict[str, Any] | None


class CallbackStarted(Reply):
    """A callback under way (202) or scheduled (201: ``task``)."""


class ImportReport(Reply):
    created: int
    skipped: int
    ticket_ids: list[int]


class TaskList(Reply):
    tasks: list[Task]


class Specialist(Reply):
    id: int
    department_id: int
    name: str
    title: str
    mobile: str
    duty: dict[str, Any]
    rank: int
    active: bool


class Department(Reply):
    id: int
    name: str
    office_phone: str
    notes: str
    active: bool
    specialists: list[Specialist]


class DepartmentList(Reply):
    departments: list[Department]


class DirectoryImportReport(Reply):
    departments: int
    contacts: int
    departments_created: int
    departments_updated: int
    contacts_created: int
    contacts_updated: int
    unchanged: int
    dry_run: bool


class Deleted(Reply):
    deleted: int


class SearchHit(Reply):
    id: int
    question: str
    question_html: str = Field(description="HTML-escaped, terms in <mark>")
    snippet_html: str = Field(description="about 80 characters of the answer around the first match")
    keywords_html: str
    answer: str
    category: str
    department: str


class SearchResult(Reply):
    query: str
    terms: list[str]
    took_ms: float
    results: list[SearchHit]


class KbEntry(Reply):
    id: int
    question: str
    answer: str
    keywords: str
    category: str
    department: str
    active: bool
    updated_by: str | None
    author: str = Field("", description="who wrote the answer (a desk reply's specialist)")
    updated_at: Moment


class KbPage(Reply):
    total: int
    entries: list[KbEntry]


class KbRevision(Reply):
    id: int
    action: str
    by: str | None
    at: Moment
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class KbHistory(Reply):
    history: list[KbRevision]


class KbImportReport(Reply):
    created: int
    updated: int
    unchanged: int
