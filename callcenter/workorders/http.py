"""HTTP JSON API of tickets (work orders), callbacks and departments (the knowledge base's: ``callcenter.kb.http``).

Every route is a plain aiohttp handler under ``/api/...`` (so the web pages' auth middleware covers
it) declared once in ``ROUTES`` with the pydantic models of its query and body
(``callcenter.workorders.schemas``): the same table registers the route, validates the request
(``callcenter.web.api``, which also answers the errors each declares in ``exceptions.py``) and
writes the OpenAPI document served at ``/api/workorders/openapi.json`` and ``/api/openapi.json``.  Errors answer ``{"error": slug, "message": ..., "problems": [{"field",
"problem"}]}``: 400 for a request that is not valid, 404 for an unknown id, 409 for a move the
ticket's state does not allow (with ``allowed``) or a clash, 422 for an unsolved ticket without a
promised reply time, 503 when Asterisk is not reachable for an outbound call.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import structlog
from aiohttp import web

from callcenter.exceptions import AmiError
from callcenter.web import api
from callcenter.web.api import Route, agent_of, path_id, who
from callcenter.web.openapi import openapi
from callcenter.workorders import keys
from callcenter.workorders import schemas as s
from callcenter.workorders.exceptions import InvalidData, NotFound
from callcenter.workorders.service import Change

log = structlog.get_logger(__name__)


# -- tickets ----------------------------------------------------------------------------------------


async def list_tickets(request: web.Request) -> web.Response:
    """Tickets newest first: a caller's history, open or overdue tickets."""
    q = api.query(request, s.TicketQuery)
    rows = await request.app[keys.WORKORDERS].list(caller=q.caller, status=q.status, open_only=q.open,
                                                   overdue_only=q.overdue, ladder=q.ladder,
                                                   agent=_mine(request) if q.mine else None, limit=q.limit)
    return web.json_response({"tickets": rows})


async def get_ticket(request: web.Request) -> web.Response:
    """One ticket with its contact history, tasks and linked calls."""
    return web.json_response(await request.app[keys.WORKORDERS].get(path_id(request, what="ticket")))


async def patch_ticket(request: web.Request) -> web.Response:
    """Change category, priority, notes, promised reply time, assignment; and at most one status move.

    A new promised reply time lies between now and ``workorders.promise_max_days`` ahead; the
    ticket's own promise sent back unchanged (the desk sends it with every save) is accepted.
    """
    ticket_id = path_id(request, what="ticket")
    work = request.app[keys.WORKORDERS]
    changes = (await api.body(request, s.TicketPatch, context=await _promise_context(work, ticket_id))).changes()
    status = changes.pop("status", None)
    reason = changes.pop("close_reason", None)
    if "notes" in changes:
        changes["notes"] = changes["notes"].strip()
    ticket = await work.update(ticket_id, Change(changes, status, reason), who(request))
    return web.json_response(ticket)


async def _promise_context(work: Any, ticket_id: int) -> dict[str, Any]:
    """The ticket's own promise: sent back unchanged it is accepted even when past."""
    try:
        current = (await work.get(ticket_id))["promised_reply_at"]
    except NotFound:
        return {}  # the change itself answers 404, once the body is known to be valid
    return {"keep": dt.datetime.fromisoformat(current) if current else None}


async def add_note(request: web.Request) -> web.Response:
    """Add a note to the ticket's contact history."""
    note = await api.body(request, s.Note)
    contact = await request.app[keys.WORKORDERS].add_note(path_id(request, what="ticket"), note.text, who(request))
    return web.json_response(contact, status=201)


async def escalate(request: web.Request) -> web.Response:
    """Escalate to a department (status escalated) and ring its office, then its specialists."""
    ticket_id = path_id(request, what="ticket")
    work = request.app[keys.WORKORDERS]
    body = await api.body(request, s.Escalate, context=await _promise_context(work, ticket_id))
    outbound = request.app[keys.OUTBOUND]
    if body.call and outbound is None:
        raise AmiError("ami.down", "outbound calls are not available in this process")
    ticket = await work.escalated(ticket_id, body.department_id, body.promised_reply_at, who(request))
    escalation = None
    if body.call:
        escalation = await outbound.escalate(ticket_id, body.department_id, who(request), body.reason)
    return web.json_response({"ticket": ticket, "escalation": escalation}, status=202 if body.call else 200)


