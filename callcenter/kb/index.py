"""The knowledge base's word index: entries cut into words, kept in step, and the vocabulary in memory.

Each active entry has one row in ``kb_fts_words`` (migration 0016) holding its question, keywords
and answer cut into words (``callcenter.kb.words.index_words``, words joined by spaces).  The
service writes the row in the same transaction as the entry (create, update, delete, import).
A change of the dictionary (the shipped file or the supervisors' terms) changes how text is cut,
so it rebuilds every row (``rebuild``); the dictionary the index was built with is remembered
(``kb_search_state``), and ``ensure`` at start rebuilds when it differs or rows are missing.

The vocabulary (each indexed word and how many entries hold it) is read from the index when a
search first needs it and kept in memory with its pinyin map, until the next write.  Candidates:
the entries whose index holds any word of the query (ranked by ``bm25()`` on SQLite, by
``ts_rank_cd`` on PostgreSQL), then entries holding a query word as a substring (the trigram index
of migration 0004), so a word the segmenter cut differently in the entry is still found.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Iterable, Sequence
from typing import Any

import structlog
from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.kb import words
from callcenter.kb.models import KbEntry, KbSearchState, KbSynonymGroup, KbTerm
from callcenter.kb.search import PINYIN, Plan, fts_phrase, idf, like_pattern, plan_query

log = structlog.get_logger(__name__)

VERSION = "1"  # of how text is cut and indexed: a change rebuilds every index at start
WORD_CANDIDATES = 20  # best entries by the word index
ENOUGH = 12  # entries with a query word in question or keywords: answers and substrings add little
SUBSTRING_CANDIDATES = 15  # entries holding a query word as a substring
MAX_SUBSTRINGS = 8  # terms looked up as substrings
COMMON_MIN = 500  # a word in more entries than this and a tenth of them is common
MAX_EXPANSION = 300  # a 2-character word found in more trigrams than this is matched with LIKE
TRIGRAM_MIN = 3
_CHUNK = 500


class SearchIndex:
    """The word index of one database, with the dictionary, synonyms and vocabulary it uses."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], dialect: str) -> None:
        self._sessions = sessions
        self.dialect = dialect
        self.user_terms: tuple[str, ...] = ()
        self.synonym_groups: list[list[str]] = []
        self._synonyms: dict[str, tuple[str, ...]] = {}
        self._vocab: dict[str, int] | None = None
        self._total = 0
        self._pinyin: dict[str, list[str]] | None = None
        self._vocab_lock = asyncio.Lock()
        self._rebuild_lock = asyncio.Lock()  # two rebuilds at once would insert the same rows twice

    # -- dictionary and synonyms ------------------------------------------------------------------

    @property
    def dictionary(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*words.shipped_terms(), *self.user_terms)))

    def segmenter(self) -> Any:
        return words.segmenter(self.dictionary)

    def fingerprint(self) -> str:
        """Of everything that decides how text is cut: a different one means the index is stale."""
        digest = hashlib.sha256(VERSION.encode())
        for word in sorted(self.dictionary) + ["\n"] + sorted(words.stopwords()):
            digest.update(word.encode("utf-8") + b"\n")
        return digest.hexdigest()

    async def load(self) -> None:
        """Read the supervisors' terms and the synonym groups from the database."""
        async with self._sessions() as session:
            terms = (await session.scalars(select(KbTerm.word).order_by(KbTerm.id))).all()
            groups = (await session.scalars(select(KbSynonymGroup.terms).order_by(KbSynonymGroup.id))).all()
        self.user_terms = tuple(terms)
        self.set_synonyms([list(g) for g in groups])

    def set_synonyms(self, groups: Sequence[Sequence[str]]) -> None:
        self.synonym_groups = [list(g) for g in groups]
        found: dict[str, dict[str, None]] = {}
        for group in groups:
            for term in group:
                found.setdefault(term, {}).update(dict.fromkeys(t for t in group if t != term))
        self._synonyms = {term: tuple(others) for term, others in found.items()}

    # -- keeping the index in step ---------------------------------------------------------------

    async def ensure(self) -> None:
        """At start: load the words; rebuild the index if it was built otherwise or misses entries."""
        await self.load()
        async with self._sessions() as session:
            state = await session.get(KbSearchState, "dictionary")
            active = int(await session.scalar(select(func.count()).select_from(KbEntry).where(KbEntry.active)) or 0)
            indexed = int(await session.scalar(text("SELECT count(*) FROM kb_fts_words")) or 0)
        if state is None or state.value != self.fingerprint() or active != indexed:
            await self.rebuild()

    async def rebuild(self) -> dict[str, Any]:
        """Cut every active entry again and rewrite the whole index (after a dictionary change)."""
        async with self._rebuild_lock:
            return await self._rebuild()

    async def _rebuild(self) -> dict[str, Any]:
        started = time.perf_counter()
        fingerprint = self.fingerprint()
        async with self._sessions() as session, session.begin():
            rows = (await session.execute(
                select(KbEntry.id, KbEntry.question, KbEntry.keywords, KbEntry.answer).where(KbEntry.active)
            )).all()
            seg = self.segmenter()
            cut = await asyncio.to_thread(lambda: [self._row(seg, r.id, r.question, r.keywords, r.answer) for r in rows])
            await session.execute(text("DELETE FROM kb_fts_words"))
            for start in range(0, len(cut), _CHUNK):
                await session.execute(text(self._insert_sql()), cut[start : start + _CHUNK])
            await session.execute(delete(KbSearchState).where(KbSearchState.name == "dictionary"))
            session.add(KbSearchState(name="dictionary", value=fingerprint))
        self.changed()
        seconds = round(time.perf_counter() - started, 2)
        log.info("kb.index_rebuilt", entries=len(cut), seconds=seconds)
        return {"entries": len(cut), "seconds": seconds}

    async def write(self, session: AsyncSession, entry: KbEntry) -> None:
        """Put one entry's row in step with it (in the caller's transaction): removed when inactive.

        The caller calls ``changed()`` once the transaction is committed."""
        key = "rowid" if self.dialect == "sqlite" else "entry_id"
        await session.execute(text(f"DELETE FROM kb_fts_words WHERE {key} = :id"), {"id": entry.id})
        if entry.active:
            row = self._row(self.segmenter(), entry.id, entry.question, entry.keywords, entry.answer)
            await session.execute(text(self._insert_sql()), row)

    def _insert_sql(self) -> str:
        key = "rowid" if self.dialect == "sqlite" else "entry_id"
        return f"INSERT INTO kb_fts_words ({key}, question, keywords, answer) VALUES (:id, :question, :keywords, :answer)"

    @staticmethod
    def _row(seg: Any, entry_id: int, question: str, keywords: str, answer: str) -> dict[str, Any]:
        return {
            "id": entry_id,
            "question": " ".join(words.index_words(question, seg)),
            "keywords": " ".join(words.index_words(keywords, seg)),
            "answer": " ".join(words.index_words(answer, seg)),
        }

    def changed(self) -> None:
        """The index was written: the vocabulary is read again by the next search."""
        self._vocab = None
        self._pinyin = None

    # -- the vocabulary ----------------------------------------------------------------------------

    async def _vocabulary(self, session: AsyncSession) -> dict[str, int]:
        if self._vocab is not None:
            return self._vocab
        async with self._vocab_lock:
            if self._vocab is None:
                if self.dialect == "sqlite":
                    sql = "SELECT term, doc FROM kb_fts_words_vocab"
                else:
                    sql = "SELECT word, ndoc FROM ts_stat('SELECT document FROM kb_fts_words')"
                vocab = {t: int(n) for t, n in (await session.execute(text(sql))).all()}
                self._total = int(await session.scalar(text("SELECT count(*) FROM kb_fts_words")) or 0)
                self._vocab = vocab
        return self._vocab

    def _spelled(self, latin: str) -> list[str]:
        if self._pinyin is None:
            known = dict(self._vocab or {})
            for word in (*self.dictionary, *self._synonyms):
                known.setdefault(word, 0)
            self._pinyin = words.pinyin_map(known)
        return self._pinyin.get(latin, [])

    # -- a query -------------------------------------------------------------------------------------

    async def plan(self, session: AsyncSession, q: str) -> tuple[Plan, dict[str, float]]:
        """The query's plan and the idf of each of its words (from the vocabulary)."""
        q = words.clean((q or "")[:200])
        vocab = await self._vocabulary(session)
        seg = self.segmenter()
        # Queries are cut with the synonyms' terms as words too, so a group's longer term stays whole.
        found = words.query_words(q, words.segmenter((*self.dictionary, *self._synonyms)))
        if not found:  # only stop words: look for them after all
            found = [w for w in (t.strip() for t in seg.cut(q)) if any(c.isalnum() for c in w)]
        plan = plan_query(
            q, found, synonyms=self._synonyms,
            parts=lambda w: words.sub_words(w, seg) if len(w) >= 3 and words.is_han(w) else [],
            spelled=self._spelled,
        )
        weights = {}
        for group in plan.groups:
            counts = [vocab[a.text] for a in group.alts if vocab.get(a.text)]
            weights[group.word] = idf(vocab.get(group.word) or (min(counts) if counts else 0), self._total)
        return plan, weights

    async def candidates(
        self, session: AsyncSession, plan: Plan, where: Sequence[str], params: dict[str, Any], want: int = 10
    ) -> list[int]:
        """Ids of entries with any of the plan's terms: best by the word index first, then substrings.

        ``want``: how many results the caller shows (at least that many candidates of each kind)."""
        params = {**params, "words_limit": max(WORD_CANDIDATES, want), "sub_limit": max(SUBSTRING_CANDIDATES, want)}
        wanted = max(ENOUGH, want)
        found = await (self._sqlite_words if self.dialect == "sqlite" else self._pg_words)(session, plan, where, params)
        seen = set(found)
        vocab = self._vocab or {}
        # As substrings: the whole query, and the words and synonyms the index does not hold (cut
        # otherwise in the entries); one character only when it is the whole query (LIKE reads all).
        # The whole query is skipped when it is an indexed word the index found enough entries for,
        # and so is Latin that spells Chinese words (gh: 挂号 is looked for, not "gh" inside words).
        enough = len(found) >= wanted and plan.phrase in vocab
        spelled = {g.word for g in plan.groups if any(a.weight == PINYIN for a in g.alts)}
        substrings = [w for w in (plan.phrase, *plan.terms) if len(w) >= 2 and w not in spelled
                      and (w not in vocab or (w == plan.phrase and not enough))][:MAX_SUBSTRINGS]
        if not substrings and not enough and len(plan.phrase) == 1:
            substrings = [plan.phrase]
        if not substrings:
            return found
        for entry_id in await (self._sqlite_substrings if self.dialect == "sqlite" else self._pg_substrings)(
            session, tuple(dict.fromkeys(substrings)), where, params
        ):
            if entry_id not in seen:
                seen.add(entry_id)
                found.append(entry_id)
        return found

    def _index_terms(self, plan: Plan) -> tuple[list[str], bool]:
        """The terms to look up in the word index, and whether to rank them.

        Ranking thousands of entries that share a common word (孩子) costs more than the whole search
        may: such words are left to the score when rarer ones are there, else read in id order.
        """
        terms = [t for t in plan.terms if any(c.isalnum() for c in t)]
        vocab, common = self._vocab or {}, max(COMMON_MIN, self._total // 10)
        rare = [t for t in terms if vocab.get(t, 0) <= common]
        return (rare, True) if rare else (terms, False)

    async def _sqlite_words(self, session: AsyncSession, plan: Plan, where: Sequence[str],
                            params: dict[str, Any]) -> list[int]:
        terms, ranked = self._index_terms(plan)
        if not terms:
            return []
        match = " OR ".join(fts_phrase(t) for t in terms)
        order = "rank" if ranked else "rowid"
        if where:  # the index holds active entries only: join the entries only to filter
            sql = (
                "SELECT w.rowid FROM kb_fts_words w JOIN kb_entries e ON e.id = w.rowid "
                f"WHERE kb_fts_words MATCH :words_match{''.join(' AND ' + c for c in where)} "
                f"ORDER BY w.{order} LIMIT :words_limit"
            )
        else:  # ranked and cut inside FTS5 (rank: bm25 weighted question > keywords > answer, migration 0016)
            sql = f"SELECT rowid FROM kb_fts_words WHERE kb_fts_words MATCH :words_match ORDER BY {order} LIMIT :words_limit"
        # Questions and keywords first: a common word is in thousands of answers, and ranking them
        # all costs more than the whole search may; answers are read only when those run short.
        values = {**params, "words_match": f"{{question keywords}} : ({match})"}
        found = list((await session.execute(text(sql), values)).scalars().all())
        if len(found) < max(ENOUGH, params["words_limit"] * ENOUGH // WORD_CANDIDATES):
            values["words_match"] = match
            found += [i for i in (await session.execute(text(sql), values)).scalars().all() if i not in found]
        return found[: params["words_limit"]]

    async def _pg_words(self, session: AsyncSession, plan: Plan, where: Sequence[str],
                        params: dict[str, Any]) -> list[int]:
        terms, ranked = self._index_terms(plan)
        if not terms:
            return []
        query = " || ".join(f"plainto_tsquery('simple', :w{n})" for n in range(len(terms)))
        rank = "ts_rank_cd(CAST('{0.1, 0.2, 0.5, 1.0}' AS float4[]), w.document, q.q) DESC, " if ranked else ""
        sql = (
            f"SELECT w.entry_id FROM kb_fts_words w JOIN kb_entries e ON e.id = w.entry_id, ({'SELECT ' + query}) AS q(q) "
            f"WHERE w.document @@ q.q{''.join(' AND ' + c for c in where)} "
            f"ORDER BY {rank}w.entry_id LIMIT :words_limit"
        )
        values = {**params, **{f"w{n}": t for n, t in enumerate(terms)}}
        return list((await session.execute(text(sql), values)).scalars().all())

    async def _sqlite_substrings(self, session: AsyncSession, terms: Iterable[str], where: Sequence[str],
                                 params: dict[str, Any]) -> list[int]:
        """Entries holding any term as a substring: the trigram index for 2+ characters, LIKE below."""
        groups: list[str] = []
        likes: list[str] = []
        values: dict[str, Any] = dict(params)
        for term in terms:
            if len(term) >= TRIGRAM_MIN:
                groups.append(fts_phrase(term))
            elif len(term) == 2:
                trigrams = await self._trigrams_starting(session, term)
                if len(trigrams) > MAX_EXPANSION:
                    likes.append(term)
                elif trigrams:
                    groups.append(" OR ".join(fts_phrase(t) for t in trigrams))
            else:
                likes.append(term)
        found: list[int] = []
        tail = "".join(" AND " + c for c in where)
        if groups:
            values["sub_match"] = " OR ".join(f"({g})" for g in groups)
            sql = ("SELECT e.id FROM kb_fts JOIN kb_entries e ON e.id = kb_fts.rowid "
                   f"WHERE kb_fts MATCH :sub_match AND e.active = 1{tail} ORDER BY kb_fts.rowid LIMIT :sub_limit")
            found += (await session.execute(text(sql), values)).scalars().all()
        if likes:
            found += await self._like_ids(session, likes, where, values, "LIKE")
        return found

    @staticmethod
    async def _trigrams_starting(session: AsyncSession, term: str) -> list[str]:
        """Indexed trigrams that begin with a two-character ``term`` (at most MAX_EXPANSION + 1)."""
        low = term.lower()  # the trigram tokenizer folds case
        rows = await session.execute(
            text("SELECT term FROM kb_fts_terms WHERE term >= :low AND term < :high LIMIT :n"),
            {"low": low, "high": low + "\U0010ffff", "n": MAX_EXPANSION + 1},
        )
        return [t for t in rows.scalars().all() if t.startswith(low)]

    async def _pg_substrings(self, session: AsyncSession, terms: Iterable[str], where: Sequence[str],
                             params: dict[str, Any]) -> list[int]:
        return await self._like_ids(session, list(terms), where, dict(params), "ILIKE")

    @staticmethod
    async def _like_ids(session: AsyncSession, terms: Sequence[str], where: Sequence[str], values: dict[str, Any],
                        like: str) -> list[int]:
        """Entries holding any of ``terms`` in question, keywords or answer (LIKE, or ILIKE on PostgreSQL)."""
        if not terms:
            return []
        text_of = "(e.question || ' ' || e.keywords || ' ' || e.answer)"
        tests = []
        for n, term in enumerate(terms):
            values[f"like{n}"] = like_pattern(term)
            tests.append(f"{text_of} {like} :like{n} ESCAPE '\\'")
        active = "e.active = 1" if like == "LIKE" else "e.active"
        sql = (f"SELECT e.id FROM kb_entries e WHERE {active} AND ({' OR '.join(tests)})"
               f"{''.join(' AND ' + c for c in where)} ORDER BY e.id LIMIT :sub_limit")
        return list((await session.execute(text(sql), values)).scalars().all())
