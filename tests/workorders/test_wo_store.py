"""Work orders on a real database: the call side's hook, repeat callers, PATCH moves, surveys, imports, overdue."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from harness.postgres import store_url  # noqa: F401  (fixture: SQLite, and PostgreSQL when configured)
from callcenter.settings import Settings
from callcenter.store import open_database, session_factory
from callcenter.tickets import TicketService
from callcenter.workorders.departments import DirectoryService, on_duty
from callcenter.workorders.exceptions import Conflict, IllegalMove, InvalidData, PromiseRequired
from callcenter.workorders.models import CallbackTask
from callcenter.workorders.service import Change, WorkOrderService

BJ = dt.timezone(dt.timedelta(hours=8))
T0 = dt.datetime(2025, 3, 10, 9, 0, tzinfo=BJ)


@pytest.fixture
async def stack(store_url: str, tmp_path: Path) -> AsyncIterator[tuple[TicketService, WorkOrderService, DirectoryService]]:
    engine = await open_database(store_url)
    sessions = session_factory(engine)
    settings = dataclasses.replace(Settings(), node="pbx1")
    work = WorkOrderService(sessions, settings)
    # wait_limit: these tests are about what is written, not how fast; on a loaded machine the first
    # write (a hook's traceback logged, a savepoint) once took over the 2 s default and came back None.
    tickets = TicketService(sessions, "pbx1", spill_dir=tmp_path / "spill", wait_limit=30.0)
    tickets.after_write.append(work.on_ticket_write)
    await tickets.start()
    yield tickets, work, DirectoryService(sessions)
    await tickets.close()
    await engine.dispose()


async def call(tickets: TicketService, uid: str, number: str, at: dt.datetime, *, answered: bool, talk: float = 60) -> int:
    ticket_id = await tickets.open_for_arrival(uid, number, "家长", "PJSIP/trunk-1", at)
    assert ticket_id is not None
    if answered:
        await tickets.mark_answered(uid, "1001", at + dt.timedelta(seconds=5))
        await tickets.mark_ended(uid, at + dt.timedelta(seconds=5 + talk), "agent")
    else:
        await tickets.mark_ended(uid, at + dt.timedelta(seconds=30), "caller")
    return ticket_id


async def test_a_call_gets_a_work_order_and_an_inbound_contact(stack):
    tickets, work, _ = stack
    tid = await call(tickets, "u1", "13800138000", T0, answered=True)
    ticket = await work.get(tid)
    assert ticket["status"] == "new" and ticket["work_ticket_id"] == tid
    assert ticket["needs_promise"] is True  # answered, ended, nothing recorded yet
    [inbound] = ticket["contacts"]
    assert inbound["kind"] == "inbound" and inbound["outcome"] == "completed" and inbound["agent_id"] == "1001"
    assert ticket["tasks"] == []


async def test_an_abandoned_call_becomes_a_callback_task_with_a_promise(stack):
    tickets, work, _ = stack
    tid = await call(tickets, "u2", "010-6402 8401", T0, answered=False)
    ticket = await work.get(tid)
    [task] = ticket["tasks"]
    assert task["kind"] == "abandoned" and task["number"] == "01064028401" and task["state"] == "pending"
    ended = T0 + dt.timedelta(seconds=30)
    assert dt.datetime.fromisoformat(ticket["promised_reply_at"]) == ended + dt.timedelta(hours=2)
    assert ticket["needs_promise"] is False
    assert [t["id"] for t in await work.tasks(kind="abandoned")] == [task["id"]]


async def test_a_repeat_caller_is_merged_into_the_open_ticket_and_a_got_through_call_cancels_the_callback(stack):
    tickets, work, _ = stack
    first = await call(tickets, "r1", "13900001111", T0, answered=False)
    second = await call(tickets, "r2", "13900001111", T0 + dt.timedelta(minutes=3), answered=True)
    merged = await work.get(second)
    assert merged["status"] == "merged" and merged["parent_id"] == first and merged["work_ticket_id"] == first
    assert merged["parent"]["id"] == first
    parent = await work.get(first)
    assert parent["revisits"] == 1 and parent["linked_calls"] == [second]
    assert [(c["kind"], c["call_ticket_id"], c["outcome"]) for c in parent["contacts"]] == [
        ("inbound", first, "abandoned"),
        ("inbound", second, "completed"),
    ]
    assert [t["state"] for t in parent["tasks"]] == ["cancelled"]  # the caller got through
    # Changing the merged call is refused with where to go instead; unmerging is allowed.
    with pytest.raises(Conflict, match=f"ticket {first}"):
        await work.update(second, Change({"category": "registration"}), "op")
    unmerged = await work.update(second, Change({}, status="new"), "op")
    assert unmerged["status"] == "new" and unmerged["parent_id"] is None
    # A different number, or a closed ticket, is never merged into.
    other = await call(tickets, "r3", "13900002222", T0 + dt.timedelta(minutes=5), answered=True)
    assert (await work.get(other))["status"] == "new"


async def test_operator_moves_through_the_closed_loop(stack):
    tickets, work, directory = stack
    tid = await call(tickets, "c1", "13700000000", T0, answered=True)
    now = T0 + dt.timedelta(minutes=5)
    with pytest.raises(PromiseRequired):
        await work.update(tid, Change({"category": "reports"}, status="in_progress"), "op1", now)
    promise = T0 + dt.timedelta(days=1)
    t = await work.update(tid, Change({"category": "reports", "promised_reply_at": promise, "notes": "化验单查不到"},
                                      status="in_progress"), "op1", now)
    assert t["status"] == "in_progress" and t["category"] == "reports" and t["updated_by"] == "op1"
    dep = await directory.save_department({"name": "检验科", "office_phone": "2003"})
    t = await work.escalated(tid, dep["id"], None, "op1", now)
    assert t["status"] == "escalated" and t["department"] == {"id": dep["id"], "name": "检验科"}
    with pytest.raises(IllegalMove) as caught:
        await work.update(tid, Change({}, status="callback_due"), "op1", now)
    assert "in_progress" in str(caught.value) and "solved" in str(caught.value)
    t = await work.update(tid, Change({}, status="solved"), "op1", now)
    t = await work.update(tid, Change({}, status="callback_due"), "op1", now)
    t = await work.record_survey(tid, 2, via="ivr", now=now)
    assert t["status"] == "in_progress" and t["satisfaction"] == 2  # unsatisfied: reopened
    await work.update(tid, Change({}, status="solved"), "op1", now)
    await work.update(tid, Change({}, status="callback_due"), "op1", now)
    t = await work.record_survey(tid, 5, now=now)
    assert t["status"] == "closed" and t["close_reason"] == "satisfied"
    kinds = [(c["kind"], c["outcome"]) for c in t["contacts"]]
    assert ("survey", "2") in kinds and ("survey", "5") in kinds
    assert [c["outcome"] for c in t["contacts"] if c["kind"] == "status"] == [
        "in_progress", "escalated", "solved", "callback_due", "in_progress", "solved", "callback_due", "closed"
    ]
    listed = await work.list(caller="137-0000-0000")
    assert [x["id"] for x in listed] == [tid]


async def test_overdue_sweep_alerts_once(stack):
    tickets, work, _ = stack
    tid = await call(tickets, "o1", "13600000000", T0, answered=True)
    await work.update(tid, Change({"promised_reply_at": T0 + dt.timedelta(hours=1)}, status="in_progress"), "op",
                      T0 + dt.timedelta(minutes=2))
    seen = []
    work.listeners.append(lambda event, data: seen.append((event, data["id"])))
    assert await work.sweep_overdue(T0 + dt.timedelta(minutes=50)) == []
    alerts = await work.sweep_overdue(T0 + dt.timedelta(hours=16))  # 01:00 next day in Beijing
    assert [a["id"] for a in alerts] == [tid] and alerts[0]["overdue"]["days"] == 1
    assert seen == [("ticket.overdue", tid)]
    assert await work.sweep_overdue(T0 + dt.timedelta(hours=17)) == []  # alerted once
    assert [t["id"] for t in await work.list(overdue_only=True, now=T0 + dt.timedelta(hours=17))] == [tid]


async def test_12345_orders_import_with_deadlines_idempotently(stack):
    _, work, _ = stack
    orders = [
        {"order_no": "BJ2025031000123", "caller_number": "13511112222", "caller_name": "王女士",
         "received_at": "2025-03-10T08:30:00", "deadline": "2025-03-12T17:00:00+08:00",
         "content": "反映周末儿科门诊候诊时间过长"},
    ]
    report = await work.import_12345(json.dumps(orders, ensure_ascii=False), "json", "admin")
    assert report["created"] == 1
    [tid] = report["ticket_ids"]
    t = await work.get(tid)
    assert t["source"] == "12345" and t["category"] == "hotline_12345" and t["external_ref"] == "BJ2025031000123"
    assert dt.datetime.fromisoformat(t["promised_reply_at"]) == dt.datetime(2025, 3, 12, 17, 0, tzinfo=BJ)
    assert dt.datetime.fromisoformat(t["arrived_at"]) == dt.datetime(2025, 3, 10, 8, 30, tzinfo=BJ)  # local time
    again = await work.import_12345(json.dumps(orders, ensure_ascii=False), "json", "admin")
    assert again == {"created": 0, "skipped": 1, "ticket_ids": []}
    csv_text = "order_no,caller_number,deadline,content\nX1,135,not a date,问题\nX2,136,,\n"
    with pytest.raises(InvalidData) as caught:
        await work.import_12345(csv_text, "csv", "admin")
    fields = [p["field"] for p in caught.value.problems]
    assert fields == ["line 2: deadline", "line 3: deadline", "line 3: content"]
    gb = "order_no,caller_number,deadline,content\nGB1,135,2025-03-12T17:00:00,反映挂号难\n".encode("gb18030")  # Chinese Excel
    assert (await work.import_12345(gb, "csv", "admin"))["created"] == 1
    with pytest.raises(InvalidData) as caught:
        await work.import_12345(b"order_no,content\nX3,\xff\n", "csv", "admin")
    assert str(caught.value) == "the data is not text (UTF-8 or GB18030): byte 0xff on line 2"


async def test_escalation_targets_follow_duty_hours(stack):
    _, _, directory = stack
    dep = await directory.save_department({"name": "呼吸科", "office_phone": "2003"})
    await directory.save_specialist({"name": "李医生", "mobile": "2004", "rank": 2}, department_id=dep["id"])
    await directory.save_specialist({"name": "张医生", "mobile": "2005", "rank": 1,
                                     "duty": {"weekdays": ["mon", "tue"], "times": "08:00-17:30"}},
                                    department_id=dep["id"])
    monday_10 = dt.datetime(2025, 3, 10, 10, 0, tzinfo=BJ)
    targets = await directory.escalation_targets(dep["id"], monday_10, BJ)
    assert [(t["role"], t["number"]) for t in targets] == [("office", "2003"), ("specialist", "2005"),
                                                           ("specialist", "2004")]
    sunday = await directory.escalation_targets(dep["id"], dt.datetime(2025, 3, 9, 10, 0, tzinfo=BJ), BJ)
    assert [t["number"] for t in sunday] == ["2003", "2004"]
    assert on_duty({"times": "22:00-08:00"}, dt.datetime(2025, 3, 9, 23, 0, tzinfo=BJ), BJ)
    assert not on_duty({"times": "22:00-08:00"}, dt.datetime(2025, 3, 9, 12, 0, tzinfo=BJ), BJ)
    # start == end is a 24-hour duty (callcenter.timewindow), as for the IVR and the rota; it used to be never
    for hour in (0, 7, 8, 12, 23):
        assert on_duty({"times": "08:00-08:00"}, dt.datetime(2025, 3, 9, hour, 59, tzinfo=BJ), BJ)
    assert not on_duty({"weekdays": ["mon"], "times": "08:00-08:00"}, dt.datetime(2025, 3, 9, 12, 0, tzinfo=BJ), BJ)
    await directory.save_specialist({"name": "王医生", "mobile": "2006", "rank": 3,
                                     "duty": {"times": "08:00-08:00"}}, department_id=dep["id"])
    night = await directory.escalation_targets(dep["id"], dt.datetime(2025, 3, 10, 3, 0, tzinfo=BJ), BJ)
    assert [t["number"] for t in night] == ["2003", "2004", "2006"]


async def test_a_failing_hook_never_loses_the_call(stack, store_url):
    tickets, work, _ = stack

    async def broken(session, node, write):
        raise RuntimeError("bug in a hook")

    tickets.after_write.insert(0, broken)
    tid = await call(tickets, "h1", "13300000000", T0, answered=False)
    ticket = await tickets.get("h1")
    assert ticket is not None and ticket.call_status == "abandoned"
    assert (await work.get(tid))["tasks"]  # the other hook still ran
    async with work._sessions() as session:
        assert len((await session.scalars(select(CallbackTask))).all()) == 1


async def test_a_kept_place_is_one_callback_contact_that_follows_its_attempts_and_no_task_unless_unreached(stack):
    tickets, work, _ = stack
    at = T0.astimezone(dt.UTC)
    tid = await tickets.open_for_arrival("kp1", "13700001111", "家长", "PJSIP/trunk-1", at)
    story = {"requested_at": (at + dt.timedelta(seconds=70)).isoformat(), "position": 2, "waited_seconds": 70.0,
             "attempts": [], "outcome": "waiting"}
    await tickets.record_details("kp1", "callback", story)
    [_, kept] = (await work.get(tid))["contacts"]
    assert (kept["kind"], kept["outcome"], kept["number"], kept["agent_id"]) == ("callback", "place_kept", "13700001111", None)
    assert kept["details"]["position"] == 2 and kept["details"]["kept_place"] is True
    first = {"agent_id": "1001", "at": (at + dt.timedelta(seconds=200)).isoformat(), "outcome": "no_answer"}
    await tickets.record_details("kp1", "callback", {**story, "attempts": [first]})
    second = {"agent_id": "1002", "at": (at + dt.timedelta(seconds=330)).isoformat(), "outcome": "answered"}
    await tickets.record_details("kp1", "callback", {**story, "attempts": [first, second], "outcome": "answered"})
    await tickets.mark_answered("kp1", "1002", at + dt.timedelta(seconds=335))
    await tickets.mark_ended("kp1", at + dt.timedelta(seconds=400), "caller")
    ticket = await work.get(tid)
    inbound, kept = ticket["contacts"]
    assert inbound["outcome"] == "completed" and ticket["tasks"] == []
    assert (kept["outcome"], kept["agent_id"]) == ("answered", "1002")
    assert [(a["agent_id"], a["outcome"]) for a in kept["details"]["attempts"]] == [("1001", "no_answer"), ("1002", "answered")]
    # every attempt failed: the call ends unanswered and becomes an abandoned-call task, as abandoned calls do
    tid2 = await tickets.open_for_arrival("kp2", "13700002222", "", "PJSIP/trunk-2", at)
    await tickets.record_details("kp2", "callback", {**story, "attempts": [first, first], "outcome": "unreached"})
    await tickets.mark_ended("kp2", at + dt.timedelta(seconds=600), "caller")
    ticket = await work.get(tid2)
    [task] = ticket["tasks"]
    assert task["kind"] == "abandoned" and [c["outcome"] for c in ticket["contacts"]] == ["abandoned", "unreached"]
