"""The closed loop across the hotline and a department, in a real Chromium with real calls (issue 14).

A caller talks to an operator (real baresip phones), who escalates the question to 呼吸科 from the
desk's ticket form.  The department's specialist logs in, sees the ticket on /desk and replies in
writing (the reply carries markup that must stay text).  The reply puts a callback task on the
operator's to-do panel at once; "call back" rings the operator's phone, then the patient's; while
they talk the operator marks the ticket solved; when the operator hangs up, the patient hears the
survey and presses 4: the ticket closes as satisfied.  A specialist of 眼科 sees none of it, and is
refused the ticket by the API.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from callcenter import keys
from callcenter.web import keys as web_keys
from callcenter.workorders import keys as wo_keys
from harness import eventually
from harness.agi_commands import AgiCommands
from webtools import PASSWORD, artifact, browser_login

pytestmark = pytest.mark.e2e

QUESTION = "家长询问孩子肺功能检查结果怎么看"
REPLY = '<img src=x onerror="window.__xss=1">肺功能正常，无需复查<script>window.__xss=2</script>'
PATIENT = "2005"


async def seed(controller) -> dict[str, int]:
    """Two departments, an operator, a specialist of each department."""
    directory, desk = controller[wo_keys.DIRECTORY], controller[wo_keys.DESK]
    accounts = controller[web_keys.ACCOUNTS]
    lungs = await directory.save_department({"name": "呼吸科", "office_phone": "2003"})
    eyes = await directory.save_department({"name": "眼科", "office_phone": "2004"})
    await accounts.create("op1", PASSWORD, "operator", agent_id="1001", display_name="张护士")
    lung_doctor = await accounts.create("lung", PASSWORD, "specialist", display_name="王医生")
    eye_doctor = await accounts.create("eye", PASSWORD, "specialist", display_name="李医生")
    await desk.set_departments(lung_doctor.id, [(lungs["id"], False)])
    await desk.set_departments(eye_doctor.id, [(eyes["id"], False)])
    return {"lungs": lungs["id"], "eyes": eyes["id"]}


def local_input(moment: dt.datetime, zone) -> str:
    """A datetime-local input's value in the hospital's zone."""
    return moment.astimezone(zone).strftime("%Y-%m-%dT%H:%M")


async def test_a_question_escalated_answered_by_the_department_called_back_and_closed_by_the_survey(
    controller_factory, phone_factory, asterisk, browser
):
    controller = await controller_factory(
        wrap_up=30.0, ivr={"enabled": False}, workorders={"kb_sample": ""},
        outbound={"agent_ring_seconds": 8, "caller_ring_seconds": 8, "survey_timeout": 8})
    departments = await seed(controller)
    work = controller[wo_keys.WORKORDERS]
    agent_phone = await phone_factory("1001", answer="manual")
    patient = await phone_factory(PATIENT, answer="manual")
    await eventually(lambda: controller[keys.ADAPTER].acd.agents.get("1001") is not None, timeout=5,
                     message="1001 logged in")
    operator = await browser_login(browser, controller.url, "op1")
    await operator.wait_for_selector("#live-status[data-up='1']")
    await operator.wait_for_selector("#state[data-state='available']")

    # The patient calls; the operator answers and escalates the question to 呼吸科 from the form.
    await patient.dial(asterisk.asterisk.hotline_number)
    await agent_phone.wait_event("CALL_INCOMING", timeout=5)
    await operator.wait_for_selector("#pop[data-shown='1']", timeout=2000)
    await agent_phone.accept()
    await patient.wait_event("CALL_ESTABLISHED", timeout=5)
    await operator.wait_for_selector("#state[data-state='on_call']")
    call_id = controller[keys.ADAPTER].acd.agents["1001"].call_id
    await operator.select_option("#f-category", "medical")
    await operator.fill("#f-notes", QUESTION)
    promise = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    await operator.fill("#f-promised", local_input(promise, controller.settings.hospital.zone))
    await operator.select_option("#f-escalate", str(departments["lungs"]))
    await operator.uncheck("#f-escalate-call")  # the department reads it on its desk; nobody is rung
    await patient.hangup()
    await operator.wait_for_selector("#state[data-state='wrap_up']")
    await operator.click("#f-save")
    await operator.wait_for_selector(f"#f-status[data-saved='{call_id}']")
    ticket_id = (await controller[keys.TICKETS].get(call_id)).id
    escalated = await work.get(ticket_id)
    assert escalated["status"] == "escalated" and escalated["department"]["name"] == "呼吸科"
    assert escalated["notes"] == QUESTION and escalated["due_at"] is not None

    # The 呼吸科 specialist lands on the desk, opens the ticket and replies in writing.
    lung = await browser_login(browser, controller.url, "lung")
    assert lung.url.endswith("/desk")
    refused_requests: list[str] = []  # the desk asks for nothing the specialist may not have (recordings)
    lung.on("response", lambda r: refused_requests.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    row = f"#desk-tickets tr[data-ticket='{ticket_id}']"
    await lung.wait_for_selector(row)
    assert QUESTION in await lung.text_content(f"{row} td.question")
    await lung.click(f"{row} a")
    await lung.wait_for_selector("#desk-detail:not([hidden])")
    assert await lung.text_content("#d-question") == QUESTION
    await lung.fill("#f-reply-text", REPLY)
    await lung.click("#f-reply-send")
    await lung.wait_for_selector("#d-history tr[data-kind='reply']")
    assert REPLY in await lung.text_content("#d-history tr[data-kind='reply']")  # shown as text...
    assert await lung.evaluate("window.__xss") is None  # ...never run
    assert await lung.locator("#d-history img").count() == 0
    await lung.screenshot(path=artifact("loop-desk-replied.png"), full_page=True)
    assert refused_requests == []

    # The 眼科 specialist sees none of it, and the API refuses the ticket with a clear error.
    eye = await browser_login(browser, controller.url, "eye")
    await eye.wait_for_selector("#desk-empty:not([hidden])")
    assert await eye.locator(row).count() == 0
    refused = await eye.evaluate(
        f"fetch('/api/desk/tickets/{ticket_id}').then(async r => [r.status, await r.json()])")
    assert refused[0] == 403 and refused[1]["error"] == "desk.not_your_department", refused
    assert "呼吸科" in refused[1]["message"]

    # The operator's to-do panel shows the callback task with the reply, as text.
    task_item = f"#todo-list li[data-kind='task'][data-ticket='{ticket_id}']"
    await operator.wait_for_selector(task_item, timeout=10000)
    assert REPLY in await operator.text_content(f"{task_item} .reason")
    assert await operator.evaluate("window.__xss") is None
    await operator.screenshot(path=artifact("loop-todo.png"), full_page=True)

    # "Call back": the operator's phone rings first, then the patient's; they talk.
    commands = await AgiCommands.watch(controller[keys.AMI])
    await operator.click(f"{task_item} button[data-op='call-back']")
    await agent_phone.wait_event("CALL_INCOMING", timeout=10)
    await agent_phone.accept()
    await patient.wait_event("CALL_INCOMING", timeout=10)
    await patient.accept()
    await patient.wait_event("CALL_ESTABLISHED", timeout=5)
    # The form holds the ticket (opened from the to-do panel): the operator marks it solved.
    await operator.wait_for_selector(f"#ticket-id:text-is('#{ticket_id}')", timeout=5000)
    await operator.check("#f-solved")
    await operator.click("#f-save")

    async def solved():
        return (await work.get(ticket_id))["status"] == "solved" or None

    await eventually(solved, timeout=10, message="the ticket solved from the form")
    await asyncio.sleep(0.5)  # they talk
    await agent_phone.hangup()  # the patient goes on to the survey
    await commands.next(r"^GET DATA ", timeout=10)
    await patient.send_dtmf("4")

    async def closed():
        ticket = await work.get(ticket_id)
        return ticket if ticket["status"] == "closed" else None

    ticket = await eventually(closed, timeout=15, message="the survey closes the ticket")
    assert ticket["satisfaction"] == 4 and ticket["close_reason"] == "satisfied"
    steps = [(c["kind"], c["outcome"], c["agent_id"]) for c in ticket["contacts"] if c["kind"] == "status"]
    assert ("status", "escalated", "op1") in steps and ("status", "solved", "op1") in steps, steps
    [reply] = [c for c in ticket["contacts"] if c["kind"] == "reply"]
    assert reply["text"] == REPLY and reply["agent_id"] == "lung"
    [survey] = [c for c in ticket["contacts"] if c["kind"] == "survey"]
    assert survey["outcome"] == "4" and survey["details"]["via"] == "ivr"
    callbacks = [c for c in ticket["contacts"] if c["kind"] == "callback" and c["outcome"] == "answered"]
    assert callbacks and callbacks[-1]["agent_id"] == "1001" and callbacks[-1]["number"] == PATIENT
    [task] = [t for t in ticket["tasks"] if t["kind"] == "callback"]
    assert task["state"] == "done" and task["details"]["reply"] == REPLY

    # Still nothing on the other department's desk, before or after the loop closed.
    await eye.reload()
    await eye.wait_for_selector("#desk-empty:not([hidden])")
    assert await eye.locator(row).count() == 0
