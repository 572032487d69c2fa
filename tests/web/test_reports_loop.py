"""The closed loop on the reports: a seeded month whose every figure is counted by hand here.

October 2026 (hospital time) holds ten calls; September holds what the month is compared with and
two cases still open.  Each figure the JSON API returns is asserted against the count below; the
page, the CSV and the monthly PDF (rendered to PNG with ``pdftoppm``, text read with
``pdftotext``) show the same sections in Chinese.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import shutil
import subprocess
from collections.abc import AsyncIterator
from csv import reader
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer
from harness.postgres import store_url  # noqa: F401  (fixture: SQLite, and PostgreSQL when configured)
from webtools import PASSWORD, artifact, browser_login, component_settings, login

from callcenter import keys
from callcenter.app import create_app
from callcenter.kb import keys as kb_keys
from callcenter.kb.models import KbEntry, KbView, PreventionMessage
from callcenter.ledger.models import LedgerItem
from callcenter.settings import DatabaseSettings
from callcenter.store import session_factory
from callcenter.store.models import Ticket
from callcenter.web import keys as web_keys
from callcenter.web.reports import last_month, last_quarter
from callcenter.workorders.models import Contact, Department, WorkOrder

BJ = ZoneInfo("Asia/Shanghai")
MONTH = "from=2026-10-01&to=2026-10-31"


def at(month: int, day: int, hour: int = 9, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=BJ)


@pytest.fixture
async def client(store_url: str, tmp_path: Path) -> AsyncIterator[TestClient]:
    settings = dataclasses.replace(component_settings(tmp_path), database=DatabaseSettings(url=store_url))
    app = create_app(settings)
    async with TestClient(TestServer(app)) as client:
        await app[web_keys.ACCOUNTS].create("boss", PASSWORD, "supervisor", display_name="BOSS")
        await app[web_keys.ACCOUNTS].create("op1", PASSWORD, "operator", agent_id="1001", display_name="OP1")
        await seed(session_factory(app[keys.ENGINE]))
        yield client


async def seed(sessions) -> None:  # noqa: ANN001
    """The month, written directly (tickets, work orders, contacts, ledger items, KB lookups)."""
    child, lab = Department(id=1, name="儿科"), Department(id=2, name="检验科")

    def call(tid: int, arrived: dt.datetime, number: str, *, answered: bool = True, **work: object) -> list[object]:
        ended = arrived + dt.timedelta(minutes=5)
        ticket = Ticket(id=tid, node="pbx1", uniqueid=f"u{tid}", source="controller", arrived_at=arrived,
                        caller_number=number, call_status="completed" if answered else "abandoned",
                        answered_at=arrived + dt.timedelta(seconds=5) if answered else None, ended_at=ended)
        return [ticket, WorkOrder(ticket_id=tid, created_at=arrived, **work)]

    def survey(tid: int, when: dt.datetime, outcome: str) -> Contact:
        return Contact(ticket_id=tid, kind="survey", at=when, outcome=outcome)

    rows: list[object] = [child, lab]
    # October: T1-T10
    rows += call(1, at(10, 2, 9), "13800000001", status="closed", category="medical",
                 solved_at=at(10, 2, 9, 7))  # solved 2 min after the call: on the call
    rows += call(2, at(10, 2, 10), "13800000002", status="closed", category="medical", department_id=1,
                 due_at=at(10, 3, 17), solved_at=at(10, 2, 10, 20))  # 15 min after: not on the call; on time
    rows += call(3, at(10, 5, 9), "13800000003", status="closed", category="complaint", department_id=1,
                 due_at=at(10, 7, 17), solved_at=at(10, 8, 10))  # late
    rows += call(4, at(10, 10, 9), "13800000004", status="escalated", category="complaint", department_id=1,
                 due_at=at(10, 12, 17), promised_reply_at=at(10, 12, 17))  # late, overdue at the end
    rows += call(5, at(10, 11, 9), "13800000004", status="merged", parent_id=4)  # T4's caller again
    rows += call(6, at(10, 15, 9), "13800000006", status="escalated", category="reports", department_id=2,
                 due_at=at(11, 5, 17))  # not due yet
    rows += call(7, at(10, 16, 9), "13800000007", status="in_progress", category="reports", department_id=2,
                 promised_reply_at=at(10, 17, 12))  # no time limit, promise broken: overdue
    rows += call(8, at(10, 20, 9), "13800000008", answered=False, status="closed", category="other",
                 close_reason="invalid", closed_at=at(10, 20, 10))  # not a case
    rows += call(9, at(10, 21, 10), "13800000009", status="solved", category="registration",
                 solved_at=at(10, 21, 10, 9), revisits=2)  # on the call (4 min after); called three times
    rows += call(10, at(10, 25, 9), "13800000010", status="closed", category="billing", department_id=2,
                 due_at=at(10, 26, 17), solved_at=at(10, 26, 16))  # on time
    # September: the period before (billing 1, medical 2) and an overdue case; November: outside
    rows += call(11, at(9, 10, 9), "13800000011", status="escalated", category="billing", department_id=1,
                 due_at=at(9, 12, 17))
    rows += call(12, at(9, 20, 9), "13800000012", status="closed", category="medical", solved_at=at(9, 20, 9, 3))
    rows += call(13, at(9, 21, 9), "13800000013", status="closed", category="medical", solved_at=at(9, 21, 9, 3))
    rows += call(14, at(11, 2, 9), "13800000014", status="new", category="complaint", department_id=1,
                 due_at=at(11, 3, 9))
    rows += [
        survey(1, at(10, 3, 15), "5"), survey(2, at(10, 4, 15), "4"), survey(3, at(10, 9, 15), "2"),
        survey(9, at(10, 22, 15), "no_key"), survey(10, at(10, 27, 15), "no_answer"), survey(10, at(10, 28, 15), "3"),
        survey(12, at(9, 25, 15), "1"),  # September: outside the month
    ]
    rows += [
        LedgerItem(source="manual", department_id=1, status="open", created_at=at(9, 15)),
        LedgerItem(ticket_id=3, source="complaint", department_id=1, status="struck_off", created_at=at(10, 6),
                   struck_off_at=at(10, 20)),
        LedgerItem(ticket_id=4, source="complaint", department_id=1, status="rectifying", created_at=at(10, 11)),
        LedgerItem(source="manual", department_id=2, status="verified", created_at=at(10, 18)),
        LedgerItem(source="manual", department_id=2, status="struck_off", created_at=at(9, 1), struck_off_at=at(9, 30)),
    ]
    report_entry, booking = KbEntry(id=9001, question="如何查询检验报告", answer="…"), KbEntry(id=9002, question="如何挂号", answer="…")
    rows += [report_entry, booking]
    rows += [KbView(entry_id=9001, at=at(10, d)) for d in (3, 4, 5)] + [KbView(entry_id=9001, at=at(9, 20))]
    rows += [KbView(entry_id=9002, at=at(10, 3))] + [KbView(entry_id=9002, at=at(9, d)) for d in (3, 4)]
    async with sessions() as session, session.begin():
        for row in rows:  # in order: parents before the rows that name them
            session.add(row)
            await session.flush()


def limit(on_time: int, late: int, pending: int) -> dict[str, object]:
    return {"on_time": on_time, "late": late, "pending": pending,
            "on_time_rate": round(on_time / (on_time + late), 4) if on_time + late else None}


def visits(reached: int, scored: int, satisfied: int, praise: int, criticism: int) -> dict[str, object]:
    rate = lambda part, whole: round(part / whole, 4) if whole else None  # noqa: E731
    return {"visits_reached": reached, "visits_scored": scored, "satisfied": satisfied, "praise": praise,
            "criticism": criticism, "satisfaction_rate": rate(satisfied, reached),
            "effective_satisfaction_rate": rate(satisfied, scored), "praise_rate": rate(praise, reached),
            "criticism_rate": rate(criticism, reached)}


def category(name: str, calls: int, cases: int, answered: int, on_call: int, *lim: int) -> dict[str, object]:
    return {"category": name, "calls": calls, "cases": cases, "answered": answered, "on_call": on_call,
            "on_call_rate": round(on_call / answered, 4) if answered else None, **limit(*lim)}


async def test_the_month_s_closed_loop_figures_match_the_hand_count(client):
    await login(client, "boss")
    response = await client.get(f"/api/reports?{MONTH}")
    assert response.status == 200, await response.text()
    report = await response.json()
    assert report["days"] == 31
    loop = report["loop"]
    # calls T1-T10; cases leave out T5 (merged) and T8 (invalid); all eight cases were answered calls;
    # on the call: T1 and T9; time limit: T2, T10 on time, T3, T4 late, T6 pending; overdue at the
    # end: T11, T4 (deadline), T7 (promise)
    assert loop["totals"] == {
        "calls": 10, "cases": 8, "answered": 8, "on_call": 2, "on_call_rate": 0.25, **limit(2, 2, 1),
        "overdue": 3,
        # reached: T1 (5), T2 (4), T3 (2), T9 (no key), T10 (3); not T10's unanswered try
        **visits(5, 4, 3, 1, 1),
        "ledger_new": 3, "ledger_open": 3, "ledger_struck_off": 1,
    }
    assert loop["by_category"] == [
        category("complaint", 3, 2, 2, 0, 0, 2, 0),  # T3, T4 and T4's repeat call T5
        category("medical", 2, 2, 2, 1, 1, 0, 0),
        category("reports", 2, 2, 2, 0, 0, 0, 1),
        category("billing", 1, 1, 1, 0, 1, 0, 0),
        category("other", 1, 0, 0, 0, 0, 0, 0),
        category("registration", 1, 1, 1, 1, 0, 0, 0),
    ]
    assert loop["by_department"] == [
        {"department": "", "cases": 2, **limit(0, 0, 0), "overdue": 0, **visits(2, 1, 1, 1, 0),
         "ledger_new": 0, "ledger_open": 0, "ledger_struck_off": 0},
        {"department": "儿科", "cases": 3, **limit(1, 2, 0), "overdue": 2, **visits(2, 2, 1, 0, 1),
         "ledger_new": 2, "ledger_open": 2, "ledger_struck_off": 1},
        {"department": "检验科", "cases": 3, **limit(1, 0, 1), "overdue": 1, **visits(1, 1, 1, 0, 0),
         "ledger_new": 1, "ledger_open": 1, "ledger_struck_off": 0},
    ]
    problems = loop["problems"]
    # against 2026-08-31..09-30: billing 1, medical 2
    assert problems["rising"] == [
        {"category": "complaint", "now": 3, "before": 0, "change": 3},
        {"category": "reports", "now": 2, "before": 0, "change": 2},
        {"category": "other", "now": 1, "before": 0, "change": 1},
        {"category": "registration", "now": 1, "before": 0, "change": 1},
    ]
    assert problems["rising_questions"] == [
        {"entry_id": 9001, "question": "如何查询检验报告", "now": 3, "before": 1, "change": 2}]
    assert problems["looked_up_most"] == [  # 如何挂号 fell (2 -> 1) yet was looked up in the month
        {"entry_id": 9001, "question": "如何查询检验报告", "views": 3}, {"entry_id": 9002, "question": "如何挂号", "views": 1}]
    assert problems["repeat_callers"] == [
        {"caller_number": "13800000009", "calls": 3, "tickets": [9], "categories": ["registration"]},
        {"caller_number": "13800000004", "calls": 2, "tickets": [4, 5], "categories": ["complaint"]},
    ]
    end = at(11, 1, 0)
    assert [(o["ticket_id"], o["department"], o["category"], o["hours_over"]) for o in problems["overdue"]] == [
        (11, "儿科", "billing", round((end - at(9, 12, 17)).total_seconds() / 3600, 1)),
        (4, "儿科", "complaint", round((end - at(10, 12, 17)).total_seconds() / 3600, 1)),
        (7, "检验科", "reports", round((end - at(10, 17, 12)).total_seconds() / 3600, 1)),
    ]


async def test_a_day_in_the_month_counts_only_its_own_calls_and_what_was_overdue_that_night(client):
    await login(client, "boss")
    loop = (await (await client.get("/api/reports?from=2026-10-02&to=2026-10-02")).json())["loop"]
    assert (loop["totals"]["calls"], loop["totals"]["on_call"], loop["totals"]["on_time"]) == (2, 1, 1)
    assert [o["ticket_id"] for o in loop["problems"]["overdue"]] == [11]
    assert loop["totals"]["ledger_open"] == 1  # the September item; none struck off that day


async def test_the_page_csv_and_monthly_pdf_show_the_loop_in_chinese(client):
    await login(client, "boss")
    page = await (await client.get(f"/reports?{MONTH}")).text()
    for heading in ("月度分析", "闭环工单", "各科室按时办结", "回访满意率", "有效回访满意率", "本期问题清单", "检验科", "如何查询检验报告",
                    "查阅最多的知识库问题", "如何挂号"):
        assert heading in page, heading
    csv = await (await client.get(f"/api/reports.csv?{MONTH}")).text()
    assert "loop_by_department" in csv and "检验科" in csv and "loop_repeat_callers" in csv
    rows = list(reader(csv.splitlines()))
    at_most = rows.index(["loop_looked_up_most", "entry_id", "question", "views"])
    assert rows[at_most + 1: at_most + 3] == [["", "9001", "如何查询检验报告", "3"], ["", "9002", "如何挂号", "1"]]
    assert "13800000004" in csv
    if not shutil.which("pdftoppm") or not Path("/usr/bin/chromium").exists():
        pytest.skip("pdftoppm or chromium missing")
    response = await client.get(f"/api/reports.pdf?{MONTH}")
    assert response.status == 200, await response.text()
    pdf = await response.read()
    assert pdf.startswith(b"%PDF")
    target = Path(artifact("report-monthly-analysis.pdf"))
    target.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "60", str(target), str(target.with_suffix(""))],
                   check=True, timeout=60)
    pngs = sorted(target.parent.glob("report-monthly-analysis-*.png"))
    assert pngs and all(p.stat().st_size > 10_000 for p in pngs)
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(target), "-"], check=True, capture_output=True,
                          timeout=60).stdout.decode()
    for heading in ("月度分析", "闭环工单", "各科室回访满意度与整改台账", "本期问题清单", "热线提示效果", "儿科", "检验科", "查阅最多的知识库问题"):
        assert heading in text, heading


async def test_bad_ranges_are_refused_with_400_and_operators_get_no_report(client):
    await login(client, "op1")
    assert (await client.get(f"/api/reports?{MONTH}")).status == 403
    await login(client, "boss")
    for query in ("from=2026-10-31&to=2026-10-01", "from=2026-13-01", "from=2024-01-01&to=2026-01-01", "period=year"):
        response = await client.get(f"/api/reports?{query}")
        assert response.status == 400, query
        assert (await response.json())["error"], query


def test_names_from_the_data_are_escaped_on_the_page_and_the_pdf():
    from callcenter.web.reports import loop_html
    from callcenter.workorders.effect import MessageRow, message_effects
    from callcenter.workorders.report_figures import SurveyRow, TicketRow, closed_loop

    start, end = at(10, 1, 0), at(11, 1, 0)
    evil = "<script>alert(1)</script>"
    calls = [TicketRow(1, at(10, 2), "138", True, at(10, 2, 9, 5), category=evil, department=evil, due_at=at(10, 3))]
    loop = closed_loop(calls, {}, [], [SurveyRow(1, at(10, 4), "5", evil, evil)], [], start, end,
                       kb_views={"1": 2}, kb_questions={"1": evil})
    message = MessageRow(1, "kb1_x", None, evil, {"zh": evil}, at(10, 1).date(), at(10, 9).date(), at(10, 1, 0))
    loop["messages"] = message_effects([message], {}, end)
    page = loop_html({"loop": loop, "timezone": "Asia/Shanghai"})
    assert evil not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


async def test_the_report_page_in_a_browser_names_its_presets_and_shows_the_loop(client, browser):
    base = str(client.make_url("")).rstrip("/")
    page = await browser_login(browser, base, "boss", PASSWORD)
    await page.goto(f"{base}/reports?{MONTH}")
    assert (await page.inner_text("main section h2")).strip() == "月度分析"
    departments = await page.inner_text("#loop-departments")
    assert "儿科" in departments and "检验科" in departments and "33.3%" in departments
    assert "13800000009" in await page.inner_text("#loop-problems")
    await page.screenshot(path=artifact("report-monthly-analysis-page.png"), full_page=True)
    await page.click("a[href='/reports?period=week']")
    await page.wait_for_load_state("domcontentloaded")
    assert (await page.inner_text("main section h2")).strip() == "周报"
    # The calendar presets: the page's range is the previous calendar month / quarter, named so.
    today = dt.datetime.now(BJ).date()
    for link, heading, (first, last) in (("last_month", "月度分析", last_month(today)),
                                         ("last_quarter", "季度分析", last_quarter(today))):
        await page.click(f"a[href='/reports?period={link}']")
        await page.wait_for_load_state("domcontentloaded")
        assert (await page.inner_text("main section h2")).strip() == heading
        assert await page.input_value("input[name=from]") == first.isoformat()
        assert await page.input_value("input[name=to]") == last.isoformat()
        assert f"from={first.isoformat()}&to={last.isoformat()}" in (await page.get_attribute("#pdf", "href") or "")
    assert "热线提示效果" in await page.inner_text("#loop-messages")
    english = await browser_login(browser, base, "boss", PASSWORD, lang="en")
    await english.goto(f"{base}/reports?{MONTH}")
    assert (await english.inner_text("main section h2")).strip() == "Monthly analysis"
    assert "Effective-visit satisfaction" in await english.inner_text("#loop-satisfaction")
    assert "Hotline messages and their effect" in await english.inner_text("#loop-messages")
    await english.goto(f"{base}/reports?period=last_quarter")
    assert (await english.inner_text("main section h2")).strip() == "Quarterly analysis"


NOW = at(10, 25, 12)  # the clock of the hotline-message tests: inside October


@pytest.fixture
async def clocked(store_url: str, tmp_path: Path) -> AsyncIterator[TestClient]:
    """The seeded month with hotline messages, and the reports' and /prevention's clock fixed at ``NOW``."""
    settings = dataclasses.replace(component_settings(tmp_path), database=DatabaseSettings(url=store_url))
    app = create_app(settings)
    app[web_keys.CLOCK] = lambda: NOW
    async with TestClient(TestServer(app)) as client:
        app[kb_keys.PREVENTION].clock = lambda: NOW
        await app[web_keys.ACCOUNTS].create("boss", PASSWORD, "supervisor", display_name="BOSS")
        sessions = session_factory(app[keys.ENGINE])
        await seed(sessions)
        texts = {"zh": "投诉请拨打本热线转2，两个工作日内答复。", "en": "Complaints: press 2, answered in two working days."}
        async with sessions() as session, session.begin():
            session.add_all([
                PreventionMessage(id=1, rule_name="kb9001_a", entry_id=9001, category="complaint", texts=texts,
                                  first_day=dt.date(2026, 10, 11), last_day=dt.date(2026, 11, 30),
                                  starts_at=at(10, 11, 0), created_by="boss", created_at=at(10, 10, 15)),
                PreventionMessage(id=2, rule_name="kb9002_b", entry_id=9002, category="medical", texts=texts,
                                  first_day=dt.date(2026, 9, 1), last_day=dt.date(2026, 9, 30),
                                  starts_at=at(9, 1, 0), created_by="boss"),  # over before October
            ])
        yield client


async def test_a_hotline_message_s_effect_in_the_report_matches_the_hand_count_and_prevention(clocked):
    client = clocked
    await login(client, "boss")
    report = await (await client.get(f"/api/reports?{MONTH}")).json()
    # Message 1 started 10-11 00:00; at NOW (10-25 12:00) it has played 14.5 days: before is 09-26 12:00 to
    # 10-11 00:00 (complaints T3 on 10-05, T4 on 10-10; T5, T4's repeat call, has no category of its own);
    # after is 10-11 00:00 to NOW (none).  Message 2 ended in September: not in October's report.
    [shown] = report["loop"]["messages"]
    expected = {"before_from": at(9, 26, 12).astimezone(dt.UTC).isoformat(),
                "after_to": NOW.astimezone(dt.UTC).isoformat(), "before": 2, "after": 0, "change": -2}
    assert (shown["id"], shown["rule"], shown["category"], shown["from"], shown["to"]) == (
        1, "kb9001_a", "complaint", "2026-10-11", "2026-11-30")
    assert shown["starts_at"] == at(10, 11, 0).astimezone(dt.UTC).isoformat()
    assert shown["effect"] == expected
    # /prevention shows the same numbers at the same moment.
    prevention = await (await client.get("/api/prevention")).json()
    assert {m["id"]: m["effect"] for m in prevention["messages"]}[1] == expected
    # A range over before NOW counts to its own end: 10-11 to 10-21 00:00, and as long (10 days) before.
    early = await (await client.get("/api/reports?from=2026-10-01&to=2026-10-20")).json()
    [shown] = early["loop"]["messages"]
    assert shown["effect"] == {"before_from": at(10, 1, 0).astimezone(dt.UTC).isoformat(),
                               "after_to": at(10, 21, 0).astimezone(dt.UTC).isoformat(),
                               "before": 2, "after": 0, "change": -2}
    september = await (await client.get("/api/reports?from=2026-09-01&to=2026-09-30")).json()
    assert [m["id"] for m in september["loop"]["messages"]] == [2]
    # The page and the CSV show it.
    page = await (await client.get(f"/reports?{MONTH}")).text()
    section = page.split("id='loop-messages'", 1)[1]
    assert "热线提示效果" in section and "投诉请拨打本热线转2" in section and "2026-10-11 00:00" in section
    assert "<td>2</td><td>0</td><td>-2</td>" in section
    csv = await (await client.get(f"/api/reports.csv?{MONTH}")).text()
    rows = list(reader(io.StringIO(csv.lstrip("\ufeff"))))
    head = next(i for i, r in enumerate(rows) if r and r[0] == "loop_messages")
    cells = dict(zip(rows[head][1:], rows[head + 1][1:], strict=True))
    assert (cells["rule"], cells["category"], cells["before"], cells["after"], cells["change"]) == (
        "kb9001_a", "complaint", "2", "0", "-2")
