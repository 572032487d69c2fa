"""Supervisors edit the rota (shifts, skills) and the knowledge base on the web; operators cannot."""

from __future__ import annotations

import datetime as dt

from callcenter import keys
from callcenter.agents.rota import parse_shift
from callcenter.web import keys as web_keys
from webtools import PASSWORD, artifact, browser_login, login


def shift_around_now(app, minutes: int = 60) -> dict:
    """A shift from an hour ago to an hour ahead (hospital time), every day."""
    now = dt.datetime.now(app[keys.SETTINGS].hospital.zone)
    start, end = now - dt.timedelta(minutes=minutes), now + dt.timedelta(minutes=minutes)
    return {"start": start.strftime("%H:%M"), "end": end.strftime("%H:%M"), "days": [1, 2, 3, 4, 5, 6, 7]}


async def test_settings_shifts_are_imported_and_supervisor_edits_kept(app_client):
    app = app_client.server.app
    rota = app[web_keys.ROTA]
    known = {"1001", "1002"}
    day = parse_shift({"name": "白班", "start": "08:00", "end": "16:00", "agents": ["1001"]}, known)
    night = parse_shift({"name": "夜班", "start": "22:00", "end": "08:00", "agents": ["1002"]}, known)
    assert await rota.import_settings((day, night)) == {"added": 2, "updated": 0, "removed": 0, "kept": 0}
    csrf = await login(app_client, "boss")
    response = await app_client.put("/api/rota/shifts/白班", json={"start": "07:30", "end": "15:30", "agents": ["1001", "1002"]},
                                    headers={"X-CSRF-Token": csrf})
    assert response.status == 200, await response.text()
    # the next start brings the settings again: the supervisor's shift stays, the file's follow the file
    evening = parse_shift({"name": "中班", "start": "16:00", "end": "22:00"}, known)
    changed_day = parse_shift({"name": "白班", "start": "09:00", "end": "17:00"}, known)
    assert await rota.import_settings((changed_day, evening)) == {"added": 1, "updated": 0, "removed": 1, "kept": 1}
    shifts = {s["name"]: s for s in (await (await app_client.get("/api/rota")).json())["shifts"]}
    assert set(shifts) == {"白班", "中班"}
    assert shifts["白班"]["start"] == "07:30" and shifts["白班"]["origin"] == "web" and shifts["白班"]["updated_by"] == "boss"
    assert shifts["中班"]["origin"] == "file"


async def test_a_supervisor_edits_the_rota_with_immediate_effect(app_client):
    app = app_client.server.app
    csrf = await login(app_client, "boss")
    headers = {"X-CSRF-Token": csrf}
    assert (await (await app_client.get("/health")).json())["acd"]["on_duty"] == {}
    response = await app_client.put("/api/rota/shifts/test", json={**shift_around_now(app), "agents": ["1002"]}, headers=headers)
    assert response.status == 200, await response.text()
    assert (await (await app_client.get("/health")).json())["acd"]["on_duty"] == {"1002": "test"}
    board = await (await app_client.get("/api/supervisor/wallboard")).json()
    agents = {a["agent_id"]: a for a in board["agents"]}
    assert agents["1002"]["shift"] == "test" and agents["1001"]["shift"] is None
    assert {"kind": "absent", "agent_id": "1002", "name": agents["1002"]["name"], "shift": "test"} in board["alerts"]

    for body, slug in (
        ({"start": "8:00", "end": "16:00"}, "request.invalid"),  # the request model's HH:MM
        ({"start": "08:00", "end": "16:00", "agents": ["9999"]}, "rota.invalid"),  # the rota's own check
        ({"start": "08:00", "end": "16:00", "days": [0]}, "request.invalid"),
        ({"start": "08:00", "end": "16:00", "shift": 1}, "request.invalid"),
    ):
        response = await app_client.put("/api/rota/shifts/bad", json=body, headers=headers)
        assert response.status == 400 and (await response.json())["error"] == slug, body
    assert (await app_client.delete("/api/rota/shifts/nope", headers=headers)).status == 404
    assert (await app_client.delete("/api/rota/shifts/test", headers=headers)).status == 200
    assert (await (await app_client.get("/health")).json())["acd"]["on_duty"] == {}


