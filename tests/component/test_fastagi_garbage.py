"""Garbage and attackers on the FastAGI port, against the real call path: ``AgiServer`` with the
``Hotline`` route, a real Adapter, AmiClient (on a scripted AMI, ``fake_asterisk``) and TicketService
on SQLite with the work-order hook (so a ticket would also open a work order and, abandoned, a
callback task).

Random bytes, truncated headers, 1 MiB headers, slow senders, a session that closes right after its
headers, a peer that answers what Asterisk never would, and header values carrying CR/LF (a caller
id that tries to replace ``agi_uniqueid``): none opens a ticket or leaves a session, and the next
real call is served.  Beyond loopback the port needs the shared secret or an allowed source.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fake_asterisk import FakeAsterisk
from harness.env import make_test_settings
from harness.polling import eventually
from sqlalchemy import func, select

import callcenter.adapter as adapter_module
import callcenter.agi.server as agi_server
from callcenter.adapter import Adapter
from callcenter.agi.server import AgiServer
from callcenter.ami.client import AmiClient
from callcenter.asterisk.config import render_config
from callcenter.exceptions import ConfigError
from callcenter.hotline import Hotline
from callcenter.settings import load
from callcenter.store import open_database, session_factory
from callcenter.store.models import Ticket
from callcenter.tickets import TicketService
from callcenter.workorders.models import CallbackTask, WorkOrder
from callcenter.workorders.service import WorkOrderService

GOOD = {
    "agi_network": "yes", "agi_network_script": "hotline", "agi_request": "agi://127.0.0.1/hotline",
    "agi_channel": "PJSIP/trunk-00000001", "agi_language": "en", "agi_type": "PJSIP",
    "agi_uniqueid": "1741568400.77", "agi_callerid": "13800138000", "agi_calleridname": "张三",
    "agi_context": "hotline", "agi_extension": "12320",
}


def headers(**changes: str) -> bytes:
    fields = {**GOOD, **changes}
    return ("".join(f"{k}: {v}\n" for k, v in fields.items()) + "\n").encode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclasses.dataclass
class Stack:
    fake: FakeAsterisk
    agi: AgiServer
    tickets: TicketService
    adapter: Adapter
    sessions: object
    port: int

    async def rows(self, model: type) -> int:
        assert await self.tickets.flush(5)
        async with self.sessions() as session:  # type: ignore[operator]
            return await session.scalar(select(func.count()).select_from(model))

    async def nothing_left(self) -> None:
        assert await self.rows(Ticket) == 0, "a ticket was opened"
        assert await self.rows(WorkOrder) == 0 and await self.rows(CallbackTask) == 0
        await eventually(lambda: self.agi.sessions == 0, 2, message="no FastAGI session left")
        assert self.adapter.calls == {} and self.adapter.acd.waiting() == []

    async def real_call_is_served(self, uid: str = "1741568400.900") -> None:
        """A well-formed session as Asterisk opens it: ticket first, on hold, the agent's phone rung."""
        caller = await self.fake.open_agi("hotline", uid, f"PJSIP/trunk-{uid}")
        await eventually(lambda: caller.saw("SET MUSIC ON"), 5, message="the caller on hold")
        await eventually(lambda: self.fake.originates_to("1001"), 5, message="the agent rung")
        ticket = await self.tickets.get(uid)
        assert ticket is not None and ticket.caller_number == "13800138000"
        caller.hangup()
        await eventually(lambda: caller.closed.is_set(), 5, message="session closed")

        async def ended() -> bool:
            await self.tickets.flush(5)
            row = await self.tickets.get(uid)
            return row is not None and row.ended_at is not None
        await eventually(ended, 5, message="the real call's ticket ended")
        await eventually(lambda: self.agi.sessions == 0, 5, message="its session closed")


@pytest.fixture
async def stack(tmp_path: Path, monkeypatch) -> AsyncIterator[Stack]:
    monkeypatch.setattr(agi_server, "HEADER_TIMEOUT", 1.0)  # slow senders are cut after 1 s (5 s in production)
    monkeypatch.setattr(adapter_module, "CUT_WINDOW", 0.3)  # how long an ended call waits to rule out Asterisk dying
    fake = FakeAsterisk()
    ami_port, agi_port = free_port(), free_port()
    fake.agi_port = agi_port
    fake.devices = {"1001": "NOT_INUSE"}
    fake.on_originate = lambda o: fake.ring(o)  # the agent's phone rings, nobody answers
    await fake.start(ami_port)
    settings = make_test_settings(tmp_path / "state")
    settings = dataclasses.replace(
        settings,
        ami=dataclasses.replace(settings.ami, port=ami_port, ping_interval=0.5, action_timeout=1.0),
        acd=dataclasses.replace(settings.acd, ring_on=0.2, ring_off=0.8, setup_timeout=1.0, ring_grace=0.5),
    )
    engine = await open_database(settings.database_url)
    sessions = session_factory(engine)
    work = WorkOrderService(sessions, settings)
    tickets = TicketService(sessions, settings.node, spill_dir=settings.state_path / "spill")
    tickets.after_write.append(work.on_ticket_write)
    await tickets.start()
    ami = AmiClient(settings.ami)
    adapter = Adapter(settings, ami, tickets)
    await adapter.start()
    await ami.start()
    agi = AgiServer()
    agi.route("hotline", Hotline(tickets, adapter, None))
    agi.route("agent", adapter.serve_agent)
    await agi.start("127.0.0.1", agi_port)
    await eventually(lambda: adapter.link["up"], 5, message="the first resync")
    yield Stack(fake, agi, tickets, adapter, sessions, agi_port)
    await agi.close()
    await ami.close()
    await tickets.close()
    await engine.dispose()
    await fake.close()


