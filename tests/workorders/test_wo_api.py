"""The HTTP JSON API over a real store: the operator page's calls, validation errors, OpenAPI."""

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
from callcenter.settings import DatabaseSettings, Settings
from callcenter.store import open_database, session_factory
from callcenter.tickets import TicketService
from callcenter.kb import http as kb_http
from callcenter.kb import keys as kb_keys
from callcenter.kb import plugin as kb_plugin
from callcenter.workorders import http as workorders_http
from callcenter.workorders import plugin, schemas

BJ = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
async def client(store_url: str, tmp_path: Path) -> AsyncIterator[TestClient]:
    settings = dataclasses.replace(Settings(), node="pbx1", state_dir=str(tmp_path),
                                   database=DatabaseSettings(url=store_url))

    async def store(app: web.Application) -> AsyncIterator[None]:
        engine = await open_database(store_url)
        tickets = TicketService(session_factory(engine), "pbx1", spill_dir=tmp_path / "spill")
        await tickets.start()
        app[app_keys.ENGINE], app[app_keys.TICKETS] = engine, tickets
        yield
        await tickets.close()
        await engine.dispose()

    app = web.Application()
    app[app_keys.SETTINGS] = settings
    app.cleanup_ctx.extend([store, plugin.open_workorders, kb_plugin.open_kb])  # no AMI here: outbound calls answer 503
    workorders_http.add_routes(app)
    kb_http.add_routes(app)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def a_call(client: TestClient, uid: str, number: str, answered: bool = True) -> int:
    tickets = client.server.app[app_keys.TICKETS]
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
    tid = await tickets.open_for_arrival(uid, number, "", "PJSIP/x", now)
    if answered:
        await tickets.mark_answered(uid, "1001", now + dt.timedelta(seconds=3))
        await tickets.mark_ended(uid, now + dt.timedelta(seconds=90), "agent")
    else:
        await tickets.mark_ended(uid, now + dt.timedelta(seconds=20), "caller")
    return tid


async def test_operator_page_flow(client):
    tid = await a_call(client, "a1", "13800000001")
    r = await client.get("/api/tickets", params={"caller": "138-0000-0001"})
    assert r.status == 200
    [row] = (await r.json())["tickets"]
    assert row["id"] == tid and row["status"] == "new" and row["needs_promise"] is True
    assert "in_progress" in row["allowed_status"]

    # An unsolved ended call without a promise: 422 that names the field.
    r = await client.patch(f"/api/tickets/{tid}", json={"status": "in_progress", "category": "reports"})
    body = await r.json()
    assert r.status == 422 and body["error"] == "ticket.promise_required"
    assert body["problems"] == [{"field": "promised_reply_at", "problem": "is required"}]

    promise = dt.datetime.now(BJ).replace(microsecond=0) + dt.timedelta(days=1)
    r = await client.patch(f"/api/tickets/{tid}", json={
        "status": "in_progress", "category": "reports", "priority": "high", "notes": "报告查不到",
        "promised_reply_at": promise.isoformat()})
    t = await r.json()
    assert r.status == 200, t
    assert (t["status"], t["category"], t["priority"], t["notes"]) == ("in_progress", "reports", "high", "报告查不到")
    assert dt.datetime.fromisoformat(t["promised_reply_at"]) == promise

    # Illegal move: 409 with what is allowed.
    r = await client.patch(f"/api/tickets/{tid}", json={"status": "closed", "close_reason": "satisfied"})
    body = await r.json()
    assert r.status == 409 and body["error"] == "ticket.illegal_move" and body["status"] == "in_progress"
    assert set(body["allowed"]) == {"escalated", "solved", "closed"} or "solved" in body["allowed"]

    r = await client.post(f"/api/tickets/{tid}/notes", json={"text": "已联系检验科"})
    assert r.status == 201
    r = await client.post("/api/departments", json={"name": "检验科", "office_phone": "010-1234"})
    dep = await r.json()
    r = await client.post(f"/api/tickets/{tid}/escalate", json={"department_id": dep["id"], "call": False})
    assert r.status == 200 and (await r.json())["ticket"]["status"] == "escalated"
    r = await client.post(f"/api/tickets/{tid}/callback", json={"agent_id": "1001"})
    assert r.status == 503  # no Asterisk in this test

    await client.patch(f"/api/tickets/{tid}", json={"status": "solved"})
    r = await client.post(f"/api/tickets/{tid}/survey", json={"score": 5})
    t = await r.json()
    assert t["status"] == "closed" and t["satisfaction"] == 5
    kinds = [c["kind"] for c in t["contacts"]]
    assert kinds[0] == "inbound" and "note" in kinds and "survey" in kinds


