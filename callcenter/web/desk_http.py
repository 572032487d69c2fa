"""The departments' desk page (``/desk``), drawn by ``static/desk.js`` from ``/api/desk/...``
(``callcenter.workorders.desk_http``): a specialist's home; supervisors may open it too.  Also the
specialists' accounts: their departments and recordings grant, set by supervisors (and admins on
the users page) through ``/api/desk/specialists``."""

from __future__ import annotations

from typing import Any

import structlog
from aiohttp import web
from pydantic import Field

from callcenter.web import api, labels
from callcenter.web import keys as web_keys
from callcenter.web.api import Body, Id, Patch, Reply, requires
from callcenter.web.pages import page
from callcenter.web.security import current_user
from callcenter.workorders import keys as wo_keys

log = structlog.get_logger(__name__)


def add_routes(app: web.Application) -> None:
    """Register the desk page and the specialists' routes."""
    app.router.add_get("/desk", desk_page)
    api.register(app, ROUTES)


@requires("specialist")
async def desk_page(request: web.Request) -> web.Response:
    """The desk: the departments' escalated tickets, one ticket's history and the answers."""
    user = current_user(request)
    # Only asked for recordings when they may be played (a specialist without the grant gets 403).
    may_hear = user.at_least("operator") or bool(user.may_hear_recordings)
    return page(request, "desk.html", labels.text("title.desk"), may_hear=may_hear)


# -- specialists' departments and recordings grant (supervisors; the users page of admins too) -----


class Binding(Body):
    id: Id
    is_head: bool = False


class SpecialistChange(Patch):
    departments: list[Binding] = Field(default_factory=list, max_length=200,
                                       description="exactly these departments (is_head: the department's head)")
    may_hear_recordings: bool = Field(False, description="may play recordings of their departments' tickets")


class SpecialistAccount(Reply):
    id: int
    username: str
    display_name: str
    active: bool
    may_hear_recordings: bool
    departments: list[dict[str, Any]]


class SpecialistList(Reply):
    specialists: list[SpecialistAccount]


def _specialist_json(user: Any, departments: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": user.id, "username": user.username, "display_name": user.display_name, "active": user.active,
            "may_hear_recordings": user.may_hear_recordings, "departments": departments}


@requires("supervisor")
async def list_specialists(request: web.Request) -> web.Response:
    """Every specialist account with its departments and recordings grant."""
    users = [u for u in await request.app[web_keys.ACCOUNTS].list() if u.role == "specialist"]
    bound = await request.app[wo_keys.DESK].departments_of([u.id for u in users])
    return web.json_response({"specialists": [_specialist_json(u, bound.get(u.id, [])) for u in users]})


@requires("supervisor")
async def change_specialist(request: web.Request) -> web.Response:
    """Set a specialist's departments (and heads) and whether they may hear their departments' recordings."""
    change = await api.body(request, SpecialistChange)
    user_id = api.path_id(request, what="account")
    accounts = request.app[web_keys.ACCOUNTS]
    user = await accounts.get(user_id)
    if user is None:
        return api.error_json(404, "account.unknown", f"no user with id {user_id}")
    if user.role != "specialist":
        return api.error_json(409, "desk.not_a_specialist",
                              f"{user.username} is {user.role}: departments and the recordings grant are a specialist's")
    fields = change.changes()
    if "departments" in fields:
        await request.app[wo_keys.DESK].set_departments(user_id, [(b.id, b.is_head) for b in change.departments])
    if "may_hear_recordings" in fields:
        user = await accounts.update(user_id, may_hear_recordings=change.may_hear_recordings)
    log.info("desk.specialist_changed", user=user.username, by=current_user(request).username, fields=sorted(fields))
    bound = await request.app[wo_keys.DESK].departments_of([user_id])
    return web.json_response(_specialist_json(user, bound.get(user_id, [])))


S = "desk"
ROUTES: tuple[api.Route, ...] = (
    api.Route("GET", "/api/desk/specialists", list_specialists, "Specialists with their departments and grants", S,
              response=SpecialistList, role="supervisor"),
    api.Route("PUT", "/api/desk/specialists/{id}", change_specialist,
              "Set a specialist's departments (heads) and recordings grant", S, body=SpecialistChange,
              response=SpecialistAccount, errors={409: "the account is not a specialist"}, role="supervisor"),
)
