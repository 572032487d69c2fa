"""The directory import over HTTP in the whole app: supervisors only, a bad file 400 with every problem
by line and nothing written, dry_run, the same file twice, phones read by the dialling policy."""

from __future__ import annotations

from sqlalchemy import func, select
from webtools import app_client, login  # noqa: F401  (fixture)

from callcenter import keys as app_keys
from callcenter.store import session_factory
from callcenter.workorders.models import Department, Specialist

URL = "/api/departments/import"
GOOD = ("department,office_phone,contact_name,title,mobile,duty_weekdays,duty_times,rank\n"
        "呼吸科,2001,王医生,主任医师,139-1234-5678,\"mon,tue\",08:00-17:30,1\n"
        "儿科,010-64028401,,,,,,\n")


async def counts(app) -> tuple[int, int]:
    async with session_factory(app[app_keys.ENGINE])() as session:
        return (await session.scalar(select(func.count()).select_from(Department)),
                await session.scalar(select(func.count()).select_from(Specialist)))


async def test_operators_may_not_import(app_client):
    csrf = await login(app_client, "op1")
    response = await app_client.post(URL, data=GOOD.encode(), headers={"X-CSRF-Token": csrf, "Content-Type": "text/csv"})
    assert response.status == 403
    assert await counts(app_client.server.app) == (0, 0)


async def test_a_bad_file_is_refused_whole_with_its_problems_by_line(app_client):
    csrf = await login(app_client, "boss")
    headers = {"X-CSRF-Token": csrf, "Content-Type": "text/csv"}
    bad = GOOD + "急诊科,,孙医生,,120,,,\n,,,,,,,x\n外科,,钱医生,,13900000000,,8-17,\n"
    response = await app_client.post(URL, data=bad.encode("gb18030"), headers=headers)
    assert response.status == 400
    body = await response.json()
    assert body["error"] == "directory.invalid_file"
    assert [p["field"] for p in body["problems"]] == ["line 4: mobile", "line 5: department", "line 5: contact_name",
                                                      "line 5: mobile", "line 5: rank", "line 6: duty_times"]
    assert "emergency" in body["problems"][0]["problem"]  # the app checks phones by its dialling policy
    assert await counts(app_client.server.app) == (0, 0)
    for data in (b"", b"department\n"):
        response = await app_client.post(URL, data=data, headers=headers)
        assert response.status == 400, data


async def test_dry_run_import_and_the_same_file_again(app_client):
    app = app_client.server.app
    csrf = await login(app_client, "boss")
    headers = {"X-CSRF-Token": csrf, "Content-Type": "text/csv"}
    response = await app_client.post(f"{URL}?dry_run=true", data=GOOD.encode(), headers=headers)
    assert response.status == 200 and (await response.json())["departments_created"] == 2
    assert await counts(app) == (0, 0)
    response = await app_client.post(URL, data=GOOD.encode(), headers=headers)
    assert response.status == 201, await response.text()
    deps = {d["name"]: d for d in (await (await app_client.get("/api/departments")).json())["departments"]}
    assert deps["儿科"]["office_phone"] == "64028401"  # the hospital's own area code dropped, as dialled
    assert deps["呼吸科"]["specialists"][0]["mobile"] == "13912345678"
    response = await app_client.post(URL, data=GOOD.encode(), headers=headers)
    assert response.status == 200 and (await response.json())["unchanged"] == 3
    assert await counts(app) == (2, 1)
