"""Work orders in the store: the lifecycle of each ticket, its contact history and callback tasks.

Theory of operation: the call side (``TicketService``) writes tickets; ``on_ticket_write`` runs
inside each of its write transactions and keeps the work-order side in step, idempotently:
- a new call gets its work order and an ``inbound`` contact; a repeat caller's new call is
  *merged* into their open ticket (its revisit count goes up, the contact lands there);
- a call that ends updates its inbound contact; an abandoned call gets a promised reply time and
  a callback task (one per abandoned call; a later answered call of the same caller cancels it);
- a caller who kept their place (press 1 on hold) gets one ``callback`` contact that follows the
  call's ``details.callback``: when and where they asked, each attempt (operator, time, outcome)
  and the outcome.  Only when every attempt failed does the call end unanswered (an abandoned-call
  task, as above).
Operators change tickets through ``update`` (one lifecycle move at most, plus fields); every
change of status is a ``status`` contact, so the history tells the whole story.

``WorkOrderService`` also holds, each in its own module, the callback tasks (``callbacks.py``),
the overdue sweep (``sweep.py``) and the 12345 import (``importer.py``); departments and duty
hours are ``DirectoryService`` (``departments.py``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import structlog
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.settings import Settings
from callcenter.store.models import Ticket, clean_text, normalise_number, utcnow
from callcenter.tickets.service import TicketWrite
from callcenter.workorders import lifecycle as lc
from callcenter.workorders.callbacks import CallbackTasks, _iso, task_dict
from callcenter.workorders.exceptions import Conflict, InvalidData, NotFound
from callcenter.workorders.importer import Import12345
from callcenter.workorders.models import (
    MAX_NOTES,
    CallbackTask,
    Contact,
    Department,
    WorkOrder,
)
from callcenter.workorders.sweep import OverdueSweep

log = structlog.get_logger(__name__)

# A kept place's outcome (``details.callback.outcome``) as its callback contact says it.
KEPT_OUTCOMES = {"waiting": "place_kept", "calling": "dialing_caller", "answered": "answered", "unreached": "unreached"}
EDITABLE = ("category", "priority", "notes", "promised_reply_at", "assigned_agent", "department_id")
# Runs inside the transaction of a ticket's change with (session, event, ticket id, data): "ticket"
# when its category or department was set, "survey" with the score.  An error rolls the change back:
# what a hook writes (a ledger item) is never lost and never written without the change.
ChangeHook = Callable[[AsyncSession, str, int, dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class Change:
    """What an operator asks of a ticket (PATCH): fields, and at most one status move."""

    fields: dict[str, Any]
    status: str | None = None
    close_reason: str | None = None


class WorkOrderService(CallbackTasks, OverdueSweep, Import12345):
    """Tickets as work orders: read, change, history, tasks, imports, overdue."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings, listeners: list | None = None) -> None:
        self._sessions = sessions
        self.settings = settings
        self.node = settings.node
        self.tz = settings.hospital.zone
        self.callback_within = dt.timedelta(hours=settings.workorders.callback_within_hours)
        self.abandoned_reply = dt.timedelta(hours=settings.workorders.abandoned_reply_hours)
        self.link_window = dt.timedelta(days=settings.workorders.link_window_days)
        self._time_limits(settings)  # the calendar, time limits and ladder (sweep.py)
        # Called with (event name, dict) for things the web pages show live: overdue, survey...
        self.listeners: list = listeners if listeners is not None else []
        self.after_change: list[ChangeHook] = []

    def notify(self, event: str, data: dict[str, Any]) -> None:
        """Tell listeners (websockets of the web pages); a failing listener is logged, never raised."""
        for listener in list(self.listeners):
            try:
                listener(event, data)
            except Exception:
                log.exception("workorder.listener_failed", workorder_event=event)

    # -- the call side's hook ------------------------------------------------------------------------

    async def on_ticket_write(self, session: AsyncSession, node: str, write: TicketWrite) -> None:
        """Keep work orders in step with a call's ticket (runs inside the ticket write's transaction)."""
        kept = write.kind == "details" and write.data.get("section") == "callback"
        if write.kind not in ("open", "fallback", "ended", "answered") and not kept:
            return
        ticket = await session.scalar(select(Ticket).where(Ticket.node == node, Ticket.uniqueid == write.uniqueid))
        if ticket is None:
            return
        order = await session.get(WorkOrder, ticket.id)
        if order is None:
            order = await self._open_work(session, ticket)
        if ticket.ended_at is not None and write.kind in ("ended", "fallback"):
            await self._call_ended(session, ticket, order)
        if kept:
            await self._kept_place(session, ticket, order, write.data.get("values") or {})

    async def _open_work(self, session: AsyncSession, ticket: Ticket) -> WorkOrder:
        """The work order of a new call: merged into the caller's open ticket, or a new one."""
        parent = await self._open_ticket_of(session, ticket)
        now = utcnow()
        order = WorkOrder(ticket_id=ticket.id, status=lc.Status.NEW.value, priority="normal", notes="", revisits=0,
                          created_at=now, updated_at=now)
        work_id = ticket.id
        if parent is not None:
            order.status = lc.Status.MERGED.value
            order.parent_id = parent.ticket_id
            parent.revisits += 1
            parent.updated_at = now
            work_id = parent.ticket_id
            log.info("ticket.merged", ticket_id=ticket.id, into=parent.ticket_id, revisits=parent.revisits)
        session.add(order)
        session.add(Contact(ticket_id=work_id, kind="inbound", at=ticket.arrived_at, number=ticket.caller_number,
                            outcome="in_call", call_ticket_id=ticket.id, text="", details={}))
        await session.flush()
        return order

    async def _open_ticket_of(self, session: AsyncSession, ticket: Ticket) -> WorkOrder | None:
        """The caller's most recent open ticket within the link window, if any."""
        if not ticket.caller_number or self.link_window <= dt.timedelta(0):
            return None
        query = (
            select(WorkOrder)
            .join(Ticket, Ticket.id == WorkOrder.ticket_id)
            .where(
                Ticket.caller_number == ticket.caller_number,
                Ticket.id != ticket.id,
                Ticket.arrived_at >= ticket.arrived_at - self.link_window,
                WorkOrder.status.in_([s.value for s in lc.OPEN]),
            )
            .order_by(Ticket.arrived_at.desc(), Ticket.id.desc())
            .limit(1)
        )
        return await session.scalar(query)

    async def _call_ended(self, session: AsyncSession, ticket: Ticket, order: WorkOrder) -> None:
        """Update the inbound contact; an abandoned call gets a promise and a callback task."""
        work = await session.get(WorkOrder, order.parent_id) if order.parent_id else order
        work = work or order
        contact = await session.scalar(
            select(Contact).where(Contact.call_ticket_id == ticket.id, Contact.kind == "inbound")
        )
        if contact is not None and contact.outcome == "in_call":
            contact.outcome = ticket.call_status
            contact.agent_id = ticket.agent_id
            contact.details = {"wait_seconds": ticket.wait_seconds, "talk_seconds": ticket.talk_seconds}
        if ticket.call_status == "abandoned":
            await self._abandoned(session, ticket, work)
        elif ticket.call_status == "completed" and work.ticket_id != ticket.id:
            # The caller got through: an earlier abandoned call's callback is no longer needed.
            pending = await session.scalars(
                select(CallbackTask).where(CallbackTask.ticket_id == work.ticket_id, CallbackTask.kind == "abandoned",
                                           CallbackTask.state == "pending")
            )
            for task in pending:
                task.state, task.result = "cancelled", "caller_got_through"
        if work.ticket_id == ticket.id:  # an on_call ticket is due when its call ends
            await self._set_due(session, ticket, work, utcnow())

    async def _kept_place(self, session: AsyncSession, ticket: Ticket, order: WorkOrder, story: dict[str, Any]) -> None:
        """The ``callback`` contact of a kept place, in step with the call's ``details.callback``."""
        work = (await session.get(WorkOrder, order.parent_id) if order.parent_id else order) or order
        contact = await session.scalar(
            select(Contact).where(Contact.call_ticket_id == ticket.id, Contact.kind == "callback")
        )
        if contact is None:
            try:
                at = dt.datetime.fromisoformat(str(story.get("requested_at")))
            except ValueError:
                at = utcnow()
            contact = Contact(ticket_id=work.ticket_id, kind="callback", at=at, number=ticket.caller_number,
                              call_ticket_id=ticket.id, text="", details={})
            session.add(contact)
        attempts = [a for a in story.get("attempts") or [] if isinstance(a, dict)]
        outcome = str(story.get("outcome") or "waiting")
        contact.outcome = KEPT_OUTCOMES.get(outcome, outcome)[:32]
        contact.agent_id = attempts[-1].get("agent_id") if attempts else None
        contact.details = {"kept_place": True, "position": story.get("position"),
                           "waited_seconds": story.get("waited_seconds"), "attempts": attempts}
        await session.flush()

    async def _abandoned(self, session: AsyncSession, ticket: Ticket, work: WorkOrder) -> None:
        if work.promised_reply_at is None and work.status in (s.value for s in lc.UNSOLVED):
            work.promised_reply_at = (ticket.ended_at or utcnow()) + self.abandoned_reply
        if not ticket.caller_number:
            log.info("ticket.abandoned_anonymous", ticket_id=ticket.id)
            return
        pending = await session.scalar(
            select(CallbackTask.id).where(CallbackTask.ticket_id == work.ticket_id, CallbackTask.kind == "abandoned",
                                          CallbackTask.state.in_(("pending", "dialing")))
        )
        exists = await session.scalar(
            select(CallbackTask.id).where(CallbackTask.ticket_id == work.ticket_id, CallbackTask.kind == "abandoned",
                                          CallbackTask.dedupe_key == str(ticket.id))
        )
        if pending is not None or exists is not None:
            return
        task = CallbackTask(
            ticket_id=work.ticket_id, kind="abandoned", dedupe_key=str(ticket.id), number=ticket.caller_number,
            name=ticket.caller_name, state="pending", attempts=0,
            max_attempts=self.settings.outbound.max_attempts, not_before=ticket.ended_at or utcnow(),
            details={"call_ticket_id": ticket.id, "wait_seconds": ticket.wait_seconds}, created_at=utcnow(),
            updated_at=utcnow(),
        )
        session.add(task)
        await session.flush()
        log.info("callback.task_created", ticket_id=work.ticket_id, task_id=task.id, kind="abandoned",
                 number=ticket.caller_number)

    # -- reads ------------------------------------------------------------------------------------

    async def list(
        self,
        *,
        caller: str | None = None,
        status: list[str] | None = None,
        overdue_only: bool = False,
        open_only: bool = False,
        ladder: int | None = None,
        agent: str | None = None,
        limit: int = 50,
        now: dt.datetime | None = None,
    ) -> list[dict[str, Any]]:
        """Tickets newest first, filtered by caller number, statuses, open, overdue, ladder level (at least),
        and ``agent``'s (assigned to them, or unassigned and answered by them)."""
        now = now or utcnow()
        query = select(Ticket, WorkOrder).outerjoin(WorkOrder, WorkOrder.ticket_id == Ticket.id)
        if caller is not None:
            number = normalise_number(caller)
            if not number:
                raise InvalidData("ticket.invalid_query", "caller must be a phone number",
                                  [{"field": "caller", "problem": f"{caller!r} has no digits to look up"}])
            query = query.where(Ticket.caller_number == number)
        if ladder:
            query = query.where(WorkOrder.ladder_level >= ladder)
        if agent:
            query = query.where(or_(WorkOrder.assigned_agent == agent,
                                    and_(WorkOrder.assigned_agent.is_(None), Ticket.agent_id == agent)))
        wanted = set(status or [])
        if open_only:
            wanted |= {s.value for s in lc.OPEN}
        if overdue_only:
            wanted = (wanted or {s.value for s in lc.OPEN}) & {s.value for s in lc.OPEN}
            query = query.where(
                or_(
                    and_(WorkOrder.status.in_([s.value for s in lc.UNSOLVED]), WorkOrder.promised_reply_at < now),
                    and_(WorkOrder.status.in_([s.value for s in lc.AWAITING_CALLBACK]), WorkOrder.callback_by < now),
                )
            )
        if wanted:
            conditions = [WorkOrder.status.in_(sorted(wanted))]
            if "new" in wanted:
                conditions.append(WorkOrder.ticket_id.is_(None))  # no work order yet: new
            query = query.where(or_(*conditions))
        query = query.order_by(Ticket.arrived_at.desc(), Ticket.id.desc()).limit(max(1, min(limit, 500)))
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return [self._summary(t, o, now) for t, o in rows]

    async def get(self, ticket_id: int, now: dt.datetime | None = None) -> dict[str, Any]:
        """One ticket with its contact history, tasks, linked calls and the ticket it was merged into."""
        now = now or utcnow()
        async with self._sessions() as session:
            ticket = await session.get(Ticket, ticket_id)
            if ticket is None:
                raise NotFound("ticket", ticket_id)
            order = await session.get(WorkOrder, ticket_id)
            out = self._summary(ticket, order, now)
            contacts = (await session.scalars(
                select(Contact).where(Contact.ticket_id == ticket_id).order_by(Contact.at, Contact.id)
            )).all()
            tasks = (await session.scalars(
                select(CallbackTask).where(CallbackTask.ticket_id == ticket_id).order_by(CallbackTask.id)
            )).all()
            linked = (await session.scalars(
                select(WorkOrder.ticket_id).where(WorkOrder.parent_id == ticket_id).order_by(WorkOrder.ticket_id)
            )).all()
            parent = None
            if order is not None and order.parent_id:
                p_ticket = await session.get(Ticket, order.parent_id)
                p_order = await session.get(WorkOrder, order.parent_id)
                if p_ticket is not None:
                    parent = self._summary(p_ticket, p_order, now)
            department = await session.get(Department, order.department_id) if order and order.department_id else None
        out["contacts"] = [contact_dict(c) for c in contacts]
        out["tasks"] = [task_dict(t) for t in tasks]
        out["linked_calls"] = list(linked)
        out["parent"] = parent
        out["department"] = {"id": department.id, "name": department.name} if department else None
        out["ivr"] = ticket.details.get("ivr")
        return out

    def _summary(self, ticket: Ticket, order: WorkOrder | None, now: dt.datetime) -> dict[str, Any]:
        state = self._state(ticket, order)
        late = lc.overdue(state, now, self.tz)
        menu = (ticket.details.get("ivr") or {}).get("menu") or {}
        return {
            "id": ticket.id,
            "work_ticket_id": order.parent_id if order is not None and order.parent_id else ticket.id,
            "node": ticket.node,
            "uniqueid": ticket.uniqueid,
            "source": ticket.source,
            "caller_number": ticket.caller_number,
            "caller_name": ticket.caller_name,
            "call_status": ticket.call_status,
            "arrived_at": _iso(ticket.arrived_at),
            "answered_at": _iso(ticket.answered_at),
            "ended_at": _iso(ticket.ended_at),
            "agent_id": ticket.agent_id,
            "wait_seconds": ticket.wait_seconds,
            "talk_seconds": ticket.talk_seconds,
            "menu_choice": menu.get("choice"),
            "status": state.status.value,
            "allowed_status": list(lc.allowed_targets(state.status)),
            "category": order.category if order else None,
            "priority": order.priority if order else "normal",
            "notes": order.notes if order else "",
            "promised_reply_at": _iso(state.promised_reply_at),
            "callback_by": _iso(state.callback_by),
            "satisfaction": state.satisfaction,
            "close_reason": state.close_reason,
            "parent_id": state.parent_id,
            "revisits": order.revisits if order else 0,
            "department_id": order.department_id if order else None,
            "external_ref": order.external_ref if order else None,
            "assigned_agent": order.assigned_agent if order else None,
            "needs_promise": state.call_ended and state.status in lc.UNSOLVED and state.promised_reply_at is None,
            "overdue": {"deadline": _iso(late.deadline), "late_seconds": int(late.late.total_seconds()), "days": late.days}
            if late
            else None,
            "due_at": _iso(order.due_at) if order else None,  # the time limit (timelimits.py)
            "ladder_level": (order.ladder_level or 0) if order else 0,  # the overdue ladder, 0-3
            "ladder_at": _iso(order.ladder_at) if order else None,
            "solved_at": _iso(order.solved_at) if order else None,
            "closed_at": _iso(order.closed_at) if order else None,
            "updated_at": _iso(order.updated_at if order else ticket.updated_at),
            "updated_by": order.updated_by if order else None,
        }

    @staticmethod
    def _state(ticket: Ticket, order: WorkOrder | None, exhausted: bool = False) -> lc.WorkState:
        if order is None:
            return lc.WorkState(call_ended=ticket.ended_at is not None)
        return lc.WorkState(
            status=lc.Status(order.status),
            promised_reply_at=order.promised_reply_at,
            call_ended=ticket.ended_at is not None,
            satisfaction=order.satisfaction,
            callback_by=order.callback_by,
            close_reason=order.close_reason,
            parent_id=order.parent_id,
            callback_attempts_exhausted=exhausted,
        )

    # -- changes ----------------------------------------------------------------------------------

    async def update(self, ticket_id: int, change: Change, by: str | None, now: dt.datetime | None = None) -> dict[str, Any]:
        """Apply fields and at most one status move; refused moves and missing promises raise."""
        now = now or utcnow()
        async with self._sessions() as session, session.begin():
            ticket, order = await self._load_for_update(session, ticket_id)
            if order.status == lc.Status.MERGED.value and (change.fields or change.status not in (None, "new")):
                raise Conflict(
                    "ticket.merged",
                    f"ticket {ticket_id} is a repeat call merged into ticket {order.parent_id}: change ticket "
                    f"{order.parent_id}, or unmerge this one first (status \"new\")",
                )
            fields = dict(change.fields)
            if "department_id" in fields and fields["department_id"] is not None:
                if await session.get(Department, fields["department_id"]) is None:
                    raise NotFound("department", fields["department_id"])
            before = self._state(ticket, order, await self._exhausted(session, ticket_id))
            state = before
            promise = fields.get("promised_reply_at", state.promised_reply_at)
            if "promised_reply_at" in fields:
                state = replace(state, promised_reply_at=promise)
            if change.status is not None:
                state = lc.move(state, change.status, now, reason=change.close_reason,
                                callback_within=self.callback_within)
            if before.status != lc.Status.MERGED:  # unmerging is bookkeeping; the ticket then shows needs_promise
                lc.check_promise(state)
            for name, value in fields.items():
                setattr(order, name, value)
            self._store_state(order, state, now)
            order.updated_at, order.updated_by = now, by
            escalating = state.status == lc.Status.ESCALATED and before.status != lc.Status.ESCALATED
            if {"category", "promised_reply_at", "department_id"} & set(fields) or escalating:
                await self._set_due(session, ticket, order, now, escalated_at=now if escalating else None)
            if "category" in fields or "department_id" in fields:
                await self._changed(session, "ticket", order, {})
            if state.status != before.status:
                session.add(Contact(ticket_id=ticket_id, kind="status", at=now, agent_id=by,
                                    outcome=state.status.value, text=f"{before.status.value} -> {state.status.value}",
                                    details={"from": before.status.value, "to": state.status.value,
                                             "reason": change.close_reason}))
                log.info("ticket.status_changed", ticket_id=ticket_id, status=state.status.value,
                         previous=before.status.value, by=by)
        return await self.get(ticket_id, now)

    async def add_note(self, ticket_id: int, text: str, by: str | None) -> dict[str, Any]:
        text = clean_text(text).strip()
        if not text or len(text) > MAX_NOTES:
            raise InvalidData("ticket.invalid_note", "the note is not valid",
                              [{"field": "text", "problem": f"must be 1-{MAX_NOTES} characters"}])
        async with self._sessions() as session, session.begin():
            await self._load_for_update(session, ticket_id)
            contact = Contact(ticket_id=ticket_id, kind="note", at=utcnow(), agent_id=by, text=text, details={})
            session.add(contact)
            await session.flush()
        return contact_dict(contact)

    async def record_contact(self, ticket_id: int, kind: str, **values: Any) -> int:
        """Append a contact (callback, escalation, outbound...) and return its id."""
        async with self._sessions() as session, session.begin():
            contact = Contact(ticket_id=ticket_id, kind=kind, at=values.pop("at", utcnow()), text=values.pop("text", ""),
                              details=values.pop("details", {}), **values)
            session.add(contact)
            await session.flush()
            return contact.id

    async def update_contact(self, contact_id: int, **values: Any) -> None:
        async with self._sessions() as session, session.begin():
            contact = await session.get(Contact, contact_id)
            if contact is None:
                return
            details = values.pop("details", None)
            for name, value in values.items():
                setattr(contact, name, value)
            if details:
                contact.details = {**contact.details, **details}

    async def escalated(self, ticket_id: int, department_id: int, promised_reply_at: dt.datetime | None,
                        by: str | None, now: dt.datetime | None = None) -> dict[str, Any]:
        """Move the ticket to escalated (if it is not already) towards ``department_id``."""
        now = now or utcnow()
        async with self._sessions() as session, session.begin():
            ticket, order = await self._load_for_update(session, ticket_id)
            if await session.get(Department, department_id) is None:
                raise NotFound("department", department_id)
            state = self._state(ticket, order)
            if promised_reply_at is not None:
                state = replace(state, promised_reply_at=promised_reply_at)
            moved = state.status != lc.Status.ESCALATED
            if moved:
                previous = state.status
                state = lc.move(state, lc.Status.ESCALATED, now)
                session.add(Contact(ticket_id=ticket_id, kind="status", at=now, agent_id=by, outcome="escalated",
                                    text=f"{previous.value} -> escalated",
                                    details={"from": previous.value, "to": "escalated"}))
            self._store_state(order, state, now)
            order.department_id, order.updated_at, order.updated_by = department_id, now, by
            await self._set_due(session, ticket, order, now, escalated_at=now if moved else None)
        return await self.get(ticket_id, now)

    async def record_survey(self, ticket_id: int, score: int, *, agent_id: str | None = None,
                            via: str = "ivr", now: dt.datetime | None = None,
                            details: dict[str, Any] | None = None) -> dict[str, Any]:
        """A satisfaction score (1-5): kept on the ticket; closes or reopens a ticket awaiting its callback.

        ``details`` go on the survey contact too (a campaign's survey names its ``campaign_id``)."""
        now = now or utcnow()
        async with self._sessions() as session, session.begin():
            ticket, order = await self._load_for_update(session, ticket_id)
            if order.parent_id:  # a survey on a merged call counts for the ticket it belongs to
                ticket, order = await self._load_for_update(session, order.parent_id)
            before = self._state(ticket, order)
            state = lc.after_survey(before, score, now)
            self._store_state(order, state, now)
            order.updated_at = now
            session.add(Contact(ticket_id=ticket.id, kind="survey", at=now, agent_id=agent_id, outcome=str(score),
                                text="", details={**(details or {}), "score": score, "via": via,
                                                  "from": before.status.value, "to": state.status.value}))
            if state.status != before.status:
                session.add(Contact(ticket_id=ticket.id, kind="status", at=now, agent_id=agent_id,
                                    outcome=state.status.value, text=f"{before.status.value} -> {state.status.value}",
                                    details={"from": before.status.value, "to": state.status.value,
                                             "reason": state.close_reason or f"survey {score}"}))
            await self._changed(session, "survey", order, {"score": score, "via": via})
        log.info("ticket.survey", ticket_id=ticket.id, score=score, status=state.status.value)
        self.notify("ticket.survey", {"ticket_id": ticket.id, "score": score, "status": state.status.value})
        return await self.get(ticket.id, now)

    async def _changed(self, session: AsyncSession, event: str, order: WorkOrder, data: dict[str, Any]) -> None:
        """Run the ``after_change`` hooks with what they need of the ticket."""
        data = {"category": order.category, "department_id": order.department_id, "notes": order.notes, **data}
        for hook in self.after_change:
            await hook(session, event, order.ticket_id, data)

    async def _load_for_update(self, session: AsyncSession, ticket_id: int) -> tuple[Ticket, WorkOrder]:
        ticket = await session.get(Ticket, ticket_id)
        if ticket is None:
            raise NotFound("ticket", ticket_id)
        order = await session.get(WorkOrder, ticket_id)
        if order is None:  # a ticket written before work orders existed: it starts as new
            now = utcnow()
            order = WorkOrder(ticket_id=ticket_id, status="new", priority="normal", notes="", revisits=0,
                              created_at=now, updated_at=now)
            session.add(order)
            await session.flush()
        return ticket, order

    @staticmethod
    def _store_state(order: WorkOrder, state: lc.WorkState, now: dt.datetime) -> None:
        if state.status.value != order.status:
            if state.status == lc.Status.SOLVED:
                order.solved_at = now
            if state.status == lc.Status.CLOSED:
                order.closed_at = now
            if state.status in lc.UNSOLVED:
                order.overdue_alerted_at = None
            else:  # the ladder is for unsolved tickets: the climbs stay in the contact history
                order.ladder_level = 0
        order.status = state.status.value
        order.promised_reply_at = state.promised_reply_at
        order.callback_by = state.callback_by
        order.satisfaction = state.satisfaction
        order.close_reason = state.close_reason
        order.parent_id = state.parent_id

    @staticmethod
    async def _exhausted(session: AsyncSession, ticket_id: int) -> bool:
        """Every callback task of this ticket failed after its attempts (closing as unreachable)."""
        rows = (await session.execute(
            select(CallbackTask.state).where(CallbackTask.ticket_id == ticket_id, CallbackTask.kind == "callback")
        )).scalars().all()
        return bool(rows) and all(state == "failed" for state in rows)


def contact_dict(c: Contact) -> dict[str, Any]:
    return {"id": c.id, "kind": c.kind, "at": _iso(c.at), "agent_id": c.agent_id, "number": c.number,
            "outcome": c.outcome, "reached": c.reached, "call_ticket_id": c.call_ticket_id, "text": c.text,
            "details": c.details}
