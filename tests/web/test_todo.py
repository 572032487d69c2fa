"""The operator's to-do panel (待办): their overdue tickets and callback tasks; the wallboard's ladder."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

from callcenter import keys
from callcenter.store.models import utcnow
from callcenter.workorders import keys as wo_keys
from callcenter.workorders.service import Change
from test_desk_and_reports import add_ticket
from webtools import artifact, browser_login, login

EVIL = "<img src=x onerror=alert(1)><script>alert(2)</script>请带齐检查报告复诊"


async def until(read, good, timeout: float = 5.0):
    """Poll ``read()`` until ``good`` holds (the pages' CSP refuses Playwright's wait_for_function)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await read()
        if good(value):
            return value
        assert asyncio.get_running_loop().time() < deadline, f"still {value!r}"
        await asyncio.sleep(0.1)


def work_of(app):
    return app[wo_keys.WORKORDERS]


async def seed(app) -> dict[str, int]:
    """op1 (1001): an overdue complaint (level 2) and a reply's callback task; op2 (1002): a ticket at level 3."""
    work, directory = app[wo_keys.WORKORDERS], app[wo_keys.DIRECTORY]
    ids = {}
    for name, number, agent in (("mine", "13800000001", "1001"), ("theirs", "13800000002", "1002"),
                                ("replied", "13800000003", "1001")):
        await add_ticket(app, f"todo-{name}", number, agent)
        ids[name] = (await app[keys.TICKETS].get(f"todo-{name}")).id
    week_ago = utcnow() - dt.timedelta(days=7)  # at least 4 working hours late whatever today is
    dep = await directory.save_department({"name": "心内科", "office_phone": "2001"})
    await work.update(ids["mine"], Change({"category": "complaint", "promised_reply_at": week_ago}), "op1", week_ago)
    await work.update(ids["theirs"], Change({"category": "medical", "promised_reply_at": week_ago,
                                             "department_id": dep["id"]}), "op2", week_ago)
    await work.update(ids["replied"], Change({"category": "reports", "promised_reply_at": utcnow() + dt.timedelta(days=2)}),
                      "op1")
    task = await work.create_task(ids["replied"], "callback", "13800000003", agent_id="1001",
                                  details={"reply": EVIL, "by": "doc"})
    ids["task"] = task["id"]
    ids["unassigned"] = (await work.create_task(ids["replied"], "callback", "13800000003", dedupe_key="x",
                                                details={"note": "请回电"}))["id"]
    ids["their_task"] = (await work.create_task(ids["theirs"], "callback", "13800000002", agent_id="1002"))["id"]
    await work.sweep_ladder()
    return ids


async def test_mine_filters_tickets_and_tasks_and_a_climb_reaches_the_desks(app_client):
    app = app_client.server.app
    await login(app_client, "op1")
    ws = await app_client.ws_connect("/ws")
    assert json.loads((await ws.receive(timeout=2)).data)["type"] == "hello"
    ids = await seed(app)
    kinds = []
    while "todo" not in kinds or len([k for k in kinds if k == "todo"]) < 5:  # 3 tasks made, 2 tickets climbed
        kinds.append(json.loads((await ws.receive(timeout=3)).data)["type"])
    await ws.close()

    tickets = (await (await app_client.get("/api/tickets?ladder=1&mine=true")).json())["tickets"]
    assert [(t["id"], t["ladder_level"], t["category"]) for t in tickets] == [(ids["mine"], 2, "complaint")]
    assert tickets[0]["due_at"] is not None
    every = (await (await app_client.get("/api/tickets?ladder=2")).json())["tickets"]
    assert {(t["id"], t["ladder_level"]) for t in every} == {(ids["mine"], 2), (ids["theirs"], 3)}
    tasks = (await (await app_client.get("/api/callbacks?kind=callback&mine=true")).json())["tasks"]
    assert [(t["id"], t["category"], t["details"].get("reply")) for t in tasks] == [
        (ids["task"], "reports", EVIL), (ids["unassigned"], "reports", None)]
    assert all(t["due_at"] for t in tasks)

    await login(app_client, "boss")  # no phone: "mine" means nothing
    refused = await app_client.get("/api/tickets?mine=true")
    assert refused.status == 400 and (await refused.json())["problems"][0]["field"] == "mine"
    refused = await app_client.get("/api/tickets?ladder=4")
    assert refused.status == 400 and (await refused.json())["problems"][0]["field"] == "ladder"


