"""The departments' desk on the web: roles, departments, CSRF, bad input, and a real browser."""

from __future__ import annotations

import datetime as dt

from test_desk_and_reports import add_ticket
from test_recordings import _recording, rec_client  # noqa: F401  (fixture)
from webtools import PASSWORD, artifact, browser_login, login

from callcenter import keys
from callcenter.recording import keys as rec_keys
from callcenter.web import keys as web_keys
from callcenter.workorders import keys as wo_keys
from callcenter.workorders.service import Change

EVIL = "<script>alert(1)</script>请周三上午来心内科复诊"


async def seed(app) -> dict[str, int]:
    """Two departments, a specialist of each, and a ticket escalated to each (op1 took both calls)."""
    directory, desk, work = app[wo_keys.DIRECTORY], app[wo_keys.DESK], app[wo_keys.WORKORDERS]
    cardio = (await directory.save_department({"name": "心内科"}))["id"]
    derm = (await directory.save_department({"name": "皮肤科"}))["id"]
    accounts = app[web_keys.ACCOUNTS]
    doc = await accounts.create("doc", PASSWORD, "specialist", display_name="王医生")
    skin = await accounts.create("skin", PASSWORD, "specialist")
    await desk.set_departments(doc.id, [(cardio, True)])
    await desk.set_departments(skin.id, [(derm, False)])
    ids = {"cardio": cardio, "derm": derm}
    for name, number, department in (("heart", "13800000001", cardio), ("rash", "13800000002", derm)):
        await add_ticket(app, name, number, "1001")
        tid = (await app[keys.TICKETS].get(name)).id
        promise = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
        notes = "孩子胸闷，心电图报告怎么看" if name == "heart" else "皮疹一周不退"
        await work.update(tid, Change({"notes": notes, "promised_reply_at": promise}), "op1")
        await work.escalated(tid, department, None, "op1")
        ids[name] = tid
    return ids


async def test_a_specialist_is_refused_everything_of_the_hotline_room(app_client):
    await seed(app_client.server.app)
    csrf = await login(app_client, "doc")
    home = await app_client.get("/", allow_redirects=False)
    assert home.status == 302 and home.headers["Location"] == "/desk"
    me = await (await app_client.get("/api/me")).json()
    assert me["user"]["role"] == "specialist"
    for path in ("/api/agents", "/api/tickets", "/api/callbacks", "/api/departments",
                 "/api/kb/search?q=x", "/api/agent/recent", "/api/supervisor/wallboard"):
        response = await app_client.get(path)
        assert response.status == 403, path
        assert (await response.json())["error"] == "web.forbidden", path
    for path in ("/api/recordings", "/api/recordings/1", "/api/recordings/1/audio"):  # not granted
        response = await app_client.get(path)
        assert response.status == 403 and (await response.json())["error"] == "recording.not_granted", path
    for path in ("/agent", "/wallboard", "/reports", "/kb", "/admin/users"):
        assert (await app_client.get(path, allow_redirects=False)).status == 403, path
    assert (await app_client.get("/ws")).status == 403
    assert (await app_client.get("/desk")).status == 200
    assert (await app_client.get("/static/i18n.js")).status == 200
    logout = await app_client.post("/logout", data={"csrf_token": csrf}, allow_redirects=False)
    assert logout.status == 302 and (await app_client.get("/api/me")).status == 401


