"""Keep your place on the real Asterisk with real phones: press 1 on hold, hang up, be called back in turn.

One operator (1001) is talking to a first caller; a second caller waits, hears the callback offer
(``queue_callback_offer``, after ``[acd] callback_offer_after``), presses 1 during it, hears the
confirmation and is hung up.  When the operator frees, their phone rings first; once they answer,
the caller's phone rings.  Caller endpoints of the test Asterisk stand in for outside numbers (the
dialling policy dials them as internal endpoints).
"""

from __future__ import annotations

import asyncio

import pytest
from harness import eventually
from harness.agi_commands import AgiCommands
from harness.controller import Controller

from callcenter import keys
from callcenter.acd import AgentState, CallbackGaveUp
from callcenter.web import keys as web_keys
from callcenter.workorders import keys as wo_keys

pytestmark = pytest.mark.e2e

KEPT = {"callback_offer_after": 2.0, "announce_every": 2.0, "callback_attempts": 2, "callback_retry_after": 3.0,
        "wrap_up": 0.0, "pair_when_idle": False}


@pytest.fixture
def start_controller(controller_factory):
    """Start a controller with callbacks offered after 2 s on hold, no IVR (callers go straight to the ACD)."""

    async def start(caller_ring_seconds: float = 15.0) -> Controller:
        return await controller_factory(
            ivr={"enabled": False},
            workorders={"kb_sample": ""},
            lists={"auto_callback": False},  # no automatic callback meanwhile
            outbound={"caller_ring_seconds": caller_ring_seconds},
            **KEPT,
        )

    return start


async def keep_place(controller, commands: AgiCommands, operator, talking, caller, hotline: str,
                     via: str = "announcement") -> str:
    """The operator talks to ``talking``; ``caller`` waits, presses 1 (during the offer, or on hold after
    it: AMI DTMFEnd) and is hung up; their call id."""
    adapter = controller[keys.ADAPTER]
    await eventually(lambda: "1001" in adapter.acd.agents and adapter.acd.agents["1001"].state == "available",
                     timeout=5, message="1001 available")
    await talking.dial(hotline)
    await operator.wait_event("CALL_INCOMING", timeout=10)
    await operator.wait_event("CALL_ESTABLISHED", timeout=10)
    await caller.dial(hotline)
    await caller.wait_event("CALL_ESTABLISHED", timeout=10)
    [waiting] = await eventually(lambda: adapter.acd.waiting(), timeout=10, message="the caller waiting")
    offer = await commands.prompt("zh", "queue_callback_offer", timeout=10)
    assert offer.uniqueid == waiting.call_id and offer.command.rstrip().endswith('"1"')
    if via == "hold":  # the offer ends and the music is back: the key reaches us only as AMI DTMFEnd
        await commands.next(r"^SET MUSIC ON", channel=offer.channel, timeout=15)
        await asyncio.sleep(0.5)
    await caller.send_dtmf("1")
    confirm = await commands.prompt("zh", "queue_callback_confirm", timeout=10)
    assert confirm.uniqueid == waiting.call_id
    await caller.wait_event("CALL_CLOSED", timeout=15)
    call_id = waiting.call_id
    call = adapter.acd.calls[call_id]
    assert call.kept_at is not None and call.state == "waiting" and adapter.acd.position(call_id) == 1
    assert controller[web_keys.WALLBOARD].live_board()["callbacks_waiting"] == 1
    tickets = controller[keys.TICKETS]
    assert await tickets.flush(5)
    ticket = await tickets.get(call_id)
    assert ticket.ended_at is None and ticket.details["callback"]["outcome"] == "waiting"
    assert adapter.acd.agents["1001"].state == AgentState.ON_CALL  # no callback while the operator talks
    return call_id


