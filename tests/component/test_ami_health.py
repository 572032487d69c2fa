"""/health and the AMI connection's truth, over real sockets.

- The public answer (no login, or an operator) is only ``status``, ``node`` and ``role`` (whether this
  controller leads); the details (AMI, database, agents' states, errors, host) are for a logged-in supervisor.
- AMI is "connected" only when it answered a ping within the watchdog interval: an AMI that accepts
  the login (and the resync) and then answers no ping is degraded, every time it is asked.
- An outage is logged once when it starts and once when it ends (with its length), however long it
  lasts; panoramisk's "Not able to reconnect" every second is silenced.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from fake_asterisk import FakeAsterisk
from harness.env import make_test_settings
from harness.polling import eventually
from structlog.testing import capture_logs

from callcenter import keys
from callcenter.ami.client import AmiClient
from callcenter.app import create_app
from callcenter.settings import AmiSettings
from callcenter.web import keys as web_keys

PASSWORD = "correct horse battery"
PING = 0.3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class QuietAsterisk(FakeAsterisk):
    """Answers the login and every action, except pings while ``pings`` is False."""

    pings = True

    def _answer(self, action, writer):
        if action.get("action", "").lower() == "ping" and not self.pings:
            return
        super()._answer(action, writer)


async def login(client: TestClient, username: str) -> None:
    form = await (await client.get("/login")).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    response = await client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token},
                                 allow_redirects=False)
    assert response.status == 302, await response.text()


@pytest.fixture
async def controller(tmp_path: Path) -> AsyncIterator[tuple[TestClient, QuietAsterisk]]:
    fake = QuietAsterisk()
    fake.devices = {"1001": "NOT_INUSE"}
    port = free_port()
    await fake.start(port)
    settings = make_test_settings(tmp_path / "state")
    settings = dataclasses.replace(
        settings,
        ami=dataclasses.replace(settings.ami, port=port, ping_interval=PING, action_timeout=1.0, reconnect_delay=1.0),
        agi=dataclasses.replace(settings.agi, port=free_port()),
    )
    app = create_app(settings)
    async with TestClient(TestServer(app)) as client:
        accounts = app[web_keys.ACCOUNTS]
        await accounts.create("boss", PASSWORD, "supervisor")
        await accounts.create("op1", PASSWORD, "operator", agent_id="1001")
        await eventually(lambda: app[keys.ADAPTER].link["up"], 5, message="AMI up and resynced")
        yield client, fake
    await fake.close()


async def health(client: TestClient) -> tuple[int, dict]:
    response = await client.get("/health")
    return response.status, await response.json()


PUBLIC = {"status": "ok", "node": "pbx-test", "role": "leader"}


async def test_the_public_answer_is_status_node_and_role_only(controller):
    client, _ = controller
    await eventually(lambda: health(client), 5)
    status, body = await health(client)
    assert (status, body) == (200, PUBLIC)
    await login(client, "op1")  # an operator sees no more than anyone
    assert (await health(client))[1] == PUBLIC


async def test_the_role_is_what_the_leadership_says(tmp_path: Path):
    """The app's ``LEADING`` (one controller: always; issue 16's leadership later) decides /health's and /metrics' word."""
    settings = make_test_settings(tmp_path / "state")
    settings = dataclasses.replace(settings, ami=dataclasses.replace(settings.ami, port=free_port(), reconnect_delay=60),
                                   agi=dataclasses.replace(settings.agi, port=free_port()))
    app = create_app(settings)
    app[keys.LEADING] = lambda: False
    async with TestClient(TestServer(app)) as client:
        status, body = await health(client)
        assert (status, body) == (503, {"status": "degraded", "node": "pbx-test", "role": "standby"})  # no AMI here
        assert "\ncallcenter_leader 0.0\n" in await (await client.get("/metrics")).text()


async def test_a_supervisor_gets_the_details(controller):
    client, _ = controller
    await login(client, "boss")
    status, body = await health(client)
    assert status == 200 and body["status"] == "ok" and body["node"] == "pbx-test" and body["role"] == "leader"
    assert body["ami"]["connected"] is True and body["ami"]["logged_in"] is True
    assert 0 <= body["ami"]["last_pong_s"] <= 2 * PING
    assert body["ami"]["resynced"] is True and body["database"]["ok"] is True
    assert body["acd"]["agents"] == {"1001": "available"} and "host" in body["ami"] and "sessions" in body["agi"]


async def test_an_ami_that_logs_in_and_answers_no_ping_is_not_connected(controller):
    """The tester's case: login and resync work, then nothing answers; the watchdog keeps reconnecting."""
    client, fake = controller
    await login(client, "boss")
    fake.pings = False
    fake.drop()  # a fresh login, whose pings go unanswered from the start
    samples = []
    deadline = time.monotonic() + 8 * PING + 2.0  # several watchdog cycles (logins in between)
    await asyncio.sleep(0.3)
    while time.monotonic() < deadline:
        status, body = await health(client)
        samples.append((status, body["status"], body["ami"]["connected"]))
        await asyncio.sleep(0.05)
    assert fake.logins >= 3, "the watchdog should have dropped and re-opened the connection"
    assert set(samples) == {(503, "degraded", False)}, [s for s in samples if s != (503, "degraded", False)][:3]
    status, body = await health(client)
    assert body["ami"]["error"]  # and says why
    fake.pings = True
    await eventually(lambda: health(client), 5)
    status, body = await eventually(lambda: _ok(client), 5, message="healthy again")
    assert body["ami"]["connected"] is True


def answering(client: AmiClient) -> bool:
    return getattr(client, "responsive", client.connected)


async def _ok(client: TestClient):
    status, body = await health(client)
    return (status, body) if status == 200 else None


@pytest.mark.parametrize("outage", ["port_closed", "connection_refused_after_accept"])
async def test_an_outage_is_logged_once_with_its_length_and_panoramisk_keeps_quiet(unused_tcp_port, caplog, outage):
    fake = FakeAsterisk()
    await fake.start(unused_tcp_port)
    client = AmiClient(AmiSettings(port=unused_tcp_port, secret="s", ping_interval=PING, reconnect_delay=1.0,
                                   action_timeout=1.0))
    caplog.set_level(logging.DEBUG, logger="panoramisk")
    try:
        with capture_logs() as logs:
            await client.start()
            await eventually(lambda: answering(client), 5, message="connected")
            if outage == "port_closed":  # every reconnect attempt is refused: "Not able to reconnect"
                fake._server.close()
                await fake._server.wait_closed()
            else:  # accepted and closed at once: "Connection lost", "Try to connect again"
                fake.accepting = False
            fake.drop()
            await eventually(lambda: not answering(client), 5, message="the outage seen")
            await asyncio.sleep(3.2)  # three reconnect attempts at least
            if outage == "port_closed":
                await fake.start(unused_tcp_port)
            fake.accepting = True
            await eventually(lambda: answering(client), 5, message="back")
    finally:
        await client.close()
        await fake.close()
    events = [e for e in logs if e["event"].startswith("ami.") and e["log_level"] != "debug"]
    assert [e["event"] for e in events] == ["ami.connected", "ami.disconnected", "ami.reconnected"], events
    assert 3.0 <= events[-1]["outage_s"] <= 6.0
    chatter = [r.getMessage() for r in caplog.records if r.name.startswith("panoramisk") and r.levelno >= logging.INFO]
    assert not [m for m in chatter if "connect" in m.lower() or "connection" in m.lower()], chatter
