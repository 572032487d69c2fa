"""Two controllers' claim to lead (callcenter.ha.Leadership) on the real PostgreSQL of the test run.

One takes the advisory lock, the other waits; when the leader's session ends (its backend killed,
its connection cut) the leader stops within its lease and the other leads only after a fence, so the
two never lead at once.  A standby that cannot reach the database says so and never leads.
(The whole pair with Asterisk, phones and traffic: tests/e2e/test_takeover.py.)
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer
from harness.postgres import PG_ENV
from harness.relay import AmiRelay
from sqlalchemy.engine import make_url
from structlog.testing import capture_logs

from callcenter.ha import Leadership
from callcenter.settings import DatabaseSettings, HaSettings, Settings
from callcenter.web.health import standby_app

needs_pg = pytest.mark.skipif(not os.environ.get(PG_ENV), reason=f"needs PostgreSQL ({PG_ENV}, set by ./hotline test)")

CHECK, LEASE = 0.05, 0.3


def _ha(name: str, key: int) -> HaSettings:
    return HaSettings(enabled=True, name=name, lock_key=key, check_interval=CHECK, lease=LEASE)


def _url() -> str:
    return os.environ[PG_ENV]


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _kill_session(name: str) -> int:
    admin = await asyncpg.connect(_plain(_url()))
    try:
        return await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
            f"callcenter-ha-{name}")
    finally:
        await admin.close()


class Watch:
    """Each claim's start and end of leading, by the clock both share."""

    def __init__(self) -> None:
        self.spans: dict[str, list[float]] = {}

    async def lead(self, leadership: Leadership, name: str) -> str:
        await leadership.acquire()
        self.spans[name] = [time.monotonic()]
        reason = await leadership.hold()
        self.spans[name].append(time.monotonic())
        return reason


@needs_pg
async def test_one_leads_the_other_waits_and_takes_over_after_the_leaders_session_dies():
    key = uuid.uuid4().int % 2**31
    a, b, watch = Leadership(_ha("a", key), _url()), Leadership(_ha("b", key), _url()), Watch()
    first = asyncio.create_task(watch.lead(a, "a"))
    await asyncio.sleep(LEASE + 0.5)
    assert a.leading and "a" in watch.spans
    second = asyncio.create_task(watch.lead(b, "b"))
    await asyncio.sleep(1.0)
    assert not b.leading and "b" not in watch.spans and b.database == {"ok": True}, "the lock is a's: b waits, healthy"
    assert b.leader == "a"  # the standby can say which controller leads

    killed_at = time.monotonic()
    assert await _kill_session("a") == 1
    reason = await asyncio.wait_for(first, LEASE + 1)
    assert reason and not a.leading
    await asyncio.wait_for(asyncio.shield(_until(lambda: b.leading)), 3)
    a_end, b_start = watch.spans["a"][1], watch.spans["b"][0]
    assert b_start > a_end + 0.2, f"b led from {b_start - killed_at:.2f} s, a stopped at {a_end - killed_at:.2f} s"
    assert b_start - killed_at < 3.0
    second.cancel()
    await asyncio.gather(second, return_exceptions=True)
    await a.close()
    await b.close()


@needs_pg
async def test_a_leader_whose_database_connection_is_cut_stops_and_cannot_lead_again_while_cut():
    key = uuid.uuid4().int % 2**31
    server = make_url(_url())
    relay = await AmiRelay(server.host or "127.0.0.1", server.port or 5432).start()
    through_relay = server.set(host="127.0.0.1", port=relay.port).render_as_string(hide_password=False)
    a, b, watch = Leadership(_ha("a", key), through_relay), Leadership(_ha("b", key), _url()), Watch()
    first = asyncio.create_task(watch.lead(a, "a"))
    await _until(lambda: a.leading)
    second = asyncio.create_task(watch.lead(b, "b"))
    await asyncio.sleep(0.5)
    assert not b.leading

    await relay.refuse()
    relay.cut()
    await asyncio.wait_for(first, LEASE + 1)
    await _until(lambda: b.leading)
    assert watch.spans["b"][0] > watch.spans["a"][1]
    # a is a standby again, and says it cannot reach the database; it never takes the lead
    again = asyncio.create_task(a.acquire())
    await asyncio.sleep(1.0)
    assert not again.done() and not a.leading
    assert a.database["ok"] is False and a.database["error"]
    for task in (again, second):
        task.cancel()
    await asyncio.gather(again, second, return_exceptions=True)
    await a.close()
    await b.close()
    await relay.close()


async def test_a_standby_that_cannot_reach_postgresql_says_so_on_health_and_never_leads(unused_tcp_port):
    url = f"postgresql+asyncpg://nobody@127.0.0.1:{unused_tcp_port}/none"
    ha = _ha("b", 1)
    leadership = Leadership(ha, url)
    with capture_logs() as logs:
        trying = asyncio.create_task(leadership.acquire())
        await asyncio.sleep(0.5)
    assert [e["event"] for e in logs].count("ha.database_unreachable") == 1  # said once, not every try
    settings = Settings(node="pbx-x", ha=ha, database=DatabaseSettings(url=url))
    async with TestClient(TestServer(standby_app(settings, leadership))) as client:
        await asyncio.sleep(0.5)
        response = await client.get("/health")
        body = await response.json()
        assert response.status == 503
        assert body["status"] == "degraded" and body["role"] == "standby" and body["controller"] == "b"
        assert body["database"]["ok"] is False and "Connect" in body["database"]["error"]
        scrape = await client.get("/metrics")  # loopback: no token needed
        text = await scrape.text()
        assert scrape.status == 200 and "callcenter_leader 0.0" in text and "callcenter_standby_database_up 0.0" in text
        refused = await client.get("/metrics", headers={"Authorization": "Bearer wrong-token-of-some-length"})
        assert refused.status == 403
        other = await client.get("/api/tickets")
        assert other.status == 503 and (await other.json())["error"] == "standby"
        page = await client.get("/agent")  # a browser: a page that says so and looks again
        assert page.status == 503 and "备用控制器" in await page.text() and page.headers["Retry-After"] == "5"
    assert not trying.done() and not leadership.leading
    trying.cancel()
    await asyncio.gather(trying, return_exceptions=True)


async def _until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("not within time")
        await asyncio.sleep(0.01)
