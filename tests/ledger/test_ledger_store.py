"""The feedback ledger on a real database (SQLite, and PostgreSQL when configured): items appear from
ticket changes and survey scores, exactly once; the lifecycle and its history; the catalogue import."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from harness.postgres import store_url  # noqa: F401  (fixture: SQLite, and PostgreSQL when configured)
from callcenter.ledger.exceptions import Forbidden, IllegalMove, InvalidData, NotFound
from callcenter.ledger.models import CatalogueItem, LedgerItem
from callcenter.ledger.service import LedgerService, Scope
from callcenter.settings import Settings
from callcenter.store import open_database, session_factory
from callcenter.tickets import TicketService
from callcenter.workorders.departments import DirectoryService
from callcenter.workorders.service import Change, WorkOrderService

BJ = dt.timezone(dt.timedelta(hours=8))
T0 = dt.datetime(2025, 3, 10, 9, 0, tzinfo=BJ)
BOSS = Scope(by="boss")


@dataclasses.dataclass
class Stack:
    tickets: TicketService
    work: WorkOrderService
    ledger: LedgerService
    directory: DirectoryService
    sessions: object


@pytest.fixture
async def stack(store_url: str, tmp_path: Path) -> AsyncIterator[Stack]:
    engine = await open_database(store_url)
    sessions = session_factory(engine)
    work = WorkOrderService(sessions, dataclasses.replace(Settings(), node="pbx1"))
    ledger = LedgerService(sessions)
    work.after_change.append(ledger.on_work_change)
    tickets = TicketService(sessions, "pbx1", spill_dir=tmp_path / "spill", wait_limit=30.0)
    tickets.after_write.append(work.on_ticket_write)
    await tickets.start()
    yield Stack(tickets, work, ledger, DirectoryService(sessions), sessions)
    await tickets.close()
    await engine.dispose()


async def call(s: Stack, uid: str, number: str) -> int:
    ticket_id = await s.tickets.open_for_arrival(uid, number, "家长", "PJSIP/trunk-1", T0)
    await s.tickets.mark_answered(uid, "1001", T0 + dt.timedelta(seconds=5))
    await s.tickets.mark_ended(uid, T0 + dt.timedelta(seconds=65), "agent")
    return ticket_id


async def count_items(s: Stack) -> int:
    async with s.sessions() as session:
        return await session.scalar(select(func.count()).select_from(LedgerItem))


PROMISE = {"promised_reply_at": dt.datetime.now(dt.UTC) + dt.timedelta(days=1)}


async def test_a_complaint_ticket_becomes_one_item_with_the_tickets_department(stack: Stack):
    dep = await stack.directory.save_department({"name": "门诊部"})
    tid = await call(stack, "c1", "13800138000")
    await stack.work.update(tid, Change({"category": "complaint", "notes": "候诊两小时无人叫号", "department_id": dep["id"],
                                         **PROMISE}), "op1")
    # the same change again, and another field: still one item
    await stack.work.update(tid, Change({"category": "complaint", "priority": "high"}), "op1")
    [item] = await stack.ledger.list(BOSS)
    assert item["ticket_id"] == tid and item["source"] == "complaint" and item["status"] == "open"
    assert item["department_id"] == dep["id"] and item["department"] == "门诊部"
    assert item["description"] == "候诊两小时无人叫号" and item["score"] is None
    assert await count_items(stack) == 1
    # a suggestion on the same ticket is its own source: a second item
    await stack.work.update(tid, Change({"category": "suggestion"}), "op1")
    assert sorted(i["source"] for i in await stack.ledger.list(BOSS)) == ["complaint", "suggestion"]


async def test_an_unclassified_item_takes_the_department_the_ticket_is_given_later(stack: Stack):
    tid = await call(stack, "c2", "13800138001")
    await stack.work.update(tid, Change({"category": "suggestion", **PROMISE}), "op1")
    [item] = await stack.ledger.list(BOSS, unclassified=True)
    assert item["department_id"] is None
    dep = await stack.directory.save_department({"name": "药剂科"})
    await stack.work.update(tid, Change({"department_id": dep["id"]}), "op1")
    adopted = await stack.ledger.get(item["id"], BOSS)
    assert adopted["department_id"] == dep["id"] and adopted["department"] == "药剂科"
    assert adopted["events"][-1]["text"] == "classified" and adopted["events"][-1]["details"]["from"] == "ticket"


async def test_survey_scores_1_and_2_become_items_with_the_score_4_does_not(stack: Stack):
    two, four, one = [await call(stack, f"s{i}", f"1390000000{i}") for i in range(3)]
    await stack.work.record_survey(two, 2, via="ivr")
    await stack.work.record_survey(four, 4, via="operator")
    await stack.work.record_survey(one, 1, via="campaign:7")
    await stack.work.record_survey(two, 1, via="operator")  # a second low score: still one item
    items = {i["ticket_id"]: i for i in await stack.ledger.list(BOSS)}
    assert set(items) == {two, one}
    assert items[two]["source"] == "survey" and items[two]["score"] == 2
    assert items[one]["source"] == "campaign" and items[one]["score"] == 1


async def test_a_failing_hook_rolls_the_ticket_change_back(stack: Stack):
    tid = await call(stack, "f1", "13800138002")

    async def broken(session, event, ticket_id, data):
        raise RuntimeError("ledger down")

    stack.work.after_change.insert(0, broken)
    with pytest.raises(RuntimeError):
        await stack.work.update(tid, Change({"category": "complaint", **PROMISE}), "op1")
    stack.work.after_change.remove(broken)
    assert (await stack.work.get(tid))["category"] is None and await count_items(stack) == 0


async def test_lifecycle_in_the_store_strike_off_only_when_verified_and_reopen_keeps_history(stack: Stack):
    dep = await stack.directory.save_department({"name": "门诊部"})
    item = await stack.ledger.create({"description": "挂号窗口排队长", "department_id": dep["id"]}, BOSS)
    with pytest.raises(IllegalMove) as err:
        await stack.ledger.move(item["id"], "rectify", BOSS)
    assert set(err.value.missing) == {"measure", "owner", "deadline"}
    deadline = dt.datetime(2025, 3, 17, 17, 0, tzinfo=BJ)
    await stack.ledger.update(item["id"], {"measure": "增开窗口", "owner": "王主任", "deadline": deadline}, BOSS)
    await stack.ledger.move(item["id"], "rectify", BOSS)
    with pytest.raises(IllegalMove) as err:
        await stack.ledger.move(item["id"], "strike_off", BOSS)
    assert err.value.allowed == ("verify",)
    await stack.ledger.move(item["id"], "verify", BOSS)
    struck = await stack.ledger.move(item["id"], "strike_off", BOSS, "复核通过")
    assert struck["status"] == "struck_off" and struck["struck_off_at"] and struck["verified_by"] == "boss"
    assert struck["overdue"] is False
    again = await stack.ledger.move(item["id"], "reopen", BOSS, "问题复现")
    assert again["status"] == "open" and again["struck_off_at"] is None
    steps = [(e["from_status"], e["to_status"]) for e in again["events"]]
    assert steps == [(None, "open"), (None, None), ("open", "rectifying"), ("rectifying", "verified"),
                     ("verified", "struck_off"), ("struck_off", "open")]
    assert [e["text"] for e in again["events"]][-2:] == ["复核通过", "问题复现"]
    after = dt.datetime(2025, 3, 18, tzinfo=BJ)
    assert (await stack.ledger.get(item["id"], BOSS, now=after))["overdue"] is True
    assert [i["id"] for i in await stack.ledger.list(BOSS, overdue=True, now=after)] == [item["id"]]


async def test_a_specialist_sees_and_rectifies_only_their_departments_items(stack: Stack):
    mine = await stack.directory.save_department({"name": "儿科"})
    other = await stack.directory.save_department({"name": "眼科"})
    a = await stack.ledger.create({"description": "a", "department_id": mine["id"]}, BOSS)
    b = await stack.ledger.create({"description": "b", "department_id": other["id"], "institution": "市二医院"}, BOSS)
    assert [i["id"] for i in await stack.ledger.list(BOSS, institution="市二医院")] == [b["id"]]
    spec = Scope(by="spec", departments=frozenset({mine["id"]}))
    assert [i["id"] for i in await stack.ledger.list(spec)] == [a["id"]]
    with pytest.raises(NotFound):
        await stack.ledger.get(b["id"], spec)
    with pytest.raises(NotFound):
        await stack.ledger.update(b["id"], {"measure": "x"}, spec)
    deadline = dt.datetime(2025, 3, 17, tzinfo=BJ)
    await stack.ledger.update(a["id"], {"measure": "培训", "owner": "李", "deadline": deadline}, spec)
    assert (await stack.ledger.move(a["id"], "rectify", spec))["status"] == "rectifying"
    for move in ("verify", "strike_off", "reopen"):
        with pytest.raises(Forbidden):
            await stack.ledger.move(a["id"], move, spec)
    with pytest.raises(Forbidden):
        await stack.ledger.update(a["id"], {"description": "changed"}, spec)
    with pytest.raises(Forbidden):
        await stack.ledger.classify(a["id"], mine["id"], None, spec)


CATALOGUE = "department,code,item\n门诊部,MZ-01,候诊时间长\n门诊部,MZ-02,挂号难\n药剂科,YJ-01,取药排队\n"


async def test_catalogue_import_is_idempotent_and_classification_checks_the_department(stack: Stack):
    mz = await stack.directory.save_department({"name": "门诊部"})
    yj = await stack.directory.save_department({"name": "药剂科"})
    dry = await stack.ledger.import_catalogue(CATALOGUE.encode("gb18030"), dry_run=True)
    assert dry == {"rows": 3, "created": 3, "updated": 0, "unchanged": 0, "dry_run": True}
    assert await stack.ledger.catalogue() == []
    first = await stack.ledger.import_catalogue(("\ufeff" + CATALOGUE).encode())
    assert first["created"] == 3
    again = await stack.ledger.import_catalogue(CATALOGUE)
    assert again == {"rows": 3, "created": 0, "updated": 0, "unchanged": 3, "dry_run": False}
    renamed = await stack.ledger.import_catalogue(CATALOGUE.replace("挂号难", "挂号难、号源少"))
    assert renamed["updated"] == 1
    entries = {e["code"]: e for e in await stack.ledger.catalogue()}
    assert len(entries) == 3 and entries["MZ-02"]["item"] == "挂号难、号源少"
    item = await stack.ledger.create({"description": "x"}, BOSS)
    with pytest.raises(InvalidData) as err:
        await stack.ledger.classify(item["id"], yj["id"], entries["MZ-01"]["id"], BOSS)
    assert err.value.problems[0]["field"] == "catalogue_id"
    done = await stack.ledger.classify(item["id"], mz["id"], entries["MZ-01"]["id"], BOSS)
    assert done["catalogue"] == {"id": entries["MZ-01"]["id"], "code": "MZ-01", "item": "候诊时间长"}


async def test_a_catalogue_with_bad_rows_is_refused_whole_with_every_problem_by_line(stack: Stack):
    await stack.directory.save_department({"name": "门诊部"})
    bad = ("科室,编码,项目\n"
           "门诊部,MZ-01,候诊时间长\n"  # 2: fine
           "不存在科,XX-01,something\n"  # 3: unknown department
           "门诊部,,无编码\n"  # 4: empty code
           "门诊部,MZ-01,重复\n"  # 5: duplicate of line 2
           f"门诊部,MZ-09,{'长' * 201}\n"  # 6: too long
           "门诊部,MZ-10,bad\x00nul\n")  # 7: NUL
    with pytest.raises(InvalidData) as err:
        await stack.ledger.import_catalogue(bad)
    assert [(p["field"]) for p in err.value.problems] == [
        "line 3: department", "line 4: code", "line 5: code", "line 6: item", "line 7: item"]
    assert "already on line 2" in err.value.problems[2]["problem"]
    assert "not a department" in err.value.problems[0]["problem"]
    assert "201 characters" in err.value.problems[3]["problem"]
    async with stack.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(CatalogueItem)) == 0  # nothing written
    with pytest.raises(InvalidData) as err:
        await stack.ledger.import_catalogue(b"department,code,item\n\xff\xfe\xfa bad bytes\n")
    assert err.value.problems[0]["field"] == "line 2: file"
    with pytest.raises(InvalidData) as err:
        await stack.ledger.import_catalogue("name,code\nx,y\n")
    assert [p["field"] for p in err.value.problems] == ["line 1: department"]
