"""未诉先办 through the web: lookups counted, what rose, an entry made into a hotline message in two steps.

The message's prompt audio is really built (espeak-ng and sox) into a temporary sounds folder and
its rule is read back by the IVR's own rule evaluation (``callcenter.ivr.schedule.select``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from callcenter import keys
from callcenter.app import create_app
from callcenter.ivr.prompts import sound_path
from callcenter.ivr.schedule import select
from callcenter.kb import keys as kb_keys
from callcenter.kb.prevention import Period
from callcenter.store import session_factory
from callcenter.store.models import Ticket
from callcenter.web import keys as web_keys
from callcenter.workorders.models import WorkOrder
from webtools import PASSWORD, USERS, artifact, browser_login, component_settings, login

EVIL = "<script>alert('kb')</script>"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient]:
    """The whole app with the IVR on (no Asterisk needed) and prompts built into ``tmp_path/sounds``."""
    base = component_settings(tmp_path)
    settings = dataclasses.replace(base, ivr=dataclasses.replace(base.ivr, enabled=True,
                                                                 sounds_dir=str(tmp_path / "sounds")))
    app = create_app(settings)
    async with TestClient(TestServer(app)) as client:
        for name, (role, agent) in USERS.items():
            await app[web_keys.ACCOUNTS].create(name, PASSWORD, role, agent_id=agent, display_name=name.upper())
        yield client


def zone(app) -> dt.tzinfo:
    return app[keys.SETTINGS].hospital.zone


async def entry(app, question: str, answer: str, category: str = "reports") -> int:
    created = await app[kb_keys.KB].create({"question": question, "answer": answer, "category": category}, "boss")
    return created["id"]


async def seed(app, rows: list[tuple[str, dt.datetime]]) -> list[int]:
    """A ticket and its work order per (category, created_at); their ids."""
    ids = []
    async with session_factory(app[keys.ENGINE])() as session, session.begin():
        for n, (category, when) in enumerate(rows):
            ticket = Ticket(node="t", uniqueid=f"seed-{n}-{when.timestamp()}", source="controller", arrived_at=when,
                            created_at=when)
            session.add(ticket)
            await session.flush()
            session.add(WorkOrder(ticket_id=ticket.id, category=category, created_at=when))
            ids.append(ticket.id)
    return ids


async def test_an_operator_counts_a_lookup_and_bad_ones_are_refused(client):
    app = client.server.app
    a = await entry(app, "报告在哪里取？", "门诊一楼自助机。")
    [ticket] = await seed(app, [("reports", dt.datetime.now(dt.UTC))])
    headers = {"X-CSRF-Token": await login(client, "op1")}
    made = await client.post(f"/api/kb/entries/{a}/views", json={"ticket_id": ticket}, headers=headers)
    assert made.status == 201, await made.text()
    assert (await made.json())["by"] == "op1"
    assert (await client.post(f"/api/kb/entries/{a}/views", json={}, headers=headers)).status == 201
    unknown = await client.post("/api/kb/entries/9999/views", json={}, headers=headers)
    assert unknown.status == 404 and (await unknown.json())["error"] == "kb_entry.not_found"
    no_ticket = await client.post(f"/api/kb/entries/{a}/views", json={"ticket_id": 9999}, headers=headers)
    assert no_ticket.status == 404 and (await no_ticket.json())["error"] == "ticket.not_found"
    bad = await client.post(f"/api/kb/entries/{a}/views", json={"ticket_id": "x"}, headers=headers)
    assert bad.status == 400 and (await bad.json())["problems"][0]["field"] == "ticket_id"
    # Operators count lookups; what rose is for supervisors.
    assert (await client.get("/api/prevention")).status == 403
    headers = {"X-CSRF-Token": await login(client, "boss")}
    report = await (await client.get("/api/prevention", headers=headers)).json()
    assert report["entries"] == [{"entry_id": a, "question": "报告在哪里取？", "category": "reports",
                                  "now": 2, "before": 0, "change": 2}]
    assert report["categories"][0] == {"category": "reports", "now": 1, "before": 0, "change": 1}


async def test_two_steps_build_the_prompt_and_a_rule_the_ivr_plays_in_its_window_only(client):
    app = client.server.app
    service = app[kb_keys.PREVENTION]
    tz = zone(app)
    now = dt.datetime(2026, 12, 7, 10, 0, tzinfo=tz)  # a Monday
    service.clock = lambda: now
    a = await entry(app, "流感疫苗在哪里打？", "社区卫生服务中心接种，请先预约。")
    headers = {"X-CSRF-Token": await login(client, "boss")}
    body = {"entry_id": a, "texts": {"zh": "流感季节，疫苗请到社区卫生服务中心预约接种。", "en": "Flu vaccines: book at your community health centre."},
            "first_day": "2026-12-07", "last_day": "2026-12-20", "weekdays": ["mon", "tue", "wed", "thu", "fri"],
            "times": "08:00-12:00"}
    made = await client.post("/api/prevention/messages", json=body, headers=headers)
    assert made.status == 201, await made.text()
    message = await made.json()
    assert message["entry_id"] == a and message["category"] == "reports"  # from the entry's category
    name = message["rule"]
    assert message["rule_spec"] == {"name": name, "message": name, "priority": 40, "dates": ["2026-12-07..2026-12-20"],
                                    "weekdays": ["mon", "tue", "wed", "thu", "fri"], "times": "08:00-12:00"}
    sounds = app[keys.SETTINGS].sounds_path
    for language in ("zh", "en"):
        with wave.open(str(sound_path(sounds, language, name)), "rb") as audio:  # 8 kHz mono, a few seconds
            assert audio.getframerate() == 8000 and audio.getnchannels() == 1
            assert audio.getnframes() / 8000 > 1.0

    # The IVR's own rule evaluation: inside the window it plays; outside any of its conditions not.
    rules = await app[keys.IVR].rules.reload()
    def plays(moment: dt.datetime) -> bool:
        return name in [r.name for r in select(rules, moment)]
    assert plays(dt.datetime(2026, 12, 7, 8, 0, tzinfo=tz))
    assert plays(dt.datetime(2026, 12, 18, 11, 59, tzinfo=tz))  # last Friday of the range
    assert not plays(dt.datetime(2026, 12, 7, 12, 30, tzinfo=tz))  # after 12:00
    assert not plays(dt.datetime(2026, 12, 12, 9, 0, tzinfo=tz))  # a Saturday
    assert not plays(dt.datetime(2026, 12, 21, 9, 0, tzinfo=tz))  # after the last day
    assert not plays(dt.datetime(2026, 12, 4, 9, 0, tzinfo=tz))  # before the first
    # The schedule page lists it like any rule set on the web.
    listed = await (await client.get("/api/ivr/rules", headers=headers)).json()
    assert {"name": name, "origin": "web"}.items() <= next(r for r in listed["rules"] if r["name"] == name).items()

    # Its effect: tickets of its category from its start (now, 10:00 Monday) to "now", and as long before.
    start = now
    await seed(app, [
        ("reports", start - dt.timedelta(days=3, minutes=1)),  # before the "before" window
        ("reports", start - dt.timedelta(days=3)),
        ("reports", start - dt.timedelta(days=1)),
        ("reports", start - dt.timedelta(hours=1)),
        ("reports", start + dt.timedelta(days=1)),
        ("medical", start + dt.timedelta(days=1)),  # another category
        ("reports", start + dt.timedelta(days=3, minutes=1)),  # after "now"
    ])
    later = start + dt.timedelta(days=3)
    service.clock = lambda: later
    report = await (await client.get("/api/prevention", headers=headers)).json()
    [shown] = report["messages"]
    assert shown["rule"] == name
    assert shown["effect"] == {"before_from": (start - dt.timedelta(days=3)).astimezone(dt.UTC).isoformat(),
                               "after_to": later.astimezone(dt.UTC).isoformat(), "before": 3, "after": 1, "change": -2}


async def test_bad_messages_are_refused_with_the_field_and_never_500(client):
    app = client.server.app
    a = await entry(app, "报告在哪里取？", "门诊一楼自助机。")
    headers = {"X-CSRF-Token": await login(client, "boss")}
    good = {"entry_id": a, "texts": {"zh": "报告请到一楼自助机打印。", "en": "Print reports on the ground floor."},
            "first_day": "2026-12-07", "last_day": "2026-12-20"}

    async def refused(change: dict, status: int = 400) -> dict:
        response = await client.post("/api/prevention/messages", json={**good, **change}, headers=headers)
        assert response.status == status, await response.text()
        return await response.json()

    assert (await refused({"texts": {"zh": "", "en": "x"}}))["problems"][0]["field"] == "texts.zh"
    assert (await refused({"texts": {"zh": "   ", "en": "x"}}))["problems"][0]["field"] == "texts"
    assert (await refused({"texts": {"zh": "长" * 241, "en": "x"}}))["problems"][0]["field"] == "texts.zh"
    assert (await refused({"last_day": "2026-12-01"}))["problems"][0]["field"] == "last_day"
    assert (await refused({"times": "25:00-26:00"}))["problems"][0]["field"] == "times"
    assert (await refused({"weekdays": ["someday"]}))["problems"][0]["field"].startswith("weekdays")
    assert (await refused({"category": "nonsense"}))["problems"][0]["field"] == "category"
    assert (await refused({"entry_id": 9999}, 404))["error"] == "kb_entry.not_found"
    range_ = await client.get("/api/prevention?from=2026-12-10&to=2026-12-01", headers=headers)
    assert range_.status == 400 and (await range_.json())["problems"][0]["field"] == "to"
    assert (await app[keys.IVR].rules.reload()) and not any(r.name.startswith("kb") for r in await app[keys.IVR].rules.reload())
    op = {"X-CSRF-Token": await login(client, "op1")}
    assert (await client.post("/api/prevention/messages", json=good, headers=op)).status == 403


async def test_browser_two_steps_on_the_prevention_page(client, browser):
    app = client.server.app
    base = str(client.make_url("")).rstrip("/")
    a = await entry(app, f"{EVIL}报告在哪里取？", f"{EVIL}门诊一楼自助机打印。")
    # An operator opens the entry from the desk's knowledge-base panel: one lookup counted.
    desk = await browser_login(browser, base, "op1", PASSWORD)
    await desk.fill("#kb-q", "门诊一楼自助机打印")
    await desk.click(f"#kb-results li[data-id='{a}'] button")
    day = Period(dt.date.today() - dt.timedelta(days=1), dt.date.today() + dt.timedelta(days=1)).bounds(dt.UTC)
    for _ in range(50):
        if await app[kb_keys.PREVENTION].view_counts(*day) == {a: 1}:
            break
        await asyncio.sleep(0.1)
    assert await app[kb_keys.PREVENTION].view_counts(*day) == {a: 1}
    await desk.context.close()

    page = await browser_login(browser, base, "boss", PASSWORD)
    await page.click("header a[href='/prevention']")
    row = f"#entries tr[data-entry='{a}']"
    await page.wait_for_selector(row)
    assert await page.text_content(f"{row} td:first-child") == f"{EVIL}报告在哪里取？"  # text, not markup
    assert await page.locator("#entries script").count() == 0

    await page.click(f"{row} button.make")  # step 1: the texts, prefilled from the answer
    await page.wait_for_selector("#step-text:not([hidden])")
    assert await page.input_value("#step-text textarea[name='zh']") == f"{EVIL}门诊一楼自助机打印。"
    await page.fill("#step-text textarea[name='zh']", "检查报告请到门诊一楼自助机打印。")
    await page.click("#step-text button[type='submit']")  # English missing: stays on step 1
    assert await page.is_visible("#step-text") and not await page.is_visible("#step-when")
    await page.fill("#step-text textarea[name='en']", "Print your test reports at the kiosks on the ground floor.")
    await page.click("#step-text button[type='submit']")
    await page.wait_for_selector("#step-when:not([hidden])")  # step 2: when it plays
    await page.fill("#step-when input[name='last_day']", "2000-01-01")  # ends before it starts: refused, shown
    await page.click("#step-when button[type='submit']")
    await page.wait_for_selector("#maker-status:has-text('last_day')")
    today = dt.datetime.now(zone(app)).date()
    await page.fill("#step-when input[name='first_day']", today.isoformat())
    await page.fill("#step-when input[name='last_day']", (today + dt.timedelta(days=14)).isoformat())
    await page.check("#weekdays input[value='sat']")
    await page.check("#weekdays input[value='sun']")
    await page.fill("#step-when input[name='time_from']", "07:00")
    await page.fill("#step-when input[name='time_to']", "22:00")
    await page.click("#step-when button[type='submit']")
    await page.wait_for_selector("#messages tbody tr[data-rule]")
    name = await page.get_attribute("#messages tbody tr[data-rule]", "data-rule")
    assert name.startswith(f"kb{a}_")
    [rule] = [r for r in await app[keys.IVR].rules.reload() if r.name == name]
    assert rule.weekdays == frozenset({5, 6}) and str(rule.times) == "07:00-22:00"
    assert sound_path(app[keys.SETTINGS].sounds_path, "en", name).exists()
    await page.screenshot(path=artifact("prevention.png"), full_page=True)
    await page.context.close()
