"""A department's desk: specialists see their departments' escalated tickets and answer them.

Theory of operation: a specialist's account (role ``specialist``) is bound to departments
(``user_departments``); the desk shows the open tickets escalated to those departments and lets
them act, each action one contact in the ticket's history naming who did it:
- ``reply``: a written answer; an escalated ticket moves on (``department_replied``: back to the
  hotline, in progress) and at once a ``callback`` task asks the operator to call the patient
  back with the answer;
- ``ask_callback``: a callback task with the specialist's note; the ticket stays escalated;
- ``handoff``: the ticket goes to another department (still escalated); the old department's
  desk no longer shows it;
- ``finding``: a written finding (for a complaint, the department's finding).
Who may see a ticket is the pure ``may_see``: a specialist only their departments' tickets,
supervisors every department.  A refused ticket answers ``desk.not_your_department`` (403).
Promoting a reply into the knowledge base is the knowledge base's route (``callcenter.kb.http``),
which asks ``promotion`` for the ticket's question and reply after the same check.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.store.models import Ticket, clean_text, utcnow
from callcenter.workorders import lifecycle as lc
from callcenter.workorders import timelimits as tl
from callcenter.workorders.callbacks import task_dict
from callcenter.workorders.exceptions import (
    Conflict,
    InvalidData,
    NotFound,
    NotYourDepartment,
)
from callcenter.workorders.models import (
    MAX_NOTES,
    CallbackTask,
    Contact,
    Department,
    UserDepartment,
    WorkOrder,
)
from callcenter.workorders.service import WorkOrderService, contact_dict

log = structlog.get_logger(__name__)

MAX_REPLY = MAX_NOTES  # the longest reply, note or finding (characters)
ACTIONABLE = frozenset({lc.Status.NEW, lc.Status.IN_PROGRESS, lc.Status.ESCALATED})  # a desk acts on these
HEAD_LADDER = next(level for level, told in tl.TOLD.items() if told == "department_head")  # the overdue ladder's


@dataclass(frozen=True)
class Scope:
    """Who is at the desk: their departments (id -> name), those they head, or every department."""

    username: str
    departments: dict[int, str] = field(default_factory=dict)
    heads: frozenset[int] = frozenset()
    every: bool = False  # supervisors see every department


def may_see(scope: Scope, department_id: int | None) -> bool:
    """True when the desk user may see and act on a ticket of ``department_id``."""
    return scope.every or (department_id is not None and department_id in scope.departments)


def refusal(scope: Scope, ticket_id: int, department: str | None) -> NotYourDepartment:
    """The 403 of a ticket outside the user's departments, naming both sides."""
    mine = ", ".join(sorted(scope.departments.values())) or "none"
    where = department if department is not None else "no department"
    return NotYourDepartment(f"ticket {ticket_id} belongs to {where}, not to your departments ({mine})")


def clean_reply(raw: str, field_name: str = "text") -> str:
    """A written reply, note or finding: control characters gone, line breaks kept; 1..MAX_REPLY characters."""
    text = "\n".join(clean_text(line).rstrip() for line in raw.replace("\r\n", "\n").split("\n")).strip()
    if not text or len(text) > MAX_REPLY:
        raise InvalidData("desk.invalid_text", f"the {field_name} must be 1-{MAX_REPLY} characters",
                          [{"field": field_name, "problem": f"must be 1-{MAX_REPLY} characters (got {len(text)})"}])
    return text


