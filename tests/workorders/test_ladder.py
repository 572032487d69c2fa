"""Time limits and the overdue ladder on a real database, with a fixed clock walked over a weekend,
the National Day week, a make-up Saturday (调休) and a Monday holiday."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from harness.postgres import store_url  # noqa: F401  (fixture: SQLite, and PostgreSQL when configured)
from callcenter.settings import CalendarSettings, Settings
from callcenter.store import open_database, session_factory
from callcenter.tickets import TicketService
from callcenter.workorders.departments import DirectoryService
from callcenter.workorders.service import Change, WorkOrderService

SH = ZoneInfo("Asia/Shanghai")
CALENDAR = CalendarSettings(holidays=("2026-10-01..2026-10-07", "2026-10-19"), workdays=("2026-10-10",))
FAR = dt.datetime(2026, 12, 31, 12, 0, tzinfo=SH)  # a promise later than every time limit here


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=SH)


@pytest.fixture
async def stack(store_url: str, tmp_path: Path) -> AsyncIterator[tuple[TicketService, WorkOrderService, DirectoryService, list]]:
    engine = await open_database(store_url)
    sessions = session_factory(engine)
    work = WorkOrderService(sessions, dataclasses.replace(Settings(), node="pbx1", calendar=CALENDAR))
    heard: list[tuple[str, dict]] = []
    work.listeners.append(lambda event, data: heard.append((event, data)))
    tickets = TicketService(sessions, "pbx1", spill_dir=tmp_path / "spill", wait_limit=30.0)
    tickets.after_write.append(work.on_ticket_write)
    await tickets.start()
    yield tickets, work, DirectoryService(sessions), heard
    await tickets.close()
    await engine.dispose()


async def answered_call(tickets: TicketService, uid: str, number: str, arrived: dt.datetime) -> int:
    ticket_id = await tickets.open_for_arrival(uid, number, "家长", "PJSIP/trunk-1", arrived)
    assert ticket_id is not None
    await tickets.mark_answered(uid, "1001", arrived + dt.timedelta(seconds=5))
    await tickets.mark_ended(uid, arrived + dt.timedelta(seconds=65), "agent")
    return ticket_id


def due(ticket: dict) -> dt.datetime | None:
    return dt.datetime.fromisoformat(ticket["due_at"]).astimezone(SH) if ticket["due_at"] else None


async def test_deadlines_follow_category_call_end_and_escalation(stack):
    tickets, work, directory, _ = stack
    tid = await answered_call(tickets, "d1", "13800000001", at("2026-10-16 16:00"))
    assert (await work.get(tid))["due_at"] is None  # no category yet: no time limit
    ticket = await work.update(tid, Change({"category": "registration", "promised_reply_at": FAR}), "op", at("2026-10-16 16:02"))
    assert due(ticket) == at("2026-10-16 16:16:05")  # the call's end plus 15 minutes of wrap-up
    ticket = await work.update(tid, Change({"category": "complaint"}), "op", at("2026-10-16 16:03"))
    assert due(ticket) == at("2026-10-21 17:30")  # Friday before the Monday holiday: Wednesday
    dep = await directory.save_department({"name": "医务处", "office_phone": "2001"})
    ticket = await work.escalated(tid, dep["id"], None, "op", at("2026-10-20 09:00"))
    assert due(ticket) == at("2026-10-27 17:30")  # the department's 5 working days from the escalation
    # The department replies (back in progress): its limit still counts.
    ticket = await work.update(tid, Change({}, status="in_progress"), "op", at("2026-10-21 09:00"))
    assert ticket["status"] == "in_progress" and due(ticket) == at("2026-10-27 17:30")
    ticket = await work.update(tid, Change({"category": "suggestion"}), "op", at("2026-10-21 09:05"))
    assert due(ticket) == at("2026-10-27 17:30")  # suggestion: 5 working days from the 16th is the 23rd: earlier

    # An on_call ticket gets its deadline when the call ends, not before.
    uid = "d2"
    assert await tickets.open_for_arrival(uid, "13800000002", "", "PJSIP/trunk-1", at("2026-10-16 10:00"))
    await tickets.mark_answered(uid, "1002", at("2026-10-16 10:00:05"))
    [open_ticket] = await work.list(caller="13800000002")
    await work.update(open_ticket["id"], Change({"category": "billing"}), "1002", at("2026-10-16 10:01"))
    assert (await work.get(open_ticket["id"]))["due_at"] is None  # still on the call
    await tickets.mark_ended(uid, at("2026-10-16 10:03"), "agent")
    assert due(await work.get(open_ticket["id"])) == at("2026-10-16 10:18")

    # A 12345 order imported has its category's limit.
    report = await work.import_12345('[{"order_no": "A1", "caller_number": "13800000003", "caller_name": "x", '
                                     '"content": "c", "received_at": "2026-10-16T15:00:00+08:00", '
                                     '"deadline": "2026-10-30T17:00:00+08:00"}]', "json", "sup")
    assert due(await work.get(report["ticket_ids"][0])) == at("2026-10-21 17:30")


async def test_the_ladder_walked_over_weekends_holidays_and_a_make_up_day(stack):
    tickets, work, directory, heard = stack
    dep = await directory.save_department({"name": "门诊部", "office_phone": "2002"})
    # A: a complaint on Friday 16:00 before the Monday holiday: due Wednesday 17:30; no department.
    a = await answered_call(tickets, "a", "13900000001", at("2026-10-16 16:00"))
    await work.update(a, Change({"category": "complaint", "promised_reply_at": FAR}), "1001", at("2026-10-16 16:05"))
    # B: a medical question after hours on Friday 9 October: due at the end of the make-up Saturday.
    b = await answered_call(tickets, "b", "13900000002", at("2026-10-09 18:00"))
    await work.update(b, Change({"category": "medical", "promised_reply_at": FAR}), "1001", at("2026-10-09 18:05"))
    # C: a consultation the day before the holiday week, left unsolved, with a department: due 16:16:05.
    c = await answered_call(tickets, "c", "13900000003", at("2026-09-30 16:00"))
    await work.update(c, Change({"category": "registration", "promised_reply_at": FAR, "department_id": dep["id"]}),
                      "1001", at("2026-09-30 16:05"))
    # D: a complaint escalated on Tuesday 29 September: the department's 5 working days win (Mon 12 Oct).
    d = await answered_call(tickets, "d", "13900000004", at("2026-09-29 10:00"))
    await work.update(d, Change({"category": "complaint", "promised_reply_at": FAR}), "1001", at("2026-09-29 10:05"))
    await work.escalated(d, dep["id"], None, "1001", at("2026-09-29 11:00"))
    assert [due(await work.get(t)) for t in (a, b, c, d)] == [
        at("2026-10-21 17:30"), at("2026-10-10 17:30"), at("2026-09-30 16:16:05"), at("2026-10-12 17:30")]

    walk = [  # (now, levels of A, B, C, D)
        ("2026-09-30 16:16", (0, 0, 0, 0)),
        ("2026-09-30 16:17", (0, 0, 1, 0)),  # C: the operator
        ("2026-10-05 12:00", (0, 0, 1, 0)),  # the holiday week counts no working time
        ("2026-10-08 10:46", (0, 0, 1, 0)),  # 1h14 before the holiday + 2h46 after: not yet 4 hours
        ("2026-10-08 10:47", (0, 0, 2, 0)),  # C: the supervisor
        ("2026-10-08 16:17", (0, 0, 3, 0)),  # C: the department's head (8 working hours)
        ("2026-10-10 17:29", (0, 0, 3, 0)),  # the make-up Saturday is a working day: B is still on time
        ("2026-10-10 17:31", (0, 1, 3, 0)),
        ("2026-10-11 20:00", (0, 1, 3, 0)),  # Sunday
        ("2026-10-12 12:00", (0, 2, 3, 0)),  # B: 4 working hours late on Monday morning
        ("2026-10-12 17:31", (0, 2, 3, 1)),
        ("2026-10-13 12:00", (0, 2, 3, 2)),
        ("2026-10-13 17:30", (0, 2, 3, 3)),
        ("2026-10-19 12:00", (0, 2, 3, 3)),  # A is not overdue on the Monday holiday; B has no department
        ("2026-10-21 17:30", (0, 2, 3, 3)),
        ("2026-10-21 17:31", (1, 2, 3, 3)),
        ("2026-10-22 11:59", (1, 2, 3, 3)),
        ("2026-10-22 12:00", (2, 2, 3, 3)),
        ("2026-10-23 17:30", (2, 2, 3, 3)),  # no department: the supervisor is the top
    ]
    for now, levels in walk:
        await work.sweep_ladder(at(now))
        assert tuple([(await work.get(t))["ladder_level"] for t in (a, b, c, d)]) == levels, now

    # Each climb was written once: a contact per climb, one announcement per climb.
    told = {t: [(c["details"]["level"], c["details"]["told"]) for c in (await work.get(t))["contacts"] if c["kind"] == "overdue"]
            for t in (a, b, c, d)}
    assert told == {a: [(1, "operator"), (2, "supervisor")], b: [(1, "operator"), (2, "supervisor")],
                    c: [(1, "operator"), (2, "supervisor"), (3, "department_head")],
                    d: [(1, "operator"), (2, "supervisor"), (3, "department_head")]}
    announced = [(data["id"], data["ladder"]["level"]) for event, data in heard if event == "ticket.ladder"]
    assert sorted(announced) == sorted((t, level) for t, levels in told.items() for level, _ in levels)
    [first] = [data for event, data in heard if event == "ticket.ladder" and data["id"] == c][:1]
    assert first["ladder"]["deadline"] == at("2026-09-30 16:16:05").astimezone(dt.UTC).isoformat()
    assert first["agent_id"] == "1001" and first["category"] == "registration"
    assert await work.sweep_ladder(at("2026-10-23 17:30")) == []  # nothing more to climb

    # Solved, a ticket leaves the ladder (its climbs stay in the history); reopened, it climbs again.
    solved = await work.update(c, Change({}, status="solved"), "1001", at("2026-10-23 17:40"))
    assert solved["ladder_level"] == 0
    assert await work.sweep_ladder(at("2026-10-26 09:00")) == []


async def test_the_earlier_promise_is_the_ladders_deadline_and_a_later_deadline_lowers_it(stack):
    tickets, work, _, _ = stack
    tid = await answered_call(tickets, "p", "13700000001", at("2026-10-14 09:00"))
    await work.update(tid, Change({"category": "complaint", "promised_reply_at": at("2026-10-14 10:00")}), "1001",
                      at("2026-10-14 09:02"))
    [climb] = await work.sweep_ladder(at("2026-10-14 10:01"))  # the promise, not the 2 working days
    assert climb["ladder"] == {"level": 1, "deadline": at("2026-10-14 10:00").astimezone(dt.UTC).isoformat(),
                               "told": "operator"}
    # A new promise: the ticket is on time again (its limit, 2 working days, is Friday 17:30).
    await work.update(tid, Change({"promised_reply_at": FAR}), "1001", at("2026-10-14 10:05"))
    assert (await work.get(tid))["ladder_level"] == 0
    assert await work.sweep_ladder(at("2026-10-16 17:30")) == []
    assert [c["ladder"]["level"] for c in await work.sweep_ladder(at("2026-10-19 12:00"))] == [1]  # past it
    assert await work.sweep_ladder(at("2026-10-19 23:00")) == []  # the Monday holiday: no working time late
    assert [c["ladder"]["level"] for c in await work.sweep_ladder(at("2026-10-20 12:00"))] == [2]  # 4h late
    # A later limit (a suggestion: 5 working days, the Monday holiday skipped) lowers it again.
    ticket = await work.update(tid, Change({"category": "suggestion"}), "1001", at("2026-10-20 12:05"))
    assert ticket["ladder_level"] == 0 and due(ticket) == at("2026-10-22 17:30")
