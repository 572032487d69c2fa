"""The feedback ledger in the store: items appear by themselves, are rectified, verified and struck off.

Theory of operation: ``on_work_change`` is one of the work-order side's ``after_change`` hooks and
runs inside the transaction of a ticket's change, so an item is written with the change or not at
all.  A ticket whose category becomes ``complaint`` or ``suggestion`` gets one item of that source;
a survey score of 1 or 2 gets one ``survey`` item (``campaign`` when a sampled campaign asked) with
the score.  One item per ticket and source (a unique key), however often the hook runs.  The item's
department is the ticket's when it has one; otherwise a supervisor classifies it.

Who may do what is a ``Scope``: supervisors see and change everything; a department's specialists
see their departments' items and set the measure, owner and deadline and start rectifying, never
verify, strike off, reopen or classify.  Every change is a ``ledger_events`` row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.ledger import catalogue
from callcenter.ledger import lifecycle as lc
from callcenter.ledger.exceptions import Forbidden, InvalidData, NotFound
from callcenter.ledger.models import MAX_TEXT, CatalogueItem, LedgerEvent, LedgerItem
from callcenter.store.models import clean_text, utcnow
from callcenter.workorders.models import Department, UserDepartment

log = structlog.get_logger(__name__)

LOW_SCORES = (1, 2)  # a survey score that becomes an item
TICKET_SOURCES = ("complaint", "suggestion")  # ticket categories that become an item
SPECIALIST_FIELDS = frozenset({"measure", "owner", "deadline"})


@dataclass(frozen=True)
class Scope:
    """Who is asking: a supervisor (``departments`` None: all) or a specialist of ``departments``."""

    by: str | None
    departments: frozenset[int] | None = None

    @property
    def supervisor(self) -> bool:
        return self.departments is None


SUPERVISOR = Scope(by=None)


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


class LedgerService:
    """Ledger items and the catalogue."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    # -- items appear by themselves ------------------------------------------------------------------

    async def on_work_change(self, session: AsyncSession, event: str, ticket_id: int, data: dict[str, Any]) -> None:
        """The work-order hook: a complaint, a suggestion or a low survey score becomes an item."""
        if event == "ticket":
            if data.get("category") in TICKET_SOURCES:
                await self._ensure(session, ticket_id, data["category"], data)
            if data.get("department_id") is not None:
                await self._adopt_department(session, ticket_id, data["department_id"])
        elif event == "survey" and data.get("score") in LOW_SCORES:
            source = "campaign" if str(data.get("via", "")).startswith("campaign") else "survey"
            await self._ensure(session, ticket_id, source, data)

    async def _ensure(self, session: AsyncSession, ticket_id: int, source: str, data: dict[str, Any]) -> None:
        found = await session.scalar(select(LedgerItem.id).where(LedgerItem.ticket_id == ticket_id,
                                                                 LedgerItem.source == source))
        if found is not None:
            return
        now = utcnow()
        score = data.get("score") if source in ("survey", "campaign") else None
        item = LedgerItem(ticket_id=ticket_id, source=source, department_id=data.get("department_id"),
                          description=clean_text(data.get("notes") or "")[:MAX_TEXT], institution="", measure="",
                          owner="", status=lc.Status.OPEN.value, score=score, created_at=now, updated_at=now)
        try:
            async with session.begin_nested():  # another process wrote it first: that one is the item
                session.add(item)
                await session.flush()
                session.add(LedgerEvent(item_id=item.id, at=now, by=None, from_status=None, to_status="open",
                                        text=source, details={"ticket_id": ticket_id, "score": score}))
                await session.flush()
        except IntegrityError:
            return
        log.info("ledger.item_created", item_id=item.id, ticket_id=ticket_id, source=source, score=score,
                 department_id=item.department_id)

    async def _adopt_department(self, session: AsyncSession, ticket_id: int, department_id: int) -> None:
        """Unclassified items of the ticket take the department the ticket was given."""
        items = (await session.scalars(select(LedgerItem).where(
            LedgerItem.ticket_id == ticket_id, LedgerItem.department_id.is_(None),
            LedgerItem.status != lc.Status.STRUCK_OFF.value))).all()
        department = await session.get(Department, department_id) if items else None
        for item in items:
            item.department_id = department_id
            session.add(LedgerEvent(item_id=item.id, at=utcnow(), text="classified",
                                    details={"after": {"department_id": department_id}, "from": "ticket",
                                             "names": {"department": department.name if department else None}}))

    # -- reads ----------------------------------------------------------------------------------------

    async def scope_of(self, user_id: int, by: str | None) -> Scope:
        """A specialist's scope: the departments they belong to."""
        async with self._sessions() as session:
            rows = await session.scalars(select(UserDepartment.department_id).where(UserDepartment.user_id == user_id))
            return Scope(by=by, departments=frozenset(rows))

    async def list(self, scope: Scope, *, department_id: int | None = None, unclassified: bool = False,
                   status: list[str] | None = None, source: list[str] | None = None, overdue: bool = False,
                   institution: str | None = None, limit: int = 200,
                   now: dt.datetime | None = None) -> list[dict[str, Any]]:
        """Items newest first, filtered."""
        now = now or utcnow()
        query = select(LedgerItem)
        if scope.departments is not None:
            query = query.where(LedgerItem.department_id.in_(sorted(scope.departments)))
        if department_id is not None:
            query = query.where(LedgerItem.department_id == department_id)
        if unclassified:
            query = query.where(or_(LedgerItem.department_id.is_(None), LedgerItem.catalogue_id.is_(None)))
        if status:
            query = query.where(LedgerItem.status.in_(status))
        if source:
            query = query.where(LedgerItem.source.in_(source))
        if institution is not None:
            query = query.where(LedgerItem.institution == institution)
        if overdue:
            query = query.where(and_(LedgerItem.deadline < now, LedgerItem.status != lc.Status.STRUCK_OFF.value))
        query = query.order_by(LedgerItem.created_at.desc(), LedgerItem.id.desc()).limit(limit)
        async with self._sessions() as session:
            items = (await session.scalars(query)).all()
            names = await self._names(session, items)
        return [item_dict(i, names, now) for i in items]

    async def get(self, item_id: int, scope: Scope, now: dt.datetime | None = None) -> dict[str, Any]:
        """One item with its history."""
        now = now or utcnow()
        async with self._sessions() as session:
            item = await self._load(session, item_id, scope)
            names = await self._names(session, [item])
            events = (await session.scalars(select(LedgerEvent).where(LedgerEvent.item_id == item_id)
                                            .order_by(LedgerEvent.at, LedgerEvent.id))).all()
        out = item_dict(item, names, now)
        out["events"] = [event_dict(e) for e in events]
        return out

    async def _names(self, session: AsyncSession, items: Any) -> dict[str, dict[int, Any]]:
        departments = {i.department_id for i in items if i.department_id}
        entries = {i.catalogue_id for i in items if i.catalogue_id}
        names: dict[str, dict[int, Any]] = {"departments": {}, "catalogue": {}}
        if departments:
            rows = await session.execute(select(Department.id, Department.name).where(Department.id.in_(departments)))
            names["departments"] = {i: name for i, name in rows}
        if entries:
            rows2 = await session.scalars(select(CatalogueItem).where(CatalogueItem.id.in_(entries)))
            names["catalogue"] = {c.id: {"id": c.id, "code": c.code, "item": c.item} for c in rows2}
        return names

    async def _load(self, session: AsyncSession, item_id: int, scope: Scope) -> LedgerItem:
        item = await session.get(LedgerItem, item_id)
        # a specialist learns nothing of another department's items, not even that they exist
        if item is None or (scope.departments is not None and item.department_id not in scope.departments):
            raise NotFound("ledger_item", item_id)
        return item

    # -- changes --------------------------------------------------------------------------------------

    async def create(self, values: dict[str, Any], scope: Scope, now: dt.datetime | None = None) -> dict[str, Any]:
        """A manual item (a supervisor's): description, and optionally department, institution..."""
        now = now or utcnow()
        if not scope.supervisor:
            raise Forbidden("only a supervisor adds items by hand")
        async with self._sessions() as session, session.begin():
            if values.get("department_id") is not None and await session.get(Department, values["department_id"]) is None:
                raise NotFound("department", values["department_id"])
            item = LedgerItem(source="manual", department_id=values.get("department_id"),
                              institution=values.get("institution") or "", description=values["description"],
                              measure="", owner="", status=lc.Status.OPEN.value, created_at=now, updated_at=now)
            session.add(item)
            await session.flush()
            session.add(LedgerEvent(item_id=item.id, at=now, by=scope.by, to_status="open", text="manual", details={}))
        log.info("ledger.item_created", item_id=item.id, source="manual", by=scope.by)
        return await self.get(item.id, scope, now)

    async def update(self, item_id: int, changes: dict[str, Any], scope: Scope,
                     now: dt.datetime | None = None) -> dict[str, Any]:
        """Set measure, owner, deadline (and, for a supervisor, description and institution)."""
        now = now or utcnow()
        refused = set(changes) - SPECIALIST_FIELDS
        if refused and not scope.supervisor:
            raise Forbidden(f"a specialist sets the measure, owner and deadline only, not {', '.join(sorted(refused))}")
        async with self._sessions() as session, session.begin():
            item = await self._load(session, item_id, scope)
            if item.status == lc.Status.STRUCK_OFF.value:
                raise lc.IllegalMove("a struck-off item is closed: reopen it first", status=item.status,
                                     allowed=lc.allowed_moves(lc.Status(item.status)))
            before = {name: _plain(getattr(item, name)) for name in changes}
            for name, value in changes.items():
                setattr(item, name, value)
            item.updated_at = now
            after = {name: _plain(value) for name, value in changes.items()}
            session.add(LedgerEvent(item_id=item_id, at=now, by=scope.by, text="updated",
                                    details={"before": before, "after": after}))
        log.info("ledger.item_updated", item_id=item_id, fields=sorted(changes), by=scope.by)
        return await self.get(item_id, scope, now)

    async def move(self, item_id: int, name: str, scope: Scope, text: str = "",
                   now: dt.datetime | None = None) -> dict[str, Any]:
        """One lifecycle move (rectify, verify, strike_off, reopen); the last three are a supervisor's."""
        now = now or utcnow()
        if name in lc.SUPERVISOR_MOVES and not scope.supervisor:
            raise Forbidden(f"only a supervisor may {name.replace('_', ' ')} an item")
        async with self._sessions() as session, session.begin():
            item = await self._load(session, item_id, scope)
            before = _state(item)
            after = lc.apply(before, name, now, scope.by)
            item.status, item.struck_off_at, item.verified_by = after.status.value, after.struck_off_at, after.verified_by
            item.updated_at = now
            session.add(LedgerEvent(item_id=item_id, at=now, by=scope.by, from_status=before.status.value,
                                    to_status=after.status.value, text=text, details={"move": name}))
        log.info("ledger.item_moved", item_id=item_id, move=name, status=after.status.value,
                 previous=before.status.value, by=scope.by)
        return await self.get(item_id, scope, now)

    async def classify(self, item_id: int, department_id: int, catalogue_id: int | None, scope: Scope,
                       now: dt.datetime | None = None) -> dict[str, Any]:
        """Set the item's department and catalogue item (which must be that department's)."""
        now = now or utcnow()
        if not scope.supervisor:
            raise Forbidden("only a supervisor classifies items")
        async with self._sessions() as session, session.begin():
            item = await self._load(session, item_id, scope)
            if not lc.may_classify(_state(item)):
                raise lc.IllegalMove("a struck-off item keeps its classification: reopen it first", status=item.status,
                                     allowed=lc.allowed_moves(lc.Status(item.status)))
            if await session.get(Department, department_id) is None:
                raise NotFound("department", department_id)
            entry = None
            if catalogue_id is not None:
                entry = await session.get(CatalogueItem, catalogue_id)
                if entry is None:
                    raise NotFound("catalogue_item", catalogue_id)
                if entry.department_id != department_id:
                    raise InvalidData("ledger.invalid_classification", "the catalogue item is another department's",
                                      [{"field": "catalogue_id",
                                        "problem": f"item {catalogue_id} belongs to department {entry.department_id}, "
                                                   f"not {department_id}"}])
            department = await session.get(Department, department_id)
            details = {"before": {"department_id": item.department_id, "catalogue_id": item.catalogue_id},
                       "after": {"department_id": department_id, "catalogue_id": catalogue_id},
                       # as they read then (a department or item renamed later does not rewrite history)
                       "names": {"department": department.name if department else None,
                                 "catalogue": f"{entry.code} {entry.item}" if entry else None}}
            item.department_id, item.catalogue_id, item.updated_at = department_id, catalogue_id, now
            session.add(LedgerEvent(item_id=item_id, at=now, by=scope.by, text="classified", details=details))
        log.info("ledger.item_classified", item_id=item_id, department_id=department_id, catalogue_id=catalogue_id,
                 by=scope.by)
        return await self.get(item_id, scope, now)

    # -- the catalogue --------------------------------------------------------------------------------

    async def catalogue(self, department_id: int | None = None) -> list[dict[str, Any]]:
        """The catalogue's items, by department and code."""
        query = (select(CatalogueItem, Department.name).join(Department, Department.id == CatalogueItem.department_id)
                 .order_by(Department.name, CatalogueItem.code))
        if department_id is not None:
            query = query.where(CatalogueItem.department_id == department_id)
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return [{"id": c.id, "department_id": c.department_id, "department": name, "code": c.code, "item": c.item,
                 "active": c.active} for c, name in rows]

    async def import_catalogue(self, data: bytes | str, *, by: str | None = None,
                               dry_run: bool = False) -> dict[str, Any]:
        """All or nothing: every row valid, or ``InvalidData`` listing every problem and nothing written."""
        async with self._sessions() as session:
            departments = {name: i for name, i in await session.execute(select(Department.name, Department.id))}
        rows, problems = catalogue.parse(data, departments)
        if problems:
            raise InvalidData("ledger.invalid_catalogue",
                              f"{len(problems)} problem(s) in the catalogue; nothing was imported",
                              [{"field": f"line {p['line']}: {p['field']}", "problem": p["problem"]} for p in problems])
        if not rows:
            raise InvalidData("ledger.invalid_catalogue", "the catalogue has no rows",
                              [{"field": "file", "problem": "has a header but no items"}])
        created = updated = 0
        async with self._sessions() as session, session.begin():
            existing = {(c.department_id, c.code): c for c in await session.scalars(select(CatalogueItem))}
            for row in rows:
                entry = existing.get((row.department_id, row.code))
                if entry is None:
                    created += 1
                    if not dry_run:
                        session.add(CatalogueItem(department_id=row.department_id, code=row.code, item=row.item,
                                                  active=True, updated_at=utcnow()))
                elif entry.item != row.item or not entry.active:
                    updated += 1
                    if not dry_run:
                        entry.item, entry.active = row.item, True
        report = {"rows": len(rows), "created": created, "updated": updated,
                  "unchanged": len(rows) - created - updated, "dry_run": dry_run}
        log.info("ledger.catalogue_imported", by=by, **report)
        return report


