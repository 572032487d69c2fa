"""The ticket writer applies the writes waiting in its queue in one transaction (issue 16, load).

Each test holds the writer inside one write's transaction (a hook waiting on a gate), queues a
batch behind it, then lets it go: the batch is one commit, in queue order, each caller told its own
result; one bad write fails alone; a database error spills the whole batch for the next start.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from structlog.testing import capture_logs

from harness.postgres import store_engine, store_url  # noqa: F401  (fixtures: engine, on SQLite and PostgreSQL when configured)
from callcenter.store import session_factory
from callcenter.tickets import TicketService
from callcenter.tickets import service as service_module
from callcenter.tickets.service import BATCH_MAX, TicketWrite

T0 = dt.datetime(2025, 3, 3, 2, 0, 0, tzinfo=dt.UTC)
CALLS = 12


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


@pytest.fixture(autouse=True)
def no_time_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch's size here is what was queued, not what a busy machine has time for (its own test below)."""
    monkeypatch.setattr(service_module, "BATCH_SECONDS", 60.0)


class Gate:
    """An ``after_write`` hook that holds the writer inside the transaction of ``uniqueid``'s open until opened."""

    def __init__(self, uniqueid: str) -> None:
        self.uniqueid = uniqueid
        self.entered = asyncio.Event()
        self.opened = asyncio.Event()

    async def __call__(self, session: Any, node: str, write: TicketWrite) -> None:
        if write.uniqueid == self.uniqueid and write.kind == "open":
            self.entered.set()
            await self.opened.wait()


def count_commits(engine: AsyncEngine) -> list[None]:
    """A list that grows by one at every transaction committed on ``engine`` (savepoints are not counted)."""
    commits: list[None] = []
    event.listen(engine.sync_engine, "commit", lambda conn: commits.append(None))
    return commits


async def held(service: TicketService) -> Gate:
    """Hold the writer inside the transaction of a first call's open."""
    gate = Gate("first")
    service.after_write.append(gate)
    first = asyncio.create_task(service.open_for_arrival("first", "100", "", "", at(0)))
    await asyncio.wait_for(gate.entered.wait(), 5)
    gate.first = first  # type: ignore[attr-defined]
    return gate


def call_writes(service: TicketService, uniqueid: str, answered: bool) -> list[Any]:
    """A whole call's writes, in the order the controller sends them (coroutines, not yet queued)."""
    writes = [service.open_for_arrival(uniqueid, "13800138000", "", "PJSIP/trunk-1", at(1)),
              service.mark_ringing(uniqueid, "1001", at(2)),
              service.record_ring(uniqueid, "1001", at(2), at(5), "answered" if answered else "caller_left")]
    if answered:
        writes.append(service.mark_answered(uniqueid, "1001", at(5)))
    writes.append(service.mark_ended(uniqueid, at(35), "caller"))
    return writes


async def queue(coros: list[Any]) -> list[asyncio.Task[Any]]:
    """Queue the writes in this order: each task runs up to its wait before the next starts."""
    tasks = []
    for coro in coros:
        tasks.append(asyncio.create_task(coro))
        await asyncio.sleep(0)
    return tasks


