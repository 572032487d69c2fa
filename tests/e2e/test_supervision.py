"""Listen, whisper, barge on the real Asterisk with real SIP phones (issue 15, docs/supervision.md).

The caller's phone sends one tone, the operator's another, the supervisor's a third; each phone
keeps what it heard (baresip's sndfile, the ``-dec.wav``).  Over one call the supervisor listens,
then whispers, then barges in, switching from the API; what each phone heard in each stretch is
measured with a Goertzel filter.  A second session's phone hangs up on its own: the operator's call
and the ACD go on untouched.  The ticket's history lists both sessions.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path

import pytest
import structlog
from harness import eventually
from harness.audio import read_wav, received_audio
from web.webtools import browser  # noqa: F401  (the Chromium fixture of the web tests)

from callcenter import keys
from callcenter.demo.softphone import Softphone, write_tone_wav
from callcenter.settings import caller_password
from callcenter.web import keys as web_keys
from callcenter.workorders import keys as wo_keys

pytestmark = pytest.mark.e2e

CALLER_TONE, AGENT_TONE, BOSS_TONE, CONTROL = 600.0, 1400.0, 1000.0, 2300.0  # Hz; CONTROL is in no phone's signal
PASSWORD = "correct horse battery"
STRETCH = 3.0  # seconds in each mode


def goertzel(samples: list[float], freq: float, rate: int = 8000) -> float:
    """Power of ``freq`` in ``samples`` (normalised by length)."""
    import math

    coeff = 2 * math.cos(2 * math.pi * freq / rate)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coeff * s1 - s2, s1
    return (s1 * s1 + s2 * s2 - coeff * s1 * s2) / max(1, len(samples)) ** 2


class Heard:
    """What one phone heard, cut into stretches by the test's own clock."""

    def __init__(self, directory: Path, established_at: float) -> None:
        self.samples, self.rate = read_wav(received_audio(directory))
        self.start = established_at

    def window(self, a: float, b: float) -> list[float]:
        """Samples heard between monotonic times ``a`` and ``b`` (a margin cut from each end)."""
        lo, hi = int((a - self.start + 0.6) * self.rate), int((b - self.start - 0.3) * self.rate)
        assert hi - lo > self.rate, f"stretch too short ({lo}..{hi} of {len(self.samples)})"
        return self.samples[lo:hi]


def hears(samples: list[float], tone: float) -> bool:
    # Each phone sends amplitude 2000, half a second on and off: ~2.5e5 over a stretch, far above CONTROL.
    return goertzel(samples, tone) > max(3e4, 50 * goertzel(samples, CONTROL))


def silent_of(samples: list[float], tone: float) -> bool:
    return goertzel(samples, tone) < 3e3


