"""The controller stops while calls arrive: callers still reach agents through app_queue, and once
the controller is back every one of those calls has a ticket (from queue_log)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest

from callcenter import keys
from callcenter.acd import AgentState
from harness import eventually

pytestmark = pytest.mark.e2e


async def tickets_by_caller(controller, since: float = 0.0) -> dict:
    """The newest ticket of each caller number, of calls that arrived at ``since`` (epoch seconds) or later.

    queue_log is shared by the whole test session: other tests' calls that ended in the fallback
    queue (a caller still on the line when its controller stopped) come from the same numbers.
    """
    rows = [t for t in await controller[keys.TICKETS].list_recent() if t.arrived_at.timestamp() >= since]
    return {t.caller_number: t for t in reversed(rows)}  # list_recent is newest first


async def test_calls_while_controller_is_down_get_tickets_when_it_is_back(controller_factory, phone_factory, asterisk):
    first = await controller_factory()
    agents = [await phone_factory(a, answer="auto") for a in ("1001", "1003")]
    callers = [await phone_factory(c, answer="manual") for c in ("2004", "2005")]
    await first.stop()  # the controller goes away; Asterisk and the phones stay

    since = float(int(time.time()))  # queue_log times are whole seconds
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
        tickets = await tickets_by_caller(second, since)
        done = {n: t for n, t in tickets.items() if t.ended_at is not None}
        return done if set(done) == {"2004", "2005"} else None

    tickets = await eventually(both_completed, timeout=10, message="tickets for both fallback calls")
    # queue_log is shared by the whole test session: count only this test's calls
    mine = [t for t in await second[keys.TICKETS].list_recent()
            if t.caller_number in ("2004", "2005") and t.arrived_at.timestamp() >= since]
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


async def _ours(controller, number: str):
    """The caller's ticket from a call the controller took (queue_log, shared by the session, adds fallback ones)."""
    rows = [t for t in await controller[keys.TICKETS].list_recent() if t.caller_number == number and t.source == "controller"]
    return rows[0] if len(rows) == 1 else None


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
    hung_up = datetime.now(UTC)
    await agent.wait_event("CALL_CLOSED", timeout=5)
    await asyncio.sleep(2.5)  # the controller comes back later than the end: the end is the CDR's, not the sweep's

    second = await controller_factory()

    async def closed():
        ticket = await _of_caller(second, "2003")
        return ticket if ticket and ticket.ended_at else None

    ticket = await eventually(closed, timeout=10, message="ticket closed after restart")
    assert ticket.agent_id == "1002" and ticket.answered_at is not None
    assert ticket.hangup_by == "system"
    assert ticket.details["end"]["observed"] == "after_restart"
    assert ticket.details["end"]["source"] == "cdr"
    assert abs((_utc(ticket.ended_at) - hung_up).total_seconds()) < 1.5  # CDR times are whole seconds
    assert ticket.call_status == "completed"


async def test_call_still_connected_at_restart_is_followed_to_its_real_end(controller_factory, phone_factory, asterisk):
    first = await controller_factory()
    agent = await phone_factory("1001", answer="auto")
    await eventually(lambda: "1001" in first[keys.ADAPTER].acd.agents, timeout=5, message="agent in")
    caller = await phone_factory("2002", answer="manual")
    await caller.dial(asterisk.asterisk.hotline_number)
    await agent.wait_event("CALL_ESTABLISHED", timeout=5)
    await eventually(lambda: _ours(first, "2002"), timeout=5, message="ticket")
    await first.stop()  # the conversation goes on in Asterisk

    second = await controller_factory()
    adapter = second[keys.ADAPTER]
    # The operator is talking, not available: no new call is offered to them.
    await eventually(lambda: adapter.acd.agents.get("1001") and adapter.acd.agents["1001"].state == AgentState.ON_CALL,
                     timeout=5, message="operator on the adopted call")
    await asyncio.sleep(1.0)
    await caller.hangup()
    hung_up = datetime.now(UTC)
    await agent.wait_event("CALL_CLOSED", timeout=5)

    async def closed():
        ticket = await _ours(second, "2002")
        return ticket if ticket and ticket.ended_at else None

    ticket = await eventually(closed, timeout=10, message="ticket of the adopted call closed")
    assert ticket.hangup_by == "caller" and ticket.agent_id == "1001"
    assert abs((_utc(ticket.ended_at) - hung_up).total_seconds()) < 0.5  # the real hang-up, seen live
    assert "observed" not in ticket.details.get("end", {})
    await eventually(lambda: adapter.acd.agents["1001"].state == AgentState.AVAILABLE, timeout=5, message="operator free")
    assert adapter.violations() == []


async def test_operators_keep_their_chosen_state_across_a_restart(controller_factory, phone_factory):
    first = await controller_factory()
    for agent_id in ("1001", "1002", "1003"):
        await phone_factory(agent_id, answer="auto")
    adapter = first[keys.ADAPTER]
    await eventually(lambda: {"1001", "1002", "1003"} <= set(adapter.acd.agents), timeout=5, message="agents in")
    assert adapter.agent_op("1002", "pause", "lunch") and adapter.agent_op("1003", "logout")
    await eventually(lambda: adapter.states.unsaved == 0, timeout=5, message="states saved")
    await first.stop()

    second = await controller_factory()
    agents = second[keys.ADAPTER].acd.agents

    def restored():
        return {a: (agents[a].state, agents[a].pause_reason) for a in ("1001", "1002") if a in agents}

    await eventually(lambda: len(restored()) == 2, timeout=5, message="phones seen")
    assert restored() == {"1001": (AgentState.AVAILABLE, None), "1002": (AgentState.PAUSED, "lunch")}
    assert agents.get("1003") is None or agents["1003"].state == AgentState.LOGGED_OUT


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
