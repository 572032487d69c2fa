"""When did a call really end?  Asterisk's CDR file (cdr_csv, ``Master.csv``) says.

A call that ended while the controller was away has no end event of ours; the sweep
(``tickets/sweep.py``) closes its ticket and takes the end time from here when Asterisk wrote one.
Our ``cdr.conf`` asks for UTC times and the unique id in every row (``usegmtime``, ``loguniqueid``).
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

# cdr_csv columns: accountcode, src, dst, dcontext, clid, channel, dstchannel, lastapp, lastdata,
# start, answer, end, duration, billsec, disposition, amaflags, uniqueid, userfield
DSTCHANNEL, LASTAPP, START, END, UNIQUEID = 6, 7, 9, 11, 16
TAIL_BYTES = 4 * 1024 * 1024  # recent calls are at the end; an old file is not read whole


def cdr_path(queue_log: Path) -> Path:
    """Master.csv beside queue_log, in Asterisk's log directory."""
    return queue_log.parent / "cdr-csv" / "Master.csv"


@dataclass(frozen=True)
class CdrCall:
    """What the CDR says of one caller's channel: when it ended, and whose phone it was bridged to."""

    ended_at: dt.datetime
    bridged_to: str | None = None  # the other channel of its Bridge row (e.g. PJSIP/1008-0000002a)
    bridged_at: dt.datetime | None = None


def calls(path: Path, uniqueids: Collection[str]) -> dict[str, CdrCall]:
    """Each of these channels as its CDR rows tell; channels with no row are left out."""
    found: dict[str, CdrCall] = {}
    for row in _rows(path, set(uniqueids)):
        end, start = _time(row[END]), _time(row[START])
        if end is None:
            continue
        known = found.get(row[UNIQUEID])
        bridged = (row[DSTCHANNEL], start) if row[LASTAPP] == "Bridge" and row[DSTCHANNEL] else None
        found[row[UNIQUEID]] = CdrCall(
            ended_at=max(end, known.ended_at) if known else end,
            bridged_to=bridged[0] if bridged else (known.bridged_to if known else None),
            bridged_at=bridged[1] if bridged else (known.bridged_at if known else None),
        )
    return found


def _time(text: str) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def end_times(path: Path, uniqueids: Collection[str]) -> dict[str, dt.datetime]:
    """The latest CDR end of each of these channels (UTC); channels with no row are left out."""
    return {uid: call.ended_at for uid, call in calls(path, uniqueids).items()}


def _rows(path: Path, wanted: set[str]) -> list[list[str]]:
    if not wanted:
        return []
    try:
        with path.open("rb") as fh:
            size = fh.seek(0, 2)
            fh.seek(max(0, size - TAIL_BYTES))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return []
    if size > TAIL_BYTES:
        text = text.split("\n", 1)[-1]  # the first line is cut
    return [row for row in csv.reader(text.splitlines()) if len(row) > UNIQUEID and row[UNIQUEID] in wanted]
