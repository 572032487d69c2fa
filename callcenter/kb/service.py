"""The knowledge base: entries, search, CSV import/export and the history of every edit.

Search (see ``callcenter.kb.search`` for the plan and the score, ``callcenter.kb.index`` for the
word index): the query is cut into words with their synonyms and pinyin readings; the index gives
the candidates (any word, ranked by bm25 or ts_rank_cd, plus entries holding a word as a
substring); each candidate is scored in Python the same way on SQLite and PostgreSQL, with its
lookups of the last 30 days as a small boost.  Only active entries are found; deleting an entry
deactivates it, so its history stays.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
from collections.abc import Iterable
from typing import Any

import structlog
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter import csv_reader
from callcenter.csv_cells import SafeWriter, restore
from callcenter.kb.index import SearchIndex
from callcenter.kb.models import KbEntry, KbRevision, KbView
from callcenter.kb.search import highlight, score, snippet
from callcenter.kb.suggest import POPULAR_DAYS
from callcenter.store.db import read_session_factory
from callcenter.store.models import clean_text, utcnow
from callcenter.workorders.exceptions import InvalidData, NotFound

log = structlog.get_logger(__name__)

FIELDS = ("question", "answer", "keywords", "category", "department")
LIMITS = {"question": 500, "answer": 5000, "keywords": 500, "category": 32, "department": 64}
REQUIRED = ("question", "answer")
CSV_COLUMNS = ("id", "question", "answer", "keywords", "category", "department", "updated_by", "updated_at")
MAX_LIMIT = 50
POPULAR_REFRESH = 60  # seconds the lookup counts (last POPULAR_DAYS days, as suggestions count them) are kept

def entry_dict(entry: KbEntry) -> dict[str, Any]:
    """An entry as the API returns it."""
    return {
        "id": entry.id,
        "question": entry.question,
        "answer": entry.answer,
        "keywords": entry.keywords,
        "category": entry.category,
        "department": entry.department,
        "active": entry.active,
        "updated_by": entry.updated_by,
        "author": entry.author,
        "updated_at": entry.updated_at.isoformat(),
        "created_at": entry.created_at.isoformat(),
    }


def _fields(entry: KbEntry) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in (*FIELDS, "active")}


def clean_fields(values: dict[str, Any], *, partial: bool) -> dict[str, str]:
    """Validated, trimmed entry fields; raises InvalidData listing every problem."""
    problems: list[dict[str, str]] = []
    out: dict[str, str] = {}
    for name in FIELDS:
        if name not in values or values[name] is None:
            if not partial and name in REQUIRED:
                problems.append({"field": name, "problem": "is required"})
            continue
        value = values[name]
        if not isinstance(value, str):
            problems.append({"field": name, "problem": "must be a string"})
            continue
        value = " ".join(clean_text(value).split()) if name != "answer" else clean_text(value.replace("\r\n", "\n")).strip()
        if name in REQUIRED and not value:
            problems.append({"field": name, "problem": "must not be empty"})
        elif len(value) > LIMITS[name]:
            problems.append({"field": name, "problem": f"is {len(value)} characters, at most {LIMITS[name]}"})
        out[name] = value
    if problems:
        raise InvalidData("kb.invalid_entry", "the entry is not valid", problems)
    return out


class KbService:
    """Read, search and edit the knowledge base."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], dialect: str) -> None:
        self._sessions = sessions
        self._reads = read_session_factory(sessions.kw["bind"])  # searches never wait for a writer (SQLite)
        self.dialect = dialect
        self.index = SearchIndex(sessions, dialect)
        self._popular: tuple[float, dt.datetime, dict[int, int]] | None = None

    # -- search -----------------------------------------------------------------------------------

    async def search(
        self, q: str, *, limit: int = 10, category: str | None = None, department: str | None = None,
        now: dt.datetime | None = None,
    ) -> dict[str, Any]:
        """Entries with some word of ``q`` (or a synonym, or what its pinyin spells), best first, highlighted."""
        started = time.perf_counter()
        limit = max(1, min(int(limit), MAX_LIMIT))
        q = q if isinstance(q, str) else ""
        rows: list[Any] = []
        async with self._reads() as session:
            plan, weights = await self.index.plan(session, q)
            if plan:
                where, params = [], {}
                if category:
                    where.append("e.category = :category")
                    params["category"] = category
                if department:
                    where.append("e.department = :department")
                    params["department"] = department
                ids = await self.index.candidates(session, plan, where, params, want=limit)
                if ids:
                    table = KbEntry.__table__
                    cols = [table.c[n] for n in ("id", "question", "answer", "keywords", "category", "department",
                                                  "updated_at")]
                    found = (await session.execute(select(*cols).where(table.c.id.in_(ids)))).all()
                    views = await self._views(session, now or utcnow())
                    order = {entry_id: n for n, entry_id in enumerate(ids)}
                    scored = [
                        (score((r.question.lower(), r.keywords.lower(), r.answer.lower()), plan, weights,
                               views.get(r.id, 0)), r)
                        for r in found
                    ]
                    scored.sort(key=lambda pair: (-pair[0], order[pair[1].id]))
                    rows = [r for value, r in scored[:limit] if value > 0]
        # The whole query first: the page marks the longest match (发烧39度, not 发烧 39 度 apart).
        terms = tuple(dict.fromkeys((plan.phrase, *plan.terms) if plan and len(plan.phrase) > 1 else plan.terms))
        results = [
            {
                "id": e.id,
                "question": e.question,
                "question_html": highlight(e.question, terms),
                "snippet_html": snippet(e.answer, terms),
                "keywords_html": highlight(e.keywords, terms),
                "answer": e.answer,
                "category": e.category,
                "department": e.department,
                "updated_at": e.updated_at.isoformat(),
            }
            for e in rows
        ]
        return {
            "query": q,
            "terms": list(terms),
            "results": results,
            "took_ms": round((time.perf_counter() - started) * 1000, 2),
        }

    async def _views(self, session: AsyncSession, now: dt.datetime) -> dict[int, int]:
        """Lookups per entry in the last 30 days; read at most once a minute (a slow signal)."""
        cached = self._popular
        if cached is None or time.monotonic() - cached[0] > POPULAR_REFRESH or abs(cached[1] - now) > dt.timedelta(
                seconds=POPULAR_REFRESH):
            since = now - dt.timedelta(days=POPULAR_DAYS)
            rows = await session.execute(
                select(KbView.entry_id, func.count()).where(KbView.at >= since).group_by(KbView.entry_id))
            cached = self._popular = (time.monotonic(), now, dict(rows.all()))
        return cached[2]

    # -- entries and their history -----------------------------------------------------------------

    async def get(self, entry_id: int) -> dict[str, Any]:
        async with self._sessions() as session:
            entry = await session.get(KbEntry, entry_id)
            if entry is None:
                raise NotFound("kb_entry", entry_id)
            return entry_dict(entry)

    async def list(self, *, category: str | None = None, offset: int = 0, limit: int = 50) -> dict[str, Any]:
        query = select(KbEntry).where(KbEntry.active.is_(True))
        count = select(func.count()).select_from(KbEntry).where(KbEntry.active.is_(True))
        if category:
            query = query.where(KbEntry.category == category)
            count = count.where(KbEntry.category == category)
        async with self._sessions() as session:
            total = int(await session.scalar(count) or 0)
            rows = (await session.scalars(query.order_by(KbEntry.id).offset(offset).limit(min(limit, 500)))).all()
        return {"total": total, "entries": [entry_dict(e) for e in rows]}

    async def count(self) -> int:
        async with self._sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(KbEntry)) or 0)

    async def create(self, values: dict[str, Any], by: str, *, author: str | None = None,
                     source: dict[str, Any] | None = None) -> dict[str, Any]:
        """A new entry; ``author`` wrote the answer (default ``by``), ``source`` is kept in its first revision."""
        fields = clean_fields(values, partial=False)
        async with self._sessions() as session, session.begin():
            entry = self._new(fields, by)
            entry.author = author if author is not None else by
            session.add(entry)
            await session.flush()
            await self.index.write(session, entry)
            after = {**_fields(entry), "author": entry.author, **({"source": source} if source else {})}
            session.add(KbRevision(entry_id=entry.id, action="create", by=by, before=None, after=after))
        self.index.changed()
        log.info("kb.entry_created", entry_id=entry.id, by=by, author=entry.author)
        return entry_dict(entry)

    async def update(self, entry_id: int, values: dict[str, Any], by: str) -> dict[str, Any]:
        fields = clean_fields(values, partial=True)
        async with self._sessions() as session, session.begin():
            entry = await session.get(KbEntry, entry_id)
            if entry is None:
                raise NotFound("kb_entry", entry_id)
            if self._apply(session, entry, {**fields, "active": True} if not entry.active and fields else fields, by,
                           "update"):
                await self.index.write(session, entry)
        self.index.changed()
        return entry_dict(entry)

    async def delete(self, entry_id: int, by: str) -> dict[str, Any]:
        """Deactivate an entry (its history stays); it no longer shows in search."""
        async with self._sessions() as session, session.begin():
            entry = await session.get(KbEntry, entry_id)
            if entry is None:
                raise NotFound("kb_entry", entry_id)
            if self._apply(session, entry, {"active": False}, by, "delete"):
                await self.index.write(session, entry)
        self.index.changed()
        return entry_dict(entry)

    async def history(self, entry_id: int) -> list[dict[str, Any]]:
        """Every edit of an entry, oldest first."""
        async with self._sessions() as session:
            if await session.get(KbEntry, entry_id) is None:
                raise NotFound("kb_entry", entry_id)
            rows = (
                await session.scalars(select(KbRevision).where(KbRevision.entry_id == entry_id).order_by(KbRevision.id))
            ).all()
        return [
            {"id": r.id, "action": r.action, "by": r.by, "at": r.at.isoformat(), "before": r.before, "after": r.after}
            for r in rows
        ]

    @staticmethod
    def _new(fields: dict[str, str], by: str) -> KbEntry:
        now = utcnow()
        return KbEntry(
            question=fields["question"],
            answer=fields["answer"],
            keywords=fields.get("keywords", ""),
            category=fields.get("category", ""),
            department=fields.get("department", ""),
            active=True,
            updated_by=by,
            created_at=now,
            updated_at=now,
        )

    @staticmethod
    def _apply(session: AsyncSession, entry: KbEntry, changes: dict[str, Any], by: str, action: str) -> bool:
        """Apply changed fields and keep a revision; False when nothing changed."""
        before = _fields(entry)
        changed = {k: v for k, v in changes.items() if before.get(k) != v}
        if not changed:
            return False
        for name, value in changed.items():
            setattr(entry, name, value)
        entry.updated_by = by
        entry.updated_at = utcnow()
        session.add(
            KbRevision(
                entry_id=entry.id,
                action=action,
                by=by,
                before={k: before[k] for k in changed},
                after={k: changed[k] for k in changed},
            )
        )
        log.info("kb.entry_changed", entry_id=entry.id, by=by, action=action, fields=sorted(changed))
        return True

    # -- CSV --------------------------------------------------------------------------------------

    async def import_csv(self, data: str | bytes, by: str) -> dict[str, Any]:
        """Create or update entries from CSV (columns as ``CSV_COLUMNS``; id empty = new entry).

        All or nothing: when any row is invalid nothing is written and every problem is reported
        with its line number.  Rows equal to the stored entry change nothing (no revision).
        """
        try:
            rows = list(_read_csv(data))
        except csv.Error as err:  # a field beyond the csv module's limit, a stray quote
            raise InvalidData("kb.invalid_csv", f"the CSV cannot be read: {err}") from None
        problems: list[dict[str, str]] = []
        parsed: list[tuple[int | None, dict[str, str]]] = []
        for line, row in rows:
            raw_id = (row.get("id") or "").strip()
            entry_id: int | None = None
            if raw_id:
                if not (raw_id.isascii() and raw_id.isdigit() and 1 <= int(raw_id) <= 2**31 - 1):  # integer keys
                    problems.append({"field": f"line {line}: id", "problem": f"{raw_id!r} is not a number"})
                    continue
                entry_id = int(raw_id)
            try:
                parsed.append((entry_id, clean_fields(row, partial=False)))
            except InvalidData as err:
                problems += [{"field": f"line {line}: {p['field']}", "problem": p["problem"]} for p in err.problems]
        if problems:
            raise InvalidData("kb.invalid_csv", f"{len(problems)} problem(s) in the CSV; nothing was imported", problems)
        report = {"created": 0, "updated": 0, "unchanged": 0}
        async with self._sessions() as session, session.begin():
            for entry_id, fields in parsed:
                entry = await session.get(KbEntry, entry_id) if entry_id is not None else None
                if entry is None:
                    entry = self._new(fields, by)
                    if entry_id is not None:
                        entry.id = entry_id
                    session.add(entry)
                    await session.flush()
                    await self.index.write(session, entry)
                    session.add(KbRevision(entry_id=entry.id, action="import", by=by, before=None, after=_fields(entry)))
                    report["created"] += 1
                elif self._apply(session, entry, {**fields, "active": True}, by, "import"):
                    await self.index.write(session, entry)
                    report["updated"] += 1
                else:
                    report["unchanged"] += 1
        self.index.changed()
        if self.dialect == "postgresql" and report["created"]:
            await self._fix_pg_sequence()
        log.info("kb.imported", by=by, **report)
        return report

    async def export_csv(self, *, include_inactive: bool = False) -> str:
        """Every (active) entry as CSV with a header, in id order; formula-like cells quoted (``csv_cells``)."""
        query = select(KbEntry).order_by(KbEntry.id)
        if not include_inactive:
            query = query.where(KbEntry.active.is_(True))
        out = io.StringIO()
        writer = SafeWriter(out, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        async with self._sessions() as session:
            for e in (await session.scalars(query)).all():
                writer.writerow([e.id, e.question, e.answer, e.keywords, e.category, e.department, e.updated_by,
                                 e.updated_at.isoformat()])
        return out.getvalue()

    async def _fix_pg_sequence(self) -> None:
        """Rows imported with explicit ids leave PostgreSQL's sequence behind: move it past them."""
        async with self._sessions() as session, session.begin():
            await session.execute(
                text("SELECT setval(pg_get_serial_sequence('kb_entries', 'id'), (SELECT max(id) FROM kb_entries))")
            )


def _read_csv(data: str | bytes) -> Iterable[tuple[int, dict[str, str]]]:
    """(line number, row) pairs (text as ``csv_reader`` decodes it); unknown columns are an error."""
    try:
        text = csv_reader.decode(data)
    except csv_reader.UndecodableCsv as err:
        raise InvalidData("kb.invalid_csv", str(err)) from None
    reader = csv_reader.dict_rows(text)
    header = [h.strip() for h in reader.fieldnames or []]
    unknown = [h for h in header if h not in CSV_COLUMNS]
    missing = [h for h in REQUIRED if h not in header]
    if unknown or missing:
        problems = [{"field": h, "problem": "is not a known column"} for h in unknown]
        problems += [{"field": h, "problem": "column is missing"} for h in missing]
        raise InvalidData("kb.invalid_csv", f"CSV columns must be among {', '.join(CSV_COLUMNS)}", problems)
    reader.fieldnames = header
    for row in reader:
        yield reader.line_num, {k: restore(v) if isinstance(v, str) else v for k, v in row.items() if k is not None}
