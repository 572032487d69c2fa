"""A hotline call through the controller on the real Asterisk, with real SIP phones.

Caller phone dials the hotline -> the controller's ACD rings an agent -> the agent answers ->
they hang up -> exactly one ticket, whose caller, agent, answer time and duration match what the
phones did.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import aiohttp
import pytest

from callcenter import keys
from harness import eventually

pytestmark = pytest.mark.e2e


def wall(monotonic_at: float) -> float:
    """Convert a phone event's monotonic timestamp to wall-clock seconds."""
    return time.time() - (time.monotonic() - monotonic_at)


async def of_caller(tickets, number: str) -> list:
    """The tickets the controller opened for calls from ``number`` (not the fallback queue's)."""
    return [t for t in await tickets.list_recent() if t.caller_number == number and t.source == "controller"]


async def agent_available(controller, agent_id: str):
    agents = controller[keys.ADAPTER].acd.agents
    return agent_id in agents and agents[agent_id].state == "available"


async def test_call_reaches_agent_and_ticket_matches_the_phones(controller_factory, phone_factory, asterisk):
    controller = await controller_factory()
    agent = await phone_factory("1002", answer="manual")
    caller = await phone_factory("2002", answer="manual")
    await eventually(lambda: agent_available(controller, "1002"), timeout=5, message="agent 1002 available")

    await caller.dial(asterisk.asterisk.hotline_number)
    await agent.wait_event("CALL_INCOMING", timeout=10)
    await asyncio.sleep(0.4)  # let it ring a little, well inside the two-ring window
    await agent.accept()
    answered = await agent.wait_event("CALL_ESTABLISHED", timeout=5)
    await caller.wait_event("CALL_ESTABLISHED", timeout=5)
    await asyncio.sleep(1.5)  # talk
    await agent.hangup()
    closed = await caller.wait_event("CALL_CLOSED", timeout=5)

    tickets = controller[keys.TICKETS]

    async def ended_ticket():
        rows = await of_caller(tickets, "2002")
        return rows if rows and rows[0].ended_at is not None else None

    rows = await eventually(ended_ticket, timeout=5, message="ticket ended")
    assert len(rows) == 1  # one call, one ticket
    ticket = rows[0]
    assert ticket.caller_number == "2002"
    assert ticket.agent_id == "1002"
    assert ticket.node == "pbx-test"
    assert ticket.call_status == "completed"
    assert ticket.hangup_by == "agent"
    assert ticket.source == "controller"
    assert abs(ticket.answered_at.timestamp() - wall(answered["at"])) < 0.5
    talk = closed["at"] - answered["at"]
    assert ticket.talk_seconds == pytest.approx(talk, abs=0.5)
    assert ticket.arrived_at < ticket.answered_at < ticket.ended_at <= datetime.now(UTC)


async def test_health_reports_ami_and_database(controller_factory):
    controller = await controller_factory()
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{controller.url}/health") as response:
            body = await response.json()
    # ok: AMI answered a ping lately, resynced, and the database answers; the details (AMI, database,
    # agents) are for a logged-in supervisor (tests/component/test_ami_health.py)
    assert response.status == 200
    assert body == {"status": "ok", "node": controller.settings.node, "role": "leader"}


async def test_caller_hanging_up_while_waiting_is_an_abandoned_ticket(controller_factory, phone_factory, asterisk):
    controller = await controller_factory()
    caller = await phone_factory("2003", answer="manual")  # no agent registered: the caller waits
    await caller.dial(asterisk.asterisk.hotline_number)
    await caller.wait_event("CALL_ESTABLISHED", timeout=5)  # answered by the controller, on hold
    await eventually(lambda: controller[keys.ADAPTER].acd.waiting(), timeout=5, message="the caller waiting")
    await caller.hangup()
    tickets = controller[keys.TICKETS]

    async def ended():
        rows = await of_caller(tickets, "2003")
        return rows if rows and rows[0].ended_at else None

    [ticket] = await eventually(ended, timeout=5, message="abandoned ticket")
    assert ticket.call_status == "abandoned"
    assert ticket.agent_id is None
    assert ticket.hangup_by == "caller"
    assert ticket.caller_number == "2003"
