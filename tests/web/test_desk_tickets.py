"""The desk's ticket form goes through the work-order API; operators change only their own tickets."""

from __future__ import annotations

import datetime as dt

from callcenter import keys
from test_desk_and_reports import add_ticket
from webtools import login

EVIL = "<script>alert(1)</script>发烧"
# A promised reply lies between now and a year ahead (workorders.promise_max_days).
PROMISE = (dt.datetime.now(dt.timezone(dt.timedelta(hours=8))) + dt.timedelta(days=2)).replace(
    second=0, microsecond=0).isoformat()


async def ticket_id(app, uniqueid: str) -> int:
    return (await app[keys.TICKETS].get(uniqueid)).id


async def test_an_operator_works_their_tickets_through_the_lifecycle(app_client):
    app = app_client.server.app
    await add_ticket(app, "mine-1", "2001", "1001")
    mine = await ticket_id(app, "mine-1")
    csrf = await login(app_client, "op1")
    headers = {"X-CSRF-Token": csrf}

    # The call ended unsolved: the lifecycle wants a promised reply time, and says so per field.
    response = await app_client.patch(
        f"/api/tickets/{mine}", json={"category": "medical", "notes": EVIL, "status": "in_progress"}, headers=headers
    )
    assert response.status == 422, await response.text()
    refused = await response.json()
    assert refused["error"] == "ticket.promise_required" and refused["problems"][0]["field"] == "promised_reply_at"
    response = await app_client.patch(
        f"/api/tickets/{mine}",
        json={"category": "medical", "notes": EVIL, "status": "in_progress", "promised_reply_at": PROMISE},
        headers=headers,
    )
    assert response.status == 200, await response.text()
    ticket = await response.json()
    assert ticket["status"] == "in_progress" and ticket["notes"] == EVIL and ticket["category"] == "medical"
    assert ticket["updated_by"] == "op1"  # the API knows who is acting (the web side's user)

    note = await app_client.post(f"/api/tickets/{mine}/notes", json={"text": "答复：建议就诊"}, headers=headers)
    assert note.status == 201 and (await note.json())["agent_id"] == "op1"
    at = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=3)).isoformat()
    scheduled = await app_client.post(f"/api/tickets/{mine}/callback", json={"at": at}, headers=headers)
    assert scheduled.status == 201, await scheduled.text()
    task = (await scheduled.json())["task"]
    assert task["kind"] == "callback" and task["state"] == "pending" and task["agent_id"] == "1001"
    ringing_someone_else = await app_client.post(
        f"/api/tickets/{mine}/callback", json={"at": at, "agent_id": "1002"}, headers=headers
    )
    assert ringing_someone_else.status == 403 and (await ringing_someone_else.json())["error"] == "ticket.not_your_phone"
    solved = await app_client.patch(f"/api/tickets/{mine}", json={"status": "solved"}, headers=headers)
    assert (await solved.json())["status"] == "solved"
    illegal = await app_client.patch(f"/api/tickets/{mine}", json={"status": "escalated"}, headers=headers)
    assert illegal.status == 409 and "in_progress" in (await illegal.json())["allowed"]

    detail = await (await app_client.get(f"/api/tickets/{mine}")).json()
    kinds = [c["kind"] for c in detail["contacts"]]
    assert "note" in kinds and "callback" in kinds and kinds.count("status") == 2
    recent = await (await app_client.get("/api/agent/recent")).json()
    assert recent["tickets"][0]["work"] == {
        "id": mine, "status": "solved", "category": "medical", "notes": EVIL, "promised_reply_at": detail["promised_reply_at"],
    }
    bad = await app_client.patch(f"/api/tickets/{mine}", json={"category": "<x>"}, headers=headers)
    assert bad.status == 400 and (await bad.json())["problems"][0]["field"] == "category"


