"""HTTP JSON API of the feedback ledger (``/api/ledger/...``) and its page ``/ledger``.

Every route is declared once in ``ROUTES`` with its pydantic models (``callcenter.web.api``).  The
ledger is for supervisors and the departments' specialists: routes a specialist may use declare
role ``specialist`` and ``scope`` then refuses operators (403) and narrows a specialist to their
departments (another department's item is 404).  Verifying, striking off, reopening, classifying,
adding items by hand and importing the catalogue declare ``supervisor``.
"""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import Field

from callcenter.ledger import keys
from callcenter.ledger import lifecycle as lc
from callcenter.ledger.exceptions import Forbidden
from callcenter.ledger.models import MAX_CODE, MAX_ITEM, MAX_NAME, MAX_TEXT, SOURCES
from callcenter.ledger.service import Scope
from callcenter.web import api, labels
from callcenter.web.api import Body, Id, Moment, Patch, Query, Reply, Route, limit, line, path_id, requires, text
from callcenter.web.pages import page
from callcenter.web.security import current_user

StatusName = Literal[tuple(s.value for s in lc.Status)]  # type: ignore[valid-type]
SourceName = Literal[SOURCES]  # type: ignore[valid-type]
Limit500 = limit(500)
LongText, RequiredText, Note = text(MAX_TEXT), text(MAX_TEXT, 1), text(1000)
Name = line(MAX_NAME)


# -- requests and answers ---------------------------------------------------------------------------


class ItemQuery(Query):
    department_id: Id | None = Field(None, description="only this department's items")
    unclassified: bool = Field(False, description="only items without a department or catalogue item")
    status: list[StatusName] | None = Field(None, min_length=1, max_length=len(lc.Status),
                                            description="comma-separated statuses")
    source: list[SourceName] | None = Field(None, min_length=1, max_length=len(SOURCES),
                                            description="comma-separated sources")
    overdue: bool = Field(False, description="only items past their deadline and not struck off")
    institution: Name | None = Field(None, description="only this institution's items (a health bureau's ledger)")
    limit: Limit500 = 200


class ItemIn(Body):
    description: RequiredText
    department_id: Id | None = None
    institution: Name = ""


class ItemPatch(Patch):
    """A specialist may set measure, owner and deadline; a supervisor also description and institution."""

    measure: LongText | None = None
    owner: Name | None = None
    deadline: Moment | None = None
    description: RequiredText | None = None
    institution: Name | None = None


class MoveIn(Body):
    text: Note = Field("", description="why (kept in the item's history)")


class Classify(Body):
    department_id: Id
    catalogue_id: Id | None = Field(None, description="an item of that department's catalogue")


class CatalogueQuery(Query):
    department_id: Id | None = None


class ImportQuery(Query):
    dry_run: bool = Field(False, description="check the file and report, write nothing")


class Event(Reply):
    id: int
    at: str
    by: str | None
    from_status: str | None
    to_status: str | None
    text: str


class Item(Reply):
    id: int
    ticket_id: int | None
    source: str
    department_id: int | None
    department: str | None
    catalogue_id: int | None
    institution: str
    description: str
    measure: str
    owner: str
    deadline: str | None
    status: str
    score: int | None
    overdue: bool
    allowed: list[str]
    created_at: str
    struck_off_at: str | None
    verified_by: str | None


class ItemDetail(Item):
    events: list[Event]


class ItemList(Reply):
    items: list[Item]


class CatalogueEntry(Reply):
    id: int
    department_id: int
    department: str
    code: str = Field(max_length=MAX_CODE)
    item: str = Field(max_length=MAX_ITEM)
    active: bool


class CatalogueList(Reply):
    catalogue: list[CatalogueEntry]


class ImportReport(Reply):
    rows: int
    created: int
    updated: int
    unchanged: int
    dry_run: bool


# -- handlers ---------------------------------------------------------------------------------------


async def scope(request: web.Request) -> Scope:
    """Supervisors see everything; specialists their departments; operators nothing (403)."""
    user = current_user(request)
    if user.at_least("supervisor"):
        return Scope(by=user.username)
    if user.role == "specialist":
        return await request.app[keys.LEDGER].scope_of(user.id, user.username)
    raise Forbidden("the ledger is for supervisors and the departments' specialists")


async def list_items(request: web.Request) -> web.Response:
    """Items newest first, filtered by department, status, source, overdue."""
    q = api.query(request, ItemQuery)
    items = await request.app[keys.LEDGER].list(await scope(request), department_id=q.department_id,
                                                unclassified=q.unclassified, status=q.status, source=q.source,
                                                overdue=q.overdue, institution=q.institution, limit=q.limit)
    return web.json_response({"items": items})


async def get_item(request: web.Request) -> web.Response:
    """One item with its history."""
    item_id = path_id(request, what="ledger_item")
    return web.json_response(await request.app[keys.LEDGER].get(item_id, await scope(request)))


async def create_item(request: web.Request) -> web.Response:
    """Add an item by hand (source manual)."""
    body = await api.body(request, ItemIn)
    item = await request.app[keys.LEDGER].create(body.model_dump(), await scope(request))
    return web.json_response(item, status=201)


