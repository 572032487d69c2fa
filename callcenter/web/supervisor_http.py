"""The supervisor's wallboard and agent control.

  GET  /wallboard                          the live wallboard page
  GET  /schedule                           the seasonal-message schedule editor (over /api/ivr/rules)
  GET  /kb                                 the knowledge-base editor (over the work-order API's /api/kb)
  GET  /prevention                         未诉先办: what rose most, messages made from entries (over /api/prevention)
  GET  /campaigns                          sampled satisfaction campaigns (over /api/campaigns)
  GET  /departments                        the directory: departments, escalation contacts, specialists, CSV import
  GET  /api/supervisor/wallboard           the wallboard as JSON (the page gets it over /ws)
  POST /api/supervisor/agents/{agent_id}   {"op": "login"|"ready"|"pause"|"logout", "reason": ...}
"""

from __future__ import annotations

import structlog
from aiohttp import web

from callcenter import keys
from callcenter.web import api, labels
from callcenter.web import keys as web_keys
from callcenter.web import schemas as s
from callcenter.web.agent_http import change_state
from callcenter.web.api import requires
from callcenter.web.pages import page
from callcenter.web.security import current_user

log = structlog.get_logger(__name__)


def add_routes(app: web.Application) -> None:
    """Register the supervisor's routes."""
    app.router.add_get("/wallboard", wallboard_page)
    app.router.add_get("/schedule", schedule_page)
    app.router.add_get("/kb", kb_page)
    app.router.add_get("/prevention", prevention_page)
    app.router.add_get("/campaigns", campaigns_page)
    app.router.add_get("/departments", departments_page)
    api.register(app, ROUTES)


@requires("supervisor")
async def wallboard_page(request: web.Request) -> web.Response:
    """The live wallboard."""
    return page(request, "wallboard.html", labels.text("title.wallboard"))


@requires("supervisor")
async def schedule_page(request: web.Request) -> web.Response:
    """The seasonal-message schedule editor."""
    return page(request, "schedule.html", labels.text("title.schedule"))


@requires("supervisor")
async def kb_page(request: web.Request) -> web.Response:
    """The knowledge-base editor: search, add, edit with history, CSV import and export."""
    return page(request, "kb.html", labels.text("title.kb"))


@requires("supervisor")
async def prevention_page(request: web.Request) -> web.Response:
    """未诉先办: the categories and entries that rose most; an entry made into a hotline message in two steps."""
    return page(request, "prevention.html", labels.text("title.prevention"))


@requires("supervisor")
async def campaigns_page(request: web.Request) -> web.Response:
    """Sampled satisfaction campaigns: draw one (preview first), follow its calls and scores (over /api/campaigns)."""
    return page(request, "campaigns.html", labels.text("title.campaigns"))


@requires("supervisor")
async def departments_page(request: web.Request) -> web.Response:
    """The directory: departments with escalation contacts and bound specialists, edited over /api/departments."""
    return page(request, "departments.html", labels.text("title.departments"))


@requires("supervisor")
async def wallboard(request: web.Request) -> web.Response:
    """The wallboard as JSON."""
    return web.json_response(await request.app[web_keys.WALLBOARD].snapshot(), dumps=_dumps)


@requires("supervisor")
async def control_agent(request: web.Request) -> web.Response:
    """Pause, log out, log in or ready an operator."""
    agent_id = api.path_text(request, "agent_id", 32)
    if agent_id not in request.app[keys.ADAPTER].skills:
        return api.error_json(404, "agent.unknown", f"no operator {agent_id}")
    body = await api.body(request, s.AgentOp)
    op, reason = body.op, body.reason or "break"
    ok = change_state(request.app, agent_id, op, reason)
    if ok is None:
        return api.error_json(400, "agent.bad_op", "op must be login, ready, pause or logout")
    message = request.app[web_keys.WALLBOARD].agent_message(agent_id)
    log.info("web.supervisor_agent_op", user=current_user(request).username, agent=agent_id, op=op, ok=ok)
    if not ok:
        return web.json_response({"error": "agent.refused", "message": f"cannot {op} now", "agent": message}, status=409)
    return web.json_response({"agent": message})


S = "supervisor"
ROUTES: tuple[api.Route, ...] = (
    api.Route("GET", "/api/supervisor/wallboard", wallboard, "The wallboard as JSON (the page gets it over /ws)", S,
              response=s.Wallboard),
    api.Route("POST", "/api/supervisor/agents/{agent_id}", control_agent, "Pause, log out, log in or ready an operator",
              S, body=s.AgentOp, path_params={"agent_id": s.AGENT_PARAM}, response=s.AgentAnswer,
              errors={404: "no such operator", 409: "the change is refused now (agent tells the state)"}),
)


def _dumps(obj: object) -> str:
    import json

    return json.dumps(obj, ensure_ascii=False, default=str)
