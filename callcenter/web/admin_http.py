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
from callcenter.web import api, labels
from callcenter.web import keys as web_keys
from callcenter.web import schemas as s
from callcenter.web.api import requires
from callcenter.web.pages import page
from callcenter.web.security import current_user, user_json


def add_routes(app: web.Application) -> None:
    """Register the account management routes."""
    app.router.add_get("/admin/users", users_page)
    api.register(app, ROUTES)


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
    return page(request, "users.html", labels.text("title.users"))


@requires("admin")
async def list_users(request: web.Request) -> web.Response:
    """Every account."""
    users = await request.app[web_keys.ACCOUNTS].list()
    return web.json_response({"users": [_admin_json(u) for u in users]})


@requires("admin")
async def create_user(request: web.Request) -> web.Response:
    """Add an account."""
    body = await api.body(request, s.UserIn)
    try:
        user = await request.app[web_keys.ACCOUNTS].create(
            body.username, body.password, body.role, display_name=body.display_name, agent_id=body.agent_id or None
        )
    except AccountError as err:
        return api.error_json(409 if err.slug == "account.exists" else 400, err.slug, str(err))
    return web.json_response({"user": _admin_json(user)}, status=201)


@requires("admin")
async def update_user(request: web.Request) -> web.Response:
    """Change role, name, agent or active flag (an admin cannot demote or disable themself)."""
    body = (await api.body(request, s.UserPatch)).changes()
    user_id = api.path_id(request, what="account")
    me = current_user(request)
    if user_id == me.id and (body.get("role", me.role) != me.role or body.get("active") is False):
        return api.error_json(400, "account.self_lockout", "you cannot demote or disable your own account")
    active = body.get("active")
    agent_id = (body["agent_id"] or "") if "agent_id" in body else None  # null or "": no phone
    try:
        user = await request.app[web_keys.ACCOUNTS].update(
            user_id,
            role=body.get("role"),
            display_name=body.get("display_name"),
            agent_id=agent_id,
            active=active,
        )
    except AccountError as err:
        return api.error_json(404 if err.slug == "account.unknown" else 400, err.slug, str(err))
    if body.get("role") is not None or active is False:
        request.app[web_keys.HUB].disconnect_user(user.id)
    return web.json_response({"user": _admin_json(user)})


@requires("admin")
async def set_password(request: web.Request) -> web.Response:
    """Set a new password (the user's sessions end)."""
    body = await api.body(request, s.NewPassword)
    user_id = api.path_id(request, what="account")
    try:
        await request.app[web_keys.ACCOUNTS].set_password(user_id, body.password)
    except AccountError as err:
        return api.error_json(404 if err.slug == "account.unknown" else 400, err.slug, str(err))
    request.app[web_keys.HUB].disconnect_user(user_id)
    return web.json_response({"ok": True})


@requires("admin")
async def unlock(request: web.Request) -> web.Response:
    """End a lock-out."""
    try:
        await request.app[web_keys.ACCOUNTS].unlock(api.path_id(request, what="account"))
    except AccountError as err:
        return api.error_json(404, err.slug, str(err))
    return web.json_response({"ok": True, "at": dt.datetime.now(dt.UTC).isoformat()})


U = "accounts"
ROUTES: tuple[api.Route, ...] = (
    api.Route("GET", "/api/admin/users", list_users, "Every account (never a password hash)", U, response=s.Accounts),
    api.Route("POST", "/api/admin/users", create_user, "Add an account", U, body=s.UserIn, ok=(201,),
              response=s.AccountAnswer, errors={409: "the name is taken"}),
    api.Route("PATCH", "/api/admin/users/{id}", update_user, "Change role, name, phone or active flag", U,
              body=s.UserPatch, response=s.AccountAnswer),
    api.Route("POST", "/api/admin/users/{id}/password", set_password, "Set a new password (the user's sessions end)",
              U, body=s.NewPassword, response=s.Done),
    api.Route("POST", "/api/admin/users/{id}/unlock", unlock, "End a lock-out", U, response=s.Done),
)
