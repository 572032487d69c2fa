"""A scriptable SIP phone: one baresip process driven over its ``ctrl_tcp`` module.

Used by the e2e tests (operators that answer after N seconds or never, callers that dial the
hotline) and by the demo (auto-answering operators and one caller).  Each phone gets its own
config directory (``baresip -f DIR``), SIP port and control port.  Audio is headless: the phone
sends a quiet tone from a generated 8 kHz wav and plays what it hears into ``aubridge``, a
virtual device that plays nothing (baresip refuses calls with 486 when it has no usable audio).

``ctrl_tcp`` speaks JSON in netstrings (``<len>:<json>,``):
  command  ``{"command": "dial", "params": "sip:12320@127.0.0.1:5060", "token": "7"}``
  response ``{"response": true, "ok": true, "data": "...", "token": "7"}``
  event    ``{"event": true, "type": "CALL_INCOMING", "class": "call", "peeruri": "...", ...}``
The commands (dial, accept, hangup, sndcode, reginfo, quit) come from the ``menu`` module, which
must be loaded beside ``ctrl_tcp``.

By default the host's baresip (Debian 12: 1.0.0) runs; ``chroot=`` runs the one inside the
Asterisk root instead (Debian unstable: 1.1), with its config directory under ``<root>/tmp``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import random
import re
import shutil
import socket
import struct
import tempfile
import time
import wave
from collections import deque
from pathlib import Path
from typing import Any, Callable

import structlog

from callcenter.private_file import write_private

log = structlog.get_logger(__name__)

DEFAULT_BARESIP = "/usr/bin/baresip"
RTP_PORTS = "20000-29999"  # apart from Asterisk's 10000-10999
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _die_with_parent() -> None:
    """In the child before exec: end with the process that started the phone, however it ends."""
    import ctypes
    import signal

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class SoftphoneError(Exception):
    """The phone failed to start, a command failed, or an awaited event did not come."""


def free_port_pair(low: int = 30000, high: int = 39998) -> int:
    """An even port P with UDP P and P+1 free (baresip binds SIP on P and also takes P+1)."""
    for _ in range(200):
        port = random.randrange(low, high, 2)
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as a, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as b, socket.socket() as c:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 1))
                c.bind(("127.0.0.1", port))  # baresip may also open TCP on the SIP port
            return port
        except OSError:
            continue
    raise SoftphoneError("no free port pair found")


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_tone_wav(path: Path, seconds: float = 60.0, freq: float = 440.0, rate: int = 8000) -> Path:
    """A quiet tone, half a second on and half off, as 8 kHz mono 16-bit wav (what aufile wants)."""
    frames = bytearray()
    for n in range(int(seconds * rate)):
        on = (n // (rate // 2)) % 2 == 0
        sample = int(2000 * math.sin(2 * math.pi * freq * n / rate)) if on else 0
        frames += struct.pack("<h", sample)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(frames))
    return path


class Softphone:
    """One registered SIP phone.

    ``answer="auto"``: every call is accepted the moment it rings.  ``answer="manual"``: calls ring
    until ``accept()``; with ``answer_after=N`` the phone accepts by itself N seconds after each
    ``CALL_INCOMING`` (``None``: never, leave it ringing).

    Auto-answer is done by this class, not by baresip's ``answermode=auto``: baresip 1.0 then
    answers without emitting CALL_INCOMING, and tests want the moment the phone started ringing.
    """

    def __init__(
        self,
        user: str,
        password: str,
        registrar_host: str = "127.0.0.1",
        registrar_port: int = 5060,
        *,
        answer: str = "auto",
        answer_after: float | None = None,
        sip_port: int | None = None,
        ctrl_port: int | None = None,
        record_to: str | Path | None = None,
        baresip: str = DEFAULT_BARESIP,
        chroot: str | Path | None = None,
        workdir: str | Path | None = None,
    ) -> None:
        if answer not in ("auto", "manual"):
            raise ValueError("answer must be 'auto' or 'manual'")
        self.user = user
        self.password = password
        self.registrar_host = registrar_host
        self.registrar_port = registrar_port
        self.answer = answer
        self.answer_after = answer_after
        self.sip_port = sip_port or free_port_pair()
        self.ctrl_port = ctrl_port or free_tcp_port()
        self.record_to = Path(record_to).resolve() if record_to else None
        self.baresip = baresip
        self.chroot = Path(chroot).resolve() if chroot else None
        self._workdir_arg = Path(workdir) if workdir else None
        self.workdir: Path | None = None  # host path of the config directory
        self.events: list[dict[str, Any]] = []  # every event, with "at" = time.monotonic()
        self._returned: set[int] = set()  # indexes into events already given out by wait_event
        self._changed = asyncio.Condition()
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._tokens = itertools.count(1)
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._read_task: asyncio.Task[None] | None = None
        self._output_task: asyncio.Task[None] | None = None
        self.output: deque[str] = deque(maxlen=300)  # baresip's console output, newest last
        self._answer_tasks: set[asyncio.Task[None]] = set()
        self._log = log.bind(phone=user, sip_port=self.sip_port)

    def __repr__(self) -> str:
        return f"<Softphone {self.user} sip={self.sip_port} ctrl={self.ctrl_port} {self.answer}>"

    # ------------------------------------------------------------------ paths and config

    def _inside(self, host_path: Path) -> str:
        """The path baresip sees: relative to the chroot when it runs inside one."""
        if self.chroot is None:
            return str(host_path)
        try:
            return "/" + str(host_path.resolve().relative_to(self.chroot))
        except ValueError:
            raise SoftphoneError(f"{host_path} must lie inside {self.chroot} to run baresip there") from None

    def _make_workdir(self) -> Path:
        if self._workdir_arg is not None:
            self._workdir_arg.mkdir(parents=True, exist_ok=True)
            return self._workdir_arg.resolve()
        parent = self.chroot / "tmp" if self.chroot else None
        return Path(tempfile.mkdtemp(prefix=f"softphone-{self.user}-", dir=parent))

    def _module_path(self) -> str:
        for candidate in ("/usr/lib/baresip/modules", "/usr/lib/x86_64-linux-gnu/baresip/modules"):
            if Path(f"{self.chroot or ''}{candidate}").is_dir():
                return candidate
        raise SoftphoneError("baresip modules not found (is baresip installed?)")

    def _write_config(self) -> None:
        assert self.workdir is not None
        source = self.workdir / "source.wav"
        if not source.exists():
            write_tone_wav(source)
        modules = ["g711.so", "aufile.so", "aubridge.so"]
        lines = [
            "poll_method epoll",
            f"sip_listen 127.0.0.1:{self.sip_port}",
            "sip_transports udp",
            "net_interface 127.0.0.1",  # SDP offers 127.0.0.1, not the host's first address
            f"audio_source aufile,{self._inside(source)}",
            # aubridge is a virtual device: what the phone hears goes nowhere (no sound card here)
            f"audio_player aubridge,{self.user}-{self.sip_port}",
            f"audio_alert aubridge,{self.user}-{self.sip_port}-alert",
            f"rtp_ports {RTP_PORTS}",
            f"module_path {self._module_path()}",
        ]
        if self.record_to is not None:
            # sndfile writes each call's audio, both directions, as wav files into snd_path.
            self.record_to.mkdir(parents=True, exist_ok=True)
            modules.append("sndfile.so")
            lines.append(f"snd_path {self._inside(self.record_to)}")
        lines += [f"module {m}" for m in modules]
        lines += [
            "module_app account.so",
            "module_app menu.so",  # the commands ctrl_tcp runs (dial, accept, ...) live here
            "module_app ctrl_tcp.so",
            f"ctrl_tcp_listen 127.0.0.1:{self.ctrl_port}",
        ]
        (self.workdir / "config").write_text("\n".join(lines) + "\n")
        account = (
            f"<sip:{self.user}@{self.registrar_host}:{self.registrar_port};transport=udp>"
            f";auth_pass={self.password};answermode=manual;regint=60\n"
        )
        write_private(self.workdir / "accounts", account)  # the SIP password: mode 600 from the start

    # ------------------------------------------------------------------ lifecycle

    async def start(self, timeout: float = 10.0) -> None:
        """Start baresip and return once the phone is registered (REGISTER_OK)."""
        self.workdir = self._make_workdir()
        self._write_config()
        cmd = [self.baresip, "-f", self._inside(self.workdir)]
        if self.chroot is not None:
            cmd = ["chroot", str(self.chroot), *cmd]
        self._proc = await asyncio.create_subprocess_exec(
            *cmd, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            env={"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "HOME": str(self._inside(self.workdir)), "LANG": "C.UTF-8"},
            preexec_fn=_die_with_parent,
        )
        # baresip prints a status line several times a second during a call: keep only the tail
        # in memory (a file would grow all day in the demo).
        self._output_task = asyncio.create_task(self._collect_output(self._proc.stdout))
        deadline = time.monotonic() + timeout
        try:
            await self._connect(deadline)
            await self._wait_registered(deadline)
        except BaseException:
            await self.stop()
            raise
        self._log.info("softphone.registered", answer=self.answer)

    async def _connect(self, deadline: float) -> None:
        while True:
            if self._proc is not None and self._proc.returncode is not None:
                raise SoftphoneError(f"baresip for {self.user} exited ({self._proc.returncode}): {self.log_tail()}")
            try:
                self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self.ctrl_port)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SoftphoneError(f"baresip ctrl_tcp on {self.ctrl_port} never listened: {self.log_tail()}") from None
                await asyncio.sleep(0.05)
        self._read_task = asyncio.create_task(self._read_loop(), name=f"softphone-{self.user}")

    async def _wait_registered(self, deadline: float) -> None:
        # The REGISTER_OK event may fire before we connected, so ask as well as listen.
        while True:
            if any(e.get("type") == "REGISTER_OK" for e in self.events):
                return
            info = await self.command("reginfo")
            if re.search(r"\bOK\b", _ANSI.sub("", str(info.get("data", "")))):
                return
            if time.monotonic() > deadline:
                raise SoftphoneError(f"{self.user} did not register at {self.registrar_host}:{self.registrar_port}: {self.log_tail()}")
            await asyncio.sleep(0.1)

    async def stop(self) -> None:
        """Quit baresip (hanging up any call) and forget the process.  Idempotent."""
        for task in self._answer_tasks:
            task.cancel()
        if self._proc is not None and self._proc.returncode is None and self._writer is not None:
            with contextlib.suppress(Exception):
                await self.command("quit", timeout=1.0)
        if self._proc is not None and self._proc.returncode is None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._proc.wait(), 3.0)
            if self._proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    self._proc.kill()
                await self._proc.wait()
        if self._read_task is not None:
            self._read_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._read_task
        if self._writer is not None:
            self._writer.close()
        if self._output_task is not None:
            with contextlib.suppress(asyncio.TimeoutError, Exception):
                await asyncio.wait_for(self._output_task, 1.0)
        self._proc = self._reader = self._writer = self._read_task = self._output_task = None

    def cleanup(self) -> None:
        """Remove the generated config directory (only when we created it)."""
        if self.workdir is not None and self._workdir_arg is None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    async def _collect_output(self, stream: asyncio.StreamReader | None) -> None:
        if stream is None:
            return
        async for raw in stream:
            for part in _ANSI.sub("", raw.decode(errors="replace")).split("\r"):
                line = part.strip()
                if line and not line.startswith("[0:"):  # drop the "[0:00:01] audio=..." status lines
                    self.output.append(line)

    def log_tail(self, lines: int = 15) -> str:
        """The last lines baresip printed (for error messages)."""
        return "\n".join(list(self.output)[-lines:])

    async def __aenter__(self) -> Softphone:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ protocol

    async def _read_loop(self) -> None:
        assert self._reader is not None
        try:
            while True:
                length = await self._reader.readuntil(b":")
                body = await self._reader.readexactly(int(length[:-1]))
                await self._reader.readexactly(1)  # the trailing ","
                try:
                    message = json.loads(body)
                except json.JSONDecodeError:
                    self._log.warning("softphone.bad_json", body=body[:200])
                    continue
                if message.get("response"):
                    future = self._pending.pop(str(message.get("token")), None)
                    if future is not None and not future.done():
                        future.set_result(message)
                elif message.get("event"):
                    await self._on_event(message)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(SoftphoneError(f"{self.user}: control connection closed"))
            self._pending.clear()

    async def _on_event(self, event: dict[str, Any]) -> None:
        event["at"] = time.monotonic()
        self.events.append(event)
        self._log.debug("softphone.event", type=event.get("type"), param=event.get("param"))
        if event.get("type") == "CALL_INCOMING" and (self.answer == "auto" or self.answer_after is not None):
            delay = 0.0 if self.answer == "auto" else float(self.answer_after or 0.0)
            task = asyncio.create_task(self._accept_later(delay))
            self._answer_tasks.add(task)
            task.add_done_callback(self._answer_tasks.discard)
        async with self._changed:
            self._changed.notify_all()

    async def _accept_later(self, delay: float) -> None:
        if delay > 0:
            await asyncio.sleep(delay)
        try:
            await self.accept()
        except SoftphoneError as err:  # the caller may have given up meanwhile
            self._log.info("softphone.accept_failed", error=str(err))

    async def command(self, command: str, params: str = "", timeout: float = 5.0) -> dict[str, Any]:
        """Send one ctrl_tcp command; return the response, raising if it is not ok."""
        if self._writer is None:
            raise SoftphoneError(f"{self.user} is not started")
        token = str(next(self._tokens))
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[token] = future
        body = json.dumps({"command": command, "params": params, "token": token}).encode()
        self._writer.write(b"%d:%s," % (len(body), body))
        await self._writer.drain()
        try:
            response = await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            self._pending.pop(token, None)
            raise SoftphoneError(f"{self.user}: no answer to {command!r} within {timeout} s") from None
        if not response.get("ok", False):
            raise SoftphoneError(f"{self.user}: {command} {params!r} failed: {response.get('data')!r}")
        return response

    # ------------------------------------------------------------------ phone actions

    async def dial(self, number: str) -> dict[str, Any]:
        """Call ``number`` (an extension at the registrar, or a full sip: URI)."""
        uri = number if number.startswith("sip:") else f"sip:{number}@{self.registrar_host}:{self.registrar_port}"
        return await self.command("dial", uri)

    async def accept(self) -> dict[str, Any]:
        return await self.command("accept")

    async def hangup(self) -> dict[str, Any]:
        return await self.command("hangup")

    async def send_dtmf(self, digits: str, gap: float = 0.25) -> None:
        """Send DTMF digits one by one (RFC 4733), ``gap`` seconds apart."""
        for digit in digits:
            await self.command("sndcode", digit)
            await asyncio.sleep(gap)

    async def wait_event(
        self,
        type: str,
        timeout: float = 10.0,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
    ) -> dict[str, Any]:
        """Return the next not yet returned event of ``type`` (already logged or still to come).

        Each call consumes the event it returns, so waiting twice for CALL_CLOSED waits for the
        second call to close.  ``predicate`` narrows the match further.
        """
        deadline = time.monotonic() + timeout

        def find() -> dict[str, Any] | None:
            for index, event in enumerate(self.events):
                if index in self._returned or event.get("type") != type:
                    continue
                if predicate is None or predicate(event):
                    self._returned.add(index)
                    return event
            return None

        async with self._changed:
            while True:
                event = find()
                if event is not None:
                    return event
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    got = [e.get("type") for e in self.events]
                    raise SoftphoneError(f"{self.user}: no {type} within {timeout} s (events so far: {got})")
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), remaining)

    def has_event(self, type: str) -> bool:
        return any(e.get("type") == type for e in self.events)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None


__all__ = ["Softphone", "SoftphoneError", "free_port_pair", "free_tcp_port", "write_tone_wav"]
