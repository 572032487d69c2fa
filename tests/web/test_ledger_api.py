"""The ledger's HTTP API in the whole app: roles (operators refused, specialists narrowed to their
departments), CSRF, items appearing from a complaint ticket, the catalogue import, bad input 400."""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy import func, select

from callcenter import keys as app_keys
from callcenter.ledger.models import CatalogueItem
from callcenter.store import session_factory
from callcenter.web import keys as web_keys
from callcenter.workorders.models import UserDepartment
from webtools import PASSWORD, app_client, login  # noqa: F401  (fixture)

PROMISE = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
DEADLINE = "2030-01-31T17:00:00+08:00"
CALLERS = itertools.count(1)


async def departments(client, csrf: str, *names: str) -> list[int]:
    ids = []
    for name in names:
        response = await client.post("/api/departments", json={"name": name}, headers={"X-CSRF-Token": csrf})
        assert response.status == 201, await response.text()
        ids.append((await response.json())["id"])
    return ids


async def specialist(app, name: str, department_id: int) -> None:
    user = await app[web_keys.ACCOUNTS].create(name, PASSWORD, "specialist")
    async with session_factory(app[app_keys.ENGINE])() as session, session.begin():
        session.add(UserDepartment(user_id=user.id, department_id=department_id))


async def complaint(app, client, csrf: str, uid: str, department_id: int | None, notes: str) -> int:
    tickets = app[app_keys.TICKETS]
    at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    number = f"1380013{next(CALLERS):04d}"  # each its own caller (a repeat caller's call is merged)
    ticket_id = await tickets.open_for_arrival(uid, number, "家长", "PJSIP/trunk-1", at)
    await tickets.mark_ended(uid, at + dt.timedelta(seconds=30), "caller")
    body = {"category": "complaint", "notes": notes, "promised_reply_at": PROMISE}
    if department_id:
        body["department_id"] = department_id
    response = await client.patch(f"/api/tickets/{ticket_id}", json=body, headers={"X-CSRF-Token": csrf})
    assert response.status == 200, await response.text()
    return ticket_id


async def test_a_complaint_becomes_an_item_the_supervisor_takes_to_struck_off(app_client):
    app = app_client.server.app
    csrf = await login(app_client, "boss")
    headers = {"X-CSRF-Token": csrf}
    [mz] = await departments(app_client, csrf, "门诊部")
    ticket_id = await complaint(app, app_client, csrf, "api-1", mz, "候诊太久")
    items = (await (await app_client.get("/api/ledger/items?source=complaint")).json())["items"]
    assert [(i["ticket_id"], i["department"], i["status"]) for i in items] == [(ticket_id, "门诊部", "open")]
    item_id = items[0]["id"]
    url = f"/api/ledger/items/{item_id}"
    response = await app_client.post(f"{url}/rectify", headers=headers)
    assert response.status == 409
    body = await response.json()
    assert body["error"] == "ledger.illegal_move" and {p["field"] for p in body["problems"]} == {"measure", "owner", "deadline"}
    response = await app_client.patch(url, json={"measure": "增加叫号屏", "owner": "王主任", "deadline": DEADLINE}, headers=headers)
    assert response.status == 200, await response.text()
    for move, status in (("rectify", "rectifying"), ("verify", "verified"), ("strike-off", "struck_off")):
        response = await app_client.post(f"{url}/{move}", json={"text": move}, headers=headers)
        assert response.status == 200 and (await response.json())["status"] == status, await response.text()
    response = await app_client.post(f"{url}/strike-off", headers=headers)  # already struck off
    assert response.status == 409 and (await response.json())["allowed"] == ["reopen"]
    response = await app_client.post(f"{url}/reopen", json={"text": "again"}, headers=headers)
    detail = await response.json()
    assert detail["status"] == "open" and len(detail["events"]) == 6
    assert (await app_client.get("/api/ledger/items?status=struck_off")).status == 200
    response = await app_client.post(f"{url}/verify")  # no CSRF token
    assert response.status == 403 and (await response.json())["error"] == "web.csrf"