async def test_the_writes_waiting_are_one_transaction_in_queue_order_each_told_its_own_result(
        engine: AsyncEngine, tmp_path: Path) -> None:
    registry = CollectorRegistry()
    service = TicketService(session_factory(engine), "pbx1", spill_dir=tmp_path / "spill", registry=registry)
    await service.start()
    gate = await held(service)
    commits = count_commits(engine)
    calls = [f"b{n}" for n in range(CALLS)]
    coros = [w for n, uniqueid in enumerate(calls) for w in call_writes(service, uniqueid, answered=n % 2 == 0)]
    tasks = await queue(coros)
    assert service.pending_writes == 1 + len(coros)
    gate.opened.set()
    first_id = await gate.first  # type: ignore[attr-defined]
    results = await asyncio.gather(*tasks)
    assert await service.flush(5) and service.pending_writes == 0
    assert len(commits) == 2  # the held write, then the whole batch behind it
    opened = [r for r in results if r is not None]
    assert len(opened) == CALLS and len({first_id, *opened}) == CALLS + 1  # each open told its own ticket id
    for n, uniqueid in enumerate(calls):
        ticket = await service.get(uniqueid)
        assert ticket is not None and ticket.id == opened[n]
        if n % 2 == 0:  # answered, then ended: applied in the order they were sent
            assert (ticket.call_status, ticket.agent_id, ticket.talk_seconds, ticket.wait_seconds) == (
                "completed", "1001", 30.0, 4.0)
        else:
            assert (ticket.call_status, ticket.wait_seconds) == ("abandoned", 34.0)
        assert [r["outcome"] for r in ticket.details["rings"]] == ["answered" if n % 2 == 0 else "caller_left"]
    # the metrics stay per write
    assert registry.get_sample_value("callcenter_ticket_writes_total", {"kind": "open"}) == CALLS + 1
    assert registry.get_sample_value("callcenter_ticket_writes_total", {"kind": "answered"}) == CALLS // 2
    assert registry.get_sample_value("callcenter_ticket_write_seconds_count") == 1 + len(coros)
    await service.close()


async def test_a_batch_is_at_most_batch_max_writes(engine: AsyncEngine, tmp_path: Path) -> None:
    service = TicketService(session_factory(engine), "pbx1", spill_dir=tmp_path / "spill")
    await service.start()
    gate = await held(service)
    commits = count_commits(engine)
    tasks = await queue([service.record_details("first", "n", {"n": n}) for n in range(BATCH_MAX + 1)])
    gate.opened.set()
    await asyncio.gather(gate.first, *tasks)  # type: ignore[attr-defined]
    assert await service.flush(10)
    assert len(commits) == 3  # the held write, BATCH_MAX writes, the last one
    assert (await service.get("first")).details["n"] == {"n": BATCH_MAX}  # type: ignore[union-attr]
    await service.close()


