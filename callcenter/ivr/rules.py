"""The schedule in the database: imported from the hospital's file, edited by supervisors, read by calls.

Theory of operation: at start ``import_file`` brings ``prompts/schedule.toml`` into the
``ivr_rules`` table: rules it imported before (origin "file") are updated or removed to match the
file, and rules a supervisor set through the web API (origin "web") are left as they are.
Calls read the schedule through ``current()``, which re-reads the table at most every
``refresh`` seconds and, if the database fails, keeps using the last schedule it read (a call
never waits on a broken database for its greeting).  ``put``/``delete`` change a rule and the
cached schedule at once, so a supervisor's change applies to the very next call.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.ivr.exceptions import ScheduleError
from callcenter.ivr.schedule import Rule, parse_rule, parse_schedule
from callcenter.store.models import IvrRule
from callcenter.store.seeding import merge_file_specs

log = structlog.get_logger(__name__)

READ_TIMEOUT = 1.0  # a call waits at most this long for a fresh schedule


class RuleStore:
    """The schedule's rules, kept in the database and cached for calls."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        refresh: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._refresh = refresh
        self._clock = clock
        self._rules: list[Rule] = []
        self._read_at: float | None = None
        self._lock = asyncio.Lock()

    async def import_file(self, path: Path) -> dict[str, int]:
        """Bring the schedule file's rules into the database; counts of added/updated/removed/kept."""
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise ScheduleError("ivr.schedule_missing", f"cannot read the schedule file {path}: {err}") from err
        specs = {rule.name: rule.to_spec() for rule in parse_schedule(text, str(path))}
        async with self._sessions() as session, session.begin():
            counts = await merge_file_specs(session, IvrRule, specs)
        log.info("ivr.schedule_imported", path=str(path), **counts)
        await self.reload()
        return counts

    async def current(self) -> list[Rule]:
        """The schedule for a call: cached, re-read when older than ``refresh``, last good one on errors."""
        if self._read_at is not None and self._clock() - self._read_at < self._refresh:
            return self._rules
        try:
            async with asyncio.timeout(READ_TIMEOUT):
                await self.reload()
        except Exception as err:  # the database is down or slow: the last schedule is still right
            log.warning("ivr.schedule_stale", error=f"{type(err).__name__}: {err}".strip(), rules=len(self._rules))
            self._read_at = self._clock()  # do not retry on every call while it is down
        return self._rules

    async def reload(self) -> list[Rule]:
        """Read every rule from the database now."""
        async with self._lock:
            async with self._sessions() as session:
                rows = (await session.scalars(select(IvrRule).order_by(IvrRule.name))).all()
            rules = []
            for row in rows:
                try:
                    rules.append(parse_rule(row.spec, f"database rule {row.name!r}"))
                except ScheduleError as err:  # written by hand into the table: skip, never crash a call
                    log.error("ivr.rule_invalid", rule=row.name, error=str(err))
            self._rules, self._read_at = rules, self._clock()
            return rules

    async def rows(self) -> list[dict[str, Any]]:
        """Every rule with its origin and last change, for the web API."""
        async with self._sessions() as session:
            rows = (await session.scalars(select(IvrRule).order_by(IvrRule.name))).all()
        return [{**row.spec, "origin": row.origin, "updated_at": row.updated_at.isoformat()} for row in rows]

    async def put(self, spec: dict[str, Any]) -> Rule:
        """Create or replace a rule as a supervisor (origin "web"); effective for the next call."""
        rule = parse_rule(spec)
        async with self._sessions() as session, session.begin():
            row = await session.scalar(select(IvrRule).where(IvrRule.name == rule.name))
            if row is None:
                session.add(IvrRule(name=rule.name, spec=rule.to_spec(), origin="web"))
            else:
                row.spec, row.origin = rule.to_spec(), "web"
        log.info("ivr.rule_saved", rule=rule.name, origin="web")
        await self.reload()
        return rule

    async def delete(self, name: str) -> bool:
        """Remove a rule (the next file import adds it back if the file has it); False if unknown."""
        async with self._sessions() as session, session.begin():
            result = await session.execute(delete(IvrRule).where(IvrRule.name == name))
        await self.reload()
        if result.rowcount:
            log.info("ivr.rule_deleted", rule=name)
        return bool(result.rowcount)