async def test_operators_are_refused_and_specialists_see_only_their_departments(app_client):
    app = app_client.server.app
    csrf = await login(app_client, "boss")
    mine, other = await departments(app_client, csrf, "儿科", "眼科")
    a = await complaint(app, app_client, csrf, "api-a", mine, "a")
    await complaint(app, app_client, csrf, "api-b", other, "b")
    items = {i["ticket_id"]: i["id"] for i in (await (await app_client.get("/api/ledger/items")).json())["items"]}
    await specialist(app, "spec1", mine)

    await app_client.post("/logout", data={"csrf_token": csrf})
    await login(app_client, "op1")
    for path in ("/api/ledger/items", f"/api/ledger/items/{items[a]}"):
        response = await app_client.get(path)
        assert response.status == 403, path
    assert (await app_client.get("/ledger", allow_redirects=False)).status == 403

    await app_client.post("/logout", data={"csrf_token": csrf})
    csrf = await login(app_client, "spec1")
    headers = {"X-CSRF-Token": csrf}
    assert (await app_client.get("/ledger")).status == 200
    seen = (await (await app_client.get("/api/ledger/items")).json())["items"]
    assert [i["ticket_id"] for i in seen] == [a]
    theirs = [i for t, i in items.items() if t != a][0]
    assert (await app_client.get(f"/api/ledger/items/{theirs}")).status == 404
    url = f"/api/ledger/items/{items[a]}"
    response = await app_client.patch(url, json={"measure": "培训", "owner": "李", "deadline": DEADLINE}, headers=headers)
    assert response.status == 200, await response.text()
    assert (await app_client.post(f"{url}/rectify", headers=headers)).status == 200
    for move in ("verify", "strike-off", "reopen", "classify"):
        response = await app_client.post(f"{url}/{move}", json={}, headers=headers)
        assert response.status == 403, move
    response = await app_client.patch(url, json={"description": "改写"}, headers=headers)
    assert response.status == 403 and (await response.json())["error"] == "ledger.forbidden"


async def test_bad_input_is_400_with_problems_never_500(app_client):
    csrf = await login(app_client, "boss")
    headers = {"X-CSRF-Token": csrf}
    item = await (await app_client.post("/api/ledger/items", json={"description": "<script>x</script>"}, headers=headers)).json()
    url = f"/api/ledger/items/{item['id']}"
    cases = [
        ("GET", "/api/ledger/items?status=closed", None),
        ("GET", "/api/ledger/items?department_id=abc", None),
        ("GET", "/api/ledger/items/abc", None),
        ("PATCH", url, {"deadline": "2030-01-31T17:00:00"}),  # no offset
        ("PATCH", url, {"owner": "a\x00b"}),
        ("PATCH", url, {"colour": "red"}),
        ("PATCH", url, {}),
        ("PATCH", url, {"measure": "m" * 4001}),
        ("POST", "/api/ledger/items", {"description": ""}),
        ("POST", f"{url}/classify", {"catalogue_id": 1}),
        ("POST", f"{url}/verify", {"text": 5}),
    ]
    for method, path, body in cases:
        response = await app_client.request(method, path, json=body, headers=headers)
        assert response.status == 400, (method, path, body, await response.text())
        answer = await response.json()
        assert answer["error"] == "request.invalid" and answer["problems"], (path, answer)
    assert (await app_client.get("/api/ledger/items/99999")).status == 404
    response = await app_client.post(f"{url}/classify", json={"department_id": 99999}, headers=headers)
    assert response.status == 404


async def test_the_catalogue_import_refuses_a_file_with_bad_rows_whole(app_client):
    app = app_client.server.app
    csrf = await login(app_client, "boss")
    headers = {"X-CSRF-Token": csrf, "Content-Type": "text/csv"}
    await departments(app_client, csrf, "门诊部")
    bad = "科室,编码,项目\n门诊部,MZ-01,候诊\n外星科,X-1,x\n门诊部,MZ-01,重复\n门诊部,MZ-02,\n".encode("gb18030")
    response = await app_client.post("/api/ledger/catalogue/import", data=bad, headers=headers)
    assert response.status == 400
    body = await response.json()
    assert body["error"] == "ledger.invalid_catalogue"
    assert [p["field"] for p in body["problems"]] == ["line 3: department", "line 4: code", "line 5: item"]
    async with session_factory(app[app_keys.ENGINE])() as session:
        assert await session.scalar(select(func.count()).select_from(CatalogueItem)) == 0
    good = "科室,编码,项目\n门诊部,MZ-01,候诊\n门诊部,MZ-02,挂号\n".encode()
    response = await app_client.post("/api/ledger/catalogue/import?dry_run=true", data=good, headers=headers)
    assert response.status == 200 and (await response.json())["created"] == 2
    assert (await (await app_client.get("/api/ledger/catalogue")).json())["catalogue"] == []
    response = await app_client.post("/api/ledger/catalogue/import", data=good, headers=headers)
    assert response.status == 201
    response = await app_client.post("/api/ledger/catalogue/import", data=good, headers=headers)
    assert response.status == 200 and (await response.json())["unchanged"] == 2
    assert len((await (await app_client.get("/api/ledger/catalogue")).json())["catalogue"]) == 2
    response = await app_client.post("/api/ledger/catalogue/import", data=b"", headers=headers)
    assert response.status == 400
