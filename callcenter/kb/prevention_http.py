"""HTTP JSON API of 未诉先办 (answering before the question), for supervisors.

  GET  /api/prevention?from=&to=&top=   what rose most (categories, entries) and the messages' effect
  POST /api/prevention/messages         an entry made into a hotline message: texts, when it plays

The message's audio and schedule rule are made by the IVR's ``Messages`` (on the app under
``callcenter.keys.IVR_MESSAGES``); without a running IVR the route answers 503.
"""

from __future__ import annotations

from aiohttp import web

from callcenter import keys as app_keys
from callcenter.kb import keys
from callcenter.kb import schemas as ks
from callcenter.kb.prevention import Period, this_week
from callcenter.web import api
from callcenter.web.api import Route, who
from callcenter.web.exceptions import WebError


async def report(request: web.Request) -> web.Response:
    """This week (or the chosen days) against the same length before: what rose most; each message's effect."""
    q = api.query(request, ks.ReportQuery)
    service = request.app[keys.PREVENTION]
    now = service.clock()
    week, last_week = this_week(now.astimezone(service.zone).date())
    if q.from_ is None and q.to is None:
        return web.json_response(await service.report(week, now, q.top, last_week))
    period = Period(q.from_ or week.first, q.to or week.last)
    if period.last < period.first:
        raise api.invalid([{"field": "to", "problem": "is before from"}], "period")
    return web.json_response(await service.report(period, now, q.top))


async def make_message(request: web.Request) -> web.Response:
    """Turn an entry into a hotline message: builds its prompt audio and adds its schedule rule."""
    body = await api.body(request, ks.MessageIn)
    maker = request.app.get(app_keys.IVR_MESSAGES)
    if maker is None:
        raise WebError(503, "ivr.off", "the IVR is not running: no hotline message can be made")
    service = request.app[keys.PREVENTION]
    values = body.model_dump(exclude={"entry_id"}, exclude_none=True)
    message = await service.make_message(maker, body.entry_id, values, who(request) or "", service.clock())
    return web.json_response(message, status=201)


P = "prevention (未诉先办)"
ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/prevention", report, "What rose most against the period before; the messages' effect", P,
          query=ks.ReportQuery, response=ks.Report, role="supervisor"),
    Route("POST", "/api/prevention/messages", make_message, "Make a hotline message from an entry (prompt and rule)",
          P, body=ks.MessageIn, ok=(201,), response=ks.Message,
          errors={404: "no knowledge-base entry with that id",
                  503: "the IVR is off, or the prompt audio could not be made"}, role="supervisor"),
)


def add_routes(app: web.Application) -> None:
    """Register the routes of ``ROUTES``."""
    api.register(app, ROUTES)