async def test_the_desk_api_scopes_by_department(app_client):
    app = app_client.server.app
    ids = await seed(app)
    csrf = await login(app_client, "doc")
    headers = {"X-CSRF-Token": csrf}
    listed = await (await app_client.get("/api/desk/tickets")).json()
    assert [t["id"] for t in listed["tickets"]] == [ids["heart"]]
    assert listed["tickets"][0]["question"] == "孩子胸闷，心电图报告怎么看"
    refused = await app_client.get(f"/api/desk/tickets/{ids['rash']}")
    assert refused.status == 403
    assert await refused.json() == {"error": "desk.not_your_department",
                                    "message": f"ticket {ids['rash']} belongs to 皮肤科, not to your departments (心内科)"}
    answer = await app_client.post(f"/api/desk/tickets/{ids['rash']}/reply", json={"text": "x"}, headers=headers)
    assert answer.status == 403 and (await answer.json())["error"] == "desk.not_your_department"
    assert (await app_client.get("/api/desk/tickets/99999")).status == 404

    # Bad input: a clear 400 naming the field, never a 5xx.
    for body in ({"text": ""}, {"text": "x" * 10_000}, {"text": "   "}, {}, {"text": 5}):
        bad = await app_client.post(f"/api/desk/tickets/{ids['heart']}/reply", json=body, headers=headers)
        assert bad.status == 400, body
        assert (await bad.json())["problems"][0]["field"] == "text", body
    # CSRF as everywhere: no token, no change.
    assert (await app_client.post(f"/api/desk/tickets/{ids['heart']}/reply", json={"text": "x"})).status == 403

    replied = await app_client.post(f"/api/desk/tickets/{ids['heart']}/reply", json={"text": EVIL}, headers=headers)
    assert replied.status == 201, await replied.text()
    result = await replied.json()
    assert result["contact"]["text"] == EVIL and result["ticket"]["status"] == "in_progress"
    assert result["task"]["agent_id"] == "1001" and result["task"]["details"]["reply"] == EVIL
    promoted = await app_client.post(f"/api/desk/tickets/{ids['heart']}/promote", json={"question": "心电图报告怎么看？"},
                                     headers=headers)
    assert promoted.status == 201, await promoted.text()
    entry = await promoted.json()
    assert entry["author"] == "doc" and entry["answer"] == EVIL and entry["department"] == "心内科"
    assert entry["question"] == "心电图报告怎么看？"
    assert (await app_client.post(f"/api/desk/tickets/{ids['rash']}/promote", json={}, headers=headers)).status == 403

    # The operator sees the answer as the API's plain text, and the callback task waiting for them.
    await login(app_client, "op1")
    ticket = await (await app_client.get(f"/api/tickets/{ids['heart']}")).json()
    assert [c["text"] for c in ticket["contacts"] if c["kind"] == "reply"] == [EVIL]
    tasks = (await (await app_client.get("/api/callbacks")).json())["tasks"]
    assert [(t["ticket_id"], t["agent_id"], t["details"]["by"]) for t in tasks] == [(ids["heart"], "1001", "doc")]
    # An operator has no departments: the desk shows nothing and refuses to act.
    op_csrf = (await (await app_client.get("/api/me")).json())["csrf"]
    assert (await (await app_client.get("/api/desk/tickets")).json())["tickets"] == []
    acting = await app_client.post(f"/api/desk/tickets/{ids['rash']}/finding", json={"text": "x"},
                                   headers={"X-CSRF-Token": op_csrf})
    assert acting.status == 403 and (await acting.json())["error"] == "desk.not_your_department"

    # A supervisor sees every department's desk.
    await login(app_client, "boss")
    listed = await (await app_client.get("/api/desk/tickets?view=open")).json()
    assert {t["id"] for t in listed["tickets"]} == {ids["heart"], ids["rash"]}
    assert (await app_client.get("/desk")).status == 200


async def test_a_handoff_moves_the_ticket_between_desks(app_client):
    ids = await seed(app_client.server.app)
    headers = {"X-CSRF-Token": await login(app_client, "skin")}
    handed = await app_client.post(f"/api/desk/tickets/{ids['rash']}/handoff",
                                   json={"department_id": ids["cardio"], "note": "伴胸闷"}, headers=headers)
    assert handed.status == 201, await handed.text()
    assert (await handed.json())["contact"]["text"] == "皮肤科 -> 心内科: 伴胸闷"
    assert (await (await app_client.get("/api/desk/tickets")).json())["tickets"] == []
    assert (await app_client.get(f"/api/desk/tickets/{ids['rash']}")).status == 403
    await login(app_client, "doc")
    assert {t["id"] for t in (await (await app_client.get("/api/desk/tickets")).json())["tickets"]} == {
        ids["heart"], ids["rash"]}