async def test_the_operator_sees_their_overdue_ticket_and_the_replys_task_as_text(app_client, browser):
    app = app_client.server.app
    ids = await seed(app)
    base = str(app_client.make_url("")).rstrip("/")
    page = await browser_login(browser, base, "op1")
    await page.wait_for_url(f"{base}/agent")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await page.wait_for_selector(f"#todo-list li[data-kind='overdue'][data-ticket='{ids['mine']}']")
    overdue = page.locator(f"#todo-list li[data-kind='overdue'][data-ticket='{ids['mine']}']")
    assert "投诉" in await overdue.inner_text() and "已报班长" in await overdue.inner_text()
    week_ago = await page.evaluate("iso => Hotline.localTime(iso)", (await work_of(app).get(ids["mine"]))["promised_reply_at"])
    assert await overdue.locator("p.due").inner_text() == f"时限 {week_ago}"  # the promise, earlier than the limit
    tasks = page.locator("#todo-list li[data-kind='task']")
    assert await tasks.count() == 2
    reply = tasks.nth(0).locator("p.reason")
    assert await reply.inner_text() == f"科室答复：{EVIL}"  # the department's reply, as text
    assert "检查检验报告" in await tasks.nth(0).inner_text()
    assert await tasks.nth(1).locator("p.reason").inner_text() == "科室请回电：请回电"
    assert await page.locator("#todo-list img, #todo-list script").count() == 0 and dialogs == []
    text = await page.inner_text("#todo")
    assert "13800000002" not in text  # op2's ticket and task are not mine
    assert await page.inner_text("#todo-count") == "3"
    await page.screenshot(path=artifact("agent-todo.png"), full_page=True)

    # A click loads the ticket into the desk's form.
    await overdue.locator("button.link").click()
    await until(lambda: page.inner_text("#ticket-id"), lambda text: text.startswith(f"#{ids['mine']}"))
    assert await page.input_value("#f-category") == "complaint"

    # "Call back" works off the task (no Asterisk here: the refusal is shown as text).
    posted = []
    page.on("request", lambda request: posted.append((request.url, request.post_data))
            if request.method == "POST" and "/callback" in request.url else None)
    await tasks.nth(0).locator("button[data-op='call-back']").click()
    status = await until(lambda: page.inner_text("#todo-status"), lambda text: text.startswith("回拨失败"))
    assert status.removeprefix("回拨失败：")  # the server's reason follows
    assert posted and posted[0][0].endswith(f"/api/tickets/{ids['replied']}/callback")
    assert json.loads(posted[0][1]) == {"task_id": ids["task"]}

    # A new task pushed over the live channel shows without a reload.
    await app[wo_keys.WORKORDERS].create_task(ids["replied"], "callback", "13800000003", agent_id="1001",
                                              dedupe_key="later", details={"reply": "第二次答复"})
    await until(lambda: tasks.count(), lambda n: n == 3)


async def test_the_wallboard_lists_tickets_the_ladder_took_to_the_supervisor(app_client, browser):
    ids = await seed(app_client.server.app)
    base = str(app_client.make_url("")).rstrip("/")
    page = await browser_login(browser, base, "boss")
    await page.goto(f"{base}/wallboard")
    await page.wait_for_selector(f"#ladder tr[data-ticket='{ids['theirs']}'][data-level='3']")
    rows = page.locator("#ladder tbody tr")
    assert await rows.count() == 2
    assert [await rows.nth(n).get_attribute("data-ticket") for n in range(2)] == [str(ids["theirs"]), str(ids["mine"])]
    assert "已报科室负责人" in await rows.nth(0).inner_text() and "1001" in await rows.nth(1).inner_text()
    assert await page.locator("#ladder-empty").is_hidden()
