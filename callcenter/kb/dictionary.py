"""The words search uses that supervisors edit: the hospital's dictionary terms and the synonym groups.

A new or deleted term changes how every entry is cut, so it rebuilds the word index (about a
second for 10,000 entries, measured in ``docs/kb_search.md``; the request waits for it, so the
supervisor sees the new term at work at once).  Synonyms apply to queries only: a change is in use
from the next search.  The shipped synonym groups (``data/kb_synonyms.csv``) are loaded once, on
first start; after that the table is the hospital's.
"""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.kb import words
from callcenter.kb.index import SearchIndex
from callcenter.kb.models import KbSearchState, KbSynonymGroup, KbTerm
from callcenter.store.models import utcnow
from callcenter.workorders.exceptions import Conflict, InvalidData, NotFound

log = structlog.get_logger(__name__)

MAX_TERMS = 2000  # supervisors' dictionary terms
MAX_GROUPS = 1000  # synonym groups
GROUP_MAX = 12  # terms in one group


def _group_problems(terms: list[str]) -> list[dict[str, str]]:
    problems = [{"field": f"terms[{n}]", "problem": p} for n, t in enumerate(terms) if (p := words.term_problem(t))]
    if not problems and len(words.clean_group(terms)) < 2:
        problems.append({"field": "terms", "problem": "needs at least two different terms"})
    if len(terms) > GROUP_MAX:
        problems.append({"field": "terms", "problem": f"has {len(terms)} terms, at most {GROUP_MAX}"})
    return problems


class DictionaryService:
    """List and edit the dictionary terms and synonym groups; keep the search index in step."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], index: SearchIndex) -> None:
        self._sessions = sessions
        self._index = index

    async def seed(self) -> None:
        """The shipped synonym groups into the table, once (the first start)."""
        async with self._sessions() as session, session.begin():
            if await session.get(KbSearchState, "synonyms_seeded") is not None:
                return
            groups = words.shipped_synonyms()
            now = utcnow()
            session.add_all(KbSynonymGroup(terms=g, updated_by="sample", updated_at=now) for g in groups)
            session.add(KbSearchState(name="synonyms_seeded", value=str(len(groups))))
        log.info("kb.synonyms_seeded", groups=len(groups))

    async def words(self) -> dict[str, Any]:
        """The supervisors' terms, how many terms ship with the program, and the synonym groups."""
        async with self._sessions() as session:
            terms = (await session.scalars(select(KbTerm).order_by(KbTerm.word))).all()
            groups = (await session.scalars(select(KbSynonymGroup).order_by(KbSynonymGroup.id))).all()
        return {
            "terms": [{"id": t.id, "word": t.word, "created_by": t.created_by, "created_at": t.created_at.isoformat()}
                      for t in terms],
            "shipped_terms": len(words.shipped_terms()),
            "synonyms": [_group_dict(g) for g in groups],
        }

    async def add_term(self, word: str, by: str) -> dict[str, Any]:
        """A new dictionary term; every entry is cut again with it."""
        word = word.strip()
        if problem := words.term_problem(word):
            raise InvalidData("kb.invalid_term", "the term is not valid", [{"field": "word", "problem": problem}])
        try:
            async with self._sessions() as session, session.begin():
                if int(await session.scalar(select(func.count()).select_from(KbTerm)) or 0) >= MAX_TERMS:
                    raise Conflict("kb.too_many_terms", f"the dictionary holds {MAX_TERMS} terms already")
                term = KbTerm(word=word, created_by=by, created_at=utcnow())
                session.add(term)
        except IntegrityError:
            raise Conflict("kb.term_exists", f"{word!r} is in the dictionary already") from None
        log.info("kb.term_added", word=word, by=by)
        await self._reindex()
        return {"id": term.id, "word": term.word, "created_by": term.created_by, "created_at": term.created_at.isoformat()}

    async def delete_term(self, term_id: int, by: str) -> dict[str, Any]:
        async with self._sessions() as session, session.begin():
            term = await session.get(KbTerm, term_id)
            if term is None:
                raise NotFound("kb_term", term_id)
            await session.delete(term)
        log.info("kb.term_deleted", word=term.word, by=by)
        await self._reindex()
        return {"id": term.id, "word": term.word, "created_by": term.created_by, "created_at": term.created_at.isoformat()}

    async def add_group(self, terms: list[str], by: str) -> dict[str, Any]:
        """A new synonym group (at least two terms)."""
        if problems := _group_problems(terms):
            raise InvalidData("kb.invalid_synonyms", "the synonym group is not valid", problems)
        async with self._sessions() as session, session.begin():
            if int(await session.scalar(select(func.count()).select_from(KbSynonymGroup)) or 0) >= MAX_GROUPS:
                raise Conflict("kb.too_many_synonyms", f"there are {MAX_GROUPS} synonym groups already")
            group = KbSynonymGroup(terms=words.clean_group(terms), updated_by=by, updated_at=utcnow())
            session.add(group)
        log.info("kb.synonyms_added", group_id=group.id, by=by)
        await self._index.load()
        return _group_dict(group)

    async def update_group(self, group_id: int, terms: list[str], by: str) -> dict[str, Any]:
        if problems := _group_problems(terms):
            raise InvalidData("kb.invalid_synonyms", "the synonym group is not valid", problems)
        async with self._sessions() as session, session.begin():
            group = await session.get(KbSynonymGroup, group_id)
            if group is None:
                raise NotFound("kb_synonyms", group_id)
            group.terms, group.updated_by, group.updated_at = words.clean_group(terms), by, utcnow()
        log.info("kb.synonyms_changed", group_id=group_id, by=by)
        await self._index.load()
        return _group_dict(group)

    async def delete_group(self, group_id: int, by: str) -> dict[str, Any]:
        async with self._sessions() as session, session.begin():
            group = await session.get(KbSynonymGroup, group_id)
            if group is None:
                raise NotFound("kb_synonyms", group_id)
            await session.delete(group)
        log.info("kb.synonyms_deleted", group_id=group_id, by=by)
        await self._index.load()
        return _group_dict(group)

    async def _reindex(self) -> None:
        await self._index.load()
        await self._index.rebuild()


def _group_dict(group: KbSynonymGroup) -> dict[str, Any]:
    return {"id": group.id, "terms": list(group.terms), "updated_by": group.updated_by,
            "updated_at": group.updated_at.isoformat()}
