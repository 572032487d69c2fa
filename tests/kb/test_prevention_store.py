"""未诉先办 on a real database: lookups and tickets counted per period, what rose, a message's effect."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest
from harness.postgres import store_url  # noqa: F401  (fixture: SQLite, and PostgreSQL when configured)
from sqlalchemy import select
from sqlalchemy.engine import make_url

from callcenter.kb.models import PreventionMessage
from callcenter.kb.prevention import (
    Period,
    PreventionService,
    effect_windows,
    this_week,
    ticket_category,
)
from callcenter.kb.service import KbService
from callcenter.store import open_database, session_factory
from callcenter.store.models import Ticket
from callcenter.workorders.exceptions import NotFound
from callcenter.workorders.models import WorkOrder

BJ = dt.timezone(dt.timedelta(hours=8))
MON = dt.date(2026, 11, 23)  # a Monday


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), BJ)


@pytest.fixture
async def stack(store_url: str) -> AsyncIterator[tuple[PreventionService, KbService, object]]:
    engine = await open_database(store_url)
    sessions = session_factory(engine)
    yield PreventionService(sessions, BJ), KbService(sessions, make_url(store_url).get_backend_name()), sessions
    await engine.dispose()


async def seed_tickets(sessions, rows: list[tuple[str, dt.datetime]]) -> None:
    """One ticket with its work order per (category, created_at)."""
    async with sessions() as session, session.begin():
        for n, (category, when) in enumerate(rows):
            ticket = Ticket(node="t", uniqueid=f"u{n}-{when.timestamp()}", source="controller", arrived_at=when,
                            created_at=when)
            session.add(ticket)
            await session.flush()
            session.add(WorkOrder(ticket_id=ticket.id, category=category, created_at=when))


async def entry(kb: KbService, question: str, category: str = "reports") -> int:
    return (await kb.create({"question": question, "answer": "答案", "category": category}, "t"))["id"]


async def test_views_are_counted_per_entry_in_half_open_local_periods(stack):
    prevention, kb, sessions = stack
    a, b = await entry(kb, "报告在哪里取？"), await entry(kb, "怎么挂号？", "registration")
    await seed_tickets(sessions, [("reports", at(MON, 9))])
    async with sessions() as session:
        ticket_id = (await session.scalars(select(Ticket.id))).one()
    for when, entry_id in [
        (at(MON, 0, 0), a),  # the first moment of Monday (hospital time): inside
        (at(MON, 23, 59), a),
        (at(MON - dt.timedelta(days=1), 23, 59), a),  # Sunday before: outside
        (at(MON + dt.timedelta(days=1), 0, 0), b),  # Tuesday 00:00: outside [Mon, Tue)
        (at(MON, 12), b),
    ]:
        await prevention.record_view(entry_id, None, "op1", when)
    view = await prevention.record_view(a, ticket_id, "op1", at(MON, 13))
    assert view["ticket_id"] == ticket_id and view["by"] == "op1"
    start, end = Period(MON, MON).bounds(BJ)
    assert await prevention.view_counts(start, end) == {a: 3, b: 1}
    assert await prevention.view_counts(*Period(MON - dt.timedelta(days=6), MON).bounds(BJ)) == {a: 4, b: 1}


async def test_a_view_of_an_unknown_entry_or_ticket_is_not_found(stack):
    prevention, kb, _ = stack
    a = await entry(kb, "报告在哪里取？")
    with pytest.raises(NotFound):
        await prevention.record_view(999, None, "op1", at(MON, 9))
    with pytest.raises(NotFound):
        await prevention.record_view(a, 999, "op1", at(MON, 9))


async def test_report_ranks_what_rose_this_week_against_the_same_days_of_last_week(stack):
    prevention, kb, sessions = stack
    a, b, c = (await entry(kb, "报告在哪里取？"), await entry(kb, "怎么挂号？", "registration"),
               await entry(kb, "停车场在哪里？", "guidance"))
    wed = MON + dt.timedelta(days=2)
    last_mon = MON - dt.timedelta(days=7)
    await seed_tickets(sessions, [
        *[("reports", at(MON, 9 + n)) for n in range(5)],  # reports: 5 against 1
        ("reports", at(last_mon, 10)),
        *[("registration", at(wed, 8 + n)) for n in range(3)],  # registration: 3 against 3 (no rise)
        *[("registration", at(last_mon + dt.timedelta(days=1), 8 + n)) for n in range(3)],
        ("billing", at(wed, 10)),  # new: 1 against 0
        ("billing", at(last_mon + dt.timedelta(days=3), 10)),  # last Thursday: after "the same days"
        ("complaint", at(wed + dt.timedelta(days=1), 10)),  # Thursday this week: after today
    ])
    for n in range(4):
        await prevention.record_view(b, None, "op1", at(MON, 10, n))
    await prevention.record_view(b, None, "op1", at(last_mon, 10))
    await prevention.record_view(c, None, "op1", at(wed, 10))
    await prevention.record_view(a, None, "op1", at(last_mon, 11))
    week, last_week = this_week(wed)
    assert (week, last_week) == (Period(MON, wed), Period(last_mon, last_mon + dt.timedelta(days=2)))
    report = await prevention.report(week, at(wed, 18), before=last_week)
    assert report["period"] == {"from": "2026-11-23", "to": "2026-11-25"}
    assert report["before"] == {"from": "2026-11-16", "to": "2026-11-18"}
    assert [(r["category"], r["now"], r["before"], r["change"]) for r in report["categories"]] == [
        ("reports", 5, 1, 4), ("billing", 1, 0, 1)]  # registration: 3 against 3; last Thursday's billing not counted
    assert [(r["entry_id"], r["now"], r["before"]) for r in report["entries"]] == [(b, 4, 1), (c, 1, 0)]
    # A chosen range is compared with the days just before it: Mon-Wed against Fri-Sun.
    report = await prevention.report(Period(MON, wed), at(wed, 18))
    assert report["before"] == {"from": "2026-11-20", "to": "2026-11-22"}
    assert [(r["category"], r["now"], r["before"]) for r in report["categories"]] == [
        ("reports", 5, 0), ("registration", 3, 0), ("billing", 1, 0)]
    week = Period(MON, MON + dt.timedelta(days=6))
    report = await prevention.report(week, at(wed, 18))
    assert report["before"] == {"from": "2026-11-16", "to": "2026-11-22"}
    assert [(r["category"], r["now"], r["before"], r["change"]) for r in report["categories"]] == [
        ("reports", 5, 1, 4), ("complaint", 1, 0, 1)]  # registration 3-3 and billing 1-1 did not rise
    assert [(r["entry_id"], r["question"], r["change"]) for r in report["entries"]] == [
        (b, "怎么挂号？", 3), (c, "停车场在哪里？", 1)]


async def test_a_messages_effect_counts_its_category_the_same_length_before_and_after_its_start(stack):
    prevention, kb, sessions = stack
    a = await entry(kb, "报告在哪里取？")
    start = at(MON, 12)
    now = at(MON + dt.timedelta(days=2), 12)  # two days after: before is the two days before the start
    await seed_tickets(sessions, [
        ("reports", start - dt.timedelta(days=2, minutes=1)),  # just outside "before"
        ("reports", start - dt.timedelta(days=2)),  # first moment of "before"
        ("reports", start - dt.timedelta(hours=30)),
        ("reports", start - dt.timedelta(seconds=1)),
        ("reports", start),  # first moment of "after"
        ("reports", now - dt.timedelta(seconds=1)),
        ("reports", now),  # now itself: not yet counted
        ("registration", start + dt.timedelta(hours=1)),  # another category
    ])
    async with sessions() as session, session.begin():
        session.add(PreventionMessage(rule_name="kb1_x", entry_id=a, category="reports", texts={"zh": "z", "en": "e"},
                                      first_day=MON, last_day=MON + dt.timedelta(days=9), starts_at=start,
                                      created_by="boss"))
    [message] = await prevention.messages(now)
    assert message["effect"]["before"] == 3 and message["effect"]["after"] == 2 and message["effect"]["change"] == -1
    [message] = await prevention.messages(start)  # not started yet: nothing to compare
    assert (message["effect"]["before"], message["effect"]["after"]) == (0, 0)


def test_effect_windows_and_ticket_categories() -> None:
    s = at(MON, 12)
    assert effect_windows(s, s + dt.timedelta(hours=5)) == ((s - dt.timedelta(hours=5), s), (s, s + dt.timedelta(hours=5)))
    assert ticket_category("reports") == "reports"
    assert ticket_category("vaccination") == "medical"
    assert ticket_category("inpatient") == "guidance"
    assert ticket_category("nothing-like-it") == "other"
