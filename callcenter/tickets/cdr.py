"""When did a call really end?  Asterisk's CDR file (cdr_csv, ``Master.csv``) says.

A call that ended while the controller was away has no end event of ours; the sweep
(``tickets/sweep.py``) closes its ticket and takes the end time from here when Asterisk wrote one.
Our ``cdr.conf`` asks for UTC times and the unique id in every row (``usegmtime``, ``loguniqueid``).
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Collection
from pathlib import Path

# cdr_csv columns: accountcode, src, dst, dcontext, clid, channel, dstchannel, lastapp, lastdata,
# start, answer, end, duration, billsec, disposition, amaflags, uniqueid, userfield
END, UNIQUEID = 11, 16
TAIL_BYTES = 4 * 1024 * 1024  # recent calls are at the end; an old file is not read whole


def cdr_path(queue_log: Path) -> Path:
    """Master.csv beside queue_log, in Asterisk's log directory."""
    return queue_log.parent / "cdr-csv" / "Master.csv"


def end_times(path: Path, uniqueids: Collection[str]) -> dict[str, dt.datetime]:
    """The latest CDR end of each of these channels (UTC); channels with no row are left out."""
    wanted = set(uniqueids)
    if not wanted:
        return {}
    try:
        with path.open("rb") as fh:
            size = fh.seek(0, 2)
            fh.seek(max(0, size - TAIL_BYTES))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return {}
    if size > TAIL_BYTES:
        text = text.split("\n", 1)[-1]  # the first line is cut
    found: dict[str, dt.datetime] = {}
    for row in csv.reader(text.splitlines()):
        if len(row) <= UNIQUEID or row[UNIQUEID] not in wanted:
            continue
        try:
            end = dt.datetime.strptime(row[END], "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.UTC)
        except ValueError:
            continue
        if row[UNIQUEID] not in found or end > found[row[UNIQUEID]]:
            found[row[UNIQUEID]] = end
    return found
