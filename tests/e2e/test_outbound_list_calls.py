"""Scheduled outbound lists on the real Asterisk: an imported reminder is dialled in an off-peak window,
the patient's phone answers and hears the message, the attempt is logged; a patient who does not
answer is tried again after the retry delay and then no more (the bound).

The runner's clock is a test clock that starts on a Monday at 10:00 hospital time (inside the
09:30-11:30 window) and runs at real speed; ``advance`` jumps it forward (the retry delay).
Caller endpoints of the test Asterisk stand in for the patients' phones (``PJSIP/{number}``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import time

import pytest

from callcenter import keys
from callcenter.demo.softphone import SoftphoneError
from callcenter.ivr.prompts import sound_path
from callcenter.outbound import keys as ob_keys
from callcenter.settings import DatabaseSettings, HospitalSettings
from callcenter.workorders import keys as wo_keys
from harness import eventually
from harness.agi_commands import AgiCommands
from harness.controller import Controller
from test_ivr import best_match, envelope, read_wav, received_audio

pytestmark = pytest.mark.e2e

BJ = dt.timezone(dt.timedelta(hours=8))
MONDAY_10 = dt.datetime(2025, 3, 10, 10, 0, tzinfo=BJ)


class HospitalClock:
    """Hospital time that starts at ``start`` and runs at real speed; ``advance`` jumps ahead."""

    def __init__(self, start: dt.datetime) -> None:
        self.start, self.real0, self.offset = start, time.monotonic(), dt.timedelta(0)

    def __call__(self) -> dt.datetime:
        return (self.start + dt.timedelta(seconds=time.monotonic() - self.real0) + self.offset).astimezone(dt.UTC)

    def advance(self, **delta: float) -> None:
        self.offset += dt.timedelta(**delta)


def list_settings(asterisk, db_url, **lists):
    defaults = dict(per_hour=3600, concurrent=2, ring_seconds=4, max_attempts=2, retry_no_answer_minutes=1,
                    key_timeout=1.5, auto_callback=False, check_seconds=0.5)
    return dataclasses.replace(
        asterisk,
        database=DatabaseSettings(url=db_url),
        hospital=HospitalSettings(timezone="Asia/Shanghai"),
        workorders=dataclasses.replace(asterisk.workorders, kb_sample=""),
        outbound=dataclasses.replace(asterisk.outbound, agent_ring_seconds=8, caller_ring_seconds=8),
        lists=dataclasses.replace(asterisk.lists, **{**defaults, **lists}),
    )


@pytest.fixture
async def controller(asterisk, db_url):
    started = await Controller(list_settings(asterisk, db_url)).start()
    yield started
    await started.stop()


async def test_a_reminder_is_dialled_heard_and_logged_and_no_answer_is_retried_up_to_the_bound(
        controller, phone_factory, asterisk, tmp_path):
    patient = await phone_factory("2005", answer="manual", answer_after=0.5, record_to=tmp_path / "rec")
    absent = await phone_factory("2006", answer="manual")  # rings, nobody picks up
    runner, lists = controller[ob_keys.RUNNER], controller[ob_keys.LISTS]
    clock = HospitalClock(MONDAY_10)
    runner.clock = clock
    report = await lists.import_csv("type,phone,date,name\nreminder,2005,2025-03-11,张小宝\nreminder,2006,2025-03-11,李小贝\n",
                                    name="e2e", now=clock())
    assert report["created"] == 2
    runner.wake()

    await patient.wait_event("CALL_INCOMING", timeout=10)
    await absent.wait_event("CALL_INCOMING", timeout=10)
    await patient.wait_event("CALL_ESTABLISHED", timeout=5)
    await patient.wait_event("CALL_CLOSED", timeout=90)  # message, "press 1" twice, goodbye, hang-up
    await patient.stop()  # closes the recording

    tasks = {t["number"]: t for t in await lists.tasks()}

    async def logged(number: str, count: int):
        detail = await lists.task(tasks[number]["id"])
        done = [a for a in detail["attempt_log"] if a["result"] != "calling"]
        return detail if len(done) >= count else None

    heard = await eventually(lambda: logged("2005", 1), timeout=10, message="reminder attempt logged")
    assert heard["state"] == "done" and heard["attempts"] == 1 and heard["result"] == "answered"
    [attempt] = heard["attempt_log"]
    assert attempt["result"] == "answered" and attempt["number"] == "2005" and attempt["ended_at"]
    assert attempt["details"]["message"] == "whole" and attempt["details"]["key"] is None
    started = dt.datetime.fromisoformat(attempt["started_at"]).astimezone(BJ)
    assert dt.time(9, 30) <= started.time() < dt.time(11, 30)  # inside the off-peak window

    # the patient really heard the reminder, to its end
    reference = sound_path(asterisk.sounds_path, "zh", "appointment_reminder")
    match = best_match(envelope(*read_wav(reference)), envelope(*read_wav(received_audio(tmp_path / "rec"))))
    print(f"reminder in the recording: {match}")
    assert match.correlation > 0.8 and match.tail_correlation > 0.7, match

    # the absent patient: no answer, retried after the delay (1 minute on the clock), then failed at the bound
    first = await eventually(lambda: logged("2006", 1), timeout=15, message="first no-answer logged")
    assert first["state"] == "pending" and first["attempt_log"][0]["result"] == "no_answer"
    retry_at = dt.datetime.fromisoformat(first["not_before"])
    assert retry_at - dt.datetime.fromisoformat(first["attempt_log"][0]["ended_at"]) == dt.timedelta(minutes=1)
    await absent.wait_event("CALL_CLOSED", timeout=5)
    clock.advance(seconds=61)
    runner.wake()
    await absent.wait_event("CALL_INCOMING", timeout=10)
    second = await eventually(lambda: logged("2006", 2), timeout=15, message="second no-answer logged")
    assert second["state"] == "failed" and second["attempts"] == 2
    assert [a["result"] for a in second["attempt_log"]] == ["no_answer", "no_answer"]
    clock.advance(minutes=30)
    runner.wake()
    await absent.wait_event("CALL_CLOSED", timeout=5)
    with pytest.raises(SoftphoneError):
        await absent.wait_event("CALL_INCOMING", timeout=4)  # the bound holds: no third call
    assert len((await lists.task(tasks["2006"]["id"]))["attempt_log"]) == 2


async def test_a_patient_who_presses_1_becomes_a_hotline_caller_with_a_ticket(controller, phone_factory):
    operator = await phone_factory("1001", answer="manual", answer_after=0.5)
    patient = await phone_factory("2005", answer="manual", answer_after=0.3)
    await eventually(lambda: "1001" in controller[keys.ADAPTER].acd.agents, timeout=5, message="operator logged in")
    runner, lists = controller[ob_keys.RUNNER], controller[ob_keys.LISTS]
    runner.clock = HospitalClock(MONDAY_10 + dt.timedelta(hours=5))  # 15:00, the afternoon window
    await lists.import_csv("type,phone,date,name\nfollowup,2005,2025-03-03,王小明\n", now=runner.clock())
    commands = await AgiCommands.watch(controller[keys.AMI])
    runner.wake()

    await patient.wait_event("CALL_ESTABLISHED", timeout=10)
    # Into the follow-up message: Asterisk has started playing it (a fixed sleep raced with the time
    # the controller took to get there; a key before STREAM FILE is thrown away and the message plays whole).
    await commands.prompt("zh", "followup_day7", timeout=10)
    await patient.send_dtmf("1")
    incoming = await operator.wait_event("CALL_INCOMING", timeout=10)
    assert "2005" in str(incoming)  # the operator's phone shows the patient
    await operator.wait_event("CALL_ESTABLISHED", timeout=5)
    await asyncio.sleep(0.5)
    await operator.hangup()
    [task] = await lists.tasks(kind="followup_day7")

    async def logged():
        detail = await lists.task(task["id"])
        return detail if detail["attempt_log"] and detail["attempt_log"][0]["result"] != "calling" else None

    detail = await eventually(logged, timeout=10, message="follow-up attempt logged")
    [attempt] = detail["attempt_log"]
    assert detail["state"] == "done" and attempt["result"] == "answered"
    assert attempt["details"]["message"] == "interrupted" and attempt["details"]["key"] == "1"
    assert attempt["details"]["to_operator"] is True and attempt["call_ticket_id"]
    ticket = await controller[wo_keys.WORKORDERS].get(attempt["call_ticket_id"])
    assert ticket["caller_number"] == "2005"

    async def ended():
        t = await controller[wo_keys.WORKORDERS].get(attempt["call_ticket_id"])
        return t if t["call_status"] == "completed" else None

    ticket = await eventually(ended, timeout=10, message="the operator call's ticket completed")
    assert ticket["agent_id"] == "1001"


async def test_an_abandoned_call_is_called_back_through_a_free_operator_automatically(asterisk, db_url, phone_factory):
    settings = list_settings(asterisk, db_url, auto_callback=True, callback_windows=("00:00-23:59",))
    controller = await Controller(settings).start()
    try:
        caller = await phone_factory("2006", answer="manual")
        await caller.dial(asterisk.asterisk.hotline_number)  # nobody is logged in: the caller waits, then gives up
        await caller.wait_event("CALL_ESTABLISHED", timeout=10)
        await eventually(lambda: controller[keys.ADAPTER].acd.waiting(), timeout=10, message="the caller waiting")
        await caller.hangup()
        work, lists = controller[wo_keys.WORKORDERS], controller[ob_keys.LISTS]
        [task] = await eventually(lambda: work.tasks(kind="abandoned"), timeout=10, message="callback task")

        operator = await phone_factory("1001", answer="manual", answer_after=0.5)  # a free operator appears
        incoming = await operator.wait_event("CALL_INCOMING", timeout=15)
        assert "2006" in str(incoming)
        await caller.wait_event("CALL_INCOMING", timeout=10)  # the operator first, then the caller
        await caller.accept()
        await caller.wait_event("CALL_ESTABLISHED", timeout=5)
        await asyncio.sleep(1.0)
        await operator.hangup()

        async def logged():
            detail = await lists.task(task["id"])
            return detail if detail["attempt_log"] and detail["attempt_log"][0]["result"] != "calling" else None

        detail = await eventually(logged, timeout=15, message="automatic callback logged")
        [attempt] = detail["attempt_log"]
        assert attempt["result"] == "answered" and attempt["agent_id"] == "1001"
        assert detail["state"] == "done" and detail["attempts"] == 1
        agent = controller[keys.ADAPTER].acd.agents["1001"]
        await eventually(lambda: not agent.phone_busy, timeout=5, message="the operator is free again")
    finally:
        await controller.stop()