async def test_operators_cannot_change_tickets_of_calls_that_did_not_ring_them(app_client):
    app = app_client.server.app
    await add_ticket(app, "theirs-1", "2002", "1002")
    theirs = await ticket_id(app, "theirs-1")
    csrf = await login(app_client, "op1")
    headers = {"X-CSRF-Token": csrf}
    for method, path, body in (
        ("PATCH", f"/api/tickets/{theirs}", {"notes": "x"}),
        ("POST", f"/api/tickets/{theirs}/notes", {"text": "x"}),
        ("POST", f"/api/tickets/{theirs}/escalate", {"department_id": 1}),
        ("POST", f"/api/tickets/{theirs}/callback", {}),
        ("POST", f"/api/tickets/{theirs}/survey", {"score": 5}),
    ):
        response = await app_client.request(method, path, json=body, headers=headers)
        assert response.status == 403, (method, path, response.status)
        assert (await response.json())["error"] == "ticket.not_yours"
    assert (await app_client.get(f"/api/tickets/{theirs}")).status == 200  # reading a caller's history is fine
    assert (await app_client.patch("/api/tickets/9999", json={"notes": "x"}, headers=headers)).status == 404
    # Operators do not import orders, nor change the knowledge base or the directory.
    for method, path in (("POST", "/api/tickets/import"), ("POST", "/api/kb/entries"), ("PATCH", "/api/kb/entries/1"),
                         ("DELETE", "/api/kb/entries/1"), ("POST", "/api/kb/import"), ("GET", "/api/kb/export.csv"),
                         ("POST", "/api/departments"), ("DELETE", "/api/specialists/1")):
        response = await app_client.request(method, path, json={}, headers=headers)
        assert response.status == 403 and (await response.json())["error"] == "web.forbidden", (method, path)
    assert (await app_client.get("/api/kb/search", params={"q": "发烧"})).status == 200
    assert (await app_client.get("/api/departments")).status == 200

    # A repeat call of 2002 that rang op1 is merged into the open ticket: op1 may now work it.
    await add_ticket(app, "repeat-1", "2002", "1001")
    response = await app_client.patch(f"/api/tickets/{theirs}", json={"notes": "再次来电", "promised_reply_at": PROMISE}, headers=headers)
    assert response.status == 200, await response.text()


async def test_a_supervisor_changes_any_ticket_with_the_csrf_token(app_client):
    app = app_client.server.app
    await add_ticket(app, "any-1", "2003", "1002")
    any_id = await ticket_id(app, "any-1")
    csrf = await login(app_client, "boss")
    response = await app_client.patch(f"/api/tickets/{any_id}", json={"priority": "high", "promised_reply_at": PROMISE}, headers={"X-CSRF-Token": csrf})
    assert response.status == 200 and (await response.json())["updated_by"] == "boss"
    response = await app_client.patch(f"/api/tickets/{any_id}", json={"priority": "low"})  # no CSRF token
    assert response.status == 403 and (await response.json())["error"] == "web.csrf"


async def test_overdue_tickets_are_wallboard_alerts(app_client):
    app = app_client.server.app
    from callcenter.workorders import keys as wo_keys
    from callcenter.workorders.service import Change

    await add_ticket(app, "late-1", "2004", "1001")
    late = await ticket_id(app, "late-1")
    work = app[wo_keys.WORKORDERS]
    past = dt.datetime.now(dt.UTC) - dt.timedelta(hours=30)
    await work.update(late, Change({"promised_reply_at": past}, "in_progress"), "test", now=past - dt.timedelta(hours=1))
    await login(app_client, "boss")
    board = await (await app_client.get("/api/supervisor/wallboard")).json()
    alerts = [a for a in board["alerts"] if a["kind"] == "overdue"]
    assert [a["ticket_id"] for a in alerts] == [late] and alerts[0]["caller_number"] == "2004"
    assert board["overdue"] == 1
    # the sweep's announcement refreshes the list at once (no waiting for the cache)
    await work.update(late, Change({}, "solved"), "test")
    await add_ticket(app, "late-2", "2005", "1001")
    late2 = await ticket_id(app, "late-2")
    await work.update(late2, Change({"promised_reply_at": past}, "in_progress"), "test", now=past - dt.timedelta(hours=1))
    await work.sweep_overdue()
    board = await (await app_client.get("/api/supervisor/wallboard")).json()
    assert [a["ticket_id"] for a in board["alerts"] if a["kind"] == "overdue"] == [late2]


