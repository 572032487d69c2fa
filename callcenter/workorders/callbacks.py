"""Callback tasks: the calls a ticket still owes its caller (after an abandoned call, or promised by an operator).

``CallbackTasks`` is one part of ``WorkOrderService`` (``callcenter.workorders.service``, whose
sessions and settings it uses): list the tasks, create one, log each attempt until it is done or
its attempts run out.  The ticket hook there makes an abandoned call's task; the calls themselves
are the outbound package's.  ``task_dict`` is a task as the API and the outbound lists show it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.settings import Settings
from callcenter.store.models import normalise_name, normalise_number, utcnow
from callcenter.workorders.exceptions import Conflict, InvalidData, NotFound
from callcenter.workorders.models import CallbackTask, WorkOrder


class CallbackTasks:
    """Callback tasks of tickets: listed, created, and each attempt logged (part of ``WorkOrderService``)."""

    _sessions: async_sessionmaker[AsyncSession]
    settings: Settings
    notify: Callable[[str, dict[str, Any]], None]

    async def tasks(self, *, state: str | None = "pending", kind: str | None = None, agent: str | None = None,
                    limit: int = 100) -> list[dict[str, Any]]:
        """Tasks soonest first, with their ticket's category and deadline; ``agent``: theirs and unassigned ones."""
        query = select(CallbackTask, WorkOrder.category, WorkOrder.due_at).outerjoin(
            WorkOrder, WorkOrder.ticket_id == CallbackTask.ticket_id)
        if state:
            query = query.where(CallbackTask.state == state)
        if kind:
            query = query.where(CallbackTask.kind == kind)
        if agent:
            query = query.where(or_(CallbackTask.agent_id == agent, CallbackTask.agent_id.is_(None)))
        async with self._sessions() as session:
            rows = (await session.execute(query.order_by(CallbackTask.not_before, CallbackTask.id).limit(limit))).all()
        return [{**task_dict(t), "category": category, "due_at": _iso(due)} for t, category, due in rows]

    async def create_task(self, ticket_id: int | None, kind: str, number: str, *, agent_id: str | None = None,
                          name: str = "", not_before: dt.datetime | None = None, dedupe_key: str = "",
                          details: dict[str, Any] | None = None) -> dict[str, Any]:
        digits = normalise_number(number)
        if not digits:
            raise InvalidData("callback.invalid_number", "the number to call is not valid",
                              [{"field": "number", "problem": f"{number!r} is not a phone number"}])
        now = utcnow()
        try:
            async with self._sessions() as session, session.begin():
                task = CallbackTask(ticket_id=ticket_id, kind=kind, dedupe_key=dedupe_key, number=digits,
                                    name=normalise_name(name), state="pending", attempts=0,
                                    max_attempts=self.settings.outbound.max_attempts, not_before=not_before or now,
                                    agent_id=agent_id, details=details or {}, created_at=now, updated_at=now)
                session.add(task)
                await session.flush()
        except IntegrityError:  # (ticket, kind, dedupe key) exists: the same task twice
            raise Conflict("task.duplicate", f"this ticket already has that {kind} task") from None
        self.notify("callback.task_created", task_dict(task))  # the operators' to-do panels
        return task_dict(task)

    async def task_attempt(self, task_id: int, *, result: str, done: bool, agent_id: str | None = None,
                           retry_in: dt.timedelta = dt.timedelta(minutes=30)) -> dict[str, Any]:
        """Log one attempt of a task: done, or retried later until its attempts run out."""
        now = utcnow()
        async with self._sessions() as session, session.begin():
            task = await session.get(CallbackTask, task_id)
            if task is None:
                raise NotFound("callback_task", task_id)
            task.attempts += 1
            task.last_attempt_at, task.result, task.updated_at = now, result, now
            task.agent_id = agent_id or task.agent_id
            attempts = list(task.details.get("attempts", []))
            task.details = {**task.details, "attempts": [*attempts, {"at": now.isoformat(), "result": result,
                                                                     "agent_id": agent_id}]}
            if done:
                task.state = "done"
            elif task.attempts >= task.max_attempts:
                task.state = "failed"
            else:
                task.state, task.not_before = "pending", now + retry_in
        return task_dict(task)


def task_dict(t: CallbackTask) -> dict[str, Any]:
    return {"id": t.id, "ticket_id": t.ticket_id, "kind": t.kind, "number": t.number, "name": t.name,
            "state": t.state, "attempts": t.attempts, "max_attempts": t.max_attempts,
            "not_before": _iso(t.not_before), "last_attempt_at": _iso(t.last_attempt_at), "result": t.result,
            "agent_id": t.agent_id, "details": t.details}


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