async def test_a_specialist_answers_in_the_browser_and_the_other_department_sees_none_of_it(app_client, browser):
    ids = await seed(app_client.server.app)
    base = str(app_client.make_url("")).rstrip("/")
    page = await browser_login(browser, base, "doc")
    await page.wait_for_url(f"{base}/desk")
    await page.wait_for_selector(f"#desk-tickets tr[data-ticket='{ids['heart']}']")
    assert await page.locator("#desk-tickets tbody tr").count() == 1
    assert "孩子胸闷" in await page.inner_text("#desk-tickets")
    assert await page.locator("nav a[href='/agent']").count() == 0 and await page.locator("nav a[href='/desk']").count() == 1
    await page.click(f"#desk-tickets tr[data-ticket='{ids['heart']}'] a")
    await page.wait_for_selector("#desk-detail:not([hidden])")
    assert await page.inner_text("#d-question") == "孩子胸闷，心电图报告怎么看"
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await page.fill("#f-reply-text", EVIL)
    await page.click("#f-reply-send")
    await page.wait_for_selector("#d-history tr[data-kind='reply']")
    reply_cell = page.locator("#d-history tr[data-kind='reply'] td.text")
    assert await reply_cell.inner_text() == EVIL  # shown as text
    assert await page.locator("#d-history script").count() == 0 and dialogs == []
    assert await page.inner_text("#d-status") in ("处理中", "In progress")
    await page.screenshot(path=artifact("desk-specialist.png"), full_page=True)

    other = await browser_login(browser, base, "skin")
    await other.wait_for_url(f"{base}/desk")
    await other.wait_for_selector(f"#desk-tickets tr[data-ticket='{ids['rash']}']")
    text = await other.inner_text("main")
    assert "孩子胸闷" not in text and "心内科复诊" not in text
    assert await other.locator(f"#desk-tickets tr[data-ticket='{ids['heart']}']").count() == 0
    await other.select_option("#desk-view", "open")
    await other.wait_for_timeout(300)
    assert await other.locator(f"#desk-tickets tr[data-ticket='{ids['heart']}']").count() == 0


async def test_a_granted_specialist_hears_only_their_departments_recordings(rec_client):
    app = rec_client.server.app
    ids = await seed(app)
    mine, mine_rec, data = await _recording(app, "1001", uniqueid="1700000000.7")
    theirs, theirs_rec, _ = await _recording(app, "1001", uniqueid="1700000000.8")
    work = app[wo_keys.WORKORDERS]
    for tid, department in ((mine, ids["cardio"]), (theirs, ids["derm"])):
        await work.update(tid, Change({"promised_reply_at": dt.datetime.now(dt.UTC) + dt.timedelta(days=1)}), "op1")
        await work.escalated(tid, department, None, "op1")
    doc = await app[web_keys.ACCOUNTS].by_name("doc")

    # Only a supervisor grants it, and only to a specialist.
    await login(rec_client, "op1")
    refused = await rec_client.put(f"/api/desk/specialists/{doc.id}", json={"may_hear_recordings": True},
                                   headers={"X-CSRF-Token": (await (await rec_client.get("/api/me")).json())["csrf"]})
    assert refused.status == 403
    rec_client.session.cookie_jar.clear()
    boss = {"X-CSRF-Token": await login(rec_client, "boss")}
    op1 = await app[web_keys.ACCOUNTS].by_name("op1")
    assert (await rec_client.put(f"/api/desk/specialists/{op1.id}", json={"may_hear_recordings": True},
                                 headers=boss)).status == 409
    granted = await rec_client.put(f"/api/desk/specialists/{doc.id}", json={"may_hear_recordings": True}, headers=boss)
    assert granted.status == 200 and (await granted.json())["may_hear_recordings"] is True
    listed = (await (await rec_client.get("/api/desk/specialists")).json())["specialists"]
    assert {s["username"]: [d["name"] for d in s["departments"]] for s in listed} == {"doc": ["心内科"], "skin": ["皮肤科"]}

    rec_client.session.cookie_jar.clear()
    await login(rec_client, "doc")
    audio = await rec_client.get(f"/api/recordings/{mine_rec}/audio")
    assert audio.status == 200 and await audio.read() == data
    assert [r["recording_id"] for r in (await (await rec_client.get(f"/api/recordings?ticket={mine}")).json())["recordings"]] == [
        mine_rec]
    assert (await rec_client.get(f"/api/recordings/{theirs_rec}/audio")).status == 404  # another department's
    assert (await (await rec_client.get(f"/api/recordings?ticket={theirs}")).json())["recordings"] == []
    assert (await (await rec_client.get("/api/recordings")).json())["recordings"] == []  # only by ticket
    listens = await app[rec_keys.RECORDINGS].listens(mine_rec)
    assert [(entry["username"], entry["role"]) for entry in listens] == [("doc", "specialist")]


