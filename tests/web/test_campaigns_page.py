"""The /campaigns page in a real browser: bad input shown per field, a preview, a campaign created and its progress;
department names are text, never markup."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from webtools import PASSWORD, USERS, artifact, browser_login, component_settings, login

from callcenter import keys
from callcenter.app import create_app
from callcenter.outbound.models import Campaign
from callcenter.store import session_factory
from callcenter.store.models import Ticket
from callcenter.web import keys as web_keys
from callcenter.workorders.models import CallbackTask, Department, WorkOrder

EVIL = "<img src=x onerror=alert(1)>科"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient]:
    """The whole app; lists not dialled (no Asterisk here), so the campaign's tasks stay pending."""
    base = component_settings(tmp_path)
    app = create_app(dataclasses.replace(base, lists=dataclasses.replace(base.lists, enabled=False)))
    async with TestClient(TestServer(app)) as client:
        for name, (role, agent) in USERS.items():
            await app[web_keys.ACCOUNTS].create(name, PASSWORD, role, agent_id=agent, display_name=name.upper())
        yield client


async def seed(app) -> None:
    """Yesterday: 3 tickets closed in one department, 2 in another, all different patients."""
    closed = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    async with session_factory(app[keys.ENGINE])() as session, session.begin():
        first, second = Department(name=EVIL), Department(name="眼科")
        session.add_all([first, second])
        await session.flush()
        for n, department in enumerate([first, first, first, second, second]):
            ticket = Ticket(node="t", uniqueid=f"c-{n}", source="controller", caller_number=f"1390000000{n}",
                            arrived_at=closed - dt.timedelta(hours=1))
            session.add(ticket)
            await session.flush()
            session.add(WorkOrder(ticket_id=ticket.id, status="closed", closed_at=closed, department_id=department.id))


async def test_an_operator_cannot_open_the_page(client):
    await login(client, "op1")
    assert (await client.get("/campaigns", allow_redirects=False)).status in (302, 403)


async def test_browser_preview_then_create_a_campaign(client, browser):
    app = client.server.app
    await seed(app)
    base = str(client.make_url("")).rstrip("/")
    page = await browser_login(browser, base, "boss", PASSWORD)
    await page.click("header a[href='/campaigns']")
    await page.wait_for_selector("#campaigns tbody tr")
    today = dt.date.today()
    await page.fill("#campaign-form input[name='from']", (today - dt.timedelta(days=3)).isoformat())
    await page.fill("#campaign-form input[name='to']", today.isoformat())
    await page.fill("#campaign-form input[name='per_department']", "2")
    await page.fill("#campaign-form input[name='workday']", "25:00-26:00")
    await page.click("#preview")
    await page.wait_for_selector("#campaign-problems li")
    assert "windows.workday.0" in await page.text_content("#campaign-problems")

    await page.fill("#campaign-form input[name='workday']", "08:00-09:00, 18:30-20:30")
    await page.fill("#campaign-form input[name='seed']", "77")
    await page.click("#preview")
    await page.wait_for_selector("#sample:not([hidden]) #sample-departments tbody tr")
    assert await page.text_content("#sample-drawn") == "4" and await page.text_content("#sample-closed") == "5"
    first = page.locator("#sample-departments tbody tr").first
    assert await first.locator("td").first.text_content() == EVIL  # text, not markup
    assert await page.locator("#sample-departments img").count() == 0
    async with session_factory(app[keys.ENGINE])() as session:
        assert (await session.scalar(select(Campaign.id))) is None  # a preview writes nothing

    await page.click("#campaign-form button[type='submit']")
    await page.wait_for_selector("#campaigns tbody tr[data-campaign]")
    async with session_factory(app[keys.ENGINE])() as session:
        campaign = await session.scalar(select(Campaign))
        tasks = (await session.scalars(select(CallbackTask).where(CallbackTask.list_id == campaign.list_id))).all()
    assert campaign.seed == 77 and campaign.windows["workday"] == ["08:00-09:00", "18:30-20:30"]
    assert campaign.created_by == "boss" and len(tasks) == 4
    await page.click("#campaigns tbody tr[data-campaign] button")
    await page.wait_for_selector("#detail:not([hidden]) #detail-departments tbody tr")
    assert await page.locator("#detail-departments tbody tr").count() == 2
    await page.screenshot(path=artifact("campaigns.png"), full_page=True)
    await page.context.close()