@pytest.mark.parametrize("via", ["announcement", "hold"])
async def test_press_1_hang_up_the_operator_rings_then_the_caller_they_talk_one_ticket(start_controller, phone_factory,
                                                                                        asterisk, via):
    controller = await start_controller()
    commands = await AgiCommands.watch(controller[keys.AMI])
    operator = await phone_factory("1001", answer="manual", answer_after=0.5)
    talking = await phone_factory("2001", answer="manual")
    caller = await phone_factory("2002", answer="manual")
    call_id = await keep_place(controller, commands, operator, talking, caller, asterisk.asterisk.hotline_number, via)

    await talking.hangup()  # the operator frees: the kept place is next
    await operator.wait_event("CALL_CLOSED", timeout=10)
    incoming = await operator.wait_event("CALL_INCOMING", timeout=10)
    assert "2002" in str(incoming)  # the operator's display shows whom they call back
    assert not caller.has_event("CALL_INCOMING"), "the caller rang before the operator"
    await operator.wait_event("CALL_ESTABLISHED", timeout=10)
    await caller.wait_event("CALL_INCOMING", timeout=20)  # then the caller
    await caller.accept()
    await caller.wait_event("CALL_ESTABLISHED", timeout=10)
    adapter = controller[keys.ADAPTER]
    await eventually(lambda: call_id in adapter.kept and adapter.kept[call_id].answered_at, timeout=5,
                     message="the callback answered")
    await asyncio.sleep(1.0)  # they talk
    await caller.hangup()
    await operator.wait_event("CALL_CLOSED", timeout=10)

    tickets = controller[keys.TICKETS]

    async def ended():
        ticket = await tickets.get(call_id)
        return ticket if ticket is not None and ticket.ended_at is not None else None

    ticket = await eventually(ended, timeout=15, message="the kept call's ticket ended")
    assert ticket.call_status == "completed" and ticket.agent_id == "1001" and ticket.hangup_by == "caller"
    story = ticket.details["callback"]
    assert story["outcome"] == "answered" and story["position"] == 1 and story["waited_seconds"] >= 2.0
    assert [(a["agent_id"], a["outcome"]) for a in story["attempts"]] == [("1001", "answered")]
    assert ticket.details["end"]["stage"] == "callback"
    mine = [t for t in await tickets.list_recent(100) if t.caller_number == "2002"]
    assert [t.uniqueid for t in mine] == [call_id], "exactly one ticket records the call and its callback"
    work = controller[wo_keys.WORKORDERS]
    assert not [t for t in await work.tasks(kind="abandoned") if t["number"] == "2002"]
    assert call_id not in adapter.kept and call_id not in adapter.acd.calls
    await eventually(lambda: adapter.acd.agents["1001"].state == "available", timeout=5, message="operator free")


async def test_a_callback_the_caller_does_not_answer_is_retried_then_becomes_an_abandoned_call_task(
    start_controller, phone_factory, asterisk
):
    controller = await start_controller(caller_ring_seconds=5.0)
    commands = await AgiCommands.watch(controller[keys.AMI])
    operator = await phone_factory("1001", answer="manual", answer_after=0.5)
    talking = await phone_factory("2001", answer="manual")
    caller = await phone_factory("2003", answer="manual")  # never picks up the callback
    call_id = await keep_place(controller, commands, operator, talking, caller, asterisk.asterisk.hotline_number)
    adapter = controller[keys.ADAPTER]
    gave_up: list = []
    adapter.listeners.append(lambda command: gave_up.append(command) if isinstance(command, CallbackGaveUp) else None)

    await talking.hangup()
    await operator.wait_event("CALL_CLOSED", timeout=10)
    for attempt in (1, 2):
        await operator.wait_event("CALL_INCOMING", timeout=15)
        await operator.wait_event("CALL_ESTABLISHED", timeout=10)
        await caller.wait_event("CALL_INCOMING", timeout=15)  # rings out: nobody answers
        await operator.wait_event("CALL_CLOSED", timeout=15)  # the operator is released after the attempt
        agent = adapter.acd.agents["1001"]
        assert agent.missed_in_row == 0 and agent.state != AgentState.PAUSED, "the operator was charged"
        if attempt == 1:
            assert adapter.acd.calls[call_id].not_before is not None  # waits its retry pause, in its place
    await eventually(lambda: gave_up, timeout=10, message="the core gave up")
    assert gave_up == [CallbackGaveUp(call_id, 2)]

    work = controller[wo_keys.WORKORDERS]

    async def task():
        tasks = [t for t in await work.tasks(kind="abandoned") if t["number"] == "2003"]
        return tasks or None

    [t] = await eventually(task, timeout=15, message="the abandoned-call task")
    ticket = await controller[keys.TICKETS].get(call_id)
    assert ticket.call_status == "abandoned" and ticket.answered_at is None
    assert t["state"] == "pending" and t["details"]["call_ticket_id"] == ticket.id
    story = ticket.details["callback"]
    assert story["outcome"] == "unreached"
    assert [(a["agent_id"], a["outcome"]) for a in story["attempts"]] == [("1001", "no_answer")] * 2
    assert len([e for e in caller.events if e.get("type") == "CALL_ESTABLISHED"]) == 1  # only their own call
