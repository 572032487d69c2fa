"""Outbound lists in the store: imports, pending tasks for the planner, and the attempt log.

Import policy: **all or nothing**.  A file with any invalid row is refused whole (HTTP 400) with
every problem listed by line, column and reason, so the hospital fixes the export and imports it
again, and never wonders which half of a list is being called.  Rows already imported earlier
(same type, phone and date, from any file) are not errors: they are skipped and counted, so the
daily export can be imported again safely.  ``dry_run`` checks a file without writing anything.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.outbound import importer
from callcenter.outbound.models import (
    CAMPAIGN_KIND,
    DIALLED_KINDS,
    LIST_KINDS,
    OutboundAttempt,
    OutboundList,
)
from callcenter.outbound.planner import (
    AfterAttempt,
    Capacity,
    ListTask,
    RetryRules,
    after_attempt,
    calls_per_day,
    parse_windows,
)
from callcenter.settings import Settings
from callcenter.store.models import utcnow
from callcenter.workorders.callbacks import task_dict
from callcenter.workorders.exceptions import Conflict, InvalidData, NotFound
from callcenter.workorders.models import CallbackTask

log = structlog.get_logger(__name__)


class ListStore:
    """Imports lists, hands pending tasks to the runner, logs attempts."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self._sessions = sessions
        self.settings = settings.lists
        self.tz = settings.hospital.zone
        self.retry = RetryRules(self.settings.retry_no_answer_minutes, self.settings.retry_busy_minutes,
                                self.settings.retry_failed_minutes)
        self.rules = importer.Rules(self.tz, self.settings.followup_day, self.settings.followup_grace_days)

    # -- import -----------------------------------------------------------------------------------------

    async def import_csv(self, data: bytes | str, *, name: str = "", by: str | None = None,
                         now: dt.datetime | None = None, dry_run: bool = False) -> dict[str, Any]:
        """Create a task per new row; raise InvalidData listing every problem (nothing written)."""
        now = now or utcnow()
        rows, problems = importer.parse(data, now, self.rules)
        if problems:
            raise InvalidData("outbound.invalid_list", f"{len(problems)} problem(s) in the list; nothing was imported",
                              [{"field": f"line {p['line']}: {p['field']}", "problem": p["problem"]} for p in problems])
        if not rows:
            raise InvalidData("outbound.invalid_list", "the list has no rows",
                              [{"field": "file", "problem": "has a header but no patient rows"}])
        async with self._sessions() as session:
            existing = await self._existing(session, rows)
        new = [r for r in rows if (r.kind, r.dedupe_key) not in existing]
        skipped = [{"line": r.line, "reason": "already imported"} for r in rows if (r.kind, r.dedupe_key) in existing]
        first = min((r.not_before for r in new), default=None)
        report: dict[str, Any] = {
            "rows": len(rows), "created": len(new), "skipped": len(skipped), "skipped_rows": skipped[:200],
            "by_kind": _by_kind(new),
            "first_call_from": first.isoformat() if first else None,
            "calls_per_day": calls_per_day(parse_windows(self.settings.windows),
                                           Capacity(self.settings.per_hour, self.settings.concurrent)),
            "dry_run": dry_run,
        }
        if dry_run:
            return {"list_id": None, **report}
        try:
            batch = await self._write(rows, new, skipped, name, by, now)
        except IntegrityError:  # another import of the same rows won the race
            raise Conflict("outbound.import_conflict", "the same rows were imported at the same moment; import again") from None
        log.info("outbound.list_imported", list_id=batch.id, name=name, created=len(new), skipped=len(skipped), by=by)
        return {"list_id": batch.id, **report}

    async def _write(self, rows: list[importer.ListRow], new: list[importer.ListRow], skipped: list[dict[str, Any]],
                     name: str, by: str | None, now: dt.datetime) -> OutboundList:
        async with self._sessions() as session, session.begin():
            batch = OutboundList(name=name[:128], imported_by=by, imported_at=now, rows=len(rows), created=len(new),
                                 skipped=len(skipped), details={"by_kind": _by_kind(new)})
            session.add(batch)
            await session.flush()
            for r in new:
                session.add(CallbackTask(
                    ticket_id=None, kind=r.kind, dedupe_key=r.dedupe_key, number=r.number, name=r.name, state="pending",
                    attempts=0, max_attempts=self.settings.max_attempts, not_before=r.not_before, due_by=r.due_by,
                    list_id=batch.id, details={**r.details, "line": r.line}, created_at=now, updated_at=now,
                ))
        return batch

    @staticmethod
    async def _existing(session: AsyncSession, rows: list[importer.ListRow]) -> set[tuple[str, str]]:
        keys = {r.dedupe_key for r in rows}
        found: set[tuple[str, str]] = set()
        ordered = sorted(keys)
        for i in range(0, len(ordered), 500):  # bounded IN lists
            result = await session.execute(
                select(CallbackTask.kind, CallbackTask.dedupe_key).where(
                    CallbackTask.list_id.is_not(None), CallbackTask.dedupe_key.in_(ordered[i:i + 500]))
            )
            found |= {(kind, key) for kind, key in result}
        return found

    # -- for the runner ---------------------------------------------------------------------------------

    async def pending(self, kinds: Iterable[str], limit: int = 1000) -> dict[int, CallbackTask]:
        """Pending tasks of ``kinds`` by id, the soonest due first."""
        query = (select(CallbackTask).where(CallbackTask.state == "pending", CallbackTask.kind.in_(tuple(kinds)))
                 .order_by(CallbackTask.not_before, CallbackTask.id).limit(limit))
        async with self._sessions() as session:
            return {t.id: t for t in (await session.scalars(query)).all()}

    @staticmethod
    def planned(tasks: Iterable[CallbackTask]) -> list[ListTask]:
        return [ListTask(t.id, t.not_before, t.due_by, t.attempts, t.max_attempts) for t in tasks]

    async def recent_starts(self, since: dt.datetime) -> list[dt.datetime]:
        """When list and campaign calls started since ``since`` (pacing across restarts)."""
        query = select(OutboundAttempt.started_at).where(OutboundAttempt.started_at >= since,
                                                         OutboundAttempt.kind.in_(DIALLED_KINDS))
        async with self._sessions() as session:
            return sorted((await session.scalars(query)).all())

    async def start_attempt(self, task: CallbackTask, now: dt.datetime, agent_id: str | None = None) -> int:
        async with self._sessions() as session, session.begin():
            attempt = OutboundAttempt(task_id=task.id, kind=task.kind, number=task.number, started_at=now,
                                      result="calling", agent_id=agent_id, details={})
            session.add(attempt)
            await session.flush()
        return attempt.id

    async def finish_attempt(self, attempt_id: int, result: str, now: dt.datetime, details: dict[str, Any] | None = None,
                             *, count: bool = True, call_ticket_id: int | None = None) -> AfterAttempt | None:
        """Write the attempt's outcome; with ``count``, the task's attempts and next step (retry rules)."""
        async with self._sessions() as session, session.begin():
            attempt = await session.get(OutboundAttempt, attempt_id)
            if attempt is None:
                raise NotFound("outbound_attempt", attempt_id)
            attempt.result, attempt.ended_at = result, now
            attempt.details = {**attempt.details, **(details or {})}
            attempt.call_ticket_id = call_ticket_id or attempt.call_ticket_id
            if not count:
                return None
            task = await session.get(CallbackTask, attempt.task_id)
            if task is None or task.state not in ("pending", "dialing"):
                return None  # cancelled while the call was on
            task.attempts += 1
            step = after_attempt(result, task.attempts, task.max_attempts, now, self.retry)
            task.state, task.result, task.last_attempt_at, task.updated_at = step.state, result, now, now
            if step.not_before is not None:
                task.not_before = step.not_before
        log.info("outbound.attempt_logged", task_id=attempt.task_id, result=result, next=step.state,
                 retry_at=step.not_before.isoformat() if step.not_before else None)
        return step

    async def expire(self, task_ids: Iterable[int], now: dt.datetime) -> None:
        """Tasks past their deadline (or out of attempts) will not be dialled: failed, ``expired``."""
        ids = list(task_ids)
        if not ids:
            return
        async with self._sessions() as session, session.begin():
            await session.execute(update(CallbackTask).where(CallbackTask.id.in_(ids), CallbackTask.state == "pending")
                                  .values(state="failed", result="expired", updated_at=now))
        log.info("outbound.tasks_expired", tasks=ids)

    async def recover(self, now: dt.datetime) -> int:
        """Attempts left ``calling`` by a controller that stopped mid-call: ``interrupted``, counted."""
        async with self._sessions() as session:
            open_ids = (await session.scalars(select(OutboundAttempt.id).where(OutboundAttempt.result == "calling"))).all()
        for attempt_id in open_ids:
            async with self._sessions() as session:
                attempt = await session.get(OutboundAttempt, attempt_id)
            await self.finish_attempt(attempt_id, "interrupted", now, {"note": "the controller stopped during the call"},
                                      count=attempt is not None and attempt.kind in DIALLED_KINDS)
        return len(open_ids)

    # -- reads and changes for the API --------------------------------------------------------------------

    async def tasks(self, *, kind: str | None = None, state: str | None = None, list_id: int | None = None,
                    limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        query = select(CallbackTask).where(CallbackTask.kind.in_((*LIST_KINDS, CAMPAIGN_KIND, "abandoned")))
        if kind:
            query = query.where(CallbackTask.kind == kind)
        if state:
            query = query.where(CallbackTask.state == state)
        if list_id is not None:
            query = query.where(CallbackTask.list_id == list_id)
        query = query.order_by(CallbackTask.not_before, CallbackTask.id).offset(offset).limit(limit)
        async with self._sessions() as session:
            return [list_task_dict(t) for t in (await session.scalars(query)).all()]

    async def task(self, task_id: int) -> dict[str, Any]:
        async with self._sessions() as session:
            task = await session.get(CallbackTask, task_id)
            if task is None:
                raise NotFound("callback_task", task_id)
            attempts = (await session.scalars(select(OutboundAttempt).where(OutboundAttempt.task_id == task_id)
                                              .order_by(OutboundAttempt.started_at, OutboundAttempt.id))).all()
        return {**list_task_dict(task), "attempt_log": [attempt_dict(a) for a in attempts]}

    async def attempts(self, *, task_id: int | None = None, result: str | None = None, since: dt.datetime | None = None,
                       limit: int = 100) -> list[dict[str, Any]]:
        query = select(OutboundAttempt)
        if task_id is not None:
            query = query.where(OutboundAttempt.task_id == task_id)
        if result:
            query = query.where(OutboundAttempt.result == result)
        if since is not None:
            query = query.where(OutboundAttempt.started_at >= since)
        query = query.order_by(OutboundAttempt.started_at.desc(), OutboundAttempt.id.desc()).limit(limit)
        async with self._sessions() as session:
            return [attempt_dict(a) for a in (await session.scalars(query)).all()]

    async def imports(self, limit: int = 50) -> list[dict[str, Any]]:
        query = select(OutboundList).order_by(OutboundList.imported_at.desc(), OutboundList.id.desc()).limit(limit)
        async with self._sessions() as session:
            return [{"id": b.id, "name": b.name, "imported_by": b.imported_by, "imported_at": b.imported_at.isoformat(),
                     "rows": b.rows, "created": b.created, "skipped": b.skipped, "details": b.details}
                    for b in (await session.scalars(query)).all()]

    async def cancel(self, task_id: int, by: str | None, reason: str = "") -> dict[str, Any]:
        """Stop a pending task (the patient asked not to be called, an appointment was cancelled)."""
        async with self._sessions() as session, session.begin():
            task = await session.get(CallbackTask, task_id)
            if task is None:
                raise NotFound("callback_task", task_id)
            if task.state not in ("pending",):
                raise Conflict("outbound.not_pending", f"task {task_id} is {task.state}, only pending tasks can be cancelled")
            task.state, task.result, task.updated_at = "cancelled", "cancelled", utcnow()
            task.details = {**task.details, "cancelled_by": by, "cancel_reason": reason}
        return list_task_dict(task)


def _by_kind(rows: list[importer.ListRow]) -> dict[str, int]:
    return {kind: sum(1 for r in rows if r.kind == kind) for kind in LIST_KINDS}


def list_task_dict(t: CallbackTask) -> dict[str, Any]:
    return {**task_dict(t), "list_id": t.list_id, "due_by": t.due_by.isoformat() if t.due_by else None}


def attempt_dict(a: OutboundAttempt) -> dict[str, Any]:
    return {"id": a.id, "task_id": a.task_id, "kind": a.kind, "number": a.number, "started_at": a.started_at.isoformat(),
            "ended_at": a.ended_at.isoformat() if a.ended_at else None, "result": a.result, "agent_id": a.agent_id,
            "call_ticket_id": a.call_ticket_id, "details": a.details}