async def test_browser_desk_form_saves_through_the_ticket_lifecycle(app_client, browser):
    """The pop names the call's ticket; the form shows the API's refusal, then moves the ticket on."""
    from callcenter.acd import Offer
    from callcenter.adapter import LiveCall
    from callcenter.web import keys as web_keys
    from callcenter.workorders import keys as wo_keys
    from webtools import PASSWORD, artifact, browser_login

    app = app_client.server.app
    department = await app[wo_keys.DIRECTORY].save_department({"name": "儿内科", "office_phone": "8001"})
    await add_ticket(app, "pop-1", "2001", "1001")  # the call has ended: unsolved needs a promise
    mine = await ticket_id(app, "pop-1")
    base = str(app_client.make_url("")).rstrip("/")
    desk = await browser_login(browser, base, "op1", PASSWORD)
    await desk.wait_for_selector("#live-status[data-up='1']")
    await desk.wait_for_selector(f"#f-escalate option[value='{department['id']}']", state="attached")
    app[keys.ADAPTER].calls["pop-1"] = LiveCall("pop-1", "2001", "")
    app[web_keys.HUB].on_command(Offer("pop-1", "1001", 10.0))
    await desk.wait_for_selector(f"#ticket-id:text-is('#{mine}')")
    assert await desk.get_attribute("#ticket-status", "data-status") == "new"

    await desk.select_option("#f-category", "medical")
    await desk.fill("#f-notes", "孩子发烧 <b>38度</b>")
    await desk.fill("#f-answer", "建议发热门诊就诊")
    await desk.click("#f-save")
    await desk.wait_for_selector("#f-status[data-error='ticket.promise_required']")
    assert "承诺答复时间" in await desk.text_content("#f-promised-error")
    assert await desk.evaluate("document.activeElement.id") == "f-promised"
    await desk.screenshot(path=artifact("desk-promise-required.png"), full_page=True)

    await desk.fill("#f-promised", (dt.datetime.now() + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"))
    await desk.keyboard.press("Control+Enter")
    await desk.wait_for_selector("#f-status[data-saved='pop-1']")
    await desk.wait_for_selector("#ticket-status[data-status='in_progress']")
    assert await desk.text_content("#f-promised-error") == ""
    ticket = await app[wo_keys.WORKORDERS].get(mine)
    assert ticket["category"] == "medical" and ticket["notes"] == "孩子发烧 <b>38度</b>" and ticket["updated_by"] == "op1"
    assert any(c["kind"] == "note" and c["text"].endswith("建议发热门诊就诊") for c in ticket["contacts"])

    # Escalate without ringing (no Asterisk here), then solve: each save is one lifecycle move.
    await desk.select_option("#f-escalate", str(department["id"]))
    await desk.uncheck("#f-escalate-call")
    await desk.click("#f-save")
    await desk.wait_for_selector("#ticket-status[data-status='escalated']")
    await desk.check("#f-solved")
    await desk.click("#f-save")
    await desk.wait_for_selector("#ticket-status[data-status='solved']")
    await desk.wait_for_selector(f"#recent tbody tr[data-ticket='{mine}'] td.notes:has-text('<b>38度</b>')")
    assert await desk.locator("#recent b").count() == 0
    assert (await app[wo_keys.WORKORDERS].get(mine))["status"] == "solved"
    await desk.screenshot(path=artifact("desk-ticket-solved.png"), full_page=True)
    await desk.context.close()
