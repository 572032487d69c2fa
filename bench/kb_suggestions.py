"""Suggestions before typing under a realistic size: 10,000 entries, a month of lookups, 500 tickets.

    .venv/bin/python bench/kb_suggestions.py [--entries N] [--views N] [--tickets N] [--url URL] [--seed N]

The store is a fresh SQLite file (or ``--url``, e.g. a PostgreSQL database) migrated to head.  It
holds the shipped sample (``data/kb_sample.csv``) copied until ``--entries`` (same categories and
lengths), ``--views`` lookups spread over the last 40 days (so a quarter fall outside the 30-day
window), one hotline message made from an entry, and ``--tickets`` calls from 200 numbers with a
menu choice (the IVR's), the message heard on one call in three, and a categorised earlier ticket
for most callers.  Each ticket's suggestions are timed end to end through
``SuggestionService.for_ticket`` (reading the ticket and its signals, the candidates and lookups,
deciding, loading the rows) after 20 warm-up calls.  The last line is one JSON object:
``{"entries": 10000, "views": 50000, "tickets": 500, "p50_ms": ..., "p95_ms": ..., ...}``.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from callcenter.ivr.flow import MENU
from callcenter.kb.models import KbEntry, KbView, PreventionMessage
from callcenter.kb.suggest import TICKET_CATEGORIES
from callcenter.kb.suggestions import SuggestionService
from callcenter.store import open_database, session_factory
from callcenter.store.models import Ticket
from callcenter.workorders.models import WorkOrder

SAMPLE = ROOT / "data" / "kb_sample.csv"
NOW = dt.datetime(2026, 11, 30, 10, 0, tzinfo=dt.UTC)


async def seed(sessions, args: argparse.Namespace, rng: random.Random) -> list[int]:
    with SAMPLE.open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    entries = [{"question": f"{r['question']}（{n // len(rows)}）" if n >= len(rows) else r["question"],
                "answer": r["answer"], "keywords": r["keywords"], "category": r["category"], "department": r["department"],
                "active": True, "updated_by": "bench", "author": "bench", "created_at": NOW, "updated_at": NOW}
               for n, r in ((n, rows[n % len(rows)]) for n in range(args.entries))]
    async with sessions() as session, session.begin():
        await session.execute(insert(KbEntry), entries)
        await session.execute(insert(KbView), [
            {"entry_id": min(args.entries, int(rng.paretovariate(1.2))), "by": "op1",
             "at": NOW - dt.timedelta(days=rng.uniform(0, 40))} for _ in range(args.views)])
        session.add(PreventionMessage(rule_name="kb_flu", entry_id=1, category="medical", texts={"zh": "流感高发季"},
                                      first_day=NOW.date(), last_day=NOW.date(), starts_at=NOW))
    numbers = [f"138{n:08d}" for n in range(200)]
    choices = [option.route.choice for option in MENU.values()]
    ids: list[int] = []
    async with sessions() as session, session.begin():
        for number in numbers:
            if rng.random() < 0.8:
                earlier = Ticket(node="b", uniqueid=f"old-{number}", source="controller", caller_number=number,
                                 arrived_at=NOW - dt.timedelta(days=rng.uniform(1, 90)), details={})
                session.add(earlier)
                await session.flush()
                session.add(WorkOrder(ticket_id=earlier.id, category=rng.choice(sorted(TICKET_CATEGORIES))))
        for n in range(args.tickets):
            seasonal = ["kb_flu"] if n % 3 == 0 else []
            ivr = {"language": "zh", "seasonal": seasonal, "menu": {"choice": rng.choice(choices)},
                   "messages": [{"prompt": s, "seasonal": True} for s in seasonal]}
            ticket = Ticket(node="b", uniqueid=f"now-{n}", source="controller", caller_number=rng.choice(numbers),
                            arrived_at=NOW - dt.timedelta(seconds=n), details={"ivr": ivr})
            session.add(ticket)
            await session.flush()
            session.add(WorkOrder(ticket_id=ticket.id))
            ids.append(ticket.id)
    return ids


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--views", type=int, default=50_000)
    parser.add_argument("--tickets", type=int, default=500)
    parser.add_argument("--url", default="")
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="kb-suggest-") as tmp:
        url = args.url or f"sqlite+aiosqlite:///{tmp}/bench.db"
        engine = await open_database(url)
        sessions = session_factory(engine)
        ids = await seed(sessions, args, rng)
        service = SuggestionService(sessions, clock=lambda: NOW)
        for ticket_id in ids[:20]:
            await service.for_ticket(ticket_id)
        took, shown = [], []
        for ticket_id in ids:
            started = time.perf_counter()
            result = await service.for_ticket(ticket_id)
            took.append((time.perf_counter() - started) * 1000)
            shown.append(len(result["entries"]))
        await engine.dispose()
    took.sort()
    figures = {
        "entries": args.entries, "views": args.views, "tickets": len(ids), "backend": url.split(":", 1)[0],
        "p50_ms": round(statistics.median(took), 2), "p95_ms": round(took[int(len(took) * 0.95) - 1], 2),
        "max_ms": round(took[-1], 2), "mean_entries_shown": round(statistics.mean(shown), 2),
    }
    print(f"suggestions for {len(ids)} tickets over {args.entries} entries and {args.views} lookups")
    print(json.dumps(figures))


if __name__ == "__main__":
    asyncio.run(main())
