"""Tickets on a real SQLite file: schema, lifecycle values, idempotency, a locked database, the spill file."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from structlog.testing import capture_logs

import callcenter.accounts.models  # noqa: F401  (every model module: the schema check covers all tables)
import callcenter.workorders.models  # noqa: F401
import callcenter.outbound.models  # noqa: F401
import callcenter.agents.models  # noqa: F401
import callcenter.recording.models  # noqa: F401
from callcenter.kb import models as kb_models
from callcenter.store import Base, database_state, head_revision, open_database, session_factory
from callcenter.tickets import TicketService

T0 = dt.datetime(2024, 11, 29, 16, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))  # Beijing time


def url_of(path: Path) -> str:
    """SQLAlchemy URL of a SQLite file."""
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "db" / "callcenter.db"  # folders do not exist yet


@pytest.fixture
async def engine(db_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = await open_database(url_of(db_path))
    yield engine
    await engine.dispose()


async def started(engine: AsyncEngine, spill_dir: Path, node: str = "pbx1", **options: float) -> TicketService:
    """A started service on ``engine``."""
    service = TicketService(session_factory(engine), node, spill_dir=spill_dir, **options)
    await service.start()
    return service


@pytest.fixture
async def service(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[TicketService]:
    service = await started(engine, tmp_path / "spill")
    yield service
    await service.close()


def lock_database(path: Path) -> sqlite3.Connection:
    """Another process's writer holding the database: BEGIN EXCLUSIVE on a second connection."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    return other


def release(other: sqlite3.Connection) -> None:
    """End the other writer's transaction."""
    other.execute("ROLLBACK")
    other.close()


async def wait_for(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    """Poll an async condition instead of sleeping a fixed time."""
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


# -- schema -------------------------------------------------------------------------------------


async def test_open_database_creates_folder_schema_and_pragmas(db_path: Path) -> None:
    engine = await open_database(url_of(db_path))
    try:
        assert db_path.exists()
        assert await database_state(engine) == {"ok": True, "revision": head_revision()}
        async with engine.connect() as conn:
            pragmas = {
                name: (await conn.execute(text(f"PRAGMA {name}"))).scalar()
                for name in ("journal_mode", "busy_timeout", "foreign_keys", "synchronous")
            }
            diff = await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"include_name": kb_models.include_name}), Base.metadata
                )
            )
        assert pragmas == {"journal_mode": "wal", "busy_timeout": 5000, "foreign_keys": 1, "synchronous": 1}
        assert diff == []  # the migration builds exactly what the models describe
    finally:
        await engine.dispose()
    again = await open_database(url_of(db_path))  # a second start finds the schema at head
    assert (await database_state(again))["ok"]
    await again.dispose()


async def test_database_state_reports_problems_without_raising(tmp_path: Path) -> None:
    empty = create_async_engine(url_of(tmp_path / "empty.db"))
    state = await database_state(empty)
    assert state["ok"] is False and "revision None" in state["error"]
    await empty.dispose()

    (tmp_path / "junk.db").write_bytes(b"this is not a database" * 100)
    junk = create_async_engine(url_of(tmp_path / "junk.db"))
    state = await database_state(junk)
    assert state["ok"] is False and "DatabaseError" in state["error"]
    await junk.dispose()


# -- lifecycle ----------------------------------------------------------------------------------


async def test_answered_call_lifecycle(service: TicketService) -> None:
    ticket_id = await service.open_for_arrival("1732867200.12", "13800138000", "张三", "PJSIP/2001-0000001", T0, "1732867200.12")
    assert isinstance(ticket_id, int)
    opened = await service.get("1732867200.12")
    assert opened is not None and opened.id == ticket_id and opened.call_status == "new"

    await service.mark_ringing("1732867200.12", "1001", T0 + dt.timedelta(seconds=2))
    assert (await service.get("1732867200.12")).call_status == "ringing"  # type: ignore[union-attr]
    await service.mark_answered("1732867200.12", "1001", T0 + dt.timedelta(seconds=5))
    await service.mark_ended("1732867200.12", T0 + dt.timedelta(seconds=65), "caller")

    ticket = await service.get("1732867200.12")
    assert ticket is not None
    assert (ticket.node, ticket.source, ticket.call_status) == ("pbx1", "controller", "completed")
    assert (ticket.caller_number, ticket.caller_name, ticket.channel) == ("13800138000", "张三", "PJSIP/2001-0000001")
    assert (ticket.agent_id, ticket.hangup_by, ticket.linkedid) == ("1001", "caller", "1732867200.12")
    assert (ticket.wait_seconds, ticket.talk_seconds) == (5.0, 60.0)
    assert ticket.arrived_at == T0 and ticket.arrived_at.tzinfo == dt.UTC  # stored UTC, read back aware
    assert ticket.arrived_at.hour == 8
    assert ticket.answered_at == T0 + dt.timedelta(seconds=5)
    assert ticket.ended_at == T0 + dt.timedelta(seconds=65)
    assert ticket.details["offers"] == [{"agent_id": "1001", "at": "2024-11-29T08:00:02+00:00"}]
    assert ticket.created_at.tzinfo == dt.UTC and ticket.updated_at >= ticket.created_at


