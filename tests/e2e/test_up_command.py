"""`callcenter up` (what `./hotline up` runs) brings the whole engine up on its embedded default:
Asterisk, controller, web server, demo phones; /health says AMI is connected; the demo call gets a
ticket; SIGTERM stops everything."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sqlite3
import sys
from pathlib import Path

import aiohttp
import pytest

from callcenter import asterisk as embedded
from callcenter.settings import load
from harness import eventually

pytestmark = pytest.mark.e2e

CONFIG = """
node = "pbx-up"
state_dir = "{state}"
[ami]
port = 5043
[agi]
port = 4577
[web]
port = 8093
[asterisk]
instance = "callcenter-uptest"
sip_port = 5084
queue_log = "{root}/var/log/callcenter-uptest-asterisk/queue_log"
caller_endpoints = ["2901"]
[[agents]]
id = "1901"
[[agents]]
id = "1902"
"""


async def test_up_serves_health_and_the_demo_call_gets_a_ticket(asterisk, tmp_path: Path):
    root = asterisk.asterisk.root  # the cached root the test Asterisk already proved usable
    config = tmp_path / "up.toml"
    text = CONFIG.format(state=tmp_path / "state", root=root)
    config.write_text(text.replace("[asterisk]\n", f'[asterisk]\nroot = "{root}"\n'))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "callcenter", "--config", str(config), "up",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    output = bytearray()

    async def collect():
        while chunk := await process.stdout.read(4096):
            output.extend(chunk)

    collector = asyncio.create_task(collect())
    settings = load(config, env={})
    try:
        async def healthy():
            try:
                async with aiohttp.ClientSession() as http:
                    async with http.get("http://127.0.0.1:8093/health") as response:
                        body = await response.json()
                        # the public answer: ok means AMI answers pings and the database is fine
                        return body if response.status == 200 and body["status"] == "ok" else None
            except aiohttp.ClientError:
                return None

        try:
            body = await eventually(healthy, timeout=60, interval=0.5, message="health OK")
        except AssertionError as err:
            raise AssertionError(f"{err}\n--- callcenter up said:\n{output.decode(errors='replace')[-3000:]}") from None
        assert body == {"status": "ok", "node": "pbx-up", "role": "leader"}  # details only for a logged-in supervisor
        assert b"http://127.0.0.1:8093/health" in output  # it prints where to look

        db = tmp_path / "state" / "callcenter.db"

        def demo_ticket():
            with sqlite3.connect(db) as conn:
                return conn.execute(
                    "select caller_number, agent_id, call_status from tickets where ended_at is not null"
                ).fetchall()

        rows = await eventually(demo_ticket, timeout=60, interval=0.5, message="demo call ticket")
        assert rows[0][0] == "2901" and rows[0][1] in ("1901", "1902") and rows[0][2] == "completed"

        # The demo accounts it created let a supervisor into the wallboard.
        accounts = {
            name: password
            for name, _role, password in (line.split("\t") for line in (tmp_path / "state" / "demo-accounts.txt").read_text().splitlines())
        }
        assert set(accounts) == {"admin", "supervisor", "operator", "specialist"}
        assert str(tmp_path / "state" / "demo-accounts.txt") in output.decode()
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:  # cookies for an IP host
            form = await (await http.get("http://127.0.0.1:8093/login")).text()
            token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
            response = await http.post(
                "http://127.0.0.1:8093/login",
                data={"username": "supervisor", "password": accounts["supervisor"], "csrf_token": token},
                allow_redirects=False,
            )
            assert response.status == 302
            wallboard = await http.get("http://127.0.0.1:8093/wallboard")
            assert wallboard.status == 200
        # ...and the demo specialist onto the 呼吸科 desk (and nowhere near the ACD).
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            form = await (await http.get("http://127.0.0.1:8093/login")).text()
            token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
            response = await http.post(
                "http://127.0.0.1:8093/login",
                data={"username": "specialist", "password": accounts["specialist"], "csrf_token": token},
                allow_redirects=False,
            )
            assert response.status == 302 and response.headers["Location"].endswith("/desk")
            desk = await (await http.get("http://127.0.0.1:8093/api/desk/tickets")).json()
            assert [d["name"] for d in desk["departments"]] == ["呼吸科"]
            assert (await http.get("http://127.0.0.1:8093/wallboard")).status == 403
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 30)
        await collector
    assert process.returncode == 0, output.decode(errors="replace")[-3000:]
    assert not embedded.is_running(settings)
