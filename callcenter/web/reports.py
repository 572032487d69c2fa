"""The hotline's reports over any date range: figures, staffing advice, and their HTML/CSV/PDF forms.

The daily notice, weekly summary, monthly and quarterly analysis are the same report over one,
seven or thirty days ending today, or the previous calendar month or quarter.  Every figure (the summary, by hour and day, per operator) comes from
``callcenter.web.figures``, whose definitions the page, the CSV and the JSON API share: a call
counts as offered to an operator once it rang one, and each operator is credited every ring of
their phone.  The HTML body is built here with every value escaped and charts as inline SVG
(numbers only), so the page and the PDF (printed by headless Chromium with the system's CJK
fonts) show the same thing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import io
import statistics
import tempfile
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.csv_cells import SafeWriter
from callcenter.settings import Settings
from callcenter.web import figures, labels
from callcenter.web.erlang import agents_needed
from callcenter.web.store import call_rows
from callcenter.workorders.effect import message_effects
from callcenter.workorders.report_figures import closed_loop
from callcenter.workorders.report_quality import by_week, quality_rows
from callcenter.workorders.report_rows import loop_rows, message_rows

MAX_DAYS = 400
DEFAULT_AHT = 180.0  # seconds of talk + wrap-up assumed for an hour with no answered calls


PRESETS = ("day", "week", "month", "last_month", "last_quarter")


def last_month(today: dt.date) -> tuple[dt.date, dt.date]:
    """The calendar month before ``today``'s: its first and last day."""
    last = today.replace(day=1) - dt.timedelta(days=1)
    return last.replace(day=1), last


def last_quarter(today: dt.date) -> tuple[dt.date, dt.date]:
    """The calendar quarter (Jan-Mar, Apr-Jun, Jul-Sep, Oct-Dec) before ``today``'s: its first and last day."""
    last = today.replace(month=(today.month - 1) // 3 * 3 + 1, day=1) - dt.timedelta(days=1)
    return last.replace(month=last.month - 2, day=1), last


def parse_range(query: dict[str, str], zone: ZoneInfo, today: dt.date) -> tuple[dt.date, dt.date]:
    """``from``/``to`` (ISO dates, inclusive) or ``period``: day|week|month (1, 7, 30 days ending today),
    last_month or last_quarter (the previous calendar month or quarter)."""
    period = query.get("period", "")
    if period == "last_month":
        return last_month(today)
    if period == "last_quarter":
        return last_quarter(today)
    if period in ("day", "week", "month"):
        days = {"day": 1, "week": 7, "month": 30}[period]
        return today - dt.timedelta(days=days - 1), today
    start = dt.date.fromisoformat(query["from"]) if query.get("from") else today
    end = dt.date.fromisoformat(query["to"]) if query.get("to") else start
    if end < start:
        raise ValueError("the range ends before it starts")
    if (end - start).days >= MAX_DAYS:
        raise ValueError(f"a report covers at most {MAX_DAYS} days")
    return start, end


async def build_report(
    reads: async_sessionmaker[AsyncSession], settings: Settings, start: dt.date, end: dt.date, now: dt.datetime
) -> dict[str, Any]:
    """Every figure of the report for local days ``start``..``end`` (inclusive); hotline messages' effect as
    of the range's end, or ``now`` for a range not over yet."""
    zone = settings.hospital.zone
    begin_utc, _ = figures.local_day_bounds(start, zone)
    _, end_utc = figures.local_day_bounds(end, zone)
    rows = await call_rows(reads, begin_utc, end_utc)
    loop = closed_loop(**await loop_rows(reads, begin_utc, end_utc))
    loop["messages"] = message_effects(*await message_rows(reads, start, end, min(now, end_utc)), min(now, end_utc))
    days = (end - start).days + 1
    agents = figures.by_agent(rows)
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "days": days,
        "timezone": settings.hospital.timezone,
        "summary": figures.summarise(rows),
        "by_hour": figures.by_hour(rows, zone),
        "by_day": figures.by_day(rows, zone),
        "by_agent": agents,
        "categories": figures.top_categories(rows),
        "satisfaction": figures.satisfaction(rows),
        "staffing": staffing(rows, zone, days, settings),
        "loop": loop,
        "quality": quality(by_week(await quality_rows(reads, begin_utc, end_utc), zone, start, end), agents),
    }


