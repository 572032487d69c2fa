"""Read-only queries of the web side over tickets: a caller's history, a period's rows for figures."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.store.models import Ticket, normalise_number
from callcenter.web.figures import CallRow

MAX_ROWS = 200_000  # a report over more calls than this is cut (a year of a busy hotline is ~360k)


def ticket_json(ticket: Ticket) -> dict[str, Any]:
    """What the pages show of one ticket (the notes as stored: pages render them as text)."""
    details = ticket.details or {}
    return {
        "uniqueid": ticket.uniqueid,
        "caller_number": ticket.caller_number_raw or ticket.caller_number,
        "caller_name": ticket.caller_name,
        "call_status": ticket.call_status,
        "agent_id": ticket.agent_id,
        "arrived_at": _iso(ticket.arrived_at),
        "answered_at": _iso(ticket.answered_at),
        "ended_at": _iso(ticket.ended_at),
        "wait_seconds": ticket.wait_seconds,
        "talk_seconds": ticket.talk_seconds,
        "notes": details.get("notes"),
        "ivr": details.get("ivr"),
        "within_two_rings": (details.get("acd") or {}).get("within_two_rings"),
    }


async def caller_history(
    reads: async_sessionmaker[AsyncSession], caller_number: str, exclude_uniqueid: str = "", limit: int = 10
) -> list[dict[str, Any]]:
    """The newest earlier tickets of this caller number (none for anonymous numbers)."""
    number = normalise_number(caller_number)
    if not number:
        return []
    query = (
        select(Ticket)
        .where(Ticket.caller_number == number, Ticket.uniqueid != exclude_uniqueid)
        .order_by(Ticket.arrived_at.desc(), Ticket.id.desc())
        .limit(limit)
    )
    async with reads() as session:
        return [ticket_json(t) for t in (await session.scalars(query)).all()]


async def agent_recent(reads: async_sessionmaker[AsyncSession], agent_id: str, limit: int = 10) -> list[dict[str, Any]]:
    """The newest tickets answered or rung at this agent."""
    query = select(Ticket).where(Ticket.agent_id == agent_id).order_by(Ticket.arrived_at.desc(), Ticket.id.desc())
    async with reads() as session:
        return [ticket_json(t) for t in (await session.scalars(query.limit(limit))).all()]


async def find_ticket(reads: async_sessionmaker[AsyncSession], uniqueid: str) -> Ticket | None:
    """The newest ticket with this uniqueid (any node)."""
    query = select(Ticket).where(Ticket.uniqueid == uniqueid).order_by(Ticket.id.desc()).limit(1)
    async with reads() as session:
        return await session.scalar(query)


async def call_rows(reads: async_sessionmaker[AsyncSession], start: dt.datetime, end: dt.datetime) -> list[CallRow]:
    """The figures' view of every ticket that arrived in [start, end)."""
    query = (
        select(
            Ticket.arrived_at,
            Ticket.call_status,
            Ticket.agent_id,
            Ticket.answered_at,
            Ticket.ended_at,
            Ticket.wait_seconds,
            Ticket.talk_seconds,
            Ticket.details,
        )
        .where(Ticket.arrived_at >= start, Ticket.arrived_at < end)
        .order_by(Ticket.arrived_at)
        .limit(MAX_ROWS)
    )
    async with reads() as session:
        result = await session.execute(query)
        return [_row(*values) for values in result.all()]


def _row(arrived_at, call_status, agent_id, answered_at, ended_at, wait_seconds, talk_seconds, details) -> CallRow:  # noqa: ANN001
    details = details or {}
    notes = details.get("notes") or {}
    acd = details.get("acd") or {}
    score = notes.get("satisfaction")
    return CallRow(
        arrived_at=arrived_at,
        call_status=call_status,
        agent_id=agent_id,
        answered_at=answered_at,
        ended_at=ended_at,
        wait_seconds=wait_seconds,
        talk_seconds=talk_seconds,
        within_two_rings=acd.get("within_two_rings"),
        category=(notes.get("category") or None) if isinstance(notes, dict) else None,
        solved=notes.get("solved") if isinstance(notes, dict) else None,
        satisfaction=int(score) if isinstance(score, (int, float)) and 1 <= score <= 5 else None,
    )


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
