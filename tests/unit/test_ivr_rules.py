"""The schedule in the database (real SQLite file): file import, supervisors' changes, the web API,
and the ticket side of the IVR (the path on the ticket, the repeat-caller check)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from callcenter import keys
from callcenter.ivr import http as ivr_http
from callcenter.ivr.exceptions import ScheduleError
from callcenter.ivr.flow import IvrFlow
from callcenter.ivr.rules import RuleStore
from callcenter.settings import HospitalSettings, IvrSettings
from callcenter.store import open_database, session_factory
from callcenter.tickets.service import TicketService

SCHEDULE = """
[[rule]]
name = "heatstroke"
message = "heatstroke"
from = "06-01"
to = "09-30"
priority = 50

[[rule]]
name = "default"
message = "default"
default = true
"""


@pytest.fixture
async def sessions(tmp_path: Path):
    engine = await open_database(f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}")
    yield session_factory(engine)
    await engine.dispose()


@pytest.fixture
def schedule_file(tmp_path: Path) -> Path:
    path = tmp_path / "schedule.toml"
    path.write_text(SCHEDULE, encoding="utf-8")
    return path


async def test_import_then_supervisor_change_survives_the_next_import(sessions, schedule_file):
    store = RuleStore(sessions)
    assert await store.import_file(schedule_file) == {"added": 2, "updated": 0, "removed": 0, "kept": 0}
    assert await store.import_file(schedule_file) == {"added": 0, "updated": 0, "removed": 0, "kept": 0}

    await store.put({"name": "heatstroke", "message": "heatstroke", "from": "05-15", "to": "09-30", "priority": 50})
    schedule_file.write_text(SCHEDULE.replace('default = true', 'default = true\npriority = 1'), encoding="utf-8")
    assert await store.import_file(schedule_file) == {"added": 0, "updated": 1, "removed": 0, "kept": 1}
    rows = {r["name"]: r for r in await store.rows()}
    assert rows["heatstroke"]["from"] == "05-15" and rows["heatstroke"]["origin"] == "web"
    assert rows["default"]["priority"] == 1 and rows["default"]["origin"] == "file"

    schedule_file.write_text(SCHEDULE.split("[[rule]]\nname = \"default\"")[0], encoding="utf-8")
    counts = await store.import_file(schedule_file)
    assert counts["removed"] == 1  # gone from the file: gone from the database


async def test_changes_take_effect_for_the_next_call_despite_the_cache(sessions, schedule_file):
    store = RuleStore(sessions, refresh=3600)
    await store.import_file(schedule_file)
    assert [r.name for r in await store.current()] == ["default", "heatstroke"]
    await store.put({"name": "night", "message": "night", "times": "22:00-07:00"})
    assert "night" in [r.name for r in await store.current()]
    assert await store.delete("night") is True
    assert "night" not in [r.name for r in await store.current()]
    assert await store.delete("night") is False


async def test_invalid_rules_are_refused_and_a_broken_database_keeps_the_last_schedule(sessions, schedule_file):
    now = [0.0]
    store = RuleStore(sessions, refresh=1, clock=lambda: now[0])
    await store.import_file(schedule_file)
    with pytest.raises(ScheduleError):
        await store.put({"name": "bad", "message": "m", "from": "02-31", "to": "03-01"})

    class Broken:
        def __call__(self):
            raise OSError("database unreachable")

    store._sessions = Broken()  # type: ignore[assignment]
    now[0] = 10.0
    assert [r.name for r in await store.current()] == ["default", "heatstroke"]


async def test_web_api_lists_changes_previews_and_refuses_bad_rules(sessions, schedule_file):
    store = RuleStore(sessions)
    await store.import_file(schedule_file)
    flow = IvrFlow(IvrSettings(), store, None, zone=HospitalSettings().zone, languages=("zh", "en"),  # type: ignore[arg-type]
                   available=lambda *_: True,
                   clock=lambda: dt.datetime(2025, 7, 1, 2, 0, tzinfo=dt.UTC))
    app = web.Application()
    app[keys.IVR] = flow
    ivr_http.add_routes(app)
    async with TestClient(TestServer(app)) as client:
        listed = await (await client.get("/api/ivr/rules")).json()
        assert {r["name"] for r in listed["rules"]} == {"heatstroke", "default"}

        preview = await (await client.get("/api/ivr/preview")).json()
        assert preview["messages"] == ["heatstroke"] and preview["at"].startswith("2025-07-01T10:00:00+08:00")

        response = await client.put("/api/ivr/rules/night", json={"message": "night", "times": "22:00-07:00", "priority": 80})
        assert response.status == 200
        preview = await (await client.get("/api/ivr/preview", params={"at": "2025-07-01T23:00:00+08:00"})).json()
        assert preview["messages"] == ["night", "heatstroke"]

        bad = await client.put("/api/ivr/rules/x", json={"message": "m", "weekdays": ["someday"]})
        assert bad.status == 400 and (await bad.json())["error"] == "ivr.rule_value"
        assert (await client.put("/api/ivr/rules/x", json={"name": "y", "message": "m"})).status == 400
        assert (await client.put("/api/ivr/rules/x", data=b"not json")).status == 400
        assert (await client.delete("/api/ivr/rules/night")).status == 200
        assert (await client.delete("/api/ivr/rules/night")).status == 404


async def test_the_ivr_path_lands_on_the_ticket_and_repeat_callers_are_found(sessions, tmp_path):
    tickets = TicketService(sessions, "pbx-test", spill_dir=tmp_path / "spill")
    await tickets.start()
    try:
        now = dt.datetime.now(dt.UTC)
        await tickets.open_for_arrival("old.1", "138-0013-8000", "", "PJSIP/x", now - dt.timedelta(hours=30))
        await tickets.open_for_arrival("new.1", "13800138000", "", "PJSIP/x", now - dt.timedelta(hours=2))
        await tickets.open_for_arrival("new.2", "13800138000", "", "PJSIP/x", now)
        day_ago = now - dt.timedelta(hours=24)
        assert await tickets.called_since("13800138000", day_ago, exclude_uniqueid="new.2") is True
        assert await tickets.called_since("13800138000", day_ago, exclude_uniqueid="new.1") is True
        assert await tickets.called_since("13900000000", day_ago) is False
        assert await tickets.called_since("anonymous", day_ago) is False

        path = {"outcome": "routed", "language": "zh", "messages": [{"prompt": "greeting", "outcome": "played"}]}
        await tickets.record_ivr("new.2", path)
        await tickets.record_ivr("new.2", path)  # a replayed write changes nothing
        ticket = await tickets.get("new.2")
        assert ticket.details["ivr"] == path
    finally:
        await tickets.close()