@pytest.mark.parametrize(
    ("body", "field", "problem"),
    [
        ({"priority": "asap"}, "priority", "must be one of low, normal, high or urgent"),
        ({"promised_reply_at": "tomorrow"}, "promised_reply_at", "not an ISO datetime"),
        ({"promised_reply_at": "2025-03-10T17:00:00"}, "promised_reply_at", "not an ISO datetime with offset"),
        ({"colour": "red"}, "colour", "is not a known field"),
        ({"notes": 5}, "notes", "must be string, not integer"),
        ({}, "body", "give at least one of"),
        ({"status": "done"}, "status", "must be one of new, in_progress"),
    ],
)
async def test_validation_errors_say_what_is_wrong(client, body, field, problem):
    tid = await a_call(client, f"v-{field}", "13800000002")
    r = await client.patch(f"/api/tickets/{tid}", json=body)
    answer = await r.json()
    assert r.status == 400 and answer["error"] == "request.invalid"
    assert any(p["field"] == field and problem in p["problem"] for p in answer["problems"]), answer
    assert field in answer["message"]


async def test_bad_json_unknown_ids_and_query_parameters(client):
    r = await client.patch("/api/tickets/1", data="{not json", headers={"Content-Type": "application/json"})
    assert r.status == 400 and (await r.json())["problems"][0]["problem"] == "is not valid JSON"
    r = await client.get("/api/tickets/99999")
    assert r.status == 404 and (await r.json())["error"] == "ticket.not_found"
    r = await client.get("/api/tickets", params={"limit": "lots", "colour": "x"})
    fields = [p["field"] for p in (await r.json())["problems"]]
    assert r.status == 400 and fields == ["colour", "limit"]
    r = await client.get("/api/kb/search")
    assert r.status == 400 and (await r.json())["problems"] == [{"field": "q", "problem": "is required"}]


async def test_abandoned_call_is_listed_as_a_callback_task(client):
    tid = await a_call(client, "ab1", "13800000003", answered=False)
    r = await client.get("/api/callbacks")
    [task] = (await r.json())["tasks"]
    assert task["ticket_id"] == tid and task["kind"] == "abandoned" and task["number"] == "13800000003"


async def test_kb_search_edit_and_csv(client):
    r = await client.get("/api/kb/search", params={"q": "发烧 退烧药"})
    result = await r.json()
    assert r.status == 200 and result["results"]
    first = result["results"][0]
    assert "<mark>" in first["question_html"] + first["snippet_html"]
    r = await client.post("/api/kb/entries", json={"question": "医院有几个停车场？", "answer": "两个。", "keywords": "停车"})
    entry = await r.json()
    assert r.status == 201
    r = await client.patch(f"/api/kb/entries/{entry['id']}", json={"answer": "院内一个，周边两个公共停车场。"})
    assert r.status == 200
    r = await client.get(f"/api/kb/entries/{entry['id']}/history")
    assert [h["action"] for h in (await r.json())["history"]] == ["create", "update"]
    r = await client.post("/api/kb/entries", json={"question": "", "answer": "x", "extra": 1})
    problems = (await r.json())["problems"]
    assert r.status == 400 and {p["field"] for p in problems} == {"question", "extra"}
    r = await client.get("/api/kb/export.csv")
    text = await r.text()
    assert r.status == 200 and text.startswith("\ufeffid,question,answer") and "院内一个" in text
    r = await client.post("/api/kb/import", data=text.encode("utf-8"), headers={"Content-Type": "text/csv"})
    report = await r.json()
    assert r.status == 200 and report["created"] == 0 and report["updated"] == 0


async def test_12345_import_over_http(client):
    csv_text = ("order_no,caller_number,caller_name,received_at,deadline,content\n"
                "BJ001,13900000000,李先生,2025-03-10T09:00:00+08:00,2025-03-12T17:00:00+08:00,反映停车难\n")
    r = await client.post("/api/tickets/import", data=csv_text.encode(), headers={"Content-Type": "text/csv"})
    report = await r.json()
    assert r.status == 201 and report["created"] == 1
    r = await client.get(f"/api/tickets/{report['ticket_ids'][0]}")
    t = await r.json()
    assert t["category"] == "hotline_12345" and t["external_ref"] == "BJ001" and t["source"] == "12345"


async def test_openapi_document_describes_every_route(client):
    r = await client.get("/api/workorders/openapi.json")
    doc = await r.json()
    assert r.status == 200 and doc["openapi"].startswith("3.")
    for route in workorders_http.ROUTES + kb_http.ROUTES:
        assert route.method.lower() in doc["paths"][route.path]
    patch = doc["paths"]["/api/tickets/{id}"]["patch"]
    assert patch["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/TicketPatch"}
    assert doc["components"]["schemas"]["TicketPatch"] == schemas.TicketPatch.model_json_schema(
        ref_template="#/components/schemas/{model}")
    assert {"200", "400", "404", "409", "422"} <= set(patch["responses"])
    search = doc["paths"]["/api/kb/search"]["get"]
    assert [p["name"] for p in search["parameters"]] == ["q", "category", "department", "limit"]
    assert kb_keys.KB in client.server.app
