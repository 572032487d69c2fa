"""The reports' quality figures: each operator's average review score per week of the range.

Quality reviews (``callcenter.quality``, an area that builds on work orders) are read by table name,
so this module does not depend on them.  A review counts in the week (hospital time, Monday first)
its call was answered.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Float, Integer, String, column, select, table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.store.models import Ticket

_REVIEWS = table("quality_reviews", column("ticket_id", Integer), column("agent_id", String), column("total", Float))


async def quality_rows(reads: async_sessionmaker[AsyncSession], start: dt.datetime,
                       end: dt.datetime) -> list[tuple[str, dt.datetime, float]]:
    """(operator, call answered at, review total) of the calls answered in ``start``..``end``."""
    async with reads() as session:
        rows = (await session.execute(
            select(_REVIEWS.c.agent_id, Ticket.answered_at, _REVIEWS.c.total)
            .join(Ticket, Ticket.id == _REVIEWS.c.ticket_id)
            .where(Ticket.answered_at >= start, Ticket.answered_at < end)
        )).all()
    return [(agent, at, float(total)) for agent, at, total in rows]


def by_week(rows: Iterable[tuple[str, dt.datetime, float]], zone: ZoneInfo, start: dt.date,
            end: dt.date) -> dict[str, Any]:
    """The weeks (Mondays) of ``start``..``end`` and, per operator, each week's average score and count."""
    first = start - dt.timedelta(days=start.weekday())
    weeks = []
    day = first
    while day <= end:
        weeks.append(day)
        day += dt.timedelta(days=7)
    sums: dict[str, dict[dt.date, list[float]]] = {}
    for agent, at, total in rows:
        local = at.astimezone(zone).date()
        week = local - dt.timedelta(days=local.weekday())
        sums.setdefault(agent, {}).setdefault(week, []).append(total)
    agents = []
    for agent in sorted(sums):
        totals = [t for values in sums[agent].values() for t in values]
        agents.append({
            "agent_id": agent,
            "reviews": len(totals),
            "average": round(sum(totals) / len(totals), 1),
            "weeks": [{"week": w.isoformat(), "reviews": len(sums[agent].get(w, [])),
                       "average": round(sum(v) / len(v), 1) if (v := sums[agent].get(w)) else None} for w in weeks],
        })
    return {"weeks": [w.isoformat() for w in weeks], "agents": agents}
