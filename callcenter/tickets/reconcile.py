"""Tickets for calls app_queue handled while the controller was away, read from queue_log."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Container
from dataclasses import replace
from pathlib import Path

import structlog

from callcenter.tickets.queue_log import FallbackCall, fold, parse_lines
from callcenter.tickets.service import TicketService

log = structlog.get_logger(__name__)

READ_CHUNK = 1 << 20  # bytes per step, so a large file read at start-up does not stall the event loop


class QueueLogReconciler:
    """Follows queue_log like ``tail -F`` and turns the fallback queue's calls into tickets."""

    def __init__(self, service: TicketService, path: Path, queue: str, cut_by_asterisk: Container[str] = ()) -> None:
        """``cut_by_asterisk``: uniqueids Asterisk hung up as it stopped (queue_log writes ABANDON for them too)."""
        self._service = service
        self._cut_by_asterisk = cut_by_asterisk
        self._path = Path(path)
        self._queue = queue
        self._offset = 0  # bytes of the current file already read
        self._inode: int | None = None
        self._calls: dict[str, FallbackCall] = {}  # calls still in the queue (ended ones are dropped)

    async def run_once(self) -> int:
        """Read the lines added since the last run; returns how many tickets were created or updated."""
        changed = 0
        while lines := self._read_new_lines():
            folded = fold(parse_lines(lines), self._queue, self._calls)
            for uniqueid, call in folded.items():
                if call.ended and uniqueid in self._cut_by_asterisk:
                    call = replace(call, hangup_by="system")
                if self._calls.get(uniqueid) != call and await self._service.merge_fallback_call(call):
                    changed += 1
            self._calls = {uid: call for uid, call in folded.items() if not call.ended}
            await asyncio.sleep(0)
        if changed:
            log.info("queue_log.reconciled", path=str(self._path), queue=self._queue, tickets=changed)
        return changed

    def _read_new_lines(self) -> list[str]:
        """Complete lines added since the offset; starts over when the file is replaced or truncated."""
        try:
            stat = os.stat(self._path)
        except FileNotFoundError:
            return []
        if stat.st_ino != self._inode or stat.st_size < self._offset:
            if self._inode is not None:
                log.info("queue_log.reopened", path=str(self._path), reason="rotated or truncated")
            self._inode, self._offset = stat.st_ino, 0
        if stat.st_size == self._offset:
            return []
        with self._path.open("rb") as source:
            source.seek(self._offset)
            chunk = source.read(READ_CHUNK)
        end = chunk.rfind(b"\n")
        if end < 0:
            if len(chunk) < READ_CHUNK:
                return []  # a line Asterisk is still writing: read it whole next time
            end = len(chunk) - 1  # a megabyte without a newline is garbage: skip it
        self._offset += end + 1
        return chunk[: end + 1].decode("utf-8", errors="replace").splitlines()
