"""Who may hear a recording: supervisors and the operator who took the call; every listen logged; retention.

The whole controller app runs without Asterisk (as in the other web tests); the recording row and
its wav are put in place as the recording service leaves them after a call.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import struct
import wave
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from callcenter import keys
from callcenter.app import create_app
from callcenter.recording import keys as rec_keys
from callcenter.recording.models import Recording
from callcenter.settings import RecordingSettings
from callcenter.store.db import session_factory
from callcenter.store.models import Ticket, utcnow
from callcenter.web import keys as web_keys
from webtools import PASSWORD, USERS, component_settings, login

USERS_HERE = {**USERS, "op3": ("operator", None)}  # an operator without a phone


@pytest.fixture
async def rec_client(tmp_path: Path):
    settings = component_settings(tmp_path)
    settings = dataclasses.replace(settings, recording=RecordingSettings(
        directory=str(tmp_path / "rec"), asterisk_directory="/recordings", retention_days=30, check_seconds=0))
    app = create_app(settings)
    async with TestClient(TestServer(app)) as client:
        for name, (role, agent) in USERS_HERE.items():
            await app[web_keys.ACCOUNTS].create(name, PASSWORD, role, agent_id=agent, display_name=name.upper())
        yield client


def _wav(path: Path, seconds: float = 1.0) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(struct.pack("<h", 100) * int(8000 * seconds))
    return path.read_bytes()


async def _recording(app, agent_id: str, *, days_old: float = 0, uniqueid: str = "1700000000.1") -> tuple[int, int, bytes]:
    """A ticket answered by ``agent_id`` and its complete recording; (ticket id, recording id, file bytes)."""
    service = app[rec_keys.RECORDINGS]
    started = utcnow() - dt.timedelta(days=days_old)
    relative = f"{started:%Y/%m/%d}/ticket-x-{uniqueid}.wav"
    data = _wav(service.directory / relative)
    async with session_factory(app[keys.ENGINE])() as session, session.begin():
        ticket = Ticket(node="pbx1", uniqueid=uniqueid, caller_number="13800000000", source="controller",
                        call_status="completed", arrived_at=started, answered_at=started, ended_at=started,
                        agent_id=agent_id, details={})
        session.add(ticket)
        await session.flush()
        row = Recording(ticket_id=ticket.id, node="pbx1", uniqueid=uniqueid, channel="PJSIP/2001-1", kind="inbound",
                        agent_id=agent_id, status="complete", reason="", path=relative, started_at=started,
                        ended_at=started, duration_seconds=1.0, size_bytes=len(data), sha256="x", repaired=False,
                        flagged=False, flag_reason="", pauses=[])
        session.add(row)
        await session.flush()
        return ticket.id, row.id, data


async def _as(client: TestClient, name: str) -> str:
    """Log in as ``name`` (a fresh session); its CSRF token."""
    client.session.cookie_jar.clear()
    return await login(client, name)


async def test_only_supervisors_and_the_operator_who_took_the_call_can_listen(rec_client):
    app = rec_client.server.app
    ticket_id, rec_id, data = await _recording(app, "1001")
    audio = f"/api/recordings/{rec_id}/audio"

    rec_client.session.cookie_jar.clear()
    assert (await rec_client.get(audio)).status == 401  # anonymous

    for name in ("op2", "op3", "root"):  # another operator, one without a phone, an admin
        await _as(rec_client, name)
        for url in (audio, f"{audio}?download=1", f"/api/recordings/{rec_id}"):
            response = await rec_client.get(url)
            assert response.status == 404, (name, url)  # not even told that it exists
        listed = await (await rec_client.get(f"/api/recordings?ticket={ticket_id}")).json()
        assert listed["recordings"] == [], name

    await _as(rec_client, "op1")  # took the call
    listed = await (await rec_client.get(f"/api/recordings?ticket={ticket_id}")).json()
    assert [r["recording_id"] for r in listed["recordings"]] == [rec_id]
    assert listed["recordings"][0]["audio_url"] == audio
    played = await rec_client.get(audio)
    assert played.status == 200
    assert played.headers["Content-Type"] == "audio/wav"
    assert played.headers["Content-Disposition"].startswith("inline")
    assert await played.read() == data
    downloaded = await rec_client.get(f"{audio}?download=1")
    assert downloaded.headers["Content-Disposition"].startswith("attachment")
    assert await downloaded.read() == data
    # A player's follow-up range request is the same listen, not another one.
    ranged = await rec_client.get(audio, headers={"Range": "bytes=1000-"})
    assert ranged.status == 206
    assert (await rec_client.get(f"/api/recordings/{rec_id}/listens")).status == 403  # the log is for supervisors

    await _as(rec_client, "boss")
    assert (await rec_client.get(audio)).status == 200
    body = await (await rec_client.get(f"/api/recordings/{rec_id}/listens")).json()
    assert [(e["username"], e["action"]) for e in body["listens"]] == [
        ("op1", "play"), ("op1", "download"), ("boss", "play")]
    assert all(e["at"] for e in body["listens"])
    detail = await (await rec_client.get(f"/api/recordings/{rec_id}")).json()
    assert len(detail["listens"]) == 3


async def test_flagged_recordings_survive_retention_and_deletions_are_logged(rec_client):
    app = rec_client.server.app
    _, old_id, _ = await _recording(app, "1001", days_old=40, uniqueid="1.1")
    _, kept_id, _ = await _recording(app, "1001", days_old=40, uniqueid="1.2")
    _, new_id, _ = await _recording(app, "1001", days_old=1, uniqueid="1.3")
    service = app[rec_keys.RECORDINGS]

    csrf = await _as(rec_client, "op1")
    refused = await rec_client.post(f"/api/recordings/{kept_id}/flag", json={"flagged": True},
                                    headers={"X-CSRF-Token": csrf})
    assert refused.status == 403  # only supervisors keep recordings
    csrf = await _as(rec_client, "boss")
    flagged = await rec_client.post(f"/api/recordings/{kept_id}/flag", json={"flagged": True, "reason": "complaint"},
                                    headers={"X-CSRF-Token": csrf})
    assert flagged.status == 200 and (await flagged.json())["flagged"] is True

    paths = {r: service.directory / (await service.get(r)).path for r in (old_id, kept_id, new_id)}
    deleted = await service.apply_retention()
    assert [d["recording_id"] for d in deleted] == [old_id]
    assert not paths[old_id].exists() and paths[kept_id].exists() and paths[new_id].exists()
    row = await service.get(old_id)
    assert row.status == "deleted" and row.deleted_at is not None and "retention" in row.reason
    gone = await rec_client.get(f"/api/recordings/{old_id}/audio")
    assert gone.status == 410


async def test_pausing_needs_a_recorded_call(rec_client):
    csrf = await login(rec_client, "op1")
    response = await rec_client.post("/api/agent/recording", json={"paused": True}, headers={"X-CSRF-Token": csrf})
    assert response.status == 409
    assert (await response.json())["error"] == "recording.not_live"
    no_csrf = await rec_client.post("/api/agent/recording", json={"paused": True})
    assert no_csrf.status == 403


async def test_a_recording_left_unfinished_by_a_crash_is_repaired_and_measured_at_start(rec_client):
    app = rec_client.server.app
    service = app[rec_keys.RECORDINGS]
    ticket_id, rec_id, data = await _recording(app, "1001", uniqueid="2.1")
    row = await service.get(rec_id)
    path = service.directory / row.path
    broken = bytearray(data)
    broken[4:8] = struct.pack("<I", 36)  # Asterisk died before closing: the header still says "empty"
    broken[40:44] = struct.pack("<I", 0)
    path.write_bytes(bytes(broken))
    async with session_factory(app[keys.ENGINE])() as session, session.begin():
        stored = await session.get(Recording, rec_id)
        stored.status, stored.duration_seconds, stored.size_bytes, stored.sha256 = "recording", None, None, None

    service.rec = dataclasses.replace(service.rec, finish_timeout=0.3)
    await service.recover()
    await asyncio.gather(*service._tasks)
    row = await service.get(rec_id)
    assert row.status == "complete" and row.repaired is True
    assert row.duration_seconds == 1.0 and row.size_bytes == len(data)
    with wave.open(str(path)) as fixed:
        assert fixed.getnframes() == 8000


async def test_the_desk_has_a_pause_button_and_plays_the_operators_recordings(rec_client, browser):
    from webtools import browser_login

    app = rec_client.server.app
    tickets = app[keys.TICKETS]
    started = utcnow()
    await tickets.open_for_arrival("3.1", "13800000001", "", "PJSIP/2001-1", started)
    await tickets.mark_answered("3.1", "1001", started)
    await tickets.mark_ended("3.1", started, "agent")
    ticket = await tickets.get("3.1")
    service = app[rec_keys.RECORDINGS]
    relative = f"{started:%Y/%m/%d}/ticket-{ticket.id}-3.1.wav"
    data = _wav(service.directory / relative)
    async with session_factory(app[keys.ENGINE])() as session, session.begin():
        session.add(Recording(ticket_id=ticket.id, node="pbx1", uniqueid="3.1", channel="PJSIP/2001-1", kind="inbound",
                              agent_id="1001", status="complete", reason="", path=relative, started_at=started,
                              ended_at=started, duration_seconds=1.0, size_bytes=len(data), sha256="x",
                              repaired=False, flagged=False, flag_reason="", pauses=[]))

    page = await browser_login(browser, str(rec_client.make_url("")).rstrip("/"), "op1")
    await page.goto(str(rec_client.make_url("/agent")))
    assert not await page.is_visible("#btn-rec")  # the button lives in the pop: shown only with a call
    await page.evaluate("document.getElementById('btn-rec').click()")  # no call: the page says so

    await page.wait_for_selector("#rec-error:has-text('当前通话没有在录音')", state="attached")
    player = await page.wait_for_selector("#recent tr[data-uniqueid='3.1'] td.recording audio")
    assert (await player.get_attribute("src")).endswith("/audio")
    await page.context.close()
