"""HTTP JSON API of the knowledge base: search, suggestions before typing, entries, history, lookups, CSV.

Same conventions as the work-order API: routes declared once in ``ROUTES`` with the pydantic models
of their query and body (still in ``callcenter.workorders.schemas``), registered and described in the
OpenAPI document through ``callcenter.web.api``.  Suggestions for a ticket read it through
``callcenter.kb.suggestions`` (the knowledge base depends on work orders, never the other way).
"""

from __future__ import annotations

from aiohttp import web
from pydantic import Field

from callcenter.kb import keys
from callcenter.kb import schemas as ks
from callcenter.web import api
from callcenter.web.api import Body, Id, Route, path_id, who
from callcenter.workorders import keys as wo_keys
from callcenter.workorders import schemas as s
from callcenter.workorders.desk_http import scope_of


class Promote(Body):
    question: s.Question | None = Field(None, description="the entry's question (default: the ticket's question)")
    contact_id: Id | None = Field(None, description="which reply (default: the ticket's latest)")
    keywords: s.Keywords = ""
    category: s.Label = ""


async def kb_search(request: web.Request) -> web.Response:
    """Search by words (synonyms, pinyin and initials too), best first, with highlighted question and snippet."""
    q = api.query(request, s.SearchQuery)
    result = await request.app[keys.KB].search(q.q, limit=q.limit, category=q.category, department=q.department)
    return web.json_response(result)


async def kb_suggestions(request: web.Request) -> web.Response:
    """Entries to show before typing, for the ticket on the desk, each with why (``callcenter.kb.suggest``)."""
    q = api.query(request, ks.SuggestionsQuery)
    return web.json_response(await request.app[keys.SUGGESTIONS].for_ticket(q.ticket_id, q.limit))


async def kb_list(request: web.Request) -> web.Response:
    """Entries page by page."""
    q = api.query(request, s.KbListQuery)
    return web.json_response(await request.app[keys.KB].list(category=q.category, offset=q.offset, limit=q.limit))


async def kb_get(request: web.Request) -> web.Response:
    """One entry."""
    return web.json_response(await request.app[keys.KB].get(path_id(request, what="kb_entry")))


async def kb_create(request: web.Request) -> web.Response:
    """Add an entry."""
    body = await api.body(request, s.KbEntryIn)
    return web.json_response(await request.app[keys.KB].create(body.model_dump(), who(request) or ""), status=201)


async def kb_patch(request: web.Request) -> web.Response:
    """Change an entry (the edit is kept in its history)."""
    changes = (await api.body(request, s.KbEntryPatch)).changes()
    entry_id = path_id(request, what="kb_entry")
    return web.json_response(await request.app[keys.KB].update(entry_id, changes, who(request) or ""))


async def kb_delete(request: web.Request) -> web.Response:
    """Deactivate an entry (its history stays)."""
    return web.json_response(await request.app[keys.KB].delete(path_id(request, what="kb_entry"), who(request) or ""))


async def kb_history(request: web.Request) -> web.Response:
    """Every edit of an entry: who, when, before, after."""
    return web.json_response({"history": await request.app[keys.KB].history(path_id(request, what="kb_entry"))})


async def kb_view(request: web.Request) -> web.Response:
    """Count one lookup: the operator opened the entry (during a ticket, if one is given)."""
    body = await api.body(request, ks.ViewIn)
    service = request.app[keys.PREVENTION]
    view = await service.record_view(path_id(request, what="kb_entry"), body.ticket_id, who(request) or "",
                                     service.clock())
    return web.json_response(view, status=201)


