"""FastAGI server: Asterisk hands each hotline call to a route coroutine over TCP.

Built on panoramisk's FastAGI ``Application`` and ``Request`` with these fixes (docs/architecture.md):
- a client that disconnects before the blank line ends the session (panoramisk spins on EOF);
- headers are bounded in size and time, so garbage on the port cannot block the loop;
- headers are strict: ``agi_<name>: <value>`` lines, each name once, no control characters (a caller
  id carrying CR/LF cannot add or replace a header such as ``agi_uniqueid``); anything else closes
  the session before a route sees it;
- beyond loopback the server is protected: a source allow-list (``agi.allow``) and/or a shared
  secret that the dialplan's AGI URL carries (``agi://host:port/hotline?secret=...``), compared in
  constant time; sessions that fail either never reach a route;
- EOF, ``HANGUP`` and ``result=-1 (hangup)`` replies all raise ``AgiHangup``: the caller is gone;
- other failures raise ``AgiCommandError`` with the line Asterisk sent.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar
from urllib.parse import parse_qs

import structlog
from panoramisk.fast_agi import Application, Request
from panoramisk.utils import parse_agi_result

log = structlog.get_logger(__name__)

T = TypeVar("T")

MAX_HEADER_BYTES = 16 * 1024
MAX_HEADERS = 200  # Asterisk sends about 25, plus one per AGI argument
HEADER_TIMEOUT = 5.0
MAX_HANDSHAKES = 64  # connections still sending their headers at once; more are closed at once
_NAME = re.compile(r"agi_[a-z0-9_]{1,64}")


class AgiHeaderError(ValueError):
    """The AGI environment is malformed (not Asterisk's, or a value tried to carry a line break)."""


DEAD_CHANNEL = 511  # "Command Not Permitted on a dead channel or intercept routine": it hung up


class AgiHangup(Exception):
    """The channel hung up (or the socket closed) during the AGI session."""


class AgiCommandError(Exception):
    """Asterisk answered an AGI command with an error."""


class AgiSession(Request):
    """One FastAGI session: the AGI environment plus typed commands."""

    def __init__(self, app: Application, headers: dict[str, str], reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        super().__init__(app=app, headers=headers, reader=reader, writer=writer, encoding="utf-8")
        self.heard = False  # the peer answered at least one command (a line, even HANGUP)

    def env(self, name: str) -> str:
        """An ``agi_*`` variable Asterisk sent at the start (empty string if absent)."""
        return self.headers.get(f"agi_{name}", "")

    async def _read_result(self) -> dict[str, Any]:
        line = await self.reader.readline()
        if not line:
            raise AgiHangup("socket closed")
        self.heard = True
        text = line.decode(self.encoding, "replace").rstrip("\r\n")
        if text == "HANGUP":
            # Asterisk announces a hangup asynchronously; the real reply may follow.  Either way
            # the call is over for us.
            raise AgiHangup("HANGUP")
        try:
            return parse_agi_result(text)
        except ValueError as err:
            raise AgiCommandError(f"unparseable AGI reply {text!r}") from err

    async def run(self, command: str) -> dict[str, Any]:
        """Send one AGI command; raise AgiHangup / AgiCommandError on failure."""
        try:
            result = await self.send_command(command)
        except (ConnectionError, BrokenPipeError) as err:
            raise AgiHangup(str(err)) from err
        error = result.get("error")
        if result.get("status_code") == DEAD_CHANNEL:
            raise AgiHangup(result.get("msg") or "dead channel")
        if error == "AGIResultHangup":
            raise AgiHangup(result.get("msg", "hangup"))
        if error == "AGIAppError":
            # result=-1: for EXEC this means the application hung up the channel (or failed)
            raise AgiHangup(result.get("msg", "application ended the call"))
        if error:
            raise AgiCommandError(f"{command!r}: {error} {result.get('msg', '')}".strip())
        return result

    async def idle_until(self, awaitable: Awaitable[T]) -> T:
        """Wait for ``awaitable`` while no command runs, watching the socket for the caller's hangup.

        Between commands Asterisk sends nothing except ``HANGUP`` (or closes the socket) when the
        channel hangs up; without reading, a caller who leaves while on hold would go unnoticed.
        """
        waiting = asyncio.ensure_future(awaitable)
        watching = asyncio.ensure_future(self.reader.readline())
        try:
            await asyncio.wait({waiting, watching}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            # Cancelled tasks must finish before the next command reads the socket.
            for task in (watching, waiting):
                if not task.done():
                    task.cancel()
                    await asyncio.wait({task})  # unlike awaiting it, never swallows our own cancellation
        if watching.done() and not watching.cancelled():
            line = watching.result() if watching.exception() is None else b""
            raise AgiHangup(line.decode(self.encoding, "replace").strip() or "socket closed")
        return waiting.result()

    async def answer(self) -> None:
        await self.run("ANSWER")

    async def set_variable(self, name: str, value: Any) -> None:
        await self.run(f'SET VARIABLE {name} "{_quote(str(value))}"')

    async def get_variable(self, name: str) -> str:
        result = await self.run(f"GET VARIABLE {name}")
        value, data = result.get("result", ("0", ""))
        return data if value == "1" else ""

    async def exec(self, application: str, args: str = "") -> str:
        """Run a dialplan application; returns its result code."""
        result = await self.run(f'EXEC {application} "{_quote(args)}"' if args else f"EXEC {application}")
        return result.get("result", ("", ""))[0]

    async def music_on(self, moh_class: str = "default") -> None:
        await self.run(f"SET MUSIC ON {moh_class}")

    async def music_off(self) -> None:
        await self.run("SET MUSIC OFF")


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


Route = Callable[[AgiSession], Awaitable[None]]


class AgiServer(Application):
    """FastAGI application: routes by the script name in ``agi://host:port/<name>``."""

    def __init__(self, secret: str = "", allow: Iterable[str] = ()) -> None:
        super().__init__(default_encoding="utf-8", loop=asyncio.get_running_loop())
        self._server: asyncio.base_events.Server | None = None
        self._session_tasks: set[asyncio.Task] = set()
        self._writers: set[asyncio.StreamWriter] = set()  # the open sessions' sockets (abort cuts them)
        self.secret = secret  # required in the AGI URL's query (secret=...) when set
        self.allow = tuple(ipaddress.ip_network(a, strict=False) for a in allow)  # empty: any source
        self._handshakes = 0
        self.refused = 0  # connections closed before a route (bad headers, no secret, foreign source)

    @property
    def sessions(self) -> int:
        """FastAGI sessions open now."""
        return len(self._session_tasks)

    def route(self, name: str, endpoint: Route) -> None:
        # not add_route(): it wraps non-coroutine-functions (callable objects) with the
        # asyncio.coroutine that Python 3.11 no longer has
        if name in self._route:
            raise ValueError(f"AGI route {name!r} already exists")
        self._route[name] = endpoint

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self.handler, host, port)
        log.info("agi.listening", host=host, port=port)

    async def close(self) -> None:
        """Stop listening and end open sessions (their calls continue in the dialplan)."""
        self.abort()
        await asyncio.gather(*self._session_tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    def abort(self) -> None:
        """Stop now, without an await: no new session, and every open one's socket cut.

        Asterisk sees each socket close at once and goes on in the dialplan (a waiting caller to the
        other controller or the fallback queue; a bridged call carries on).
        """
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._session_tasks):
            task.cancel()

    def _source_allowed(self, peer: Any) -> bool:
        if not self.allow:
            return True
        try:
            address = ipaddress.ip_address(str(peer[0]).split("%", 1)[0])
        except (TypeError, IndexError, ValueError):
            return False
        if getattr(address, "ipv4_mapped", None) is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.allow)

    def _refuse(self, writer: asyncio.StreamWriter, event: str, **fields: Any) -> None:
        self.refused += 1
        log.warning(event, **fields)
        writer.close()

    async def handler(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        if not self._source_allowed(peer):
            self._refuse(writer, "agi.source_refused", peer=str(peer))
            return
        if self._handshakes >= MAX_HANDSHAKES:
            self._refuse(writer, "agi.too_many_handshakes", peer=str(peer))
            return
        self._handshakes += 1
        try:
            headers = await asyncio.wait_for(_read_headers(reader), HEADER_TIMEOUT)
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, ConnectionError) as err:
            self._refuse(writer, "agi.bad_request", peer=str(peer), reason=type(err).__name__,
                         **({"detail": str(err)} if isinstance(err, AgiHeaderError) else {}))
            return
        finally:
            self._handshakes -= 1
        script, _, query = headers.get("agi_network_script", "").partition("?")
        if self.secret and not _secret_ok(query, self.secret):
            self._refuse(writer, "agi.unauthorised", peer=str(peer), script=script[:64])
            return
        endpoint = self._route.get(script)
        if endpoint is None:
            self._refuse(writer, "agi.no_route", script=script[:64], peer=str(peer))
            return
        task = asyncio.current_task()
        self._session_tasks.add(task)
        self._writers.add(writer)
        try:
            await endpoint(AgiSession(self, headers, reader, writer))
        except AgiHangup:
            log.debug("agi.hangup", script=script, uniqueid=headers.get("agi_uniqueid"))
        except asyncio.CancelledError:
            log.debug("agi.session_cancelled", script=script, uniqueid=headers.get("agi_uniqueid"))
        except Exception:
            log.exception("agi.route_failed", script=script, uniqueid=headers.get("agi_uniqueid"))
        finally:
            self._session_tasks.discard(task)
            self._writers.discard(writer)
            writer.close()


def _secret_ok(query: str, secret: str) -> bool:
    sent = parse_qs(query, keep_blank_values=True).get("secret", [""])
    return len(sent) == 1 and hmac.compare_digest(sent[0].encode(), secret.encode())


async def _read_headers(reader: asyncio.StreamReader) -> dict[str, str]:
    """Read ``agi_name: value`` lines up to the blank line, strictly; EOF first is an error.

    Asterisk writes each variable once, as ``agi_<lower-case name>: <value>\\n``.  A line that is not
    that, a name seen twice (a caller id carrying ``\\n agi_uniqueid: ...``), or a value with a control
    character (CR, NUL, ...) is refused with ``AgiHeaderError``: nothing of such a session is trusted.
    """
    headers: dict[str, str] = {}
    size = 0
    while True:
        line = await reader.readline()
        if not line:
            raise asyncio.IncompleteReadError(b"", None)
        size += len(line)
        if size > MAX_HEADER_BYTES:
            raise AgiHeaderError("AGI headers too large")
        if not line.endswith(b"\n"):
            raise asyncio.IncompleteReadError(line, None)  # EOF in the middle of a line
        text = line[:-1].decode("utf-8", "replace")
        if not text:
            return headers
        name, sep, value = text.partition(": ")
        if not sep or not _NAME.fullmatch(name):
            raise AgiHeaderError("not an AGI header line")
        if any((ord(ch) < 32 and ch != "\t") or ord(ch) == 127 for ch in value):
            raise AgiHeaderError(f"control character in {name}")
        if name in headers:
            raise AgiHeaderError(f"{name} sent twice")
        if len(headers) >= MAX_HEADERS:
            raise AgiHeaderError("too many AGI headers")
        headers[name] = value