async def test_a_supervisor_grants_recordings_on_the_desk_and_the_specialist_hears_them(rec_client, browser):
    app = rec_client.server.app
    ids = await seed(app)
    heard, rec_id, _ = await _recording(app, "1001", uniqueid="1700000000.9")
    work = app[wo_keys.WORKORDERS]
    await work.update(heard, Change({"notes": "听录音核实", "promised_reply_at": dt.datetime.now(dt.UTC) + dt.timedelta(days=1)}),
                      "op1")
    await work.escalated(heard, ids["cardio"], None, "op1")
    base = str(rec_client.make_url("")).rstrip("/")
    boss = await browser_login(browser, base, "boss")
    await boss.wait_for_url(f"{base}/wallboard")
    await boss.goto(f"{base}/desk")
    await boss.wait_for_selector("#desk-specialist-list tr[data-user='doc'] button")
    await boss.wait_for_selector(f"#desk-tickets tr[data-ticket='{ids['rash']}']")
    assert await boss.locator("#desk-tickets tbody tr").count() == 3  # every department
    await boss.click("#desk-specialist-list tr[data-user='doc'] button")
    await boss.wait_for_selector("#desk-specialist-list tr[data-user='doc'] td:nth-child(4):text-is('✓')")
    assert (await app[web_keys.ACCOUNTS].by_name("doc")).may_hear_recordings is True

    doc = await browser_login(browser, base, "doc")
    await doc.wait_for_url(f"{base}/desk")
    assert await doc.locator("#desk-specialists").is_hidden()
    await doc.wait_for_selector(f"#desk-tickets tr[data-ticket='{heard}'] a")
    await doc.click(f"#desk-tickets tr[data-ticket='{heard}'] a")
    await doc.wait_for_selector(f"#d-recording-list li[data-recording='{rec_id}'] audio")
    await doc.click(f"#desk-tickets tr[data-ticket='{ids['heart']}'] a")  # a ticket without recordings
    await doc.wait_for_selector("#d-recordings", state="hidden")


async def test_an_admin_adds_a_specialist_and_binds_their_departments(app_client):
    ids = await seed(app_client.server.app)
    headers = {"X-CSRF-Token": await login(app_client, "root")}
    created = await app_client.post("/api/admin/users", json={"username": "eye", "password": PASSWORD,
                                                              "role": "specialist"}, headers=headers)
    assert created.status == 201, await created.text()
    eye = (await created.json())["user"]["id"]
    bound = await app_client.put(f"/api/desk/specialists/{eye}", json={"departments": [
        {"id": ids["derm"], "is_head": True}]}, headers=headers)
    assert bound.status == 200
    assert (await bound.json())["departments"] == [{"id": ids["derm"], "name": "皮肤科", "is_head": True}]
    for body in ({}, {"departments": [{"id": 0}]}, {"departments": "皮肤科"}, {"may_hear_recordings": "yes"}):
        assert (await app_client.put(f"/api/desk/specialists/{eye}", json=body, headers=headers)).status == 400, body
    unknown = await app_client.put(f"/api/desk/specialists/{eye}", json={"departments": [{"id": 99999}]}, headers=headers)
    assert unknown.status == 404
    assert (await app_client.put("/api/desk/specialists/99999", json={"may_hear_recordings": True},
                                 headers=headers)).status == 404
    page = await (await app_client.get("/admin/users")).text()
    assert 'value="specialist"' in page
    await login(app_client, "eye")
    listed = await (await app_client.get("/api/desk/tickets")).json()
    assert [t["id"] for t in listed["tickets"]] == [ids["rash"]] and [t["id"] for t in listed["for_head"]] == []


async def test_a_specialist_following_an_old_link_to_the_hotline_room_lands_on_the_desk(app_client):
    await seed(app_client.server.app)
    from webtools import csrf_of

    for user, next_path, landing in (("doc", "/agent", "/desk"), ("doc", "/desk", "/desk"),
                                     ("op1", "/desk", "/desk"), ("op1", "/wallboard", "/agent")):
        app_client.session.cookie_jar.clear()
        form = await (await app_client.get(f"/login?next={next_path}")).text()
        response = await app_client.post("/login", data={"username": user, "password": PASSWORD,
                                                         "csrf_token": csrf_of(form), "next": next_path},
                                          allow_redirects=False)
        assert response.status == 302 and response.headers["Location"] == landing, (user, next_path)
