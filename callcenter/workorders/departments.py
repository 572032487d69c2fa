"""Departments, their specialists and duty hours: the directory an escalation calls down.

``DirectoryService`` keeps the departments and specialists (``callcenter.workorders.models``) and
answers who to call, in order, for an escalation: the office phone, then each specialist on duty
now.  A duty is ``{"weekdays": [...], "times": "HH:MM-HH:MM"}`` read as a ``TimeWindow``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.store.models import utcnow
from callcenter.timewindow import TimeWindow
from callcenter.workorders import directory_csv
from callcenter.workorders.exceptions import Conflict, InvalidData, NotFound
from callcenter.workorders.models import Department, Specialist

log = structlog.get_logger(__name__)


class DirectoryService:
    """Departments and their specialists; who to call, in order, for an escalation."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession],
                 number_check: directory_csv.NumberCheck | None = None) -> None:
        self._sessions = sessions
        # raw phone -> (number, problem): the dialling policy's (``outbound.policy.dialable``), given by the wiring
        self.number_check: directory_csv.NumberCheck = number_check or plain_number

    async def departments(self) -> list[dict[str, Any]]:
        async with self._sessions() as session:
            deps = (await session.scalars(select(Department).order_by(Department.name))).all()
            specs = (await session.scalars(select(Specialist).order_by(Specialist.rank, Specialist.id))).all()
        by_dep: dict[int, list[dict[str, Any]]] = {}
        for s in specs:
            by_dep.setdefault(s.department_id, []).append(specialist_dict(s))
        return [department_dict(d, by_dep.get(d.id, [])) for d in deps]

    async def department(self, department_id: int) -> dict[str, Any]:
        async with self._sessions() as session:
            dep = await session.get(Department, department_id)
            if dep is None:
                raise NotFound("department", department_id)
            specs = (await session.scalars(
                select(Specialist).where(Specialist.department_id == department_id).order_by(Specialist.rank, Specialist.id)
            )).all()
        return department_dict(dep, [specialist_dict(s) for s in specs])

    async def save_department(self, values: dict[str, Any], department_id: int | None = None) -> dict[str, Any]:
        async with self._sessions() as session, session.begin():
            if department_id is None:
                dep = Department(name="", office_phone="", notes="", active=True)
                session.add(dep)
            else:
                dep = await session.get(Department, department_id)
                if dep is None:
                    raise NotFound("department", department_id)
            if "name" in values:
                clash = await session.scalar(select(Department.id).where(Department.name == values["name"]))
                if clash is not None and clash != dep.id:
                    raise Conflict("department.duplicate", f"a department named {values['name']!r} exists (id {clash})")
            for name in ("name", "office_phone", "notes", "active"):
                if name in values:
                    setattr(dep, name, values[name])
            dep.updated_at = utcnow()
            await session.flush()
            dep_id = dep.id
        return await self.department(dep_id)

    async def save_specialist(self, values: dict[str, Any], *, department_id: int | None = None,
                              specialist_id: int | None = None) -> dict[str, Any]:
        async with self._sessions() as session, session.begin():
            if specialist_id is None:
                if await session.get(Department, department_id) is None:
                    raise NotFound("department", department_id)
                spec = Specialist(department_id=department_id, name="", title="", mobile="", duty={}, rank=0, active=True)
                session.add(spec)
            else:
                spec = await session.get(Specialist, specialist_id)
                if spec is None:
                    raise NotFound("specialist", specialist_id)
            for name in ("name", "title", "mobile", "duty", "rank", "active"):
                if name in values:
                    setattr(spec, name, values[name])
            await session.flush()
        return specialist_dict(spec)

    async def delete_specialist(self, specialist_id: int) -> None:
        async with self._sessions() as session, session.begin():
            spec = await session.get(Specialist, specialist_id)
            if spec is None:
                raise NotFound("specialist", specialist_id)
            await session.delete(spec)

    async def import_csv(self, data: bytes | str, *, by: str | None = None, dry_run: bool = False) -> dict[str, Any]:
        """All or nothing: every row valid, or ``InvalidData`` listing every problem and nothing written.

        Departments are matched by name, contacts by department and (normalised) phone, so the same
        file imported again changes nothing; contacts missing from the file are kept.
        """
        departments, problems = directory_csv.parse(data, self.number_check)
        if problems:
            raise InvalidData("directory.invalid_file", f"{len(problems)} problem(s) in the file; nothing was imported",
                              [{"field": f"line {p['line']}: {p['field']}", "problem": p["problem"]} for p in problems])
        if not departments:
            raise InvalidData("directory.invalid_file", "the file has no rows",
                              [{"field": "file", "problem": "has a header but no departments"}])
        try:
            async with self._sessions() as session:
                counts = await self._merge(session, departments)
                await (session.rollback() if dry_run else session.commit())
        except IntegrityError as err:  # another import or a form added the same department meanwhile
            raise Conflict("directory.conflict", "the directory changed during the import; import again") from err
        report = {"departments": len(departments), "contacts": sum(len(d.contacts) for d in departments),
                  **counts, "dry_run": dry_run}
        log.info("directory.imported", by=by, **report)
        return report

    async def _merge(self, session: AsyncSession, departments: list[directory_csv.DepartmentRows]) -> dict[str, int]:
        """Add or update the file's departments and contacts in ``session``; what changed, counted."""
        counts = dict.fromkeys(("departments_created", "departments_updated", "contacts_created",
                                "contacts_updated", "unchanged"), 0)
        existing = {d.name: d for d in await session.scalars(select(Department))}
        for row in departments:
            dep = existing.get(row.name)
            contacts: dict[str, Specialist] = {}
            if dep is None:
                dep = Department(name=row.name, office_phone=row.office_phone, notes="", active=True)
                session.add(dep)
                await session.flush()
                counts["departments_created"] += 1
            else:
                if row.office_phone and row.office_phone != dep.office_phone:
                    dep.office_phone, dep.updated_at = row.office_phone, utcnow()
                    counts["departments_updated"] += 1
                else:
                    counts["unchanged"] += 1
                specs = await session.scalars(select(Specialist).where(Specialist.department_id == dep.id))
                contacts = {self.number_check(s.mobile)[0] or s.mobile: s for s in specs}
            for c in row.contacts:
                spec = contacts.get(c.mobile)
                if spec is None:
                    session.add(Specialist(department_id=dep.id, name=c.name, title=c.title, mobile=c.mobile,
                                           duty=c.duty, rank=c.rank, active=True))
                    counts["contacts_created"] += 1
                elif (spec.name, spec.title, spec.duty or {}, spec.rank) != (c.name, c.title, c.duty, c.rank):
                    spec.name, spec.title, spec.duty, spec.rank = c.name, c.title, c.duty, c.rank
                    counts["contacts_updated"] += 1
                else:
                    counts["unchanged"] += 1
        return counts

    async def escalation_targets(self, department_id: int, now: dt.datetime, tz: dt.tzinfo) -> list[dict[str, str]]:
        """Who to call, in order: the office phone, then each specialist on duty now, by rank."""
        dep = await self.department(department_id)
        targets = []
        if dep["office_phone"] and dep["active"]:
            targets.append({"role": "office", "name": f"{dep['name']}办公室", "number": dep["office_phone"]})
        for spec in dep["specialists"]:
            if spec["active"] and spec["mobile"] and on_duty(spec["duty"], now, tz):
                targets.append({"role": "specialist", "name": spec["name"], "number": spec["mobile"],
                                "specialist_id": str(spec["id"])})
        return targets


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def on_duty(duty: dict[str, Any], now: dt.datetime, tz: dt.tzinfo) -> bool:
    """Whether ``duty`` ({"weekdays": [...], "times": "HH:MM-HH:MM"}) covers ``now``; empty: always.

    ``times`` is a ``TimeWindow``: across midnight when the end comes first, the whole day when the
    ends are equal ("08:00-08:00", a 24-hour duty).  ``weekdays`` is the calendar day of ``now``.
    """
    local = now.astimezone(tz)
    days = duty.get("weekdays")
    if days and WEEKDAYS[local.weekday()] not in days:
        return False
    times = duty.get("times")
    return not times or TimeWindow.parse(times).contains(local.time())


def plain_number(raw: str) -> tuple[str, str | None]:
    """Without a dialling policy: digits only (spaces and dashes dropped), 3 to 20 of them."""
    digits = "".join(ch for ch in raw if ch not in " -()")
    if digits.isascii() and digits.isdigit() and 3 <= len(digits) <= 20:
        return digits, None
    return "", f"{raw!r} is not a phone number"


def department_dict(dep: Department, specialists: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": dep.id, "name": dep.name, "office_phone": dep.office_phone, "notes": dep.notes,
            "active": dep.active, "specialists": specialists}


def specialist_dict(s: Specialist) -> dict[str, Any]:
    return {"id": s.id, "department_id": s.department_id, "name": s.name, "title": s.title, "mobile": s.mobile,
            "duty": s.duty, "rank": s.rank, "active": s.active}
