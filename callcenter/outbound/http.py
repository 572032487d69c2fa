"""HTTP JSON API of outbound lists: import a list (supervisors), read tasks and the attempt log.

Same conventions as the work-order API (``callcenter.workorders.api``): routes declared once in
``ROUTES``, query parameters validated, errors ``{"error", "message", "problems"}`` (400 with every
bad row of an import by line, 404, 409).  The web side's access middleware covers ``/api/*``:
reading needs any logged-in user, importing and cancelling the supervisor role.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from callcenter.outbound import keys
from callcenter.outbound.models import ATTEMPT_RESULTS, LIST_KINDS
from callcenter.web.security import requires
from callcenter.workorders import schemas
from callcenter.workorders.api import Route, int_id, query_of, who, wrap
from callcenter.workorders.models import TASK_STATES

KINDS = [*LIST_KINDS, "abandoned"]
IMPORT_QUERY = {
    "name": {"type": "string", "maxLength": 128, "description": "a label for the list (default: the file name)"},
    "dry_run": {"type": "boolean", "description": "check the file and report, write nothing"},
}
TASKS_QUERY = {
    "kind": {"type": "string", "enum": KINDS},
    "state": {"type": "string", "enum": [*TASK_STATES, "all"], "description": "default: all"},
    "list_id": {"type": "integer", "minimum": 1},
    "offset": {"type": "integer", "minimum": 0},
    "limit": {"type": "integer", "minimum": 1, "maximum": 500},
}
ATTEMPTS_QUERY = {
    "task_id": {"type": "integer", "minimum": 1},
    "result": {"type": "string", "enum": list(ATTEMPT_RESULTS)},
    "since": {"type": "string", "description": "ISO datetime"},
    "limit": {"type": "integer", "minimum": 1, "maximum": 500},
}


async def import_list(request: web.Request) -> web.Response:
    """Import a CSV list (follow-ups, reminders): all or nothing, every bad row reported by line."""
    q = query_of(request, IMPORT_QUERY)
    name = q.get("name") or _file_name(request)
    report = await request.app[keys.LISTS].import_csv(await request.read(), name=name, by=who(request),
                                                     dry_run=q.get("dry_run", False))
    runner = request.app.get(keys.RUNNER)
    if runner is not None and report["created"]:
        runner.wake()
    return web.json_response(report, status=201 if report["created"] and not report["dry_run"] else 200)


def _file_name(request: web.Request) -> str:
    disposition = request.headers.get("Content-Disposition", "")
    for part in disposition.split(";"):
        key, _, value = part.strip().partition("=")
        if key == "filename":
            return value.strip('"')[:128]
    return ""


async def list_tasks(request: web.Request) -> web.Response:
    """Outbound tasks (list calls and abandoned-call callbacks), soonest first."""
    q = query_of(request, TASKS_QUERY)
    state = q.get("state", "all")
    tasks = await request.app[keys.LISTS].tasks(kind=q.get("kind"), state=None if state == "all" else state,
                                                list_id=q.get("list_id"), limit=q.get("limit", 100),
                                                offset=q.get("offset", 0))
    return web.json_response({"tasks": tasks})


async def get_task(request: web.Request) -> web.Response:
    """One task with every attempt."""
    return web.json_response(await request.app[keys.LISTS].task(int_id(request)))


async def cancel_task(request: web.Request) -> web.Response:
    """Stop calling (the patient asked so, the appointment was cancelled)."""
    body = await request.json() if request.can_read_body else {}
    reason = str(body.get("reason", ""))[:200] if isinstance(body, dict) else ""
    return web.json_response(await request.app[keys.LISTS].cancel(int_id(request), who(request), reason))


async def list_attempts(request: web.Request) -> web.Response:
    """The attempt log, newest first."""
    q = query_of(request, ATTEMPTS_QUERY)
    since = schemas.parse_datetime(q["since"]) if "since" in q else None
    attempts = await request.app[keys.LISTS].attempts(task_id=q.get("task_id"), result=q.get("result"), since=since,
                                                      limit=q.get("limit", 100))
    return web.json_response({"attempts": attempts})


async def list_imports(request: web.Request) -> web.Response:
    """Imported lists, newest first."""
    return web.json_response({"lists": await request.app[keys.LISTS].imports()})


L = "outbound lists"
ROUTES: tuple[tuple[Route, str | None], ...] = (
    (Route("POST", "/api/outbound/import", import_list, "Import a follow-up / reminder list (CSV)", L,
           query=IMPORT_QUERY, status=201, body_media="text/csv"), "supervisor"),
    (Route("GET", "/api/outbound/lists", list_imports, "Imported lists", L), None),
    (Route("GET", "/api/outbound/tasks", list_tasks, "Outbound tasks", L, query=TASKS_QUERY), None),
    (Route("GET", "/api/outbound/tasks/{id}", get_task, "One task with its attempts", L), None),
    (Route("POST", "/api/outbound/tasks/{id}/cancel", cancel_task, "Stop calling a pending task", L), "supervisor"),
    (Route("GET", "/api/outbound/attempts", list_attempts, "The attempt log", L, query=ATTEMPTS_QUERY), None),
)


def add_routes(app: web.Application) -> None:
    """Register the routes; imports and cancelling need the supervisor role."""
    for route, role in ROUTES:
        handler: Any = wrap(route)
        if role is not None:
            handler = requires(role)(handler)
        app.router.add_route(route.method, route.path, handler)
