"""The rota page: supervisors edit shifts and operators' skills, effective at once.

  GET    /rota                                the rota editor
  GET    /api/rota                            shifts, operators (skills, on duty now, logged in), menu skills
  PUT    /api/rota/shifts/{name}              {"start": "08:00", "end": "16:00", "days": [1..7], "agents": [...]}
  DELETE /api/rota/shifts/{name}              remove a shift (a settings shift returns at the next start)
  PUT    /api/rota/agents/{agent_id}/skills   {"skills": ["medical", ...]}
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web

from callcenter import keys
from callcenter.agents.store import RotaError
from callcenter.ivr.flow import MENU
from callcenter.web import api, labels
from callcenter.web import keys as web_keys
from callcenter.web import schemas as s
from callcenter.web.api import requires
from callcenter.web.pages import page
from callcenter.web.security import current_user

MENU_SKILLS = tuple(dict.fromkeys(o.route.skill for o in MENU.values() if o.route.skill))


def add_routes(app: web.Application) -> None:
    """Register the rota's routes."""
    app.router.add_get("/rota", rota_page)
    api.register(app, ROUTES)


def local_now(app: web.Application) -> dt.datetime:
    """Now in the hospital's time (the rota's times are wall-clock times there)."""
    return dt.datetime.now(app[keys.SETTINGS].hospital.zone)


@requires("supervisor")
async def rota_page(request: web.Request) -> web.Response:
    """The rota editor."""
    return page(request, "rota.html", labels.text("title.rota"))


@requires("supervisor")
async def get_rota(request: web.Request) -> web.Response:
    """Every shift, every operator with skills and who is on duty and logged in now."""
    app = request.app
    rota = app[web_keys.ROTA]
    duty = rota.on_duty(local_now(app))
    acd = app[keys.ADAPTER].acd
    agents: list[dict[str, Any]] = []
    for agent in app[keys.SETTINGS].agents:
        live = acd.agents.get(agent.id)
        agents.append({
            "id": agent.id,
            "name": agent.name,
            "skills": list(rota.skills_of(agent.id)),
            "skills_edited": agent.id in rota.skill_overrides(),
            "shift": duty.get(agent.id),
            "state": live.state.value if live else "logged_out",
        })
    return web.json_response({
        "shifts": await rota.rows(),
        "agents": agents,
        "menu_skills": list(MENU_SKILLS),
        "now": local_now(app).isoformat(),
    }, dumps=_dumps)


@requires("supervisor")
async def put_shift(request: web.Request) -> web.Response:
    """Create or replace a shift; 400 saying why when it is not valid."""
    name = api.path_text(request, "name")
    body = await api.body(request, s.ShiftIn)
    if body.name is not None and body.name != name:
        return api.error_json(400, "rota.bad_name", "the body's name differs from the URL's")
    try:
        shift = await request.app[web_keys.ROTA].put(name, {"name": name, **body.spec()}, current_user(request).username)
    except RotaError as err:
        return api.error_json(400, err.slug, str(err))
    request.app[web_keys.HUB].touch()
    return web.json_response({"shift": shift}, dumps=_dumps)


@requires("supervisor")
async def delete_shift(request: web.Request) -> web.Response:
    """Remove a shift; 404 when there is none of that name."""
    name = api.path_text(request, "name")
    if not await request.app[web_keys.ROTA].delete(name, current_user(request).username):
        return api.error_json(404, "rota.unknown", f"no shift named {name!r}")
    request.app[web_keys.HUB].touch()
    return web.json_response({"deleted": name}, dumps=_dumps)


@requires("supervisor")
async def put_skills(request: web.Request) -> web.Response:
    """Give an operator new skills: kept, and applied to the ACD at once."""
    agent_id = api.path_text(request, "agent_id", 32)
    body = await api.body(request, s.Skills)
    try:
        skills = await request.app[web_keys.ROTA].set_skills(agent_id, body.skills, current_user(request).username)
    except RotaError as err:
        return api.error_json(404 if err.slug == "agent.unknown" else 400, err.slug, str(err))
    request.app[keys.ADAPTER].set_skills(agent_id, frozenset(skills))
    return web.json_response({"agent_id": agent_id, "skills": list(skills)}, dumps=_dumps)


R = "rota"
SHIFT = {"name": s.SHIFT_PARAM}
ROUTES: tuple[api.Route, ...] = (
    api.Route("GET", "/api/rota", get_rota, "Shifts, operators (skills, on duty now, state), menu skills", R,
              response=s.Rota),
    api.Route("PUT", "/api/rota/shifts/{name}", put_shift, "Create or replace a shift (in effect at once)", R,
              body=s.ShiftIn, path_params=SHIFT, response=s.ShiftSaved),
    api.Route("DELETE", "/api/rota/shifts/{name}", delete_shift, "Remove a shift", R, path_params=SHIFT,
              response=s.ShiftDeleted),
    api.Route("PUT", "/api/rota/agents/{agent_id}/skills", put_skills, "Give an operator new skills", R,
              body=s.Skills, path_params={"agent_id": s.AGENT_PARAM}, response=s.SkillsSaved),
)


def _dumps(obj: object) -> str:
    import json

    return json.dumps(obj, ensure_ascii=False, default=str)
