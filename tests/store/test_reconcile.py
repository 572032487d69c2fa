"""queue_log -> tickets: a file written in steps, rotation, and calls the controller already knew."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.store import open_database, session_factory
from callcenter.tickets import QueueLogReconciler, TicketService

T0 = 1732867200  # 2024-11-29 08:00:00 UTC
Q = "hotline-fallback"
UID = f"{T0 - 8}.12"


def at(offset: float) -> dt.datetime:
    """T0 + offset seconds, aware UTC."""
    return dt.datetime.fromtimestamp(T0 + offset, dt.UTC)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = await open_database(f"sqlite+aiosqlite:///{tmp_path / 'callcenter.db'}")
    yield engine
    await engine.dispose()


@pytest.fixture
async def service(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[TicketService]:
    service = TicketService(session_factory(engine), "pbx1", spill_dir=tmp_path / "spill")
    await service.start()
    yield service
    await service.close()


@pytest.fixture
def queue_log(tmp_path: Path) -> Path:
    return tmp_path / "asterisk" / "queue_log"  # does not exist until Asterisk writes it


def append(path: Path, *lines: str) -> None:
    """Asterisk appending lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        out.write("".join(line + "\n" for line in lines))


async def test_tickets_follow_the_file_as_lines_arrive(service: TicketService, queue_log: Path) -> None:
    reconciler = QueueLogReconciler(service, queue_log, Q)
    assert await reconciler.run_once() == 0  # no file yet

    append(queue_log, f"{T0 - 60}|NONE|{Q}|PJSIP/1001|ADDMEMBER|", f"{T0}|{UID}|{Q}|NONE|ENTERQUEUE||13800138000|1")
    assert await reconciler.run_once() == 1
    ticket = await service.get(UID)
    assert ticket is not None
    assert (ticket.source, ticket.call_status, ticket.caller_number, ticket.arrived_at) == (
        "fallback_queue", "new", "13800138000", at(0))
    assert await reconciler.run_once() == 0  # nothing new, nothing written

    append(queue_log, f"{T0 + 10}|{UID}|{Q}|PJSIP/1001|RINGNOANSWER|10000", f"{T0 + 12}|{UID}|{Q}|PJSIP/1002|CONNECT|12|{T0 + 2}.14|2")
    assert await reconciler.run_once() == 1
    ticket = await service.get(UID)
    assert ticket is not None
    assert (ticket.call_status, ticket.agent_id, ticket.answered_at) == ("answered", "1002", at(12))

    append(queue_log, "garbage line", f"{T0 + 72}|{UID}|{Q}|PJSIP/1002|COMPLETECALLER|12|60|1")
    assert await reconciler.run_once() == 1
    ticket = await service.get(UID)
    assert ticket is not None
    assert (ticket.call_status, ticket.hangup_by, ticket.ended_at) == ("completed", "caller", at(72))
    assert (ticket.wait_seconds, ticket.talk_seconds) == (12.0, 60.0)
    assert ticket.details["fallback_queue"]["missed_rings"] == 1
    assert await service.count() == 1


async def test_a_line_still_being_written_waits_for_its_end(service: TicketService, queue_log: Path) -> None:
    reconciler = QueueLogReconciler(service, queue_log, Q)
    line = f"{T0}|{UID}|{Q}|NONE|ENTERQUEUE||13800138000|1"
    queue_log.parent.mkdir(parents=True)
    queue_log.write_text(line[:20])
    assert await reconciler.run_once() == 0
    with queue_log.open("a") as out:
        out.write(line[20:] + "\n")
    assert await reconciler.run_once() == 1
    assert (await service.get(UID)).caller_number == "13800138000"  # type: ignore[union-attr]


async def test_abandoned_fallback_call(service: TicketService, queue_log: Path) -> None:
    append(
        queue_log,
        f"{T0}|{UID}|{Q}|NONE|ENTERQUEUE||anonymous|1",
        f"{T0 + 10}|{UID}|{Q}|PJSIP/1001|RINGNOANSWER|10000",
        f"{T0 + 25}|{UID}|{Q}|NONE|ABANDON|1|1|25",
        f"{T0 + 30}|other.1|other-queue|NONE|ENTERQUEUE||10086|1",
    )
    assert await QueueLogReconciler(service, queue_log, Q).run_once() == 1
    ticket = await service.get(UID)
    assert ticket is not None and await service.count() == 1  # the other queue's caller is not ours
    assert (ticket.call_status, ticket.hangup_by, ticket.wait_seconds, ticket.talk_seconds) == ("abandoned", "caller", 25.0, 0.0)
    assert (ticket.caller_number, ticket.caller_number_raw) == ("", "anonymous")


