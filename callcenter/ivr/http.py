"""Supervisors' web API for the schedule: list, preview, change and delete rules, effective at once.

  GET    /api/ivr/rules             every rule with its origin ("file" or "web") and last change
  PUT    /api/ivr/rules/{name}      create or replace a rule (JSON body: a schedule-file table)
  DELETE /api/ivr/rules/{name}      remove a rule
  GET    /api/ivr/preview?at=ISO    which messages would play at that moment (default: now)

Requests are read through the shared validation layer (``callcenter.web.api``, models in
``callcenter.ivr.schemas``); a rule the schedule engine refuses answers 400 with its reason.
"""

from __future__ import annotations

from aiohttp import web

from callcenter import keys
from callcenter.ivr import schemas as s
from callcenter.ivr.exceptions import ScheduleError
from callcenter.ivr.schedule import select
from callcenter.web import api
from callcenter.web.api import Route
from callcenter.web.exceptions import WebError


async def list_rules(request: web.Request) -> web.Response:
    """Every rule of the schedule."""
    return web.json_response({"rules": await _flow(request).rules.rows()})


async def put_rule(request: web.Request) -> web.Response:
    """Create or replace one rule; 400 with the reason when it is not valid."""
    name = api.path_text(request, "name")
    body = await api.body(request, s.RuleIn)
    if body.name is not None and body.name != name:
        raise WebError(400, "ivr.rule_name", "the body's name differs from the URL's")
    try:
        rule = await _flow(request).rules.put(body.spec(name))
    except ScheduleError as err:
        raise WebError(400, err.slug, str(err)) from None
    return web.json_response({"rule": rule.to_spec()})


async def delete_rule(request: web.Request) -> web.Response:
    """Remove one rule; 404 when there is none of that name."""
    name = api.path_text(request, "name")
    if not await _flow(request).rules.delete(name):
        raise WebError(404, "ivr.rule_unknown", f"no rule named {name!r}")
    return web.json_response({"deleted": name})


async def preview(request: web.Request) -> web.Response:
    """The seasonal messages a caller would hear at ``at`` (ISO datetime; default now)."""
    q = api.query(request, s.PreviewQuery)
    flow = _flow(request)
    moment = q.at or flow.clock()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=flow.zone)
    local = moment.astimezone(flow.zone)
    rules = select(await flow.rules.reload(), local, flow.settings.max_seasonal)
    return web.json_response({"at": local.isoformat(), "messages": [r.message for r in rules], "rules": [r.name for r in rules]})


def _flow(request: web.Request):
    """The running IVR; 503 when it is switched off or could not start."""
    flow = request.app.get(keys.IVR)
    if flow is None:
        raise WebError(503, "ivr.off", "the IVR is not running")
    return flow


I = "IVR schedule"
IVR_OFF = {503: "the IVR is switched off or could not start"}
NAME = {"name": s.NAME_PARAM}
ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/ivr/rules", list_rules, "Every rule of the schedule", I, response=s.RuleList, errors=IVR_OFF,
          role="supervisor"),
    Route("PUT", "/api/ivr/rules/{name}", put_rule, "Create or replace a rule (effective at once)", I, body=s.RuleIn,
          path_params=NAME, response=s.RuleSaved, errors=IVR_OFF, role="supervisor"),
    Route("DELETE", "/api/ivr/rules/{name}", delete_rule, "Remove a rule", I, path_params=NAME,
          response=s.RuleDeleted, errors=IVR_OFF, role="supervisor"),
    Route("GET", "/api/ivr/preview", preview, "The messages a caller would hear at a moment", I, query=s.PreviewQuery,
          response=s.Preview, errors=IVR_OFF, role="supervisor"),
)


def add_routes(app: web.Application) -> None:
    """Register the schedule's routes."""
    api.register(app, ROUTES)
