"""The store under test: a SQLite file always, and a real PostgreSQL server when one is configured.

``HOTLINE_TEST_PG_URL`` (set by ``./hotline test``, which starts a throw-away PostgreSQL cluster) names a
database a test may use to create and drop throw-away databases, e.g.
``postgresql+asyncpg://callcenter@127.0.0.1:5432/postgres``.  Without it, store tests run on
SQLite only.  The ``store_url`` fixture is imported by the conftests of the store test folders.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

PG_ENV = "HOTLINE_TEST_PG_URL"


def backends() -> list[str]:
    """sqlite, plus postgresql when a server is configured."""
    return ["sqlite", "postgresql"] if os.environ.get(PG_ENV) else ["sqlite"]


@contextlib.contextmanager
def throwaway_database(admin_url: str, name: str) -> Iterator[str]:
    """Create database ``name`` on the server of ``admin_url``, yield its URL, drop it afterwards."""
    import asyncio

    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    admin = make_url(admin_url)

    async def run(sql: str) -> None:
        engine = create_async_engine(admin, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.execute(text(sql))
        finally:
            await engine.dispose()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=backends())
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL: a SQLite file, or a throw-away PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'callcenter.db'}"
        return
    with throwaway_database(os.environ[PG_ENV], f"cc_test_{uuid.uuid4().hex[:12]}") as url:
        yield url


@pytest.fixture(name="engine")
async def store_engine(store_url: str) -> AsyncIterator[AsyncEngine]:
    """``engine``: the database of ``store_url``, migrated (``open_database``), disposed afterwards."""
    from callcenter.store import open_database

    engine = await open_database(store_url)
    yield engine
    await engine.dispose()