async def callback(request: web.Request) -> web.Response:
    """Call the caller back: the operator's phone rings first, then the caller's (202); with ``at``, schedule it (201)."""
    body = await api.body(request, s.Callback)
    ticket_id = path_id(request, what="ticket")
    if body.at is not None:
        return await _schedule_callback(request, ticket_id, body)
    outbound = request.app[keys.OUTBOUND]
    if outbound is None:
        raise AmiError("ami.down", "outbound calls are not available in this process")
    agent = body.agent_id or agent_of(request)
    if not agent:
        raise InvalidData("callback.no_agent", "no operator to ring first",
                          [{"field": "agent_id", "problem": "is required (no operator is logged in)"}])
    result = await outbound.callback(ticket_id, agent, number=body.number, survey=body.survey,
                                     task_id=body.task_id, by=who(request))
    return web.json_response(result, status=202)


async def _schedule_callback(request: web.Request, ticket_id: int, body: s.Callback) -> web.Response:
    """A pending callback task due at ``at``: a ticket may have several (one per time; the same time twice is 409)."""
    work = request.app[keys.WORKORDERS]
    ticket = await work.get(ticket_id)
    number = body.number or ticket["caller_number"]
    if not number:
        raise InvalidData("callback.no_number", "the ticket has no caller number to call back",
                          [{"field": "number", "problem": "give the number to call"}])
    at = body.at.astimezone(dt.UTC)
    agent = body.agent_id or agent_of(request)
    task = await work.create_task(ticket_id, "callback", number, agent_id=agent, name=ticket["caller_name"] or "",
                                  not_before=at, dedupe_key=f"at {at:%Y-%m-%dT%H:%M:%S}",
                                  details={"by": who(request), "survey": body.survey})
    await work.record_contact(ticket_id, "callback", agent_id=agent, number=task["number"], outcome="scheduled",
                              details={"task_id": task["id"], "at": task["not_before"], "by": who(request)})
    log.info("callback.scheduled", ticket_id=ticket_id, task_id=task["id"], at=task["not_before"], agent=agent)
    return web.json_response({"task": task}, status=201)


async def survey(request: web.Request) -> web.Response:
    """Record a satisfaction score given on the phone (the IVR survey records its own)."""
    body = await api.body(request, s.Survey)
    ticket = await request.app[keys.WORKORDERS].record_survey(path_id(request, what="ticket"), body.score,
                                                               agent_id=who(request), via="operator")
    return web.json_response(ticket)


async def import_12345(request: web.Request) -> web.Response:
    """Import 12345 transferred orders (CSV with a header, or JSON) as tickets with their deadline."""
    q = api.query(request, s.ImportQuery)
    fmt = q.format or ("json" if "json" in request.content_type else "csv")
    data = await api.text_body(request, "orders")
    report = await request.app[keys.WORKORDERS].import_12345(data, fmt, who(request))
    return web.json_response(report, status=201 if report["created"] else 200)


async def list_tasks(request: web.Request) -> web.Response:
    """Callback tasks (default: pending), soonest first."""
    q = api.query(request, s.TasksQuery)
    tasks = await request.app[keys.WORKORDERS].tasks(state=None if q.state == "all" else q.state, kind=q.kind,
                                                      agent=_mine(request) if q.mine else None, limit=q.limit)
    return web.json_response({"tasks": tasks})


def _mine(request: web.Request) -> str:
    """The operator ``mine=true`` means: the logged-in user's phone (400 for a user without one)."""
    agent = agent_of(request)
    if not agent:
        raise InvalidData("ticket.invalid_query", "mine needs an operator's login",
                          [{"field": "mine", "problem": "this user has no operator phone (agent id)"}])
    return agent


# -- departments ------------------------------------------------------------------------------------


async def list_departments(request: web.Request) -> web.Response:
    """The directory: departments with their specialists."""
    return web.json_response({"departments": await request.app[keys.DIRECTORY].departments()})


async def create_department(request: web.Request) -> web.Response:
    """Add a department."""
    body = await api.body(request, s.DepartmentIn)
    return web.json_response(await request.app[keys.DIRECTORY].save_department(body.model_dump()), status=201)


async def patch_department(request: web.Request) -> web.Response:
    """Change a department."""
    body = await api.body(request, s.DepartmentPatch)
    department_id = path_id(request, what="department")
    return web.json_response(await request.app[keys.DIRECTORY].save_department(body.changes(), department_id))


async def create_specialist(request: web.Request) -> web.Response:
    """Add a specialist to a department."""
    body = await api.body(request, s.SpecialistIn)
    values = body.model_dump(exclude_none=True)
    spec = await request.app[keys.DIRECTORY].save_specialist(values, department_id=path_id(request, what="department"))
    return web.json_response(spec, status=201)


async def patch_specialist(request: web.Request) -> web.Response:
    """Change a specialist."""
    changes = (await api.body(request, s.SpecialistPatch)).changes()
    if "duty" in changes:
        changes["duty"] = {k: v for k, v in (changes["duty"] or {}).items() if v is not None}
    specialist_id = path_id(request, what="specialist")
    return web.json_response(await request.app[keys.DIRECTORY].save_specialist(changes, specialist_id=specialist_id))


