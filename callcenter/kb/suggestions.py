"""The store's half of suggestions before typing: a ticket's signals and the candidates, read; the choice is
``callcenter.kb.suggest``'s.

A ticket carries what its call did in the IVR (``details["ivr"]``): the menu choice and the seasonal
messages played (``seasonal``, each a schedule rule's message; ``messages`` says which ones were
missing and never heard).  A hotline message made from an entry (``prevention_messages``) has its
rule's name as message name, so a message heard leads to its entry.  The caller's last ticket is
the latest earlier ticket from the same number that has a category.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.kb import suggest as core
from callcenter.kb.models import KbEntry, KbView, PreventionMessage
from callcenter.store.models import Ticket
from callcenter.workorders.exceptions import NotFound
from callcenter.workorders.models import WorkOrder

log = structlog.get_logger(__name__)

MESSAGE_WORDS = 40  # characters of a message's text kept as its reason


def heard_messages(ivr: dict[str, Any]) -> list[str]:
    """The seasonal messages the caller heard (all or part): played, not missing."""
    messages = [m for m in _list(ivr.get("messages")) if isinstance(m, dict)]
    missing = {m.get("prompt") for m in messages if m.get("outcome") == "missing"}
    played = {m.get("prompt") for m in messages if m.get("outcome") != "missing"}
    names = [n for n in _list(ivr.get("seasonal")) if isinstance(n, str)]
    return [n for n in dict.fromkeys(names) if n in played or n not in missing]


class SuggestionService:
    """Reads what ``suggest`` needs for a ticket and returns its entries with their reasons."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession],
                 clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)) -> None:
        self._sessions = sessions
        self.clock = clock

    async def for_ticket(self, ticket_id: int, limit: int = 8) -> dict[str, Any]:
        """The entries most likely for the caller of ``ticket_id``, best first, each with its reasons."""
        async with self._sessions() as session:
            ticket = await session.get(Ticket, ticket_id)
            if ticket is None:
                raise NotFound("ticket", ticket_id)
            ivr = (ticket.details or {}).get("ivr")
            ivr = ivr if isinstance(ivr, dict) else {}
            menu = ivr.get("menu") if isinstance(ivr.get("menu"), dict) else {}
            choice = menu.get("choice") if isinstance(menu.get("choice"), str) else None
            heard = await self._heard(session, heard_messages(ivr), str(ivr.get("language") or ""))
            last = await self._last_category(session, ticket)
            found = core.signals(choice, heard, last)
            limit = max(1, min(limit, core.MAX_LIMIT))
            candidates, views = await self._candidates(session, *core.wanted(found), limit)
            chosen = core.suggest(found, candidates, views, limit)
            rows = {e.id: e for e in (await session.scalars(
                select(KbEntry).where(KbEntry.id.in_([s.entry_id for s in chosen])))).all()} if chosen else {}
        log.debug("kb.suggested", ticket_id=ticket_id, signals=[s.kind for s in found], entries=len(chosen))
        return {
            "ticket_id": ticket_id,
            "signals": [_reason(s) for s in found],
            "entries": [
                {"id": s.entry_id, "question": rows[s.entry_id].question, "answer": rows[s.entry_id].answer,
                 "category": rows[s.entry_id].category, "department": rows[s.entry_id].department,
                 "views": s.views, "reasons": [_reason(r) for r in s.reasons]}
                for s in chosen if s.entry_id in rows
            ],
        }

    @staticmethod
    async def _heard(session: AsyncSession, names: list[str], language: str) -> list[tuple[int, str]]:
        """(entry, words) of each hotline message made from an entry among ``names``, in the order heard."""
        if not names:
            return []
        query = select(PreventionMessage.rule_name, PreventionMessage.entry_id, PreventionMessage.texts).where(
            PreventionMessage.rule_name.in_(names), PreventionMessage.entry_id.is_not(None))
        made = {name: (entry, texts) for name, entry, texts in (await session.execute(query)).all()}
        out: list[tuple[int, str]] = []
        for name in names:
            if name in made:
                entry, texts = made[name]
                words = (texts or {}).get(language) or (texts or {}).get("zh") or next(iter((texts or {}).values()), name)
                out.append((int(entry), str(words)[:MESSAGE_WORDS]))
        return out

    @staticmethod
    async def _last_category(session: AsyncSession, ticket: Ticket) -> str | None:
        """The category of the caller's latest earlier ticket that has one (None for an unknown number)."""
        if not ticket.caller_number:
            return None
        query = (select(WorkOrder.category).join(Ticket, Ticket.id == WorkOrder.ticket_id)
                 .where(Ticket.caller_number == ticket.caller_number, Ticket.id != ticket.id,
                        Ticket.arrived_at < ticket.arrived_at, WorkOrder.category.is_not(None), WorkOrder.category != "")
                 .order_by(Ticket.arrived_at.desc(), Ticket.id.desc()).limit(1))
        return await session.scalar(query)

    async def _candidates(self, session: AsyncSession, ids: set[int], categories: set[str],
                          limit: int) -> tuple[list[core.Candidate], dict[int, int]]:
        """The active entries ``suggest`` could pick, and their lookups in the last ``POPULAR_DAYS`` days.

        Not every entry of the wanted categories: entries the signals tie on are ordered by lookups, then
        id, so the first ``limit`` of a tie are among its entries looked up lately and the first ``limit``
        of each category by id.  That keeps the read small when a category holds thousands of entries.
        """
        if not ids and not categories:
            return [], {}
        since = self.clock() - dt.timedelta(days=core.POPULAR_DAYS)
        wanted = KbEntry.category.in_(categories) | KbEntry.id.in_(ids)
        looked_up = (select(KbEntry.id, KbEntry.category, func.count(KbView.id))
                     .join(KbView, KbView.entry_id == KbEntry.id)
                     .where(KbView.at >= since, KbEntry.active.is_(True), wanted)
                     .group_by(KbEntry.id, KbEntry.category))
        views: dict[int, int] = {}
        found: dict[int, str] = {}
        for entry_id, category, count in (await session.execute(looked_up)).all():
            views[int(entry_id)], found[int(entry_id)] = int(count), category
        firsts = [select(KbEntry.id, KbEntry.category).where(KbEntry.active.is_(True), KbEntry.category == category)
                  .order_by(KbEntry.id).limit(limit) for category in sorted(categories)]
        if ids:
            firsts.append(select(KbEntry.id, KbEntry.category).where(KbEntry.active.is_(True), KbEntry.id.in_(ids)))
        for query in firsts:
            found.update({int(i): c for i, c in (await session.execute(query)).all()})
        return [core.Candidate(i, c) for i, c in found.items()], views


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _reason(signal: core.Signal) -> dict[str, str]:
    return {"kind": signal.kind, "value": signal.value}
