"""The reports' read of the closed loop: tickets, survey contacts and ledger items as plain rows.

One query per kind of row; what they mean is decided by ``callcenter.workorders.report_figures``.
The ledger (``callcenter.ledger``), the knowledge base's lookups (``kb_views``) and its hotline
messages (``prevention_messages``), areas that build on work orders, are read by table name, so
this module does not depend on them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    Integer,
    String,
    Text,
    column,
    func,
    or_,
    select,
    table,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from callcenter.store.models import Ticket, UtcDateTime
from callcenter.workorders.effect import MessageRow, effect_windows
from callcenter.workorders.models import Contact, Department, WorkOrder
from callcenter.workorders.report_figures import LedgerRow, SurveyRow, TicketRow

MAX_ROWS = 200_000  # as the call figures: a report over more tickets than this is cut

_CASE = aliased(WorkOrder)  # the case a merged repeat call joined (else the ticket's own work order)
_LEDGER = table("ledger_items", column("department_id", Integer), column("status", String),
                column("created_at", UtcDateTime), column("struck_off_at", UtcDateTime))
_KB_VIEWS = table("kb_views", column("entry_id", Integer), column("at", UtcDateTime))
_KB_ENTRIES = table("kb_entries", column("id", Integer), column("question", Text))
_MESSAGES = table("prevention_messages", column("id", Integer), column("rule_name", String),
                  column("entry_id", Integer), column("category", String), column("texts", JSON),
                  column("first_day", Date), column("last_day", Date), column("starts_at", UtcDateTime))


def _ticket_query() -> Any:
    case = func.coalesce
    return (
        select(
            Ticket.id, Ticket.arrived_at, Ticket.caller_number, Ticket.answered_at, Ticket.ended_at,
            WorkOrder.status, case(_CASE.category, WorkOrder.category), Department.name,
            WorkOrder.solved_at, WorkOrder.closed_at, WorkOrder.close_reason, WorkOrder.due_at,
            WorkOrder.promised_reply_at, WorkOrder.revisits,
        )
        .join(WorkOrder, WorkOrder.ticket_id == Ticket.id, isouter=True)
        .join(_CASE, _CASE.ticket_id == WorkOrder.parent_id, isouter=True)
        .join(Department, Department.id == case(_CASE.department_id, WorkOrder.department_id), isouter=True)
    )


def _ticket_row(tid, arrived, number, answered, ended, status, category, department,  # noqa: ANN001
                solved, closed, reason, due, promised, revisits) -> TicketRow:
    return TicketRow(
        ticket_id=tid, arrived_at=arrived, caller_number=number or "", answered=answered is not None,
        ended_at=ended, status=status or "new", category=category, department=department,
        solved_at=solved, closed_at=closed, close_reason=reason, due_at=due,
        promised_reply_at=promised, revisits=revisits or 0,
    )


async def loop_rows(reads: async_sessionmaker[AsyncSession], start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    """What ``report_figures.closed_loop`` needs for [start, end), as keyword arguments."""
    before = start - (end - start)
    calls = _ticket_query().where(Ticket.arrived_at >= start, Ticket.arrived_at < end).order_by(Ticket.id).limit(MAX_ROWS)
    open_then = (
        _ticket_query()
        .where(Ticket.arrived_at < end, WorkOrder.status != "merged",
               or_(WorkOrder.solved_at.is_(None), WorkOrder.solved_at >= end),
               or_(WorkOrder.due_at < end, WorkOrder.promised_reply_at < end))
        .order_by(Ticket.id).limit(MAX_ROWS)
    )
    earlier = (
        select(func.coalesce(_CASE.category, WorkOrder.category), func.count())
        .select_from(Ticket)
        .join(WorkOrder, WorkOrder.ticket_id == Ticket.id, isouter=True)
        .join(_CASE, _CASE.ticket_id == WorkOrder.parent_id, isouter=True)
        .where(Ticket.arrived_at >= before, Ticket.arrived_at < start)
        .group_by(func.coalesce(_CASE.category, WorkOrder.category))
    )
    surveys = (
        select(Contact.ticket_id, Contact.at, Contact.outcome, WorkOrder.category, Department.name)
        .join(WorkOrder, WorkOrder.ticket_id == Contact.ticket_id, isouter=True)
        .join(Department, Department.id == WorkOrder.department_id, isouter=True)
        .where(Contact.kind == "survey", Contact.at >= start, Contact.at < end)
        .order_by(Contact.id).limit(MAX_ROWS)
    )
    ledger = (
        select(Department.name, _LEDGER.c.status, _LEDGER.c.created_at, _LEDGER.c.struck_off_at)
        .select_from(_LEDGER)
        .join(Department, Department.id == _LEDGER.c.department_id, isouter=True)
        .where(_LEDGER.c.created_at < end, or_(_LEDGER.c.struck_off_at.is_(None), _LEDGER.c.struck_off_at >= start))
        .limit(MAX_ROWS)
    )
    views = (
        select(_KB_VIEWS.c.entry_id, func.count()).where(_KB_VIEWS.c.at >= before, _KB_VIEWS.c.at < end)
        .group_by(_KB_VIEWS.c.entry_id)
    )
    async with reads() as session:
        call_rows = [_ticket_row(*r) for r in (await session.execute(calls)).all()]
        open_rows = [_ticket_row(*r) for r in (await session.execute(open_then)).all()]
        before_counts: Mapping[str, int] = {c or "": n for c, n in (await session.execute(earlier)).all()}
        survey_rows = [SurveyRow(t, at, outcome, category, name)
                       for t, at, outcome, category, name in (await session.execute(surveys)).all()]
        ledger_rows = [LedgerRow(name, status, created, struck)
                       for name, status, created, struck in (await session.execute(ledger)).all()]
        kb_now = await _counts(session, views.where(_KB_VIEWS.c.at >= start))
        kb_before = await _counts(session, views.where(_KB_VIEWS.c.at < start))
        ids = [int(k) for k in kb_now]
        questions = {str(i): q for i, q in (await session.execute(
            select(_KB_ENTRIES.c.id, _KB_ENTRIES.c.question).where(_KB_ENTRIES.c.id.in_(ids)))).all()} if ids else {}
    return {"calls": call_rows, "before_counts": before_counts, "open_rows": open_rows,
            "surveys": survey_rows, "ledger": ledger_rows, "start": start, "end": end,
            "kb_views": kb_now, "kb_views_before": kb_before, "kb_questions": questions}


async def _counts(session: AsyncSession, query: Any) -> dict[str, int]:
    return {str(key): count for key, count in (await session.execute(query)).all()}



async def message_rows(reads: async_sessionmaker[AsyncSession], first: dt.date, last: dt.date,
                       now: dt.datetime) -> tuple[list[MessageRow], dict[str, list[dt.datetime]]]:
    """The hotline messages scheduled on any of the days ``first``..``last``, and the creation times of
    their categories' work orders that ``effect.message_effects`` needs for their effect at ``now``."""
    m = _MESSAGES.c
    query = (select(m.id, m.rule_name, m.entry_id, m.category, m.texts, m.first_day, m.last_day, m.starts_at)
             .where(m.first_day <= last, m.last_day >= first).order_by(m.id).limit(MAX_ROWS))
    async with reads() as session:
        messages = [MessageRow(*row) for row in (await session.execute(query)).all()]
        created: dict[str, list[dt.datetime]] = {}
        for category in sorted({msg.category for msg in messages}):
            windows = [effect_windows(msg.starts_at, now) for msg in messages if msg.category == category]
            start, end = min(before[0] for before, _ in windows), max(after[1] for _, after in windows)
            times = (select(WorkOrder.created_at)
                     .where(WorkOrder.category == category, WorkOrder.created_at >= start, WorkOrder.created_at < end)
                     .limit(MAX_ROWS))
            created[category] = list((await session.scalars(times)).all())
    return messages, created