def quality(weekly: dict[str, Any], agents: list[dict[str, Any]]) -> dict[str, Any]:
    """Each operator's weekly review scores beside their two-ring rate and handling time (every operator
    with a ring or a review in the range)."""
    scores = {a["agent_id"]: a for a in weekly["agents"]}
    rings = {a["agent_id"]: a for a in agents}
    empty = [{"week": w, "reviews": 0, "average": None} for w in weekly["weeks"]]
    rows = []
    for agent in sorted(scores.keys() | rings.keys()):
        score, ring = scores.get(agent, {}), rings.get(agent, {})
        rows.append({"agent_id": agent, "reviews": score.get("reviews", 0), "average": score.get("average"),
                     "two_ring_rate": ring.get("service_level"), "avg_talk": ring.get("avg_talk"),
                     "weeks": score.get("weeks", empty)})
    return {"weeks": weekly["weeks"], "agents": rows}


def report_kind(start: dt.date, end: dt.date) -> str:
    """The label of the report's name: daily notice, weekly summary, monthly analysis (a calendar month or
    28-31 days), quarterly analysis (a calendar quarter), or a report."""
    days = (end - start).days + 1
    if days == 1:
        return "reports.kind.day"
    if days == 7:
        return "reports.kind.week"
    if last_quarter(end + dt.timedelta(days=1)) == (start, end):
        return "reports.kind.quarter"
    return "reports.kind.month" if 28 <= days <= 31 else "reports.kind.range"


def staffing(rows: list[figures.CallRow], zone: ZoneInfo, days: int, settings: Settings) -> dict[str, Any]:
    """Operators each hour of the day needs for the two-ring target, from the range's history."""
    target = settings.acd.ring_timeout  # answered within two rings
    level = settings.web.service_level_target
    wrap = settings.acd.wrap_up
    handled = [r.talk_seconds + wrap for r in rows if r.talk_seconds and r.answered_at]
    overall = statistics.fmean(handled) if handled else DEFAULT_AHT
    hours = []
    for hour in range(24):
        in_hour = [r for r in rows if r.arrived_at.astimezone(zone).hour == hour]
        talks = [r.talk_seconds + wrap for r in in_hour if r.talk_seconds and r.answered_at]
        aht = statistics.fmean(talks) if len(talks) >= 3 else overall
        per_hour = len(in_hour) / max(1, days)
        need = agents_needed(per_hour, aht, target, level)
        hours.append({
            "hour": hour,
            "calls_per_hour": round(per_hour, 2),
            "aht": round(aht, 1),
            "agents": need.agents,
            "service_level": round(need.service_level, 4),
            "occupancy": round(need.occupancy, 3),
        })
    return {"target_seconds": target, "level": level, "aht_overall": round(overall, 1), "hours": hours}


# -- presentations ---------------------------------------------------------------------------------


def to_csv(report: dict[str, Any]) -> str:
    """The report as CSV: one section per table, a blank line between them (UTF-8 with BOM for Excel)."""
    out = io.StringIO()
    writer = SafeWriter(out)  # no cell a spreadsheet would run as a formula
    writer.writerow(["report", report["from"], report["to"], report["timezone"]])
    writer.writerow([])
    writer.writerow(["summary", *report["summary"].keys()])
    writer.writerow(["", *report["summary"].values()])
    for name in ("by_day", "by_hour", "by_agent", "categories"):
        rows = report[name]
        writer.writerow([])
        if rows:
            writer.writerow([name, *rows[0].keys()])
            for row in rows:
                writer.writerow(["", *row.values()])
    loop = report["loop"]
    writer.writerow([])
    writer.writerow(["loop_totals", *loop["totals"].keys()])
    writer.writerow(["", *loop["totals"].values()])
    sections = [("loop_by_category", loop["by_category"]), ("loop_by_department", loop["by_department"]),
                *((f"loop_{name}", rows) for name, rows in loop["problems"].items()),
                ("loop_messages", [_message_cells(m) for m in loop["messages"]])]
    for name, rows in sections:
        writer.writerow([])
        if rows:
            writer.writerow([name, *rows[0].keys()])
            for row in rows:
                writer.writerow(["", *(" ".join(map(str, v)) if isinstance(v, list) else v for v in row.values())])
    writer.writerow([])
    weeks = report["quality"]["weeks"]
    writer.writerow(["quality", "agent_id", "reviews", "average", "two_ring_rate", "avg_talk", *weeks])
    for row in report["quality"]["agents"]:
        writer.writerow(["", row["agent_id"], row["reviews"], row["average"], row["two_ring_rate"], row["avg_talk"],
                         *(w["average"] for w in row["weeks"])])
    writer.writerow([])
    hours = report["staffing"]["hours"]
    writer.writerow(["staffing", *hours[0].keys()])
    for row in hours:
        writer.writerow(["", *row.values()])
    return "\ufeff" + out.getvalue()


