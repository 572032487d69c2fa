"""HTTP JSON API of tickets (work orders), callbacks, departments and the knowledge base, with OpenAPI.

Every route is a plain aiohttp handler under ``/api/...`` (so the web pages' auth middleware covers
it) declared once in ``ROUTES`` with its request schema: the same table registers the route,
validates the request and writes the OpenAPI document served at ``/api/workorders/openapi.json``.
Errors answer ``{"error": slug, "message": ..., "problems": [{"field", "problem"}]}``: 400 for a
request that is not valid, 404 for an unknown id, 409 for a move the ticket's state does not allow
(with ``allowed``), 422 for an unsolved ticket without a promised reply time, 503 when Asterisk is
not reachable for an outbound call.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiohttp import web

from callcenter import keys as app_keys
from callcenter.exceptions import AmiError
from callcenter.workorders import keys, schemas
from callcenter.workorders.exceptions import Conflict, IllegalMove, InvalidData, NotFound, PromiseRequired, WorkOrderError
from callcenter.workorders.lifecycle import Status
from callcenter.workorders.services import Change, validate_duty

log = structlog.get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Route:
    """One API route: its handler, request schema and what the OpenAPI document says of it."""

    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    body: dict[str, Any] | None = None
    query: dict[str, dict[str, Any]] = field(default_factory=dict)
    response: dict[str, Any] | None = None
    status: int = 200
    body_media: str = "application/json"


# -- helpers ----------------------------------------------------------------------------------------


def error(http_status: int, slug: str, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": slug, "message": message, **extra}, status=http_status)


def _user(request: web.Request) -> object:
    """The logged-in user the web pages' access middleware put on the request (or a plain "user")."""
    user = request.get(app_keys.USER)
    return user if user is not None else request.get("user")


def who(request: web.Request) -> str | None:
    """The logged-in user's name (None without the web pages' auth)."""
    user = _user(request)
    if user is None:
        return None
    if isinstance(user, dict):
        return user.get("username") or user.get("name")
    return getattr(user, "username", None) or getattr(user, "name", None)


def agent_of(request: web.Request) -> str | None:
    """The logged-in operator's agent id (their phone), if any."""
    user = _user(request)
    if isinstance(user, dict):
        return user.get("agent_id")
    return getattr(user, "agent_id", None)


async def body_of(request: web.Request, schema: dict[str, Any]) -> dict[str, Any]:
    """The JSON body validated against ``schema``; raises InvalidData listing every problem."""
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise InvalidData("request.invalid", "the body must be JSON (Content-Type: application/json)",
                          [{"field": "body", "problem": "is not valid JSON"}]) from None
    problems = schemas.validate(schema, body)
    if problems:
        summary = "; ".join(f"{p['field']} {p['problem']}" for p in problems[:3])
        raise InvalidData("request.invalid", f"the request is not valid: {summary}", problems)
    return body


