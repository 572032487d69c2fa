"""The overdue sweep and the time limits' ladder: late tickets, each change announced once.

``OverdueSweep`` is one part of ``WorkOrderService`` (``callcenter.workorders.service``, whose
sessions, ``_summary`` and ``notify`` it uses):
- ``sweep_overdue`` marks the tickets that became overdue (promised reply or callback time) since
  the last sweep and tells the listeners (the wallboard);
- ``_set_due`` keeps ``work_orders.due_at``, the deadline of the ticket's time limit
  (``callcenter.workorders.timelimits``), right: the service calls it when a ticket is opened, its
  call ends, its category changes or it is escalated;
- ``sweep_ladder`` climbs unsolved tickets past their deadline (the earlier of ``due_at`` and the
  promised reply) up the ladder: each climb is written once (``ladder_level``, ``ladder_at``), logged
  (``ticket.ladder``), kept in the contact history (kind ``overdue``) and announced (``ticket.ladder``).
``sweep_every`` runs both every ``workorders.overdue_check_seconds``; ``callcenter.workorders.plugin``
starts it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any

import structlog
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.exceptions import ConfigError
from callcenter.settings import Settings
from callcenter.store.models import Ticket, utcnow
from callcenter.workcalendar import WorkingCalendar
from callcenter.workorders import lifecycle as lc
from callcenter.workorders import timelimits as tl
from callcenter.workorders.models import Contact, WorkOrder

log = structlog.get_logger(__name__)


class OverdueSweep:
    """Tickets that became overdue: marked alerted and announced once (part of ``WorkOrderService``)."""

    _sessions: async_sessionmaker[AsyncSession]
    _summary: Callable[[Ticket, WorkOrder | None, dt.datetime], dict[str, Any]]
    notify: Callable[[str, dict[str, Any]], None]
    calendar: WorkingCalendar
    limits: dict[str, tl.Limit]
    ladder: tl.Ladder
    on_call_grace: dt.timedelta

    def _time_limits(self, settings: Settings) -> None:
        """The calendar, the limits and the ladder of ``settings`` (validated when they were loaded)."""
        wo = settings.workorders
        self.calendar = WorkingCalendar.of(settings)
        try:
            self.limits = tl.parse_table(wo.time_limits, lc.CATEGORIES)
        except tl.LimitError as err:  # the settings checked the limits; the names are checked here
            raise ConfigError("config.value", f"workorders.time_limits.{err}") from None
        self.ladder = tl.Ladder(wo.supervisor_after_hours, wo.head_after_hours)
        self.on_call_grace = dt.timedelta(minutes=wo.on_call_grace_minutes)

    def _due_of(self, ticket: Ticket, category: str | None, escalated_at: dt.datetime | None) -> dt.datetime | None:
        """The deadline of the ticket's time limit (its call's arrival and end, its escalation)."""
        return tl.due_at(category, ticket.arrived_at, ticket.ended_at, escalated_at, self.calendar, self.limits,
                         self.on_call_grace)

    async def _set_due(self, session: AsyncSession, ticket: Ticket, order: WorkOrder, now: dt.datetime,
                       escalated_at: dt.datetime | None = None) -> None:
        """Recompute ``order.due_at``; a later deadline (or promise) lowers the ladder to where the ticket now stands."""
        if order.status == lc.Status.MERGED.value:
            return
        if escalated_at is None:  # once escalated, the department's limit counts, also after its reply
            escalated_at = await session.scalar(
                select(Contact.at).where(Contact.ticket_id == order.ticket_id, Contact.kind == "status",
                                         Contact.outcome == "escalated").order_by(Contact.at.desc()).limit(1)
            )
        due = self._due_of(ticket, order.category, escalated_at)
        if due != order.due_at:
            order.due_at = due
            log.info("ticket.due", ticket_id=order.ticket_id, category=order.category, due_at=due,
                     escalated_at=escalated_at)
        if order.ladder_level:
            level = tl.ladder_level(_deadline(order), now, self.calendar, self.ladder,
                                    has_department=order.department_id is not None)
            order.ladder_level = min(order.ladder_level, level)

    async def sweep_ladder(self, now: dt.datetime | None = None) -> list[dict[str, Any]]:
        """Unsolved tickets past their deadline climb the ladder; each climb written, logged and announced once."""
        now = now or utcnow()
        query = (
            select(Ticket, WorkOrder)
            .join(WorkOrder, WorkOrder.ticket_id == Ticket.id)
            .where(
                WorkOrder.status.in_([s.value for s in lc.UNSOLVED]),
                or_(WorkOrder.due_at < now, WorkOrder.promised_reply_at < now),
                or_(WorkOrder.ladder_level < 2, and_(WorkOrder.ladder_level < 3, WorkOrder.department_id.is_not(None))),
            )
            .order_by(WorkOrder.ticket_id)
            .limit(2000)
        )
        climbed = []
        async with self._sessions() as session, session.begin():
            for ticket, order in (await session.execute(query)).all():
                deadline = _deadline(order)
                level = tl.ladder_level(deadline, now, self.calendar, self.ladder,
                                        has_department=order.department_id is not None)
                if level <= order.ladder_level:
                    continue
                told = tl.TOLD[level]
                order.ladder_level, order.ladder_at = level, now
                ladder = {"level": level, "deadline": deadline.isoformat() if deadline else None, "told": told}
                session.add(Contact(ticket_id=order.ticket_id, kind="overdue", at=now, outcome=told,
                                    text=f"overdue since {ladder['deadline']}: {told} told", details=ladder))
                climbed.append({**self._summary(ticket, order, now), "ladder": ladder})
        for alert in climbed:
            log.warning("ticket.ladder", ticket_id=alert["id"], level=alert["ladder"]["level"],
                        told=alert["ladder"]["told"], deadline=alert["ladder"]["deadline"],
                        assigned_agent=alert["assigned_agent"], agent_id=alert["agent_id"],
                        department_id=alert["department_id"])
            self.notify("ticket.ladder", alert)
        return climbed

    async def sweep_overdue(self, now: dt.datetime | None = None) -> list[dict[str, Any]]:
        """Tickets that became overdue since the last sweep: marked alerted, returned and announced."""
        now = now or utcnow()
        query = (
            select(Ticket, WorkOrder)
            .join(WorkOrder, WorkOrder.ticket_id == Ticket.id)
            .where(
                WorkOrder.overdue_alerted_at.is_(None),
                or_(
                    and_(WorkOrder.status.in_([s.value for s in lc.UNSOLVED]), WorkOrder.promised_reply_at < now),
                    and_(WorkOrder.status.in_([s.value for s in lc.AWAITING_CALLBACK]), WorkOrder.callback_by < now),
                ),
            )
            .limit(500)
        )
        alerts = []
        async with self._sessions() as session, session.begin():
            for ticket, order in (await session.execute(query)).all():
                order.overdue_alerted_at = now
                alerts.append(self._summary(ticket, order, now))
        for alert in alerts:
            log.warning("ticket.overdue", ticket_id=alert["id"], status=alert["status"],
                        deadline=alert["overdue"]["deadline"] if alert["overdue"] else None)
            self.notify("ticket.overdue", alert)
        return alerts


def _deadline(order: WorkOrder) -> dt.datetime | None:
    """The ladder's deadline: the earlier of the time limit and the promised reply."""
    found = [moment for moment in (order.due_at, order.promised_reply_at) if moment is not None]
    return min(found) if found else None


async def sweep_every(work: OverdueSweep, every: float) -> None:
    """Sweep every ``every`` seconds until cancelled; a failed sweep is logged and the next one runs."""
    while True:
        for sweep in (work.sweep_overdue, work.sweep_ladder):
            try:
                await sweep()
            except Exception:
                log.exception("ticket.overdue_sweep_failed", sweep=sweep.__name__)
        await asyncio.sleep(every)