async def patch_item(request: web.Request) -> web.Response:
    """Set the measure, owner, deadline (specialists too); description and institution (supervisors)."""
    item_id = path_id(request, what="ledger_item")
    changes = (await api.body(request, ItemPatch)).changes()
    for name in ("measure", "owner", "description", "institution"):
        if name in changes:
            changes[name] = (changes[name] or "").strip()
    return web.json_response(await request.app[keys.LEDGER].update(item_id, changes, await scope(request)))


def _move(name: str) -> api.Handler:
    async def handler(request: web.Request) -> web.Response:
        item_id = path_id(request, what="ledger_item")
        body = await api.body(request, MoveIn, optional=True)
        item = await request.app[keys.LEDGER].move(item_id, name, await scope(request), body.text.strip())
        return web.json_response(item)

    handler.__name__ = name
    handler.__doc__ = f"Move the item: {name.replace('_', ' ')}."
    return handler


async def classify(request: web.Request) -> web.Response:
    """Set the department and catalogue item."""
    item_id = path_id(request, what="ledger_item")
    body = await api.body(request, Classify)
    item = await request.app[keys.LEDGER].classify(item_id, body.department_id, body.catalogue_id,
                                                   await scope(request))
    return web.json_response(item)


async def list_catalogue(request: web.Request) -> web.Response:
    """The catalogue (department -> coded items)."""
    q = api.query(request, CatalogueQuery)
    return web.json_response({"catalogue": await request.app[keys.LEDGER].catalogue(q.department_id)})


async def import_catalogue(request: web.Request) -> web.Response:
    """Import the catalogue CSV (department, code, item): all or nothing; dry_run only checks."""
    q = api.query(request, ImportQuery)
    data = await api.text_body(request, "catalogue")
    report = await request.app[keys.LEDGER].import_catalogue(data, by=api.who(request), dry_run=q.dry_run)
    return web.json_response(report, status=201 if report["created"] and not q.dry_run else 200)


@requires("specialist")
async def ledger_page(request: web.Request) -> web.Response:
    """The ledger page (operators are refused: the ledger is not theirs)."""
    if current_user(request).role == "operator":
        raise web.HTTPForbidden(text="the ledger is for supervisors and the departments' specialists")
    return page(request, "ledger.html", labels.text("title.ledger"))


L = "ledger"
MOVE = {409: "the item's status does not allow the move (allowed lists what does), or fields are missing"}
SPECIALIST, SUPERVISOR = "specialist", "supervisor"
ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/ledger/items", list_items, "Ledger items (supervisors; specialists: their departments)", L,
          query=ItemQuery, response=ItemList, role=SPECIALIST),
    Route("POST", "/api/ledger/items", create_item, "Add an item by hand", L, body=ItemIn, ok=(201,),
          response=ItemDetail, errors={404: "no such department"}, role=SUPERVISOR),
    Route("GET", "/api/ledger/items/{id}", get_item, "One item with its history", L, response=ItemDetail,
          role=SPECIALIST),
    Route("PATCH", "/api/ledger/items/{id}", patch_item, "Set measure, owner, deadline (and description, institution)",
          L, body=ItemPatch, response=ItemDetail, errors=MOVE, role=SPECIALIST),
    Route("POST", "/api/ledger/items/{id}/rectify", _move("rectify"), "Start rectifying (needs measure, owner, deadline)",
          L, body=MoveIn, body_required=False, response=ItemDetail, errors=MOVE, role=SPECIALIST),
    Route("POST", "/api/ledger/items/{id}/verify", _move("verify"), "Verify the rectification", L, body=MoveIn,
          body_required=False, response=ItemDetail, errors=MOVE, role=SUPERVISOR),
    Route("POST", "/api/ledger/items/{id}/strike-off", _move("strike_off"), "Strike off (销号) a verified item", L,
          body=MoveIn, body_required=False, response=ItemDetail, errors=MOVE, role=SUPERVISOR),
    Route("POST", "/api/ledger/items/{id}/reopen", _move("reopen"), "Reopen a verified or struck-off item", L,
          body=MoveIn, body_required=False, response=ItemDetail, errors=MOVE, role=SUPERVISOR),
    Route("POST", "/api/ledger/items/{id}/classify", classify, "Set department and catalogue item", L, body=Classify,
          response=ItemDetail, errors=MOVE, role=SUPERVISOR),
    Route("GET", "/api/ledger/catalogue", list_catalogue, "The catalogue (department -> items)", L,
          query=CatalogueQuery, response=CatalogueList, role=SUPERVISOR),
    Route("POST", "/api/ledger/catalogue/import", import_catalogue, "Import the catalogue CSV (all or nothing)", L,
          query=ImportQuery, ok=(200, 201), body_media="text/csv", response=ImportReport, role=SUPERVISOR),
)


def add_routes(app: web.Application) -> None:
    """Register ``ROUTES`` and the page."""
    app.router.add_get("/ledger", ledger_page)
    api.register(app, ROUTES)
