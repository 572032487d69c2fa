"""Quality review's store: the week's calls to review (tickets, work orders, recordings) and reviews.

What to review is decided by ``callcenter.quality.sample``, a review's check and total by
``callcenter.quality.score``; this module only reads and writes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.quality import sample as sm
from callcenter.quality import score as sc
from callcenter.quality.exceptions import InvalidReview, NotFound
from callcenter.quality.models import QualityReview
from callcenter.recording.models import Recording
from callcenter.settings import QualitySettings
from callcenter.store.db import read_session_factory
from callcenter.store.models import Ticket, utcnow
from callcenter.workorders.models import WorkOrder

log = structlog.get_logger(__name__)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def review_dict(row: QualityReview, answered_at: dt.datetime | None = None) -> dict[str, Any]:
    return {"id": row.id, "ticket_id": row.ticket_id, "agent_id": row.agent_id, "reviewer": row.reviewer,
            "scores": dict(row.scores), "total": row.total, "comments": row.comments,
            "form_version": row.form_version, "created_at": _iso(row.created_at),
            "updated_at": _iso(row.updated_at), "answered_at": _iso(answered_at)}


class QualityService:
    """Reads the calls to review and writes reviews; ``settings`` is ``[quality]``."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: QualitySettings, zone: ZoneInfo) -> None:
        self._sessions = sessions
        self._reads = read_session_factory(sessions.kw["bind"])  # lists and reviews never wait for a writer (SQLite)
        self.settings = settings
        self.zone = zone

    def form(self) -> dict[str, Any]:
        """The review form as the pages show it."""
        items = self.settings.items
        return {"version": sc.form_version(items), "forbidden_phrases": list(self.settings.forbidden_phrases),
                "items": [{"key": i.key, "label_zh": i.label_zh, "label_en": i.label_en, "max_points": i.max_points}
                          for i in items]}

    def week_bounds(self, day: dt.date) -> tuple[dt.date, dt.datetime, dt.datetime]:
        """The Monday of ``day``'s week and the week's UTC start and end (hospital time)."""
        monday = sm.week_start(day)
        start = dt.datetime.combine(monday, dt.time(), self.zone)
        end = dt.datetime.combine(monday + dt.timedelta(days=7), dt.time(), self.zone)
        return monday, start.astimezone(dt.UTC), end.astimezone(dt.UTC)

    async def to_review(self, day: dt.date) -> dict[str, Any]:
        """The calls to review in ``day``'s week: each with why, its recording and its review."""
        monday, start, end = self.week_bounds(day)
        async with self._reads() as session:
            rows = (await session.execute(
                select(Ticket.id, Ticket.agent_id, Ticket.answered_at, WorkOrder.satisfaction, WorkOrder.category)
                .join(WorkOrder, WorkOrder.ticket_id == Ticket.id, isouter=True)
                .where(Ticket.answered_at >= start, Ticket.answered_at < end, Ticket.agent_id.is_not(None))
            )).all()
            ids = [r[0] for r in rows]
            recordings = await self._recordings(session, ids)
            reviews = {r.ticket_id: r for r in (await session.scalars(
                select(QualityReview).where(QualityReview.ticket_id.in_(ids)))).all()} if ids else {}
        calls = [sm.Call(ticket_id=t, agent_id=a, answered_at=at, recorded=t in recordings, satisfaction=s, category=c)
                 for t, a, at, s, c in rows]
        picks = sm.pick(calls, per_operator=self.settings.sample_per_week, seed=self.settings.sample_seed,
                        week=monday, reviewed=reviews)
        out = []
        for p in picks:
            review = reviews.get(p.call.ticket_id)
            out.append({"ticket_id": p.call.ticket_id, "agent_id": p.call.agent_id,
                        "answered_at": _iso(p.call.answered_at), "reasons": list(p.reasons),
                        "satisfaction": p.call.satisfaction, "category": p.call.category,
                        "recording_id": recordings.get(p.call.ticket_id), "reviewed": review is not None,
                        "total": review.total if review else None})
        return {"week": monday.isoformat(), "from": _iso(start), "to": _iso(end), "calls": out}

    @staticmethod
    async def _recordings(session: AsyncSession, ticket_ids: list[int]) -> dict[int, int]:
        """Ticket -> its complete recording (the first, when a call has several)."""
        if not ticket_ids:
            return {}
        found: dict[int, int] = {}
        for ticket_id, rec_id in (await session.execute(
            select(Recording.ticket_id, Recording.id)
            .where(Recording.ticket_id.in_(ticket_ids), Recording.status == "complete").order_by(Recording.id)
        )).all():
            found.setdefault(ticket_id, rec_id)
        return found

    async def call(self, ticket_id: int) -> dict[str, Any]:
        """An answered call's operator, recording and review (the ticket itself comes from the work orders)."""
        async with self._reads() as session:
            ticket = await session.get(Ticket, ticket_id)
            if ticket is None or ticket.answered_at is None or not ticket.agent_id:
                raise NotFound("quality_call", ticket_id)
            recordings = await self._recordings(session, [ticket_id])
            review = await session.scalar(select(QualityReview).where(QualityReview.ticket_id == ticket_id))
        return {"ticket_id": ticket_id, "agent_id": ticket.agent_id, "answered_at": _iso(ticket.answered_at),
                "recording_id": recordings.get(ticket_id),
                "review": review_dict(review, ticket.answered_at) if review else None}

    async def save(self, ticket_id: int, scores: dict[str, Any], comments: str, reviewer: str) -> tuple[dict[str, Any], bool]:
        """Check and save the review of a call (replacing an earlier one); (review, created)."""
        items = self.settings.items
        problems = sc.problems(items, scores, comments)
        if problems:
            raise InvalidReview(problems)
        total = sc.total(items, scores)
        version = sc.form_version(items)
        async with self._sessions() as session, session.begin():
            ticket = await session.get(Ticket, ticket_id)
            if ticket is None or ticket.answered_at is None or not ticket.agent_id:
                raise NotFound("quality_call", ticket_id)
            row = await session.scalar(select(QualityReview).where(QualityReview.ticket_id == ticket_id))
            created = row is None
            if row is None:
                row = QualityReview(ticket_id=ticket_id, created_at=utcnow())
                session.add(row)
            row.agent_id, row.reviewer, row.scores, row.total = ticket.agent_id, reviewer, dict(scores), total
            row.comments, row.form_version, row.updated_at = comments, version, utcnow()
            await session.flush()
            out = review_dict(row, ticket.answered_at)
        log.info("quality.review_saved", ticket_id=ticket_id, agent_id=out["agent_id"], reviewer=reviewer,
                 total=total, created=created)
        return out, created

    async def review(self, review_id: int) -> dict[str, Any]:
        """One review with its call's recording."""
        async with self._reads() as session:
            found = (await session.execute(
                select(QualityReview, Ticket.answered_at).join(Ticket, Ticket.id == QualityReview.ticket_id)
                .where(QualityReview.id == review_id))).first()
            if found is None:
                raise NotFound("quality_review", review_id)
            recordings = await self._recordings(session, [found[0].ticket_id])
        return {**review_dict(*found), "recording_id": recordings.get(found[0].ticket_id)}

    async def reviews(self, agent_id: str | None, limit: int = 200) -> list[dict[str, Any]]:
        """Reviews newest call first; ``agent_id``: that operator's only."""
        query = (select(QualityReview, Ticket.answered_at).join(Ticket, Ticket.id == QualityReview.ticket_id)
                 .order_by(Ticket.answered_at.desc(), QualityReview.id.desc()).limit(limit))
        if agent_id is not None:
            query = query.where(QualityReview.agent_id == agent_id)
        async with self._reads() as session:
            rows = (await session.execute(query)).all()
        return [review_dict(r, at) for r, at in rows]
