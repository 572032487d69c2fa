"""HTTP JSON API of the departments' desks (``callcenter.workorders.desk``): ``/api/desk/...``.

Every route needs the ``specialist`` role (so operators, supervisors and admins pass the role
check too); what a user sees is decided by their departments: a specialist only their
departments' tickets (another's answers 403 ``desk.not_your_department``), a supervisor every
department, anyone else none.  Promoting a reply into the knowledge base is ``callcenter.kb.http``.
"""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import Field

from callcenter import keys as app_keys
from callcenter.web import api
from callcenter.web.api import Body, Id, Query, Reply, Route, limit, path_id, text
from callcenter.workorders import keys
from callcenter.workorders import schemas as s
from callcenter.workorders.desk import MAX_REPLY, Scope

DeskText = text(MAX_REPLY, 1)
OptionalNote = text(MAX_REPLY)
PageSize = limit(500)


class DeskQuery(Query):
    view: Literal["escalated", "open"] = Field("escalated", description="escalated (waiting on a department) "
                                                                        "or every open ticket of the departments")
    limit: PageSize = 200


class DeskReply(Body):
    text: DeskText = Field(description=f"the written answer, 1-{MAX_REPLY} characters (shown as plain text)")


class DeskCallback(Body):
    note: DeskText = Field(description="what the hotline should tell the patient")


class DeskHandoff(Body):
    department_id: Id
    note: OptionalNote = ""


class DeskFinding(Body):
    text: DeskText


class DeskDepartment(Reply):
    id: int
    name: str
    is_head: bool = False


class DeskTicket(s.Ticket):
    department: str | None
    question: str


class DeskList(Reply):
    tickets: list[DeskTicket]
    for_head: list[DeskTicket] = Field(description="overdue tickets of the departments the user heads")
    departments: list[DeskDepartment] = Field(description="the user's departments (a supervisor: all)")


class DeskDetail(s.TicketDetail):
    question: str


class DeskAction(Reply):
    contact: s.Contact
    task: s.Task | None = None
    ticket: DeskDetail | None = None


class AllDepartments(Reply):
    departments: list[DeskDepartment]


async def scope_of(request: web.Request) -> Scope:
    """The desk user of the request: their departments, or every department for a supervisor."""
    user = request.get(app_keys.USER)
    if user is None:
        raise web.HTTPUnauthorized()
    if user.role != "specialist" and not user.at_least("supervisor"):
        return Scope(username=user.username)  # operators have no departments (even left from an old role)
    return await request.app[keys.DESK].scope(user.id, user.username, every=user.at_least("supervisor"))


async def list_tickets(request: web.Request) -> web.Response:
    """The departments' escalated (or every open) ticket, soonest due first."""
    q = api.query(request, DeskQuery)
    data = await request.app[keys.DESK].tickets(await scope_of(request), everything_open=q.view == "open", limit=q.limit)
    return web.json_response(data)


async def get_ticket(request: web.Request) -> web.Response:
    """One ticket of the user's departments: question, contact history, tasks, promised reply time."""
    desk = request.app[keys.DESK]
    return web.json_response(await desk.ticket(await scope_of(request), path_id(request, what="ticket")))


async def reply(request: web.Request) -> web.Response:
    """A written reply; the ticket goes back to the hotline with a callback task at once."""
    body = await api.body(request, DeskReply)
    desk = request.app[keys.DESK]
    result = await desk.reply(await scope_of(request), path_id(request, what="ticket"), body.text)
    return web.json_response(result, status=201)


async def ask_callback(request: web.Request) -> web.Response:
    """Ask the hotline to call the patient (the ticket stays escalated)."""
    body = await api.body(request, DeskCallback)
    desk = request.app[keys.DESK]
    result = await desk.ask_callback(await scope_of(request), path_id(request, what="ticket"), body.note)
    return web.json_response(result, status=201)


async def handoff(request: web.Request) -> web.Response:
    """Hand the ticket to another department."""
    body = await api.body(request, DeskHandoff)
    desk = request.app[keys.DESK]
    result = await desk.handoff(await scope_of(request), path_id(request, what="ticket"), body.department_id, body.note)
    return web.json_response(result, status=201)


async def finding(request: web.Request) -> web.Response:
    """Attach the department's written finding."""
    body = await api.body(request, DeskFinding)
    desk = request.app[keys.DESK]
    result = await desk.finding(await scope_of(request), path_id(request, what="ticket"), body.text)
    return web.json_response(result, status=201)


async def departments(request: web.Request) -> web.Response:
    """Every active department: where a ticket can be handed."""
    rows: list[dict[str, Any]] = await request.app[keys.DIRECTORY].departments()
    return web.json_response({"departments": [{"id": d["id"], "name": d["name"], "is_head": False}
                                              for d in rows if d["active"]]})


K = "desk"
MINE = {403: "the ticket belongs to another department (desk.not_your_department)"}
ACTS = {**MINE, 409: "the ticket is not open (solved, closed, merged) or already with that department"}
ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/desk/tickets", list_tickets, "The departments' escalated (or open) tickets, soonest due first",
          K, query=DeskQuery, response=DeskList, role="specialist"),
    Route("GET", "/api/desk/tickets/{id}", get_ticket, "One ticket of the user's departments with its history", K,
          response=DeskDetail, errors=MINE, role="specialist"),
    Route("POST", "/api/desk/tickets/{id}/reply", reply,
          "Reply in writing: the ticket back to the hotline and a callback task for the operator", K,
          body=DeskReply, ok=(201,), response=DeskAction, errors=ACTS, role="specialist"),
    Route("POST", "/api/desk/tickets/{id}/callback", ask_callback, "Ask the hotline to call the patient", K,
          body=DeskCallback, ok=(201,), response=DeskAction, errors=ACTS, role="specialist"),
    Route("POST", "/api/desk/tickets/{id}/handoff", handoff, "Hand the ticket to another department", K,
          body=DeskHandoff, ok=(201,), response=DeskAction, errors=ACTS, role="specialist"),
    Route("POST", "/api/desk/tickets/{id}/finding", finding, "Attach the department's written finding", K,
          body=DeskFinding, ok=(201,), response=DeskAction, errors=MINE, role="specialist"),
    Route("GET", "/api/desk/departments", departments, "Every active department (where a ticket can be handed)", K,
          response=AllDepartments, role="specialist"),
)


def add_routes(app: web.Application) -> None:
    """Register the desk's routes (and describe them in the OpenAPI document)."""
    api.register(app, ROUTES)