async def kb_export(request: web.Request) -> web.Response:
    """Every active entry as CSV (UTF-8 with BOM, so spreadsheet programs read Chinese right)."""
    text = await request.app[keys.KB].export_csv()
    return web.Response(body=("\ufeff" + text).encode("utf-8"), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": 'attachment; filename="kb.csv"'})


async def kb_import(request: web.Request) -> web.Response:
    """Create or update entries from CSV; all or nothing, problems reported by line."""
    report = await request.app[keys.KB].import_csv(await api.text_body(request, "CSV file"), who(request) or "")
    return web.json_response(report)


async def kb_promote(request: web.Request) -> web.Response:
    """A desk reply becomes an entry in one step: the ticket's question, the reply, its author and department."""
    body = await api.body(request, Promote, optional=True)
    ticket_id = path_id(request, what="ticket")
    start = await request.app[wo_keys.DESK].promotion(await scope_of(request), ticket_id, body.contact_id)
    values = {"question": body.question or start["question"][:500], "answer": start["answer"], "keywords": body.keywords,
              "category": body.category, "department": start["department"]}
    entry = await request.app[keys.KB].create(values, who(request) or "", author=start["author"],
                                              source={"ticket_id": ticket_id, "contact_id": start["contact_id"]})
    return web.json_response(entry, status=201)


async def kb_words(request: web.Request) -> web.Response:
    """The supervisors' dictionary terms and the synonym groups."""
    return web.json_response(await request.app[keys.DICTIONARY].words())


async def kb_add_term(request: web.Request) -> web.Response:
    """Add a dictionary term; every entry is cut into words again."""
    body = await api.body(request, ks.TermIn)
    return web.json_response(await request.app[keys.DICTIONARY].add_term(body.word, who(request) or ""), status=201)


async def kb_delete_term(request: web.Request) -> web.Response:
    """Remove a dictionary term; every entry is cut into words again."""
    term_id = path_id(request, what="kb_term")
    return web.json_response(await request.app[keys.DICTIONARY].delete_term(term_id, who(request) or ""))


async def kb_add_synonyms(request: web.Request) -> web.Response:
    """Add a synonym group."""
    body = await api.body(request, ks.SynonymsIn)
    return web.json_response(await request.app[keys.DICTIONARY].add_group(body.terms, who(request) or ""),
                             status=201)


async def kb_change_synonyms(request: web.Request) -> web.Response:
    """Replace the terms of a synonym group."""
    body = await api.body(request, ks.SynonymsIn)
    group_id = path_id(request, what="kb_synonyms")
    return web.json_response(await request.app[keys.DICTIONARY].update_group(group_id, body.terms, who(request) or ""))


async def kb_delete_synonyms(request: web.Request) -> web.Response:
    """Remove a synonym group."""
    group_id = path_id(request, what="kb_synonyms")
    return web.json_response(await request.app[keys.DICTIONARY].delete_group(group_id, who(request) or ""))


K = "knowledge base"
ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/kb/search", kb_search, "Search the knowledge base (words, synonyms, pinyin; ranked, highlighted)", K,
          query=s.SearchQuery, response=s.SearchResult),
    Route("GET", "/api/kb/suggestions", kb_suggestions,
          "Entries for the ticket's caller before typing (message heard, menu choice, last ticket), with reasons", K,
          query=ks.SuggestionsQuery, response=ks.Suggestions, errors={404: "no such ticket"}),
    Route("GET", "/api/kb/entries", kb_list, "List entries", K, query=s.KbListQuery, response=s.KbPage),
    Route("POST", "/api/kb/entries", kb_create, "Add an entry", K, body=s.KbEntryIn, ok=(201,), response=s.KbEntry,
          role="supervisor"),
    Route("GET", "/api/kb/entries/{id}", kb_get, "One entry", K, response=s.KbEntry),
    Route("PATCH", "/api/kb/entries/{id}", kb_patch, "Change an entry (the edit is kept)", K, body=s.KbEntryPatch,
          response=s.KbEntry, role="supervisor"),
    Route("DELETE", "/api/kb/entries/{id}", kb_delete, "Deactivate an entry (its history stays)", K,
          response=s.KbEntry, role="supervisor"),
    Route("GET", "/api/kb/entries/{id}/history", kb_history, "Every edit of an entry: who, when, before, after", K,
          response=s.KbHistory),
    Route("POST", "/api/kb/entries/{id}/views", kb_view, "Count a lookup of an entry (opened from the desk)", K,
          body=ks.ViewIn, ok=(201,), response=ks.View),
    Route("GET", "/api/kb/export.csv", kb_export, "Export the knowledge base as CSV", K,
          response={"type": "string"}, response_media="text/csv", role="supervisor"),
    Route("POST", "/api/kb/import", kb_import, "Import CSV (id empty: new entry); all or nothing", K,
          body_media="text/csv", response=s.KbImportReport, role="supervisor"),
    Route("GET", "/api/kb/words", kb_words, "The dictionary terms and synonym groups search uses", K,
          response=ks.Words),
    Route("POST", "/api/kb/terms", kb_add_term, "Add a dictionary term (entries are cut into words again)", K,
          body=ks.TermIn, ok=(201,), response=ks.TermOut, errors={409: "the term is there already"},
          role="supervisor"),
    Route("DELETE", "/api/kb/terms/{id}", kb_delete_term, "Remove a dictionary term (entries are cut again)", K,
          response=ks.TermOut, role="supervisor"),
    Route("POST", "/api/kb/synonyms", kb_add_synonyms, "Add a synonym group", K, body=ks.SynonymsIn, ok=(201,),
          response=ks.SynonymsOut, errors={409: "too many groups"}, role="supervisor"),
    Route("PUT", "/api/kb/synonyms/{id}", kb_change_synonyms, "Replace a synonym group's terms", K,
          body=ks.SynonymsIn, response=ks.SynonymsOut, role="supervisor"),
    Route("DELETE", "/api/kb/synonyms/{id}", kb_delete_synonyms, "Remove a synonym group", K,
          response=ks.SynonymsOut, role="supervisor"),
    Route("POST", "/api/desk/tickets/{id}/promote", kb_promote,
          "Promote a desk reply into the knowledge base (question editable), with its author", "desk",
          body=Promote, body_required=False, ok=(201,), response=s.KbEntry,
          errors={403: "the ticket belongs to another department (desk.not_your_department)"}, role="specialist"),
)


def add_routes(app: web.Application) -> None:
    """Register every route of ``ROUTES`` (and describe it in the OpenAPI document)."""
    api.register(app, ROUTES, api.asterisk_unreachable)
