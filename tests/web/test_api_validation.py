"""The validation layer over the whole app: each input the fuzzer broke, answered 4xx (or served), never 500.

One test per cause from the fuzzing report (issue 12), each failing on the code before the layer:
a second scheduled callback, ids beyond the database's keys, non-ASCII digits in a path, a NUL in a search,
a broken JSON body, empty filters and import bodies, promised replies far in the past or future;
then the last resort (an unexpected exception is a logged 500 with an error id) and the document
(every JSON route described, with the statuses it answers).
"""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError
from structlog.testing import capture_logs
from webtools import component_settings, login

from callcenter import keys
from callcenter import settings as cc_settings
from callcenter.web import api
from callcenter.web.openapi import document
from callcenter.workorders import keys as wo_keys
from callcenter.workorders.schemas import TicketPatch
from callcenter.workorders.service import Change

BJ = dt.timezone(dt.timedelta(hours=8))
TOO_BIG = str(2**63)  # beyond SQLite's integers
BEYOND_PG = str(2**31)  # beyond PostgreSQL's integer keys


async def a_call(client, uid: str = "v.1", agent: str = "1001") -> int:
    """A ticket whose call rang (and was answered at) ``agent``'s phone and has ended."""
    tickets = client.server.app[keys.TICKETS]
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
    tid = await tickets.open_for_arrival(uid, "13800000001", "", "PJSIP/x", now)
    await tickets.mark_answered(uid, agent, now + dt.timedelta(seconds=3))
    await tickets.mark_ended(uid, now + dt.timedelta(seconds=60), "agent")
    await tickets.flush(timeout=5)
    return tid


def soon(**delta: float) -> str:
    return (dt.datetime.now(BJ).replace(microsecond=0) + dt.timedelta(**delta)).isoformat()


async def test_a_ticket_takes_several_scheduled_callbacks_and_the_same_time_twice_is_409(app_client):
    csrf = await login(app_client, "op1")
    tid = await a_call(app_client)
    h = {"X-CSRF-Token": csrf}
    first = await app_client.post(f"/api/tickets/{tid}/callback", json={"at": soon(days=1)}, headers=h)
    second = await app_client.post(f"/api/tickets/{tid}/callback", json={"at": soon(days=1, hours=1)}, headers=h)
    assert (first.status, second.status) == (201, 201), await second.text()
    again = await app_client.post(f"/api/tickets/{tid}/callback", json={"at": soon(days=1)}, headers=h)
    assert again.status in (201, 409)  # the same minute twice: a duplicate click is refused, not a 500
    ticket = await (await app_client.get(f"/api/tickets/{tid}")).json()
    assert len([t for t in ticket["tasks"] if t["kind"] == "callback" and t["state"] == "pending"]) >= 2


@pytest.mark.parametrize("path", [f"/api/tickets/{TOO_BIG}", f"/api/kb/entries/{TOO_BIG}",
                                  f"/api/kb/entries/{TOO_BIG}/history", f"/api/outbound/tasks/{TOO_BIG}",
                                  f"/api/recordings/{TOO_BIG}", f"/api/tickets/{'9' * 40}",
                                  f"/api/tickets/{BEYOND_PG}", f"/api/kb/entries/{BEYOND_PG}"])
async def test_ids_beyond_the_database_are_unknown(app_client, path):
    await login(app_client, "boss")
    r = await app_client.get(path)
    assert r.status == 404 and (await r.json())["error"].endswith("not_found")


async def test_ids_beyond_the_database_in_changes_and_bodies(app_client):
    csrf = await login(app_client, "boss")
    h = {"X-CSRF-Token": csrf}
    tid = await a_call(app_client)
    r = await app_client.patch(f"/api/departments/{TOO_BIG}", json={"name": "x"}, headers=h)
    assert r.status == 404
    r = await app_client.post(f"/api/tickets/{TOO_BIG}/survey", json={"score": 5}, headers=h)
    assert r.status == 404
    r = await app_client.patch(f"/api/tickets/{tid}", json={"department_id": int(TOO_BIG)}, headers=h)
    body = await r.json()
    assert r.status == 400 and body["problems"][0]["field"] == "department_id"
    r = await app_client.get("/api/kb/suggestions", params={"ticket_id": TOO_BIG})
    assert r.status == 400


@pytest.mark.parametrize("raw", ["²", "１", "1²", "٣", "-1", "1.0", "0x1"])
async def test_path_ids_are_ascii_digits(app_client, raw):
    await login(app_client, "boss")
    await a_call(app_client)
    r = await app_client.get(f"/api/tickets/{raw}")
    assert r.status in (400, 404) and (await r.json())["error"]  # never ticket 1, never a 500


