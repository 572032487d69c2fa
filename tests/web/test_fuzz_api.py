"""Every JSON API fuzzed with schemathesis: no server error, no answer the document does not describe.

The whole controller app (no Asterisk; the IVR on) is served on a local port from a thread of its
own, with a few tickets and the sample knowledge base, on SQLite and, when ``HOTLINE_TEST_PG_URL``
is set, on a throw-away PostgreSQL database too.  The OpenAPI document it
serves (``/api/openapi.json``, from the routes' pydantic models) drives schemathesis, logged in
through the real form as an operator, a supervisor and an admin (session cookie + CSRF header).
Each operation gets ``FUZZ_EXAMPLES`` generated requests (default 10, about a minute on two cores);
``FUZZ_EXAMPLES=100 pytest tests/web/test_fuzz_api.py -s`` runs the long campaign and prints how
many requests went out and what they answered.

Checks on every answer: not a server error (5xx), the status code documented for the operation,
the content type documented, the body matching the documented schema.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import datetime as dt
import os
import re
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import schemathesis
from aiohttp import web
from harness.postgres import PG_ENV, backends, throwaway_database
from hypothesis import HealthCheck, given, settings
from schemathesis import Case, GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from webtools import PASSWORD, USERS, component_settings

from callcenter import keys
from callcenter.app import create_app
from callcenter.settings import DatabaseSettings
from callcenter.web import api
from callcenter.web import keys as web_keys
from callcenter.web.openapi import document

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))
REPEATABLE = "FUZZ_EXAMPLES" not in os.environ  # the suite's run is the same every time; a campaign is not
SKIPPED = ("/api/reports.pdf",)  # each request prints a PDF with Chromium: covered by the report tests
ROLE_USERS = {"operator": "op1", "supervisor": "boss", "admin": "root"}
TALLY: collections.Counter[str] = collections.Counter()


class Served:
    """The controller app on 127.0.0.1 from a thread with its own event loop."""

    def __init__(self, state: Path, database_url: str) -> None:
        base = component_settings(state)
        # sounds_dir: hotline messages made from KB entries build their prompts here, not into Asterisk's
        ivr = dataclasses.replace(base.ivr, enabled=True, sounds_dir=str(state / "sounds"))
        self.settings = dataclasses.replace(base, ivr=ivr, database=DatabaseSettings(url=database_url))
        self.url = f"http://127.0.0.1:{self.settings.web.port}"
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fuzz-server", daemon=True)
        self.runner: web.AppRunner | None = None

    def __enter__(self) -> Served:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(60)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    async def _start(self) -> None:
        app = create_app(self.settings)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.settings.web.port).start()
        for name, (role, agent) in USERS.items():
            await app[web_keys.ACCOUNTS].create(name, PASSWORD, role, agent_id=agent, display_name=name.upper())
        tickets = app[keys.TICKETS]
        now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30)
        for n, agent in enumerate(("1001", "1002", "1001"), 1):  # tickets 1-3, rung at op1's or op2's phone
            uid = f"fuzz.{n}"
            await tickets.open_for_arrival(uid, f"1380000000{n}", "", "PJSIP/x", now)
            await tickets.mark_answered(uid, agent, now + dt.timedelta(seconds=5))
            await tickets.mark_ended(uid, now + dt.timedelta(seconds=60), "agent")
        await tickets.flush(timeout=5)


def log_in(url: str, username: str) -> tuple[requests.Session, str]:
    """A requests session logged in through the real form, and its CSRF token."""
    session = requests.Session()
    form = session.get(f"{url}/login", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    answer = session.post(f"{url}/login", data={"username": username, "password": PASSWORD, "csrf_token": token},
                          allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    csrf = session.get(f"{url}/api/me", timeout=10).json()["csrf"]
    session.hooks["response"].append(lambda response, *args, **kwargs: TALLY.update([str(response.status_code)]))
    return session, csrf


def no_server_error(ctx, response, case):  # noqa: ANN001, ANN201  (a schemathesis check)
    """Schemathesis' not_a_server_error, but a 503 the operation documents (no Asterisk here) is its answer."""
    if response.status_code == 503 and "503" in case.operation.definition.raw.get("responses", {}):
        return None
    return not_a_server_error(ctx, response, case)


def documented_content_type(ctx, response, case):  # noqa: ANN001, ANN201  (a schemathesis check)
    """content_type_conformance, but aiohttp's HTTP parser refuses a request line beyond 8190 bytes
    itself (400, plain text) before the application sees the request."""
    if response.status_code == 400 and len(response.request.url) > 8000:
        return None
    return content_type_conformance(ctx, response, case)


CHECKS = [no_server_error, status_code_conformance, documented_content_type, response_schema_conformance]


def operations() -> list[tuple[str, str]]:
    """(method, path) of every documented operation, from the app's own routes (nothing started)."""
    app = create_app(component_settings(Path(tempfile.mkdtemp(prefix="fuzz-doc-"))))
    doc = document(app[api.ROUTES])
    return [(method.upper(), path) for path, ops in doc["paths"].items() for method in ops if path not in SKIPPED]


@pytest.fixture(scope="module", params=[f"{role}-{backend}" for backend in backends() for role in ROLE_USERS])
def fuzzed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A fresh app per role and database (SQLite; PostgreSQL too when configured), logged in, and its schema."""
    role, backend = request.param.split("-")
    state = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    with contextlib.ExitStack() as stack:
        url = f"sqlite+aiosqlite:///{state / 'callcenter.db'}"
        if backend == "postgresql":
            url = stack.enter_context(throwaway_database(os.environ[PG_ENV], f"cc_fuzz_{uuid.uuid4().hex[:12]}"))
        served = stack.enter_context(Served(state, url))
        session, csrf = log_in(served.url, ROLE_USERS[role])
        me = session.get(f"{served.url}/api/me", timeout=10).json()["user"]
        schema = schemathesis.openapi.from_dict(session.get(f"{served.url}/api/openapi.json", timeout=10).json())
        yield {"schema": schema, "session": session, "csrf": csrf, "me": me, "url": served.url}


@pytest.mark.parametrize(("method", "path"), operations())
def test_every_operation_answers_as_documented(fuzzed: dict, method: str, path: str) -> None:
    """No 5xx, and status, content type and body as the document says, for valid and invalid requests."""
    operation = fuzzed["schema"][path][method]
    strategy = operation.as_strategy(generation_mode=GenerationMode.POSITIVE)
    if operation.path_parameters or operation.query or operation.body:
        strategy |= operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)

    @given(case=strategy)
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None,
              derandomize=REPEATABLE)
    def run(case: Case) -> None:
        if _locks_itself_out(case, fuzzed["me"]):
            return  # an admin changing their own password ends the session the rest of the run needs
        case.call_and_validate(base_url=fuzzed["url"], session=fuzzed["session"],
                               headers={"X-CSRF-Token": fuzzed["csrf"]}, checks=CHECKS, timeout=30)

    run()


def _locks_itself_out(case: Case, me: dict) -> bool:
    own = str((case.path_parameters or {}).get("id")) == str(me["id"])
    return own and case.path.startswith("/api/admin/users/") and case.method.upper() in ("POST", "PATCH")


def teardown_module() -> None:
    served = sum(TALLY.values())
    errors = sum(n for status, n in TALLY.items() if status.startswith("5"))
    print(f"\nfuzz: {served} requests, {errors} answered 5xx (503: documented, no Asterisk here); "
          f"by status: {dict(sorted(TALLY.items()))}")
