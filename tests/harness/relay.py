"""A TCP relay between the controller and Asterisk's AMI port, whose connections a test can cut.

The controller under test is configured with ``ami.port = relay.port``; everything it sends and
receives goes through here.  ``cut()`` closes both sides of every relayed connection (the
controller sees a real socket close, Asterisk sees its manager session end); ``refuse()`` stops
listening, so reconnect attempts get ECONNREFUSED; ``accept()`` listens again on the same port.
``outage(seconds)`` does all three: the AMI connection is down for that long, then comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import time


class AmiRelay:
    """Listen on ``host:port`` (0: any free port) and forward each connection to ``target``."""

    def __init__(self, target_host: str, target_port: int, host: str = "127.0.0.1", port: int = 0) -> None:
        self.target = (target_host, target_port)
        self.host = host
        self.port = port
        self.accepted = 0  # connections relayed since start
        self.cuts: list[tuple[float, int]] = []  # (monotonic time, connections closed) per cut()
        self._server: asyncio.Server | None = None
        self._pairs: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        state = "listening" if self.listening else "refusing"
        return f"<AmiRelay :{self.port} -> {self.target[0]}:{self.target[1]} {state}, {len(self._pairs)} open>"

    @property
    def listening(self) -> bool:
        return self._server is not None

    @property
    def open_connections(self) -> int:
        return len(self._pairs)

    async def start(self) -> AmiRelay:
        """Start listening; ``port`` is the real port afterwards."""
        await self.accept()
        return self

    async def accept(self) -> None:
        """Listen (again) on the relay's port."""
        if self._server is not None:
            return
        self._server = await asyncio.start_server(self._relay, self.host, self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def refuse(self) -> None:
        """Stop listening: new connections are refused; open ones stay until ``cut()``."""
        server, self._server = self._server, None
        if server is not None:
            server.close()

    def cut(self) -> int:
        """Close both sides of every relayed connection; returns how many were open."""
        pairs = list(self._pairs)
        for client, upstream in pairs:
            for writer in (client, upstream):
                with contextlib.suppress(Exception):
                    writer.close()
        self._pairs.clear()
        self.cuts.append((time.monotonic(), len(pairs)))
        return len(pairs)

    async def outage(self, seconds: float) -> tuple[float, float]:
        """Refuse and cut, keep AMI unreachable for ``seconds``, then accept again; (start, end) monotonic."""
        await self.refuse()
        self.cut()
        start = time.monotonic()
        await asyncio.sleep(seconds)  # the fault itself lasts this long
        await self.accept()
        return start, time.monotonic()

    async def close(self) -> None:
        await self.refuse()
        self.cut()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            try:
                up_reader, up_writer = await asyncio.open_connection(*self.target)
            except OSError:
                writer.close()  # Asterisk itself is down: the client sees the connection close
                return
            if self._server is None:  # refused while we were connecting upstream
                writer.close()
                up_writer.close()
                return
            pair = (writer, up_writer)
            self._pairs.add(pair)
            self.accepted += 1
            try:
                await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
            finally:
                self._pairs.discard(pair)
                for w in pair:
                    with contextlib.suppress(Exception):
                        w.close()
        finally:
            self._tasks.discard(task)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until EOF or error, then close the writing side so the peer sees the end too."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError, asyncio.IncompleteReadError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


__all__ = ["AmiRelay"]
