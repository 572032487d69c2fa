"""Automatic callbacks never stop or strand an operator: the runner on a real SQLite store and a real
Adapter (its ACD core) over a scripted AMI object.

The operator is reserved in the ACD the moment the callback is picked (before anything is awaited);
a database error, an unexpected exception or the runner stopping releases them, frees the slot and
re-reads the device states; the next look can offer the next callback.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError
from structlog.testing import capture_logs

from callcenter.acd import AgentLoggedIn
from callcenter.adapter import Adapter
from callcenter.exceptions import AmiError
from callcenter.outbound.lists import ListStore
from callcenter.outbound.runner import ListRunner
from callcenter.outbound.service import OutboundService
from callcenter.settings import Settings
from callcenter.store import open_database, session_factory
from callcenter.tickets import TicketService
from callcenter.workorders.departments import DirectoryService
from callcenter.workorders.service import WorkOrderService

BJ = dt.timezone(dt.timedelta(hours=8))
T0 = dt.datetime(2025, 3, 10, 9, 0, tzinfo=BJ)  # the abandoned calls
NOW = T0 + dt.timedelta(hours=1)  # inside the callback window (08:00-21:00 hospital time)
OPERATOR = "1001"


class ScriptedAmi:
    """What the Adapter and OutboundService use of AmiClient: event handlers, login and disconnect
    hooks, ``connected``, ``action``.

    Originate never answers (the operator's phone "rings" until the test ends); DeviceStateList
    reports the logged-in operators idle; with ``down`` every action raises as AmiClient does.
    """

    def __init__(self) -> None:
        self.handlers: dict[str, list[Any]] = {}
        self.login_hooks: list[Any] = []
        self.disconnect_hooks: list[Any] = []
        self.actions: list[dict[str, Any]] = []
        self.agents: set[str] = set()
        self.down = False

    @property
    def connected(self) -> bool:
        return not self.down

    def on(self, event_name: str, handler: Any) -> None:
        self.handlers.setdefault(event_name.lower(), []).append(handler)

    def on_login(self, hook: Any) -> None:
        self.login_hooks.append(hook)

    def on_disconnect(self, hook: Any) -> None:
        self.disconnect_hooks.append(hook)

    async def action(self, action: dict[str, Any], *, as_list: bool | None = None, timeout: float | None = None) -> Any:
        self.actions.append(action)
        if self.down:
            raise AmiError("ami.down", f"AMI not connected; cannot send {action.get('Action')}")
        if action["Action"] == "DeviceStateList":
            return [{"Event": "DeviceStateChange", "Device": f"PJSIP/{agent}", "State": "NOT_INUSE"}
                    for agent in sorted(self.agents)]
        if action["Action"] == "Originate":
            await asyncio.Event().wait()  # ringing, until cancelled
        return [] if as_list else {"Response": "Success"}

    def sent(self, name: str) -> list[dict[str, Any]]:
        return [a for a in self.actions if a["Action"] == name]


@dataclasses.dataclass
class Stack:
    runner: ListRunner
    adapter: Adapter
    ami: ScriptedAmi
    tickets: TicketService
    lists: ListStore

    def free(self) -> bool:
        return OPERATOR in self.adapter.acd._free

    async def abandoned(self, uid: str, number: str) -> int:
        """An abandoned call (its ticket and pending ``abandoned`` task); the task's id."""
        assert await self.tickets.open_for_arrival(uid, number, "家长", "PJSIP/trunk-1", T0) is not None
        await self.tickets.mark_ended(uid, T0 + dt.timedelta(seconds=30), "caller")
        pending = await self.lists.pending(("abandoned",))
        return max(pending)

    async def settle(self) -> None:
        """Let the spawned callbacks run until each has ended or waits on the ringing phone."""
        for _ in range(50):
            await asyncio.sleep(0.01)


@pytest.fixture
async def stack(db_url: str, tmp_path: Path) -> AsyncIterator[Stack]:
    settings = dataclasses.replace(Settings(), node="pbx1")
    engine = await open_database(db_url)
    sessions = session_factory(engine)
    work = WorkOrderService(sessions, settings)
    tickets = TicketService(sessions, "pbx1", spill_dir=tmp_path / "spill")
    tickets.after_write.append(work.on_ticket_write)
    await tickets.start()
    ami = ScriptedAmi()
    adapter = Adapter(settings, ami, tickets)  # type: ignore[arg-type]
    outbound = OutboundService(settings, ami, work, DirectoryService(sessions))  # type: ignore[arg-type]
    lists = ListStore(sessions, settings)
    runner = ListRunner(settings, lists, outbound, adapter, tickets, clock=lambda: NOW)
    ami.agents.add(OPERATOR)
    adapter.apply(AgentLoggedIn(OPERATOR, adapter.clock(), frozenset()))
    assert OPERATOR in adapter.acd._free
    yield Stack(runner, adapter, ami, tickets, lists)
    await runner.close()
    await outbound.close()
    await tickets.close()
    await engine.dispose()


def failures(logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in logs if e["event"] == "outbound.callback_failed"]


async def test_a_database_error_before_the_call_releases_the_operator_and_the_next_callback_goes(stack, monkeypatch):
    task_id = await stack.abandoned("u1", "13800138000")
    real_start = stack.lists.start_attempt
    calls = 0

    async def start_attempt(*args: Any, **kwargs: Any) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OperationalError("INSERT INTO outbound_attempts", {}, Exception("database is locked"))
        return await real_start(*args, **kwargs)

    monkeypatch.setattr(stack.lists, "start_attempt", start_attempt)
    with capture_logs() as logs:
        await stack.runner._offer_callback(NOW)
        await stack.settle()
    assert stack.runner.callbacks == {}
    assert stack.free() and not stack.adapter.acd.agents[OPERATOR].phone_busy
    assert stack.ami.sent("Originate") == []  # nobody was rung
    [failed] = failures(logs)
    assert failed["task_id"] == task_id and failed["log_level"] == "error" and failed["exc_info"]  # with its traceback

    await stack.runner.tick()  # the next look offers the callback again, and it goes
    await stack.settle()
    assert list(stack.runner.callbacks) == [task_id] and not stack.free()
    [originate] = stack.ami.sent("Originate")
    assert originate["Channel"] == f"PJSIP/{OPERATOR}"


async def test_an_unexpected_error_releases_the_operator_removes_the_entry_and_is_logged_once(stack, monkeypatch):
    task_id = await stack.abandoned("u1", "13800138000")

    async def callback(*args: Any, **kwargs: Any) -> dict[str, Any]:
        raise RuntimeError("a bug in the callback path")

    monkeypatch.setattr(stack.runner.outbound, "callback", callback)
    stack.ami.down = True  # AMI is down too: the release must not need it
    with capture_logs() as logs:
        await stack.runner._offer_callback(NOW)
        await stack.settle()
    assert stack.runner.callbacks == {}
    assert stack.free() and not stack.adapter.acd.agents[OPERATOR].phone_busy
    [failed] = failures(logs)
    assert failed["task_id"] == task_id and failed["agent"] == OPERATOR and failed["log_level"] == "error"
    assert failed["exc_info"]  # with its traceback
    [attempt] = await stack.lists.attempts(task_id=task_id)  # the call log says what happened
    assert attempt["result"] == "failed" and "a bug in the callback path" in attempt["details"]["error"]

    monkeypatch.undo()
    stack.ami.down = False
    await stack.runner.tick()  # one failed callback does not block the next
    await stack.settle()
    assert list(stack.runner.callbacks) == [task_id] and not stack.free()


async def test_the_operator_is_reserved_before_anything_is_awaited(stack):
    await stack.abandoned("u1", "13800138000")
    await stack.runner._offer_callback(NOW)
    # Nothing the runner spawned has run yet: the reservation was made in the step that picked.
    assert stack.runner.callbacks
    assert not stack.free() and stack.adapter.acd.agents[OPERATOR].phone_busy


async def test_two_ticks_do_not_start_two_callbacks_for_one_operator(stack, monkeypatch):
    await stack.abandoned("u1", "13800138000")
    await stack.abandoned("u2", "13900139000")
    real_pending, both_looking = stack.lists.pending, asyncio.Barrier(2)

    async def pending(kinds: Any, limit: int = 1000) -> Any:
        if tuple(kinds) == ("abandoned",):  # both ticks read the due callbacks before either picks
            await both_looking.wait()
        return await real_pending(kinds, limit)

    monkeypatch.setattr(stack.lists, "pending", pending)
    await asyncio.wait_for(asyncio.gather(stack.runner.tick(), stack.runner.tick()), 10)
    await stack.settle()
    assert len(stack.runner.callbacks) == 1
    assert len(stack.ami.sent("Originate")) == 1


async def test_stopping_the_runner_mid_callback_releases_the_operator(stack):
    await stack.abandoned("u1", "13800138000")
    await stack.runner._offer_callback(NOW)
    await stack.runner.close()  # cancelled before the callback ever ran
    assert stack.runner.callbacks == {} and stack.free()

    await stack.runner._offer_callback(NOW)
    await stack.settle()  # this one rings the operator
    assert stack.ami.sent("Originate") and not stack.free()
    await stack.runner.close()
    assert stack.runner.callbacks == {} and stack.free()
