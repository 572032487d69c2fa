"""Reports for supervisors: the page, and the same report as JSON, CSV and PDF.

  GET /reports?period=day|week|month|last_month|last_quarter  or  ?from=YYYY-MM-DD&to=YYYY-MM-DD
  GET /api/reports          the figures as JSON (same parameters)
  GET /api/reports.csv      CSV download
  GET /api/reports.pdf      PDF download (printed by headless Chromium)
"""

from __future__ import annotations

import datetime as dt

import structlog
from aiohttp import web
from markupsafe import Markup

from callcenter import keys
from callcenter.web import api, labels
from callcenter.web import keys as web_keys
from callcenter.web import schemas as s
from callcenter.web.api import requires
from callcenter.web.pages import page
from callcenter.web.reports import (
    body_html,
    build_report,
    parse_range,
    print_html,
    report_kind,
    to_csv,
    to_pdf,
)

log = structlog.get_logger(__name__)


def add_routes(app: web.Application) -> None:
    """Register the report routes."""
    app.router.add_get("/reports", reports_page)
    api.register(app, ROUTES)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def _report(request: web.Request) -> dict | web.Response:
    settings = request.app[keys.SETTINGS]
    zone = settings.hospital.zone
    now = request.app.get(web_keys.CLOCK, _now)()
    today = now.astimezone(zone).date()
    try:
        q = api.query(request, s.ReportQuery)
    except api.RequestInvalid as err:
        return api.error_json(err.status, err.slug, str(err), problems=err.problems)
    try:
        start, end = parse_range(q.as_strings(), zone, today)
    except (ValueError, KeyError) as err:
        return api.error_json(400, "report.bad_range", str(err))
    return await build_report(request.app[web_keys.READS], settings, start, end, now)


@requires("supervisor")
async def reports_page(request: web.Request) -> web.Response:
    """The report page: range controls, figures and charts, download links."""
    report = await _report(request)
    if isinstance(report, web.Response):
        return report
    query = f"from={report['from']}&to={report['to']}"
    return page(
        request,
        "reports.html",
        labels.text("title.reports"),
        kind=report_kind(dt.date.fromisoformat(report["from"]), dt.date.fromisoformat(report["to"])),
        start=report["from"],
        end=report["to"],
        csv_url=f"/api/reports.csv?{query}",
        pdf_url=f"/api/reports.pdf?{query}",
        report_body=Markup(body_html(report)),  # built from escaped values by body_html()
    )


@requires("supervisor")
async def report_json(request: web.Request) -> web.Response:
    """The report's figures."""
    report = await _report(request)
    if isinstance(report, web.Response):
        return report
    return web.json_response(report)


@requires("supervisor")
async def report_csv(request: web.Request) -> web.Response:
    """The report as a CSV download."""
    report = await _report(request)
    if isinstance(report, web.Response):
        return report
    name = f"hotline-report-{report['from']}-{report['to']}.csv"
    return web.Response(
        text=to_csv(report), content_type="text/csv", charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@requires("supervisor")
async def report_pdf(request: web.Request) -> web.Response:
    """The report as a PDF download."""
    report = await _report(request)
    if isinstance(report, web.Response):
        return report
    kind = labels.text(report_kind(dt.date.fromisoformat(report["from"]), dt.date.fromisoformat(report["to"])))
    title = labels.text("title.report_pdf").format_map({"kind": kind, "from": report["from"], "to": report["to"]})
    try:
        pdf = await to_pdf(print_html(report, title))
    except (OSError, RuntimeError, TimeoutError) as err:
        log.error("report.pdf_failed", error=str(err))
        return api.error_json(503, "report.pdf_unavailable", str(err))
    name = f"hotline-report-{report['from']}-{report['to']}.pdf"
    return web.Response(body=pdf, content_type="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})


R = "reports"
RANGE = {400: "the range is not valid (ends before it starts, longer than a year)"}
ROUTES: tuple[api.Route, ...] = (
    api.Route("GET", "/api/reports", report_json, "The report's figures", R, query=s.ReportQuery, response=s.Report,
              errors=RANGE),
    api.Route("GET", "/api/reports.csv", report_csv, "The report as a CSV download", R, query=s.ReportQuery,
              response={"type": "string"}, response_media="text/csv", errors=RANGE),
    api.Route("GET", "/api/reports.pdf", report_pdf, "The report as a PDF download (printed by headless Chromium)", R,
              query=s.ReportQuery, response={"type": "string", "format": "binary"}, response_media="application/pdf",
              errors={**RANGE, 503: "Chromium could not print the PDF"}),
)
