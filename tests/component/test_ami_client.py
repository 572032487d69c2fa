"""The AMI client against a scripted AMI server on a real socket: login, reconnect after the
server drops the connection, the watchdog dropping a half-open connection, and a handler's
exception never stopping the event stream."""

from __future__ import annotations

import asyncio
import re

import pytest
from structlog.testing import capture_logs

from callcenter.ami.client import AmiClient, AmiError
from callcenter.settings import AmiSettings


class FakeAmi:
    """Speaks just enough AMI: banner, Login, Ping (unless told to go silent), events on demand."""

    def __init__(self) -> None:
        self.logins = 0
        self.silent = False  # stop answering pings: a half-open connection as the client sees it
        self.writers: list[asyncio.StreamWriter] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        buffer = b""
        try:
            while chunk := await reader.read(4096):
                buffer += chunk
                while b"\r\n\r\n" in buffer:
                    message, buffer = buffer.split(b"\r\n\r\n", 1)
                    text = message.decode()
                    action = re.search(r"(?im)^Action: (\w+)", text).group(1).lower()
                    action_id = re.search(r"(?im)^ActionID: (.+)$", text).group(1).strip()
                    if action == "login":
                        self.logins += 1
                        writer.write(f"Response: Success\r\nActionID: {action_id}\r\nMessage: Authentication accepted\r\n\r\n".encode())
                        writer.write(b"Event: FullyBooted\r\nPrivilege: system,all\r\nStatus: Fully Booted\r\n\r\n")
                    elif action == "ping" and not self.silent:
                        writer.write(f"Response: Success\r\nActionID: {action_id}\r\nPing: Pong\r\n\r\n".encode())
                await writer.drain()
        except ConnectionError:
            pass

    def event(self, name: str, **headers: str) -> None:
        lines = [f"Event: {name}", *(f"{k}: {v}" for k, v in headers.items())]
        self.writers[-1].write(("\r\n".join(lines) + "\r\n\r\n").encode())

    def drop(self) -> None:
        self.writers[-1].close()


@pytest.fixture
async def ami(unused_tcp_port):
    fake = FakeAmi()
    server = await asyncio.start_server(fake.handle, "127.0.0.1", unused_tcp_port)
    client = AmiClient(AmiSettings(port=unused_tcp_port, secret="s", ping_interval=0.3, reconnect_delay=1.0, action_timeout=1.0))
    yield fake, client
    await client.close()
    server.close()


async def test_reconnects_by_itself_and_says_so(ami):
    fake, client = ami
    with capture_logs() as logs:
        await client.start()
        assert await client.wait_connected(3)
        fake.drop()
        await asyncio.sleep(0.2)
        assert not client.connected
        assert await client.wait_connected(5)
    assert fake.logins == 2
    events = [entry["event"] for entry in logs]
    # one line each: connected at first, disconnected when it dropped, reconnected (with the outage) after
    assert events.count("ami.connected") == 1 and events.count("ami.disconnected") == 1
    assert events.count("ami.reconnected") == 1


async def test_watchdog_drops_a_connection_whose_pings_go_unanswered(ami):
    fake, client = ami
    await client.start()
    assert await client.wait_connected(3)
    fake.silent = True
    with capture_logs() as logs:
        for _ in range(60):
            if fake.logins == 2:
                break
            await asyncio.sleep(0.1)
    fake.silent = False
    assert fake.logins == 2, "the client should have dropped the silent connection and logged in again"
    assert [entry["reason"] for entry in logs if entry["event"] == "ami.disconnected"][0].startswith("ping unanswered")
    assert await client.wait_connected(3)


async def test_a_failing_handler_does_not_stop_later_events(ami):
    fake, client = ami
    seen: list[str] = []

    def broken(event):
        raise RuntimeError("handler bug")

    client.on("DeviceStateChange", broken)
    client.on("DeviceStateChange", lambda event: seen.append(event.get("Device")))
    await client.start()
    assert await client.wait_connected(3)
    fake.event("DeviceStateChange", Device="PJSIP/1001", State="NOT_INUSE")
    fake.event("DeviceStateChange", Device="PJSIP/1002", State="INUSE")
    for _ in range(50):
        if len(seen) == 2:
            break
        await asyncio.sleep(0.02)
    assert seen == ["PJSIP/1001", "PJSIP/1002"]
    assert client.connected


async def test_silenced_it_sends_nothing_more_and_never_reconnects(ami):
    """A controller that lost the lead (callcenter.ha): cut now, no action, no login again (panoramisk would)."""
    fake, client = ami
    await client.start()
    assert await client.wait_connected(3)
    client.silence()  # no await: nothing else runs in between
    with pytest.raises(AmiError, match="not connected"):
        await client.action({"Action": "Ping"})
    await asyncio.sleep(2.5)  # past reconnect_delay twice
    assert fake.logins == 1 and not client.connected