async def test_a_nul_in_a_search_is_a_separator(app_client):
    await login(app_client, "op1")
    r = await app_client.get("/api/kb/search?q=abc%00")
    assert r.status == 200 and (await r.json())["terms"] == ["abc"]
    r = await app_client.get("/api/kb/search?q=%E5%8F%91%E7%83%A7%00%01%22")
    assert r.status == 200


async def test_a_broken_json_body_is_400(app_client):
    csrf = await login(app_client, "boss")
    h = {"X-CSRF-Token": csrf, "Content-Type": "application/json"}
    r = await app_client.post("/api/outbound/tasks/1/cancel", data="{", headers=h)
    body = await r.json()
    assert r.status == 400 and body["error"] == "request.invalid"
    assert body["problems"] == [{"field": "body", "problem": "is not valid JSON"}]
    r = await app_client.post("/api/outbound/tasks/1/cancel", headers={"X-CSRF-Token": csrf})
    assert r.status == 404  # no body at all is fine: then no such task


async def test_empty_filters_and_empty_imports_are_refused(app_client):
    csrf = await login(app_client, "boss")
    h = {"X-CSRF-Token": csrf, "Content-Type": "text/csv"}
    r = await app_client.get("/api/tickets?status=")
    assert r.status == 400 and (await r.json())["problems"][0]["field"].startswith("status")
    assert (await app_client.get("/api/tickets?status=new,open")).status == 400
    assert (await app_client.get("/api/tickets?status=new,in_progress")).status == 200
    for path in ("/api/tickets/import", "/api/kb/import", "/api/outbound/import"):
        r = await app_client.post(path, data=b"", headers=h)
        assert r.status == 400, path
        assert (await r.json())["problems"][0]["field"] == "body"


async def test_imported_dates_far_in_the_past_or_future_are_refused(app_client):
    csrf = await login(app_client, "boss")
    h = {"X-CSRF-Token": csrf, "Content-Type": "text/csv"}
    orders = "order_no,caller_number,received_at,deadline,content\nBJ1,13900000000,,0001-01-01T00:00:00,停车难\n"
    r = await app_client.post("/api/tickets/import", data=orders.encode(), headers=h)
    assert r.status == 400 and "deadline" in (await r.json())["problems"][0]["field"]
    for day in ("9999-12-31", "0001-01-01"):
        r = await app_client.post("/api/outbound/import", data=f"type,phone,date\nfollowup,13800000000,{day}\n".encode(),
                                  headers=h)
        assert r.status == 400 and "date" in (await r.json())["problems"][0]["field"], day


async def test_a_body_beyond_a_mebibyte_is_413_json(app_client):
    csrf = await login(app_client, "boss")
    r = await app_client.post("/api/kb/import", data=b"x" * (2 << 20), headers={"X-CSRF-Token": csrf,
                                                                               "Content-Type": "text/csv"})
    assert r.status == 413 and (await r.json())["error"] == "request.too_large"


async def test_a_promised_reply_lies_between_now_and_a_year_ahead(app_client):
    csrf = await login(app_client, "op1")
    h = {"X-CSRF-Token": csrf}
    tid = await a_call(app_client)
    for bad in ("0143-03-10T17:00:00+08:00", soon(days=-2), soon(days=400), "2025-03-10T17:00:00"):
        r = await app_client.patch(f"/api/tickets/{tid}", json={"promised_reply_at": bad}, headers=h)
        body = await r.json()
        assert r.status == 400 and body["problems"][0]["field"] == "promised_reply_at", (bad, body)
        r = await app_client.post(f"/api/tickets/{tid}/callback", json={"at": bad}, headers=h)
        assert r.status == 400, bad
    promise = soon(days=2)
    r = await app_client.patch(f"/api/tickets/{tid}", json={"promised_reply_at": promise}, headers=h)
    assert r.status == 200
    # The desk sends the ticket's promise with every save: once it is overdue it is still accepted.
    late = soon(days=-3)
    await app_client.server.app[wo_keys.WORKORDERS].update(
        tid, Change({"promised_reply_at": dt.datetime.fromisoformat(late)}, None, None), "test")
    r = await app_client.patch(f"/api/tickets/{tid}", json={"promised_reply_at": late, "notes": "再次联系"}, headers=h)
    assert r.status == 200, await r.text()