def _state(item: LedgerItem) -> lc.ItemState:
    return lc.ItemState(status=lc.Status(item.status), measure=item.measure, owner=item.owner, deadline=item.deadline,
                        struck_off_at=item.struck_off_at, verified_by=item.verified_by)


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def item_dict(item: LedgerItem, names: dict[str, dict[int, Any]], now: dt.datetime) -> dict[str, Any]:
    state = _state(item)
    return {
        "id": item.id, "ticket_id": item.ticket_id, "source": item.source,
        "department_id": item.department_id, "department": names["departments"].get(item.department_id),
        "catalogue_id": item.catalogue_id, "catalogue": names["catalogue"].get(item.catalogue_id),
        "institution": item.institution, "description": item.description, "measure": item.measure,
        "owner": item.owner, "deadline": _iso(item.deadline), "status": item.status, "score": item.score,
        "overdue": lc.overdue(state, now), "allowed": list(lc.allowed_moves(state.status)),
        "created_at": _iso(item.created_at), "updated_at": _iso(item.updated_at),
        "struck_off_at": _iso(item.struck_off_at), "verified_by": item.verified_by,
    }


def event_dict(e: LedgerEvent) -> dict[str, Any]:
    return {"id": e.id, "at": _iso(e.at), "by": e.by, "from_status": e.from_status, "to_status": e.to_status,
            "text": e.text, "details": e.details}

