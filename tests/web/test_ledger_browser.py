"""The /ledger page in a real browser: a supervisor classifies an item, sets its measure, verifies it
and strikes it off; the caller's words (with a <script> in them) stay text; another department's
specialist sees none of it."""

from __future__ import annotations

import datetime as dt

from callcenter import keys as app_keys
from callcenter.ledger import keys as ledger_keys
from callcenter.ledger.service import Scope
from callcenter.store import session_factory
from callcenter.web import keys as web_keys
from callcenter.workorders import keys as wo_keys
from callcenter.workorders.models import UserDepartment
from callcenter.workorders.service import Change
from webtools import PASSWORD, artifact, browser_login

WORDS = "<script>window.__pwned = 1</script>候诊两小时无人叫号<b>投诉</b>"


async def test_browser_a_supervisor_takes_a_complaint_to_struck_off(app_client, browser):
    app = app_client.server.app
    base = str(app_client.make_url("")).rstrip("/")
    directory, work, ledger = app[wo_keys.DIRECTORY], app[wo_keys.WORKORDERS], app[ledger_keys.LEDGER]
    mz = await directory.save_department({"name": "门诊部"})
    other = await directory.save_department({"name": "眼科"})
    await ledger.import_catalogue("department,code,item\n门诊部,MZ-01,候诊时间长\n门诊部,MZ-02,挂号难\n")
    tickets = app[app_keys.TICKETS]
    at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
    ticket_id = await tickets.open_for_arrival("ledger-b1", "13900139000", "家长", "PJSIP/trunk-1", at)
    await tickets.mark_ended("ledger-b1", at + dt.timedelta(seconds=40), "caller")
    promise = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    await work.update(ticket_id, Change({"category": "complaint", "notes": WORDS, "promised_reply_at": promise}), "op1")
    spec = await app[web_keys.ACCOUNTS].create("eye1", PASSWORD, "specialist")
    async with session_factory(app[app_keys.ENGINE])() as session, session.begin():
        session.add(UserDepartment(user_id=spec.id, department_id=other["id"]))

    page = await browser_login(browser, base, "boss", PASSWORD)
    await page.goto(f"{base}/ledger")
    row = "#ledger-items tbody tr"
    await page.wait_for_selector(f"{row}[data-status='open']")
    assert await page.locator(row).count() == 1
    assert WORDS in await page.text_content(f"{row} td.description")
    await page.click(f"{row} button[data-action='open']")
    await page.wait_for_selector("#ledger-detail:not([hidden])")
    assert await page.text_content("#item-description") == WORDS  # text, not markup
    assert await page.locator("#ledger-detail script, #ledger-detail b").count() == 0
    assert await page.evaluate("window.__pwned") is None
    assert await page.text_content("#item-department") == "未分类"

    # classify: department, then one of its catalogue items
    await page.select_option("#classify-form select[name='department_id']", str(mz["id"]))
    await page.select_option("#classify-form select[name='catalogue_id']", label="MZ-01 候诊时间长")
    await page.click("#classify-form button[type='submit']")
    await page.wait_for_selector("#item-catalogue:text-is('MZ-01 候诊时间长')")
    assert await page.text_content("#item-department") == "门诊部"

    # the measure, owner and deadline; then rectify, verify, strike off
    await page.fill("#measure-form textarea[name='measure']", "增开叫号屏，专人巡视候诊区")
    await page.fill("#measure-form input[name='owner']", "门诊部 王主任")
    await page.fill("#measure-form input[name='deadline']", "2030-01-31T17:00")
    await page.click("#measure-form button[type='submit']")
    await page.wait_for_selector("#item-status-line.ok")
    for move, status in (("rectify", "rectifying"), ("verify", "verified"), ("strike_off", "struck_off")):
        await page.click(f"#move-buttons button[data-move='{move}']")
        await page.wait_for_selector(f"#ledger-detail[data-status='{status}']")
    assert await page.text_content("#item-status") == "已销号"
    assert [m async for m in _moves(page)] == ["reopen"]
    assert await page.locator("#item-events tbody tr").count() == 6  # created, classified, set, 3 moves
    await page.wait_for_selector(f"{row}[data-status='struck_off']")
    await page.screenshot(path=artifact("ledger-struck-off.png"), full_page=True)
    [item] = await ledger.list(Scope(by="boss"))
    assert item["status"] == "struck_off" and item["catalogue"]["code"] == "MZ-01" and item["verified_by"] == "boss"
    assert item["owner"] == "门诊部 王主任" and item["measure"] == "增开叫号屏，专人巡视候诊区"
    entered = await page.evaluate("new Date('2030-01-31T17:00').toISOString()")  # the browser's own zone
    assert dt.datetime.fromisoformat(item["deadline"]) == dt.datetime.fromisoformat(entered.replace("Z", "+00:00"))

    # a catalogue file with bad rows: refused whole, every problem listed by line on the page
    bad = "科室,编码,项目\n眼科,YK-01,验光等候\n外星科,X-1,x\n眼科,YK-01,重复\n".encode("gb18030")
    await page.set_input_files("#catalogue-file", files=[{"name": "目录.csv", "mimeType": "text/csv", "buffer": bad}])
    await page.click("#catalogue-form button[type='submit']")
    await page.wait_for_selector("#catalogue-problems li >> nth=1")
    problems = await page.locator("#catalogue-problems li").all_text_contents()
    assert [p.split(":")[0] for p in problems] == ["line 3", "line 4"] and "外星科" in problems[0]
    assert "YK-01" not in {e["code"] for e in await ledger.catalogue()}

    # an item added by hand for 眼科
    await page.click("#ledger-new")
    await page.fill("#new-form textarea[name='description']", "<img src=x onerror='window.__pwned=2'>视力检查等候久")
    await page.select_option("#new-form select[name='department_id']", str(other["id"]))
    await page.click("#new-form button[type='submit']")
    await page.wait_for_selector("#item-department:text-is('眼科')")
    eye_item = await page.get_attribute("#ledger-detail", "data-id")

    # 眼科's specialist sees only that item, sets its measure and starts rectifying; no supervisor moves
    eye = await browser_login(browser, base, "eye1", PASSWORD)
    await eye.goto(f"{base}/ledger")
    await eye.wait_for_selector(f"#ledger-items tbody tr[data-id='{eye_item}']")
    assert await eye.locator("#ledger-items tbody tr").count() == 1
    assert await eye.locator("#catalogue-form, #classify-form, #ledger-new").count() == 0  # the supervisor's parts
    await eye.click(f"#ledger-items tbody tr[data-id='{eye_item}'] button[data-action='open']")
    await eye.wait_for_selector(f"#ledger-detail[data-id='{eye_item}']:not([hidden])")
    assert await eye.text_content("#item-description") == "<img src=x onerror='window.__pwned=2'>视力检查等候久"
    await eye.fill("#measure-form textarea[name='measure']", "增加验光师")
    await eye.fill("#measure-form input[name='owner']", "眼科 李医生")
    await eye.fill("#measure-form input[name='deadline']", "2030-02-28T12:00")
    await eye.click("#measure-form button[type='submit']")
    await eye.wait_for_selector("#item-status-line:not(:empty)")
    assert await eye.get_attribute("#item-status-line", "class") == "ok", await eye.text_content("#item-status-line")
    assert [m async for m in _moves(eye)] == ["rectify"]
    await eye.click("#move-buttons button[data-move='rectify']")
    await eye.wait_for_selector("#ledger-detail[data-status='rectifying']")
    assert [m async for m in _moves(eye)] == []  # verifying is the supervisor's
    assert await eye.evaluate("window.__pwned") is None and await page.evaluate("window.__pwned") is None
    await page.context.close()
    await eye.context.close()


async def _moves(page):
    for button in await page.locator("#move-buttons button").all():
        yield await button.get_attribute("data-move")