async def send(port: int, payload: bytes, *, then: bytes | None = None, slow: float = 0.0) -> bytes:
    """Connect, send ``payload`` (byte by byte every ``slow`` s), answer the first command with ``then``
    (None: close at once); what the server sent before closing."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        if slow:
            for byte in payload:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(slow)
        else:
            writer.write(payload)
            await writer.drain()
        if then is None:
            writer.write_eof()
        else:
            await asyncio.wait_for(reader.readline(), 3)
            writer.write(then)
            await writer.drain()
        return await asyncio.wait_for(reader.read(), 5)
    except (ConnectionError, asyncio.IncompleteReadError):
        return b""
    finally:
        writer.close()


rng = random.Random(12)
GARBAGE = {
    "random bytes": bytes(rng.randrange(256) for _ in range(8192)),
    "random lines": b"\n".join(bytes(rng.randrange(32, 127) for _ in range(rng.randrange(1, 80))) for _ in range(100)),
    "truncated headers": headers()[:60],
    "headers without the blank line": headers()[:-1],
    "1 MiB header line": b"agi_callerid: " + b"1" * (1 << 20) + b"\n\n",
    "1 MiB of header lines": b"".join(f"agi_arg_{n}: {'x' * 100}\n".encode() for n in range(10_000)) + b"\n",
    "an HTTP request": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    "no route": headers(agi_network_script="nosuchroute"),
    "NUL in a value": headers(agi_calleridname="a\x00b"),
    "CR in the caller id": headers(agi_callerid="13800138000\rspoof"),
    "CRLF injection of agi_uniqueid": headers(agi_callerid="13800138000\r\nagi_uniqueid: 1741568400.666"),
    "LF injection of agi_uniqueid": headers(agi_callerid="13800138000\nagi_uniqueid: 1741568400.666"),
    "LF injection of a line that is no header": headers(agi_calleridname="x\nHANGUP"),
    "upper-case header name": headers().replace(b"agi_callerid", b"AGI_CALLERID"),
}


@pytest.mark.parametrize("payload", list(GARBAGE.values()), ids=list(GARBAGE))
async def test_garbage_opens_no_ticket_and_the_next_call_is_served(stack, payload):
    assert await send(stack.port, payload) == b""  # closed without a command
    await stack.nothing_left()
    await stack.real_call_is_served()


async def test_a_session_that_closes_after_its_headers_is_no_call(stack):
    """The tester's 212 stuck tickets: well-formed headers, then the socket closes without a word."""
    for n in range(20):
        await send(stack.port, headers(agi_uniqueid=f"1741568400.{n}"))
    await stack.nothing_left()
    await stack.real_call_is_served()


@pytest.mark.parametrize("reply", [b"garbage\n", b"HTTP/1.1 400 Bad Request\r\n\r\n", b"200 result=1 (1741568400.5)\n"])
async def test_a_peer_that_does_not_answer_as_asterisk_gets_no_ticket(stack, reply):
    """It answered the first command, but not as Asterisk would (the channel's own uniqueid)."""
    sent = await send(stack.port, headers(), then=reply)
    assert sent == b""  # nothing after the probe: no ANSWER, no ticket number
    await stack.nothing_left()
    await stack.real_call_is_served()


async def test_slow_senders_are_cut_off_and_do_not_block_a_real_call(stack):
    slow = [asyncio.create_task(send(stack.port, headers(), slow=0.3)) for _ in range(5)]
    await asyncio.sleep(0.2)
    await stack.real_call_is_served()  # while they trickle
    assert await asyncio.gather(*slow) == [b""] * 5  # cut at the header timeout
    assert await stack.rows(Ticket) == 1  # the real call's only
    assert stack.agi.sessions == 0 and stack.agi.refused == 5


async def test_a_caller_who_left_at_once_still_gets_a_ticket(stack):
    """Asterisk said HANGUP before the first reply: a real (abandoned) call, ticket ended at arrival."""
    caller = await stack.fake.open_agi("hotline", "1741568400.55", "PJSIP/trunk-55", replies={"GET VARIABLE UNIQUEID": "HANGUP"})
    await eventually(lambda: caller.closed.is_set(), 5, message="session closed")

    async def ended():
        await stack.tickets.flush(5)
        row = await stack.tickets.get("1741568400.55")
        return row if row is not None and row.ended_at is not None else None
    ticket = await eventually(ended, 5, message="ticket ended")
    assert ticket.details["end"] == {"stage": "arrival", "hangup_by": "caller"}


