"""Outbound list imports on a real store (SQLite, and PostgreSQL when configured), the attempt log, the API."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from harness.postgres import store_url  # noqa: F401  (fixture: SQLite, and PostgreSQL when configured)
from callcenter import keys as app_keys
from callcenter.outbound import http as outbound_http
from callcenter.outbound import plugin as outbound_plugin
from callcenter.outbound.importer import phone_problem
from callcenter.outbound.lists import ListStore
from callcenter.settings import DatabaseSettings, Settings
from callcenter.store import open_database, session_factory
from callcenter.workorders.exceptions import InvalidData

BJ = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2025, 3, 10, 8, 0, tzinfo=BJ)  # Monday morning, before the first window

GOOD = """type,phone,date,name,patient_id,department,language
followup,139-1234-5678,2025-03-05,王小明,ZY0001,呼吸科,
reminder,010 6402 8401,2025/3/11 09:30,李乐乐,MZ0002,儿保科,zh
预约提醒,+86 139 8765 4321,2025-03-12,Tom Smith,MZ0003,眼科,en
"""


@pytest.fixture
async def lists(store_url: str) -> AsyncIterator[ListStore]:
    engine = await open_database(store_url)
    yield ListStore(session_factory(engine), Settings())
    await engine.dispose()


async def test_a_good_list_becomes_tasks_due_on_day_7_and_the_day_before(lists):
    report = await lists.import_csv(GOOD.encode(), name="his-0310.csv", by="sup1", now=NOW)
    assert (report["rows"], report["created"], report["skipped"]) == (3, 3, 0)
    assert report["by_kind"] == {"followup_day7": 1, "appointment_reminder": 2}
    assert report["calls_per_day"] == 60 * 5  # 5 hours of windows at 60 an hour
    tasks = {t["number"]: t for t in await lists.tasks(state="pending")}
    follow, remind, english = tasks["13912345678"], tasks["01064028401"], tasks["13987654321"]
    assert follow["kind"] == "followup_day7" and follow["name"] == "王小明" and follow["list_id"] == report["list_id"]
    # discharged 03-05: called on 03-12 (day 7) or the two grace days, hospital time
    assert dt.datetime.fromisoformat(follow["not_before"]) == dt.datetime(2025, 3, 12, tzinfo=BJ)
    assert dt.datetime.fromisoformat(follow["due_by"]) == dt.datetime(2025, 3, 15, tzinfo=BJ)
    # appointment 03-11: reminded on 03-10 only
    assert dt.datetime.fromisoformat(remind["not_before"]) == dt.datetime(2025, 3, 10, tzinfo=BJ)
    assert dt.datetime.fromisoformat(remind["due_by"]) == dt.datetime(2025, 3, 11, tzinfo=BJ)
    assert remind["details"] == {"date": "2025-03-11", "time": "09:30", "language": "zh", "patient_id": "MZ0002",
                                 "department": "儿保科", "line": 3}
    assert english["details"]["language"] == "en" and english["max_attempts"] == 3
    [batch] = await lists.imports()
    assert (batch["name"], batch["imported_by"], batch["created"]) == ("his-0310.csv", "sup1", 3)


async def test_importing_the_same_export_again_creates_nothing(lists):
    await lists.import_csv(GOOD, now=NOW)
    again = await lists.import_csv(GOOD + "followup,13911112222,2025-03-06,,,,\n", now=NOW)
    assert (again["created"], again["skipped"]) == (1, 3)
    assert [r["line"] for r in again["skipped_rows"]] == [2, 3, 4]
    assert len(await lists.tasks()) == 4


async def test_a_bad_list_is_refused_whole_with_every_problem_by_line(lists):
    bad = """类型,电话,日期,姓名
