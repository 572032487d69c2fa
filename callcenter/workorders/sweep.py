"""The overdue sweep: tickets past their promised reply or callback time, each announced once.

``OverdueSweep`` is one part of ``WorkOrderService`` (``callcenter.workorders.service``, whose
sessions, ``_summary`` and ``notify`` it uses): ``sweep_overdue`` marks the tickets that became
overdue since the last sweep and tells the listeners (the wallboard).  ``sweep_every`` runs it
every ``workorders.overdue_check_seconds``; ``callcenter.workorders.plugin`` starts it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any

import structlog
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.store.models import Ticket, utcnow
from callcenter.workorders import lifecycle as lc
from callcenter.workorders.models import WorkOrder

log = structlog.get_logger(__name__)


class OverdueSweep:
    """Tickets that became overdue: marked alerted and announced once (part of ``WorkOrderService``)."""

    _sessions: async_sessionmaker[AsyncSession]
    _summary: Callable[[Ticket, WorkOrder | None, dt.datetime], dict[str, Any]]
    notify: Callable[[str, dict[str, Any]], None]

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


async def sweep_every(work: OverdueSweep, every: float) -> None:
    """Sweep every ``every`` seconds until cancelled; a failed sweep is logged and the next one runs."""
    while True:
        try:
            await work.sweep_overdue()
        except Exception:
            log.exception("ticket.overdue_sweep_failed")
        await asyncio.sleep(every)