async def test_a_transaction_takes_no_more_writes_once_its_time_is_up(
        engine: AsyncEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    service = TicketService(session_factory(engine), "pbx1", spill_dir=tmp_path / "spill")
    await service.start()
    gate = await held(service)
    commits = count_commits(engine)
    monkeypatch.setattr(service_module, "BATCH_SECONDS", 0.0)  # every write is already past the limit
    tasks = await queue(call_writes(service, "t1", answered=True))
    gate.opened.set()
    first_id = await gate.first  # type: ignore[attr-defined]
    results = await asyncio.gather(*tasks)
    assert await service.flush(5)
    assert len(commits) == 1 + len(tasks)  # one write per transaction, none left behind
    ticket = await service.get("t1")
    assert ticket is not None and results == [ticket.id, None, None, None, None] and ticket.id != first_id
    assert (ticket.call_status, ticket.talk_seconds) == ("completed", 30.0)
    await service.close()


async def test_a_bad_write_in_a_batch_fails_alone_and_the_writes_around_it_land(engine: AsyncEngine, tmp_path: Path) -> None:
    spill_dir = tmp_path / "spill"
    service = TicketService(session_factory(engine), "pbx1", spill_dir=spill_dir)
    await service.start()
    gate = await held(service)
    bad = TicketWrite("open", "bad", {"caller_number": "1"})  # would fail on every try (no arrived_at)
    coros = [*call_writes(service, "before", answered=True), service._submit(bad),
             *call_writes(service, "after", answered=False)]
    with capture_logs() as logs:
        tasks = await queue(coros)
        gate.opened.set()
        await gate.first  # type: ignore[attr-defined]
        results = await asyncio.gather(*tasks)
        assert await service.flush(5)
    before, after = await service.get("before"), await service.get("after")
    assert before is not None and (before.call_status, before.agent_id, before.talk_seconds) == ("completed", "1001", 30.0)
    assert after is not None and after.call_status == "abandoned"
    assert await service.get("bad") is None and await service.count() == 3
    assert results[0] == before.id and results[5] is None and results[6] == after.id  # each caller its own outcome
    rejected = (spill_dir / "tickets-pbx1.rejected.jsonl").read_text().splitlines()
    assert [json.loads(line)["uniqueid"] for line in rejected] == ["bad"]
    events = [e["event"] for e in logs]
    assert events.count("ticket.batch_split") == 1 and events.count("ticket.write_rejected") == 1
    await service.close()


async def test_a_hook_failing_in_a_batch_loses_nothing_and_splits_nothing(engine: AsyncEngine, tmp_path: Path) -> None:
    service = TicketService(session_factory(engine), "pbx1", spill_dir=tmp_path / "spill")
    await service.start()
    gate = await held(service)
    seen: list[str] = []

    async def broken(session: Any, node: str, write: TicketWrite) -> None:
        if write.uniqueid == "h2" and write.kind == "open":
            raise RuntimeError("bug in a hook")
        seen.append(write.uniqueid)

    service.after_write.append(broken)
    commits = count_commits(engine)
    with capture_logs() as logs:
        tasks = await queue([w for u in ("h1", "h2", "h3") for w in call_writes(service, u, answered=False)])
        gate.opened.set()
        await asyncio.gather(gate.first, *tasks)  # type: ignore[attr-defined]
        assert await service.flush(5)
    assert len(commits) == 2
    assert [(await service.get(u)).call_status for u in ("h1", "h2", "h3")] == ["abandoned"] * 3  # type: ignore[union-attr]
    assert seen.count("h2") == 3 and seen.count("h1") == seen.count("h3") == 4  # the others' hooks ran
    events = [e["event"] for e in logs]
    assert events.count("ticket.hook_failed") == 1 and "ticket.batch_split" not in events
    await service.close()


async def test_a_database_error_mid_batch_spills_the_whole_batch_and_a_restart_lands_one_ticket_per_call(
        engine: AsyncEngine, tmp_path: Path) -> None:
    spill_dir = tmp_path / "spill"
    crashed = TicketService(session_factory(engine), "pbx1", spill_dir=spill_dir, wait_limit=0.3, retry_initial=30)
    await crashed.start()
    gate = await held(crashed)

    async def connection_lost(session: Any, node: str, write: TicketWrite) -> None:
        if write.uniqueid == "d2" and write.kind == "answered":  # in the middle of the batch
            raise OperationalError("UPDATE tickets", {}, ConnectionResetError("connection lost"))

    crashed.after_write.append(connection_lost)
    calls = ["d1", "d2", "d3"]
    coros = [w for u in calls for w in call_writes(crashed, u, answered=True)]
    with capture_logs() as logs:
        tasks = await queue(coros)
        gate.opened.set()
        await gate.first  # type: ignore[attr-defined]
        assert await asyncio.gather(*tasks) == [None] * len(coros)  # nobody waited past wait_limit
    assert [e["event"] for e in logs].count("ticket.write_failed") == 1
    spilled = [json.loads(line) for line in crashed.spill_path.read_text().splitlines()]  # type: ignore[union-attr]
    assert [(w["uniqueid"], w["kind"]) for w in spilled] == [
        (u, k) for u in calls for k in ("open", "ringing", "ring", "answered", "ended")]
    assert await crashed.count() == 1  # only the held write committed; the batch was rolled back whole
    await crashed.close(drain_timeout=0)

    restarted = TicketService(session_factory(engine), "pbx1", spill_dir=spill_dir)
    await restarted.start()
    assert await restarted.flush(10)
    assert await restarted.count() == 1 + len(calls)
    for uniqueid in calls:
        ticket = await restarted.get(uniqueid)
        assert ticket is not None and (ticket.call_status, ticket.agent_id, ticket.talk_seconds) == ("completed", "1001", 30.0)
        assert len(ticket.details["rings"]) == 1 and len(ticket.details["offers"]) == 1
    assert not spill_dir.joinpath("tickets-pbx1.jsonl").exists()
    await restarted.close()