随访,1391234567,2025-03-05,少一位
提醒,13912345678,2025-02-30,没有这天
reminder,abc,2025-03-11,字母
reminder,13912345678,2025-03-11,甲
reminder,139 1234 5678,2025-03-11,同一人同一天
followup,13912345678,2025-02-20,出院太久
reminder,13912345678,2025-03-10,今天的预约
visit,13912345678,2025-03-11,类型不对
reminder,02112,2025-03-11,区号不全
"""
    with pytest.raises(InvalidData) as err:
        await lists.import_csv(bad, now=NOW)
    problems = {p["field"]: p["problem"] for p in err.value.problems}
    assert set(problems) == {"line 2: phone", "line 3: date", "line 4: phone", "line 6: phone", "line 7: date",
                             "line 8: date", "line 9: type", "line 10: phone"}
    assert "not a mobile number" in problems["line 2: phone"]
    assert "2025-02-30" in problems["line 3: date"]
    assert "same patient, type and date as line 5" in problems["line 6: phone"]
    assert "day 7 and its grace days are over" in problems["line 7: date"]
    assert "the day before it has passed" in problems["line 8: date"]
    assert "landline with area code" in problems["line 10: phone"]
    assert "nothing was imported" in str(err.value)
    assert await lists.tasks() == [] and await lists.imports() == []


async def test_missing_columns_empty_files_and_a_dry_run(lists):
    with pytest.raises(InvalidData) as err:
        await lists.import_csv("name,phone\n张三,13912345678\n", now=NOW)
    assert [p["field"] for p in err.value.problems] == ["line 1: type", "line 1: date"]
    with pytest.raises(InvalidData):
        await lists.import_csv("type,phone,date\n", now=NOW)
    dry = await lists.import_csv(GOOD.encode("gb18030"), now=NOW, dry_run=True)  # Chinese Excel's encoding
    assert dry["created"] == 3 and dry["list_id"] is None and dry["dry_run"] is True
    with pytest.raises(InvalidData) as err:
        await lists.import_csv(GOOD.encode() + b"reminder,\xff\n", now=NOW, dry_run=True)
    assert err.value.problems == [{"field": "line 5: file", "problem": "is not text (UTF-8 or GB18030 CSV): byte 0xff"}]
    assert await lists.tasks() == []


def test_phone_numbers():
    assert phone_problem("139-1234-5678") == ("13912345678", None)
    assert phone_problem("+86 10 6402 8401") == ("01064028401", None)
    assert phone_problem("6402 8401") == ("64028401", None)  # local landline
    assert phone_problem("2005") == ("2005", None)  # the hospital's own extension
    for odd in ("1391234567", "139123456789", "0101", "12345", "139-1234-567x", "", "00000000"):
        assert phone_problem(odd)[1] is not None, odd


async def test_attempts_are_logged_and_bounded(lists):
    await lists.import_csv("type,phone,date\nreminder,13912345678,2025-03-11\n", now=NOW)
    [task] = (await lists.pending(["appointment_reminder"])).values()
    t = NOW + dt.timedelta(hours=2)
    results = []
    for n, outcome in enumerate(("no_answer", "busy", "no_answer")):
        attempt = await lists.start_attempt(task, t)
        step = await lists.finish_attempt(attempt, outcome, t + dt.timedelta(seconds=30), {"reason": outcome})
        results.append((step.state, step.not_before))
        t += dt.timedelta(hours=1)
    assert results[0] == ("pending", NOW + dt.timedelta(hours=2, seconds=30, minutes=60))
    assert results[1][0] == "pending" and results[2] == ("failed", None)
    detail = await lists.task(task.id)
    assert detail["state"] == "failed" and detail["attempts"] == 3 and detail["result"] == "no_answer"
    assert [a["result"] for a in detail["attempt_log"]] == ["no_answer", "busy", "no_answer"]
    assert len(await lists.recent_starts(NOW)) == 3
    assert [a["result"] for a in await lists.attempts(result="busy")] == ["busy"]


async def test_an_interrupted_attempt_counts_and_expired_tasks_fail(lists):
    await lists.import_csv("type,phone,date\nreminder,13912345678,2025-03-11\nfollowup,13911112222,2025-03-04\n", now=NOW)
    pending = await lists.pending(["appointment_reminder", "followup_day7"])
    reminder = next(t for t in pending.values() if t.kind == "appointment_reminder")
    await lists.start_attempt(reminder, NOW)
    assert await lists.recover(NOW) == 1
    detail = await lists.task(reminder.id)
    assert detail["attempts"] == 1 and detail["attempt_log"][0]["result"] == "interrupted"
    assert detail["state"] == "pending"
    await lists.expire([reminder.id], NOW)
    assert (await lists.task(reminder.id))["result"] == "expired"


# -- the API ------------------------------------------------------------------------------------------


@pytest.fixture
async def client(store_url: str, tmp_path: Path) -> AsyncIterator[TestClient]:
    settings = dataclasses.replace(Settings(), state_dir=str(tmp_path), database=DatabaseSettings(url=store_url))

    async def store(app: web.Application) -> AsyncIterator[None]:
        engine = await open_database(store_url)
        app[app_keys.ENGINE] = engine
        yield
        await engine.dispose()

    app = web.Application()
    app[app_keys.SETTINGS] = settings
    app.cleanup_ctx.extend([store, outbound_plugin.open_list_store])  # no Asterisk: import and read only
    outbound_http.add_routes(app)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def test_api_import_list_and_read(client):
    day = (dt.datetime.now(BJ) + dt.timedelta(days=2)).date().isoformat()
    body = f"type,phone,date,name\nreminder,13912345678,{day},张三\nreminder,139,{day},李四\n"
    r = await client.post("/api/outbound/import", data=body.encode(), headers={"Content-Type": "text/csv"})
    err = await r.json()
    assert r.status == 400 and err["error"] == "outbound.invalid_list"
    assert err["problems"] == [{"field": "line 3: phone", "problem": "'139' is not a mobile number (11 digits, 13x-19x)"}]

    r = await client.post("/api/outbound/import", params={"name": "明日预约"}, data=body.splitlines(True)[0] + body.splitlines(True)[1],
                          headers={"Content-Type": "text/csv"})
    report = await r.json()
    assert r.status == 201 and report["created"] == 1
    r = await client.get("/api/outbound/tasks", params={"kind": "appointment_reminder", "state": "pending"})
    [task] = (await r.json())["tasks"]
    assert task["name"] == "张三" and task["list_id"] == report["list_id"]
    r = await client.get(f"/api/outbound/tasks/{task['id']}")
    assert (await r.json())["attempt_log"] == []
    assert (await (await client.get("/api/outbound/lists")).json())["lists"][0]["name"] == "明日预约"
    r = await client.get("/api/outbound/tasks", params={"state": "sleeping"})
    assert r.status == 400 and (await r.json())["problems"][0]["field"] == "state"
    r = await client.post(f"/api/outbound/tasks/{task['id']}/cancel", json={"reason": "家长已改约"})
    assert r.status == 200 and (await r.json())["state"] == "cancelled"
    r = await client.post(f"/api/outbound/tasks/{task['id']}/cancel")
    assert r.status == 409
    assert (await client.get("/api/outbound/tasks/999")).status == 404
    assert (await (await client.get("/api/outbound/attempts")).json()) == {"attempts": []}


def test_imports_and_cancelling_need_a_supervisor():
    roles = {(route.method, route.path): route.role for route in outbound_http.ROUTES}
    assert roles[("POST", "/api/outbound/import")] == "supervisor"
    assert roles[("POST", "/api/outbound/tasks/{id}/cancel")] == "supervisor"
    app = web.Application()
    outbound_http.add_routes(app)
    marked = {(r.method, r.resource.canonical): getattr(r.handler, "min_role", None) for r in app.router.routes()}
    assert marked[("POST", "/api/outbound/import")] == "supervisor"  # what the access middleware reads
    assert marked[("GET", "/api/outbound/tasks")] == "operator"  # any logged-in user, declared