async def delete_specialist(request: web.Request) -> web.Response:
    """Remove a specialist."""
    specialist_id = path_id(request, what="specialist")
    await request.app[keys.DIRECTORY].delete_specialist(specialist_id)
    return web.json_response({"deleted": specialist_id})


async def import_directory(request: web.Request) -> web.Response:
    """Import departments and their escalation contacts from CSV: all or nothing; dry_run only checks."""
    q = api.query(request, s.DirectoryImportQuery)
    data = await api.text_body(request, "directory")
    report = await request.app[keys.DIRECTORY].import_csv(data, by=who(request), dry_run=q.dry_run)
    created = report["departments_created"] or report["contacts_created"]
    return web.json_response(report, status=201 if created and not q.dry_run else 200)


T, D, C = "tickets", "departments", "callbacks"
TICKET_MOVE = {409: "the ticket's status does not allow this (allowed lists what does)",
               422: "an unsolved ticket whose call ended needs promised_reply_at"}
ASTERISK = {503: "Asterisk is not reachable for the call"}
ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/tickets", list_tickets, "List tickets (a caller's history, open, overdue)", T,
          query=s.TicketQuery, response=s.TicketList),
    Route("GET", "/api/tickets/{id}", get_ticket, "One ticket with contacts, tasks and linked calls", T,
          response=s.TicketDetail),
    Route("PATCH", "/api/tickets/{id}", patch_ticket, "Change a ticket (fields and at most one status move)", T,
          body=s.TicketPatch, response=s.TicketDetail, errors=TICKET_MOVE),
    Route("POST", "/api/tickets/{id}/notes", add_note, "Add a note to the contact history", T, body=s.Note,
          ok=(201,), response=s.Contact),
    Route("POST", "/api/tickets/{id}/escalate", escalate, "Escalate to a department and ring it (202; call false: 200)",
          T, body=s.Escalate, ok=(200, 202), response=s.Escalation, errors={**TICKET_MOVE, **ASTERISK}),
    Route("POST", "/api/tickets/{id}/callback", callback,
          "Call back: operator's phone first, then the caller (202); with `at`, schedule a callback task (201)", C,
          body=s.Callback, ok=(201, 202), response=s.CallbackStarted,
          errors={409: "a callback at that time is already scheduled, or the ticket's state refuses it", **ASTERISK}),
    Route("POST", "/api/tickets/{id}/survey", survey, "Record a satisfaction score (1-5) given on the phone", T,
          body=s.Survey, response=s.TicketDetail, errors=TICKET_MOVE),
    Route("POST", "/api/tickets/import", import_12345, "Import 12345 transferred orders (CSV or JSON)", T,
          query=s.ImportQuery, ok=(200, 201), body_media="text/csv", response=s.ImportReport, role="supervisor"),
    Route("GET", "/api/callbacks", list_tasks, "Callback tasks (abandoned calls, callbacks, lists)", C,
          query=s.TasksQuery, response=s.TaskList),
    Route("GET", "/api/departments", list_departments, "Departments and their specialists", D,
          response=s.DepartmentList),
    Route("POST", "/api/departments", create_department, "Add a department", D, body=s.DepartmentIn, ok=(201,),
          response=s.Department, errors={409: "a department of that name exists"}, role="supervisor"),
    Route("PATCH", "/api/departments/{id}", patch_department, "Change a department", D, body=s.DepartmentPatch,
          response=s.Department, errors={409: "a department of that name exists"}, role="supervisor"),
    Route("POST", "/api/departments/import", import_directory,
          "Import departments and escalation contacts (CSV, all or nothing)", D, query=s.DirectoryImportQuery,
          ok=(200, 201), body_media="text/csv", response=s.DirectoryImportReport,
          errors={409: "the directory changed during the import"}, role="supervisor"),
    Route("POST", "/api/departments/{id}/specialists", create_specialist, "Add a specialist", D,
          body=s.SpecialistIn, ok=(201,), response=s.Specialist, role="supervisor"),
    Route("PATCH", "/api/specialists/{id}", patch_specialist, "Change a specialist", D, body=s.SpecialistPatch,
          response=s.Specialist, role="supervisor"),
    Route("DELETE", "/api/specialists/{id}", delete_specialist, "Remove a specialist", D, response=s.Deleted,
          role="supervisor"),
    Route("GET", "/api/workorders/openapi.json", openapi, "This document", "meta", response={"type": "object"}),
    Route("GET", "/api/openapi.json", openapi, "This document", "meta", response={"type": "object"}),
)


def add_routes(app: web.Application) -> None:
    """Register every route of ``ROUTES`` (and describe it in the OpenAPI document)."""
    api.register(app, ROUTES, api.asterisk_unreachable)
