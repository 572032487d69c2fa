"""Outbound calls on the real Asterisk with real SIP phones: escalation, callback with survey, abandoned calls.

Caller endpoints of the test Asterisk stand in for outside numbers: ``outbound.dial`` is
``PJSIP/{number}``, so a department's "office phone" 2003 and a specialist's "mobile" 2004 are
phones registered by the test.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt

import pytest

from callcenter import keys
from callcenter.settings import DatabaseSettings
from callcenter.workorders import keys as wo_keys
from callcenter.workorders.service import Change
from harness import eventually
from harness.agi_commands import AgiCommands

pytestmark = pytest.mark.e2e


class Controller:
    """The controller in the test's event loop (as tests/conftest.py's, with our own settings)."""

    def __init__(self, settings) -> None:
        self.settings, self.runner, self.app = settings, None, None

    async def start(self) -> Controller:
        from aiohttp import web

        from callcenter.app import create_app

        self.app = create_app(self.settings)
        self.runner = web.AppRunner(self.app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, self.settings.web.host, self.settings.web.port).start()
        assert await self.app[keys.AMI].wait_connected(10)
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    def __getitem__(self, key):
        return self.app[key]


@pytest.fixture
async def controller(asterisk, db_url):
    """A controller with short outbound ring times and no IVR (callers go straight to the ACD)."""
    settings = dataclasses.replace(
        asterisk,
        database=DatabaseSettings(url=db_url),
        ivr=dataclasses.replace(asterisk.ivr, enabled=False),
        workorders=dataclasses.replace(asterisk.workorders, kb_sample=""),
        outbound=dataclasses.replace(asterisk.outbound, office_ring_seconds=3, mobile_ring_seconds=8,
                                     agent_ring_seconds=8, caller_ring_seconds=8, survey_timeout=6,
                                     escalation_ack_timeout=6),
    )
    started = await Controller(settings).start()
    yield started
    await started.stop()


async def answered_ticket(controller, uid: str, number: str) -> int:
    """A ticket as if the caller had talked to operator 1001 a minute ago."""
    tickets = controller[keys.TICKETS]
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    tid = await tickets.open_for_arrival(uid, number, "", "PJSIP/x", now)
    await tickets.mark_answered(uid, "1001", now + dt.timedelta(seconds=2))
    await tickets.mark_ended(uid, now + dt.timedelta(seconds=40), "agent")
    return tid


async def test_escalation_rings_the_office_then_the_specialist_who_acknowledges(controller, phone_factory):
    office = await phone_factory("2003", answer="manual")  # rings, nobody picks up
    mobile = await phone_factory("2004", answer="manual", answer_after=0.5)
    directory, work = controller[wo_keys.DIRECTORY], controller[wo_keys.WORKORDERS]
    dep = await directory.save_department({"name": "呼吸科", "office_phone": "2003"})
    await directory.save_specialist({"name": "王医生", "mobile": "2004", "rank": 1}, department_id=dep["id"])
    tid = await answered_ticket(controller, "esc-1", "13800001111")
    promise = dt.datetime.now(dt.UTC) + dt.timedelta(hours=4)
    await work.escalated(tid, dep["id"], promise, "op1")

    commands = await AgiCommands.watch(controller[keys.AMI])
    started = await controller[wo_keys.OUTBOUND].escalate(tid, dep["id"], "op1", "家长询问肺功能检查结果")
    assert [t["number"] for t in started["targets"]] == ["2003", "2004"]
    await office.wait_event("CALL_INCOMING", timeout=5)
    await mobile.wait_event("CALL_INCOMING", timeout=10)  # after the office rang out
    await mobile.wait_event("CALL_ESTABLISHED", timeout=5)
    # beep and the ticket number twice (no key stops them), then the key once Asterisk asks for it
    await commands.next(r"^GET DATA beep ", timeout=15)
    await mobile.send_dtmf("1")

    async def finished():
        ticket = await work.get(tid)
        [esc] = [c for c in ticket["contacts"] if c["kind"] == "escalation"]
        return (ticket, esc) if esc["outcome"] in ("reached", "nobody_reached") else None

    ticket, esc = await eventually(finished, timeout=25, message="escalation finished")
    assert esc["outcome"] == "reached" and esc["reached"] == "王医生" and esc["number"] == "2004"
    attempts = esc["details"]["attempts"]
    assert [(a["role"], a["outcome"]) for a in attempts] == [("office", "no_answer"), ("specialist", "answered")]
    assert esc["details"]["acknowledged"] is True
    assert ticket["status"] == "escalated" and ticket["department"]["name"] == "呼吸科"
    assert not office.has_event("CALL_ESTABLISHED")


async def test_callback_rings_the_operator_then_the_caller_then_records_the_survey(controller, phone_factory):
    operator = await phone_factory("1001", answer="manual")
    caller = await phone_factory("2005", answer="manual")
    work = controller[wo_keys.WORKORDERS]
    tid = await answered_ticket(controller, "cb-1", "2005")
    promise = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    await work.update(tid, Change({"promised_reply_at": promise, "category": "reports"}, status="in_progress"), "op1")
    await work.update(tid, Change({}, status="solved"), "op1")
    await work.update(tid, Change({}, status="callback_due"), "op1")
    task = await work.create_task(tid, "callback", "2005", agent_id="1001")
    popped = []
    commands = await AgiCommands.watch(controller[keys.AMI])
    work.listeners.append(lambda event, data: popped.append((event, data.get("ticket_id"))))

    await controller[wo_keys.OUTBOUND].callback(tid, "1001", task_id=task["id"], by="op1")
    incoming = await operator.wait_event("CALL_INCOMING", timeout=5)
    assert not caller.has_event("CALL_INCOMING")  # the operator first
    await operator.accept()
    await caller.wait_event("CALL_INCOMING", timeout=10)
    assert ("callback.operator_answered", tid) in popped  # the page pops the ticket
    await caller.accept()
    await caller.wait_event("CALL_ESTABLISHED", timeout=5)
    await asyncio.sleep(1.0)  # they talk
    await operator.hangup()  # the caller goes on to the survey
    await commands.next(r"^GET DATA ", timeout=10)  # the survey asks (its prompt or a beep)
    await caller.send_dtmf("4")

    async def surveyed():
        ticket = await work.get(tid)
        return ticket if ticket["satisfaction"] is not None else None

    ticket = await eventually(surveyed, timeout=15, message="survey recorded")
    assert ticket["satisfaction"] == 4 and ticket["status"] == "closed" and ticket["close_reason"] == "satisfied"
    await caller.wait_event("CALL_CLOSED", timeout=10)

    async def callback_written():
        t = await work.get(tid)
        [cb] = [c for c in t["contacts"] if c["kind"] == "callback"]
        return (t, cb) if cb["outcome"] not in ("ringing_operator", "dialing_caller") else None

    ticket, cb = await eventually(callback_written, timeout=10, message="callback outcome")
    assert cb["outcome"] == "answered" and cb["agent_id"] == "1001" and cb["number"] == "2005"
    [survey] = [c for c in ticket["contacts"] if c["kind"] == "survey"]
    assert survey["details"]["via"] == "ivr" and survey["outcome"] == "4"
    [done] = [t for t in ticket["tasks"] if t["id"] == task["id"]]
    assert done["state"] == "done" and done["attempts"] == 1
    assert "2005" in str(incoming)  # the operator's display shows whom they are calling


async def test_an_abandoned_call_becomes_a_callback_task(controller, phone_factory, asterisk):
    caller = await phone_factory("2006", answer="manual")  # no operator is logged in: the caller waits
    await caller.dial(asterisk.asterisk.hotline_number)
    await caller.wait_event("CALL_ESTABLISHED", timeout=10)
    await eventually(lambda: controller[keys.ADAPTER].acd.waiting(), timeout=10, message="the caller waiting")
    await caller.hangup()
    work = controller[wo_keys.WORKORDERS]

    async def task():
        tasks = [t for t in await work.tasks(kind="abandoned") if t["number"] == "2006"]
        return tasks or None

    [t] = await eventually(task, timeout=10, message="callback task of the abandoned call")
    ticket = await work.get(t["ticket_id"])
    assert ticket["call_status"] == "abandoned" and ticket["caller_number"] == "2006"
    assert ticket["promised_reply_at"] is not None and ticket["needs_promise"] is False
    assert t["state"] == "pending" and t["details"]["call_ticket_id"] == ticket["id"]
