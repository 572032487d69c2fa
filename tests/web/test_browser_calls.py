"""The operator's desktop and the supervisor's wallboard in a real headless Chromium, with real calls.

An operator and a supervisor log in through the login form.  The operator pauses (from the page)
and a baresip caller dials the hotline: the wallboard shows the call waiting, its wait rising.
The operator clicks "ready": the operator's baresip phone rings and the page pops the caller's
number and earlier ticket (whose HTML-looking note must show as text).  The operator answers on
the phone, searches the knowledge base, fills the ticket form; the caller hangs up; the operator
saves the ticket (through the work-order API) during wrap-up, which ends it.  The wallboard's figures for the day change.
Test cadence: 0.2 s on, 0.8 s off, so two rings = 2 s.  Screenshots go to var/test-artifacts/web/.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import pytest

from callcenter import keys
from callcenter.web import keys as web_keys
from callcenter.workorders import keys as wo_keys
from harness import eventually
from webtools import PASSWORD, RECORDER, artifact, browser_login

pytestmark = pytest.mark.e2e

EVIL_NOTE = '<img src=x onerror="window.__xss=1">孩子发烧38度<script>window.__xss=2</script>'


async def seed(controller) -> None:
    """Accounts, an earlier ticket of caller 2001 (yesterday), a knowledge-base entry when there is a KB."""
    accounts = controller[web_keys.ACCOUNTS]
    await accounts.create("op1", PASSWORD, "operator", agent_id="1001", display_name="张护士")
    await accounts.create("boss", PASSWORD, "supervisor", display_name="王班长")
    tickets = controller[keys.TICKETS]
    yesterday = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    await tickets.open_for_arrival("earlier-2001", "2001", "2001", "PJSIP/2001-0", yesterday)
    await tickets.mark_answered("earlier-2001", "1002", yesterday + dt.timedelta(seconds=3))
    await tickets.mark_ended("earlier-2001", yesterday + dt.timedelta(seconds=90), "caller")
    await tickets.record_details("earlier-2001", "notes", {"category": "medical", "notes": EVIL_NOTE, "answer": "建议就诊"})


def has_route(controller, path: str) -> bool:
    return any(r.resource is not None and r.resource.canonical == path for r in controller.app.router.routes())


async def seed_kb(controller) -> bool:
    """One entry in the knowledge base, if this build has one; True when search should find it."""
    if not has_route(controller, "/api/kb/search"):
        return False
    from callcenter.kb.service import KbService
    from callcenter.store.db import session_factory

    kb = KbService(session_factory(controller[keys.ENGINE]), "sqlite")
    await kb.create(
        {"question": "孩子发烧39度需要挂急诊吗", "answer": "体温超过39度或精神差，请到急诊就诊；否则可挂发热门诊。",
         "keywords": "发烧 发热 急诊", "category": "medical"},
        by="test",
    )
    return True


async def test_operator_pop_kb_ticket_and_live_wallboard_with_real_calls(
    controller_factory, phone_factory, asterisk, browser
):
    controller = await controller_factory(wrap_up=30.0)  # wrap-up ends when the ticket is saved
    await seed(controller)
    kb_ready = await seed_kb(controller)
    agent_phone = await phone_factory("1001", answer="manual")
    await eventually(lambda: controller[keys.ADAPTER].acd.agents.get("1001") is not None, timeout=5, message="1001 logged in")

    operator = await browser_login(browser, controller.url, "op1")
    assert operator.url.endswith("/agent")
    # The desk alerts the operator when the phone rings: notifications allowed, what it does recorded.
    await operator.context.grant_permissions(["notifications"], origin=controller.url)
    await operator.context.add_init_script(RECORDER)
    await operator.reload()
    supervisor = await browser_login(browser, controller.url, "boss")
    assert supervisor.url.endswith("/wallboard")
    await operator.wait_for_selector("#live-status[data-up='1']")
    await supervisor.wait_for_selector("#live-status[data-up='1']")
    await operator.wait_for_selector("#state[data-state='available']")
    await supervisor.wait_for_selector("#agents tr[data-agent='1001']")
    # Today's figures so far.
    before = await day_figures(supervisor)

    # The operator pauses from the page: the ACD sees it, the wallboard shows it.
    await operator.select_option("#pause-reason", "meal")
    await operator.click("#btn-pause")
    await operator.wait_for_selector("#state[data-state='paused']")
    assert controller[keys.ADAPTER].acd.agents["1001"].pause_reason == "meal"
    await supervisor.wait_for_selector("#agents tr[data-agent='1001'][data-state='paused']")

    # A caller dials: nobody is ready, the wallboard shows the call waiting with a rising wait.
    caller = await phone_factory("2001", answer="manual")
    await caller.dial(asterisk.asterisk.hotline_number)
    row = "#queue tr[data-state='waiting']"
    await supervisor.wait_for_selector(row, timeout=5000)
    assert await supervisor.text_content(f"{row} td:first-child") == "2001"
    first = await supervisor.text_content(f"{row} td.wait")
    await asyncio.sleep(1.3)
    second = await supervisor.text_content(f"{row} td.wait")
    assert second > first, (first, second)  # "00:00" < "00:01": the wait ticks
    assert await supervisor.text_content("#t-waiting") == "1"
    await supervisor.screenshot(path=artifact("wallboard-waiting.png"), full_page=True)

    # Ready: the phone rings and the page pops the caller with the earlier ticket.
    await operator.click("#btn-ready")
    incoming = await agent_phone.wait_event("CALL_INCOMING", timeout=5)
    ring_wall = time.time() - (time.monotonic() - incoming["at"])
    await operator.wait_for_selector("#pop[data-shown='1']", timeout=2000)
    pops = await operator.evaluate("window.hotlinePops")
    assert pops and pops[-1]["shown"] - ring_wall * 1000 < 200, (pops, ring_wall)  # the 200 ms promise
    assert await operator.text_content("#pop-number") == "2001"
    await operator.wait_for_selector("#pop-history tbody tr[data-uniqueid='earlier-2001']")
    history_text = await operator.text_content("#pop-history tbody tr[data-uniqueid='earlier-2001'] td.notes")
    assert EVIL_NOTE in history_text  # shown as text...
    assert await operator.evaluate("window.__xss") is None  # ...never run as markup
    assert await operator.locator("#pop-history img").count() == 0
    await supervisor.wait_for_selector("#queue tr[data-state='offered']")
    await operator.screenshot(path=artifact("operator-pop.png"), full_page=True)

    notes = await operator.evaluate("window.__notes")
    assert [n for n in notes if "2001" in n["body"] + n["title"] and not n["closed"]], notes  # while it rings

    await agent_phone.accept()
    await caller.wait_event("CALL_ESTABLISHED", timeout=5)
    await operator.wait_for_selector("#state[data-state='on_call']")
    await eventually(
        lambda: operator.evaluate("window.__notes.every(n => n.closed)"), timeout=5, message="ring notification closed"
    )
    await operator.wait_for_selector("#pop[data-kind='on_call']")
    await supervisor.wait_for_selector("#queue tr[data-state='connected']")

    # While talking: knowledge-base search (keyboard: "/" focuses it) and the ticket form.
    await operator.click("body")
    await operator.keyboard.press("/")
    assert await operator.evaluate("document.activeElement.id") == "kb-q"
    await operator.keyboard.type("发烧39度")
    if kb_ready:
        await operator.wait_for_selector("#kb-results li mark")
        assert await operator.text_content("#kb-results li mark") == "发烧39度"  # the term is highlighted
        assert "孩子发烧39度需要挂急诊吗" in await operator.text_content("#kb-results")  # our entry is found
        first_answer = (await operator.text_content("#kb-results li .kb-a")).rstrip("…")
        await operator.click("#kb-results li button.kb-use")  # "use answer" copies it into the form
        assert (await operator.input_value("#f-answer")).startswith(first_answer[:30])
    else:
        await operator.wait_for_selector("#kb-status:has-text('知识库暂不可用')")
    await operator.select_option("#f-category", "medical")
    await operator.fill("#f-notes", "家长询问孩子发烧是否需要急诊 <b>not bold</b>")
    await operator.check("#f-solved")
    await operator.screenshot(path=artifact("operator-on-call.png"), full_page=True)

    # The caller hangs up: wrap-up, then saving the ticket (Ctrl+Enter) ends it.
    call_id = controller[keys.ADAPTER].acd.agents["1001"].call_id
    await caller.hangup()
    await operator.wait_for_selector("#state[data-state='wrap_up']")
    await operator.wait_for_selector("#wrap-up:not([hidden])")
    await operator.focus("#f-notes")
    await operator.keyboard.press("Control+Enter")
    await operator.wait_for_selector(f"#f-status[data-saved='{call_id}']")
    await operator.wait_for_selector("#state[data-state='available']")

    ticket = await eventually(lambda: _ended_ticket(controller, call_id), timeout=5, message="the call's ticket ended")
    # The form saved through the work-order API, on the caller's open ticket (yesterday's: this
    # repeat call was merged into it).
    call_ticket = await controller[wo_keys.WORKORDERS].get(ticket.id)
    assert call_ticket["status"] == "merged" and call_ticket["work_ticket_id"] != ticket.id
    work = await controller[wo_keys.WORKORDERS].get(call_ticket["work_ticket_id"])
    assert work["category"] == "medical" and work["status"] == "solved" and work["updated_by"] == "op1"
    assert work["notes"].endswith("<b>not bold</b>")
    if kb_ready:  # the answer given is a note in the ticket's contact history
        assert any(c["kind"] == "note" and c["agent_id"] == "op1" for c in work["contacts"])
    assert ticket.details["acd"]["within_two_rings"] is True

    # The day's figures on the wallboard: one call offered, answered within two rings.
    await supervisor.wait_for_selector(f"#t-answered:text-is('{before['answered'] + 1}')", timeout=5000)
    after = await day_figures(supervisor)
    assert after["offered"] == before["offered"] + 1
    assert after["within"] == before["within"] + 1 and after["rang"] == before["rang"] + 1
    assert after["abandoned"] == before["abandoned"]
    await supervisor.wait_for_selector("#queue-empty:not([hidden])")
    # the saved note is listed as text on the operator's recent tickets
    await operator.wait_for_selector("#recent tbody tr td.notes:has-text('not bold')")
    assert await operator.locator("#recent b").count() == 0
    await supervisor.screenshot(path=artifact("wallboard-after.png"), full_page=True)
    await operator.screenshot(path=artifact("operator-saved.png"), full_page=True)


async def day_figures(page) -> dict[str, int]:
    """The wallboard's counters for today, as shown."""
    detail = await page.text_content("#t-sl-detail") or "0/0"
    within, rang = (int(x) for x in detail.split("/"))
    return {
        "offered": int(await page.text_content("#t-offered")),
        "answered": int(await page.text_content("#t-answered")),
        "abandoned": int(await page.text_content("#t-abandoned")),
        "within": within,
        "rang": rang,
    }