async def test_skills_apply_to_the_acd_at_once(app_client):
    app = app_client.server.app
    adapter = app[keys.ADAPTER]
    assert adapter.agent_op("1001", "login")
    csrf = await login(app_client, "boss")
    response = await app_client.put("/api/rota/agents/1001/skills", json={"skills": ["urgent", "reports"]},
                                    headers={"X-CSRF-Token": csrf})
    assert response.status == 200, await response.text()
    assert adapter.skills["1001"] == {"urgent", "reports"} and adapter.acd.agents["1001"].skills == {"urgent", "reports"}
    assert adapter.acd._skilled.get("urgent") == 1
    rota = await (await app_client.get("/api/rota")).json()
    agent = next(a for a in rota["agents"] if a["id"] == "1001")
    assert agent["skills"] == ["urgent", "reports"] and agent["skills_edited"] is True and agent["state"] == "available"
    assert "urgent" in rota["menu_skills"]
    bad = await app_client.put("/api/rota/agents/1001/skills", json={"skills": ["<b>"]}, headers={"X-CSRF-Token": csrf})
    assert bad.status == 400
    assert (await app_client.put("/api/rota/agents/9/skills", json={"skills": []}, headers={"X-CSRF-Token": csrf})).status == 404


async def test_operators_cannot_edit_the_rota_or_open_the_editors(app_client):
    csrf = await login(app_client, "op1")
    headers = {"X-CSRF-Token": csrf}
    for method, path in (("GET", "/rota"), ("GET", "/kb"), ("GET", "/api/rota"), ("PUT", "/api/rota/shifts/x"),
                         ("DELETE", "/api/rota/shifts/x"), ("PUT", "/api/rota/agents/1001/skills")):
        response = await app_client.request(method, path, json={}, headers=headers, allow_redirects=False)
        assert response.status == 403, (method, path, response.status)


async def test_rota_and_kb_changes_need_the_csrf_token(app_client):
    await login(app_client, "boss")
    for method, path, body in (("PUT", "/api/rota/shifts/x", {"start": "08:00", "end": "09:00"}),
                               ("PUT", "/api/rota/agents/1001/skills", {"skills": []}),
                               ("POST", "/api/kb/entries", {"question": "q", "answer": "a"})):
        response = await app_client.request(method, path, json=body, headers={"X-CSRF-Token": "forged"})
        assert response.status == 403 and (await response.json())["error"] == "web.csrf", path


async def test_kb_edits_keep_who_when_before_and_after(app_client):
    csrf = await login(app_client, "boss")
    headers = {"X-CSRF-Token": csrf}
    created = await app_client.post("/api/kb/entries", json={"question": "医保卡丢了怎么办", "answer": "到医保窗口补办"},
                                    headers=headers)
    assert created.status == 201, await created.text()
    entry = await created.json()
    patched = await app_client.patch(f"/api/kb/entries/{entry['id']}", json={"answer": "带身份证到一楼医保窗口补办"}, headers=headers)
    assert patched.status == 200
    history = (await (await app_client.get(f"/api/kb/entries/{entry['id']}/history")).json())["history"]
    assert [(h["action"], h["by"]) for h in history] == [("create", "boss"), ("update", "boss")]
    assert history[1]["before"]["answer"] == "到医保窗口补办" and history[1]["after"]["answer"] == "带身份证到一楼医保窗口补办"
    csv = await (await app_client.get("/api/kb/export.csv")).text()
    assert "带身份证到一楼医保窗口补办" in csv
    imported = await app_client.post("/api/kb/import", data="question,answer\n住院部探视时间,每天下午三点到八点\n".encode(),
                                     headers={**headers, "Content-Type": "text/csv"})
    assert imported.status == 200 and (await imported.json())["created"] == 1
    found = await (await app_client.get("/api/kb/search", params={"q": "探视时间"})).json()
    assert found["results"][0]["question"] == "住院部探视时间"


