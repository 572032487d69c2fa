"""The directory import on a real database (SQLite, and PostgreSQL when configured): all or nothing,
dry_run writes nothing, the same file again changes nothing, a changed file updates in place."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from harness.postgres import store_url  # noqa: F401  (fixture: SQLite, and PostgreSQL when configured)
from sqlalchemy import func, select

from callcenter.outbound.policy import classify
from callcenter.outbound.service import policy_of
from callcenter.settings import Settings
from callcenter.store import open_database, session_factory
from callcenter.workorders.departments import DirectoryService
from callcenter.workorders.exceptions import InvalidData
from callcenter.workorders.models import Department, Specialist

HEADER = "科室,办公电话,联系人,职称,手机,值班日,值班时间,顺序\n"
FILE = HEADER + ("呼吸科,2001,,,,,,\n"
                 "呼吸科,,王医生,主任医师,139-1234-5678,\"mon,tue\",08:00-17:30,1\n"
                 "呼吸科,,李医生,,13800000000,,,2\n"
                 "儿科,64028401,,,,,,\n")


@pytest.fixture
async def directory(store_url: str) -> AsyncIterator[DirectoryService]:
    engine = await open_database(store_url)
    policy = policy_of(Settings())

    def check(raw: str) -> tuple[str, str | None]:
        verdict = classify(raw, policy)
        return (verdict.number, None) if verdict.allowed else ("", verdict.problem)

    yield DirectoryService(session_factory(engine), check)
    await engine.dispose()


async def counts(directory: DirectoryService) -> tuple[int, int]:
    async with directory._sessions() as session:
        return (await session.scalar(select(func.count()).select_from(Department)),
                await session.scalar(select(func.count()).select_from(Specialist)))


async def test_a_file_with_one_bad_row_writes_nothing(directory):
    with pytest.raises(InvalidData) as caught:
        await directory.import_csv(FILE + "儿科,,张医生,,110,,,\n儿科,,赵医生,,13900000000,,99:00-10:00,\n")
    assert [p["field"] for p in caught.value.problems] == ["line 6: mobile", "line 7: duty_times"]
    assert await counts(directory) == (0, 0)


async def test_dry_run_then_import_then_the_same_file_again(directory):
    report = await directory.import_csv(FILE.encode("gb18030"), dry_run=True)
    assert (report["departments_created"], report["contacts_created"], report["dry_run"]) == (2, 2, True)
    assert await counts(directory) == (0, 0)
    report = await directory.import_csv(FILE, by="boss")
    assert (report["departments_created"], report["contacts_created"]) == (2, 2)
    deps = {d["name"]: d for d in await directory.departments()}
    assert deps["呼吸科"]["office_phone"] == "2001" and deps["儿科"]["office_phone"] == "64028401"
    wang = deps["呼吸科"]["specialists"][0]
    assert (wang["name"], wang["mobile"], wang["duty"], wang["rank"]) == (
        "王医生", "13912345678", {"weekdays": ["mon", "tue"], "times": "08:00-17:30"}, 1)
    again = await directory.import_csv(FILE)
    assert (again["departments_created"], again["departments_updated"], again["contacts_created"],
            again["contacts_updated"], again["unchanged"]) == (0, 0, 0, 0, 4)
    assert await counts(directory) == (2, 2)


async def test_a_changed_file_updates_by_name_and_phone_and_keeps_the_rest(directory):
    await directory.import_csv(FILE)
    changed = HEADER + "呼吸科,2002,王医生,副主任医师,13912345678,,,3\n急诊科,,孙医生,,13700000000,,,\n"
    report = await directory.import_csv(changed)
    assert (report["departments_created"], report["departments_updated"], report["contacts_created"],
            report["contacts_updated"]) == (1, 1, 1, 1)
    deps = {d["name"]: d for d in await directory.departments()}
    assert deps["呼吸科"]["office_phone"] == "2002"
    assert [(s["name"], s["title"], s["duty"], s["rank"]) for s in deps["呼吸科"]["specialists"]] == [
        ("李医生", "", {}, 2), ("王医生", "副主任医师", {}, 3)]
    assert await counts(directory) == (3, 3)


async def test_a_contact_typed_by_hand_with_dashes_is_matched_by_its_number(directory):
    dep = await directory.save_department({"name": "呼吸科"})
    await directory.save_specialist({"name": "王医生", "mobile": "139-1234-5678"}, department_id=dep["id"])
    report = await directory.import_csv(HEADER + "呼吸科,,王医生,,13912345678,,,\n")
    assert (report["contacts_created"], report["unchanged"]) == (0, 2)
