"""The departments' desk on a real database: scoping by department, reply, callback, handoff, finding, promotion."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from harness.postgres import store_url  # noqa: F401  (fixture: SQLite, and PostgreSQL when configured)
from sqlalchemy import select
from test_wo_store import call

from callcenter.accounts.service import AccountService
from callcenter.kb.service import KbService
from callcenter.settings import Settings
from callcenter.store import open_database, session_factory
from callcenter.tickets import TicketService
from callcenter.workorders.departments import DirectoryService
from callcenter.workorders.desk import DeskService, Scope, may_see
from callcenter.workorders.exceptions import (
    Conflict,
    InvalidData,
    NotFound,
    NotYourDepartment,
)
from callcenter.workorders.models import CallbackTask, WorkOrder
from callcenter.workorders.service import Change, WorkOrderService

BJ = dt.timezone(dt.timedelta(hours=8))
T0 = dt.datetime(2025, 3, 10, 9, 0, tzinfo=BJ)
EVIL = "<script>alert(1)</script>请于周三上午复诊"


@dataclasses.dataclass
class Desk:
    tickets: TicketService
    work: WorkOrderService
    desk: DeskService
    kb: KbService
    cardio: int  # department ids
    derm: int
    doc: Scope  # a cardiology specialist
    skin: Scope  # a dermatology specialist


@pytest.fixture
async def desk(store_url: str, tmp_path: Path) -> AsyncIterator[Desk]:
    engine = await open_database(store_url)
    sessions = session_factory(engine)
    settings = dataclasses.replace(Settings(), node="pbx1")
    work = WorkOrderService(sessions, settings)
    tickets = TicketService(sessions, "pbx1", spill_dir=tmp_path / "spill", wait_limit=30.0)
    tickets.after_write.append(work.on_ticket_write)
    await tickets.start()
    directory = DirectoryService(sessions)
    cardio = (await directory.save_department({"name": "心内科", "office_phone": "8001"}))["id"]
    derm = (await directory.save_department({"name": "皮肤科", "office_phone": "8002"}))["id"]
    accounts = AccountService(sessions)
    doc = await accounts.create("doc", "a-long-password-1", "specialist")
    skin = await accounts.create("skin", "a-long-password-2", "specialist")
    service = DeskService(sessions, work)
    await service.set_departments(doc.id, [(cardio, True)])
    await service.set_departments(skin.id, [(derm, False)])
    yield Desk(tickets, work, service, KbService(sessions, engine.dialect.name), cardio, derm,
               await service.scope(doc.id, "doc"), await service.scope(skin.id, "skin"))
    await tickets.close()
    await engine.dispose()


async def escalated(d: Desk, uid: str, number: str, department_id: int, notes: str = "孩子发烧三天，要不要复诊") -> int:
    tid = await call(d.tickets, uid, number, T0, answered=True)
    promise = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    await d.work.update(tid, Change({"notes": notes, "promised_reply_at": promise}), "op1")
    await d.work.escalated(tid, department_id, None, "op1")
    return tid


async def test_a_specialist_sees_only_their_departments_tickets(desk: Desk) -> None:
    mine = await escalated(desk, "u1", "13800000001", desk.cardio)
    theirs = await escalated(desk, "u2", "13800000002", desk.derm)
    listed = await desk.desk.tickets(desk.doc)
    assert [t["id"] for t in listed["tickets"]] == [mine]
    assert listed["tickets"][0]["question"] == "孩子发烧三天，要不要复诊" and listed["tickets"][0]["department"] == "心内科"
    assert listed["departments"] == [{"id": desk.cardio, "name": "心内科", "is_head": True}]
    assert [t["id"] for t in (await desk.desk.tickets(desk.skin))["tickets"]] == [theirs]
    detail = await desk.desk.ticket(desk.doc, mine)
    assert detail["question"] == "孩子发烧三天，要不要复诊" and detail["promised_reply_at"] is not None
    assert [c["kind"] for c in detail["contacts"]][:1] == ["inbound"]
    with pytest.raises(NotYourDepartment) as refused:
        await desk.desk.ticket(desk.doc, theirs)
    assert refused.value.slug == "desk.not_your_department"
    assert str(refused.value) == f"ticket {theirs} belongs to 皮肤科, not to your departments (心内科)"
    with pytest.raises(NotFound):
        await desk.desk.ticket(desk.doc, 99999)
    every = Scope(username="boss", every=True)
    assert {t["id"] for t in (await desk.desk.tickets(every))["tickets"]} == {mine, theirs}
    assert may_see(every, None) and not may_see(desk.doc, None)  # a ticket with no department: supervisors only


async def test_a_head_sees_what_the_overdue_ladder_told_them(desk: Desk) -> None:
    late = await escalated(desk, "u1", "13800000001", desk.cardio)
    early = await escalated(desk, "u2", "13800000003", desk.cardio)
    async with desk.desk._sessions() as session, session.begin():
        order = await session.get(WorkOrder, late)
        order.ladder_level, order.due_at = 3, dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
        await session.get(WorkOrder, early)
    listed = await desk.desk.tickets(desk.doc)  # doc heads cardiology
    assert [t["id"] for t in listed["tickets"]] == [late, early]  # soonest due first: the overdue one
    assert [t["id"] for t in listed["for_head"]] == [late] and listed["for_head"][0]["ladder_level"] == 3
    member = Scope(username="nurse", departments={desk.cardio: "心内科"})  # not the head
    assert (await desk.desk.tickets(member))["for_head"] == []


async def test_a_reply_moves_the_ticket_back_and_puts_a_callback_task_on_the_operator(desk: Desk) -> None:
    tid = await escalated(desk, "u1", "13800000001", desk.cardio)
    told: list[tuple[str, dict]] = []
    desk.work.listeners.append(lambda event, data: told.append((event, data)))
    result = await desk.desk.reply(desk.doc, tid, EVIL)
    assert told == [("callback.task_created", result["task"])]  # the operator's to-do panel is told at once
    assert result["contact"]["kind"] == "reply" and result["contact"]["text"] == EVIL
    assert result["contact"]["agent_id"] == "doc"
    task = result["task"]
    assert task["kind"] == "callback" and task["state"] == "pending" and task["number"] == "13800000001"
    assert task["agent_id"] == "1001"  # the operator who took the call
    assert task["details"]["reply"] == EVIL and task["details"]["by"] == "doc"
    assert task["details"]["department_id"] == desk.cardio
    ticket = result["ticket"]
    assert ticket["status"] == "in_progress"
    assert ticket["contacts"][-1]["kind"] == "status" and ticket["contacts"][-1]["details"]["move"] == "department_replied"
    # Back with the hotline: off the escalated list, still on the open one.
    assert (await desk.desk.tickets(desk.doc))["tickets"] == []
    assert [t["id"] for t in (await desk.desk.tickets(desk.doc, everything_open=True))["tickets"]] == [tid]
    # A follow-up reply on the in-progress ticket is one more answer and one more task, no move.
    again = await desk.desk.reply(desk.doc, tid, "补充：带上化验单")
    assert again["ticket"]["status"] == "in_progress" and again["task"]["id"] != task["id"]
    # The other department may not answer it.
    with pytest.raises(NotYourDepartment):
        await desk.desk.reply(desk.skin, tid, "不是我们科的")
    for bad in ("", "   \n ", "x" * 10_000):
        with pytest.raises(InvalidData) as invalid:
            await desk.desk.reply(desk.doc, tid, bad)
        assert invalid.value.problems[0]["field"] == "text"


async def test_asking_the_hotline_to_call_keeps_the_ticket_escalated(desk: Desk) -> None:
    tid = await escalated(desk, "u1", "13800000001", desk.cardio)
    result = await desk.desk.ask_callback(desk.doc, tid, "请问患儿现在体温多少")
    assert result["task"]["kind"] == "callback" and result["task"]["details"]["note"] == "请问患儿现在体温多少"
    assert (await desk.work.get(tid))["status"] == "escalated"


async def test_a_handoff_moves_the_ticket_to_the_other_departments_desk(desk: Desk) -> None:
    tid = await escalated(desk, "u1", "13800000001", desk.cardio)
    changes: list[tuple[str, int, int]] = []

    async def hook(session, event, ticket_id, data):
        changes.append((event, ticket_id, data["department_id"]))

    desk.work.after_change.append(hook)
    result = await desk.desk.handoff(desk.doc, tid, desk.derm, "皮疹，请皮肤科看")
    assert changes == [("ticket", tid, desk.derm)]  # in the handoff's transaction (the feedback ledger follows)
    contact = result["contact"]
    assert contact["kind"] == "handoff" and contact["text"] == "心内科 -> 皮肤科: 皮疹，请皮肤科看"
    assert contact["details"]["from_department_id"] == desk.cardio and contact["details"]["to_department_id"] == desk.derm
    ticket = await desk.work.get(tid)
    assert ticket["status"] == "escalated" and ticket["department_id"] == desk.derm
    assert (await desk.desk.tickets(desk.doc))["tickets"] == []
    assert [t["id"] for t in (await desk.desk.tickets(desk.skin))["tickets"]] == [tid]
    with pytest.raises(NotYourDepartment):
        await desk.desk.reply(desk.doc, tid, "still mine?")
    with pytest.raises(Conflict):
        await desk.desk.handoff(desk.skin, tid, desk.derm)
    with pytest.raises(NotFound):
        await desk.desk.handoff(desk.skin, tid, 99999)


async def test_a_finding_is_kept_in_the_history(desk: Desk) -> None:
    tid = await escalated(desk, "u1", "13800000001", desk.cardio, notes="投诉：候诊时间太长")
    result = await desk.desk.finding(desk.doc, tid, "经核实，当日加号较多；已增加下午门诊")
    assert result["contact"]["kind"] == "finding" and result["contact"]["agent_id"] == "doc"
    assert [c["kind"] for c in (await desk.work.get(tid))["contacts"]][-1] == "finding"
    with pytest.raises(NotYourDepartment):
        await desk.desk.finding(desk.skin, tid, "不是我们")


async def test_a_reply_is_promoted_into_the_knowledge_base_with_its_author(desk: Desk) -> None:
    tid = await escalated(desk, "u1", "13800000001", desk.cardio)
    with pytest.raises(NotFound):  # nothing replied yet
        await desk.desk.promotion(desk.doc, tid)
    await desk.desk.reply(desk.doc, tid, "发烧超过三天请到发热门诊复诊")
    start = await desk.desk.promotion(desk.doc, tid)
    assert start["question"] == "孩子发烧三天，要不要复诊" and start["answer"] == "发烧超过三天请到发热门诊复诊"
    assert start["author"] == "doc" and start["department"] == "心内科"
    with pytest.raises(NotYourDepartment):
        await desk.desk.promotion(desk.skin, tid)
    entry = await desk.kb.create({"question": start["question"], "answer": start["answer"],
                                  "department": start["department"]}, "doc", author=start["author"],
                                 source={"ticket_id": tid})
    assert entry["author"] == "doc" and entry["updated_by"] == "doc" and entry["department"] == "心内科"
    found = await desk.kb.search("发热门诊")
    assert [e["id"] for e in found["results"]] == [entry["id"]]
    [revision] = await desk.kb.history(entry["id"])
    assert revision["after"]["source"] == {"ticket_id": tid} and revision["after"]["author"] == "doc"


async def test_departments_are_set_per_user_and_unknown_ones_refused(desk: Desk) -> None:
    accounts = AccountService(desk.desk._sessions)
    both = await accounts.create("both", "a-long-password-3", "specialist")
    bound = await desk.desk.set_departments(both.id, [(desk.cardio, False), (desk.derm, True)])
    assert {(d["name"], d["is_head"]) for d in bound} == {("心内科", False), ("皮肤科", True)}
    scope = await desk.desk.scope(both.id, "both")
    assert set(scope.departments) == {desk.cardio, desk.derm} and scope.heads == {desk.derm}
    with pytest.raises(NotFound):
        await desk.desk.set_departments(both.id, [(99999, False)])
    assert len(await desk.desk.set_departments(both.id, [])) == 0
    async with desk.desk._sessions() as session:
        assert (await session.scalars(select(CallbackTask))).all() == []


async def test_the_user_command_creates_a_specialist_bound_to_departments(store_url: str, monkeypatch) -> None:
    import argparse
    import io

    from callcenter.accounts import cli
    from callcenter.accounts.exceptions import AccountError
    from callcenter.settings import DatabaseSettings

    engine = await open_database(store_url)
    directory = DirectoryService(session_factory(engine))
    cardio = (await directory.save_department({"name": "心内科"}))["id"]
    derm = (await directory.save_department({"name": "皮肤科"}))["id"]
    settings = dataclasses.replace(Settings(), database=DatabaseSettings(url=store_url))

    def args(name: str, *departments: str, role: str = "specialist") -> argparse.Namespace:
        return argparse.Namespace(action="add", name=name, role=role, agent=None, display_name="", password_stdin=True,
                                  department=list(departments))

    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-password-9\n" * 4))
    assert await cli._run(args("doc", "心内科*", "皮肤科"), settings) == 0
    with pytest.raises(AccountError, match="骨科"):
        await cli._run(args("ortho", "骨科"), settings)
    with pytest.raises(AccountError, match="specialist"):
        await cli._run(args("op9", "心内科", role="operator"), settings)
    accounts = AccountService(session_factory(engine))
    doc = await accounts.by_name("doc")
    assert doc is not None and doc.role == "specialist"
    assert await accounts.by_name("ortho") is None  # refused before anything was written
    scope = await DeskService(session_factory(engine), None).scope(doc.id, "doc")  # type: ignore[arg-type]
    assert scope.departments == {cardio: "心内科", derm: "皮肤科"} and scope.heads == {cardio}
    await engine.dispose()