async def test_unanswered_call_is_abandoned(service: TicketService) -> None:
    await service.open_for_arrival("2.1", "010-6552 8000", "", "PJSIP/2002-01", T0)
    await service.mark_ringing("2.1", "1001", T0 + dt.timedelta(seconds=1))
    await service.mark_ringing("2.1", "1002", T0 + dt.timedelta(seconds=11))
    await service.mark_ended("2.1", T0 + dt.timedelta(seconds=20), "caller")
    ticket = await service.get("2.1")
    assert ticket is not None
    assert (ticket.call_status, ticket.wait_seconds, ticket.talk_seconds) == ("abandoned", 20.0, 0.0)
    assert (ticket.answered_at, ticket.agent_id, ticket.caller_number) == (None, None, "01065528000")
    assert [o["agent_id"] for o in ticket.details["offers"]] == ["1001", "1002"]


async def test_late_ringing_does_not_undo_answer(service: TicketService) -> None:
    await service.open_for_arrival("3.1", "1", "", "", T0)
    await service.mark_answered("3.1", "1001", T0 + dt.timedelta(seconds=3))
    await service.mark_ringing("3.1", "1002", T0 + dt.timedelta(seconds=2))
    ticket = await service.get("3.1")
    assert ticket is not None and (ticket.call_status, ticket.agent_id) == ("answered", "1001")


async def test_open_is_idempotent_per_node_and_uniqueid(engine: AsyncEngine, service: TicketService, tmp_path: Path) -> None:
    first = await service.open_for_arrival("4.1", "13800138000", "", "", T0)
    second = await service.open_for_arrival("4.1", "99999", "other", "", T0 + dt.timedelta(seconds=9))
    assert first == second and await service.count() == 1
    assert (await service.get("4.1")).caller_number == "13800138000"  # type: ignore[union-attr]

    other_node = await started(engine, tmp_path / "spill2", node="pbx2")
    try:
        assert await other_node.open_for_arrival("4.1", "1", "", "", T0) not in (None, first)
        assert (await other_node.count(), await service.count()) == (1, 1)
    finally:
        await other_node.close()


async def test_list_recent_newest_first(service: TicketService) -> None:
    for n in range(5):
        await service.open_for_arrival(f"5.{n}", "1", "", "", T0 + dt.timedelta(minutes=n))
    recent = await service.list_recent(limit=3)
    assert [t.uniqueid for t in recent] == ["5.4", "5.3", "5.2"]


async def test_update_without_ticket_creates_nothing(service: TicketService) -> None:
    await service.mark_answered("nope", "1001", T0)
    await service.mark_ended("nope", T0, "agent")
    assert await service.count() == 0


@pytest.mark.parametrize(
    ("number", "name", "expected"),
    [
        ("", "", ("", "", "", "")),
        (None, None, ("", "", "", "")),
        ("anonymous", "Anonymous", ("", "anonymous", "Anonymous", "Anonymous")),
        ("+86 138-0013-8000", "张三", ("+8613800138000", "+86 138-0013-8000", "张三", "张三")),
        ("1" * 100, "王" * 300, ("1" * 32, "1" * 100, "王" * 80, "王" * 255)),
        ("138\x00001", "李\x00四\n  (家长)", ("138001", "138 001", "李 四 (家长)", "李 四   (家长)")),
        ("１３８", "\udcff", ("", "１３８", "?", "?")),  # full-width digits are not dialable; broken surrogate
    ],
)
async def test_odd_caller_ids_are_stored_safely(
    service: TicketService, number: str | None, name: str | None, expected: tuple[str, str, str, str]
) -> None:
    uniqueid = f"6.{abs(hash((number, name)))}"
    assert await service.open_for_arrival(uniqueid, number, name, "PJSIP/x", T0) is not None
    ticket = await service.get(uniqueid)
    assert ticket is not None
    assert (ticket.caller_number, ticket.caller_number_raw, ticket.caller_name, ticket.caller_name_raw) == expected


# -- a locked database ----------------------------------------------------------------------------


