"""The day at a glance: the wallboard's chart figures match the report's, the wall screen's login sees
only the wall screen, and in a real browser the charts carry the day's figures and the wall screen
refreshes live with nothing to press."""

from __future__ import annotations

import datetime as dt

from callcenter import keys
from callcenter.web import keys as web_keys
from webtools import PASSWORD, artifact, browser_login, login

SCREEN = "tv"


async def rung_call(app, uniqueid: str, t0: dt.datetime, agent: str | None, within: bool | None = None) -> None:
    """A call as the adapter writes it: rang ``agent`` 1 s after arrival; answered (within two rings or
    not) when ``within`` is given, else the caller hung up while it rang; no agent: hung up before any ring."""
    tickets = app[keys.TICKETS]
    at = lambda s: t0 + dt.timedelta(seconds=s)  # noqa: E731
    await tickets.open_for_arrival(uniqueid, "13800138000", "", "PJSIP/trunk-1", t0)
    if agent is not None:
        outcome = "caller_left" if within is None else "answered"
        await tickets.record_ring(uniqueid, agent, at(1))
        await tickets.record_ring(uniqueid, agent, at(1), at(4), outcome)
        if within is not None:
            await tickets.mark_answered(uniqueid, agent, at(4))
            await tickets.record_details(uniqueid, "acd", {"within_two_rings": within})
    await tickets.mark_ended(uniqueid, at(40), "caller" if within is None else "agent")


async def seed(app) -> dt.datetime:
    """Today: five calls (two agents); the same weekday last week: three. Returns now."""
    now = dt.datetime.now(dt.UTC)
    ago = lambda m: now - dt.timedelta(minutes=m)  # noqa: E731
    await rung_call(app, "c-1", ago(5), "1001", within=True)
    await rung_call(app, "c-2", ago(4), "1001", within=False)
    await rung_call(app, "c-3", ago(3), "1002", within=True)
    await rung_call(app, "c-4", ago(2), "1002")  # the caller left while it rang
    await rung_call(app, "c-5", ago(1), None)  # hung up before any ring: not offered to an operator
    week = now - dt.timedelta(days=7)
    for i, within in enumerate((True, True, False)):
        await rung_call(app, f"w-{i}", week - dt.timedelta(minutes=3 + i), "1001", within=within)
    return now


async def test_the_charts_figures_for_today_are_the_reports(app_client):
    app = app_client.server.app
    now = await seed(app)
    await login(app_client, "boss")
    board = await (await app_client.get("/api/supervisor/wallboard")).json()
    report = await (await app_client.get("/api/reports", params={"period": "day"})).json()
    trend = board["trend"]
    zone = app[keys.SETTINGS].hospital.zone
    assert trend["day"] == report["from"] == now.astimezone(zone).date().isoformat()

    # The quarters add up to the report's hours and day, under the one definition of service level.
    quarters = trend["today"]
    assert len(quarters) == 96
    for hour in report["by_hour"]:
        mine = quarters[hour["hour"] * 4:hour["hour"] * 4 + 4]
        for key in ("offered", "offered_to_agent", "within_two_rings"):
            assert sum(b[key] for b in mine) == hour[key], (hour["hour"], key)
    summary = report["summary"]
    assert (summary["offered"], summary["offered_to_agent"], summary["within_two_rings"]) == (5, 4, 2)
    assert summary["service_level"] == 0.5
    assert {k: board["today"][k] for k in summary} == summary
    assert board["today"]["agents"] == report["by_agent"]  # the operators' chart
    nonempty = [b for b in quarters if b["offered"]]
    assert sum(b["offered"] for b in nonempty) == 5
    if len(nonempty) == 1:  # all five in one quarter hour (unless the test ran across one)
        assert nonempty[0]["service_level"] == 0.5

    # Last week's same weekday, from its own tickets.
    last = trend["last_week"]
    assert trend["last_week_day"] == (now.astimezone(zone).date() - dt.timedelta(days=7)).isoformat()
    assert sum(b["offered"] for b in last) == 3 and sum(b["within_two_rings"] for b in last) == 2
    assert trend["now_bin"] == now.astimezone(zone).hour * 4 + now.astimezone(zone).minute // 15
    # The waiting samples (the hub samples every loop; nobody waits here).
    assert all(sample[1] == 0 for sample in trend["waiting"])


