"""The departments page in Chromium: a bad file's problems listed by line and nothing written, a
good file imported, a contact added, changed and removed through the form, the bound specialist
accounts shown, and names from the data (``<script>``) shown as text."""

from __future__ import annotations

import asyncio

from webtools import PASSWORD, app_client, artifact, browser, browser_login  # noqa: F401  (fixtures)

from callcenter import keys as app_keys
from callcenter.store import session_factory
from callcenter.web import keys as web_keys
from callcenter.workorders import keys as wo_keys
from callcenter.workorders.models import UserDepartment

EVIL = "<script>alert(1)</script>呼吸科"
HEADER = "department,office_phone,contact_name,title,mobile,duty_weekdays,duty_times,rank\n"
GOOD = HEADER + f'"{EVIL}",2001,王医生,主任医师,139-1234-5678,"mon,tue",08:00-17:30,1\n儿科,64028401,,,,,,\n'
BAD = HEADER + "儿科,,张医生,,110,,,\n,2001,,,,,,\n外科,,钱医生,,13900000000,,25:00-08:00,\n"


async def test_the_departments_page_imports_and_edits_the_directory(app_client, browser):
    app = app_client.server.app
    directory = app[wo_keys.DIRECTORY]
    base = str(app_client.make_url("")).rstrip("/")
    page = await browser_login(browser, base, "boss", PASSWORD)
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.goto(f"{base}/departments")
    await page.wait_for_selector("#departments tbody td:has-text('还没有科室')")

    await page.set_input_files("#import-file", files=[{"name": "通讯录.csv", "mimeType": "text/csv",
                                                       "buffer": BAD.encode("gb18030")}])
    await page.click("#import-form button[type=submit]")
    await page.wait_for_selector("#import-problems li")
    problems = await page.locator("#import-problems li").all_text_contents()
    assert [p.split(":")[0] for p in problems] == ["line 2", "line 3", "line 4"]
    assert await directory.departments() == []

    await page.set_input_files("#import-file", files=[{"name": "通讯录.csv", "mimeType": "text/csv",
                                                       "buffer": GOOD.encode()}])
    await page.click("#import-form button[type=submit]")
    await page.wait_for_selector("#import-status.ok")
    assert await page.locator("#import-problems li").count() == 0
    await page.wait_for_selector(f"#departments tbody td:text-is('{EVIL}')")
    assert await page.locator("#departments script, #departments b").count() == 0
    deps = {d["name"]: d for d in await directory.departments()}
    assert deps[EVIL]["office_phone"] == "2001" and deps[EVIL]["specialists"][0]["mobile"] == "13912345678"

    # A specialist account bound to the department shows beside it.
    user = await app[web_keys.ACCOUNTS].create("spec1", PASSWORD, "specialist", display_name="呼吸<b>专科</b>")
    async with session_factory(app[app_keys.ENGINE])() as session, session.begin():
        session.add(UserDepartment(user_id=user.id, department_id=deps[EVIL]["id"], is_head=True))
    await page.reload()
    row = page.locator(f"#departments tbody tr[data-id='{deps[EVIL]['id']}']")
    await row.locator("td:has-text('呼吸<b>专科</b>（负责人）')").wait_for()

    # Add a contact through the form, change it, remove it.
    await row.locator("button").click()
    await page.wait_for_selector("#dept-contacts:not([hidden])")
    form = page.locator("#contact-form")
    await form.locator("[name=name]").fill("<img src=x>李医生")
    await form.locator("[name=mobile]").fill("13800000000")
    await form.locator("[name=weekday][value=sat]").check()
    await form.locator("[name=times]").fill("22:00-08:00")
    await form.locator("[name=rank]").fill("2")
    await form.locator("button[type=submit]").click()
    await page.wait_for_selector("#contacts tbody td:text-is('<img src=x>李医生')")
    assert await page.locator("#contacts img").count() == 0
    added = [s for s in (await directory.department(deps[EVIL]["id"]))["specialists"] if s["mobile"] == "13800000000"]
    assert [(s["name"], s["duty"], s["rank"]) for s in added] == [
        ("<img src=x>李医生", {"weekdays": ["sat"], "times": "22:00-08:00"}, 2)]
    contact = page.locator(f"#contacts tbody tr[data-id='{added[0]['id']}']")
    await contact.locator("button").first.click()
    assert await form.locator("[name=mobile]").input_value() == "13800000000"
    await form.locator("[name=rank]").fill("0")
    await form.locator("button[type=submit]").click()
    await page.wait_for_selector(f"#contacts tbody tr[data-id='{added[0]['id']}'] td:first-child:text-is('0')")
    await page.screenshot(path=artifact("departments.png"), full_page=True)
    await contact.locator("button").nth(1).click()
    await page.wait_for_selector(f"#contacts tbody tr[data-id='{added[0]['id']}']", state="detached")
    assert len((await directory.department(deps[EVIL]["id"]))["specialists"]) == 1

    # What the form's own checks let through and the API refuses is shown as text.
    await form.locator("[name=name]").fill("赵医生")
    await form.locator("[name=mobile]").evaluate("input => input.removeAttribute('maxlength')")
    await form.locator("[name=mobile]").fill("x" * 33)
    await form.locator("button[type=submit]").click()
    await page.wait_for_selector("#contact-status.error")
    assert "mobile" in await page.text_content("#contact-status")
    await page.context.close()
