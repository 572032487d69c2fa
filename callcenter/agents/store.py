"""The rota's shifts and the operators' skills in the database, edited by supervisors with immediate effect.

Theory of operation (the IVR's rule store, ``callcenter.ivr.rules``, works the same way): at start
``import_settings`` brings the ``[[shifts]]`` of the settings into ``rota_shifts``: shifts it
imported before (origin "file") are updated or removed to match the settings, and shifts a
supervisor set on the web (origin "web") are left as they are.  Readers (``/health``, the
wallboard) use ``shifts``/``on_duty``, served from memory; every change through ``put``/``delete``
refreshes that memory before it returns, so the next reader sees it.

Skills: ``[[agents]] skills`` are the default; a supervisor's choice is kept in ``agent_skills``
and applied to the ACD at start and at once when changed (``Adapter.set_skills``).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import structlog
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.agents.models import AgentSkills, RotaShift
from callcenter.agents.rota import Shift, on_duty, parse_shift
from callcenter.exceptions import CallCenterError, ConfigError
from callcenter.settings import AgentSettings
from callcenter.store.seeding import merge_file_specs

log = structlog.get_logger(__name__)

NAME = re.compile(r"^[\w\- .:()\u4e00-\u9fff]{1,64}$")
SKILL = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
MAX_SKILLS = 16


class RotaError(CallCenterError):
    """A shift or skill list that cannot be used (the web API answers 400 with the message)."""


def shift_spec(shift: Shift) -> dict[str, Any]:
    """A shift as its ``[[shifts]]`` table, without the name."""
    return {
        "start": shift.start.strftime("%H:%M"),
        "end": shift.end.strftime("%H:%M"),
        "days": list(shift.days),
        "agents": list(shift.agents),
    }


class RotaStore:
    """Shifts and skills, kept in the database and served from memory."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], agents: tuple[AgentSettings, ...]) -> None:
        self._sessions = sessions
        self.agents = {a.id: a for a in agents}
        self._shifts: tuple[Shift, ...] = ()
        self._skills: dict[str, tuple[str, ...]] = {}

    # -- reads (memory) --------------------------------------------------------------------------------

    @property
    def shifts(self) -> tuple[Shift, ...]:
        """The rota as last read or written."""
        return self._shifts

    def on_duty(self, at: dt.datetime) -> dict[str, str]:
        """Agent id -> name of the shift that has them on duty at ``at`` (local wall-clock time)."""
        return on_duty(self._shifts, at)

    def skills_of(self, agent_id: str) -> tuple[str, ...]:
        """The operator's skills: a supervisor's choice, else the settings'."""
        if agent_id in self._skills:
            return self._skills[agent_id]
        agent = self.agents.get(agent_id)
        return tuple(agent.skills) if agent else ()

    def skill_overrides(self) -> dict[str, tuple[str, ...]]:
        """Skills a supervisor set, by agent id."""
        return dict(self._skills)

    # -- settings import and reload --------------------------------------------------------------------

    async def import_settings(self, shifts: tuple[Shift, ...]) -> dict[str, int]:
        """Bring the settings' shifts into the database; counts of added/updated/removed/kept."""
        specs = {shift.name: shift_spec(shift) for shift in shifts}
        async with self._sessions() as session, session.begin():
            counts = await merge_file_specs(session, RotaShift, specs)
        log.info("rota.imported", **counts)
        await self.reload()
        return counts

    async def reload(self) -> None:
        """Read every shift and skill override from the database now."""
        async with self._sessions() as session:
            rows = (await session.scalars(select(RotaShift).order_by(RotaShift.name))).all()
            skills = (await session.scalars(select(AgentSkills))).all()
        shifts = []
        for row in rows:
            try:
                shifts.append(parse_shift({"name": row.name, **row.spec}, set(self.agents)))
            except ConfigError as err:  # an agent left the settings, or a hand-written row: skip it
                log.error("rota.shift_invalid", shift=row.name, error=str(err))
        self._shifts = tuple(shifts)
        self._skills = {s.agent_id: tuple(s.skills) for s in skills if s.agent_id in self.agents}

    async def rows(self) -> list[dict[str, Any]]:
        """Every shift with its origin and last change, for the web API."""
        async with self._sessions() as session:
            rows = (await session.scalars(select(RotaShift).order_by(RotaShift.name))).all()
        return [
            {"name": row.name, **row.spec, "origin": row.origin, "updated_at": row.updated_at.isoformat(),
             "updated_by": row.updated_by}
            for row in rows
        ]

    # -- supervisors' changes --------------------------------------------------------------------------

    def check(self, name: str, raw: dict[str, Any]) -> Shift:
        """The shift ``raw`` describes; raises ``RotaError`` saying what is wrong."""
        if not NAME.match(name or ""):
            raise RotaError("rota.bad_name", "a shift name is 1-64 letters, digits, spaces or - . : ( )")
        unknown = set(raw) - {"name", "start", "end", "days", "agents"}
        if unknown:
            raise RotaError("rota.bad_field", f"unknown field(s): {', '.join(sorted(unknown))}")
        for key in ("start", "end"):
            if not isinstance(raw.get(key), str) or not re.fullmatch(r"\d{2}:\d{2}", raw[key]):
                raise RotaError("rota.bad_time", f"{key} must be a time of day HH:MM")
        days, agents = raw.get("days", [1, 2, 3, 4, 5, 6, 7]), raw.get("agents", [])
        if not isinstance(days, list) or not all(isinstance(d, int) and not isinstance(d, bool) for d in days):
            raise RotaError("rota.bad_days", "days must be a list of ISO weekdays 1-7 (1 = Monday)")
        if not isinstance(agents, list) or not all(isinstance(a, str) for a in agents):
            raise RotaError("rota.bad_agents", "agents must be a list of operator ids")
        try:
            return parse_shift({**raw, "name": name, "days": sorted(set(days)), "agents": list(dict.fromkeys(agents))},
                               set(self.agents))
        except ConfigError as err:
            raise RotaError("rota.invalid", str(err).replace("[[shifts]] ", "")) from err

    async def put(self, name: str, raw: dict[str, Any], by: str | None) -> dict[str, Any]:
        """Create or replace a shift as a supervisor (origin "web"); effective at once."""
        shift = self.check(name, raw)
        spec = shift_spec(shift)
        async with self._sessions() as session, session.begin():
            row = await session.scalar(select(RotaShift).where(RotaShift.name == name))
            if row is None:
                session.add(RotaShift(name=name, spec=spec, origin="web", updated_by=by))
            else:
                row.spec, row.origin, row.updated_by = spec, "web", by
        log.info("rota.shift_saved", shift=name, by=by, **spec)
        await self.reload()
        return {"name": name, **spec, "origin": "web"}

    async def delete(self, name: str, by: str | None) -> bool:
        """Remove a shift (a settings shift comes back at the next start); False if unknown."""
        async with self._sessions() as session, session.begin():
            result = await session.execute(delete(RotaShift).where(RotaShift.name == name))
        await self.reload()
        if result.rowcount:
            log.info("rota.shift_deleted", shift=name, by=by)
        return bool(result.rowcount)

    async def set_skills(self, agent_id: str, skills: list[Any], by: str | None) -> tuple[str, ...]:
        """Keep a supervisor's skills for an operator; returns them cleaned."""
        if agent_id not in self.agents:
            raise RotaError("agent.unknown", f"no operator {agent_id}")
        if not isinstance(skills, list) or len(skills) > MAX_SKILLS or not all(
            isinstance(s, str) and SKILL.match(s) for s in skills
        ):
            raise RotaError("rota.bad_skills", f"skills are up to {MAX_SKILLS} names like medical, reports (a-z, 0-9, _)")
        clean = tuple(dict.fromkeys(skills))
        async with self._sessions() as session, session.begin():
            row = await session.get(AgentSkills, agent_id)
            if row is None:
                session.add(AgentSkills(agent_id=agent_id, skills=list(clean), updated_by=by))
            else:
                row.skills, row.updated_by = list(clean), by
        self._skills[agent_id] = clean
        log.info("rota.skills_saved", agent=agent_id, skills=list(clean), by=by)
        return clean
