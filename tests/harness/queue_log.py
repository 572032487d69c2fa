"""app_queue's queue_log: ``time|callid|queue|agent|event|data1|data2|...`` one event a line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class QueueLogEntry:
    time: int
    callid: str
    queue: str
    agent: str
    event: str
    data: tuple[str, ...]


def read_queue_log(path: Path, offset: int = 0) -> list[QueueLogEntry]:
    """Entries from byte ``offset`` on (use the file size before a test to see only its lines)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            text = fh.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return []
    entries = []
    for line in text.splitlines():
        parts = line.split("|")
        if len(parts) < 5 or not parts[0].isdigit():
            continue  # a partly written last line, or garbage
        entries.append(QueueLogEntry(int(parts[0]), parts[1], parts[2], parts[3], parts[4], tuple(parts[5:])))
    return entries
