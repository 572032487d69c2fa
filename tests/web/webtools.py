"""Helpers of the web tests: the whole controller app (no Asterisk needed), users, logged-in clients, a browser."""

from __future__ import annotations

import re
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from callcenter import settings as cc_settings
from callcenter.app import create_app
from callcenter.web import keys as web_keys

PASSWORD = "correct horse battery"
USERS = {  # name -> (role, agent)
    "op1": ("operator", "1001"),
    "op2": ("operator", "1002"),
    "boss": ("supervisor", None),
    "root": ("admin", None),
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def component_settings(state_dir: Path, **web: object) -> cc_settings.Settings:
    """Settings whose AMI points at a closed port: the web side runs without Asterisk."""
    lines = [
        f'state_dir = "{state_dir}"',
        "[ami]", f"port = {free_port()}", "reconnect_delay = 60",
        "[agi]", f"port = {free_port()}",
        "[web]", f"port = {free_port()}", *(f"{k} = {v!r}".replace("'", '"') for k, v in web.items()),
        "[ivr]", "enabled = false",
        "[acd]", "wrap_up = 0", "sla_guard_after = 0",
    ]
    for agent in ("1001", "1002"):
        lines += ["[[agents]]", f'id = "{agent}"', f'name = "坐席{agent[-2:]}"']
    path = state_dir / "web-test.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return cc_settings.load(path, env={})


@pytest.fixture
async def app_client(tmp_path: Path) -> AsyncIterator[TestClient]:
    """A test client of the whole controller app, with the USERS accounts created."""
    settings = component_settings(tmp_path)
    app = create_app(settings)
    async with TestClient(TestServer(app)) as client:
        accounts = app[web_keys.ACCOUNTS]
        for name, (role, agent) in USERS.items():
            await accounts.create(name, PASSWORD, role, agent_id=agent, display_name=name.upper())
        yield client


def csrf_of(page: str) -> str:
    """The CSRF token a page carries in its meta tag or login form."""
    match = re.search(r'name="csrf-token" content="([^"]+)"', page) or re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "no CSRF token on the page"
    return match.group(1)


async def login(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Log ``client`` in through the real form; returns the session's CSRF token."""
    form = await (await client.get("/login")).text()
    response = await client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_of(form)},
        allow_redirects=False,
    )
    assert response.status == 302, await response.text()
    me = await (await client.get("/api/me")).json()
    return me["csrf"]


# -- a real browser (Debian's chromium driven by Playwright; browsers are never downloaded) -------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",  # root in a container has no user namespaces for the sandbox
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts" / "web"


@pytest.fixture
async def browser():
    """A headless Chromium (skipped when Debian's chromium or Playwright is missing)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    playwright_api = pytest.importorskip("playwright.async_api")
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            await browser.close()


async def browser_login(browser, base_url: str, username: str, password: str = PASSWORD, lang: str = "zh"):
    """A new browser context logged in through the login form; returns its page."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    page = await context.new_page()
    page.on("console", lambda msg: print(f"[{username} console] {msg.type}: {msg.text}"))
    page.on("pageerror", lambda err: print(f"[{username} pageerror] {err}"))
    await page.goto(f"{base_url}/login")
    if lang != "zh":
        await page.evaluate("lang => localStorage.setItem('hotline.lang', lang)", lang)
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.press("#password", "Enter")
    await page.wait_for_load_state("domcontentloaded")
    return page


def artifact(name: str) -> str:
    """Where a test saves a screenshot (kept after the run, outside git)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return str(ARTIFACTS / name)


# Records what the desk does to alert the operator: each Notification it creates (and whether it
# closed it) in window.__notes, each tone it starts in window.__tones.  The page is unchanged.
RECORDER = """
(() => {
  window.__notes = [];
  window.__tones = 0;
  const Real = window.Notification;
  if (Real) {
    class Recorded extends Real {
      constructor(title, options) {
        super(title, options);
        this.__entry = { title, body: (options && options.body) || "", tag: (options && options.tag) || "", closed: false };
        window.__notes.push(this.__entry);
      }
      close() { this.__entry.closed = true; return super.close(); }
    }
    Object.defineProperty(Recorded, "permission", { get: () => Real.permission });
    Recorded.requestPermission = (...args) => Real.requestPermission(...args);
    window.Notification = Recorded;
  }
  const start = OscillatorNode.prototype.start;
  OscillatorNode.prototype.start = function (...args) { window.__tones += 1; return start.apply(this, args); };
})();
"""
