"""The operator's desktop: the page, the operator's own state, a caller's history, call notes.

  GET  /agent                          the desktop (screen-pop, state, knowledge base, ticket form)
  GET  /api/agent/state                this operator's ACD state
  POST /api/agent/state                {"op": "login"|"ready"|"pause"|"logout", "reason": ...}
  GET  /api/agent/recent               this operator's latest tickets
  GET  /api/callers/{number}/tickets   a caller's earlier tickets

The desk's ticket form works through the work-order API (``/api/tickets/{id}``: category, notes,
status, promised reply time; ``/notes``, ``/escalate``, ``/callback``); ``callcenter.web.guard``
keeps an operator to the tickets of calls that rang their phone.
"""

from __future__ import annotations

import structlog
from aiohttp import web

from callcenter import keys
from callcenter.web import api, labels
from callcenter.web import keys as web_keys
from callcenter.web import schemas as s
from callcenter.web.api import requires
from callcenter.web.pages import page
from callcenter.web.schemas import PAUSE_REASONS
from callcenter.web.security import current_user
from callcenter.web.store import agent_recent, caller_history
from callcenter.workorders.lifecycle import CATEGORIES

log = structlog.get_logger(__name__)



def add_routes(app: web.Application) -> None:
    """Register the operator's routes (the JSON ones described in the OpenAPI document)."""
    app.router.add_get("/agent", agent_page)
    api.register(app, ROUTES)


@requires("operator")
async def agent_page(request: web.Request) -> web.Response:
    """The operator's desktop."""
    return page(request, "agent.html", labels.text("title.agent"), categories=list(CATEGORIES))


def _agent_id(request: web.Request) -> str | web.Response:
    user = current_user(request)
    if not user.agent_id or user.agent_id not in request.app[keys.ADAPTER].skills:
        return api.error_json(409, "agent.no_phone", "this account is not linked to an operator phone")
    return user.agent_id


@requires("operator")
async def get_state(request: web.Request) -> web.Response:
    """This operator's state as the ACD sees it."""
    agent_id = _agent_id(request)
    if isinstance(agent_id, web.Response):
        return agent_id
    return web.json_response(request.app[web_keys.WALLBOARD].agent_message(agent_id))


@requires("operator")
async def set_state(request: web.Request) -> web.Response:
    """Log in to the rota, become ready (ends a pause or wrap-up), pause with a reason, or log out."""
    agent_id = _agent_id(request)
    if isinstance(agent_id, web.Response):
        return agent_id
    body = await api.body(request, s.AgentOp)
    op, reason = body.op, body.reason or "break"
    ok = change_state(request.app, agent_id, op, reason)
    if ok is None:
        return api.error_json(400, "agent.bad_op", "op must be login, ready, pause or logout (reason one of the list)")
    message = request.app[web_keys.WALLBOARD].agent_message(agent_id)
    if not ok:
        return web.json_response({"error": "agent.refused", "message": f"cannot {op} now", "agent": message}, status=409)
    log.info("web.agent_state", user=current_user(request).username, agent=agent_id, op=op, reason=reason)
    return web.json_response({"agent": message})


def change_state(app: web.Application, agent_id: str, op: str, reason: str = "break") -> bool | None:
    """Apply one state change from the web; None when the request is malformed, False when refused."""
    adapter = app[keys.ADAPTER]
    if op == "ready":  # log in, end a pause or a wrap-up, whichever the operator is in
        return adapter.make_available(agent_id)
    if op == "pause" and reason not in PAUSE_REASONS:
        return None
    if op in ("login", "logout", "pause", "resume"):
        return adapter.agent_op(agent_id, op, reason)
    return None


@requires("operator")
async def recent(request: web.Request) -> web.Response:
    """This operator's latest tickets."""
    agent_id = _agent_id(request)
    if isinstance(agent_id, web.Response):
        return agent_id
    return web.json_response({"tickets": await agent_recent(request.app[web_keys.READS], agent_id)})


@requires("operator")
async def history(request: web.Request) -> web.Response:
    """A caller's earlier tickets (newest first)."""
    number = api.path_text(request, "number", 40)
    q = api.query(request, s.HistoryQuery)
    return web.json_response({"tickets": await caller_history(request.app[web_keys.READS], number, q.exclude)})


A = "operator desk"
NO_PHONE = {409: "this account is not linked to an operator phone"}
ROUTES: tuple[api.Route, ...] = (
    api.Route("GET", "/api/agent/state", get_state, "This operator's ACD state", A, response=s.AgentState,
              errors=NO_PHONE),
    api.Route("POST", "/api/agent/state", set_state, "Log in, ready, pause with a reason, resume, log out", A,
              body=s.AgentOp, response=s.AgentAnswer,
              errors={409: "no phone linked, or the change is refused now (agent tells the state)"}),
    api.Route("GET", "/api/agent/recent", recent, "This operator's latest tickets", A, response=s.Tickets,
              errors=NO_PHONE),
    api.Route("GET", "/api/callers/{number}/tickets", history, "A caller's earlier tickets (newest first)", A,
              query=s.HistoryQuery, path_params={"number": s.NUMBER_PARAM}, response=s.Tickets),
    api.Route("GET", "/api/me", None, "Who is logged in, and the CSRF token scripts send back", "session",
              response=s.Me),
)
