"""The controller stops while calls arrive: callers still reach agents through app_queue, and once
the controller is back every one of those calls has a ticket (from queue_log)."""

from __future__ import annotations

import asyncio

import pytest

from callcenter import keys
from harness import eventually

pytestmark = pytest.mark.e2e


async def tickets_by_caller(controller) -> dict:
    return {t.caller_number: t for t in await controller[keys.TICKETS].list_recent()}


async def test_calls_while_controller_is_down_get_tickets_when_it_is_back(controller_factory, phone_factory, asterisk):
    first = await controller_factory()
    agents = [await phone_factory(a, answer="auto") for a in ("1001", "1003")]
    callers = [await phone_factory(c, answer="manual") for c in ("2004", "2005")]
    await first.stop()  # the controller goes away; Asterisk and the phones stay

    for caller in callers:
        await caller.dial(asterisk.asterisk.hotline_number)
    for caller in callers:
        await caller.wait_event("CALL_ESTABLISHED", timeout=10)
    for agent in agents:
        await agent.wait_event("CALL_ESTABLISHED", timeout=10)
    await asyncio.sleep(1.0)
    for caller in callers:
        await caller.hangup()
        await caller.wait_event("CALL_CLOSED", timeout=5)

    second = await controller_factory()

    async def both_completed():
        tickets = await tickets_by_caller(second)
        done = {n: t for n, t in tickets.items() if t.ended_at is not None}
        return done if set(done) == {"2004", "2005"} else None

    tickets = await eventually(both_completed, timeout=10, message="tickets for both fallback calls")
    # queue_log is shared by the whole test session: count only this test's callers
    mine = [t for t in await second[keys.TICKETS].list_recent() if t.caller_number in ("2004", "2005")]
    assert len(mine) == 2
    for ticket in tickets.values():
        assert ticket.source == "fallback_queue"
        assert ticket.agent_id in ("1001", "1003")
        assert ticket.call_status == "completed"
        assert ticket.hangup_by == "caller"
        assert ticket.answered_at is not None
        assert ticket.talk_seconds == pytest.approx(1.0, abs=1.0)
    assert {t.agent_id for t in tickets.values()} == {"1001", "1003"}


async def test_caller_on_hold_when_controller_stops_moves_to_the_fallback_queue(controller_factory, phone_factory, asterisk):
    first = await controller_factory()
    caller = await phone_factory("2006", answer="manual")
    await caller.dial(asterisk.asterisk.hotline_number)  # no agent yet: the caller waits on hold
    await caller.wait_event("CALL_ESTABLISHED", timeout=5)
    ticket = await eventually(lambda: _of_caller(first, "2006"), timeout=5, message="ticket at arrival")
    await first.stop()

    agent = await phone_factory("1004", answer="auto")  # an operator comes back: app_queue serves the caller
    await agent.wait_event("CALL_ESTABLISHED", timeout=10)
    await asyncio.sleep(0.5)
    await agent.hangup()
    await caller.wait_event("CALL_CLOSED", timeout=5)

    second = await controller_factory()

    async def completed():
        rows = [t for t in await second[keys.TICKETS].list_recent() if t.caller_number == "2006"]
        return rows if rows and all(t.ended_at is not None for t in rows) else None

    [after] = await eventually(completed, timeout=10, message="the same ticket completed from queue_log")
    assert after.id == ticket.id  # one call, one ticket: updated, not duplicated
    assert after.source == "controller"
    assert after.agent_id == "1004"
    assert after.hangup_by == "agent"
    assert after.call_status == "completed"


async def _of_caller(controller, number: str):
    rows = [t for t in await controller[keys.TICKETS].list_recent() if t.caller_number == number]
    return rows[0] if len(rows) == 1 else None


async def test_connected_call_that_ends_while_the_controller_is_away_is_closed_on_restart(controller_factory, phone_factory, asterisk):
    first = await controller_factory()
    agent = await phone_factory("1002", answer="auto")
    await eventually(lambda: "1002" in first[keys.ADAPTER].acd.agents, timeout=5, message="agent in")
    caller = await phone_factory("2003", answer="manual")
    await caller.dial(asterisk.asterisk.hotline_number)
    await agent.wait_event("CALL_ESTABLISHED", timeout=5)
    await eventually(lambda: _of_caller(first, "2003"), timeout=5, message="ticket")
    await first.stop()  # the conversation goes on in Asterisk
    await asyncio.sleep(0.5)
    assert not caller.has_event("CALL_CLOSED")
    await caller.hangup()
    await agent.wait_event("CALL_CLOSED", timeout=5)

    second = await controller_factory()

    async def closed():
        ticket = await _of_caller(second, "2003")
        return ticket if ticket and ticket.ended_at else None

    ticket = await eventually(closed, timeout=10, message="ticket closed after restart")
    assert ticket.agent_id == "1002" and ticket.answered_at is not None
    assert ticket.hangup_by == "system"
    assert ticket.details["end"]["observed"] == "after_restart"
    assert ticket.call_status == "completed"