# -- beyond loopback: a shared secret, an allow-list ------------------------------------------------


@pytest.fixture
async def guarded(unused_tcp_port) -> AsyncIterator[tuple[AgiServer, list[str]]]:
    seen: list[str] = []

    async def route(agi) -> None:
        seen.append(agi.env("uniqueid"))

    server = AgiServer(secret="s3cr3t-Value")
    server.route("hotline", route)
    await server.start("127.0.0.1", unused_tcp_port)
    yield server, seen
    await server.close()


async def test_with_a_secret_only_sessions_carrying_it_reach_a_route(guarded, unused_tcp_port):
    server, seen = guarded
    for script in ("hotline", "hotline?secret=wrong", "hotline?secret=", "hotline?secret=s3cr3t-Valu",
                   "hotline?secret=s3cr3t-Value&secret=s3cr3t-Value"):
        await send(unused_tcp_port, headers(agi_network_script=script, agi_uniqueid=script))
    assert seen == [] and server.refused == 5
    await send(unused_tcp_port, headers(agi_network_script="hotline?secret=s3cr3t-Value", agi_uniqueid="ok"))
    await eventually(lambda: seen == ["ok"], 2, message="the session with the secret served")


async def test_a_source_outside_the_allow_list_is_refused(unused_tcp_port):
    seen: list[str] = []

    async def route(agi) -> None:
        seen.append(agi.env("uniqueid"))

    for allow, served in ((["10.0.0.0/8"], False), (["10.0.0.5", "127.0.0.1"], True)):
        server = AgiServer(allow=allow)
        server.route("hotline", route)
        await server.start("127.0.0.1", unused_tcp_port)
        try:
            await send(unused_tcp_port, headers())
            await asyncio.sleep(0.1)
            assert (seen == [GOOD["agi_uniqueid"]]) is served
        finally:
            await server.close()


def _settings(tmp_path: Path, agi: str):
    path = tmp_path / "agi.toml"
    path.write_text(f'state_dir = "{tmp_path}"\n[agi]\n{agi}\n', encoding="utf-8")
    return load(path, env={})


@pytest.mark.parametrize("agi", ['host = "0.0.0.0"', 'host = "10.0.0.6"', 'host = ""', 'host = "::"'])
def test_binding_beyond_loopback_without_protection_is_refused(tmp_path, agi):
    with pytest.raises(ConfigError, match="not loopback"):
        _settings(tmp_path, agi)


@pytest.mark.parametrize("agi", ['host = "127.0.0.1"', 'host = "localhost"', 'host = "::1"',
                                 'host = "0.0.0.0"\nsecret = "abc-DEF_123"', 'host = "10.0.0.6"\nallow = ["10.0.0.5"]'])
def test_loopback_or_a_protected_port_is_accepted(tmp_path, agi):
    _settings(tmp_path, agi)


def test_the_dialplan_carries_the_secret_on_every_agi_url(tmp_path):
    settings = _settings(tmp_path, 'host = "127.0.0.1"\nsecret = "abc-DEF_123"')
    conf = render_config(settings)["extensions.conf"]
    globals_ = dict(line.split(" = ", 1) for line in conf.splitlines() if line.startswith("HOTLINE_"))
    urls = [url for name, url in globals_.items() if name.endswith("_AGI")]
    assert len(urls) == 4 and all(url.endswith("?secret=abc-DEF_123") for url in urls)
    assert all(globals_[f"{name}_2"] == "" for name in globals_ if name.endswith("_AGI"))  # one controller
    assert globals_["HOTLINE_AGI_TRIES"] == "1"
    # A pair: the second controller's URLs beside them, with the same secret; 0.5 s rounds for dialplan_retry
    pair = render_config(_settings(tmp_path, 'host = "127.0.0.1"\nsecret = "abc-DEF_123"\n[ha]\npeer_agi = "127.0.0.1:4575"'))
    globals_ = dict(line.split(" = ", 1) for line in pair["extensions.conf"].splitlines() if line.startswith("HOTLINE_"))
    assert globals_["HOTLINE_AGENT_AGI_2"] == "agi://127.0.0.1:4575/agent?secret=abc-DEF_123"
    assert globals_["HOTLINE_AGI_2"] == "agi://127.0.0.1:4575/hotline?secret=abc-DEF_123"
    assert globals_["HOTLINE_AGI_TRIES"] == "8"
    assert "${HOTLINE_OUTBOUND_AGI}-list" not in render_config(settings)["outbound.conf"]
    with pytest.raises(ConfigError, match="agi.secret"):
        _settings(tmp_path, 'secret = "a&b"')
