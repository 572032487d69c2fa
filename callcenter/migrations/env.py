"""Alembic environment: run on the connection handed over by ``open_database``, or on a URL (CLI)."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from callcenter.store.models import Base

config = context.config
target_metadata = Base.metadata


def run_on(connection: Connection) -> None:
    """Run the pending migrations on one connection, in one transaction."""
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_on_url(url: str) -> None:
    """Open an async engine just for the migration (``alembic`` run by hand with a URL)."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(run_on)
            await conn.commit()
    finally:
        await engine.dispose()


def main() -> None:
    """Pick the connection given by the caller, else the configured URL; offline mode is not supported."""
    if context.is_offline_mode():
        raise SystemExit("offline (--sql) migrations are not supported; run against a database URL")
    connection = config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
    else:
        asyncio.run(run_on_url(config.get_main_option("sqlalchemy.url")))


main()