def _message_cells(message: dict[str, Any]) -> dict[str, Any]:
    """A hotline message's row of the CSV: its texts and effect spread into columns."""
    effect = message["effect"]
    return {"id": message["id"], "rule": message["rule"], "category": message["category"],
            **{f"text_{lang}": text for lang, text in message["texts"].items()},
            "from": message["from"], "to": message["to"], "starts_at": message["starts_at"],
            "before_from": effect["before_from"], "after_to": effect["after_to"], "before": effect["before"],
            "after": effect["after"], "change": effect["change"]}


def _e(value: object) -> str:
    return html.escape("–" if value is None else str(value), quote=True)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def _label(key: str) -> str:
    return f'<span data-i18n="{_e(key)}">{_e(labels.text(key))}</span>'


def bar_chart(values: list[tuple[str, float]], height: int = 140, width: int = 720) -> str:
    """An inline SVG bar chart of (label, value) pairs."""
    top = max((v for _, v in values), default=0) or 1
    n = max(1, len(values))
    slot = width / n
    bars = []
    for i, (label, value) in enumerate(values):
        h = (height - 30) * value / top
        x = i * slot + slot * 0.15
        bars.append(
            f'<rect class="bar" x="{x:.1f}" y="{height - 18 - h:.1f}" width="{slot * 0.7:.1f}" height="{h:.1f}"></rect>'
            f'<text x="{i * slot + slot / 2:.1f}" y="{height - 5}" text-anchor="middle">{_e(label)}</text>'
            + (f'<text x="{i * slot + slot / 2:.1f}" y="{height - 21 - h:.1f}" text-anchor="middle">{_e(round(value, 1))}</text>' if value else "")
        )
    return f'<svg class="chart" viewBox="0 0 {width} {height}" role="img">{"".join(bars)}</svg>'


