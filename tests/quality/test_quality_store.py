"""Quality review on a real database (SQLite, and PostgreSQL when configured): the week's list read
from tickets, work orders and recordings; reviews saved once per call, replaced, read back; the
reports' weekly scores."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from harness.postgres import store_url  # noqa: F401  (fixture: SQLite, and PostgreSQL when configured)
from callcenter.quality.exceptions import InvalidReview, NotFound
from callcenter.quality.service import QualityService
from callcenter.recording.models import Recording
from callcenter.settings import QualitySettings, Settings
from callcenter.store import open_database, session_factory
from callcenter.tickets import TicketService
from callcenter.workorders.models import WorkOrder
from callcenter.workorders.report_quality import by_week, quality_rows
from callcenter.workorders.service import WorkOrderService

ZONE = ZoneInfo("Asia/Shanghai")
MONDAY = dt.date(2026, 11, 23)
T0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=ZONE)
FULL = {"greeting": 10, "listening": 20, "accuracy": 30, "reply_time": 15, "no_forbidden": 15, "closing": 10}


@dataclasses.dataclass
class Stack:
    tickets: TicketService
    quality: QualityService
    sessions: object


@pytest.fixture
async def stack(store_url: str, tmp_path: Path) -> AsyncIterator[Stack]:
    engine = await open_database(store_url)
    sessions = session_factory(engine)
    work = WorkOrderService(sessions, dataclasses.replace(Settings(), node="pbx1"))
    tickets = TicketService(sessions, "pbx1", spill_dir=tmp_path / "spill", wait_limit=30.0)
    tickets.after_write.append(work.on_ticket_write)
    await tickets.start()
    yield Stack(tickets, QualityService(sessions, QualitySettings(sample_per_week=2), ZONE), sessions)
    await tickets.close()
    await engine.dispose()


async def call(s: Stack, uid: str, agent: str, at: dt.datetime, *, recorded: bool = True, answered: bool = True,
               satisfaction: int | None = None, category: str | None = None) -> int:
    ticket_id = await s.tickets.open_for_arrival(uid, "13800000000", "", "PJSIP/trunk-1", at)
    if answered:
        await s.tickets.mark_answered(uid, agent, at + dt.timedelta(seconds=5))
    await s.tickets.mark_ended(uid, at + dt.timedelta(seconds=65), "agent")
    assert await s.tickets.flush(10.0)
    async with s.sessions() as session, session.begin():
        if satisfaction is not None or category is not None:
            await session.execute(update(WorkOrder).where(WorkOrder.ticket_id == ticket_id)
                                  .values(satisfaction=satisfaction, category=category))
        if recorded:
            session.add(Recording(ticket_id=ticket_id, node="pbx1", uniqueid=uid, kind="inbound", agent_id=agent,
                                  status="complete", path=f"{uid}.wav", started_at=at))
    return ticket_id


async def test_the_week_lists_the_sample_and_every_flagged_call(stack: Stack):
    s = stack
    plain = [await call(s, f"a{n}", "1001", T0 + dt.timedelta(minutes=n)) for n in range(6)]
    unrecorded = [await call(s, f"u{n}", "1001", T0 + dt.timedelta(hours=1, minutes=n), recorded=False) for n in range(5)]
    low = await call(s, "low", "1002", T0 + dt.timedelta(days=1), recorded=False, satisfaction=2)
    complaint = await call(s, "cmp", "1002", T0 + dt.timedelta(days=2), category="complaint")
    await call(s, "gone", "1001", T0, answered=False)  # abandoned: nobody to review
    await call(s, "next", "1001", T0 + dt.timedelta(days=7))  # next week
    week = await s.quality.to_review(MONDAY + dt.timedelta(days=3))
    assert week["week"] == MONDAY.isoformat()
    by_id = {c["ticket_id"]: c for c in week["calls"]}
    sampled = [t for t, c in by_id.items() if c["reasons"] == ["sample"]]
    assert len(sampled) == 2 and set(sampled) <= set(plain)  # drawn only from 1001's recorded calls
    assert not set(by_id) & set(unrecorded)
    assert by_id[low]["reasons"] == ["low_score"] and by_id[low]["recording_id"] is None
    assert by_id[complaint]["reasons"] == ["complaint"] and by_id[complaint]["recording_id"] is not None
    assert len(by_id) == 4 and not any(c["reviewed"] for c in week["calls"])
    assert week == await s.quality.to_review(MONDAY)  # the same list all week


async def test_a_review_is_saved_once_per_call_and_replaced(stack: Stack):
    s = stack
    ticket = await call(s, "a1", "1001", T0)
    review, created = await s.quality.save(ticket, FULL, "很好", "boss")
    assert created and review["total"] == 100.0 and review["agent_id"] == "1001" and review["reviewer"] == "boss"
    again, created = await s.quality.save(ticket, {**FULL, "accuracy": 0}, "准确性不足", "boss2")
    assert not created and again["id"] == review["id"] and again["total"] == 70.0 and again["reviewer"] == "boss2"
    assert [r["total"] for r in await s.quality.reviews("1001")] == [70.0]
    assert await s.quality.reviews("1002") == []
    detail = await s.quality.review(review["id"])
    assert detail["comments"] == "准确性不足" and detail["recording_id"] is not None
    week = await s.quality.to_review(MONDAY)
    assert [(c["ticket_id"], c["reviewed"], c["total"]) for c in week["calls"]] == [(ticket, True, 70.0)]


async def test_bad_reviews_and_unknown_calls_are_refused(stack: Stack):
    s = stack
    ticket = await call(s, "a1", "1001", T0)
    gone = await call(s, "gone", "1001", T0, answered=False)
    with pytest.raises(InvalidReview) as err:
        await s.quality.save(ticket, {**FULL, "greeting": 11}, "", "boss")
    assert err.value.problems == [{"field": "scores.greeting", "problem": "must be between 0 and 10"}]
    for missing in (gone, 999999):
        with pytest.raises(NotFound):
            await s.quality.save(missing, FULL, "", "boss")
    with pytest.raises(NotFound):
        await s.quality.review(12345)
    assert await s.quality.reviews(None) == []


async def test_reports_average_each_operators_reviews_per_week(stack: Stack):
    s = stack
    first = await call(s, "a1", "1001", T0)
    second = await call(s, "a2", "1001", T0 + dt.timedelta(days=1))
    third = await call(s, "a3", "1001", T0 + dt.timedelta(days=8))
    other = await call(s, "b1", "1002", T0)
    await s.quality.save(first, FULL, "", "boss")
    await s.quality.save(second, {**FULL, "accuracy": 0, "listening": 0}, "", "boss")
    await s.quality.save(third, {**FULL, "closing": 0}, "", "boss")
    await s.quality.save(other, {**FULL, "greeting": 0}, "", "boss")
    start, end = MONDAY, MONDAY + dt.timedelta(days=13)
    rows = await quality_rows(s.sessions, dt.datetime.combine(start, dt.time(), ZONE),
                              dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), ZONE))
    figures = by_week(rows, ZONE, start, end)
    assert figures["weeks"] == ["2026-11-23", "2026-11-30"]
    one = next(a for a in figures["agents"] if a["agent_id"] == "1001")
    assert one["reviews"] == 3 and one["average"] == 80.0
    assert one["weeks"] == [{"week": "2026-11-23", "reviews": 2, "average": 75.0},
                            {"week": "2026-11-30", "reviews": 1, "average": 90.0}]
    two = next(a for a in figures["agents"] if a["agent_id"] == "1002")
    assert two["weeks"][1] == {"week": "2026-11-30", "reviews": 0, "average": None}
