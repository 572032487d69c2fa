"""Logging in and out: the login form, the session's user, the home redirect."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote

import structlog
from aiohttp import web

from callcenter.accounts.exceptions import AccountLocked, LoginFailed
from callcenter.accounts.models import User
from callcenter.web import keys as web_keys
from callcenter.web.api import PUBLIC, public, requires, role_of
from callcenter.web.pages import home_of, render
from callcenter.web.security import (
    UNDECLARED,
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
NEXT_MAX = 2000
_NEXT_PATH = re.compile(r"/[A-Za-z0-9._~/-]*\Z")
_NEXT_QUERY = re.compile(r"[A-Za-z0-9._~!$'()*+,;=:@/?&%-]*\Z")
NOT_NEXT = frozenset({"/login", "/logout", "/health", "/favicon.ico", "/ws"})


def add_routes(app: web.Application) -> None:
    """Register the login, logout, home and who-am-I routes."""
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/", home)
    app.router.add_get("/api/me", me)


def safe_next(app: web.Application, target: str | None) -> str | None:
    """``target`` if it is a page of this app to go back to after login, else None (the role's home).

    Only a plain path of our own GET routes (no host, no "//", no backslash, no dot segments, no
    percent escapes in the path), optionally with a query of URL characters whose escapes decode to
    no control character: nothing a browser could read as another site (``/%09/evil.example``).
    """
    if not target or len(target) > NEXT_MAX:
        return None
    path, _, query = target.partition("?")
    if not _NEXT_PATH.match(path) or "//" in path or {".", ".."} & set(path.split("/")):
        return None
    if query and (not _NEXT_QUERY.match(query) or any(ch == "\\" or unicodedata.category(ch) == "Cc" for ch in unquote(query))):
        return None
    if path in NOT_NEXT or path.startswith(("/api/", "/static/")):
        return None
    return target if _is_page(app, path) else None


def _is_page(app: web.Application, path: str) -> bool:
    return page_role(app, path) is not None


def page_role(app: web.Application, path: str) -> str | None:
    """The role the GET route of ``path`` declares (None: no such page)."""
    for resource in app.router.resources():
        for route in resource:
            if route.method != "GET":
                continue
            info = resource.get_info()
            pattern = info.get("pattern")
            if info.get("path") == path or (pattern is not None and pattern.fullmatch(path)):
                return role_of(route.handler) or UNDECLARED
    return None


def _login_page(request: web.Request, error: str = "", status: int = 200, username: str = "") -> web.Response:
    next_path = safe_next(request.app, request.query.get("next")) or ""
    return render(
        request,
        "login.html",
        status=status,
        csrf=csrf_token(session_of(request)),
        error=error,
        next=next_path,
        username=username,
    )


def _may_open(app: web.Application, target: str, user: User) -> bool:
    role = page_role(app, target.partition("?")[0])
    return role is not None and (role == PUBLIC or user.at_least(role))


@public
async def login_form(request: web.Request) -> web.StreamResponse:
    """The login form (a logged-in user goes home)."""
    user = request.get(USER_KEY)
    if user is not None:
        raise web.HTTPFound(home_of(user.role))
    return _login_page(request)


@public
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
    except (AccountLocked, LoginFailed):
        # Locked, unknown or wrong: one answer (status, text, an argon2 hash's time), so the
        # lock-out does not tell which user names exist.
        throttle.failed(address)
        return _login_page(request, "failed", 401, username)
    throttle.succeeded(address)
    await start_session(request, user)
    target = safe_next(request.app, str(form.get("next", "")))
    if target is not None and not _may_open(request.app, target, user):
        target = None  # a page of a role above the user's (a specialist's old link to /agent): their home
    target = target or home_of(user.role)
    raise web.HTTPFound(target)


@requires("specialist")
async def logout(request: web.Request) -> web.StreamResponse:
    """End the session (its websockets too) and show the login form."""
    user = current_user(request)
    session = session_of(request)
    if isinstance(session.get("sid"), str):
        await request.app[web_keys.ACCOUNTS].close_session(session["sid"])  # a copy of the cookie dies too
    session.invalidate()
    request.app[web_keys.HUB].disconnect_user(user.id)
    log.info("web.logout", user=user.username)
    raise web.HTTPFound("/login")


@requires("specialist")
async def home(request: web.Request) -> web.StreamResponse:
    """The user's home page."""
    raise web.HTTPFound(home_of(current_user(request).role))


@requires("specialist")
async def me(request: web.Request) -> web.Response:
    """Who is logged in, and the CSRF token scripts send back."""
    user = current_user(request)
    return web.json_response({"user": user_json(user), "csrf": csrf_token(session_of(request))})

