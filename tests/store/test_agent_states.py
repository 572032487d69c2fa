"""Operators' chosen states on a real database: migration, round trip across a restart, upsert, a locked file."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from structlog.testing import capture_logs

from harness.postgres import store_url  # noqa: F401  (fixture: SQLite, and PostgreSQL when configured)
from callcenter.agents.states import AgentStateStore, ChosenState
from callcenter.store import database_state, open_database, session_factory
from callcenter.store.db import alembic_config, head_revision

T0 = dt.datetime(2025, 1, 29, 23, 30, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))  # Beijing, New Year's Eve


@pytest.fixture
async def engine(store_url: str) -> AsyncIterator[AsyncEngine]:
    engine = await open_database(store_url, busy_timeout_ms=200)  # a locked file fails fast
    yield engine
    await engine.dispose()


def tables(sync: Connection) -> set[str]:
    return set(inspect(sync).get_table_names())


def migrate(sync: Connection, direction: str, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = sync
    getattr(command, direction)(config, revision)


async def test_migration_creates_the_table_and_goes_down_and_up_again(engine: AsyncEngine) -> None:
    assert await database_state(engine) == {"ok": True, "revision": head_revision()}
    async with engine.connect() as conn:
        columns = await conn.run_sync(lambda s: {c["name"]: c["nullable"] for c in inspect(s).get_columns("agent_states")})
        primary = await conn.run_sync(lambda s: inspect(s).get_pk_constraint("agent_states"))
        assert columns == {"node": False, "agent_id": False, "state": False, "reason": True, "since": False,
                           "by": False}
        assert sorted(primary["constrained_columns"]) == ["agent_id", "node"]

        await conn.run_sync(migrate, "downgrade", "0007")
        await conn.commit()
        assert "agent_states" not in await conn.run_sync(tables)
        await conn.run_sync(migrate, "upgrade", "head")
        await conn.commit()
        assert "agent_states" in await conn.run_sync(tables)
    assert (await database_state(engine))["ok"]


async def test_choices_survive_a_restart_with_aware_utc_times(store_url: str) -> None:
    engine = await open_database(store_url)
    store = AgentStateStore(session_factory(engine), "pbx1")
    assert await store.load() == {}
    assert await store.save("1001", "paused", "meal", T0, "web:li.na")
    assert await store.save("1002", "logged_out", None, T0 + dt.timedelta(minutes=1), "phone")
    assert await store.save("1003", "paused", "missed_calls", T0 + dt.timedelta(minutes=2), "core")
    assert await store.save("1004", "available", None, T0, "supervisor:wang")
    await engine.dispose()

    engine = await open_database(store_url)  # the controller starts again
    try:
        loaded = await AgentStateStore(session_factory(engine), "pbx1").load()
    finally:
        await engine.dispose()
    assert loaded == {
        "1001": ChosenState("paused", "meal", T0, "web:li.na"),
        "1002": ChosenState("logged_out", None, T0 + dt.timedelta(minutes=1), "phone"),
        "1003": ChosenState("paused", "missed_calls", T0 + dt.timedelta(minutes=2), "core"),
        "1004": ChosenState("available", None, T0, "supervisor:wang"),
    }
    assert all(c.since.tzinfo == dt.UTC for c in loaded.values())
    assert loaded["1001"].since.hour == 15  # 23:30 in Beijing is 15:30 UTC


async def test_save_replaces_the_row_and_nodes_are_kept_apart(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    pbx1, pbx2 = AgentStateStore(sessions, "pbx1"), AgentStateStore(sessions, "pbx2")
    await pbx1.save("1001", "paused", "break", T0, "phone")
    await pbx2.save("1001", "logged_out", None, T0, "phone")
    await pbx1.save("1001", "available", "break", T0 + dt.timedelta(minutes=5), "web:li.na")  # reason dropped

    assert await pbx1.load() == {"1001": ChosenState("available", None, T0 + dt.timedelta(minutes=5), "web:li.na")}
    assert await pbx2.load() == {"1001": ChosenState("logged_out", None, T0, "phone")}
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT node, agent_id, state FROM agent_states ORDER BY node"))).all()
    assert [tuple(r) for r in rows] == [("pbx1", "1001", "available"), ("pbx2", "1001", "logged_out")]


async def test_bad_values_are_refused_and_foreign_rows_ignored(engine: AsyncEngine) -> None:
    store = AgentStateStore(session_factory(engine), "pbx1")
    with pytest.raises(ValueError):
        await store.save("1001", "ringing", None, T0, "phone")  # not a choice: rebuilt from Asterisk
    with pytest.raises(ValueError):
        await store.save("1001", "paused", "break", T0.replace(tzinfo=None), "phone")
    async with engine.begin() as conn:
        await conn.execute(text(
            "INSERT INTO agent_states (node, agent_id, state, reason, since, \"by\") "
            "VALUES ('pbx1', '1009', 'on_call', NULL, :since, 'sql')"
        ), {"since": T0.astimezone(dt.UTC).replace(tzinfo=None)})
    with capture_logs() as logs:
        assert await store.load() == {}
    assert [e["event"] for e in logs] == ["agent_state.invalid"]


async def test_a_locked_database_keeps_the_latest_choice_until_flush(store_url: str, engine: AsyncEngine) -> None:
    if make_url(store_url).get_backend_name() != "sqlite":
        pytest.skip("the file lock is SQLite's")
    store = AgentStateStore(session_factory(engine), "pbx1")
    await store.save("1002", "available", None, T0, "phone")
    other = sqlite3.connect(make_url(store_url).database, isolation_level=None)  # another writer holds the file
    other.execute("BEGIN EXCLUSIVE")
    try:
        with capture_logs() as logs:
            assert await store.save("1001", "paused", "break", T0, "phone") is False  # no exception
            assert await store.save("1001", "paused", "meeting", T0 + dt.timedelta(seconds=1), "phone") is False
            assert await store.save("1002", "logged_out", None, T0 + dt.timedelta(seconds=2), "web:li.na") is False
        failed = [e for e in logs if e["event"] == "agent_state.save_failed"]
        assert len(failed) == 3 and failed[0]["log_level"] == "error" and "locked" in failed[0]["error"]
        assert store.unsaved == 2
        assert (await store.load())["1001"].reason == "meeting"  # readers see the latest, even unsaved
    finally:
        other.execute("ROLLBACK")
        other.close()

    assert await store.flush() is True
    assert store.unsaved == 0
    reopened = await open_database(store_url)  # a fresh reader: what is really in the file
    try:
        assert await AgentStateStore(session_factory(reopened), "pbx1").load() == {
            "1001": ChosenState("paused", "meeting", T0 + dt.timedelta(seconds=1), "phone"),
            "1002": ChosenState("logged_out", None, T0 + dt.timedelta(seconds=2), "web:li.na"),
        }
    finally:
        await reopened.dispose()


async def test_the_next_save_writes_what_an_earlier_failure_left(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'callcenter.db'}"
    engine = await open_database(url, busy_timeout_ms=100)
    try:
        store = AgentStateStore(session_factory(engine), "pbx1")
        other = sqlite3.connect(tmp_path / "callcenter.db", isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        assert await store.save("1001", "paused", "admin", T0, "supervisor:wang") is False
        other.execute("ROLLBACK")
        other.close()
        assert await store.save("1003", "available", None, T0, "phone") is True  # carries 1001 along
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT agent_id, reason FROM agent_states ORDER BY agent_id"))).all()
        assert [tuple(r) for r in rows] == [("1001", "admin"), ("1003", None)]
    finally:
        await engine.dispose()
