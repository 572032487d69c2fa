"""Screen-pop latency: an operator's phone starts ringing -> the pop is visible in their browser.

    .venv/bin/python bench/screen_pop.py [--calls 20] [--root DIR]

Runs as root (the embedded Asterisk is chrooted).  It starts its own Asterisk instance
(``callcenter-popbench``: SIP 5090, AMI 5043, FastAGI 4578, web 8093) from the cached root, the
controller in this process, one operator account logged in to the operator desktop in a real
headless Chromium (Debian's /usr/bin/chromium driven by Playwright), the operator's baresip phone
(agent 1001, answering after 0.3 s) and a baresip caller.  Each call: the caller dials the hotline,
the ACD offers it to 1001, the page pops, the phone answers, the caller hangs up after 0.5 s.

Measured per call, all on this machine's wall clock:
- ``ring``: the operator's baresip phone reports ``CALL_INCOMING`` (its ctrl_tcp event, stamped on
  arrival in this process): the phone is ringing;
- ``shown``: the page's ``requestAnimationFrame`` after it drew the pop (``window.hotlinePops``):
  the next frame paints it;
- ``sent``: when the controller's hub put the pop on the websocket (the ACD's Offer).
``pop_after_ring_ms`` = shown - ring is the promise (< 200 ms); it can be negative: the pop leaves
on the Offer, before Asterisk has even sent the INVITE.  The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from callcenter import asterisk as embedded
from callcenter import keys
from callcenter import settings as cs
from callcenter.app import create_app
from callcenter.demo.softphone import Softphone
from callcenter.web import keys as web_keys

from _instance import run_exclusive

INSTANCE = "callcenter-popbench"
PORTS = {"sip": 5090, "ami": 5043, "agi": 4578, "web": 8093}
AGENT, CALLER = "1001", "2001"
PASSWORD = "bench password 1"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


def say(*parts: object) -> None:
    print(*parts, flush=True)


def bench_settings(state_dir: Path, root: str) -> cs.Settings:
    """Real cadence (1 s on, 4 s off), no wrap-up, no IVR: calls go straight to the ACD."""
    q = json.dumps
    lines = [
        f"node = {q('pbx-popbench')}", f"state_dir = {q(str(state_dir))}", 'log_format = "console"', 'log_level = "warning"',
        "[ami]", f"port = {PORTS['ami']}", "[agi]", f"port = {PORTS['agi']}", "[web]", f"port = {PORTS['web']}",
        "[acd]", "ring_on = 1.0", "ring_off = 4.0", "wrap_up = 0", "sla_guard_after = 0",
        "[ivr]", "enabled = false",
        "[asterisk]", f"root = {q(root)}", f"sip_port = {PORTS['sip']}", f"instance = {q(INSTANCE)}",
        f"queue_log = {q(f'{root}/var/log/{INSTANCE}-asterisk/queue_log')}", f"caller_endpoints = {q([CALLER])}",
        "[[agents]]", f"id = {q(AGENT)}", 'name = "坐席01"',
    ]
    path = state_dir / "popbench.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return cs.load(path, env={})


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    root = args.root or cs.AsteriskSettings().root
    state = Path(tempfile.mkdtemp(prefix="popbench-"))
    settings = bench_settings(state, root)
    embedded.ensure_root(settings)
    embedded.stop(settings)
    embedded.start(settings)
    runner: web.AppRunner | None = None
    phones: list[Softphone] = []
    try:
        app = create_app(settings)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, settings.web.host, settings.web.port).start()
        if not await app[keys.AMI].wait_connected(10):
            raise RuntimeError(f"no AMI: {app[keys.AMI].last_error}")
        await app[web_keys.ACCOUNTS].create("op1", PASSWORD, "operator", agent_id=AGENT)
        agent = settings.agent(AGENT)
        assert agent is not None
        operator_phone = Softphone(AGENT, agent.sip_password, settings.asterisk.sip_host, settings.asterisk.sip_port,
                                   answer="manual", answer_after=0.3)
        caller = Softphone(CALLER, cs.caller_password(settings, CALLER), settings.asterisk.sip_host, settings.asterisk.sip_port,
                           answer="manual")
        phones += [operator_phone, caller]
        for phone in phones:
            await phone.start()
        acd = app[keys.ADAPTER].acd
        await _until(lambda: AGENT in acd.agents and acd.agents[AGENT].state.value == "available", 10, "agent available")

        base = f"http://{settings.web.host}:{settings.web.port}"
        samples: list[dict[str, float]] = []
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            page = await browser.new_page()
            await page.goto(f"{base}/login")
            await page.fill("#username", "op1")
            await page.fill("#password", PASSWORD)
            await page.press("#password", "Enter")
            await page.wait_for_selector("#live-status[data-up='1']")
            await page.wait_for_selector("#state[data-state='available']")
            for n in range(args.calls):
                await caller.dial(settings.asterisk.hotline_number)
                incoming = await operator_phone.wait_event("CALL_INCOMING", timeout=15)
                ring_wall = time.time() - (time.monotonic() - incoming["at"])
                await operator_phone.wait_event("CALL_ESTABLISHED", timeout=15)
                pop = await _until_async(lambda: _pop_of(page, n), 5, "pop shown")
                samples.append({
                    "pop_after_ring_ms": pop["shown"] - ring_wall * 1000,
                    "pop_after_offer_ms": pop["shown"] - pop["sent"],
                    "ws_delivery_ms": pop["received"] - pop["sent"],
                })
                await asyncio.sleep(0.5)
                await caller.hangup()
                await caller.wait_event("CALL_CLOSED", timeout=10)
                await operator_phone.wait_event("CALL_CLOSED", timeout=10)
                await _until(lambda: acd.agents[AGENT].state.value == "available", 10, "agent free again")
                say(f"call {n + 1:2d}: pop {samples[-1]['pop_after_ring_ms']:7.1f} ms after ring, "
                    f"{samples[-1]['pop_after_offer_ms']:6.1f} ms after offer")
            await page.screenshot(path=str(state / "screen_pop_last.png"))
            await browser.close()
    finally:
        for phone in phones:
            with contextlib.suppress(Exception):
                await phone.stop()
            phone.cleanup()
        if runner is not None:
            await runner.cleanup()
        embedded.stop(settings)

    after_ring = [s["pop_after_ring_ms"] for s in samples]
    after_offer = [s["pop_after_offer_ms"] for s in samples]
    return {
        "calls": len(samples),
        "median_ms": round(statistics.median(after_ring), 1),
        "p95_ms": round(percentile(after_ring, 0.95), 1),
        "max_ms": round(max(after_ring), 1),
        "offer_to_pop_median_ms": round(statistics.median(after_offer), 1),
        "offer_to_pop_p95_ms": round(percentile(after_offer, 0.95), 1),
        "ws_delivery_median_ms": round(statistics.median(s["ws_delivery_ms"] for s in samples), 1),
        "within_200ms": sum(1 for v in after_ring if v < 200),
    }


async def _pop_of(page: Any, n: int) -> dict[str, float] | None:
    pops = await page.evaluate("window.hotlinePops")
    return pops[n] if len(pops) > n else None


async def _until(probe: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {timeout} s")
        await asyncio.sleep(0.02)


async def _until_async(probe: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {timeout} s")
        await asyncio.sleep(0.02)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--root", help="the cached Asterisk root (default: settings' asterisk.root)")
    args = parser.parse_args(argv)
    return run_exclusive(INSTANCE, args.root, lambda: run(args))

if __name__ == "__main__":
    sys.exit(main())
