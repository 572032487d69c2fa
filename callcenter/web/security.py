"""Who may do what on the web side: sessions, roles, CSRF, lock-out throttling, security headers.

Theory of operation
-------------------
- **Sessions** live in an encrypted, authenticated cookie (aiohttp-session's
  ``EncryptedCookieStorage``, Fernet: AES-CBC + HMAC) keyed from ``web.session_key``.  The cookie
  holds the user id, the user's ``session_epoch`` (bumped on password/role change: old cookies stop
  working), the id of the session's ``web_sessions`` row (logout deletes it: a copy of the old
  cookie stops working too), the CSRF token and when it was last used (idle timeout).  It is
  ``HttpOnly`` and ``SameSite=Strict``; ``Secure`` when ``web.cookie_secure``.
- **Default deny**: every route declares its role (``callcenter.web.api``: ``Route.role``,
  ``@requires(role)``, ``@public``) and needs that role or a higher one; only ``@public`` routes
  and the static files need no login; a route that declares nothing needs an admin.  Operators
  change only tickets of calls that rang their phone (``callcenter.web.guard``).
- **CSRF**: every request that is not GET/HEAD/OPTIONS must carry the session's token, in the
  ``X-CSRF-Token`` header (scripts) or a ``csrf_token`` form field (forms), and, when the browser
  sends an ``Origin``, come from this site.  Websockets are GETs: their upgrade must come from this
  site's Origin (no cross-site websocket hijacking) and carry the same session cookie.
- **Lock-out** is per account (``AccountService``); ``LoginThrottle`` adds a per-address brake so
  one address cannot try many names.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web
from aiohttp_session import Session, get_session, new_session
from aiohttp_session import setup as setup_sessions
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from callcenter import keys
from callcenter.accounts.models import User
from callcenter.web import keys as web_keys
from callcenter.web.api import PUBLIC, error_json, role_of

log = structlog.get_logger(__name__)

COOKIE_NAME = "hotline_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PUBLIC_PREFIXES = ("/static/",)  # the static files: no login, cached
UNROUTED_PUBLIC = frozenset({"/favicon.ico"})  # asked for by browsers on their own: a plain 404, no login page
UNDECLARED = "admin"  # the role a route that declares none needs (the route test keeps this from happening)
USER_KEY: web.RequestKey[User | None] = keys.USER  # read by other areas' handlers too (work orders)
SESSION_KEY: web.RequestKey[Session] = web.RequestKey("hotline_session", Session)
SEEN_GRANULARITY = 60.0  # seconds: "last used" is rewritten at most this often (fewer Set-Cookies)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def current_user(request: web.Request) -> User:
    """The logged-in user of a request that passed the auth middleware."""
    user = request.get(USER_KEY)
    if user is None:
        raise web.HTTPUnauthorized()
    return user


def cookie_key(session_key: str) -> bytes:
    """The 32-byte cookie encryption key derived from the configured session secret."""
    if not session_key:
        raise ValueError("web.session_key is empty")
    return hashlib.sha256(f"hotline-web-session:{session_key}".encode()).digest()


def csrf_token(session: Session) -> str:
    """The session's CSRF token (made on first use)."""
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


async def start_session(request: web.Request, user: User) -> Session:
    """A fresh session for ``user`` (a new cookie and CSRF token: no session fixation)."""
    accounts = request.app[web_keys.ACCOUNTS]
    old = request.get(SESSION_KEY)
    if old is not None and isinstance(old.get("sid"), str):
        await accounts.close_session(old["sid"])
    idle = dt.timedelta(minutes=request.app[keys.SETTINGS].web.session_idle_minutes)
    session = await new_session(request)
    session["uid"] = user.id
    session["sid"] = await accounts.open_session(user.id, idle=idle)
    session["epoch"] = user.session_epoch
    session["seen"] = time.time()
    csrf_token(session)
    return session


class LoginThrottle:
    """At most ``limit`` failed logins per client address in ``window`` seconds."""

    def __init__(self, limit: int = 20, window: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, address: str) -> deque[float]:
        now = self.clock()
        failures = self._failures.setdefault(address, deque())
        while failures and failures[0] < now - self.window:
            failures.popleft()
        return failures

    def blocked(self, address: str) -> bool:
        """True when this address failed too often lately."""
        return self.limit > 0 and len(self._recent(address)) >= self.limit

    def failed(self, address: str) -> None:
        """Count one failed login from ``address``."""
        self._recent(address).append(self.clock())
        if len(self._failures) > 10_000:  # bound memory against address-spraying
            self._failures = {a: f for a, f in self._failures.items() if f}

    def succeeded(self, address: str) -> None:
        """Forget the failures of ``address``."""
        self._failures.pop(address, None)


