"""Asterisk queue_log lines -> entries -> one ``FallbackCall`` per caller (pure: no I/O).

A queue_log line is ``time|callid|queue|agent|event|data1|data2|...``: ``time`` is Unix seconds,
``callid`` the caller channel's Uniqueid (``NONE`` for member events), ``agent`` the member name
(for a member added as ``PJSIP/1001`` that is the interface itself).  Layouts, as app_queue writes
them:

    ENTERQUEUE        url|callerid|position
    CONNECT           holdtime|bridged channel uniqueid|ringtime
    RINGNOANSWER      ringtime (ms)
    COMPLETECALLER    holdtime|calltime|origposition        (the caller hung up)
    COMPLETEAGENT     holdtime|calltime|origposition        (the agent hung up)
    ABANDON           position|origposition|waittime        (the caller hung up while waiting)
    EXITWITHTIMEOUT   position|origposition|waittime        (the queue's timeout)
    EXITEMPTY         position|origposition|waittime        (no members left)
    EXITWITHKEY       key|position|origposition|waittime
    BLINDTRANSFER     exten|context|holdtime|calltime|origposition
    ATTENDEDTRANSFER  method|method data...|holdtime|calltime|origposition  (method data varies)
    TRANSFER          exten|context|holdtime|calltime|origposition        (before Asterisk 12)

Lines that do not fit are skipped, never raised on: the file is written by another program.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace

MIN_FIELDS = 5  # time, callid, queue, agent, event
NO_CALL = ("", "NONE", "REALTIME")

# Event -> who ended the call.  Transfers end our part of the call at the agent's hand.
ENDINGS = {
    "COMPLETECALLER": "caller",
    "COMPLETEAGENT": "agent",
    "ABANDON": "caller",
    "EXITWITHKEY": "caller",
    "EXITWITHTIMEOUT": "system",
    "EXITEMPTY": "system",
    "BLINDTRANSFER": "agent",
    "ATTENDEDTRANSFER": "agent",
    "TRANSFER": "agent",
}
TALK_ENDINGS = ("COMPLETECALLER", "COMPLETEAGENT", "BLINDTRANSFER", "ATTENDEDTRANSFER", "TRANSFER")
WAIT_ENDINGS = ("ABANDON", "EXITWITHKEY", "EXITWITHTIMEOUT", "EXITEMPTY")  # waittime is the last field
CALL_EVENTS = frozenset({"ENTERQUEUE", "CONNECT", "RINGNOANSWER", *ENDINGS})


@dataclass(frozen=True)
class QueueLogEntry:
    """One parsed queue_log line."""

    time: dt.datetime  # aware UTC
    callid: str
    queue: str
    agent: str
    event: str
    data: tuple[str, ...]


@dataclass(frozen=True)
class FallbackCall:
    """What queue_log tells about one caller's stay in a queue."""

    uniqueid: str
    queue: str
    caller_number: str = ""
    entered_at: dt.datetime | None = None
    answered_at: dt.datetime | None = None
    agent_id: str | None = None
    ended_at: dt.datetime | None = None
    hangup_by: str | None = None  # "caller", "agent" or "system"
    end_event: str | None = None
    missed_rings: int = 0  # RINGNOANSWER lines: members rung who did not answer

    @property
    def abandoned(self) -> bool:
        """Ended without ever being answered."""
        return self.ended_at is not None and self.answered_at is None

    @property
    def ended(self) -> bool:
        """The call has left the queue."""
        return self.ended_at is not None

    @property
    def arrived_at(self) -> dt.datetime | None:
        """The earliest moment known for this call."""
        return self.entered_at or self.answered_at or self.ended_at


def parse_line(line: str) -> QueueLogEntry | None:
    """One line -> entry, or None when it is not a queue_log line."""
    fields = line.rstrip("\r\n").split("|")
    if len(fields) < MIN_FIELDS:
        return None
    stamp, callid, queue, agent, event, *data = (f.strip() for f in fields)
    when = _timestamp(stamp)
    if when is None or not event:
        return None
    return QueueLogEntry(time=when, callid=callid, queue=queue, agent=agent, event=event.upper(), data=tuple(data))


def parse_lines(lines: Iterable[str]) -> Iterator[QueueLogEntry]:
    """The entries among ``lines``, garbage skipped."""
    for line in lines:
        entry = parse_line(line)
        if entry is not None:
            yield entry


def agent_id(member: str) -> str | None:
    """Agent id from a queue member name: ``PJSIP/1001`` and ``Local/1001@agents/n`` -> ``1001``."""
    member = member.strip()
    if member in NO_CALL:
        return None
    resource = member.split("/", 1)[1] if "/" in member else member
    resource = resource.split("@", 1)[0].split("/", 1)[0]
    return resource or None


def fold(
    entries: Iterable[QueueLogEntry], queue: str, calls: Mapping[str, FallbackCall] | None = None
) -> dict[str, FallbackCall]:
    """Apply ``entries`` of ``queue`` to ``calls`` (by uniqueid); returns a new mapping."""
    folded = dict(calls or {})
    for entry in entries:
        if entry.queue != queue or entry.callid in NO_CALL or entry.event not in CALL_EVENTS:
            continue
        call = folded.get(entry.callid) or FallbackCall(uniqueid=entry.callid, queue=queue)
        folded[entry.callid] = _apply(call, entry)
    return folded


def _apply(call: FallbackCall, entry: QueueLogEntry) -> FallbackCall:
    """One event's effect on a call; the first value seen for a moment wins (lines may repeat)."""
    event, data, when = entry.event, entry.data, entry.time
    if event == "ENTERQUEUE":
        return replace(call, entered_at=call.entered_at or when, caller_number=call.caller_number or _field(data, 1))
    if event == "RINGNOANSWER":
        return call if call.ended else replace(call, missed_rings=call.missed_rings + 1)
    if event == "CONNECT":
        if call.answered_at is not None:
            return call
        hold = _seconds(_field(data, 0))
        return replace(
            call,
            answered_at=when,
            agent_id=agent_id(entry.agent) or call.agent_id,
            entered_at=call.entered_at or _before(when, hold),
        )
    if call.ended:  # an ending event: only the first counts
        return call
    ended = replace(call, ended_at=when, hangup_by=ENDINGS[event], end_event=event)
    if event in TALK_ENDINGS:
        hold, talk = _seconds(_field(data, -3)), _seconds(_field(data, -2))
        answered = call.answered_at or _before(when, talk)
        return replace(
            ended,
            answered_at=answered,
            agent_id=call.agent_id or agent_id(entry.agent),
            entered_at=call.entered_at or _before(answered, hold),
        )
    return replace(ended, entered_at=call.entered_at or _before(when, _seconds(_field(data, -1))))


def _timestamp(text: str) -> dt.datetime | None:
    """Unix seconds (integer or fractional) -> aware UTC, or None."""
    try:
        seconds = float(text)
        if seconds <= 0 or seconds != seconds:  # rejects NaN too
            return None
        return dt.datetime.fromtimestamp(seconds, dt.UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _field(data: tuple[str, ...], index: int) -> str:
    """``data[index]`` or "" when the line is short."""
    try:
        return data[index]
    except IndexError:
        return ""


def _seconds(text: str) -> float | None:
    """A non-negative duration in seconds, or None."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if 0 <= value < 10**7 else None


def _before(moment: dt.datetime | None, seconds: float | None) -> dt.datetime | None:
    """``moment - seconds`` when both are known."""
    if moment is None or seconds is None:
        return None
    return moment - dt.timedelta(seconds=seconds)
