"""Quality review over HTTP: supervisors list, open and score calls; operators are refused the
supervisors' routes (403) and read only their own reviews; bad reviews answer 400 naming each field;
the report carries each operator's weekly score."""

from __future__ import annotations

import datetime as dt

from aiohttp.test_utils import TestClient

from callcenter import keys
from callcenter.recording.models import Recording
from callcenter.store.db import session_factory
from callcenter.store.models import Ticket, utcnow
from callcenter.workorders.models import WorkOrder
from webtools import login

FULL = {"greeting": 10, "listening": 20, "accuracy": 30, "reply_time": 15, "no_forbidden": 15, "closing": 10}


async def answered(client: TestClient, agent: str, uid: str, *, recorded: bool = True, satisfaction: int | None = None,
                   at: dt.datetime | None = None) -> tuple[int, int | None]:
    """An answered call of ``agent`` with its work order and (when ``recorded``) its recording."""
    at = at or utcnow() - dt.timedelta(minutes=5)
    async with session_factory(client.app[keys.ENGINE])() as session, session.begin():
        ticket = Ticket(node="pbx1", uniqueid=uid, caller_number="13800000000", source="controller",
                        call_status="completed", arrived_at=at, answered_at=at, ended_at=at + dt.timedelta(minutes=1),
                        agent_id=agent, talk_seconds=60.0, details={})
        session.add(ticket)
        await session.flush()
        session.add(WorkOrder(ticket_id=ticket.id, notes="问挂号时间", category="registration", satisfaction=satisfaction))
        rec_id = None
        if recorded:
            row = Recording(ticket_id=ticket.id, node="pbx1", uniqueid=uid, kind="inbound", agent_id=agent,
                            status="complete", path=f"{uid}.wav", started_at=at)
            session.add(row)
            await session.flush()
            rec_id = row.id
        return ticket.id, rec_id


async def _as(client: TestClient, name: str) -> dict[str, str]:
    client.session.cookie_jar.clear()
    return {"X-CSRF-Token": await login(client, name)}


async def test_supervisor_scores_a_call_and_its_operator_reads_it(app_client: TestClient):
    client = app_client
    ticket, recording = await answered(client, "1001", "u1")
    low, _ = await answered(client, "1002", "u2", recorded=False, satisfaction=1)
    boss = await _as(client, "boss")
    week = await (await client.get("/api/quality/calls")).json()
    calls = {c["ticket_id"]: c for c in week["calls"]}
    assert calls[ticket]["reasons"] == ["sample"] and calls[ticket]["recording_id"] == recording
    assert calls[low]["reasons"] == ["low_score"] and calls[low]["recording_id"] is None
    one = await (await client.get(f"/api/quality/calls/{ticket}")).json()
    assert one["ticket"]["notes"] == "问挂号时间" and one["recording_id"] == recording and one["review"] is None
    response = await client.post(f"/api/quality/calls/{ticket}/review", headers=boss,
                                 json={"scores": {**FULL, "reply_time": 0}, "comments": "未告知答复时限"})
    assert response.status == 201, await response.text()
    review = await response.json()
    assert review["total"] == 85.0 and review["reviewer"] == "boss" and review["agent_id"] == "1001"
    again = await client.post(f"/api/quality/calls/{ticket}/review", headers=boss, json={"scores": FULL})
    assert again.status == 200 and (await again.json())["total"] == 100.0
    # the operator who took the call sees it, with the recording they may play
    await _as(client, "op1")
    mine = await (await client.get("/api/quality/reviews")).json()
    assert [(r["ticket_id"], r["total"]) for r in mine["reviews"]] == [(ticket, 100.0)]
    detail = await client.get(f"/api/quality/reviews/{review['id']}")
    assert detail.status == 200 and (await detail.json())["recording_id"] == recording
    form = await (await client.get("/api/quality/form")).json()
    assert [i["key"] for i in form["items"]] == list(FULL) and "我不知道" in form["forbidden_phrases"]
    # another operator: no reviews of theirs, and 403 on op1's
    await _as(client, "op2")
    assert (await (await client.get("/api/quality/reviews")).json())["reviews"] == []
    refused = await client.get(f"/api/quality/reviews/{review['id']}")
    assert refused.status == 403 and (await refused.json())["error"] == "quality.forbidden"
    refused = await client.get("/api/quality/reviews?agent=1001")
    assert refused.status == 403


async def test_operators_are_refused_the_supervisors_routes(app_client: TestClient):
    client = app_client
    ticket, _ = await answered(client, "1001", "u1")
    op = await _as(client, "op1")
    for method, path in (("GET", "/api/quality/calls"), ("GET", f"/api/quality/calls/{ticket}"),
                         ("POST", f"/api/quality/calls/{ticket}/review"), ("GET", "/quality")):
        response = await client.request(method, path, headers=op, json={"scores": FULL} if method == "POST" else None,
                                         allow_redirects=False)
        assert response.status == 403, (method, path, response.status)
    assert (await client.get("/quality/mine")).status == 200


async def test_bad_reviews_answer_400_naming_each_field(app_client: TestClient):
    client = app_client
    ticket, _ = await answered(client, "1001", "u1")
    boss = await _as(client, "boss")
    url = f"/api/quality/calls/{ticket}/review"
    response = await client.post(url, headers=boss, json={"scores": {**FULL, "greeting": 11, "speed": 1}})
    assert response.status == 400
    body = await response.json()
    assert body["error"] == "quality.invalid_review"
    assert {(p["field"], p["problem"]) for p in body["problems"]} == {
        ("scores.speed", "is not an item of the form"), ("scores.greeting", "must be between 0 and 10")}
    response = await client.post(url, headers=boss, json={"scores": {"greeting": "ten"}, "comments": 3})
    assert response.status == 400
    fields = {p["field"] for p in (await response.json())["problems"]}
    assert fields == {"scores.greeting", "comments"}
    response = await client.post(url, headers=boss, json={"scores": {"greeting": 5}})
    problems = (await response.json())["problems"]
    assert response.status == 400 and {"field": "scores.closing", "problem": "is required"} in problems
    assert (await client.get("/api/quality/calls?week=2026-13-01")).status == 400
    missing = await client.post("/api/quality/calls/999999/review", headers=boss, json={"scores": FULL})
    assert missing.status == 404 and (await missing.json())["error"] == "quality_call.not_found"
    assert (await client.get("/api/quality/reviews/999999")).status == 404
    assert (await (await client.get(f"/api/quality/calls/{ticket}")).json())["review"] is None  # nothing saved


async def test_the_report_shows_each_operators_weekly_score(app_client: TestClient):
    client = app_client
    ticket, _ = await answered(client, "1001", "u1")
    boss = await _as(client, "boss")
    await client.post(f"/api/quality/calls/{ticket}/review", headers=boss, json={"scores": {**FULL, "closing": 0}})
    report = await (await client.get("/api/reports?period=week")).json()
    row = next(a for a in report["quality"]["agents"] if a["agent_id"] == "1001")
    assert row["average"] == 90.0 and row["reviews"] == 1 and row["avg_talk"] == 60.0
    assert any(w["average"] == 90.0 for w in row["weeks"])
    csv = await (await client.get("/api/reports.csv?period=week")).text()
    assert any(line.startswith(",1001,1,90.0,") for line in csv.splitlines())
    page = await (await client.get("/reports?period=week")).text()
    assert "id='report-quality'" in page and "90.0 (1)" in page
