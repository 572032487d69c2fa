"""queue_log parsing and folding: real-looking app_queue lines, short lines and garbage."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcenter.tickets.queue_log import FallbackCall, QueueLogEntry, agent_id, fold, parse_line, parse_lines

T0 = 1732867200  # 2024-11-29 08:00:00 UTC
Q = "hotline-fallback"


def at(offset: float) -> dt.datetime:
    """T0 + offset seconds, aware UTC."""
    return dt.datetime.fromtimestamp(T0 + offset, dt.UTC)


# One fallback-queue session as Asterisk 22 writes it (members added as PJSIP/100x).
ANSWERED_CALL = [
    f"{T0 - 60}|NONE|{Q}|PJSIP/1001|ADDMEMBER|",
    f"{T0 - 59}|NONE|{Q}|PJSIP/1001|UNPAUSE|||",
    f"{T0}|{T0 - 8}.12|{Q}|NONE|ENTERQUEUE||13800138000|1",
    f"{T0 + 10}|{T0 - 8}.12|{Q}|PJSIP/1001|RINGNOANSWER|10000",
    f"{T0 + 12}|{T0 - 8}.12|{Q}|PJSIP/1002|CONNECT|12|{T0 + 2}.14|2",
    f"{T0 + 72}|{T0 - 8}.12|{Q}|PJSIP/1002|COMPLETECALLER|12|60|1",
]
UID = f"{T0 - 8}.12"

GARBAGE = [
    "",
    "\n",
    "hello world",
    "abc|def|ghi|jkl|mno",  # time is not a number
    f"{T0}|1.2|{Q}",  # too few fields
    f"{T0}|1.2|{Q}|NONE|",  # no event
    f"-5|1.2|{Q}|NONE|ENTERQUEUE||1|1",
    f"nan|1.2|{Q}|NONE|ENTERQUEUE||1|1",
    f"1e400|1.2|{Q}|NONE|ENTERQUEUE||1|1",
    "\x00\x00\x00|||||",
    "\ufffd\ufffd|\ufffd|\ufffd|\ufffd|\ufffd",
]


def test_parse_line_reads_every_field() -> None:
    entry = parse_line(f"{T0 + 12}|{UID}|{Q}|PJSIP/1002|CONNECT|12|{T0 + 2}.14|2\n")
    assert entry == QueueLogEntry(
        time=at(12), callid=UID, queue=Q, agent="PJSIP/1002", event="CONNECT", data=("12", f"{T0 + 2}.14", "2")
    )
    assert entry.time.tzinfo is dt.UTC


def test_parse_line_keeps_lines_with_few_fields() -> None:
    entry = parse_line(f"{T0}|{UID}|{Q}|SIP/8007|RINGNOANSWER")
    assert entry is not None and entry.event == "RINGNOANSWER" and entry.data == ()


def test_parse_line_accepts_fractional_time() -> None:
    entry = parse_line(f"{T0}.250|{UID}|{Q}|NONE|ENTERQUEUE||1|1")
    assert entry is not None and entry.time == at(0.25)


@pytest.mark.parametrize("line", GARBAGE)
def test_garbage_lines_are_skipped(line: str) -> None:
    assert parse_line(line) is None


def test_parse_lines_skips_garbage_between_good_lines() -> None:
    entries = list(parse_lines([GARBAGE[2], ANSWERED_CALL[2], GARBAGE[3], ANSWERED_CALL[4]]))
    assert [e.event for e in entries] == ["ENTERQUEUE", "CONNECT"]


@given(st.text())
def test_parse_line_never_raises(line: str) -> None:
    parse_line(line)


@given(st.lists(st.lists(st.text(alphabet="0123456789.|NOEABCTRQ -", max_size=12), min_size=5, max_size=9)))
def test_fold_never_raises_on_odd_data(rows: list[list[str]]) -> None:
    events = ["ENTERQUEUE", "CONNECT", "ABANDON", "COMPLETEAGENT", "ATTENDEDTRANSFER", "EXITWITHKEY", "RINGNOANSWER"]
    lines = [f"{T0}|{r[1]}|{Q}|{r[3]}|{events[len(r[0]) % len(events)]}|{'|'.join(r[5:])}" for r in rows]
    for call in fold(parse_lines(lines), Q).values():
        assert call.queue == Q


@pytest.mark.parametrize(
    ("member", "expected"),
    [
        ("PJSIP/1001", "1001"),
        ("SIP/8007", "8007"),
        ("Local/1003@agents/n", "1003"),
        ("Agent/3001", "3001"),
        ("1004", "1004"),
        ("NONE", None),
        ("", None),
    ],
)
def test_agent_id_from_member_name(member: str, expected: str | None) -> None:
    assert agent_id(member) == expected


def test_fold_answered_call() -> None:
    calls = fold(parse_lines(ANSWERED_CALL), Q)
    assert list(calls) == [UID]  # member events (callid NONE) make no call
    assert calls[UID] == FallbackCall(
        uniqueid=UID,
        queue=Q,
        caller_number="13800138000",
        entered_at=at(0),
        answered_at=at(12),
        agent_id="1002",
        ended_at=at(72),
        hangup_by="caller",
        end_event="COMPLETECALLER",
        missed_rings=1,
    )
    assert not calls[UID].abandoned


def test_fold_agent_hangup() -> None:
    lines = [*ANSWERED_CALL[:5], f"{T0 + 40}|{UID}|{Q}|PJSIP/1002|COMPLETEAGENT|12|28|1"]
    call = fold(parse_lines(lines), Q)[UID]
    assert (call.hangup_by, call.ended_at, call.end_event) == ("agent", at(40), "COMPLETEAGENT")


@pytest.mark.parametrize(
    ("event", "data", "hangup_by"),
    [
        ("ABANDON", "1|1|15", "caller"),
        ("EXITWITHTIMEOUT", "1|1|15", "system"),
        ("EXITEMPTY", "1|1|15", "system"),
        ("EXITWITHKEY", "5|1|1|15", "caller"),
    ],
)
def test_fold_unanswered_endings(event: str, data: str, hangup_by: str) -> None:
    lines = [f"{T0 + 15}|9.9|{Q}|NONE|{event}|{data}"]  # no ENTERQUEUE: read after a rotation
    call = fold(parse_lines(lines), Q)["9.9"]
    assert call.abandoned
    assert (call.hangup_by, call.ended_at, call.answered_at) == (hangup_by, at(15), None)
    assert call.entered_at == at(0)  # derived from the waittime


@pytest.mark.parametrize(
    "line",
    [
        f"{T0 + 70}|{UID}|{Q}|PJSIP/1002|BLINDTRANSFER|2000|hotline|12|58|1",
        f"{T0 + 70}|{UID}|{Q}|PJSIP/1002|ATTENDEDTRANSFER|BRIDGE|b-1234|12|58|1",
        f"{T0 + 70}|{UID}|{Q}|PJSIP/1002|ATTENDEDTRANSFER|LINK|PJSIP/1002-01|PJSIP/2000-02|12|58|1",
        f"{T0 + 70}|{UID}|{Q}|PJSIP/1002|TRANSFER|2000|hotline|12|58|1",
    ],
)
def test_fold_transfer_ends_at_the_agent_and_derives_times(line: str) -> None:
    call = fold(parse_lines([line]), Q)[UID]  # only the transfer line is known
    assert (call.hangup_by, call.agent_id, call.ended_at) == ("agent", "1002", at(70))
    assert call.answered_at == at(12)  # 70 - calltime 58
    assert call.entered_at == at(0)  # answered - holdtime 12


def test_fold_short_connect_still_marks_answered() -> None:
    call = fold(parse_lines([f"{T0 + 5}|{UID}|{Q}|PJSIP/1001|CONNECT"]), Q)[UID]
    assert (call.answered_at, call.agent_id, call.entered_at) == (at(5), "1001", None)


def test_fold_ignores_other_queues_and_repeated_endings() -> None:
    lines = [
        f"{T0}|{UID}|other-queue|NONE|ENTERQUEUE||10086|1",
        f"{T0}|{UID}|{Q}|NONE|ENTERQUEUE||13800138000|1",
        f"{T0 + 15}|{UID}|{Q}|NONE|ABANDON|1|1|15",
        f"{T0 + 99}|{UID}|{Q}|NONE|ABANDON|1|1|99",  # a duplicated/late line changes nothing
        f"{T0 + 99}|{UID}|{Q}|PJSIP/1001|RINGNOANSWER|1000",
    ]
    call = fold(parse_lines(lines), Q)[UID]
    assert (call.caller_number, call.ended_at, call.missed_rings) == ("13800138000", at(15), 0)


def test_fold_in_steps_equals_fold_at_once() -> None:
    entries = list(parse_lines(ANSWERED_CALL))
    for cut in range(len(entries) + 1):
        first = fold(entries[:cut], Q)
        assert fold(entries[cut:], Q, first) == fold(entries, Q)
        assert fold(entries[cut:], Q, first) is not first  # the input mapping is not changed


def test_fold_keeps_anonymous_and_odd_caller_ids_verbatim() -> None:
    lines = [f"{T0}|1.1|{Q}|NONE|ENTERQUEUE||anonymous|1", f"{T0}|1.2|{Q}|NONE|ENTERQUEUE|||2"]
    calls = fold(parse_lines(lines), Q)
    assert (calls["1.1"].caller_number, calls["1.2"].caller_number) == ("anonymous", "")
