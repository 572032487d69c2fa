"""Two controllers, one leader: a PostgreSQL advisory lock held on a connection of its own.

The controller that holds ``pg_advisory_lock([ha] lock_key)`` leads: it alone connects to AMI and
listens for FastAGI (``callcenter.app.run``).  PostgreSQL releases a session's lock the moment the
session ends (the process died, its connection was cut), so the other controller can take it then.

Never two leaders: a leader proves it still holds the lock by a query on the lock's connection
every ``check_interval``; when a check fails, or none succeeded within ``lease``, it stops acting
at once.  The lock can only have been released after the leader's last good check began, so a new
leader that waits ``fence`` (lease + a margin) after taking the lock starts after the old one
stopped, whatever cut them apart.  The numbers: docs/operations.md, "Two controllers".
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg
import structlog

from callcenter.settings import HaSettings

log = structlog.get_logger(__name__)


class Leadership:
    """This controller's claim to lead; ``acquire`` waits for the lock, ``hold`` returns when it is lost."""

    def __init__(self, ha: HaSettings, database_url: str, clock: Any = time.monotonic) -> None:
        self.ha = ha
        self.dsn = database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
        self.clock = clock
        self.leading = False
        self.database: dict[str, Any] = {"ok": False, "error": "not checked yet"}  # for /health
        self.leader: str | None = None  # a standby's view: the name of the controller holding the lock
        self._conn: asyncpg.Connection | None = None
        self._unreachable_said = False

    async def acquire(self) -> None:
        """Return holding the lock, having waited the fence; until then try every ``check_interval``."""
        waiting_since = self.clock()
        while True:
            try:
                if self._conn is None or self._conn.is_closed():
                    self._conn = await asyncpg.connect(self.dsn, timeout=self.ha.lease, server_settings={
                        "application_name": f"callcenter-ha-{self.ha.name}"})  # pg_stat_activity says whose
                got = await self._conn.fetchval("SELECT pg_try_advisory_lock($1)", self.ha.lock_key,
                                                timeout=self.ha.lease)
                self.database, self._unreachable_said = {"ok": True}, False
                if got:
                    break
                self.leader = await self._holder()
            except Exception as err:  # noqa: BLE001 - any failure: the database is not reachable now
                if not self._unreachable_said:
                    log.warning("ha.database_unreachable", controller=self.ha.name, error=_say(err))  # once per outage
                    self._unreachable_said = True
                self.database = {"ok": False, "error": _say(err)}
                await self._drop()
            await asyncio.sleep(self.ha.check_interval)
        taken = self.clock()
        log.info("ha.lock_taken", controller=self.ha.name, waited_s=round(taken - waiting_since, 2),
                 fence_s=self.ha.fence)
        await asyncio.sleep(self.ha.fence)  # the old leader, if any, has stopped acting by now
        if not await self._check(self.ha.lease):
            raise LeadershipLost("lock connection failed during the fence")
        self.leading = True

    async def hold(self) -> str:
        """Check the lock until it is lost; return why.  The caller must stop acting at once."""
        last_good = self.clock()
        while True:
            await asyncio.sleep(self.ha.check_interval)
            started = self.clock()
            left = last_good + self.ha.lease - started
            if left <= 0 or not await self._check(left):
                reason = self.database.get("error") or "check too late"
                break
            last_good = started  # the session (and its lock) was alive at some moment after this
        self.leading = False
        log.error("ha.lead_lost", controller=self.ha.name, reason=reason,
                  since_last_good_s=round(self.clock() - last_good, 2))
        await self._drop()
        return reason

    async def close(self) -> None:
        """Give the lock back (the session ends with the connection)."""
        self.leading = False
        await self._drop()

    async def _holder(self) -> str | None:
        """The name of the controller whose session holds the lock (its connection's application_name)."""
        assert self._conn is not None
        key = self.ha.lock_key & 0xFFFFFFFFFFFFFFFF  # a bigint key is stored as two 32-bit halves
        name = await self._conn.fetchval(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1 AND l.objid = $2 AND l.objsubid = 1",
            key >> 32, key & 0xFFFFFFFF, timeout=self.ha.lease)
        prefix = "callcenter-ha-"
        return name[len(prefix):] if isinstance(name, str) and name.startswith(prefix) else None

    async def _check(self, timeout: float) -> bool:
        try:
            if self._conn is None:
                raise LeadershipLost("no lock connection")
            await self._conn.fetchval("SELECT 1", timeout=timeout)
            return True
        except Exception as err:  # noqa: BLE001 - any failure: the lock is not proven held
            self.database = {"ok": False, "error": _say(err) or "lock check timed out"}
            return False

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.terminate()  # no goodbye round trip: the server may be gone


class LeadershipLost(Exception):
    """The lock's connection failed before this controller started to lead."""


def _say(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}".strip().rstrip(":")[:200]
