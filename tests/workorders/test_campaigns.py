"""Sampled satisfaction campaigns on a real store (SQLite, and PostgreSQL when configured): closed tickets to tasks,
progress, and a score through record_survey into the feedback ledger."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest
from harness.postgres import store_url  # noqa: F401  (fixture: SQLite, and PostgreSQL when configured)
from sqlalchemy import select

from callcenter.ledger.models import LedgerItem
from callcenter.ledger.service import LedgerService
from callcenter.outbound.campaigns import CampaignStore
from callcenter.outbound.models import Campaign, OutboundList
from callcenter.settings import Settings
from callcenter.store import open_database, session_factory
from callcenter.store.models import Ticket
from callcenter.workorders.exceptions import InvalidData
from callcenter.workorders.models import CallbackTask, Contact, Department, WorkOrder
from callcenter.workorders.service import WorkOrderService

BJ = dt.timezone(dt.timedelta(hours=8))
FROM, TO = dt.datetime(2026, 10, 1, tzinfo=BJ), dt.datetime(2026, 10, 31, 23, 59, tzinfo=BJ)
NOW = dt.datetime(2026, 11, 2, 9, 0, tzinfo=BJ)


@pytest.fixture
async def stack(store_url: str) -> AsyncIterator[tuple[CampaignStore, WorkOrderService, object]]:
    engine = await open_database(store_url)
    sessions = session_factory(engine)
    settings = Settings()
    work = WorkOrderService(sessions, settings)
    ledger = LedgerService(sessions)
    work.after_change.append(ledger.on_work_change)
    yield CampaignStore(sessions, settings), work, sessions
    await engine.dispose()


async def seed_tickets(sessions) -> dict[str, int]:
    """Two departments and tickets closed in and out of October; returns department ids by name."""
    async with sessions() as session, session.begin():
        resp, eye = Department(name="呼吸科"), Department(name="眼科")
        session.add_all([resp, eye])
        await session.flush()
        n = 0

        def ticket(number: str, department: int | None, closed_at: dt.datetime | None, status: str = "closed",
                   parent: int | None = None) -> None:
            nonlocal n
            n += 1
            t = Ticket(node="pbx1", uniqueid=f"u{n}", caller_number=number, source="controller",
                       arrived_at=(closed_at or NOW) - dt.timedelta(days=1))
            session.add(t)
            pending.append((t, WorkOrder(status=status, closed_at=closed_at, department_id=department,
                                         parent_id=parent, created_at=NOW, updated_at=NOW)))

        pending: list = []
        for i in range(12):  # 12 closed in October in 呼吸科, one patient twice
            ticket(f"1390000{i:04d}" if i != 11 else "13900000000", resp.id, FROM + dt.timedelta(days=i))
        for i in range(3):  # 3 in 眼科
            ticket(f"1380000{i:04d}", eye.id, FROM + dt.timedelta(days=i, hours=5))
        for i in range(4):  # 4 without a department
            ticket(f"1370000{i:04d}", None, FROM + dt.timedelta(days=i, hours=7))
        ticket("13600000001", resp.id, FROM - dt.timedelta(hours=1))  # closed before the period
        ticket("13600000002", resp.id, None, status="in_progress")  # not closed
        ticket("", resp.id, FROM + dt.timedelta(days=3))  # no number
        await session.flush()
        for t, order in pending:
            order.ticket_id = t.id
            session.add(order)
    return {"呼吸科": resp.id, "眼科": eye.id}


async def test_closed_tickets_become_a_seeded_campaign_list(stack):
    campaigns, _, sessions = stack
    departments = await seed_tickets(sessions)
    dry = await campaigns.create(FROM, TO, per_department=5, seed=1234, by="sup1", now=NOW, dry_run=True)
    assert dry["id"] is None and dry["closed"] == 19 and dry["drawn"] == 5 + 3 + 4
    async with sessions() as session:
        assert (await session.scalar(select(Campaign.id))) is None  # a dry run writes nothing
    made = await campaigns.create(FROM, TO, per_department=5, seed=1234, by="sup1", now=NOW)
    assert made["sample"] == dry["sample"]  # the same seed draws the same sample
    by_department = {d["department"]: (d["closed"], d["drawn"]) for d in made["by_department"]}
    assert by_department == {"呼吸科": (12, 5), "眼科": (3, 3), None: (4, 4)}
    async with sessions() as session:
        tasks = (await session.scalars(select(CallbackTask).where(CallbackTask.list_id == made["list_id"]))).all()
        batch = await session.get(OutboundList, made["list_id"])
        campaign = await session.get(Campaign, made["id"])
    assert batch.rows == 12 and campaign.seed == 1234 and campaign.created_by == "sup1"
    assert campaign.windows == {"workday": ["08:00-09:00", "12:00-13:30", "18:30-20:30"],
                                "holiday": ["09:30-11:30", "15:00-20:00"]}
    assert len(tasks) == 12 and len({t.number for t in tasks}) == 12
    assert {t.kind for t in tasks} == {"satisfaction_sample"} and {t.state for t in tasks} == {"pending"}
    assert {t.due_by for t in tasks} == {NOW + dt.timedelta(days=14)}
    assert {t.details["campaign_id"] for t in tasks} == {made["id"]}
    assert sum(t.details["department_id"] == departments["眼科"] for t in tasks) == 3
    # a second campaign over the same period with the same seed draws the same patients again (its own tasks)
    again = await campaigns.create(FROM, TO, per_department=5, seed=1234, now=NOW)
    assert again["sample"] == made["sample"] and again["list_id"] != made["list_id"]
    # a share of each department, rounded up
    share = await campaigns.create(FROM, TO, share=0.25, seed=1, now=NOW, dry_run=True)
    assert {d["department"]: d["drawn"] for d in share["by_department"]} == {"呼吸科": 3, "眼科": 1, None: 1}


async def test_bad_requests_name_every_field(stack):
    campaigns, _, _ = stack
    with pytest.raises(InvalidData) as err:
        await campaigns.create(TO, FROM, per_department=0, windows={"workday": ["25:00-26:00"], "holiday": ["x"]},
                               ends_at=NOW - dt.timedelta(days=1), now=NOW)
    fields = {p["field"] for p in err.value.problems}
    assert fields == {"from", "per_department", "windows.workday", "windows.holiday", "until"}
    with pytest.raises(InvalidData) as err:
        await campaigns.create(FROM, TO, per_department=3, share=0.5, now=NOW)
    assert [p["field"] for p in err.value.problems] == ["share"]


async def test_a_score_goes_through_record_survey_and_a_low_one_into_the_ledger(stack):
    campaigns, work, sessions = stack
    await seed_tickets(sessions)
    made = await campaigns.create(FROM, TO, per_department=2, seed=7, now=NOW)
    async with sessions() as session:
        tasks = (await session.scalars(select(CallbackTask).where(CallbackTask.list_id == made["list_id"])
                                       .order_by(CallbackTask.id))).all()
    low, high, silent = tasks[0], tasks[1], tasks[2]
    at = NOW + dt.timedelta(hours=1)
    await campaigns.record_score(work, low.id, low.ticket_id, made["id"], 2, now=at)
    await campaigns.record_score(work, high.id, high.ticket_id, made["id"], 5, now=at + dt.timedelta(seconds=1))
    await campaigns.record_score(work, silent.id, silent.ticket_id, made["id"], None, now=at + dt.timedelta(seconds=2))
    ticket = await work.get(low.ticket_id)
    assert ticket["satisfaction"] == 2 and ticket["status"] == "closed"  # a closed ticket stays closed
    survey = [c for c in ticket["contacts"] if c["kind"] == "survey"]
    assert [(c["outcome"], c["details"]["via"], c["details"]["campaign_id"]) for c in survey] == [("2", "campaign",
                                                                                                  made["id"])]
    async with sessions() as session:
        items = (await session.scalars(select(LedgerItem))).all()
        no_key = (await session.scalars(select(Contact).where(Contact.ticket_id == silent.ticket_id,
                                                              Contact.kind == "survey"))).all()
    assert [(i.ticket_id, i.source, i.score) for i in items] == [(low.ticket_id, "campaign", 2)]  # 5 makes none
    assert [(c.outcome, c.details) for c in no_key] == [("no_key", {"via": "campaign", "campaign_id": made["id"]})]
    # progress: the scores land on the campaign per department
    async with sessions() as session, session.begin():
        for task in (low, high, silent):
            row = await session.get(CallbackTask, task.id)
            row.attempts, row.result, row.state = 1, "answered", "done"
    report = await campaigns.campaign(made["id"])
    assert (report["drawn"], report["called"], report["reached"], report["scored"]) == (6, 3, 3, 2)
    assert report["scores"] == {"1": 0, "2": 1, "3": 0, "4": 0, "5": 1} and report["mean"] == 3.5
    assert sum(d["scored"] for d in report["departments"]) == 2
    assert [c["id"] for c in await campaigns.campaigns()] == [made["id"]]