async def test_browser_supervisor_edits_a_shift_and_a_kb_entry_and_sees_the_effect(app_client, browser):
    app = app_client.server.app
    base = str(app_client.make_url("")).rstrip("/")
    await app[web_keys.ACCOUNTS].by_name("boss")
    page = await browser_login(browser, base, "boss", PASSWORD)
    assert page.url.endswith("/wallboard")
    await page.wait_for_selector("#agents tr[data-agent='1002'] td.shift[data-scheduled='0']")

    # The rota: add a shift around now, put 1002 on it, save; the wallboard shows 1002 scheduled.
    await page.goto(f"{base}/rota")
    around = shift_around_now(app)
    await page.fill("#add-shift input[name='name']", "测试班")
    await page.fill("#add-shift input[name='start']", around["start"])
    await page.fill("#add-shift input[name='end']", around["end"])
    await page.click("#add-shift button[type='submit']")
    row = "#shifts tr[data-shift='测试班']"
    await page.wait_for_selector(row)
    await page.check(f"{row} [data-field='agents'] input[value='1002']")
    tomorrow = dt.datetime.now(app[keys.SETTINGS].hospital.zone).isoweekday() % 7 + 1
    await page.uncheck(f"{row} [data-field='days'] input[value='{tomorrow}']")  # the days are editable too
    await page.click(f"{row} button[data-action='save']")
    await page.wait_for_selector(f"{row}[data-origin='web'] [data-field='agents'] input[value='1002']:checked")
    await page.wait_for_selector("#rota-now:has-text('1002')")
    await page.wait_for_selector("#skills tr[data-agent='1002'] td:has-text('测试班')")
    assert app[web_keys.ROTA].on_duty(dt.datetime.now(app[keys.SETTINGS].hospital.zone)) == {"1002": "测试班"}
    await page.screenshot(path=artifact("rota-edited.png"), full_page=True)
    await page.goto(f"{base}/wallboard")
    await page.wait_for_selector("#agents tr[data-agent='1002'] td.shift[data-scheduled='1']:text-is('测试班')")
    await page.wait_for_selector("#alerts li[data-kind='absent']")
    assert await page.text_content("#t-scheduled") == "0/1"

    # The knowledge base: add an entry, edit its answer, see the edit in the history and in search.
    await page.goto(f"{base}/kb")
    await page.click("#kb-new")
    await page.fill("#kb-form input[name='question']", "核酸报告在哪里打印")
    await page.fill("#kb-form textarea[name='answer']", "门诊一楼自助机打印")
    await page.fill("#kb-form input[name='keywords']", "核酸 报告 打印")
    await page.click("#kb-save")
    await page.wait_for_selector("#kb-form-status[data-saved]")
    entry_id = await page.get_attribute("#kb-form-status", "data-saved")
    await page.fill("#kb-form textarea[name='answer']", "<b>门诊二楼</b>自助机打印，凭就诊卡")
    await page.click("#kb-save")
    await page.wait_for_selector("#kb-history tbody tr[data-action='update']")
    update = "#kb-history tbody tr[data-action='update']"
    assert await page.text_content(f"{update} td.who") == "boss"
    assert await page.text_content(f"{update} del") == "门诊一楼自助机打印"
    assert await page.text_content(f"{update} ins") == "<b>门诊二楼</b>自助机打印，凭就诊卡"  # text, not markup
    assert await page.locator("#kb-history b:text-is('门诊二楼')").count() == 0
    await page.fill("#kb-admin-q", "二楼")
    await page.press("#kb-admin-q", "Enter")
    await page.wait_for_selector(f"#kb-entries tr[data-id='{entry_id}'] td.answer mark:text-is('二楼')")
    await page.screenshot(path=artifact("kb-edited.png"), full_page=True)

    # An operator's desk finds the edited answer at once.
    desk = await browser_login(browser, base, "op1", PASSWORD)
    await desk.fill("#kb-q", "凭就诊卡")
    await desk.wait_for_selector("#kb-results li:has-text('核酸报告在哪里打印')")
    await page.context.close()
    await desk.context.close()