async def test_locked_database_never_blocks_the_call_and_loses_nothing(db_path: Path, tmp_path: Path) -> None:
    engine = await open_database(url_of(db_path), busy_timeout_ms=100)
    service = await started(engine, tmp_path / "spill", wait_limit=1.0, retry_initial=0.1, retry_max=0.3)
    other = lock_database(db_path)
    try:
        with capture_logs() as logs:
            began = time.monotonic()
            assert await service.open_for_arrival("7.1", "13800138000", "张三", "PJSIP/2001-01", T0) is None
            await service.mark_answered("7.1", "1001", T0 + dt.timedelta(seconds=4))  # queued behind the open
            await service.mark_ended("7.1", T0 + dt.timedelta(seconds=34), "agent")
            assert time.monotonic() - began < 3 * 1.0 + 0.5  # three writes, each waited at most wait_limit
            assert service.pending_writes == 3
            spilled = service.spill_path.read_text().splitlines()  # type: ignore[union-attr]
            assert [json.loads(line)["kind"] for line in spilled] == ["open", "answered", "ended"]
            assert await service.get("7.1") is None  # reads still work in WAL mode; nothing committed yet
        release(other)
        other = None
        assert await service.flush(10)
    finally:
        if other is not None:
            release(other)
        await service.close()
    ticket = await service.get("7.1")
    assert ticket is not None and await service.count() == 1
    assert (ticket.call_status, ticket.agent_id, ticket.talk_seconds, ticket.wait_seconds) == ("completed", "1001", 30.0, 4.0)
    assert not service.spill_path.exists()  # type: ignore[union-attr]
    events = [entry["event"] for entry in logs]
    assert "ticket.write_failed" in events and "ticket.write_delayed" in events
    failed = next(entry for entry in logs if entry["event"] == "ticket.write_failed")
    assert failed["uniqueid"] == "7.1" and "locked" in failed["error"]
    await engine.dispose()


async def test_open_returns_within_its_limit_even_while_the_driver_waits(db_path: Path, tmp_path: Path) -> None:
    engine = await open_database(url_of(db_path))  # busy_timeout 5 s: the driver itself blocks that long
    service = await started(engine, tmp_path / "spill", wait_limit=0.5)
    other = lock_database(db_path)
    began = time.monotonic()
    assert await service.open_for_arrival("8.1", "1", "", "", T0) is None
    assert time.monotonic() - began < 1.0
    release(other)
    await wait_for(lambda: _exists(service, "8.1"))
    await service.close()
    await engine.dispose()


async def _exists(service: TicketService, uniqueid: str) -> bool:
    return await service.get(uniqueid) is not None


# -- the spill file --------------------------------------------------------------------------------


async def test_spill_file_replays_after_a_restart(db_path: Path, tmp_path: Path) -> None:
    spill_dir = tmp_path / "spill"
    engine = await open_database(url_of(db_path), busy_timeout_ms=50)
    crashed = await started(engine, spill_dir, wait_limit=0.3, retry_initial=30)  # no retry within the test
    other = lock_database(db_path)
    assert await crashed.open_for_arrival("9.1", "13800138000", "", "PJSIP/2001-01", T0) is None
    await crashed.mark_answered("9.1", "1001", T0 + dt.timedelta(seconds=3))
    spill = crashed.spill_path
    assert spill is not None and len(spill.read_text().splitlines()) == 2  # on disk before any shutdown
    saved = spill.read_bytes()
    await crashed.close(drain_timeout=0)  # the process goes away with the database still locked
    release(other)
    await engine.dispose()
    assert spill.read_bytes() == saved

    engine = await open_database(url_of(db_path))  # the restart
    restarted = await started(engine, spill_dir)
    assert await restarted.flush(10)
    ticket = await restarted.get("9.1")
    assert ticket is not None and (ticket.call_status, ticket.agent_id) == ("answered", "1001")
    assert not spill.exists()
    await restarted.close()

    spill.write_bytes(saved)  # replaying writes that were in fact committed changes nothing
    again = await started(engine, spill_dir)
    assert await again.flush(10)
    assert await again.count() == 1
    assert (await again.get("9.1")).answered_at == T0 + dt.timedelta(seconds=3)  # type: ignore[union-attr]
    await again.close()
    await engine.dispose()


async def test_bad_spill_lines_are_set_aside_without_blocking_others(engine: AsyncEngine, tmp_path: Path) -> None:
    spill_dir = tmp_path / "spill"
    spill_dir.mkdir()
    good = {"kind": "open", "uniqueid": "10.2", "data": {
        "caller_number": "1", "caller_name": "", "channel": "", "arrived_at": T0.isoformat(), "linkedid": None, "source": "controller"}}
    bad = {"kind": "open", "uniqueid": "10.1", "data": {"caller_number": "1"}}  # would fail on every try
    lines = [json.dumps(bad), "{not json", json.dumps({"kind": "explode", "uniqueid": "x", "data": {}}), json.dumps(good), '{"kind": "op']
    (spill_dir / "tickets-pbx1.jsonl").write_text("\n".join(lines))
    with capture_logs() as logs:
        service = await started(engine, spill_dir)
        assert await service.flush(5)
    assert await service.get("10.2") is not None and await service.count() == 1
    rejected = (spill_dir / "tickets-pbx1.rejected.jsonl").read_text().splitlines()
    assert [json.loads(line)["uniqueid"] for line in rejected] == ["10.1"]
    assert [e["line"] for e in logs if e["event"] == "ticket.spill_line_skipped"] == [2, 3, 5]
    await service.close()


async def test_writes_before_start_are_refused(engine: AsyncEngine, tmp_path: Path) -> None:
    service = TicketService(session_factory(engine), "pbx1", spill_dir=tmp_path)
    with pytest.raises(RuntimeError):
        await service.open_for_arrival("11.1", "1", "", "", T0)