async def test_controller_ticket_is_completed_not_duplicated(service: TicketService, queue_log: Path) -> None:
    arrived = at(-8)  # the controller took the call 8 s before it fell back to the queue
    ticket_id = await service.open_for_arrival(UID, "13800138000", "张三", "PJSIP/2001-01", arrived)
    await service.mark_ringing(UID, "1001", at(-5))
    append(
        queue_log,
        f"{T0}|{UID}|{Q}|NONE|ENTERQUEUE||99999|1",  # a different caller id must not replace ours
        f"{T0 + 12}|{UID}|{Q}|PJSIP/1002|CONNECT|12|{T0 + 2}.14|2",
        f"{T0 + 72}|{UID}|{Q}|PJSIP/1002|COMPLETEAGENT|12|60|1",
    )
    reconciler = QueueLogReconciler(service, queue_log, Q)
    assert await reconciler.run_once() == 1
    assert await service.count() == 1
    ticket = await service.get(UID)
    assert ticket is not None and ticket.id == ticket_id
    assert (ticket.source, ticket.caller_number, ticket.caller_name, ticket.arrived_at) == (
        "controller", "13800138000", "张三", arrived)
    assert (ticket.call_status, ticket.agent_id, ticket.hangup_by) == ("completed", "1002", "agent")
    assert (ticket.answered_at, ticket.ended_at) == (at(12), at(72))
    assert (ticket.wait_seconds, ticket.talk_seconds) == (20.0, 60.0)  # waiting counted from the controller's arrival
    assert ticket.details["offers"][0]["agent_id"] == "1001"  # the controller's own record is kept
    assert ticket.details["fallback_queue"]["queue"] == Q

    restarted = QueueLogReconciler(service, queue_log, Q)  # a controller restart reads the file again
    assert await restarted.run_once() == 0
    assert await service.count() == 1


async def test_controller_end_is_not_overwritten(service: TicketService, queue_log: Path) -> None:
    await service.open_for_arrival(UID, "1", "", "", at(0))
    await service.mark_answered(UID, "1003", at(5))
    await service.mark_ended(UID, at(50), "agent")
    append(queue_log, f"{T0 + 72}|{UID}|{Q}|PJSIP/1002|COMPLETECALLER|12|60|1")
    await QueueLogReconciler(service, queue_log, Q).run_once()
    ticket = await service.get(UID)
    assert ticket is not None
    assert (ticket.agent_id, ticket.answered_at, ticket.ended_at, ticket.hangup_by) == ("1003", at(5), at(50), "agent")
    assert (ticket.wait_seconds, ticket.talk_seconds, ticket.call_status) == (5.0, 45.0, "completed")


async def test_truncation_and_rotation_start_over(service: TicketService, queue_log: Path) -> None:
    reconciler = QueueLogReconciler(service, queue_log, Q)
    append(queue_log, *(f"{T0 + n}|old.{n}|{Q}|NONE|ENTERQUEUE||1380000000{n}|1" for n in range(5)))
    assert await reconciler.run_once() == 5

    queue_log.write_text(f"{T0 + 100}|new.1|{Q}|NONE|ENTERQUEUE||13900000001|1\n")  # truncated in place, shorter
    assert await reconciler.run_once() == 1
    assert (await service.get("new.1")) is not None

    queue_log.rename(queue_log.with_name("queue_log.1"))  # logrotate: a new file, with the same size as before
    append(queue_log, f"{T0 + 200}|new.2|{Q}|NONE|ENTERQUEUE||13900000002|1")
    assert await reconciler.run_once() == 1
    assert await service.count() == 7


async def test_callers_asterisk_cut_as_it_stopped_are_not_abandoned_by_them(service: TicketService, queue_log: Path) -> None:
    """A restart writes ABANDON for everyone waiting; the channels it cut (SoftHangupRequest Cause 4) say otherwise."""
    waiting, left = f"{T0}.1", f"{T0}.2"
    reconciler = QueueLogReconciler(service, queue_log, Q, cut_by_asterisk={waiting: 0.0})
    append(
        queue_log,
        f"{T0}|{waiting}|{Q}|NONE|ENTERQUEUE||13800138000|1",
        f"{T0}|{left}|{Q}|NONE|ENTERQUEUE||13800138001|2",
        f"{T0 + 20}|{left}|{Q}|NONE|ABANDON|2|2|20",  # this caller left on their own, just before
        f"{T0 + 21}|{waiting}|{Q}|NONE|ABANDON|1|1|21",
    )
    assert await reconciler.run_once() == 2
    cut, abandoned = await service.get(waiting), await service.get(left)
    assert cut is not None and abandoned is not None
    assert (cut.hangup_by, cut.ended_at) == ("system", at(21))
    assert (abandoned.hangup_by, abandoned.call_status) == ("caller", "abandoned")
