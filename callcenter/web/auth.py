"""Logging in and out: the login form, the session's user, the home redirect."""

from __future__ import annotations

import structlog
from aiohttp import web

from callcenter.accounts.exceptions import AccountLocked, LoginFailed
from callcenter.web import keys as web_keys
from callcenter.web.pages import home_of, render
from callcenter.web.security import (
    USER_KEY,
    client_address,
    csrf_token,
    current_user,
    session_of,
    start_session,
    user_json,
)

log = structlog.get_logger(__name__)

MAX_FIELD = 256  # longer names or passwords are refused before any hashing


def add_routes(app: web.Application) -> None:
    """Register the login, logout, home and who-am-I routes."""
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/", home)
    app.router.add_get("/api/me", me)


def _safe_next(target: str | None) -> str | None:
    """A local path to go back to after login (never another site)."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")) and "\n" not in target:
        return target
    return None


def _login_page(request: web.Request, error: str = "", status: int = 200, username: str = "") -> web.Response:
    next_path = _safe_next(request.query.get("next")) or ""
    return render(
        "login.html",
        status=status,
        csrf=csrf_token(session_of(request)),
        error=error,
        next=next_path,
        username=username,
    )


async def login_form(request: web.Request) -> web.StreamResponse:
    """The login form (a logged-in user goes home)."""
    user = request.get(USER_KEY)
    if user is not None:
        raise web.HTTPFound(home_of(user.role))
    return _login_page(request)


async def login(request: web.Request) -> web.StreamResponse:
    """Check name and password; a fresh session and the user's home page, or the form again."""
    form = await request.post()
    username = str(form.get("username", ""))[:MAX_FIELD]
    password = str(form.get("password", ""))
    address = client_address(request)
    throttle = request.app[web_keys.THROTTLE]
    if throttle.blocked(address):
        log.warning("web.login_throttled", address=address)
        return _login_page(request, "throttled", 429, username)
    if len(password) > MAX_FIELD:
        throttle.failed(address)
        return _login_page(request, "failed", 401, username)
    try:
        user = await request.app[web_keys.ACCOUNTS].authenticate(username, password)
    except AccountLocked:
        throttle.failed(address)
        return _login_page(request, "locked", 423, username)
    except LoginFailed:
        throttle.failed(address)
        return _login_page(request, "failed", 401, username)
    throttle.succeeded(address)
    await start_session(request, user)
    target = _safe_next(str(form.get("next", ""))) or home_of(user.role)
    raise web.HTTPFound(target)


async def logout(request: web.Request) -> web.StreamResponse:
    """End the session (its websockets too) and show the login form."""
    user = current_user(request)
    session_of(request).invalidate()
    request.app[web_keys.HUB].disconnect_user(user.id)
    log.info("web.logout", user=user.username)
    raise web.HTTPFound("/login")


async def home(request: web.Request) -> web.StreamResponse:
    """The user's home page."""
    raise web.HTTPFound(home_of(current_user(request).role))


async def me(request: web.Request) -> web.Response:
    """Who is logged in, and the CSRF token scripts send back."""
    user = current_user(request)
    return web.json_response({"user": user_json(user), "csrf": csrf_token(session_of(request))})

