"""A sampled satisfaction campaign end to end in the controller (``create_app``) against a scripted Asterisk:
the supervisor draws it over the API, the runner dials the patients, the FastAGI session takes the key, the score
lands on the ticket through record_survey, a 2 becomes a feedback-ledger item, and the campaign's progress says so.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from fake_asterisk import FakeAsterisk, Originate
from harness.env import make_test_settings
from harness.polling import eventually
from sqlalchemy import select, update
from test_outbound_policy import PASSWORD, Api, free_port

from callcenter import keys
from callcenter.app import create_app
from callcenter.ledger.models import LedgerItem
from callcenter.store import session_factory
from callcenter.web import keys as web_keys
from callcenter.workorders.models import CallbackTask, Department, WorkOrder

ALL_DAY = {"workday": ["00:00-00:00"], "holiday": ["00:00-00:00"]}  # so the real clock is always in a window


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    fake = FakeAsterisk()
    ami_port = free_port()
    await fake.start(ami_port)
    settings = make_test_settings(tmp_path / "state")
    settings = dataclasses.replace(
        settings,
        ami=dataclasses.replace(settings.ami, port=ami_port, ping_interval=0.5, action_timeout=1.0, reconnect_delay=1.0),
        agi=dataclasses.replace(settings.agi, port=free_port()),
        web=dataclasses.replace(settings.web, port=free_port()),
        lists=dataclasses.replace(settings.lists, per_hour=3600, concurrent=2, check_seconds=0.2, key_timeout=0.5),
    )
    fake.agi_port = settings.agi.port
    app = create_app(settings)
    async with TestClient(TestServer(app)) as client:
        accounts = app[web_keys.ACCOUNTS]
        await accounts.create("boss", PASSWORD, "supervisor", display_name="Boss")
        await accounts.create("op", PASSWORD, "operator", display_name="Op")
        ami = app[keys.AMI]
        await eventually(lambda: getattr(ami, "responsive", ami.connected) and app[keys.ADAPTER].link["up"], 5,
                         message="AMI up and resynced")
        yield Api(client, fake)
    await fake.close()


async def closed_ticket(api: Api, uid: str, number: str, department_id: int) -> int:
    tid = await api.ticket(uid, number)
    sessions = session_factory(api.app[keys.ENGINE])
    async with sessions() as session, session.begin():
        await session.execute(update(WorkOrder).where(WorkOrder.ticket_id == tid).values(
            status="closed", closed_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1), department_id=department_id))
    return tid


async def test_a_campaign_call_takes_a_spoken_score_into_the_ticket_and_the_ledger(api):
    sessions = session_factory(api.app[keys.ENGINE])
    async with sessions() as session, session.begin():
        session.add_all([Department(name="呼吸科"), Department(name="眼科")])
    async with sessions() as session:
        resp, eye = (await session.scalars(select(Department.id).order_by(Department.id))).all()
    unhappy = await closed_ticket(api, "1764460800.1", "13900000001", resp)
    silent = await closed_ticket(api, "1764460800.2", "13900000002", eye)
    keys_by_number = {"13900000001": "200 result=2", "13900000002": "200 result= (timeout)"}
    sessions_opened: list[Any] = []

    async def answer(o: Originate) -> None:  # the patient picks up; the answered leg opens route outbound-list
        number = o.agent.split("@")[0][-11:]
        api.fake.ring(o, "6")
        api.fake.respond(o, "Success", "4")
        sessions_opened.append(await api.fake.open_agi("outbound-list", o.leg_id, o.channel,
                                                        replies={"GET DATA": keys_by_number[number]}))

    api.fake.on_originate = answer
    await api.login("boss")
    now = dt.datetime.now(dt.UTC)
    body = {"from": (now - dt.timedelta(days=1)).isoformat(), "to": now.isoformat(), "per_department": 1,
            "windows": ALL_DAY}
    status, dry = await api.post("/api/campaigns", {**body, "seed": 5, "dry_run": True})
    assert status == 200 and dry["id"] is None and dry["drawn"] == 2
    assert api.originates() == []  # a dry run dials nobody
    status, made = await api.post("/api/campaigns", {**body, "seed": 5})
    assert status == 201 and made["drawn"] == 2 and made["seed"] == 5, made

    async def finished() -> bool:
        async with sessions() as session:
            states = (await session.scalars(select(CallbackTask.state).where(CallbackTask.list_id == made["list_id"]))).all()
        return sorted(states) == ["done", "done"]

    await eventually(finished, 15, message="both campaign calls answered and logged")
    assert len(sessions_opened) == 2 and len(api.originates()) == 2  # one call each, no retry
    for call in sessions_opened:
        assert call.saw("GET DATA beep") or call.saw("GET DATA /")  # the survey prompt (a beep when not built)
    ticket = await (await api.client.get(f"/api/tickets/{unhappy}")).json()
    assert ticket["satisfaction"] == 2 and ticket["status"] == "closed"
    [survey] = [c for c in ticket["contacts"] if c["kind"] == "survey"]
    assert survey["details"]["via"] == "campaign" and survey["details"]["campaign_id"] == made["id"]
    other = await (await api.client.get(f"/api/tickets/{silent}")).json()
    assert other["satisfaction"] is None
    assert [c["outcome"] for c in other["contacts"] if c["kind"] == "survey"] == ["no_key"]
    async with sessions() as session:
        items = (await session.scalars(select(LedgerItem))).all()
    assert [(i.ticket_id, i.source, i.score, i.department_id) for i in items] == [(unhappy, "campaign", 2, resp)]

    progress = await (await api.client.get(f"/api/campaigns/{made['id']}")).json()
    assert (progress["drawn"], progress["called"], progress["reached"], progress["scored"]) == (2, 2, 2, 1)
    assert progress["scores"]["2"] == 1
    assert {d["department"]: d["scored"] for d in progress["departments"]} == {"呼吸科": 1, "眼科": 0}
    listed = await (await api.client.get("/api/campaigns")).json()
    assert [c["id"] for c in listed["campaigns"]] == [made["id"]]


async def test_bad_campaign_requests_get_400_with_every_field_and_operators_403(api):
    await api.login("boss")
    now = dt.datetime.now(dt.UTC)
    status, body = await api.post("/api/campaigns", {"from": now.isoformat(), "to": (now - dt.timedelta(days=3)).isoformat()})
    assert (status, body["error"]) == (400, "campaign.invalid")
    assert [p["field"] for p in body["problems"]] == ["from"]
    status, body = await api.post("/api/campaigns", {"from": now.isoformat(), "to": now.isoformat(), "per_department": -1,
                                                     "windows": {"workday": ["25:00-26:00"]}})
    assert status == 400
    assert {p["field"] for p in body["problems"]} == {"per_department", "windows.workday.0"}
    status, body = await api.post("/api/campaigns", {"from": "yesterday", "to": now.isoformat()})
    assert status == 400 and [p["field"] for p in body["problems"]] == ["from"]
    assert (await api.client.get("/api/campaigns/999")).status == 404
    await api.login("op")
    status, body = await api.post("/api/campaigns", {"from": now.isoformat(), "to": now.isoformat()})
    assert status == 403
    assert (await api.client.get("/api/campaigns")).status == 403


# -- the runner asks the planner, with a fixed clock ---------------------------------------------------


async def test_the_runner_dials_a_campaign_only_in_the_windows_of_the_day(db_url: str, tmp_path: Path) -> None:
    """A holiday (National Day): 08:30 is a working-day window, not a holiday one; 09:30 is."""
    from test_outbound_runner import ScriptedAmi

    from callcenter.adapter import Adapter
    from callcenter.outbound.campaigns import CampaignStore
    from callcenter.outbound.lists import ListStore
    from callcenter.outbound.runner import ListRunner
    from callcenter.outbound.service import OutboundService
    from callcenter.settings import CalendarSettings, Settings
    from callcenter.store import open_database
    from callcenter.tickets import TicketService
    from callcenter.workorders.departments import DirectoryService
    from callcenter.workorders.service import WorkOrderService

    bj = dt.timezone(dt.timedelta(hours=8))
    base = Settings()
    settings = dataclasses.replace(base, node="pbx1", calendar=CalendarSettings(holidays=("2026-10-01", "2026-10-02")),
                                   lists=dataclasses.replace(base.lists, auto_callback=False))
    engine = await open_database(db_url)
    sessions = session_factory(engine)
    work = WorkOrderService(sessions, settings)
    tickets = TicketService(sessions, "pbx1", spill_dir=tmp_path / "spill")
    tickets.after_write.append(work.on_ticket_write)
    await tickets.start()
    ami = ScriptedAmi()
    clock = [dt.datetime(2026, 10, 1, 8, 30, tzinfo=bj)]
    outbound = OutboundService(settings, ami, work, DirectoryService(sessions))  # type: ignore[arg-type]
    campaigns = CampaignStore(sessions, settings)
    runner = ListRunner(settings, ListStore(sessions, settings), outbound, Adapter(settings, ami, tickets),  # type: ignore[arg-type]
                        tickets, clock=lambda: clock[0], campaigns=campaigns)
    try:
        tid = await tickets.open_for_arrival("c1", "13900000009", "家长", "PJSIP/trunk-1", clock[0] - dt.timedelta(days=2))
        assert await tickets.flush(5)
        async with sessions() as session, session.begin():
            await session.execute(update(WorkOrder).where(WorkOrder.ticket_id == tid).values(
                status="closed", closed_at=clock[0] - dt.timedelta(days=1)))
        made = await campaigns.create(clock[0] - dt.timedelta(days=3), clock[0], per_department=5, seed=1, now=clock[0])
        assert made["drawn"] == 1
        await runner.tick()  # 08:30 on a holiday: not a holiday window
        assert ami.sent("Originate") == []
        clock[0] = clock[0].replace(hour=9, minute=30)
        await runner.tick()  # 09:30: the holiday morning window
        for _ in range(50):
            if ami.sent("Originate"):
                break
            await asyncio.sleep(0.01)
        [originate] = ami.sent("Originate")
        assert "13900000009" in originate["Channel"] and originate["Exten"] == "message"
    finally:
        await runner.close()
        await outbound.close()
        await tickets.close()
        await engine.dispose()
