"""The wallboard, the report's JSON and its CSV count the same calls that rang (one definition: figures.py)."""

from __future__ import annotations

import csv
import datetime as dt
import io

from callcenter import keys
from webtools import login


async def rung_call(app, uniqueid: str, minutes_ago: float, rings: list[tuple[str, float, float, str]],
                    answered: tuple[str, float, bool] | None, ended: float) -> None:
    """A call as the adapter writes it; times in seconds after its arrival."""
    tickets = app[keys.TICKETS]
    t0 = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes_ago)

    def at(seconds: float) -> dt.datetime:
        return t0 + dt.timedelta(seconds=seconds)

    await tickets.open_for_arrival(uniqueid, "13800138000", "", "PJSIP/trunk-1", t0)
    for agent, start, end, outcome in rings:
        await tickets.record_ring(uniqueid, agent, at(start))
        await tickets.record_ring(uniqueid, agent, at(start), at(end), outcome)
    if answered is not None:
        agent, moment, within = answered
        await tickets.mark_answered(uniqueid, agent, at(moment))
        await tickets.record_details(uniqueid, "acd", {"within_two_rings": within})
    await tickets.mark_ended(uniqueid, at(ended), "caller" if answered is None else "agent")


def csv_section(text: str, name: str) -> list[dict[str, str]]:
    """One table of the report's CSV as dicts."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    start = next(i for i, row in enumerate(rows) if row and row[0] == name)
    head = rows[start][1:]
    out = []
    for row in rows[start + 1:]:
        if not row or row[0] != "":
            break
        out.append(dict(zip(head, row[1:])))
    return out


async def test_wallboard_report_and_csv_count_every_ring(app_client):
    app = app_client.server.app
    await rung_call(app, "w-ok", 5, [("1001", 1, 3, "answered")], ("1001", 3, True), 60)
    await rung_call(app, "w-left", 4, [("1001", 1, 6, "caller_left")], None, 6)  # hung up while it rang
    await rung_call(app, "w-miss", 3, [("1001", 1, 11, "missed"), ("1002", 11, 12, "answered")], ("1002", 12, False), 70)
    await rung_call(app, "w-guard", 2, [("1001", 1, 8, "answered_elsewhere"), ("1002", 7, 8, "answered")], ("1002", 8, True), 50)
    await login(app_client, "boss")

    board = await (await app_client.get("/api/supervisor/wallboard")).json()
    report = await (await app_client.get("/api/reports", params={"period": "day"})).json()
    today, summary = board["today"], report["summary"]
    assert (summary["offered"], summary["answered"], summary["offered_to_agent"], summary["within_two_rings"]) == (4, 3, 4, 2)
    assert summary["service_level"] == 0.5  # the caller who left while it rang counts against the level
    assert {k: today[k] for k in summary} == summary  # the wallboard says the same

    agents = {a["agent_id"]: a for a in report["by_agent"]}
    assert agents["1001"]["offered"] == 4 and agents["1001"]["answered"] == 1
    assert (agents["1001"]["missed"], agents["1001"]["caller_left"], agents["1001"]["answered_elsewhere"]) == (1, 1, 1)
    assert agents["1001"]["service_level"] == round(1 / 3, 4)  # of the three rings it could have answered
    assert (agents["1002"]["offered"], agents["1002"]["answered"], agents["1002"]["missed"]) == (2, 2, 0)
    assert today["agents"] == report["by_agent"]

    text = await (await app_client.get("/api/reports.csv", params={"period": "day"})).text()
    rows = {r["agent_id"]: r for r in csv_section(text, "by_agent")}
    assert (rows["1001"]["offered"], rows["1001"]["missed"], rows["1001"]["caller_left"]) == ("4", "1", "1")
    assert (rows["1002"]["offered"], rows["1002"]["answered"]) == ("2", "2")
    page = await (await app_client.get("/reports", params={"period": "day"})).text()
    assert 'data-i18n="reports.missed"' in page