class DeskService:
    """The departments' desks over the work orders (``WorkOrderService`` renders the tickets)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], work: WorkOrderService) -> None:
        self._sessions = sessions
        self.work = work

    # -- who sits at the desk ---------------------------------------------------------------------

    async def scope(self, user_id: int, username: str, *, every: bool = False) -> Scope:
        """The user's departments (and those they head); ``every``: a supervisor's view of all."""
        async with self._sessions() as session:
            rows = (await session.execute(
                select(Department.id, Department.name, UserDepartment.is_head)
                .join(UserDepartment, UserDepartment.department_id == Department.id)
                .where(UserDepartment.user_id == user_id)
            )).all()
        return Scope(username=username, departments={r.id: r.name for r in rows},
                     heads=frozenset(r.id for r in rows if r.is_head), every=every)

    async def departments_of(self, user_ids: list[int] | None = None) -> dict[int, list[dict[str, Any]]]:
        """user id -> their departments ``[{"id", "name", "is_head"}]`` (the users page)."""
        query = (select(UserDepartment.user_id, Department.id, Department.name, UserDepartment.is_head)
                 .join(Department, Department.id == UserDepartment.department_id).order_by(Department.name))
        if user_ids is not None:
            query = query.where(UserDepartment.user_id.in_(user_ids))
        out: dict[int, list[dict[str, Any]]] = {}
        async with self._sessions() as session:
            for row in (await session.execute(query)).all():
                out.setdefault(row.user_id, []).append({"id": row.id, "name": row.name, "is_head": row.is_head})
        return out

    async def set_departments(self, user_id: int, departments: list[tuple[int, bool]]) -> list[dict[str, Any]]:
        """Bind a user to exactly these departments (id, is head); an unknown department is 404."""
        async with self._sessions() as session, session.begin():
            for department_id, _ in departments:
                if await session.get(Department, department_id) is None:
                    raise NotFound("department", department_id)
            await session.execute(delete(UserDepartment).where(UserDepartment.user_id == user_id))
            for department_id, head in dict(departments).items():
                session.add(UserDepartment(user_id=user_id, department_id=department_id, is_head=head))
        log.info("desk.departments_set", user_id=user_id, departments=sorted(dict(departments)))
        return (await self.departments_of([user_id])).get(user_id, [])

    # -- reads ------------------------------------------------------------------------------------

    async def tickets(self, scope: Scope, *, everything_open: bool = False, limit: int = 200,
                      now: dt.datetime | None = None) -> dict[str, Any]:
        """The desk's tickets, soonest due first (the time limit ``due_at``, else the promised reply time):
        escalated ones (``everything_open``: every open one).

        ``for_head``: tickets of the departments the user heads that the overdue ladder told them of.
        """
        now = now or utcnow()
        statuses = lc.OPEN if everything_open else {lc.Status.ESCALATED}
        query = (select(Ticket, WorkOrder).join(WorkOrder, WorkOrder.ticket_id == Ticket.id)
                 .where(WorkOrder.status.in_(sorted(s.value for s in statuses)), WorkOrder.department_id.is_not(None)))
        if not scope.every:
            query = query.where(WorkOrder.department_id.in_(sorted(scope.departments)))
        due = func.coalesce(WorkOrder.due_at, WorkOrder.promised_reply_at)
        query = query.order_by(due.is_(None), due, Ticket.id)
        async with self._sessions() as session:
            rows = (await session.execute(query.limit(max(1, min(limit, 500))))).all()
            names = await self._names(session)
        tickets = [self._row(t, o, names, now) for t, o in rows]
        heads = scope.heads if not scope.every else frozenset()
        for_head = [t for t in tickets if t["department_id"] in heads and self._told_head(t)]
        return {"tickets": tickets, "for_head": for_head, "departments": self._departments(scope, names)}

    async def ticket(self, scope: Scope, ticket_id: int, now: dt.datetime | None = None) -> dict[str, Any]:
        """One ticket of the user's departments with its question and contact history."""
        await self._check(scope, ticket_id)
        detail = await self.work.get(ticket_id, now)
        detail["question"] = question_of(detail)
        return detail

    @staticmethod
    def _told_head(ticket: dict[str, Any]) -> bool:
        return ticket["ladder_level"] >= HEAD_LADDER and ticket["status"] in {s.value for s in lc.UNSOLVED}

    def _row(self, ticket: Ticket, order: WorkOrder, names: dict[int, str], now: dt.datetime) -> dict[str, Any]:
        row = self.work._summary(ticket, order, now)
        row["department"] = names.get(order.department_id or 0)
        row["question"] = (order.notes or "").strip()
        return row

    @staticmethod
    async def _names(session: AsyncSession) -> dict[int, str]:
        return {row.id: row.name for row in (await session.execute(select(Department.id, Department.name))).all()}

    @staticmethod
    def _departments(scope: Scope, names: dict[int, str]) -> list[dict[str, Any]]:
        ids = names if scope.every else scope.departments
        return [{"id": i, "name": names.get(i, ""), "is_head": i in scope.heads} for i in sorted(ids, key=names.get)]

    async def _check(self, scope: Scope, ticket_id: int) -> None:
        async with self._sessions() as session:
            await self._visible(session, scope, ticket_id)

    async def _visible(self, session: AsyncSession, scope: Scope, ticket_id: int) -> tuple[Ticket, WorkOrder]:
        ticket = await session.get(Ticket, ticket_id)
        order = await session.get(WorkOrder, ticket_id)
        if ticket is None or order is None:
            raise NotFound("ticket", ticket_id)
        if not may_see(scope, order.department_id):
            department = await session.get(Department, order.department_id) if order.department_id else None
            log.warning("desk.refused", ticket_id=ticket_id, user=scope.username, department_id=order.department_id)
            raise refusal(scope, ticket_id, department.name if department else None)
        return ticket, order

    # -- actions ----------------------------------------------------------------------------------

    async def reply(self, scope: Scope, ticket_id: int, text: str, now: dt.datetime | None = None) -> dict[str, Any]:
        """A written answer: a ``reply`` contact, an escalated ticket back to the hotline, a callback task at once."""
        text = clean_reply(text)
        now = now or utcnow()
        async with self._sessions() as session, session.begin():
            ticket, order = await self._actionable(session, scope, ticket_id)
            department_id = order.department_id
            contact = self._contact(session, ticket_id, "reply", scope, now, text, {"department_id": department_id})
            if order.status == lc.Status.ESCALATED.value:
                self._move(session, ticket, order, "department_replied", scope, now)
            await session.flush()
            task = self._task(session, ticket, order, now, f"reply {contact.id}",
                              {"reply": text, "by": scope.username, "department_id": department_id,
                               "contact_id": contact.id})
            await session.flush()
        log.info("desk.replied", ticket_id=ticket_id, by=scope.username, department_id=department_id,
                 task_id=task.id if task else None)
        if task is not None:
            self.work.notify("callback.task_created", task_dict(task))  # the operators' to-do panels
        return {"contact": contact_dict(contact), "task": task_dict(task) if task else None,
                "ticket": await self.ticket(scope, ticket_id, now)}

    async def ask_callback(self, scope: Scope, ticket_id: int, note: str, now: dt.datetime | None = None) -> dict[str, Any]:
        """Ask the hotline to call the patient (a callback task with the note); the ticket stays as it is."""
        note = clean_reply(note, "note")
        now = now or utcnow()
        async with self._sessions() as session, session.begin():
            ticket, order = await self._actionable(session, scope, ticket_id)
            contact = self._contact(session, ticket_id, "note", scope, now, note,
                                    {"department_id": order.department_id, "asked_callback": True})
            await session.flush()
            task = self._task(session, ticket, order, now, f"ask {contact.id}",
                              {"note": note, "by": scope.username, "department_id": order.department_id,
                               "contact_id": contact.id})
            await session.flush()
        log.info("desk.callback_asked", ticket_id=ticket_id, by=scope.username, task_id=task.id if task else None)
        if task is not None:
            self.work.notify("callback.task_created", task_dict(task))
        return {"contact": contact_dict(contact), "task": task_dict(task) if task else None}

    async def handoff(self, scope: Scope, ticket_id: int, department_id: int, note: str = "",
                      now: dt.datetime | None = None) -> dict[str, Any]:
        """Hand the ticket to another department; it stays escalated, now on that department's desk."""
        note = clean_reply(note, "note") if note.strip() else ""
        now = now or utcnow()
        async with self._sessions() as session, session.begin():
            _, order = await self._actionable(session, scope, ticket_id)
            target = await session.get(Department, department_id)
            if target is None:
                raise NotFound("department", department_id)
            if target.id == order.department_id:
                raise Conflict("desk.same_department", f"ticket {ticket_id} is already with {target.name}")
            source = await session.get(Department, order.department_id) if order.department_id else None
            source_name = source.name if source else ""
            text = f"{source_name} -> {target.name}" + (f": {note}" if note else "")
            contact = self._contact(session, ticket_id, "handoff", scope, now, text,
                                    {"from_department_id": order.department_id, "from": source_name,
                                     "to_department_id": target.id, "to": target.name, "note": note})
            order.department_id, order.updated_at, order.updated_by = target.id, now, scope.username
            await session.flush()
            await self.work._changed(session, "ticket", order, {})  # the ledger's item follows the department
        log.info("desk.handed_off", ticket_id=ticket_id, by=scope.username, to=target.id,
                 from_department=contact.details["from_department_id"])
        return {"contact": contact_dict(contact)}

    async def finding(self, scope: Scope, ticket_id: int, text: str, now: dt.datetime | None = None) -> dict[str, Any]:
        """Attach the department's written finding (a ``finding`` contact)."""
        text = clean_reply(text)
        now = now or utcnow()
        async with self._sessions() as session, session.begin():
            _, order = await self._visible(session, scope, ticket_id)
            contact = self._contact(session, ticket_id, "finding", scope, now, text,
                                    {"department_id": order.department_id})
            await session.flush()
        log.info("desk.finding", ticket_id=ticket_id, by=scope.username, department_id=order.department_id)
        return {"contact": contact_dict(contact)}

    async def promotion(self, scope: Scope, ticket_id: int, contact_id: int | None = None) -> dict[str, Any]:
        """What a knowledge-base entry from this ticket starts as: its question, a reply (the latest or
        ``contact_id``), its author and the department."""
        async with self._sessions() as session:
            _, order = await self._visible(session, scope, ticket_id)
            query = select(Contact).where(Contact.ticket_id == ticket_id, Contact.kind == "reply")
            if contact_id is not None:
                query = query.where(Contact.id == contact_id)
            reply = await session.scalar(query.order_by(Contact.at.desc(), Contact.id.desc()).limit(1))
            department = await session.get(Department, order.department_id) if order.department_id else None
            if reply is None:
                raise NotFound("reply", contact_id if contact_id is not None else f"on ticket {ticket_id}")
        return {"question": question_of(await self.work.get(ticket_id)), "answer": reply.text, "author": reply.agent_id or "",
                "department": department.name if department else "", "contact_id": reply.id}

    async def _actionable(self, session: AsyncSession, scope: Scope, ticket_id: int) -> tuple[Ticket, WorkOrder]:
        ticket, order = await self._visible(session, scope, ticket_id)
        if lc.Status(order.status) not in ACTIONABLE:
            raise Conflict("desk.ticket_not_open",
                           f"ticket {ticket_id} is {order.status}: a desk acts on new, in-progress or escalated tickets")
        return ticket, order

    @staticmethod
    def _contact(session: AsyncSession, ticket_id: int, kind: str, scope: Scope, now: dt.datetime, text: str,
                 details: dict[str, Any]) -> Contact:
        contact = Contact(ticket_id=ticket_id, kind=kind, at=now, agent_id=scope.username, text=text,
                          details={"by": scope.username, **details})
        session.add(contact)
        return contact

    def _move(self, session: AsyncSession, ticket: Ticket, order: WorkOrder, name: str, scope: Scope,
              now: dt.datetime) -> None:
        before = self.work._state(ticket, order)
        state = lc.apply_move(before, name, now)
        self.work._store_state(order, state, now)
        order.updated_at, order.updated_by = now, scope.username
        session.add(Contact(ticket_id=ticket.id, kind="status", at=now, agent_id=scope.username,
                            outcome=state.status.value, text=f"{before.status.value} -> {state.status.value}",
                            details={"from": before.status.value, "to": state.status.value, "move": name}))
        log.info("ticket.status_changed", ticket_id=ticket.id, status=state.status.value,
                 previous=before.status.value, by=scope.username)

    def _task(self, session: AsyncSession, ticket: Ticket, order: WorkOrder, now: dt.datetime, key: str,
              details: dict[str, Any]) -> CallbackTask | None:
        """The operator's callback task: the ticket's assigned operator, else the one who took its call."""
        if not ticket.caller_number:
            log.warning("desk.no_number_to_call", ticket_id=ticket.id)
            return None
        task = CallbackTask(ticket_id=ticket.id, kind="callback", dedupe_key=key, number=ticket.caller_number,
                            name=ticket.caller_name, state="pending", attempts=0,
                            max_attempts=self.work.settings.outbound.max_attempts, not_before=now,
                            agent_id=order.assigned_agent or ticket.agent_id, details=details,
                            created_at=now, updated_at=now)
        session.add(task)
        return task


def question_of(detail: dict[str, Any]) -> str:
    """The caller's question: the ticket's notes, else the first note or escalation reason in its history."""
    if (detail.get("notes") or "").strip():
        return detail["notes"].strip()
    for contact in detail.get("contacts") or []:
        if contact["kind"] in ("note", "escalation") and (contact.get("text") or "").strip():
            return contact["text"].strip()
    return ""
