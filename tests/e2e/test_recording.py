"""Call recording on the real Asterisk with real SIP phones.

The caller's phone sends one tone and the operator's another; the recording MixMonitor wrote
holds both (measured with a Goertzel filter), lasts as long as the call, is linked from the
ticket, and the stretch the operator paused from the web is silent.  With an unwritable
recording directory the call is still answered and completed, and the ticket and the
supervisors' wallboard say it was not recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import hashlib
import math
import re
import shutil
import subprocess
import uuid
import wave
from pathlib import Path

import aiohttp
import pytest

from callcenter import keys
from callcenter.demo.softphone import write_tone_wav
from callcenter.recording import keys as rec_keys
from callcenter.settings import DatabaseSettings, RecordingSettings
from callcenter.web import keys as web_keys
from harness import eventually
from harness.controller import Controller

pytestmark = pytest.mark.e2e

CALLER_TONE, AGENT_TONE, CONTROL = 600.0, 1400.0, 2300.0  # Hz; CONTROL is in neither phone's signal
PASSWORD = "correct horse battery"


def goertzel(samples: list[int], freq: float, rate: int = 8000) -> float:
    """Power of ``freq`` in ``samples`` (normalised by length)."""
    coeff = 2 * math.cos(2 * math.pi * freq / rate)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coeff * s1 - s2, s1
    return (s1 * s1 + s2 * s2 - coeff * s1 * s2) / max(1, len(samples)) ** 2


def rms(samples: list[int]) -> float:
    return math.sqrt(sum(x * x for x in samples) / max(1, len(samples)))


def read_wav(path: Path) -> tuple[int, list[int]]:
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        raw = w.readframes(w.getnframes())
        return w.getframerate(), [int.from_bytes(raw[i:i + 2], "little", signed=True) for i in range(0, len(raw), 2)]


@contextlib.asynccontextmanager
async def recording_controller(asterisk, db_url: str, directory: Path):
    settings = dataclasses.replace(
        asterisk, database=DatabaseSettings(url=db_url),
        recording=RecordingSettings(directory=str(directory), check_seconds=0.5, finish_timeout=3.0))
    controller = await Controller(settings).start()
    try:
        yield controller
    finally:
        await controller.stop()
        shutil.rmtree(directory, ignore_errors=True)


async def web_login(controller, username: str) -> tuple[aiohttp.ClientSession, str]:
    """An HTTP session logged in through the real form; (session, CSRF token)."""
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    form = await (await http.get(f"{controller.url}/login")).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    response = await http.post(f"{controller.url}/login", allow_redirects=False,
                               data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert response.status == 302, await response.text()
    me = await (await http.get(f"{controller.url}/api/me")).json()
    return http, me["csrf"]


async def agent_available(controller, agent_id: str) -> bool:
    agents = controller[keys.ADAPTER].acd.agents
    return agent_id in agents and agents[agent_id].state == "available"


async def ticket_of(controller, number: str, section: str, status: str | None = None):
    for ticket in await controller[keys.TICKETS].list_recent():
        rec = (ticket.details or {}).get(section)
        if ticket.caller_number == number and ticket.ended_at and rec and (status is None or rec["status"] == status):
            return ticket
    return None


async def test_recording_holds_both_sides_matches_the_call_and_the_pause_is_silent(
        asterisk, db_url, phone_factory, tmp_path):
    root = Path(asterisk.asterisk.root)
    directory = root / "tmp" / f"rec-{uuid.uuid4().hex[:8]}"
    async with recording_controller(asterisk, db_url, directory) as controller:
        await controller[web_keys.ACCOUNTS].create("op3", PASSWORD, "operator", agent_id="1003")
        write_tone_wav((tmp_path / "agent").mkdir() or tmp_path / "agent" / "source.wav", freq=AGENT_TONE)
        write_tone_wav((tmp_path / "caller").mkdir() or tmp_path / "caller" / "source.wav", freq=CALLER_TONE)
        agent = await phone_factory("1003", answer="manual", workdir=tmp_path / "agent")
        caller = await phone_factory("2004", answer="manual", workdir=tmp_path / "caller")
        await eventually(lambda: agent_available(controller, "1003"), timeout=5, message="agent 1003 available")
        http, csrf = await web_login(controller, "op3")
        try:
            await caller.dial(asterisk.asterisk.hotline_number)
            await agent.wait_event("CALL_INCOMING", timeout=10)
            await agent.accept()
            answered = await agent.wait_event("CALL_ESTABLISHED", timeout=5)
            await caller.wait_event("CALL_ESTABLISHED", timeout=5)
            await asyncio.sleep(2.5)  # talk
            paused = await http.post(f"{controller.url}/api/agent/recording", json={"paused": True},
                                     headers={"X-CSRF-Token": csrf})
            assert paused.status == 200, await paused.text()
            await asyncio.sleep(2.5)  # the caller gives a card number
            resumed = await http.post(f"{controller.url}/api/agent/recording", json={"paused": False},
                                      headers={"X-CSRF-Token": csrf})
            assert resumed.status == 200, await resumed.text()
            await asyncio.sleep(2.5)
            await agent.hangup()
            closed = await caller.wait_event("CALL_CLOSED", timeout=5)
        finally:
            await http.close()

        ticket = await eventually(lambda: ticket_of(controller, "2004", "recording", "complete"), timeout=15,
                                  message="ticket with a complete recording")
        summary = ticket.details["recording"]
        row = await controller[rec_keys.RECORDINGS].get(summary["recording_id"])
        assert row.ticket_id == ticket.id and row.agent_id == "1003" and row.kind == "inbound"
        path = directory / row.path
        # Stored by date, named after the ticket and the call.
        day = dt.datetime.fromtimestamp(row.started_at.timestamp(), controller[rec_keys.RECORDINGS].zone)
        assert row.path == f"{day:%Y/%m/%d}/ticket-{ticket.id}-{ticket.uniqueid}.wav"
        assert path.is_file()
        assert summary["size_bytes"] == path.stat().st_size
        assert summary["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert summary["repaired"] is False  # Asterisk closed it properly

        talk = closed["at"] - answered["at"]
        rate, samples = read_wav(path)
        assert rate == 8000
        assert len(samples) / rate == pytest.approx(summary["duration_seconds"], abs=0.01)
        assert summary["duration_seconds"] == pytest.approx(talk, abs=0.6)

        # Both sides are in the file, far above a frequency neither phone sends.
        heard = samples
        control = goertzel(heard, CONTROL)
        for tone in (CALLER_TONE, AGENT_TONE):  # each phone sends amplitude 2000: power ~1e6 while on
            assert goertzel(heard, tone) > max(1e5, 50 * control), tone

        # The pause, logged on the ticket, is silence in the file; audio before and after it is not.
        assert [p["op"] for p in summary["pauses"]] == ["pause", "resume"]
        assert all(p["by"] == "op3" for p in summary["pauses"])
        start = row.started_at.timestamp()
        pause_at = dt.datetime.fromisoformat(summary["pauses"][0]["at"]).timestamp() - start
        resume_at = dt.datetime.fromisoformat(summary["pauses"][1]["at"]).timestamp() - start
        assert resume_at - pause_at == pytest.approx(2.5, abs=0.5)

        def window(a: float, b: float) -> list[int]:
            return samples[int(a * rate):int(b * rate)]

        silent = window(pause_at + 0.4, resume_at - 0.2)
        assert len(silent) > rate
        assert rms(silent) < 20, f"paused stretch not silent (rms {rms(silent):.0f})"
        before, after = window(pause_at - 2.0, pause_at - 0.2), window(resume_at + 0.4, resume_at + 2.2)
        for stretch in (before, after):
            assert rms(stretch) > 300
            for tone in (CALLER_TONE, AGENT_TONE):
                assert goertzel(stretch, tone) > max(1e5, 50 * goertzel(stretch, CONTROL)), tone


@contextlib.contextmanager
def unwritable(directory: Path):
    """``directory`` made read-only even for root: a read-only bind mount onto itself (else a file in its way)."""
    directory.mkdir(parents=True)
    mounted = subprocess.run(["mount", "--bind", str(directory), str(directory)], capture_output=True).returncode == 0
    if mounted:
        mounted = subprocess.run(["mount", "-o", "remount,bind,ro", str(directory)], capture_output=True).returncode == 0
        if not mounted:
            subprocess.run(["umount", str(directory)], check=False)
    if not mounted:  # no mount privilege: a plain file where the date directories must go
        directory.rmdir()
        directory.write_text("not a directory\n")
    try:
        yield "mount" if mounted else "file"
    finally:
        if mounted:
            subprocess.run(["umount", str(directory)], check=False)
            shutil.rmtree(directory, ignore_errors=True)
        else:
            directory.unlink(missing_ok=True)


async def test_unwritable_directory_call_goes_on_unrecorded_and_supervisors_are_told(
        asterisk, db_url, phone_factory):
    directory = Path(asterisk.asterisk.root) / "tmp" / f"rec-ro-{uuid.uuid4().hex[:8]}"
    with unwritable(directory):
        async with recording_controller(asterisk, db_url, directory) as controller:
            await controller[web_keys.ACCOUNTS].create("boss", PASSWORD, "supervisor")
            agent = await phone_factory("1004", answer="manual")
            caller = await phone_factory("2005", answer="manual")
            await eventually(lambda: agent_available(controller, "1004"), timeout=5, message="agent 1004 available")
            await caller.dial(asterisk.asterisk.hotline_number)
            await agent.wait_event("CALL_INCOMING", timeout=10)
            await agent.accept()
            await agent.wait_event("CALL_ESTABLISHED", timeout=5)
            await caller.wait_event("CALL_ESTABLISHED", timeout=5)  # answered, and bridged to the operator
            await asyncio.sleep(1.0)
            await agent.hangup()
            await caller.wait_event("CALL_CLOSED", timeout=5)

            ticket = await eventually(lambda: ticket_of(controller, "2005", "recording"), timeout=10,
                                      message="ticket with a recording section")
            assert ticket.call_status == "completed" and ticket.agent_id == "1004"
            assert ticket.details["recording"]["status"] == "not_recorded"
            assert ticket.details["recording"]["reason"] == "unwritable"
            row = await controller[rec_keys.RECORDINGS].get(ticket.details["recording"]["recording_id"])
            assert row.status == "not_recorded" and row.ticket_id == ticket.id
            assert not any(directory.rglob("*.wav")) if directory.is_dir() else True

            http, _ = await web_login(controller, "boss")
            try:
                board = await (await http.get(f"{controller.url}/api/supervisor/wallboard")).json()
            finally:
                await http.close()
            [alert] = [a for a in board["alerts"] if a["kind"] == "recording_failed"]
            assert alert["reason"] == "unwritable"
            assert alert["calls"] >= 1 and alert["last_call"] == ticket.uniqueid


async def test_a_callback_is_recorded_on_its_ticket(asterisk, db_url, phone_factory, tmp_path):
    from callcenter.workorders import keys as wo_keys

    directory = Path(asterisk.asterisk.root) / "tmp" / f"rec-cb-{uuid.uuid4().hex[:8]}"
    async with recording_controller(asterisk, db_url, directory) as controller:
        write_tone_wav((tmp_path / "op").mkdir() or tmp_path / "op" / "source.wav", freq=AGENT_TONE)
        write_tone_wav((tmp_path / "pt").mkdir() or tmp_path / "pt" / "source.wav", freq=CALLER_TONE)
        operator = await phone_factory("1002", answer="manual", workdir=tmp_path / "op")
        patient = await phone_factory("2006", answer="manual", workdir=tmp_path / "pt")
        tickets = controller[keys.TICKETS]
        earlier = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
        tid = await tickets.open_for_arrival("rec-cb-1", "2006", "", "PJSIP/x", earlier)
        await tickets.mark_answered("rec-cb-1", "1002", earlier + dt.timedelta(seconds=2))
        await tickets.mark_ended("rec-cb-1", earlier + dt.timedelta(seconds=60), "agent")

        await controller[wo_keys.OUTBOUND].callback(tid, "1002", survey=False, by="op2")
        await operator.wait_event("CALL_INCOMING", timeout=10)
        await operator.accept()
        await patient.wait_event("CALL_INCOMING", timeout=10)
        await patient.accept()
        talking = await patient.wait_event("CALL_ESTABLISHED", timeout=5)
        await asyncio.sleep(2.0)
        await operator.hangup()
        closed = await patient.wait_event("CALL_CLOSED", timeout=5)

        service = controller[rec_keys.RECORDINGS]

        async def complete():
            rows = await service.find(ticket_id=tid)
            return rows if rows and rows[0].status == "complete" else None

        [row] = await eventually(complete, timeout=15, message="callback recording complete")
        assert row.kind == "callback" and row.agent_id == "1002"
        assert f"ticket-{tid}-callback-" in row.path
        rate, samples = read_wav(directory / row.path)
        assert row.duration_seconds == pytest.approx(closed["at"] - talking["at"], abs=0.6)
        for tone in (CALLER_TONE, AGENT_TONE):
            assert goertzel(samples, tone) > max(1e5, 50 * goertzel(samples, CONTROL)), tone