def _table(head: list[str], rows: list[list[object]]) -> str:
    thead = "".join(f"<th>{_label(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table class='grid'><thead><tr>{thead}</tr></thead><tbody>{body}</tbody></table>"


def body_html(report: dict[str, Any]) -> str:
    """The report's sections as HTML (escaped values, SVG charts)."""
    s = report["summary"]
    parts = [
        f"<section><h2>{_label('reports.summary')} · {_e(report['from'])} – {_e(report['to'])}</h2>",
        _table(
            ["reports.offered", "wb.answered", "wb.abandoned", "reports.service_level", "reports.abandon_rate", "reports.avg_wait", "reports.max_wait"],
            [[s["offered"], s["answered"], s["abandoned"], _pct(s["service_level"]), _pct(s["abandon_rate"]), s["avg_wait"], s["max_wait"]]],
        ),
        "</section>",
        loop_html(report),
        f"<section><h2>{_label('reports.by_hour')}</h2>",
        bar_chart([(str(h["hour"]), h["offered"]) for h in report["by_hour"]]),
        "</section>",
    ]
    if len(report["by_day"]) > 1:
        parts += [
            f"<section><h2>{_label('reports.by_day')}</h2>",
            bar_chart([(d["day"][5:], d["offered"]) for d in report["by_day"]]),
            _table(["reports.day", "reports.offered", "wb.answered", "reports.service_level", "wb.abandoned", "reports.avg_wait"],
                   [[d["day"], d["offered"], d["answered"], _pct(d["service_level"]), d["abandoned"], d["avg_wait"]] for d in report["by_day"]]),
            "</section>",
        ]
    parts += [
        f"<section><h2>{_label('reports.by_agent')}</h2>",
        _table(["col.agent", "reports.rang", "wb.answered", "reports.missed", "reports.answered_elsewhere", "reports.caller_left",
                "reports.service_level", "reports.avg_wait", "reports.aht"],
               [[a["agent_id"], a["offered"], a["answered"], a["missed"], a["answered_elsewhere"], a["caller_left"],
                 _pct(a["service_level"]), a["avg_wait"], a["avg_talk"]] for a in report["by_agent"]]),
        "</section>",
        quality_html(report["quality"]),
        f"<section><h2>{_label('reports.categories')}</h2>",
        _raw_table(["col.category", "reports.calls"], [[_category(c["category"] or ""), _e(c["calls"])] for c in report["categories"]]),
        f"<h2>{_label('reports.satisfaction')}</h2>",
        _table(["reports.rated", "reports.average", "reports.solved"],
               [[report["satisfaction"]["rated"], report["satisfaction"]["average"], report["satisfaction"]["solved"]]]),
        "</section>",
    ]
    staff = report["staffing"]
    parts += [
        f"<section><h2>{_label('reports.staffing')}</h2><p class='muted'>{_label('reports.staffing_note')}</p>",
        bar_chart([(str(h["hour"]), h["agents"]) for h in staff["hours"]]),
        _table(["reports.hour", "reports.calls", "reports.aht", "reports.agents_needed", "reports.sl_expected"],
               [[f"{h['hour']:02d}:00", h["calls_per_hour"], h["aht"], h["agents"], _pct(h["service_level"])] for h in staff["hours"] if h["calls_per_hour"]]),
        "</section>",
    ]
    return "".join(parts)


def quality_html(quality: dict[str, Any]) -> str:
    """Each operator's weekly quality score beside their two-ring rate and handling time."""
    head = "".join(f"<th>{_label(h)}</th>" for h in ("col.agent", "reports.quality_avg", "reports.service_level", "reports.aht"))
    head += "".join(f"<th>{_e(w[5:])}</th>" for w in quality["weeks"])

    def score(average: float | None, reviews: int) -> str:
        return "–" if average is None else f"{average:.1f} ({reviews})"

    body = "".join(
        f"<tr data-agent='{_e(a['agent_id'])}'><td>{_e(a['agent_id'])}</td><td class='quality-avg'>{_e(score(a['average'], a['reviews']))}</td>"
        f"<td>{_e(_pct(a['two_ring_rate']))}</td><td>{_e(a['avg_talk'] if a['avg_talk'] is not None else '–')}</td>"
        + "".join(f"<td>{_e(score(w['average'], w['reviews']))}</td>" for w in a["weeks"]) + "</tr>"
        for a in quality["agents"])
    return (f"<section id='report-quality'><h2>{_label('reports.quality')}</h2><p class='muted'>{_label('reports.quality_note')}</p>"
            f"<table class='grid'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></section>")


def _category_key(name: str) -> str | None:
    """The label of a ticket category (None: a category the labels do not know, shown as stored)."""
    if not name:
        return "reports.loop.uncategorised"
    return f"wo.{name}" if f"wo.{name}" in labels.catalogue(labels.DEFAULT) else None


def _category(name: str) -> str:
    key = _category_key(name)
    return _label(key) if key else _e(name)


def _department(name: str) -> str:
    return _e(name) if name else _label("reports.loop.hotline")


def _raw_table(head: list[str], rows: list[list[str]]) -> str:
    """A table whose cells are already HTML (labels or escaped values)."""
    if not rows:
        return f"<p class='muted'>{_label('reports.loop.none')}</p>"
    thead = "".join(f"<th>{_label(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table class='grid'><thead><tr>{thead}</tr></thead><tbody>{body}</tbody></table>"


def loop_html(report: dict[str, Any]) -> str:
    """The closed loop's sections: by category, by department, satisfaction and ledger, the problems."""
    loop, zone = report["loop"], ZoneInfo(report["timezone"])
    t = loop["totals"]
    local = lambda iso: dt.datetime.fromisoformat(iso).astimezone(zone).strftime("%Y-%m-%d %H:%M")  # noqa: E731
    depts = loop["by_department"]
    problems = loop["problems"]
    return "".join([
        f"<section id='loop'><h2>{_label('reports.loop.title')}</h2>",
        _table(["reports.loop.calls", "reports.loop.cases", "reports.loop.on_call", "reports.loop.on_call_rate",
                "reports.loop.on_time", "reports.loop.late", "reports.loop.on_time_rate", "reports.loop.overdue"],
               [[t["calls"], t["cases"], t["on_call"], _pct(t["on_call_rate"]), t["on_time"], t["late"],
                 _pct(t["on_time_rate"]), t["overdue"]]]),
        _table(["reports.loop.reached", "reports.loop.satisfaction_rate", "reports.loop.effective_rate",
                "reports.loop.praise_rate", "reports.loop.criticism_rate", "reports.loop.ledger_new",
                "reports.loop.ledger_open", "reports.loop.ledger_struck_off"],
               [[t["visits_reached"], _pct(t["satisfaction_rate"]), _pct(t["effective_satisfaction_rate"]),
                 _pct(t["praise_rate"]), _pct(t["criticism_rate"]), t["ledger_new"], t["ledger_open"],
                 t["ledger_struck_off"]]]),
        f"<p class='muted'>{_label('reports.loop.note')}</p></section>",
        f"<section id='loop-categories'><h2>{_label('reports.loop.by_category')}</h2>",
        bar_chart([(labels.text(key) if (key := _category_key(c["category"])) else c["category"], c["calls"])
                   for c in loop["by_category"][:12]]),
        _raw_table(["col.category", "reports.loop.calls", "reports.loop.cases", "reports.loop.on_call",
                    "reports.loop.on_call_rate", "reports.loop.on_time", "reports.loop.late", "reports.loop.pending",
                    "reports.loop.on_time_rate"],
                   [[_category(c["category"]), *(_e(c[k]) for k in ("calls", "cases", "on_call")), _pct(c["on_call_rate"]),
                     *(_e(c[k]) for k in ("on_time", "late", "pending")), _pct(c["on_time_rate"])] for c in loop["by_category"]]),
        "</section>",
        f"<section id='loop-departments'><h2>{_label('reports.loop.by_department')}</h2>",
        _raw_table(["reports.loop.department", "reports.loop.cases", "reports.loop.on_time", "reports.loop.late",
                    "reports.loop.pending", "reports.loop.on_time_rate", "reports.loop.overdue"],
                   [[_department(d["department"]), *(_e(d[k]) for k in ("cases", "on_time", "late", "pending")),
                     _pct(d["on_time_rate"]), _e(d["overdue"])] for d in depts]),
        "</section>",
        f"<section id='loop-satisfaction'><h2>{_label('reports.loop.satisfaction')}</h2>",
        bar_chart([(d["department"] or labels.text("reports.loop.hotline"), round(d["satisfaction_rate"] * 100, 1))
                   for d in depts if d["satisfaction_rate"] is not None]),
        _raw_table(["reports.loop.department", "reports.loop.reached", "reports.loop.scored",
                    "reports.loop.satisfaction_rate", "reports.loop.effective_rate", "reports.loop.praise_rate",
                    "reports.loop.criticism_rate", "reports.loop.ledger_new", "reports.loop.ledger_open",
                    "reports.loop.ledger_struck_off"],
                   [[_department(d["department"]), _e(d["visits_reached"]), _e(d["visits_scored"]),
                     _pct(d["satisfaction_rate"]), _pct(d["effective_satisfaction_rate"]), _pct(d["praise_rate"]),
                     _pct(d["criticism_rate"]), _e(d["ledger_new"]), _e(d["ledger_open"]), _e(d["ledger_struck_off"])]
                    for d in depts]),
        "</section>",
        f"<section id='loop-problems'><h2>{_label('reports.loop.problems')}</h2>",
        f"<h3>{_label('reports.loop.rising')}</h3>",
        _raw_table(["col.category", "reports.loop.now", "reports.loop.before", "reports.loop.change"],
                   [[_category(r["category"]), _e(r["now"]), _e(r["before"]), _e(f"+{r['change']}")]
                    for r in problems["rising"]]),
        f"<h3>{_label('reports.loop.rising_questions')}</h3>",
        _raw_table(["reports.loop.question", "reports.loop.now", "reports.loop.before", "reports.loop.change"],
                   [[_e(r["question"]), _e(r["now"]), _e(r["before"]), _e(f"+{r['change']}")]
                    for r in problems["rising_questions"]]),
        f"<h3>{_label('reports.loop.looked_up_most')}</h3>",
        _raw_table(["reports.loop.question", "reports.loop.views"],
                   [[_e(r["question"]), _e(r["views"])] for r in problems["looked_up_most"]]),
        f"<h3>{_label('reports.loop.repeat_callers')}</h3>",
        _raw_table(["reports.loop.caller", "reports.loop.calls", "reports.loop.tickets", "col.category"],
                   [[_e(r["caller_number"]), _e(r["calls"]), _e(" ".join(f"#{i}" for i in r["tickets"])),
                     " ".join(_category(c) for c in r["categories"])] for r in problems["repeat_callers"]]),
        f"<h3>{_label('reports.loop.overdue_items')}</h3>",
        _raw_table(["reports.loop.ticket", "col.category", "reports.loop.department", "reports.loop.deadline",
                    "reports.loop.hours_over"],
                   [[_e(f"#{o['ticket_id']}"), _category(o["category"]), _department(o["department"]),
                     _e(local(o["deadline"])), _e(o["hours_over"])] for o in problems["overdue"]]),
        "</section>",
        f"<section id='loop-messages'><h2>{_label('reports.loop.messages')}</h2>",
        _raw_table(["reports.loop.message", "col.category", "reports.loop.message_days", "reports.loop.message_start",
                    "reports.loop.effect_before", "reports.loop.effect_after", "reports.loop.effect_change"],
                   [[_e(m["texts"].get("zh") or next(iter(m["texts"].values()), "")), _category(m["category"]),
                     _e(f"{m['from']} – {m['to']}"), _e(local(m["starts_at"])), _e(m["effect"]["before"]),
                     _e(m["effect"]["after"]), _e(f"{m['effect']['change']:+d}")] for m in loop["messages"]]),
        f"<p class='muted'>{_label('reports.loop.messages_note')}</p></section>",
    ])


PRINT_CSS = Path(__file__).with_name("static") / "app.css"


def print_html(report: dict[str, Any], title: str) -> str:
    """A standalone page for printing to PDF (styles inlined, no scripts)."""
    css = PRINT_CSS.read_text(encoding="utf-8")
    return (
        f"<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'><title>{_e(title)}</title>"
        f"<style>{css} body{{background:#fff}} section{{break-inside:avoid}}</style></head>"
        f"<body><main><h1>{_e(title)}</h1>{body_html(report)}</main></body></html>"
    )


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                  "--no-pdf-header-footer", "--run-all-compositor-stages-before-draw"]


async def to_pdf(page: str, timeout: float = 60.0) -> bytes:
    """Print an HTML page to PDF with headless Chromium (Debian's; CJK from fonts-noto-cjk)."""
    if not Path(CHROMIUM).exists():
        raise FileNotFoundError(f"{CHROMIUM} is missing: apt-get install chromium fonts-noto-cjk")
    with tempfile.TemporaryDirectory(prefix="report-") as tmp:
        source, target = Path(tmp) / "report.html", Path(tmp) / "report.pdf"
        source.write_text(page, encoding="utf-8")
        process = await asyncio.create_subprocess_exec(
            CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp}/profile", f"--print-to-pdf={target}", source.as_uri(),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )
        try:
            _, err = await asyncio.wait_for(process.communicate(), timeout)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise
        if not target.exists():
            raise RuntimeError(f"chromium printed no PDF: {err.decode(errors='replace')[-300:]}")
        return target.read_bytes()
