"""Opening the database: engine, SQLite pragmas, schema migrations and a health probe."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import structlog
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

log = structlog.get_logger(__name__)

MIGRATIONS = "callcenter:migrations"  # alembic finds the package's folder; no alembic.ini needed
HEALTH_TIMEOUT = 2.0


def alembic_config(url: str | None = None) -> Config:
    """Alembic configuration built in code, pointing at the migrations shipped in the package."""
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str | None:
    """The newest migration revision shipped with this code."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def open_database(url: str, *, busy_timeout_ms: int = 5000) -> AsyncEngine:
    """Create the engine (and the SQLite file's folder), set pragmas, upgrade the schema to head."""
    is_sqlite = make_url(url).get_backend_name() == "sqlite"
    if is_sqlite:
        _make_sqlite_folder(url)
    engine = create_async_engine(url)
    if is_sqlite:
        _use_sqlite_pragmas(engine, busy_timeout_ms)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_upgrade_to_head)
            await conn.commit()
    except BaseException:
        await engine.dispose()
        raise
    log.info("database.opened", url=make_url(url).render_as_string(hide_password=True), revision=head_revision())
    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose objects stay readable after commit (they are handed to other tasks)."""
    return async_sessionmaker(engine, expire_on_commit=False)


def read_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for reading only: on SQLite they never wait for a writer's lock."""
    return async_sessionmaker(engine.execution_options(sqlite_begin="DEFERRED"), expire_on_commit=False)


async def database_state(engine: AsyncEngine) -> dict[str, Any]:
    """``{"ok": True, "revision": ...}`` when reachable and at head, else ``{"ok": False, "error": ...}``."""
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT):
            async with engine.connect() as conn:
                revision = await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())
        head = head_revision()
    except Exception as err:  # a health probe reports, it never raises
        return {"ok": False, "error": f"{type(err).__name__}: {err}".strip()}
    if revision != head:
        return {"ok": False, "error": f"schema at revision {revision}, code expects {head}"}
    return {"ok": True, "revision": revision}


def upgrade(url: str) -> str | None:
    """Upgrade the schema at ``url`` to head from synchronous code (the CLI); returns the revision."""

    async def run() -> None:
        engine = await open_database(url)
        await engine.dispose()

    asyncio.run(run())
    return head_revision()


def _upgrade_to_head(connection: Connection) -> None:
    """Run ``alembic upgrade head`` on an already open (synchronous-facing) connection."""
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _make_sqlite_folder(url: str) -> None:
    """SQLite creates the file but not its folder."""
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _use_sqlite_pragmas(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    """WAL, a busy timeout, foreign keys, and real BEGINs so DDL and reads are transactional too."""

    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Python's sqlite3 (before 3.12's autocommit attribute) skips BEGIN for DDL and SELECT;
        # hand transaction control to SQLAlchemy as its SQLite documentation recommends.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            f"busy_timeout={int(busy_timeout_ms)}",
            "foreign_keys=ON",
            "synchronous=NORMAL",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(conn: Connection) -> None:
        # IMMEDIATE by default: take the write lock at the start.  A deferred transaction that
        # reads, then writes after another connection committed, fails with "database is locked"
        # at once (the busy timeout does not apply to that upgrade); an immediate one waits its
        # turn.  Pure readers (``read_session_factory``) stay DEFERRED: in WAL mode they read
        # even while a writer holds the lock.
        conn.exec_driver_sql(f"BEGIN {conn.get_execution_options().get('sqlite_begin', 'IMMEDIATE')}")