async def login(client, base: str, username: str) -> str:
    import re

    form = await (await client.get(f"{base}/login")).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    response = await client.post(f"{base}/login", allow_redirects=False,
                                 data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert response.status == 302, await response.text()
    return (await (await client.get(f"{base}/api/me")).json())["csrf"]


@contextlib.asynccontextmanager
async def http_as(controller, username: str):
    import aiohttp

    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        csrf = await login(client, controller.url, username)

        async def call(method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
            response = await client.request(method, f"{controller.url}{path}", json=body, headers={"X-CSRF-Token": csrf})
            return response.status, await response.json()

        yield call, client


async def test_listen_whisper_barge_each_heard_by_the_right_phones_and_logged_on_the_ticket(
        asterisk, controller_factory, phone_factory, tmp_path):
    controller = await controller_factory()
    accounts = controller[web_keys.ACCOUNTS]
    await accounts.create("boss", PASSWORD, "supervisor", agent_id="3001")
    await accounts.create("nophone", PASSWORD, "supervisor")
    await accounts.create("op1", PASSWORD, "operator", agent_id="1001")
    dirs = {name: tmp_path / name for name in ("agent", "caller", "boss")}
    for name, tone in (("agent", AGENT_TONE), ("caller", CALLER_TONE), ("boss", BOSS_TONE)):
        dirs[name].mkdir()
        write_tone_wav(dirs[name] / "source.wav", freq=tone)
    agent = await phone_factory("1001", answer="manual", workdir=dirs["agent"], record_to=dirs["agent"] / "rec")
    caller = await phone_factory("2001", answer="manual", workdir=dirs["caller"], record_to=dirs["caller"] / "rec")
    boss = Softphone("3001", caller_password(asterisk, "3001"), asterisk.asterisk.sip_host, asterisk.asterisk.sip_port,
                     answer="manual", workdir=dirs["boss"], record_to=dirs["boss"] / "rec")
    await boss.start()
    adapter = controller[keys.ADAPTER]
    try:
        await eventually(lambda: "1001" in adapter.acd.agents and adapter.acd.agents["1001"].state == "available",
                         timeout=5, message="operator 1001 available")
        async with http_as(controller, "boss") as (sup, _), http_as(controller, "op1") as (op, op_client), \
                http_as(controller, "nophone") as (nophone, _):
            # The operator's desk: [supervision] show_operator (default true) shows 监听中 while a supervisor is on.
            desk = await op_client.ws_connect(f"{controller.url}/ws")
            shown: list[bool] = []

            async def read_desk() -> None:
                async for msg in desk:
                    data = json.loads(msg.data)
                    if data.get("type") == "supervision":
                        shown.append(data["active"])

            reader = asyncio.create_task(read_desk())
            # Nobody on a call yet: a clear refusal.
            status, body = await sup("POST", "/api/supervision/sessions", {"agent_id": "1001", "mode": "listen"})
            assert (status, body["error"]) == (409, "supervision.not_on_call"), body

            await caller.dial(asterisk.asterisk.hotline_number)
            await agent.wait_event("CALL_INCOMING", timeout=10)
            await agent.accept()
            agent_up = (await agent.wait_event("CALL_ESTABLISHED", timeout=5))["at"]
            caller_up = (await caller.wait_event("CALL_ESTABLISHED", timeout=5))["at"]
            call_id = await eventually(lambda: adapter.acd.agents["1001"].call_id
                                       if adapter.acd.agents["1001"].state == "on_call" else None,
                                       timeout=5, message="operator on the call")

            # An operator cannot, and the attempt is logged with who and whom.
            with structlog.testing.capture_logs() as logs:
                status, body = await op("POST", "/api/supervision/sessions", {"agent_id": "1001", "mode": "listen"})
            assert (status, body["error"]) == (403, "supervision.forbidden"), body
            assert any(e["event"] == "supervision.refused" and e["user"] == "op1" and e["agent"] == "1001"
                       and e["log_level"] == "warning" for e in logs), logs
            # Bad input gets a clear 4xx.
            status, body = await nophone("POST", "/api/supervision/sessions", {"agent_id": "1001", "mode": "listen"})
            assert (status, body["error"]) == (409, "supervision.no_phone"), body
            status, body = await sup("POST", "/api/supervision/sessions", {"agent_id": "1099", "mode": "listen"})
            assert (status, body["error"]) == (404, "supervision.unknown_operator"), body
            status, body = await sup("POST", "/api/supervision/sessions", {"agent_id": "1001", "mode": "shout"})
            assert status == 400 and body["problems"][0]["field"] == "mode", body

            # Listen: the supervisor's phone rings and answers.
            status, body = await sup("POST", "/api/supervision/sessions", {"agent_id": "1001", "mode": "listen"})
            assert status == 201, body
            session = body["session"]
            assert session["call_id"] == call_id and session["phone"] == "3001"
            await boss.wait_event("CALL_INCOMING", timeout=10)
            await boss.accept()
            boss_up = (await boss.wait_event("CALL_ESTABLISHED", timeout=5))["at"]
            await eventually(lambda: controller[web_keys.SUPERVISION].sessions[session["id"]].answered_at,
                             timeout=5, message="session answered")
            marks = {"listen": time.monotonic()}
            await asyncio.sleep(STRETCH)
            for mode in ("whisper", "barge"):
                status, body = await sup("POST", f"/api/supervision/sessions/{session['id']}/mode", {"mode": mode})
                assert status == 200 and body["session"]["mode"] == mode, body
                marks[mode] = time.monotonic()
                await asyncio.sleep(STRETCH)
            marks["end"] = time.monotonic()
            status, body = await sup("DELETE", f"/api/supervision/sessions/{session['id']}")
            assert status == 200 and body["session"]["end_reason"] == "ended", body
            await boss.wait_event("CALL_CLOSED", timeout=5)

            # A second session whose phone hangs up by itself: the call and the ACD go on untouched.
            status, body = await sup("POST", "/api/supervision/sessions", {"agent_id": "1001", "mode": "barge"})
            assert status == 201, body
            second = body["session"]
            await boss.wait_event("CALL_INCOMING", timeout=10)
            await boss.accept()
            await boss.wait_event("CALL_ESTABLISHED", timeout=5)
            await asyncio.sleep(1.0)
            await boss.hangup()
            await eventually(lambda: not controller[web_keys.SUPERVISION].sessions[second["id"]].active,
                             timeout=5, message="the dropped leg ends its session")
            assert controller[web_keys.SUPERVISION].sessions[second["id"]].end_reason == "hung_up"
            await asyncio.sleep(1.0)
            operator = adapter.acd.agents["1001"]
            assert (operator.state, operator.call_id) == ("on_call", call_id)
            assert not [e for e in agent.events + caller.events if e.get("type") == "CALL_CLOSED"]
            assert adapter.violations() == []

            await agent.hangup()
            await caller.wait_event("CALL_CLOSED", timeout=5)
            assert shown == [True, False, True, False], shown
            reader.cancel()
            await desk.close()
    finally:
        await boss.stop()
        boss.cleanup()
    await agent.stop()  # sndfile closes its files when the phone stops
    await caller.stop()

    heard_boss = Heard(dirs["boss"] / "rec", boss_up)
    heard_agent = Heard(dirs["agent"] / "rec", agent_up)
    heard_caller = Heard(dirs["caller"] / "rec", caller_up)
    stretches = {"listen": (marks["listen"], marks["whisper"]), "whisper": (marks["whisper"], marks["barge"]),
                 "barge": (marks["barge"], marks["end"])}
    figures = {}
    for mode, (a, b) in stretches.items():
        boss_w, agent_w, caller_w = heard_boss.window(a, b), heard_agent.window(a, b), heard_caller.window(a, b)
        figures[mode] = {
            "boss_hears_caller": goertzel(boss_w, CALLER_TONE), "boss_hears_agent": goertzel(boss_w, AGENT_TONE),
            "agent_hears_boss": goertzel(agent_w, BOSS_TONE), "caller_hears_boss": goertzel(caller_w, BOSS_TONE),
            "caller_hears_agent": goertzel(caller_w, AGENT_TONE),
        }
        print(mode, {k: round(v) for k, v in figures[mode].items()})
        # The supervisor hears both sides in every mode; the call itself goes on.
        assert hears(boss_w, CALLER_TONE) and hears(boss_w, AGENT_TONE), (mode, figures[mode])
        assert hears(caller_w, AGENT_TONE), (mode, figures[mode])
    assert silent_of(heard_agent.window(*stretches["listen"]), BOSS_TONE), figures["listen"]
    assert silent_of(heard_caller.window(*stretches["listen"]), BOSS_TONE), figures["listen"]
    assert hears(heard_agent.window(*stretches["whisper"]), BOSS_TONE), figures["whisper"]
    assert silent_of(heard_caller.window(*stretches["whisper"]), BOSS_TONE), figures["whisper"]
    assert hears(heard_agent.window(*stretches["barge"]), BOSS_TONE), figures["barge"]
    assert hears(heard_caller.window(*stretches["barge"]), BOSS_TONE), figures["barge"]

    # The ticket's history lists both sessions: who, the modes in order, from and to.
    ticket = await eventually(lambda: controller[keys.TICKETS].get(call_id), timeout=5, message="the ticket")
    work = await controller[wo_keys.WORKORDERS].get(ticket.id)
    logged = [c for c in work["contacts"] if c["kind"] == "supervision"]
    assert [(c["agent_id"], c["number"], c["outcome"], c["text"]) for c in logged] == [
        ("boss", "3001", "ended", "listen → whisper → barge"), ("boss", "3001", "hung_up", "barge")], logged
    first = logged[0]["details"]
    assert first["agent_id"] == "1001" and [m["mode"] for m in first["modes"]] == ["listen", "whisper", "barge"]
    assert first["started_at"] and first["answered_at"] and first["ended_at"] and first["ended_by"] == "boss"


async def test_from_the_wallboard_the_supervisor_listens_switches_and_ends_and_the_desk_shows_it(
        asterisk, controller_factory, phone_factory, browser):  # noqa: F811  (the fixture imported above)
    """In Chromium: the wallboard's buttons on the operator's row; the operator's desk shows 监听中 meanwhile."""
    from web.webtools import artifact, browser_login

    controller = await controller_factory()
    accounts = controller[web_keys.ACCOUNTS]
    await accounts.create("boss", PASSWORD, "supervisor", agent_id="3001")
    await accounts.create("op1", PASSWORD, "operator", agent_id="1001")
    agent = await phone_factory("1001", answer="manual")
    caller = await phone_factory("2002", answer="manual")
    boss = Softphone("3001", caller_password(asterisk, "3001"), asterisk.asterisk.sip_host, asterisk.asterisk.sip_port,
                     answer="auto")
    await boss.start()
    adapter = controller[keys.ADAPTER]
    try:
        await eventually(lambda: "1001" in adapter.acd.agents and adapter.acd.agents["1001"].state == "available",
                         timeout=5, message="operator 1001 available")
        desk = await browser_login(browser, controller.url, "op1")
        wallboard = await browser_login(browser, controller.url, "boss")
        assert wallboard.url.endswith("/wallboard")
        row = "#agents tr[data-agent='1001']"
        await wallboard.wait_for_selector(row)
        assert await wallboard.locator(f"{row} button[data-spy]").count() == 0  # not on a call: no buttons

        await caller.dial(asterisk.asterisk.hotline_number)
        await agent.wait_event("CALL_INCOMING", timeout=10)
        await agent.accept()
        await caller.wait_event("CALL_ESTABLISHED", timeout=5)
        await wallboard.wait_for_selector(f"{row}[data-state='on_call'] button[data-spy='listen']")
        assert await desk.locator("#supervised").is_hidden()

        await wallboard.click(f"{row} button[data-spy='listen']")
        await boss.wait_event("CALL_ESTABLISHED", timeout=10)  # the supervisor's own phone rang and answered
        await wallboard.wait_for_selector(f"{row} .spy-mode[data-mode='listen']:has-text('监听中')")
        await desk.wait_for_selector("#supervised:has-text('监听中')", state="visible")
        await wallboard.click(f"{row} button[data-spy='whisper']")
        await wallboard.wait_for_selector(f"{row} .spy-mode[data-mode='whisper']:has-text('耳语中')")
        await wallboard.screenshot(path=artifact("supervision-wallboard.png"))
        await wallboard.click(f"{row} button[data-spy='end']")
        await boss.wait_event("CALL_CLOSED", timeout=5)
        await wallboard.wait_for_selector(f"{row} button[data-spy='listen']")
        await desk.wait_for_selector("#supervised", state="hidden")
        assert await wallboard.locator("#wb-error").text_content() == ""
        call_id = adapter.acd.agents["1001"].call_id
        assert adapter.acd.agents["1001"].state == "on_call"
        await agent.hangup()
        await caller.wait_event("CALL_CLOSED", timeout=5)
    finally:
        await boss.stop()
        boss.cleanup()
    ticket = await controller[keys.TICKETS].get(call_id)
    work = await controller[wo_keys.WORKORDERS].get(ticket.id)
    logged = [(c["agent_id"], c["text"], c["outcome"]) for c in work["contacts"] if c["kind"] == "supervision"]
    assert logged == [("boss", "listen → whisper", "ended")]
