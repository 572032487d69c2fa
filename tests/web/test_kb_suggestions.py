"""Suggestions before typing on the desk (issue 17, item 5): the API and the real page.

A call pops; the knowledge-base panel shows the entries for this caller (the hotline message they
heard, their menu choice, their last ticket's category) with the reason as a small label before the
operator types; typing replaces them with search results, clearing the box brings them back;
opening an entry from the panel counts one lookup for the ticket.  Rings are the hub's pushes of the
core's commands, as in the other component-tier desk tests.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import func, select
from webtools import PASSWORD, artifact, browser_login, login

from callcenter import keys
from callcenter.acd import CallArrived, CallWaiting, Offer
from callcenter.adapter import LiveCall
from callcenter.kb import keys as kb_keys
from callcenter.kb.models import KbView, PreventionMessage
from callcenter.store import session_factory
from callcenter.store.models import Ticket
from callcenter.web import keys as web_keys
from callcenter.workorders.models import WorkOrder

NUMBER = "13800138000"
FLU_WORDS = "流感高发季，发热患儿请直接到发热门诊就诊"


async def a_ticket(app, uniqueid: str, *, ivr: dict | None = None, minutes_ago: float = 0) -> int:
    """A hotline ticket of NUMBER with the IVR path the call left (its work order follows: the ticket hook)."""
    tickets = app[keys.TICKETS]
    at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes_ago)
    await tickets.open_for_arrival(uniqueid, NUMBER, "", "PJSIP/2001-1", at)
    if ivr is not None:
        await tickets.record_details(uniqueid, "ivr", ivr)
    for _ in range(100):
        ticket = await tickets.get(uniqueid)
        if ticket is not None:
            return ticket.id
        await asyncio.sleep(0.02)
    raise AssertionError(f"ticket {uniqueid} never landed")


async def flu_message(app) -> int:
    """A hotline message made from a new entry (as 未诉先办 records it); the entry's id."""
    entry = await app[kb_keys.KB].create({"question": "流感季节孩子发热去哪个门诊？", "answer": "请走发热门诊，24 小时开放。",
                                          "category": "medical"}, "boss")
    today = dt.date.today()
    async with session_factory(app[keys.ENGINE])() as session, session.begin():
        session.add(PreventionMessage(rule_name="kb_flu", entry_id=entry["id"], category="medical",
                                      texts={"zh": FLU_WORDS, "en": "Flu season"}, first_day=today, last_day=today,
                                      starts_at=dt.datetime.now(dt.UTC)))
    return entry["id"]


def ivr(choice: str, *seasonal: str) -> dict:
    return {"language": "zh", "menu": {"choice": choice}, "keys": ["1"], "seasonal": list(seasonal),
            "messages": [{"prompt": n, "language": "zh", "seasonal": True} for n in seasonal]}


async def views_of(app, entry_id: int, ticket_id: int) -> int:
    query = select(func.count()).select_from(KbView).where(KbView.entry_id == entry_id, KbView.ticket_id == ticket_id)
    async with session_factory(app[keys.ENGINE])() as session:
        return int(await session.scalar(query) or 0)


# -- the API ----------------------------------------------------------------------------------------


async def test_suggestions_for_a_ticket_with_reasons_and_popularity(app_client):
    app = app_client.server.app
    csrf = await login(app_client, "op1")
    h = {"X-CSRF-Token": csrf}
    flu = await flu_message(app)
    earlier = await a_ticket(app, "earlier-1", minutes_ago=60 * 24)
    async with session_factory(app[keys.ENGINE])() as session, session.begin():  # categorised by whoever took it
        (await session.get(WorkOrder, earlier)).category = "complaint"
    tid = await a_ticket(app, "now-1", ivr=ivr("registration", "kb_flu"))

    r = await app_client.get("/api/kb/suggestions", params={"ticket_id": str(tid), "limit": "50"})
    body = await r.json()
    assert r.status == 200, body
    assert body["signals"] == [{"kind": "message", "value": FLU_WORDS[:40]}, {"kind": "menu", "value": "registration"},
                               {"kind": "last_ticket", "value": "complaint"}]
    entries = body["entries"]
    assert entries[0]["id"] == flu and entries[0]["reasons"][0]["kind"] == "message"
    kinds = [e["reasons"][0]["kind"] for e in entries]
    assert kinds == sorted(kinds, key=["message", "menu", "last_ticket"].index)  # strongest signal first
    registration = [e for e in entries if e["category"] == "registration"]
    assert registration and all(e["reasons"][0] == {"kind": "menu", "value": "registration"} for e in registration)
    assert len({e["id"] for e in entries}) == len(entries)

    # Two lookups of the third registration entry from this ticket put it first among its equals.
    third = registration[2]["id"]
    for _ in range(2):
        r = await app_client.post(f"/api/kb/entries/{third}/views", json={"ticket_id": tid}, headers=h)
        assert r.status == 201
    again = (await (await app_client.get("/api/kb/suggestions", params={"ticket_id": str(tid)})).json())["entries"]
    assert [e["id"] for e in again[:2]] == [flu, third] and again[1]["views"] == 2
    assert len(again) == 8  # the default limit


