"""Sampled satisfaction campaigns in the store: draw a sample of closed tickets into an outbound list.

A campaign (``POST /api/campaigns``) takes the tickets **closed** in a period (``work_orders``
status ``closed``, ``closed_at`` in [from, to], with a caller number, not merged into another),
draws a seeded random sample per department (``callcenter.outbound.sampling``) and writes it as an
outbound list: an ``outbound_lists`` row, a ``campaigns`` row (what was asked, the seed, the
windows) and one ``callback_tasks`` row of kind ``satisfaction_sample`` per patient drawn, due by the
campaign's end.  The runner (``callcenter.outbound.runner``) dials them only in the campaign's
free-time windows (``windows_by_list``: working-day windows or holiday windows, the hospital's
calendar says which), asks for a key 1-5 and hands the score to ``WorkOrderService.record_survey``
(``via="campaign"``, the survey contact naming the campaign), so whatever watches surveys there (the feedback ledger's 1-2 hook, the
reports) sees campaign scores like any other.  ``dry_run`` shows the sample and writes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.outbound.models import CAMPAIGN_KIND, Campaign, OutboundList
from callcenter.outbound.planner import DayWindows, parse_windows
from callcenter.outbound.sampling import Closed, draw, new_seed
from callcenter.settings import Settings
from callcenter.store.models import Ticket, utcnow
from callcenter.workcalendar import WorkingCalendar
from callcenter.workorders.exceptions import InvalidData, NotFound
from callcenter.workorders.models import CallbackTask, Department, WorkOrder
from callcenter.workorders.service import WorkOrderService

log = structlog.get_logger(__name__)

SAMPLE_SHOWN = 500  # a dry run lists at most this many drawn tickets


class CampaignStore:
    """Creates campaigns, reports their progress, gives the runner their windows, records their scores."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings,
                 calendar: WorkingCalendar | None = None) -> None:
        self._sessions = sessions
        self.settings = settings.campaigns
        self.max_attempts = settings.campaigns.max_attempts
        self.tz = settings.hospital.zone
        self.calendar = calendar or WorkingCalendar.of(settings)

    # -- windows ------------------------------------------------------------------------------------

    def default_windows(self) -> dict[str, list[str]]:
        return {"workday": list(self.settings.workday_windows), "holiday": list(self.settings.holiday_windows)}

    def day_windows(self, windows: dict[str, Any]) -> DayWindows:
        """The planner's windows of a campaign's stored ``{"workday": [...], "holiday": [...]}``."""
        return DayWindows(parse_windows(windows.get("workday", ())), parse_windows(windows.get("holiday", ())),
                          self.calendar.is_holiday)

    async def windows_by_list(self, list_ids: set[int]) -> dict[int, DayWindows]:
        """The windows of the campaigns behind these outbound lists (list id -> windows)."""
        if not list_ids:
            return {}
        async with self._sessions() as session:
            rows = (await session.execute(select(Campaign.list_id, Campaign.windows)
                                          .where(Campaign.list_id.in_(list_ids)))).all()
        return {list_id: self.day_windows(windows) for list_id, windows in rows if list_id is not None}

    # -- create -------------------------------------------------------------------------------------

    async def create(self, period_from: dt.datetime, period_to: dt.datetime, *, per_department: int | None = None,
                     share: float | None = None, seed: int | None = None, windows: dict[str, Any] | None = None,
                     name: str = "", ends_at: dt.datetime | None = None, by: str | None = None,
                     now: dt.datetime | None = None, dry_run: bool = False) -> dict[str, Any]:
        """Draw the sample and (unless ``dry_run``) write the campaign, its list and its tasks."""
        now = now or utcnow()
        ends_at = ends_at or now + dt.timedelta(days=self.settings.days)
        windows = self._check(period_from, period_to, per_department, share, windows, ends_at, now)
        if per_department is None and share is None:
            per_department = self.settings.per_department
        seed = new_seed() if seed is None else seed
        async with self._sessions() as session:
            closed = await self._closed(session, period_from, period_to)
            names = await self._department_names(session)
        sample = draw(closed, seed, per_department=per_department, share=share)
        report: dict[str, Any] = {
            "closed": len(closed), "drawn": len(sample), "seed": seed, "per_department": per_department,
            "share": share, "windows": windows, "ends_at": ends_at.isoformat(), "dry_run": dry_run,
            "by_department": _by_department(closed, sample, names),
            "sample": [{"ticket_id": t.ticket_id, "department_id": t.department_id, "number": t.number}
                       for t in sample[:SAMPLE_SHOWN]],
        }
        if dry_run:
            return {"id": None, **report}
        name = name or f"{period_from.astimezone(self.tz):%Y-%m-%d} - {period_to.astimezone(self.tz):%Y-%m-%d}"
        async with self._sessions() as session, session.begin():
            batch = OutboundList(name=name[:128], imported_by=by, imported_at=now, rows=len(sample), created=len(sample),
                                 skipped=0, details={"campaign": True})
            session.add(batch)
            await session.flush()
            campaign = Campaign(name=name[:128], period_from=period_from, period_to=period_to,
                                per_department=per_department, share=share, seed=seed, windows=windows,
                                ends_at=ends_at, created_by=by, created_at=now, list_id=batch.id)
            session.add(campaign)
            await session.flush()
            for t in sample:
                session.add(CallbackTask(
                    ticket_id=t.ticket_id, kind=CAMPAIGN_KIND, dedupe_key=f"campaign:{campaign.id}:{t.ticket_id}",
                    number=t.number, state="pending", attempts=0, max_attempts=self.max_attempts, not_before=now,
                    due_by=ends_at, list_id=batch.id, created_at=now, updated_at=now,
                    details={"campaign_id": campaign.id, "department_id": t.department_id, "language": "zh"}))
        log.info("campaign.created", campaign_id=campaign.id, list_id=batch.id, closed=len(closed), drawn=len(sample),
                 seed=seed, by=by)
        return {"id": campaign.id, "list_id": batch.id, "name": campaign.name, **report}

    def _check(self, period_from: dt.datetime, period_to: dt.datetime, per_department: int | None,
               share: float | None, windows: dict[str, Any] | None, ends_at: dt.datetime,
               now: dt.datetime) -> dict[str, list[str]]:
        """Every problem of a request at once (InvalidData), or the campaign's windows."""
        problems: list[dict[str, str]] = []
        if period_from > period_to:
            problems.append({"field": "from", "problem": "the period starts after it ends (from > to)"})
        if per_department is not None and share is not None:
            problems.append({"field": "share", "problem": "give per_department or share, not both"})
        if per_department is not None and per_department < 1:
            problems.append({"field": "per_department", "problem": "must be 1 or more"})
        if share is not None and not 0 < share <= 1:
            problems.append({"field": "share", "problem": "must be more than 0 and at most 1"})
        if ends_at <= now:
            problems.append({"field": "until", "problem": "the campaign must end in the future"})
        chosen = {**self.default_windows(), **{k: list(v) for k, v in (windows or {}).items() if v is not None}}
        for kind in ("workday", "holiday"):
            try:
                chosen[kind] = [str(w) for w in parse_windows(chosen[kind])]
            except ValueError as err:
                problems.append({"field": f"windows.{kind}", "problem": str(err)})
        if not problems and not chosen["workday"] and not chosen["holiday"]:
            problems.append({"field": "windows", "problem": "give at least one window"})
        if problems:
            raise InvalidData("campaign.invalid", f"{len(problems)} problem(s) in the campaign; nothing was created",
                              problems)
        return chosen

    @staticmethod
    async def _closed(session: AsyncSession, period_from: dt.datetime, period_to: dt.datetime) -> list[Closed]:
        query = (select(WorkOrder.ticket_id, WorkOrder.department_id, Ticket.caller_number)
                 .join(Ticket, Ticket.id == WorkOrder.ticket_id)
                 .where(WorkOrder.status == "closed", WorkOrder.closed_at >= period_from,
                        WorkOrder.closed_at <= period_to, WorkOrder.parent_id.is_(None), Ticket.caller_number != ""))
        return [Closed(ticket_id, department_id, number) for ticket_id, department_id, number
                in (await session.execute(query)).all()]

    @staticmethod
    async def _department_names(session: AsyncSession) -> dict[int, str]:
        return dict((await session.execute(select(Department.id, Department.name))).all())

    # -- reads ----------------------------------------------------------------------------------------

    async def campaigns(self, limit: int = 50) -> list[dict[str, Any]]:
        """Campaigns newest first, with their counts."""
        async with self._sessions() as session:
            rows = (await session.scalars(select(Campaign).order_by(Campaign.created_at.desc(), Campaign.id.desc())
                                          .limit(limit))).all()
            tasks = await self._tasks(session, [c.list_id for c in rows if c.list_id is not None])
        return [{**campaign_dict(c), **_totals(tasks.get(c.list_id, []))} for c in rows]

    async def campaign(self, campaign_id: int) -> dict[str, Any]:
        """One campaign with its progress: drawn, called, reached, scored, and the scores per department."""
        async with self._sessions() as session:
            campaign = await session.get(Campaign, campaign_id)
            if campaign is None:
                raise NotFound("campaign", campaign_id)
            tasks = (await self._tasks(session, [campaign.list_id])).get(campaign.list_id, []) if campaign.list_id else []
            names = await self._department_names(session)
        groups: dict[int | None, list[CallbackTask]] = {}
        for task in tasks:
            groups.setdefault(task.details.get("department_id"), []).append(task)
        departments = [{"department_id": d, "department": names.get(d) if d is not None else None, **_totals(ts)}
                       for d, ts in sorted(groups.items(), key=lambda kv: (kv[0] is None, kv[0] or 0))]
        return {**campaign_dict(campaign), **_totals(tasks), "departments": departments}

    @staticmethod
    async def _tasks(session: AsyncSession, list_ids: list[int]) -> dict[int, list[CallbackTask]]:
        if not list_ids:
            return {}
        rows = (await session.scalars(select(CallbackTask).where(CallbackTask.list_id.in_(list_ids),
                                                                 CallbackTask.kind == CAMPAIGN_KIND))).all()
        out: dict[int, list[CallbackTask]] = {}
        for task in rows:
            out.setdefault(task.list_id, []).append(task)  # type: ignore[arg-type]
        return out

    # -- the survey's answer ------------------------------------------------------------------------

    async def record_score(self, work: WorkOrderService, task_id: int, ticket_id: int, campaign_id: int,
                           score: int | None, now: dt.datetime | None = None) -> None:
        """The patient's key (1-5) on the ticket through ``record_survey``, or a "no key" survey contact."""
        now = now or utcnow()
        if score is None:
            await work.record_contact(ticket_id, "survey", at=now, outcome="no_key",
                                      details={"via": "campaign", "campaign_id": campaign_id})
        else:
            await work.record_survey(ticket_id, score, via="campaign", now=now, details={"campaign_id": campaign_id})
        async with self._sessions() as session, session.begin():
            task = await session.get(CallbackTask, task_id)
            if task is not None:
                task.details = {**task.details, "score": score}
        log.info("campaign.score", campaign_id=campaign_id, task_id=task_id, ticket_id=ticket_id, score=score)


