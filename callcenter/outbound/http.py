"""HTTP JSON API of outbound lists: import a list (supervisors), read tasks and the attempt log; campaigns.

Same conventions as the work-order API (``callcenter.workorders.http``): routes declared once in
``ROUTES`` with their models (``callcenter.outbound.schemas``), validated by ``callcenter.web.api``,
errors ``{"error", "message", "problems"}`` (400 with every bad row of an import by line, 404, 409).
The web side's access middleware covers ``/api/*``: reading needs any logged-in user, importing and
cancelling the supervisor role.
"""

from __future__ import annotations

from aiohttp import web

from callcenter.outbound import keys
from callcenter.outbound import schemas as s
from callcenter.web import api
from callcenter.web.api import Route, path_id, who


async def import_list(request: web.Request) -> web.Response:
    """Import a CSV list (follow-ups, reminders): all or nothing, every bad row reported by line."""
    q = api.query(request, s.ImportQuery)
    name = q.name or _file_name(request)
    report = await request.app[keys.LISTS].import_csv(await api.text_body(request, "list"), name=name,
                                                     by=who(request), dry_run=q.dry_run)
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
    q = api.query(request, s.TasksQuery)
    tasks = await request.app[keys.LISTS].tasks(kind=q.kind, state=None if q.state == "all" else q.state,
                                                list_id=q.list_id, limit=q.limit, offset=q.offset)
    return web.json_response({"tasks": tasks})


async def get_task(request: web.Request) -> web.Response:
    """One task with every attempt."""
    return web.json_response(await request.app[keys.LISTS].task(path_id(request, what="callback_task")))


async def cancel_task(request: web.Request) -> web.Response:
    """Stop calling (the patient asked so, the appointment was cancelled)."""
    body = await api.body(request, s.Cancel, optional=True)
    task_id = path_id(request, what="callback_task")
    return web.json_response(await request.app[keys.LISTS].cancel(task_id, who(request), body.reason))


async def list_attempts(request: web.Request) -> web.Response:
    """The attempt log, newest first."""
    q = api.query(request, s.AttemptsQuery)
    attempts = await request.app[keys.LISTS].attempts(task_id=q.task_id, result=q.result, since=q.since, limit=q.limit)
    return web.json_response({"attempts": attempts})


async def list_imports(request: web.Request) -> web.Response:
    """Imported lists, newest first."""
    return web.json_response({"lists": await request.app[keys.LISTS].imports()})


async def create_campaign(request: web.Request) -> web.Response:
    """Draw a sampled satisfaction campaign from the tickets closed in a period (``dry_run``: show it only)."""
    b = await api.body(request, s.CampaignCreate)
    windows = b.windows.model_dump(exclude_none=True) if b.windows is not None else None
    report = await request.app[keys.CAMPAIGNS].create(
        b.from_, b.to, per_department=b.per_department, share=b.share, seed=b.seed, windows=windows, name=b.name,
        ends_at=b.until, by=who(request), dry_run=b.dry_run)
    runner = request.app.get(keys.RUNNER)
    if runner is not None and report["drawn"] and not b.dry_run:
        runner.wake()
    return web.json_response(report, status=200 if b.dry_run else 201)


async def list_campaigns(request: web.Request) -> web.Response:
    """Campaigns, newest first, with their progress."""
    return web.json_response({"campaigns": await request.app[keys.CAMPAIGNS].campaigns()})


async def get_campaign(request: web.Request) -> web.Response:
    """One campaign's progress: drawn, called, reached, scored, scores per department."""
    return web.json_response(await request.app[keys.CAMPAIGNS].campaign(path_id(request, what="campaign")))


C = "campaigns"
L = "outbound lists"
ROUTES: tuple[Route, ...] = (
    Route("POST", "/api/outbound/import", import_list, "Import a follow-up / reminder list (CSV)", L,
          query=s.ImportQuery, body_media="text/csv", ok=(200, 201), response=s.ListImportReport,
          errors={409: "the same rows were imported at the same moment"}, role="supervisor"),
    Route("GET", "/api/outbound/lists", list_imports, "Imported lists", L, response=s.ImportList),
    Route("GET", "/api/outbound/tasks", list_tasks, "Outbound tasks", L, query=s.TasksQuery, response=s.ListTaskList),
    Route("GET", "/api/outbound/tasks/{id}", get_task, "One task with its attempts", L, response=s.TaskWithAttempts),
    Route("POST", "/api/outbound/tasks/{id}/cancel", cancel_task, "Stop calling a pending task", L,
          body=s.Cancel, body_required=False, response=s.ListTask, errors={409: "the task is not pending"},
          role="supervisor"),
    Route("GET", "/api/outbound/attempts", list_attempts, "The attempt log", L, query=s.AttemptsQuery,
          response=s.AttemptList),
    Route("POST", "/api/campaigns", create_campaign, "Draw a sampled satisfaction campaign", C,
          body=s.CampaignCreate, ok=(200, 201), response=s.CampaignReport, role="supervisor"),
    Route("GET", "/api/campaigns", list_campaigns, "Satisfaction campaigns", C, response=s.CampaignList,
          role="supervisor"),
    Route("GET", "/api/campaigns/{id}", get_campaign, "One campaign's progress", C, response=s.CampaignDetail,
          role="supervisor"),
)


def add_routes(app: web.Application) -> None:
    """Register the routes; imports and cancelling need the supervisor role."""
    api.register(app, ROUTES, api.asterisk_unreachable)