def query_of(request: web.Request, spec: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Query parameters converted by ``spec`` (OpenAPI parameter schemas); unknown ones are refused."""
    problems, out = [], {}
    unknown = set(request.query) - set(spec)
    for name in sorted(unknown):
        problems.append({"field": name, "problem": f"is not a known parameter (known: {', '.join(spec) or 'none'})"})
    for name, schema in spec.items():
        raw = request.query.getall(name, [])
        if not raw:
            if schema.get("required"):
                problems.append({"field": name, "problem": "is required"})
            continue
        value: Any = raw[-1]
        kind = schema.get("type")
        try:
            if kind == "integer":
                value = int(value)
            elif kind == "boolean":
                if value.lower() not in ("1", "0", "true", "false", "yes", "no"):
                    raise ValueError(value)
                value = value.lower() in ("1", "true", "yes")
            elif kind == "array":
                value = [v for r in raw for v in r.split(",") if v]
        except ValueError:
            problems.append({"field": name, "problem": f"must be {kind}, not {raw[-1]!r}"})
            continue
        check = {k: v for k, v in schema.items() if k not in ("required", "description")}
        if kind == "array":
            check = {"type": "array", "items": schema.get("items", {})}
        problems += schemas.validate(check, value, name)
        out[name] = value
    if problems:
        raise InvalidData("request.invalid", "the query is not valid: " + "; ".join(
            f"{p['field']} {p['problem']}" for p in problems[:3]), problems)
    return out


def int_id(request: web.Request, name: str = "id") -> int:
    raw = request.match_info[name]
    if not raw.isdigit():
        raise InvalidData("request.invalid", f"{name} must be a number", [{"field": name, "problem": f"{raw!r} is not a number"}])
    return int(raw)


def wrap(route: Route) -> Handler:
    """The handler with our errors mapped to HTTP once."""

    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            return await route.handler(request)
        except InvalidData as err:
            return error(400, err.slug, str(err), problems=err.problems)
        except NotFound as err:
            return error(404, err.slug, str(err))
        except IllegalMove as err:
            return error(409, err.slug, str(err), status=err.status, allowed=list(err.allowed))
        except PromiseRequired as err:
            return error(422, err.slug, str(err), problems=[{"field": "promised_reply_at", "problem": "is required"}])
        except Conflict as err:
            return error(409, err.slug, str(err))
        except AmiError as err:
            return error(503, err.slug, f"Asterisk is not reachable for the call: {err}")
        except WorkOrderError as err:
            return error(400, err.slug, str(err))

    handle.__name__ = route.handler.__name__
    return handle


# -- tickets ----------------------------------------------------------------------------------------

LIST_QUERY = {
    "caller": {"type": "string", "maxLength": 40, "description": "caller's number (punctuation ignored)"},
    "status": {"type": "array", "items": {"type": "string", "enum": [s.value for s in Status]},
               "description": "comma-separated statuses"},
    "open": {"type": "boolean", "description": "only tickets not closed or merged"},
    "overdue": {"type": "boolean", "description": "only tickets past their promised reply or callback deadline"},
    "limit": {"type": "integer", "minimum": 1, "maximum": 500},
}


async def list_tickets(request: web.Request) -> web.Response:
    """Tickets newest first: a caller's history, open or overdue tickets."""
    q = query_of(request, LIST_QUERY)
    rows = await request.app[keys.WORKORDERS].list(
        caller=q.get("caller"), status=q.get("status"), open_only=q.get("open", False),
        overdue_only=q.get("overdue", False), limit=q.get("limit", 50),
    )
    return web.json_response({"tickets": rows})


async def get_ticket(request: web.Request) -> web.Response:
    """One ticket with its contact history, tasks and linked calls."""
    return web.json_response(await request.app[keys.WORKORDERS].get(int_id(request)))


async def patch_ticket(request: web.Request) -> web.Response:
    """Change category, priority, notes, promised reply time, assignment; and at most one status move."""
    body = await body_of(request, schemas.TICKET_PATCH)
    status = body.pop("status", None)
    reason = body.pop("close_reason", None)
    if "promised_reply_at" in body and body["promised_reply_at"] is not None:
        body["promised_reply_at"] = schemas.parse_datetime(body["promised_reply_at"])
    if "notes" in body:
        body["notes"] = body["notes"].strip()
    ticket = await request.app[keys.WORKORDERS].update(int_id(request), Change(body, status, reason), who(request))
    return web.json_response(ticket)


async def add_note(request: web.Request) -> web.Response:
    """Add a note to the ticket's contact history."""
    body = await body_of(request, schemas.NOTE)
    note = await request.app[keys.WORKORDERS].add_note(int_id(request), body["text"], who(request))
    return web.json_response(note, status=201)


async def escalate(request: web.Request) -> web.Response:
    """Escalate to a department (status escalated) and ring its office, then its specialists."""
    body = await body_of(request, schemas.ESCALATE)
    ticket_id = int_id(request)
    promise = schemas.parse_datetime(body["promised_reply_at"]) if "promised_reply_at" in body else None
    work = request.app[keys.WORKORDERS]
    outbound = request.app[keys.OUTBOUND]
    call = body.get("call", True)
    if call and outbound is None:
        raise AmiError("ami.down", "outbound calls are not available in this process")
    ticket = await work.escalated(ticket_id, body["department_id"], promise, who(request))
    escalation = None
    if call:
        escalation = await outbound.escalate(ticket_id, body["department_id"], who(request), body.get("reason", ""))
    return web.json_response({"ticket": ticket, "escalation": escalation}, status=202 if call else 200)


async def callback(request: web.Request) -> web.Response:
    """Call the caller back: the operator's phone rings first, then the caller's."""
    body = await body_of(request, schemas.CALLBACK)
    if "at" in body:
        return await _schedule_callback(request, body)
    outbound = request.app[keys.OUTBOUND]
    if outbound is None:
        raise AmiError("ami.down", "outbound calls are not available in this process")
    agent = body.get("agent_id") or agent_of(request)
    if not agent:
        raise InvalidData("callback.no_agent", "no operator to ring first",
                          [{"field": "agent_id", "problem": "is required (no operator is logged in)"}])
    result = await outbound.callback(int_id(request), agent, number=body.get("number"), survey=body.get("survey"),
                                     task_id=body.get("task_id"), by=who(request))
    return web.json_response(result, status=202)


async def _schedule_callback(request: web.Request, body: dict[str, Any]) -> web.Response:
    """A pending callback task due at ``at`` (the callback list shows it; calling it uses ``task_id``)."""
    ticket_id = int_id(request)
    work = request.app[keys.WORKORDERS]
    ticket = await work.get(ticket_id)
    number = body.get("number") or ticket["caller_number"]
    if not number:
        raise InvalidData("callback.no_number", "the ticket has no caller number to call back",
                          [{"field": "number", "problem": "give the number to call"}])
    at = schemas.parse_datetime(body["at"])
    agent = body.get("agent_id") or agent_of(request)
    task = await work.create_task(ticket_id, "callback", number, agent_id=agent, name=ticket["caller_name"] or "",
                                  not_before=at, details={"by": who(request), "survey": body.get("survey")})
    await work.record_contact(ticket_id, "callback", agent_id=agent, number=task["number"], outcome="scheduled",
                              details={"task_id": task["id"], "at": task["not_before"], "by": who(request)})
    log.info("callback.scheduled", ticket_id=ticket_id, task_id=task["id"], at=task["not_before"], agent=agent)
    return web.json_response({"task": task}, status=201)


async def survey(request: web.Request) -> web.Response:
    """Record a satisfaction score given on the phone (the IVR survey records its own)."""
    body = await body_of(request, schemas.SURVEY)
    ticket = await request.app[keys.WORKORDERS].record_survey(int_id(request), body["score"], agent_id=who(request),
                                                               via="operator")
    return web.json_response(ticket)


async def import_12345(request: web.Request) -> web.Response:
    """Import 12345 transferred orders (CSV with a header, or JSON) as tickets with their deadline."""
    q = query_of(request, {"format": {"type": "string", "enum": ["csv", "json"]}})
    fmt = q.get("format") or ("json" if "json" in request.content_type else "csv")
    data = await request.read()
    report = await request.app[keys.WORKORDERS].import_12345(data, fmt, who(request))
    return web.json_response(report, status=201 if report["created"] else 200)


async def list_tasks(request: web.Request) -> web.Response:
    """Callback tasks (default: pending), soonest first."""
    q = query_of(request, {
        "state": {"type": "string", "enum": ["pending", "dialing", "done", "failed", "cancelled", "all"]},
        "kind": {"type": "string", "enum": ["callback", "abandoned", "followup_day7", "appointment_reminder"]},
        "limit": {"type": "integer", "minimum": 1, "maximum": 500},
    })
    state = q.get("state", "pending")
    tasks = await request.app[keys.WORKORDERS].tasks(state=None if state == "all" else state, kind=q.get("kind"),
                                                      limit=q.get("limit", 100))
    return web.json_response({"tasks": tasks})


# -- departments ------------------------------------------------------------------------------------


async def list_departments(request: web.Request) -> web.Response:
    """The directory: departments with their specialists."""
    return web.json_response({"departments": await request.app[keys.DIRECTORY].departments()})


async def create_department(request: web.Request) -> web.Response:
    body = await body_of(request, schemas.DEPARTMENT)
    return web.json_response(await request.app[keys.DIRECTORY].save_department(body), status=201)


async def patch_department(request: web.Request) -> web.Response:
    body = await body_of(request, schemas.DEPARTMENT_PATCH)
    return web.json_response(await request.app[keys.DIRECTORY].save_department(body, int_id(request)))


async def create_specialist(request: web.Request) -> web.Response:
    body = await body_of(request, schemas.SPECIALIST)
    _check_duty(body)
    spec = await request.app[keys.DIRECTORY].save_specialist(body, department_id=int_id(request))
    return web.json_response(spec, status=201)


async def patch_specialist(request: web.Request) -> web.Response:
    body = await body_of(request, schemas.SPECIALIST_PATCH)
    _check_duty(body)
    return web.json_response(await request.app[keys.DIRECTORY].save_specialist(body, specialist_id=int_id(request)))


async def delete_specialist(request: web.Request) -> web.Response:
    await request.app[keys.DIRECTORY].delete_specialist(int_id(request))
    return web.json_response({"deleted": int_id(request)})


def _check_duty(body: dict[str, Any]) -> None:
    if "duty" in body:
        problems = validate_duty(body["duty"])
        if problems:
            raise InvalidData("request.invalid", "the duty hours are not valid", problems)


# -- knowledge base -----------------------------------------------------------------------------------

SEARCH_QUERY = {
    "q": {"type": "string", "maxLength": 200, "required": True, "description": "words; every one must match"},
    "category": {"type": "string", "maxLength": 32},
    "department": {"type": "string", "maxLength": 64},
    "limit": {"type": "integer", "minimum": 1, "maximum": 50},
}


async def kb_search(request: web.Request) -> web.Response:
    """Substring search in Chinese with highlighted question and answer snippet."""
    q = query_of(request, SEARCH_QUERY)
    result = await request.app[keys.KB].search(q["q"], limit=q.get("limit", 10), category=q.get("category"),
                                               department=q.get("department"))
    return web.json_response(result)


async def kb_suggest(request: web.Request) -> web.Response:
    """Entries to show before typing: from a ticket (its menu choice and category) or given ones."""
    q = query_of(request, {
        "ticket": {"type": "integer", "minimum": 1}, "choice": {"type": "string", "maxLength": 32},
        "category": {"type": "string", "maxLength": 32}, "limit": {"type": "integer", "minimum": 1, "maximum": 50},
    })
    choice, category = q.get("choice"), q.get("category")
    if "ticket" in q:
        ticket = await request.app[keys.WORKORDERS].get(q["ticket"])
        choice = choice or ticket["menu_choice"]
        category = category or ticket["category"]
    entries = await request.app[keys.KB].suggest(choice=choice, category=category, limit=q.get("limit", 10))
    return web.json_response({"choice": choice, "category": category, "entries": entries})


async def kb_list(request: web.Request) -> web.Response:
    q = query_of(request, {"category": {"type": "string", "maxLength": 32},
                           "offset": {"type": "integer", "minimum": 0},
                           "limit": {"type": "integer", "minimum": 1, "maximum": 500}})
    return web.json_response(await request.app[keys.KB].list(category=q.get("category"), offset=q.get("offset", 0),
                                                             limit=q.get("limit", 50)))


async def kb_get(request: web.Request) -> web.Response:
    return web.json_response(await request.app[keys.KB].get(int_id(request)))


async def kb_create(request: web.Request) -> web.Response:
    body = await body_of(request, schemas.KB_ENTRY)
    return web.json_response(await request.app[keys.KB].create(body, who(request) or ""), status=201)


async def kb_patch(request: web.Request) -> web.Response:
    body = await body_of(request, schemas.KB_ENTRY_PATCH)
    return web.json_response(await request.app[keys.KB].update(int_id(request), body, who(request) or ""))


async def kb_delete(request: web.Request) -> web.Response:
    return web.json_response(await request.app[keys.KB].delete(int_id(request), who(request) or ""))


async def kb_history(request: web.Request) -> web.Response:
    return web.json_response({"history": await request.app[keys.KB].history(int_id(request))})


async def kb_export(request: web.Request) -> web.Response:
    """Every active entry as CSV (UTF-8 with BOM, so spreadsheet programs read Chinese right)."""
    text = await request.app[keys.KB].export_csv()
    return web.Response(body=("\ufeff" + text).encode("utf-8"), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": 'attachment; filename="kb.csv"'})


async def kb_import(request: web.Request) -> web.Response:
    """Create or update entries from CSV; all or nothing, problems reported by line."""
    report = await request.app[keys.KB].import_csv(await request.read(), who(request) or "")
    return web.json_response(report)


async def openapi(request: web.Request) -> web.Response:
    """This API's OpenAPI 3.1 document."""
    return web.json_response(document(), dumps=lambda o: json.dumps(o, ensure_ascii=False))


T, K, D, C = "tickets", "knowledge base", "departments", "callbacks"
ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/tickets", list_tickets, "List tickets (a caller's history, open, overdue)", T,
          query=LIST_QUERY, response={"type": "object", "properties": {"tickets": {"type": "array", "items": schemas.TICKET}}}),
    Route("GET", "/api/tickets/{id}", get_ticket, "One ticket with contacts, tasks and linked calls", T,
          response=schemas.TICKET_DETAIL),
    Route("PATCH", "/api/tickets/{id}", patch_ticket, "Change a ticket (fields and at most one status move)", T,
          body=schemas.TICKET_PATCH, response=schemas.TICKET_DETAIL),
    Route("POST", "/api/tickets/{id}/notes", add_note, "Add a note to the contact history", T, body=schemas.NOTE,
          status=201, response=schemas.CONTACT),
    Route("POST", "/api/tickets/{id}/escalate", escalate, "Escalate to a department and ring it", T,
          body=schemas.ESCALATE, status=202),
    Route("POST", "/api/tickets/{id}/callback", callback,
          "Call back: operator's phone first, then the caller (202); with `at`, schedule a callback task (201)", C,
          body=schemas.CALLBACK, status=202),
    Route("POST", "/api/tickets/{id}/survey", survey, "Record a satisfaction score (1-5) given on the phone", T,
          body=schemas.SURVEY, response=schemas.TICKET_DETAIL),
    Route("POST", "/api/tickets/import", import_12345, "Import 12345 transferred orders (CSV or JSON)", T,
          query={"format": {"type": "string", "enum": ["csv", "json"]}}, status=201, body_media="text/csv"),
    Route("GET", "/api/callbacks", list_tasks, "Callback tasks (abandoned calls, callbacks, lists)", C,
          query={"state": {"type": "string"}, "kind": {"type": "string"}, "limit": {"type": "integer"}},
          response={"type": "object", "properties": {"tasks": {"type": "array", "items": schemas.TASK}}}),
    Route("GET", "/api/departments", list_departments, "Departments and their specialists", D),
    Route("POST", "/api/departments", create_department, "Add a department", D, body=schemas.DEPARTMENT, status=201),
    Route("PATCH", "/api/departments/{id}", patch_department, "Change a department", D, body=schemas.DEPARTMENT_PATCH),
    Route("POST", "/api/departments/{id}/specialists", create_specialist, "Add a specialist", D,
          body=schemas.SPECIALIST, status=201),
    Route("PATCH", "/api/specialists/{id}", patch_specialist, "Change a specialist", D, body=schemas.SPECIALIST_PATCH),
    Route("DELETE", "/api/specialists/{id}", delete_specialist, "Remove a specialist", D),
    Route("GET", "/api/kb/search", kb_search, "Search the knowledge base (Chinese substrings, highlighted)", K,
          query=SEARCH_QUERY, response=schemas.SEARCH_RESULT),
    Route("GET", "/api/kb/suggest", kb_suggest, "Suggested entries for a ticket, menu choice or category", K,
          query={"ticket": {"type": "integer"}, "choice": {"type": "string"}, "category": {"type": "string"},
                 "limit": {"type": "integer"}}),
    Route("GET", "/api/kb/entries", kb_list, "List entries", K,
          query={"category": {"type": "string"}, "offset": {"type": "integer"}, "limit": {"type": "integer"}}),
    Route("POST", "/api/kb/entries", kb_create, "Add an entry", K, body=schemas.KB_ENTRY, status=201),
    Route("GET", "/api/kb/entries/{id}", kb_get, "One entry", K),
    Route("PATCH", "/api/kb/entries/{id}", kb_patch, "Change an entry (the edit is kept)", K, body=schemas.KB_ENTRY_PATCH),
    Route("DELETE", "/api/kb/entries/{id}", kb_delete, "Deactivate an entry (its history stays)", K),
    Route("GET", "/api/kb/entries/{id}/history", kb_history, "Every edit of an entry: who, when, before, after", K),
    Route("GET", "/api/kb/export.csv", kb_export, "Export the knowledge base as CSV", K),
    Route("POST", "/api/kb/import", kb_import, "Import CSV (id empty: new entry)", K, body_media="text/csv"),
    Route("GET", "/api/workorders/openapi.json", openapi, "This document", "meta"),
)


def add_routes(app: web.Application) -> None:
    """Register every route of ``ROUTES``."""
    for route in ROUTES:
        app.router.add_route(route.method, route.path, wrap(route))


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``ROUTES``."""
    paths: dict[str, dict[str, Any]] = {}
    err = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    for route in ROUTES:
        op: dict[str, Any] = {"summary": route.summary, "tags": [route.tag],
                              "operationId": route.handler.__name__}
        params = []
        if "{id}" in route.path:
            params.append({"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}})
        for name, schema in route.query.items():
            clean = {k: v for k, v in schema.items() if k not in ("required", "description")}
            params.append({"name": name, "in": "query", "required": bool(schema.get("required")),
                           "description": schema.get("description", ""), "schema": clean,
                           **({"style": "form", "explode": False} if schema.get("type") == "array" else {})})
        if params:
            op["parameters"] = params
        if route.body is not None:
            op["requestBody"] = {"required": True, "content": {route.body_media: {"schema": route.body}}}
        elif route.body_media != "application/json":
            op["requestBody"] = {"required": True, "content": {route.body_media: {"schema": {"type": "string"}}}}
        ok: dict[str, Any] = {"description": "OK"}
        if route.response is not None:
            ok["content"] = {"application/json": {"schema": route.response}}
        op["responses"] = {
            str(route.status): ok,
            "400": {"description": "the request is not valid (problems name each field)", **err},
            "404": {"description": "no such id", **err},
        }
        if route.path.startswith("/api/tickets/{id}") and route.method in ("PATCH", "POST"):
            op["responses"]["409"] = {"description": "the ticket's status does not allow this (allowed lists what does)", **err}
            op["responses"]["422"] = {"description": "an unsolved ticket whose call ended needs promised_reply_at", **err}
        if route.handler in (escalate, callback):
            op["responses"]["503"] = {"description": "Asterisk is not reachable", **err}
        paths.setdefault(route.path, {})[route.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "Hotline work orders, callbacks, departments and knowledge base", "version": "1.0.0",
                 "description": (__doc__ or "").strip()},
        "paths": paths,
        "components": {"schemas": {"Error": schemas.ERROR, "Ticket": schemas.TICKET, "Contact": schemas.CONTACT,
                                   "Task": schemas.TASK, "SearchResult": schemas.SEARCH_RESULT}},
    }
