"""Supervisors' web API for the schedule: list, preview, change and delete rules, effective at once.

  GET    /api/ivr/rules             every rule with its origin ("file" or "web") and last change
  PUT    /api/ivr/rules/{name}      create or replace a rule (JSON body: a schedule-file table)
  DELETE /api/ivr/rules/{name}      remove a rule
  GET    /api/ivr/preview?at=ISO    which messages would play at that moment (default: now)
"""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from callcenter import keys
from callcenter.ivr.exceptions import ScheduleError
from callcenter.ivr.schedule import select


def add_routes(app: web.Application) -> None:
    """Register the schedule's routes."""
    app.router.add_get("/api/ivr/rules", list_rules)
    app.router.add_put("/api/ivr/rules/{name}", put_rule)
    app.router.add_delete("/api/ivr/rules/{name}", delete_rule)
    app.router.add_get("/api/ivr/preview", preview)


async def list_rules(request: web.Request) -> web.Response:
    """Every rule of the schedule."""
    return web.json_response({"rules": await _flow(request).rules.rows()})


async def put_rule(request: web.Request) -> web.Response:
    """Create or replace one rule; 400 with the reason when it is not valid."""
    try:
        body = await request.json()
    except ValueError:
        return _error(400, "ivr.rule_json", "the body must be a JSON object")
    if not isinstance(body, dict):
        return _error(400, "ivr.rule_json", "the body must be a JSON object")
    name = request.match_info["name"]
    if body.setdefault("name", name) != name:
        return _error(400, "ivr.rule_name", "the body's name differs from the URL's")
    try:
        rule = await _flow(request).rules.put(body)
    except ScheduleError as err:
        return _error(400, err.slug, str(err))
    return web.json_response({"rule": rule.to_spec()})


async def delete_rule(request: web.Request) -> web.Response:
    """Remove one rule; 404 when there is none of that name."""
    name = request.match_info["name"]
    if not await _flow(request).rules.delete(name):
        return _error(404, "ivr.rule_unknown", f"no rule named {name!r}")
    return web.json_response({"deleted": name})


async def preview(request: web.Request) -> web.Response:
    """The seasonal messages a caller would hear at ``at`` (ISO datetime; default now)."""
    flow = _flow(request)
    try:
        moment = dt.datetime.fromisoformat(request.query["at"]) if "at" in request.query else flow.clock()
    except ValueError:
        return _error(400, "ivr.preview_time", "at must be an ISO datetime")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=flow.zone)
    local = moment.astimezone(flow.zone)
    rules = select(await flow.rules.reload(), local, flow.settings.max_seasonal)
    return web.json_response({"at": local.isoformat(), "messages": [r.message for r in rules], "rules": [r.name for r in rules]})


def _flow(request: web.Request):
    """The running IVR; 503 when it is switched off or could not start."""
    flow = request.app.get(keys.IVR)
    if flow is None:
        raise web.HTTPServiceUnavailable(
            text='{"error": "ivr.off", "message": "the IVR is not running"}', content_type="application/json"
        )
    return flow


def _error(status: int, slug: str, message: str) -> web.Response:
    return web.json_response({"error": slug, "message": message}, status=status)
