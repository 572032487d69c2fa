"""Knowledge-base relevance: natural operator queries over the shipped sample, judged by hand.

    .venv/bin/python bench/kb_relevance.py [--url URL] [--judged FILE] [--show-misses]

The judged set (``bench/kb_judged.csv``) holds queries typed the way operators type while a parent
talks: Chinese without spaces, everyday words, particles (怎么, 吗, 了, 请问...), synonyms (发热 for
发烧, 化验 for 检验报告, 社保卡 for 医保...), pinyin (guahao) and pinyin initials (fs).  Each row
names the entries that answer it by their exact question text (stable across reloads, unlike ids);
any one of them counts as a hit.  Columns: ``query, category, kind, expected_questions`` (several
joined by `` | ``) and ``note``.  ``kind`` is what the query tests:

- ``exact``: the query appears verbatim in an expected entry (question, keywords or answer);
- ``particle``: a question with particles and function words around the entry's words;
- ``compound``: two or more of the entry's words run together or reordered, without spaces;
- ``colloquial``: everyday words for what the entry says in other words;
- ``synonym``: a synonym the hotline uses for the entry's term;
- ``pinyin`` / ``initials``: full pinyin or pinyin initials of the term, in Latin letters.

The store is a fresh SQLite file (or ``--url``, e.g. a PostgreSQL database) migrated to head,
holding the 273 entries of ``data/kb_sample.csv``.  Every query goes through ``KbService.search``
exactly as the operator's desk calls it (``limit=8``, no category or department filter).  It
prints one row per kind (count, hit@1, hit@3, zero results) and, as its last line, one JSON
object: ``{"queries": N, "hit_at_1": x, "hit_at_3": x, "mrr": x, "zero_results": n,
"zero_results_with_answer": n}`` (MRR over the results returned; every judged query has an answer,
so ``zero_results_with_answer`` counts the queries that came back empty although the sample holds
their answer).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from callcenter.kb.dictionary import DictionaryService
from callcenter.kb.models import KbEntry
from callcenter.kb.service import KbService
from callcenter.store import open_database, session_factory
from callcenter.store.models import utcnow

SAMPLE = ROOT / "data" / "kb_sample.csv"
JUDGED = Path(__file__).resolve().parent / "kb_judged.csv"
DESK_LIMIT = 8  # callcenter/web/static/agent.js asks /api/kb/search for 8 results
KINDS = ("exact", "particle", "compound", "colloquial", "synonym", "pinyin", "initials")


def sample_rows() -> list[dict[str, str]]:
    with SAMPLE.open(encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def judged_rows(path: Path, questions: set[str]) -> list[dict[str, object]]:
    """The judged queries; every expected question must be one of the sample's."""
    out = []
    with path.open(encoding="utf-8-sig") as fh:
        for n, row in enumerate(csv.DictReader(fh), start=2):
            expected = [q.strip() for q in row["expected_questions"].split(" | ") if q.strip()]
            missing = [q for q in expected if q not in questions]
            if not row["query"] or not expected or missing:
                raise SystemExit(f"{path}:{n}: bad row (query {row['query']!r}, not in the sample: {missing})")
            out.append({**row, "expected": expected})
    return out


async def run(args: argparse.Namespace) -> tuple[list[dict[str, object]], str]:
    rows = sample_rows()
    judged = judged_rows(Path(args.judged), {r["question"] for r in rows})
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite+aiosqlite:///{Path(tmp) / 'kb.db'}"
        backend = make_url(url).get_backend_name()
        engine = await open_database(url)
        try:
            sessions = session_factory(engine)
            now = utcnow()
            async with sessions() as session, session.begin():
                await session.execute(insert(KbEntry), [
                    {**{k: r[k] for k in ("question", "answer", "keywords", "category", "department")},
                     "active": True, "updated_by": "bench", "created_at": now, "updated_at": now}
                    for r in rows
                ])
            kb = KbService(sessions, backend)
            await DictionaryService(sessions, kb.index).seed()  # the shipped synonyms, as at first start
            await kb.index.ensure()  # rows inserted directly: cut and indexed as at start
            for item in judged:
                result = await kb.search(str(item["query"]), limit=DESK_LIMIT)
                got = [r["question"] for r in result["results"]]
                item["got"] = got
                item["rank"] = next((i + 1 for i, q in enumerate(got) if q in item["expected"]), 0)
        finally:
            await engine.dispose()
    return judged, backend


def figures(items: list[dict[str, object]]) -> dict[str, float | int]:
    n = len(items)
    ranks = [int(i["rank"]) for i in items]  # type: ignore[arg-type]
    return {
        "queries": n,
        "hit_at_1": round(sum(r == 1 for r in ranks) / n, 3) if n else 0.0,
        "hit_at_3": round(sum(1 <= r <= 3 for r in ranks) / n, 3) if n else 0.0,
        "mrr": round(sum(1 / r for r in ranks if r) / n, 3) if n else 0.0,
        "zero_results": sum(not i["got"] for i in items),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--judged", default=str(JUDGED), help="judged set (default: bench/kb_judged.csv)")
    parser.add_argument("--show-misses", action="store_true", help="list the queries not answered in the first 3")
    args = parser.parse_args()
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    items, backend = asyncio.run(run(args))
    by_kind: dict[str, list[dict[str, object]]] = defaultdict(list)
    for item in items:
        by_kind[str(item["kind"])].append(item)
    total = figures(items)
    print(f"knowledge-base relevance: {total['queries']} judged operator queries over {SAMPLE.name} "
          f"on {backend}, limit {DESK_LIMIT} as on the operator's desk")
    print(f"  {'kind':<11} {'count':>5} {'hit@1':>6} {'hit@3':>6} {'mrr':>6} {'zero':>5}")
    for kind in [k for k in KINDS if k in by_kind] + sorted(set(by_kind) - set(KINDS)):
        f = figures(by_kind[kind])
        print(f"  {kind:<11} {f['queries']:>5} {f['hit_at_1']:>6.3f} {f['hit_at_3']:>6.3f} {f['mrr']:>6.3f} {f['zero_results']:>5}")
    print(f"  {'all':<11} {total['queries']:>5} {total['hit_at_1']:>6.3f} {total['hit_at_3']:>6.3f} "
          f"{total['mrr']:>6.3f} {total['zero_results']:>5}")
    if args.show_misses:
        for item in items:
            if not 1 <= int(item["rank"]) <= 3:  # type: ignore[arg-type]
                got = "nothing" if not item["got"] else f"rank {item['rank'] or '-'} of {len(item['got'])}"  # type: ignore[arg-type]
                print(f"  miss [{item['kind']}] {item['query']}: {got}")
    # Every judged query has its answer in the sample, so each empty result is one with an answer.
    total["zero_results_with_answer"] = total["zero_results"]
    print(json.dumps(total, ensure_ascii=False))


if __name__ == "__main__":
    main()