def campaign_dict(c: Campaign) -> dict[str, Any]:
    return {"id": c.id, "name": c.name, "from": c.period_from.isoformat(), "to": c.period_to.isoformat(),
            "per_department": c.per_department, "share": c.share, "seed": c.seed, "windows": c.windows,
            "ends_at": c.ends_at.isoformat(), "created_by": c.created_by, "created_at": c.created_at.isoformat(),
            "list_id": c.list_id}


def _totals(tasks: list[CallbackTask]) -> dict[str, Any]:
    """drawn, called (dialled at least once), reached (answered), scored, the scores 1-5 and their mean."""
    scores = [t.details["score"] for t in tasks if isinstance(t.details.get("score"), int)]
    histogram = Counter(scores)
    return {"drawn": len(tasks), "called": sum(1 for t in tasks if t.attempts > 0),
            "reached": sum(1 for t in tasks if t.result == "answered"), "scored": len(scores),
            "pending": sum(1 for t in tasks if t.state in ("pending", "dialing")),
            "scores": {str(k): histogram.get(k, 0) for k in range(1, 6)},
            "mean": round(sum(scores) / len(scores), 2) if scores else None}


def _by_department(closed: list[Closed], sample: list[Closed], names: dict[int, str]) -> list[dict[str, Any]]:
    totals, drawn = Counter(t.department_id for t in closed), Counter(t.department_id for t in sample)
    return [{"department_id": d, "department": names.get(d) if d is not None else None, "closed": totals[d],
             "drawn": drawn[d]} for d in sorted(totals, key=lambda d: (d is None, d or 0))]