def test_the_promise_range_is_a_setting(tmp_path):
    assert component_settings(tmp_path).workorders.promise_max_days == 365
    path = tmp_path / "short.toml"
    path.write_text("[workorders]\npromise_max_days = 7\n", encoding="utf-8")
    assert cc_settings.load(path, env={}).workorders.promise_max_days == 7
    now = dt.datetime.now(dt.UTC)
    context = {"now": now, "promise_days": 7}
    ahead = (now + dt.timedelta(days=10)).isoformat()
    with pytest.raises(ValidationError, match="within 7 days"):
        TicketPatch.model_validate_json(f'{{"promised_reply_at": "{ahead}"}}', context=context)
    assert TicketPatch.model_validate_json(f'{{"promised_reply_at": "{ahead}"}}', context={"now": now})


async def test_an_unexpected_exception_is_a_logged_500_with_an_error_id(app_client):
    await login(app_client, "boss")

    async def broken(*args, **kwargs):
        raise RuntimeError("secret detail /etc/hotline.toml")

    service = app_client.server.app[wo_keys.WORKORDERS]
    original = service.list
    service.list = broken
    try:
        with capture_logs() as logs:
            r = await app_client.get("/api/tickets")
            text = await r.text()
    finally:
        service.list = original
    body = await r.json(content_type=None)
    assert r.status == 500 and body["error"] == "server.error" and body["error_id"]
    assert "secret" not in text and "Traceback" not in text
    [event] = [e for e in logs if e["event"] == "web.unhandled"]
    assert event["error_id"] == body["error_id"] and event["path"] == "/api/tickets"
    assert (await app_client.get("/api/tickets")).status == 200  # and the engine keeps serving


async def test_unknown_api_paths_and_methods_answer_json(app_client):
    await login(app_client, "boss")
    r = await app_client.get("/api/no/such/thing")
    assert r.status == 404 and (await r.json())["error"] == "request.not_found"
    r = await app_client.delete("/api/tickets", headers={"X-CSRF-Token": "x"})
    assert r.status in (403, 405) and (await r.json())["error"]


async def test_the_document_describes_every_json_route_with_its_statuses(app_client):
    await login(app_client, "op1")
    doc = await (await app_client.get("/api/openapi.json")).json()
    assert doc == await (await app_client.get("/api/workorders/openapi.json")).json()
    app = app_client.server.app
    served = {(r.method, r.resource.canonical) for r in app.router.routes()
              if r.method != "HEAD" and r.resource is not None and r.resource.canonical.startswith("/api/")}
    described = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    assert served == described
    for tag in ("tickets", "knowledge base", "departments", "callbacks", "outbound lists", "operator desk",
                "recordings", "IVR schedule", "supervisor", "rota", "accounts", "reports"):
        assert any(tag in op["tags"] for ops in doc["paths"].values() for op in ops.values()), tag
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert {"401", "403"} <= set(op["responses"]), (method, path)
            if "{" in path:
                assert "404" in op["responses"], (method, path)
            if op.get("parameters") or op.get("requestBody"):
                assert "400" in op["responses"], (method, path)
            if op.get("requestBody"):
                assert "413" in op["responses"], (method, path)
    callback = doc["paths"]["/api/tickets/{id}/callback"]["post"]["responses"]
    assert {"201", "202", "409", "503"} <= set(callback)
    ticket_id = doc["paths"]["/api/tickets/{id}"]["get"]["parameters"][0]["schema"]
    assert ticket_id == {"type": "integer", "minimum": 1, "maximum": 2**31 - 1} and api.ID_MAX == 2**31 - 1
    status = next(p for p in doc["paths"]["/api/tickets"]["get"]["parameters"] if p["name"] == "status")
    assert status["schema"]["minItems"] == 1
    assert doc == document(app[api.ROUTES])


async def test_a_locked_database_answers_503_with_a_clear_error_and_loses_nothing(app_client):
    """SQLite locked past its busy timeout by another process: 503 database.unavailable, not a 500; then it works."""
    import sqlite3
    import time

    h = {"X-CSRF-Token": await login(app_client, "boss")}
    path = app_client.server.app[keys.SETTINGS].database_url.split("///", 1)[1]
    entry = {"question": "锁住时能新建吗", "answer": "不能，稍后再试", "category": "other"}
    holder = sqlite3.connect(path, timeout=1, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        with capture_logs() as logs:
            r = await app_client.post("/api/kb/entries", json=entry, headers=h)
        body = await r.json(content_type=None)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert r.status == 503 and body["error"] == "database.unavailable" and r.headers["Retry-After"] == "2"
    assert time.monotonic() - started < 30
    assert [e for e in logs if e["event"] == "web.database_unavailable"] and not [e for e in logs if e["event"] == "web.unhandled"]
    again = await app_client.post("/api/kb/entries", json=entry, headers=h)  # the lock gone, the same request lands
    assert again.status == 201, await again.text()
