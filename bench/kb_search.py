"""Knowledge-base search under a realistic size: 10,000 entries, 1,000 queries of 2-4 Chinese characters.

    .venv/bin/python bench/kb_search.py [--entries N] [--queries N] [--url URL] [--seed N]

The store is a fresh SQLite file (or ``--url``, e.g. a PostgreSQL database) migrated to head.  It
holds the shipped sample (``data/kb_sample.csv``) plus generated entries made of the sample's own
clauses, recombined, so that characters, words and lengths are those of real hotline answers.
Queries are substrings of 2, 3 and 4 Chinese characters (a third each) cut from random entries'
questions, keywords and answers, as an operator types them.  Each query is timed end to end
through ``KbService.search`` (parsing, SQL, loading the rows, highlighting) after 50 warm-up
queries.  The last line is one JSON object:
``{"entries": 10000, "queries": 1000, "p50_ms": ..., "p95_ms": ..., ...}``.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from callcenter.kb.dictionary import DictionaryService  # noqa: E402
from callcenter.kb.models import KbEntry  # noqa: E402
from callcenter.kb.service import KbService  # noqa: E402
from callcenter.store import open_database, session_factory  # noqa: E402
from callcenter.store.models import utcnow  # noqa: E402

SAMPLE = ROOT / "data" / "kb_sample.csv"
HAN = re.compile(r"[\u4e00-\u9fff]{4,}")
CLAUSE = re.compile(r"[^，。；：！？、]+[，。；：！？、]?")


def sample_rows() -> list[dict[str, str]]:
    with SAMPLE.open(encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def generate(rows: list[dict[str, str]], total: int, rng: random.Random) -> list[dict[str, str]]:
    """The sample plus entries recombined from its clauses, up to ``total``."""
    clauses = [c for r in rows for c in CLAUSE.findall(r["answer"]) if len(c) > 4]
    questions = [c.rstrip("？?") for r in rows for c in CLAUSE.findall(r["question"]) if len(c) > 3]
    keywords = sorted({k for r in rows for k in r["keywords"].split()})
    cats = sorted({r["category"] for r in rows})
    out = [
        {k: r[k] for k in ("question", "answer", "keywords", "category", "department")}
        for r in rows
    ]
    while len(out) < total:
        q = "，".join(rng.sample(questions, 2)) + "？"
        out.append({
            "question": q[:200],
            "answer": "".join(rng.sample(clauses, rng.randint(4, 8)))[:1200],
            "keywords": " ".join(rng.sample(keywords, 4)),
            "category": rng.choice(cats),
            "department": rng.choice(rows)["department"],
        })
    return out[:total]


def make_queries(entries: list[dict[str, str]], count: int, rng: random.Random) -> list[str]:
    """Substrings of 2-4 Chinese characters from the entries' text (a third of each length)."""
    queries = []
    while len(queries) < count:
        entry = rng.choice(entries)
        field = rng.choices(("question", "keywords", "answer"), weights=(5, 2, 3))[0]
        runs = HAN.findall(entry[field]) or HAN.findall(entry["answer"])
        if not runs:
            continue
        run = rng.choice(runs)
        length = 2 + len(queries) % 3
        start = rng.randrange(0, len(run) - length + 1)
        queries.append(run[start : start + length])
    rng.shuffle(queries)
    return queries


async def run(args: argparse.Namespace) -> dict[str, object]:
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite+aiosqlite:///{Path(tmp) / 'kb.db'}"
        engine = await open_database(url)
        try:
            sessions = session_factory(engine)
            entries = generate(sample_rows(), args.entries, rng)
            now = utcnow()
            loaded = time.perf_counter()
            async with sessions() as session, session.begin():
                for start in range(0, len(entries), 1000):
                    chunk = [{**e, "active": True, "updated_by": "bench", "created_at": now, "updated_at": now}
                             for e in entries[start : start + 1000]]
                    await session.execute(insert(KbEntry), chunk)
            load_s = time.perf_counter() - loaded
            kb = KbService(sessions, make_url(url).get_backend_name())
            await DictionaryService(sessions, kb.index).seed()
            indexed = time.perf_counter()
            await kb.index.ensure()  # rows inserted directly: cut into words and indexed, as at start
            index_s = time.perf_counter() - indexed
            queries = make_queries(entries, args.queries, rng)
            for q in queries[:50]:
                await kb.search(q)
            times, hits, empty = [], 0, 0
            for q in queries:
                t0 = time.perf_counter()
                result = await kb.search(q, limit=10)
                times.append((time.perf_counter() - t0) * 1000)
                hits += len(result["results"])
                empty += not result["results"]
        finally:
            await engine.dispose()
    times.sort()
    by_len: dict[int, list[float]] = {}
    return {
        "entries": args.entries,
        "queries": len(queries),
        "backend": make_url(url).get_backend_name(),
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(times[int(0.95 * (len(times) - 1))], 2),
        "p99_ms": round(times[int(0.99 * (len(times) - 1))], 2),
        "max_ms": round(times[-1], 2),
        "mean_results": round(hits / len(queries), 2),
        "no_result_queries": empty,
        "load_seconds": round(load_s, 2),
        "index_seconds": round(index_s, 2),
        **({} if not by_len else {}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--url", default="", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    result = asyncio.run(run(args))
    print(f"knowledge-base search: {result['entries']} entries, {result['queries']} queries "
          f"of 2-4 Chinese characters on {result['backend']}")
    print(f"  p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms, p99 {result['p99_ms']} ms, max {result['max_ms']} ms")
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
