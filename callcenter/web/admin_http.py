"""Admins manage accounts.

  GET   /admin/users                      the page
  GET   /api/admin/users                  every user (never a password hash)
  POST  /api/admin/users                  {"username", "password", "role", "display_name", "agent_id"}
  PATCH /api/admin/users/{id}             {"role", "display_name", "agent_id", "active"}
  POST  /api/admin/users/{id}/password    {"password"}: also ends the user's sessions
  POST  /api/admin/users/{id}/unlock      end a lock-out
"""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from callcenter.accounts.exceptions import AccountError
from callcenter.accounts.models import User
from callcenter.store.models import utcnow
from callcenter.web import keys as web_keys
from callcenter.web.agent_http import _json
from callcenter.web.exceptions import error_response
from callcenter.web.pages import page
from callcenter.web.security import current_user, requires, user_json


def add_routes(app: web.Application) -> None:
    """Register the account management routes."""
    app.router.add_get("/admin/users", users_page)
    app.router.add_get("/api/admin/users", list_users)
    app.router.add_post("/api/admin/users", create_user)
    app.router.add_patch("/api/admin/users/{id:\\d+}", update_user)
    app.router.add_post("/api/admin/users/{id:\\d+}/password", set_password)
    app.router.add_post("/api/admin/users/{id:\\d+}/unlock", unlock)


def _admin_json(user: User) -> dict:
    now = utcnow()
    return {
        **user_json(user),
        "active": user.active,
        "locked": bool(user.locked_until and user.locked_until > now),
        "last_login_at": user.last_login_at.isoformat() if user.last_login_at else None,
    }


@requires("admin")
async def users_page(request: web.Request) -> web.Response:
    """The accounts page."""
    return page(request, "users.html", "账号管理")


@requires("admin")
async def list_users(request: web.Request) -> web.Response:
    """Every account."""
    users = await request.app[web_keys.ACCOUNTS].list()
    return web.json_response({"users": [_admin_json(u) for u in users]})


@requires("admin")
async def create_user(request: web.Request) -> web.Response:
    """Add an account."""
    body = await _json(request)
    if isinstance(body, web.Response):
        return body
    try:
        user = await request.app[web_keys.ACCOUNTS].create(
            str(body.get("username", "")),
            str(body.get("password", "")),
            str(body.get("role", "")),
            display_name=str(body.get("display_name") or ""),
            agent_id=str(body.get("agent_id") or "") or None,
        )
    except AccountError as err:
        return error_response(409 if err.slug == "account.exists" else 400, err.slug, str(err))
    return web.json_response({"user": _admin_json(user)}, status=201)


@requires("admin")
async def update_user(request: web.Request) -> web.Response:
    """Change role, name, agent or active flag (an admin cannot demote or disable themself)."""
    body = await _json(request)
    if isinstance(body, web.Response):
        return body
    user_id = int(request.match_info["id"])
    me = current_user(request)
    if user_id == me.id and (body.get("role", me.role) != me.role or body.get("active") is False):
        return error_response(400, "account.self_lockout", "you cannot demote or disable your own account")
    active = body.get("active")
    try:
        user = await request.app[web_keys.ACCOUNTS].update(
            user_id,
            role=body.get("role"),
            display_name=body.get("display_name"),
            agent_id=body.get("agent_id"),
            active=bool(active) if active is not None else None,
        )
    except AccountError as err:
        return error_response(404 if err.slug == "account.unknown" else 400, err.slug, str(err))
    if body.get("role") is not None or active is False:
        request.app[web_keys.HUB].disconnect_user(user.id)
    return web.json_response({"user": _admin_json(user)})


@requires("admin")
async def set_password(request: web.Request) -> web.Response:
    """Set a new password (the user's sessions end)."""
    body = await _json(request)
    if isinstance(body, web.Response):
        return body
    user_id = int(request.match_info["id"])
    try:
        await request.app[web_keys.ACCOUNTS].set_password(user_id, str(body.get("password", "")))
    except AccountError as err:
        return error_response(404 if err.slug == "account.unknown" else 400, err.slug, str(err))
    request.app[web_keys.HUB].disconnect_user(user_id)
    return web.json_response({"ok": True})


@requires("admin")
async def unlock(request: web.Request) -> web.Response:
    """End a lock-out."""
    try:
        await request.app[web_keys.ACCOUNTS].unlock(int(request.match_info["id"]))
    except AccountError as err:
        return error_response(404, err.slug, str(err))
    return web.json_response({"ok": True, "at": dt.datetime.now(dt.UTC).isoformat()})
