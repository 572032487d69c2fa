"""The desk helps the operator answer (issue 11, part 3): ring alerts and the missed-calls pause.

While the operator's phone rings the desk chimes, raises a browser notification naming the caller
and the menu choice (and the seasonal messages heard), and flashes the page title; all of it stops
when the ring stops or the core moves the operator on.  An operator the core paused for missed
calls sees why and resumes with one click; the wallboard shows that pause distinctly.

The browser tests run the real page in Debian's Chromium.  An init script wraps the browser's own
``Notification`` and ``OscillatorNode.start`` to record what the page did with them (the page's
code runs unchanged).  Rings are the hub's pushes of the core's commands, as in the other
component-tier desk tests; the ACD's state is changed through the adapter, as the web does.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from callcenter import keys
from callcenter.acd import AgentResumed, AgentState, CallArrived, CallEnded, CallWaiting, LinkUp, Offer, RingFailed, RingStarted, StopRinging
from callcenter.adapter import LiveCall
from callcenter.web import keys as web_keys
from webtools import PASSWORD, RECORDER, artifact, browser_login, login

MISSED = "missed_calls"

def wait_call(app, call_id: str, number: str, skill: str | None) -> None:
    """A caller in the queue, as the IVR leaves them (the core holds the call with the menu's skill)."""
    adapter = app[keys.ADAPTER]
    adapter.calls[call_id] = LiveCall(call_id, number, "")
    now = adapter.clock()
    adapter.apply(CallArrived(call_id, now))
    adapter.apply(CallWaiting(call_id, now, 0, skill))


async def titles_during(page, seconds: float) -> list[str]:
    """The page's title sampled every 100 ms."""
    seen = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        seen.append(await page.title())
        await asyncio.sleep(0.1)
    return seen


# -- web tier: the fields the desk and the wallboard read ------------------------------------------


async def test_the_pop_names_the_menu_skill_and_a_paused_operator_carries_the_resume_time(app_client):
    app = app_client.server.app
    adapter, hub, wallboard = app[keys.ADAPTER], app[web_keys.HUB], app[web_keys.WALLBOARD]
    await login(app_client, "op1")
    ws = await app_client.ws_connect("/ws")
    assert json.loads((await ws.receive(timeout=2)).data)["type"] == "hello"
    assert json.loads((await ws.receive(timeout=2)).data)["type"] == "agent"

    wait_call(app, "menu-1", "13800138000", "registration")  # nobody logged in: it waits
    hub.on_command(Offer("menu-1", "1001", 10.0))
    pop = json.loads((await ws.receive(timeout=2)).data)
    assert pop["type"] == "pop" and pop["skill"] == "registration" and pop["caller_number"] == "13800138000"
    hub.on_command(Offer("gone-1", "1001", 10.0))  # a call the core no longer holds: no skill, still a pop
    while (message := json.loads((await ws.receive(timeout=2)).data))["type"] != "pop":
        pass
    assert message["call_id"] == "gone-1" and message["skill"] is None
    await ws.close()

    # Paused by hand: no automatic resume.
    assert adapter.agent_op("1001", "login") and adapter.agent_op("1001", "pause", "meal")
    state = await (await app_client.get("/api/agent/state")).json()
    assert state["state"] == "paused" and state["reason"] == "meal" and state["resume_at"] is None
    # Paused for missed calls: the reason, and when the core rings the operator again ([acd] auto_resume_after).
    assert adapter.agent_op("1001", "resume")
    paused_at = adapter.clock()
    assert adapter.agent_op("1001", "pause", MISSED, by="core")
    state = await (await app_client.get("/api/agent/state")).json()
    assert state["state"] == "paused" and state["reason"] == MISSED
    after = app_client.server.app[keys.SETTINGS].acd.auto_resume_after
    assert after > 0  # the shipped default: the pause is undone by itself
    due = state["resume_at"]
    assert due is not None and paused_at + after - 1 <= due <= adapter.clock() + after
    board = wallboard.live_board()
    row = next(a for a in board["agents"] if a["agent_id"] == "1001")
    assert row["reason"] == MISSED and row["resume_at"] == due
    assert any(a["kind"] == "auto_paused" and a["agent_id"] == "1001" for a in wallboard.alerts(board, {}))
    assert adapter.agent_op("1001", "resume")
    assert adapter.acd.agents["1001"].state == AgentState.AVAILABLE and wallboard.agent_message("1001")["resume_at"] is None


async def test_supervisors_see_what_the_acd_remembers_of_each_operators_rings(app_client):
    """The wallboard row carries the core's answer memory: a miss lowers the chance shown."""
    app = app_client.server.app
    adapter, wallboard = app[keys.ADAPTER], app[web_keys.WALLBOARD]
    assert adapter.agent_op("1001", "login")
    fresh = wallboard.agent_message("1001")["answer"]
    assert fresh["answer_share"] is None and fresh["likely"]  # nothing remembered: the new-operator prior
    acd, now = adapter.acd, adapter.clock()
    acd.handle(LinkUp(now))  # the core itself (no Asterisk here): two calls ring 1001 and ring out
    for n in range(2):
        acd.handle(CallArrived(f"miss-{n}", now))
        offers = acd.handle(CallWaiting(f"miss-{n}", now))
        assert [o.agent_id for o in offers if isinstance(o, Offer)] == ["1001"]
        acd.handle(RingStarted(f"miss-{n}", "1001", now))
        acd.handle(RingFailed(f"miss-{n}", "1001", now + 10))
        acd.handle(CallEnded(f"miss-{n}", now + 10))
    assert acd.agents["1001"].pause_reason == MISSED
    acd.handle(AgentResumed("1001", now + 10))
    row = next(a for a in wallboard.live_board()["agents"] if a["agent_id"] == "1001")
    figures = acd.agent_figures(adapter.clock())["1001"]
    assert row["answer"]["answer_share"] == 0.0 and not row["answer"]["likely"]
    assert row["answer"]["p_within_window"] == round(figures.p_within_window, 3) < fresh["p_within_window"]


# -- the real browser ------------------------------------------------------------------------------


async def desk(browser, base: str):
    """op1's desk with notifications granted and the recorder in place, sound unlocked by a click."""
    page = await browser_login(browser, base, "op1", PASSWORD)
    await page.context.grant_permissions(["notifications"], origin=base)
    await page.context.add_init_script(RECORDER)
    await page.goto(f"{base}/agent")
    await page.wait_for_selector("#live-status[data-up='1']")
    assert await page.get_attribute("#notify-state", "data-permission") == "granted"
    await page.click("#btn-notify")  # the operator's gesture that lets the page make sound
    await page.wait_for_selector("#btn-notify", state="hidden")
    return page


async def test_a_ring_chimes_notifies_and_flashes_the_title_until_it_stops(app_client, browser):
    app = app_client.server.app
    adapter, hub, tickets = app[keys.ADAPTER], app[web_keys.HUB], app[keys.TICKETS]
    base = str(app_client.make_url("")).rstrip("/")
    page = await desk(browser, base)
    normal = await page.title()
    tones = await page.evaluate("window.__tones")
    assert tones >= 2  # the sample chime of the click

    # The IVR left its path on the ticket: menu choice and the seasonal message heard.
    at = adapter.clock()
    import datetime as dt

    await tickets.open_for_arrival("ring-1", "13800138000", "", "PJSIP/2001-1", dt.datetime.fromtimestamp(at, dt.UTC))
    await tickets.record_details("ring-1", "ivr", {"menu": {"choice": "registration"}, "keys": ["1"], "seasonal": ["手足口病高发季"]})
    wait_call(app, "ring-1", "13800138000", "registration")
    hub.on_command(Offer("ring-1", "1001", 10.0))

    await page.wait_for_selector("body[data-ringing='ring-1']", timeout=2000)
    notes = await page.evaluate("window.__notes")
    assert notes and "13800138000" in notes[0]["title"] and "挂号预约" in notes[0]["body"], notes
    await page.wait_for_function("window.__notes.some((n) => n.body.includes('手足口病高发季'))", timeout=3000)
    titles = await titles_during(page, 2.0)
    assert "📞 来电 13800138000" in titles and normal in titles, titles  # it alternates
    assert await page.evaluate("window.__tones") >= tones + 2  # the ring's chime
    await page.screenshot(path=artifact("desk-ring-alert.png"), full_page=True)

    hub.on_command(StopRinging("ring-1", "1001"))  # the ring ended (the caller left, another answered)
    await page.wait_for_selector("body:not([data-ringing])", timeout=2000)
    after_stop = await page.evaluate("window.__tones")
    assert set(await titles_during(page, 3.5)) == {normal}
    notes = await page.evaluate("window.__notes")
    assert all(n["closed"] for n in notes if n["tag"] == "hotline-ring"), notes
    assert await page.evaluate("window.__tones") == after_stop  # no chime after the stop

    # A second ring ends when the core moves the operator on (here: logged in, so "available").
    count = len(notes)
    hub.on_command(Offer("ring-1", "1001", 10.0))
    await page.wait_for_selector("#pop[data-kind='ringing']")
    hub.on_command(Offer("ring-2", "1001", 10.0))  # another call pops: the alert follows it
    await page.wait_for_selector("body[data-ringing='ring-2']", timeout=2000)
    assert adapter.agent_op("1001", "login")
    await page.wait_for_selector("#state[data-state='available']")
    await page.wait_for_selector("body:not([data-ringing])", timeout=2000)
    assert await page.title() == normal
    notes = await page.evaluate("window.__notes")
    assert len(notes) > count and all(n["closed"] for n in notes if n["tag"] == "hotline-ring"), notes
    await page.context.close()


async def test_a_missed_calls_pause_shows_why_and_one_click_resumes(app_client, browser):
    app = app_client.server.app
    adapter = app[keys.ADAPTER]
    base = str(app_client.make_url("")).rstrip("/")
    page = await desk(browser, base)
    supervisor = await browser_login(browser, base, "boss", PASSWORD)
    await supervisor.wait_for_selector("#agents tr[data-agent='1001']")

    assert adapter.agent_op("1001", "login")
    await page.wait_for_selector("#state[data-state='available']")
    assert not await page.is_visible("#auto-paused")
    # The core pauses the operator after missed rings (the adapter applies its command the same way).
    assert adapter.agent_op("1001", "pause", MISSED, by="core")
    await page.wait_for_selector("#auto-paused", state="visible", timeout=2000)
    assert await page.text_content("#auto-paused-title") == "您因连续未接来电已暂停接听"
    # The core rings the operator again by itself later ([acd] auto_resume_after): the countdown says when.
    assert adapter.acd.agents["1001"].resume_at is not None
    await page.wait_for_selector("#auto-resume", state="visible")
    left = await page.text_content("#auto-resume")
    assert "后将自动恢复接听" in left and left[:2] in ("01", "02"), left  # "02:00 后..." ticking down
    notes = await page.evaluate("window.__notes")
    assert any(n["title"] == "您因连续未接来电已暂停接听" for n in notes), notes  # asked even from another window
    row = "#agents tr[data-agent='1001'][data-state='paused'][data-reason='missed_calls']"
    await supervisor.wait_for_selector(row, timeout=3000)
    assert "连续未接" in await supervisor.text_content(f"{row} .badge")
    assert "后自动恢复" in await supervisor.text_content(f"{row} .resume-in")
    assert "两声内接听可能" in await supervisor.text_content(f"{row} .answer-memory")  # the ACD's memory of their rings
    await supervisor.wait_for_selector("#alerts li[data-kind='auto_paused']")
    await page.screenshot(path=artifact("desk-missed-calls-pause.png"), full_page=True)
    await supervisor.screenshot(path=artifact("wallboard-missed-calls-pause.png"), full_page=True)

    await page.click("#btn-resume")
    await page.wait_for_selector("#state[data-state='available']")
    assert adapter.acd.agents["1001"].state == AgentState.AVAILABLE
    assert adapter.acd.agents["1001"].pause_reason is None
    await page.wait_for_selector("#auto-paused", state="hidden")
    assert all(n["closed"] for n in await page.evaluate("window.__notes") if n["tag"] == "hotline-paused")
    await supervisor.wait_for_selector("#agents tr[data-agent='1001'][data-state='available']", timeout=3000)

    # English: the same banner, translated by the page's catalogue.
    assert adapter.agent_op("1001", "pause", MISSED, by="core")
    await page.wait_for_selector("#auto-paused", state="visible")
    await page.click("#lang-toggle")
    assert await page.text_content("#auto-paused-title") == "You were paused for missing calls in a row"
    assert await page.text_content("#btn-resume") == "Resume"
    await page.click("#lang-toggle")
    await page.context.close()
    await supervisor.context.close()