@pytest.mark.parametrize("raw", ["", "abc", "0", "-1", "1.5", "²", "99999999999999", "1;2"])
async def test_garbage_ticket_ids_are_a_clear_400(app_client, raw):
    await login(app_client, "op1")
    r = await app_client.get("/api/kb/suggestions", params={"ticket_id": raw})
    body = await r.json()
    assert r.status == 400 and body["error"] and body["problems"][0]["field"] == "ticket_id", body


async def test_unknown_ticket_404_missing_id_400_and_login_needed(app_client):
    r = await app_client.get("/api/kb/suggestions", params={"ticket_id": "1"})
    assert r.status == 401
    await login(app_client, "op1")
    r = await app_client.get("/api/kb/suggestions", params={"ticket_id": "424242"})
    assert r.status == 404 and (await r.json())["error"] == "ticket.not_found"
    r = await app_client.get("/api/kb/suggestions")
    assert r.status == 400 and (await r.json())["problems"][0]["field"] == "ticket_id"
    r = await app_client.get("/api/kb/suggestions", params={"ticket_id": "1", "limit": "0"})
    assert r.status == 400


# -- the real browser ---------------------------------------------------------------------------------


async def test_the_pop_opens_the_panel_with_suggestions_typing_replaces_them_opening_counts(app_client, browser):
    app = app_client.server.app
    adapter, hub = app[keys.ADAPTER], app[web_keys.HUB]
    base = str(app_client.make_url("")).rstrip("/")
    flu = await flu_message(app)
    tid = await a_ticket(app, "pop-1", ivr=ivr("registration", "kb_flu"))

    page = await browser_login(browser, base, "op1", PASSWORD)
    await page.goto(f"{base}/agent")
    await page.wait_for_selector("#live-status[data-up='1']")
    assert await page.locator("#kb-results li").count() == 0

    adapter.calls["pop-1"] = LiveCall("pop-1", NUMBER, "")
    now = adapter.clock()
    adapter.apply(CallArrived("pop-1", now))
    adapter.apply(CallWaiting("pop-1", now, 0, "registration"))
    hub.on_command(Offer("pop-1", "1001", 10.0))

    first = f"#kb-results[data-mode='suggested'] li[data-id='{flu}']"
    await page.wait_for_selector(first, timeout=3000)
    assert await page.input_value("#kb-q") == ""  # nothing typed
    assert await page.text_content(f"{first} .kb-reason") == f"刚听到的提示: {FLU_WORDS[:16]}…"
    assert await page.get_attribute("#kb-results li:first-child", "data-id") == str(flu)
    reasons = await page.locator("#kb-results .kb-reason").all_text_contents()
    assert "菜单: 挂号预约" in reasons and len(reasons) == 8
    assert "8" in await page.text_content("#kb-status")
    await page.screenshot(path=artifact("desk-kb-suggestions.png"), full_page=True)

    # Typing replaces them with search results; clearing the box brings them back.
    await page.fill("#kb-q", "发烧")
    await page.wait_for_selector("#kb-results[data-mode='search']", timeout=3000)
    assert await page.locator("#kb-results .kb-reason").count() == 0
    assert await page.locator("#kb-results li").count() > 0
    await page.fill("#kb-q", "")
    await page.wait_for_selector(first, timeout=3000)

    # Opening the suggested entry (its whole answer) counts one lookup for the ticket; using it adds none.
    await page.click(f"{first} button.kb-q")
    for _ in range(100):
        if await views_of(app, flu, tid):
            break
        await asyncio.sleep(0.05)
    assert await views_of(app, flu, tid) == 1
    await page.click(f"{first} button.kb-use")
    assert "24 小时开放" in await page.input_value("#f-answer")
    await asyncio.sleep(0.5)
    assert await views_of(app, flu, tid) == 1

    # A search result opened counts too.
    await page.fill("#kb-q", "发烧")
    await page.wait_for_selector("#kb-results[data-mode='search'] li", timeout=3000)
    found = int(await page.get_attribute("#kb-results li:first-child", "data-id"))
    await page.click("#kb-results li:first-child button.kb-q")
    for _ in range(100):
        if await views_of(app, found, tid):
            break
        await asyncio.sleep(0.05)
    assert await views_of(app, found, tid) == 1
    async with session_factory(app[keys.ENGINE])() as session:
        assert (await session.get(Ticket, tid)).caller_number == NUMBER
    await page.context.close()