def setup_security(app: web.Application) -> None:
    """Install the header, session and access middlewares (in that order, outermost first)."""
    settings = app[keys.SETTINGS].web
    app.middlewares.append(security_headers)
    storage = EncryptedCookieStorage(
        cookie_key(settings.session_key),  # raw 32 bytes: the storage base64-encodes them for Fernet
        cookie_name=COOKIE_NAME,
        httponly=True,
        samesite="Strict",
        secure=settings.cookie_secure,
        max_age=None,  # a browser session; the server enforces the idle timeout
    )
    setup_sessions(app, storage)
    app.middlewares.append(access_control)
    app[web_keys.THROTTLE] = LoginThrottle()


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Headers that keep pages out of frames, scripts to our own files, and private data out of caches."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        response = exc
        _decorate(request, response)
        raise
    _decorate(request, response)
    return response


def _decorate(request: web.Request, response: web.StreamResponse) -> None:
    if response.prepared:  # websockets and streamed files have sent their headers already
        return
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")  # "no-referrer" makes Chromium send "Origin: null"
    if not request.path.startswith(PUBLIC_PREFIXES):
        headers.setdefault("Cache-Control", "no-store")


@web.middleware
async def access_control(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Default deny: a logged-in user with the route's role, and a CSRF token on every change."""
    path = request.path
    role = "" if path.startswith(PUBLIC_PREFIXES) else _route_role(request)
    public = role in ("", PUBLIC)
    if public and request.method in SAFE_METHODS and path != "/login":
        return await handler(request)  # static files and health: no session needed
    session = await get_session(request)
    request[SESSION_KEY] = session
    user = await _session_user(request, session)
    request[USER_KEY] = user
    if not public:
        if user is None:
            return _unauthenticated(request)
        refused = role_refusal(user, role, path)
        if refused is not None:
            return refused
    if not _same_origin(request):
        log.warning("web.cross_origin_refused", path=path, origin=request.headers.get("Origin"))
        return error_json(403, "web.bad_origin", "request from another site refused")
    if request.method not in SAFE_METHODS and not await _csrf_ok(request, session):
        log.warning("web.csrf_refused", path=path, user=user.username if user else None)
        return error_json(403, "web.csrf", "missing or wrong CSRF token: reload the page")
    return await handler(request)


async def _session_user(request: web.Request, session: Session) -> User | None:
    """The session's user if the session is current, the user active and the epoch unchanged."""
    uid = session.get("uid")
    if uid is None:
        return None
    settings = request.app[keys.SETTINGS].web
    now = time.time()
    seen = float(session.get("seen", 0))
    if now - seen > settings.session_idle_minutes * 60:
        session.invalidate()
        return None
    sid = session.get("sid")
    user = await request.app[web_keys.ACCOUNTS].session_user(sid) if isinstance(sid, str) else None
    if user is None or user.id != uid or not user.active or user.session_epoch != session.get("epoch"):
        session.invalidate()
        return None
    if now - seen > SEEN_GRANULARITY:
        session["seen"] = now
    return user


def role_refusal(user: User, role: str, path: str) -> web.Response | None:
    """The logged 403 for a user below ``role``; None when they may."""
    if user.at_least(role):
        return None
    log.warning("web.forbidden", user=user.username, role=user.role, needs=role, path=path)
    return error_json(403, "web.forbidden", f"this needs the {role} role")


async def request_user(request: web.Request) -> User | None:
    """The current session's user, for a public route that answers more to some (the middleware loads no session there)."""
    return await _session_user(request, await get_session(request))


def _route_role(request: web.Request) -> str:
    """The role the matched route declares; a path no route matches needs a login (then 404 or 405)."""
    if request.match_info.http_exception is not None:
        return PUBLIC if request.path in UNROUTED_PUBLIC else "operator"
    role = role_of(request.match_info.handler)
    if role is None:
        log.error("web.route_undeclared", path=request.path, method=request.method)
        return UNDECLARED
    return role


def _unauthenticated(request: web.Request) -> web.StreamResponse:
    if request.path.startswith(("/api/", "/ws")) or request.method not in SAFE_METHODS:
        return error_json(401, "web.login_required", "log in first")
    raise web.HTTPFound(f"/login?next={_quote(request.path_qs)}")


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


def _same_origin(request: web.Request) -> bool:
    """False when the browser says the request comes from another site (Origin or Sec-Fetch-Site)."""
    origin = request.headers.get("Origin")
    if origin is not None and origin != "null":
        return origin == f"{request.scheme}://{request.host}"
    if origin == "null":
        return False
    site = request.headers.get("Sec-Fetch-Site")
    return site in (None, "same-origin", "none")


async def _csrf_ok(request: web.Request, session: Session) -> bool:
    expected = session.get("csrf")
    if not expected:
        return False
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()  # cached by aiohttp: the handler reads it again for free
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    return sent is not None and hmac.compare_digest(sent.encode(), str(expected).encode())


def client_address(request: web.Request) -> str:
    """The peer address (no proxy headers are trusted)."""
    return request.remote or "?"


def session_of(request: web.Request) -> Session:
    """The session the access middleware loaded for this request."""
    return request[SESSION_KEY]


def user_json(user: User) -> dict[str, Any]:
    """What pages may know about a user."""
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "agent_id": user.agent_id,
    }
