"""The operator desk's APIs, the live hub's pushes over an authenticated websocket, and the reports."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time

import aiohttp

from callcenter import keys
from callcenter.acd import Offer
from callcenter.adapter import LiveCall
from callcenter.web import keys as web_keys
from webtools import login


async def add_ticket(app, uniqueid: str, number: str, agent: str | None, *, minutes_ago: float = 10, notes: dict | None = None):
    tickets = app[keys.TICKETS]
    at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes_ago)
    await tickets.open_for_arrival(uniqueid, number, "", "PJSIP/x", at)
    if agent:
        await tickets.mark_ringing(uniqueid, agent, at + dt.timedelta(seconds=1))
        await tickets.mark_answered(uniqueid, agent, at + dt.timedelta(seconds=3))
        await tickets.record_details(uniqueid, "acd", {"within_two_rings": True, "offered_to": [agent]})
    await tickets.mark_ended(uniqueid, at + dt.timedelta(seconds=60), "caller")
    if notes:
        await tickets.record_details(uniqueid, "notes", notes)


async def test_the_pop_reaches_only_the_rung_operators_socket_at_once(app_client):
    app = app_client.server.app
    await add_ticket(app, "old-1", "13800138000", "1002", minutes_ago=60, notes={"category": "billing", "notes": "<b>x</b>"})
    await login(app_client, "op1")
    async with aiohttp.ClientSession() as anonymous:  # another browser, not logged in
        refused = await anonymous.get(app_client.make_url("/ws"))
        assert refused.status == 401
    ws = await app_client.ws_connect("/ws")
    hello = json.loads((await ws.receive(timeout=2)).data)
    assert hello["type"] == "hello" and hello["agent_id"] == "1001"
    assert json.loads((await ws.receive(timeout=2)).data)["type"] == "agent"

    adapter = app[keys.ADAPTER]
    adapter.calls["new-1"] = LiveCall("new-1", "13800138000", "李女士")
    started = time.perf_counter()
    app[web_keys.HUB].on_command(Offer("new-1", "1001", 10.0))
    pop = json.loads((await ws.receive(timeout=2)).data)
    assert (time.perf_counter() - started) < 0.05
    assert pop["type"] == "pop" and pop["caller_number"] == "13800138000" and pop["caller_name"] == "李女士"
    details = json.loads((await ws.receive(timeout=2)).data)
    assert details["type"] == "pop_details"
    assert [t["uniqueid"] for t in details["history"]] == ["old-1"]
    assert details["history"][0]["notes"]["notes"] == "<b>x</b>"  # data stays data; the page renders it as text

    app[web_keys.HUB].on_command(Offer("new-1", "1002", 10.0))  # another operator's ring
    try:
        message = await ws.receive(timeout=0.3)
        assert json.loads(message.data)["type"] != "pop"
    except asyncio.TimeoutError:
        pass
    await ws.close()


async def test_reports_json_csv_and_page(app_client):
    app = app_client.server.app
    await add_ticket(app, "r-1", "2001", "1001", notes={"category": "medical", "satisfaction": 5, "solved": True})
    await add_ticket(app, "r-2", "2002", None)
    await login(app_client, "boss")
    report = await (await app_client.get("/api/reports", params={"period": "day"})).json()
    assert report["summary"]["offered"] == 2 and report["summary"]["answered"] == 1 and report["summary"]["abandoned"] == 1
    assert report["summary"]["service_level"] == 1.0
    assert report["categories"] == [{"category": "medical", "calls": 1}]
    assert report["satisfaction"]["average"] == 5
    assert len(report["staffing"]["hours"]) == 24 and any(h["agents"] >= 1 for h in report["staffing"]["hours"])
    csv_response = await app_client.get("/api/reports.csv", params={"period": "week"})
    assert csv_response.headers["Content-Disposition"].startswith("attachment")
    text = await csv_response.text()
    assert "summary" in text and "staffing" in text
    page = await app_client.get("/reports", params={"period": "month"})
    assert page.status == 200 and "<svg" in await page.text()
    assert (await app_client.get("/api/reports", params={"from": "2025-02-01", "to": "2025-01-01"})).status == 400


async def test_the_pdf_report_is_printed_with_chinese_text(app_client, tmp_path):
    import shutil

    import pytest

    if not shutil.which("chromium"):
        pytest.skip("Debian's chromium is missing")
    app = app_client.server.app
    await add_ticket(app, "p-1", "2001", "1001", notes={"category": "medical"})
    await login(app_client, "boss")
    response = await app_client.get("/api/reports.pdf", params={"period": "day"})
    assert response.status == 200, await response.text()
    pdf = await response.read()
    assert pdf.startswith(b"%PDF") and len(pdf) > 5000
    (tmp_path / "report.pdf").write_bytes(pdf)
    if shutil.which("pdftotext"):
        import subprocess

        text = subprocess.run(["pdftotext", str(tmp_path / "report.pdf"), "-"], capture_output=True, text=True, check=True).stdout
        assert "两声内接听率" in text and "排班建议" in text  # CJK glyphs embedded, not tofu
