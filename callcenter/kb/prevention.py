"""未诉先办 (answering before the question): what callers asked more, and hotline messages that answer it first.

Theory of operation: every entry an operator opens from the desk is a row of ``kb_views``; every
ticket's category is on ``work_orders``.  ``report`` counts both over a period and the period of
the same length just before, and ranks what rose most (``callcenter.workorders.rising``).  From an
entry, a supervisor makes a hotline message: its texts are spoken into prompt audio and a schedule
rule plays it (the IVR's ``Messages``, handed in: the knowledge base does not import the IVR); the
message is recorded here with the entry and the ticket category it should prevent, so its effect
can be shown: tickets of that category from the rule's start to now, against the same length before.

Periods are whole days of the hospital's time zone, ``[first, last]`` inclusive; the default is this
week so far (Monday to today) against the same days of last week.  Counting and period arithmetic
take the moment from the caller: no clock of their own.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.kb.models import KbEntry, KbView, PreventionMessage
from callcenter.kb.suggest import TICKET_CATEGORIES
from callcenter.store.models import Ticket
from callcenter.workorders.effect import effect_windows, message_effect
from callcenter.workorders.exceptions import InvalidData, NotFound
from callcenter.workorders.lifecycle import CATEGORIES
from callcenter.workorders.models import WorkOrder
from callcenter.workorders.rising import rising

if TYPE_CHECKING:
    from callcenter.ivr.messages import Messages

log = structlog.get_logger(__name__)

TOP = 10
DEFAULT_PRIORITY = 40  # below the file's night, holiday and seasonal messages (50-80), above the default


# -- periods (pure) -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Whole local days ``first``..``last`` (inclusive)."""

    first: dt.date
    last: dt.date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def before(self) -> Period:
        """The period of the same length just before this one."""
        return self.shifted(-self.days)

    def shifted(self, days: int) -> Period:
        return Period(self.first + dt.timedelta(days=days), self.last + dt.timedelta(days=days))

    def bounds(self, zone: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
        """[start, end) as aware datetimes: local midnight of ``first`` to that after ``last``."""
        start = dt.datetime.combine(self.first, dt.time(), zone)
        return start, dt.datetime.combine(self.last + dt.timedelta(days=1), dt.time(), zone)

    def as_dict(self) -> dict[str, str]:
        return {"from": self.first.isoformat(), "to": self.last.isoformat()}


def this_week(today: dt.date) -> tuple[Period, Period]:
    """Monday of ``today``'s week to ``today``, and the same weekdays of the week before."""
    week = Period(today - dt.timedelta(days=today.weekday()), today)
    return week, week.shifted(-7)


def ticket_category(kb_category: str) -> str:
    """The ticket category an entry of ``kb_category`` answers (the first naming it), else "other"."""
    if kb_category in CATEGORIES:
        return kb_category
    return next((ticket for ticket, kbs in TICKET_CATEGORIES.items() if kb_category in kbs), "other")


# -- the store ------------------------------------------------------------------------------------


class PreventionService:
    """Lookups counted, what rose most, and hotline messages made from entries with their effect."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], zone: dt.tzinfo,
                 clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)) -> None:
        self._sessions = sessions
        self.zone = zone
        self.clock = clock  # for the web's "now" (the counting methods take theirs as an argument)

    async def record_view(self, entry_id: int, ticket_id: int | None, by: str, at: dt.datetime) -> dict[str, Any]:
        """An operator opened an entry (during ``ticket_id``); 404 for an unknown entry or ticket."""
        async with self._sessions() as session, session.begin():
            if await session.get(KbEntry, entry_id) is None:
                raise NotFound("kb_entry", entry_id)
            if ticket_id is not None and await session.get(Ticket, ticket_id) is None:
                raise NotFound("ticket", ticket_id)
            view = KbView(entry_id=entry_id, ticket_id=ticket_id, by=by, at=at)
            session.add(view)
        log.info("kb.entry_viewed", entry_id=entry_id, ticket_id=ticket_id, by=by)
        return {"id": view.id, "entry_id": entry_id, "ticket_id": ticket_id, "by": by, "at": at.isoformat()}

    async def view_counts(self, start: dt.datetime, end: dt.datetime) -> dict[int, int]:
        """Lookups per entry in [start, end)."""
        query = (select(KbView.entry_id, func.count()).where(KbView.at >= start, KbView.at < end)
                 .group_by(KbView.entry_id))
        async with self._sessions() as session:
            return {int(entry): int(n) for entry, n in (await session.execute(query)).all()}

    async def category_counts(self, start: dt.datetime, end: dt.datetime, category: str | None = None) -> dict[str, int]:
        """Tickets per category (``work_orders.category``) created in [start, end)."""
        query = (select(WorkOrder.category, func.count())
                 .where(WorkOrder.created_at >= start, WorkOrder.created_at < end, WorkOrder.category.is_not(None))
                 .group_by(WorkOrder.category))
        if category is not None:
            query = query.where(WorkOrder.category == category)
        async with self._sessions() as session:
            return {str(cat): int(n) for cat, n in (await session.execute(query)).all()}

    async def report(self, period: Period, now: dt.datetime, top: int = TOP, before: Period | None = None) -> dict[str, Any]:
        """What rose most in ``period`` against ``before`` (default the days just before): categories, entries;
        and every message's effect."""
        before = before or period.before()
        now_bounds, before_bounds = period.bounds(self.zone), before.bounds(self.zone)
        categories = rising(await self.category_counts(*now_bounds), await self.category_counts(*before_bounds), top)
        views_now, views_before = await self.view_counts(*now_bounds), await self.view_counts(*before_bounds)
        entries = rising({str(k): v for k, v in views_now.items()}, {str(k): v for k, v in views_before.items()}, top)
        async with self._sessions() as session:
            ids = [int(r.key) for r in entries]
            found = {e.id: e for e in (await session.scalars(select(KbEntry).where(KbEntry.id.in_(ids)))).all()}
        return {
            "period": period.as_dict(),
            "before": before.as_dict(),
            "categories": [{"category": r.key, "now": r.now, "before": r.before, "change": r.change} for r in categories],
            "entries": [
                {"entry_id": int(r.key), "question": found[int(r.key)].question, "category": found[int(r.key)].category,
                 "now": r.now, "before": r.before, "change": r.change}
                for r in entries if int(r.key) in found
            ],
            "messages": await self.messages(now),
        }

    async def messages(self, now: dt.datetime) -> list[dict[str, Any]]:
        """Every message made from an entry, newest first, with tickets of its category before and after."""
        async with self._sessions() as session:
            rows = (await session.scalars(select(PreventionMessage).order_by(PreventionMessage.id.desc()))).all()
        return [await self._with_effect(row, now) for row in rows]

    async def _with_effect(self, row: PreventionMessage, now: dt.datetime) -> dict[str, Any]:
        (start, _), (_, end) = effect_windows(row.starts_at, now)
        query = select(WorkOrder.created_at).where(WorkOrder.category == row.category, WorkOrder.created_at >= start,
                                                   WorkOrder.created_at < end)
        async with self._sessions() as session:
            created = (await session.scalars(query)).all()
        return {
            "id": row.id, "rule": row.rule_name, "entry_id": row.entry_id, "category": row.category,
            "texts": row.texts, "from": row.first_day.isoformat(), "to": row.last_day.isoformat(),
            "starts_at": row.starts_at.isoformat(), "created_by": row.created_by,
            "effect": message_effect(row.starts_at, now, created),
        }

    async def rebuild_prompts(self, maker: Messages, now: dt.datetime) -> int:
        """Rebuild the missing audio of every message still to play (last day today or later), from its stored
        texts (Asterisk's sounds folder is a cache); the prompts rebuilt.  Ended messages are left: none plays."""
        today = now.astimezone(self.zone).date()
        query = select(PreventionMessage.rule_name, PreventionMessage.texts).where(PreventionMessage.last_day >= today)
        async with self._sessions() as session:
            rows = (await session.execute(query.order_by(PreventionMessage.id))).all()
        return sum([len(await maker.rebuild(name, texts)) for name, texts in rows])

    async def make_message(self, maker: Messages, entry_id: int, values: dict[str, Any], by: str,
                           now: dt.datetime) -> dict[str, Any]:
        """Turn an entry into a hotline message: audio and schedule rule through ``maker``, recorded here."""
        first, last = values["first_day"], values["last_day"]
        if last < first:
            raise InvalidData("prevention.range", "the message's last day is before its first",
                              [{"field": "last_day", "problem": "is before first_day"}])
        async with self._sessions() as session:
            entry = await session.get(KbEntry, entry_id)
            if entry is None or not entry.active:
                raise NotFound("kb_entry", entry_id)
            kb_category = entry.category
        category = values.get("category") or ticket_category(kb_category)
        if category not in CATEGORIES:
            raise InvalidData("prevention.category", f"unknown ticket category {category!r}",
                              [{"field": "category", "problem": f"must be one of {', '.join(CATEGORIES)}"}])
        name = f"kb{entry_id}_{secrets.token_hex(3)}"  # both the rule's name and its prompt's
        spec: dict[str, Any] = {"name": name, "message": name, "priority": values.get("priority", DEFAULT_PRIORITY),
                                "dates": [f"{first.isoformat()}..{last.isoformat()}"]}
        for key in ("weekdays", "times"):
            if values.get(key):
                spec[key] = values[key]
        rule = await maker.add(spec, values["texts"])
        starts_at = max(dt.datetime.combine(first, dt.time(), self.zone), now)
        try:
            async with self._sessions() as session, session.begin():
                row = PreventionMessage(rule_name=rule.name, entry_id=entry_id, category=category,
                                        texts=dict(values["texts"]), first_day=first, last_day=last,
                                        starts_at=starts_at, created_by=by, created_at=now)
                session.add(row)
        except Exception:
            await maker.rules.delete(rule.name)  # no rule without its record (its effect could not be shown)
            raise
        log.info("prevention.message_made", rule=rule.name, entry_id=entry_id, category=category, by=by)
        return {**await self._with_effect(row, now), "rule_spec": rule.to_spec()}
