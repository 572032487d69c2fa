"""Read-only queries of the web side over tickets: a caller's history, a period's rows for figures."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import aliased
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.store.models import Ticket, normalise_number
from callcenter.workorders.models import WorkOrder
from callcenter.web.figures import RING_OUTCOMES, CallRow, Ring

MAX_ROWS = 200_000  # a report over more calls than this is cut (a year of a busy hotline is ~360k)


_PARENT = aliased(WorkOrder)  # the open ticket a repeat call was merged into


def _with_work(query: Any) -> Any:
    """``query`` over tickets joined with their work order and, for a merged call, the one it joined."""
    return query.outerjoin(WorkOrder, WorkOrder.ticket_id == Ticket.id).outerjoin(
        _PARENT, _PARENT.ticket_id == WorkOrder.parent_id
    )


def ticket_json(ticket: Ticket, order: WorkOrder | None = None) -> dict[str, Any]:
    """What the pages show of one ticket (the notes as stored: pages render them as text).

    ``work`` is the ticket's work order (status, category, notes: what the desk's form saves over
    the work-order API), for a merged repeat call the one it joined; ``notes`` is what the desk
    kept on the call before work orders existed.
    """
    details = ticket.details or {}
    return {
        "id": ticket.id,
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
        "first_rang_at": _iso(ticket.first_rang_at),
        "rings": details.get("rings") or [],  # every ring of an operator's phone: agent, start, end, outcome
        "work": {
            "id": order.ticket_id,
            "status": order.status,
            "category": order.category,
            "notes": order.notes,
            "promised_reply_at": _iso(order.promised_reply_at),
        }
        if order is not None
        else None,
    }


async def caller_history(
    reads: async_sessionmaker[AsyncSession], caller_number: str, exclude_uniqueid: str = "", limit: int = 10
) -> list[dict[str, Any]]:
    """The newest earlier tickets of this caller number (none for anonymous numbers)."""
    number = normalise_number(caller_number)
    if not number:
        return []
    query = (
        _with_work(select(Ticket, WorkOrder, _PARENT))
        .where(Ticket.caller_number == number, Ticket.uniqueid != exclude_uniqueid)
        .order_by(Ticket.arrived_at.desc(), Ticket.id.desc())
        .limit(limit)
    )
    async with reads() as session:
        return [ticket_json(t, p or o) for t, o, p in (await session.execute(query)).all()]


async def agent_recent(reads: async_sessionmaker[AsyncSession], agent_id: str, limit: int = 10) -> list[dict[str, Any]]:
    """The newest tickets answered or rung at this agent."""
    query = (
        _with_work(select(Ticket, WorkOrder, _PARENT))
        .where(Ticket.agent_id == agent_id)
        .order_by(Ticket.arrived_at.desc(), Ticket.id.desc())
    )
    async with reads() as session:
        return [ticket_json(t, p or o) for t, o, p in (await session.execute(query.limit(limit))).all()]


async def find_ticket(reads: async_sessionmaker[AsyncSession], uniqueid: str) -> Ticket | None:
    """The newest ticket with this uniqueid (any node)."""
    query = select(Ticket).where(Ticket.uniqueid == uniqueid).order_by(Ticket.id.desc()).limit(1)
    async with reads() as session:
        return await session.scalar(query)


async def tickets_of_work(reads: async_sessionmaker[AsyncSession], ticket_id: int) -> list[Ticket]:
    """The ticket ``ticket_id`` and the repeat calls merged into it (empty when there is no such ticket)."""
    merged = select(WorkOrder.ticket_id).where(WorkOrder.parent_id == ticket_id)
    query = select(Ticket).where((Ticket.id == ticket_id) | Ticket.id.in_(merged)).order_by(Ticket.id)
    async with reads() as session:
        return list((await session.scalars(query)).all())


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
            WorkOrder.category,
            WorkOrder.solved_at,
            WorkOrder.satisfaction,
        )
        .outerjoin(WorkOrder, WorkOrder.ticket_id == Ticket.id)
        .where(Ticket.arrived_at >= start, Ticket.arrived_at < end)
        .order_by(Ticket.arrived_at)
        .limit(MAX_ROWS)
    )
    async with reads() as session:
        result = await session.execute(query)
        return [_row(*values) for values in result.all()]


def _row(arrived_at, call_status, agent_id, answered_at, ended_at, wait_seconds, talk_seconds, details,  # noqa: ANN001
         category=None, solved_at=None, satisfaction=None) -> CallRow:
    """One call's figures: category, solved and satisfaction from its work order (the desk's form),
    else from the notes the desk kept on the call before work orders."""
    details = details or {}
    notes = details.get("notes") or {}
    acd = details.get("acd") or {}
    callback = details.get("callback") if isinstance(details.get("callback"), dict) else None
    if category or solved_at is not None or satisfaction is not None:
        notes = {"category": category, "solved": True if solved_at is not None else None, "satisfaction": satisfaction}
    score = notes.get("satisfaction")
    return CallRow(
        arrived_at=arrived_at,
        call_status=call_status,
        agent_id=agent_id,
        rings=_rings(details.get("rings")),
        answered_at=answered_at,
        ended_at=ended_at,
        wait_seconds=wait_seconds,
        talk_seconds=talk_seconds,
        within_two_rings=acd.get("within_two_rings"),
        category=(notes.get("category") or None) if isinstance(notes, dict) else None,
        solved=notes.get("solved") if isinstance(notes, dict) else None,
        satisfaction=int(score) if isinstance(score, (int, float)) and 1 <= score <= 5 else None,
        callback=str(callback.get("outcome") or "waiting") if callback is not None else None,
    )


def _rings(stored: Any) -> tuple[Ring, ...]:
    """The ticket's rings (``details["rings"]``, written by ``TicketService.record_ring``) for figures."""
    if not isinstance(stored, list):
        return ()
    rings = []
    for entry in stored:
        if not isinstance(entry, dict) or not entry.get("agent_id"):
            continue
        try:
            started = dt.datetime.fromisoformat(entry["started_at"]) if entry.get("started_at") else None
        except (TypeError, ValueError):
            started = None
        outcome = entry.get("outcome")
        rings.append(Ring(str(entry["agent_id"]), started, outcome if outcome in RING_OUTCOMES else None))
    return tuple(rings)


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
