"""Every web request reads its login session: on SQLite that read never queues for the write lock.

A long writer (a report's transaction, a re-index) used to make every page's request wait for the
lock and fail after the busy timeout with "database is locked" (a 500)."""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from pathlib import Path

from callcenter.accounts.service import AccountService
from callcenter.store import open_database, session_factory


async def test_a_session_is_read_while_another_connection_holds_the_write_lock(tmp_path: Path) -> None:
    path = tmp_path / "callcenter.db"
    engine = await open_database(f"sqlite+aiosqlite:///{path}", busy_timeout_ms=2000)
    try:
        accounts = AccountService(session_factory(engine))
        user = await accounts.create("li.na", "correct horse battery", "operator")
        sid = await accounts.open_session(user.id, idle=dt.timedelta(hours=12))
        writer = sqlite3.connect(path, isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")  # another writer holds the lock, as long as it likes
        try:
            started = time.monotonic()
            found = await accounts.session_user(sid)
            took = time.monotonic() - started
        finally:
            writer.execute("ROLLBACK")
            writer.close()
        assert found is not None and found.username == "li.na"
        assert took < 1.0, f"the read waited {took:.1f} s for the writer"
    finally:
        await engine.dispose()
