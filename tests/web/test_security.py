"""Security of the web side on the whole app: anonymous users, roles, CSRF, lock-out, sessions, escaping."""

from __future__ import annotations

import re

from aiohttp import web

from callcenter.web import keys as web_keys
from webtools import PASSWORD, csrf_of, login

PUBLIC = {"/login", "/health"}


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
    assert response.status == 423  # locked: even the right password is refused
    assert 'data-error="locked"' in await response.text()
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