async def test_the_screen_login_sees_the_wall_screen_and_nothing_else(app_client):
    app = app_client.server.app
    await app[web_keys.ACCOUNTS].create(SCREEN, PASSWORD, "screen", display_name="TV")
    await seed(app)
    form = await (await app_client.get("/login")).text()
    from webtools import csrf_of
    landed = await app_client.post("/login", data={"username": SCREEN, "password": PASSWORD, "csrf_token": csrf_of(form)},
                                   allow_redirects=False)
    assert landed.status == 302 and landed.headers["Location"] == "/wallscreen"

    page = await app_client.get("/wallscreen")
    assert page.status == 200
    html = await page.text()
    assert "<button" not in html and "<input" not in html and "<form" not in html and "<select" not in html
    data = await (await app_client.get("/api/wallscreen")).json()
    assert data["type"] == "wallscreen" and data["today"]["offered"] == 5
    assert "13800138000" not in repr(data) and "alerts" not in data and "calls" not in data

    allowed = {("GET", "/wallscreen"), ("GET", "/api/wallscreen"), ("GET", "/ws/screen")}
    checked = 0
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = route.resource.canonical if route.resource is not None else ""
        if route.method == "HEAD" or path.startswith("/static") or (route.method, path) in allowed:
            continue
        if path in ("/login", "/health", "/metrics", "/static/i18n.js"):
            continue  # public
        url = path
        for name in info.get("formatter", path).split("{")[1:]:
            url = url.replace("{" + name.split("}")[0] + "}", "1")
        response = await app_client.request(route.method if route.method != "*" else "GET", url, allow_redirects=False)
        assert response.status == 403, (route.method, path, response.status)
        checked += 1
    assert checked > 100  # tickets, recordings, the wallboard, /ws, reports, logout: every other route
    for path in ("/api/tickets/1", "/api/recordings/1/audio", "/api/supervisor/wallboard", "/ws", "/wallboard", "/agent"):
        assert (await app_client.get(path)).status == 403, path


async def test_browser_wallboard_draws_the_days_figures(app_client, browser):
    app = app_client.server.app
    await seed(app)
    base = str(app_client.make_url("")).rstrip("/")
    page = await browser_login(browser, base, "boss", PASSWORD)
    await page.goto(f"{base}/wallboard")
    await page.wait_for_selector("#chart-offered svg rect.bar.today", state="attached")
    board = await page.evaluate("fetch('/api/supervisor/wallboard').then(r => r.json())")
    trend = board["trend"]
    bars = await page.eval_on_selector_all(
        "#chart-offered rect.bar.today", "rs => rs.map(r => [+r.dataset.bin, +r.dataset.offered, r.querySelector('title').textContent])")
    assert len(bars) == trend["now_bin"] + 1  # every quarter hour so far, none of the future
    assert [offered for _, offered, _ in bars] == [b["offered"] for b in trend["today"][:trend["now_bin"] + 1]]
    assert sum(offered for _, offered, _ in bars) == 5
    last = await page.get_attribute("#chart-offered polyline.last-week", "data-values")
    assert [int(v) for v in last.split(",")] == [b["offered"] for b in trend["last_week"]]
    points = await page.eval_on_selector_all("#chart-sl circle.point.today", "cs => cs.map(c => [+c.dataset.bin, +c.dataset.sl])")
    assert points == [[i, b["service_level"]] for i, b in enumerate(trend["today"])
                      if b["service_level"] is not None and i <= trend["now_bin"]]
    agents = await page.eval_on_selector_all(
        "#chart-agents g.agent", "gs => gs.map(g => [g.dataset.agent, +g.dataset.answered, +g.dataset.offered, g.dataset.sl])")
    assert agents == [[a["agent_id"], a["answered"], a["offered"], str(a["service_level"])] for a in board["today"]["agents"]]
    assert [a[0] for a in agents] == ["1001", "1002"] and agents[0][1:3] == [2, 2] and agents[1][1:3] == [1, 2]
    await page.wait_for_selector("#chart-waiting circle.point.today", state="attached")
    await page.locator("div.charts").screenshot(path=artifact("wallboard-charts.png"))


async def test_browser_wall_screen_refreshes_live_with_no_controls(app_client, browser):
    app = app_client.server.app
    await app[web_keys.ACCOUNTS].create(SCREEN, PASSWORD, "screen", display_name="TV")
    await seed(app)
    base = str(app_client.make_url("")).rstrip("/")
    page = await browser_login(browser, base, SCREEN, PASSWORD)
    assert page.url.endswith("/wallscreen")
    await page.wait_for_function("() => document.querySelector('#s-offered').textContent === '5'")
    await page.wait_for_selector("#chart-agents g.agent", state="attached")
    assert await page.locator("button, input, select, textarea, form, a").count() == 0
    assert await page.get_attribute("#live-status", "data-up") == "1"

    # A new call lands: its figure appears without a reload (pushed over /ws/screen).
    await page.evaluate("window.__same_page = true")
    await rung_call(app, "c-new", dt.datetime.now(dt.UTC), "1001", within=True)
    await page.wait_for_function("() => document.querySelector('#s-offered').textContent === '6'", timeout=10_000)
    await page.wait_for_function(
        "() => [...document.querySelectorAll('#chart-offered rect.bar.today')].reduce((n, r) => n + +r.dataset.offered, 0) === 6")
    await page.wait_for_function("() => document.querySelector('#chart-agents g.agent[data-agent=\"1001\"]').dataset.answered === '3'")
    assert await page.evaluate("window.__same_page") is True
    await page.screenshot(path=artifact("wallscreen.png"))