async def _ended_ticket(controller, call_id: str):
    ticket = await controller[keys.TICKETS].get(call_id)
    return ticket if ticket is not None and ticket.ended_at is not None else None


async def test_supervisor_pauses_an_operator_from_the_wallboard_and_english_switch(
    controller_factory, phone_factory, browser
):
    controller = await controller_factory()
    await seed(controller)
    await phone_factory("1002", answer="manual")
    await eventually(lambda: controller[keys.ADAPTER].acd.agents.get("1002") is not None, timeout=5, message="1002 logged in")
    supervisor = await browser_login(browser, controller.url, "boss")
    await supervisor.wait_for_selector("#agents tr[data-agent='1002'][data-state='available']")
    await supervisor.click("#agents tr[data-agent='1002'] button[data-op='pause']")
    await supervisor.wait_for_selector("#agents tr[data-agent='1002'][data-state='paused']")
    assert controller[keys.ADAPTER].acd.agents["1002"].state.value == "paused"
    await supervisor.click("#lang-toggle")
    assert await supervisor.text_content("[data-i18n='wb.sl']") == "Within two rings"
    assert await supervisor.evaluate("document.documentElement.lang") == "en"
    await supervisor.screenshot(path=artifact("wallboard-english.png"), full_page=True)
    await supervisor.click("#agents tr[data-agent='1002'] button[data-op='ready']")
    await supervisor.wait_for_selector("#agents tr[data-agent='1002'][data-state='available']")
