"""Quality review in a real browser: a supervisor opens a call from the week's list on /quality, hears
its recording beside the ticket (the player points at the recording route), scores it and comments;
the operator sees that review on 我的质检; the report shows the score beside their two-ring rate."""

from __future__ import annotations

import datetime as dt

from callcenter import keys as app_keys
from callcenter.recording.models import Recording
from callcenter.store import session_factory
from callcenter.workorders import keys as wo_keys
from callcenter.workorders.service import Change
from webtools import PASSWORD, artifact, browser_login

WORDS = "<b>问</b>儿科周末有没有门诊"
COMMENT = "<i>未告知</i>答复时限，其余规范"


async def test_browser_a_supervisor_scores_a_call_and_the_operator_sees_it(app_client, browser):
    app = app_client.server.app
    base = str(app_client.make_url("")).rstrip("/")
    tickets = app[app_keys.TICKETS]
    at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
    ticket_id = await tickets.open_for_arrival("q-b1", "13900139000", "家长", "PJSIP/trunk-1", at)
    await tickets.mark_answered("q-b1", "1001", at + dt.timedelta(seconds=4))
    await tickets.mark_ended("q-b1", at + dt.timedelta(seconds=94), "caller")
    assert await tickets.flush(10.0)
    await app[wo_keys.WORKORDERS].update(ticket_id, Change({"category": "guidance", "notes": WORDS, "promised_reply_at": at + dt.timedelta(days=1)}), "op1")
    async with session_factory(app[app_keys.ENGINE])() as session, session.begin():
        row = Recording(ticket_id=ticket_id, node="pbx1", uniqueid="q-b1", kind="inbound", agent_id="1001",
                        status="complete", path="q-b1.wav", started_at=at)
        session.add(row)
        await session.flush()
        recording_id = row.id

    page = await browser_login(browser, base, "boss", PASSWORD)
    await page.goto(f"{base}/quality")
    line = f"#quality-calls tbody tr[data-ticket='{ticket_id}']"
    await page.wait_for_selector(line)
    assert await page.text_content(f"{line} td.why") == "随机抽检"
    assert await page.text_content(f"{line} td.reviewed") == "未质检"
    await page.click(f"{line} button")
    await page.wait_for_selector("#review:not([hidden])")
    assert await page.get_attribute("#review-player audio", "src") == f"/api/recordings/{recording_id}/audio"
    assert await page.text_content("#r-question") == WORDS  # text, not markup
    assert "我帮不了你" in await page.text_content("#r-forbidden")
    points = {"greeting": 10, "listening": 20, "accuracy": 30, "reply_time": 0, "no_forbidden": 15, "closing": 10}
    for key, value in points.items():
        await page.fill(f"#r-items input[name='{key}']", str(value))
    await page.fill("#review-form textarea[name='comments']", COMMENT)
    await page.click("#review-form button[type='submit']")
    await page.wait_for_selector("#review-status:text-is('已保存，得分 85.0%')")
    await page.wait_for_selector(f"{line} td.reviewed:text-is('85.0%')")
    await page.screenshot(path=artifact("quality-review.png"), full_page=True)

    # the report: the operator's score beside their two-ring rate and handling time
    await page.goto(f"{base}/reports?period=week")
    quality_row = "#report-quality tr[data-agent='1001']"
    await page.wait_for_selector(quality_row)
    assert await page.text_content(f"{quality_row} td.quality-avg") == "85.0 (1)"

    mine = await browser_login(browser, base, "op1", PASSWORD)
    await mine.goto(f"{base}/quality/mine")
    await mine.wait_for_selector("#my-reviews tbody tr")
    assert await mine.text_content("#my-reviews tbody tr td.total") == "85.0%"
    assert await mine.text_content("#my-reviews tbody tr td.comments") == COMMENT
    assert await mine.get_attribute("#my-reviews tbody tr audio", "src") == f"/api/recordings/{recording_id}/audio"
    assert await mine.locator("a[href='/quality/mine']").count() == 1
    assert await mine.locator("a[href='/quality']").count() == 0
    await mine.screenshot(path=artifact("quality-mine.png"), full_page=True)

    other = await browser_login(browser, base, "op2", PASSWORD)
    await other.goto(f"{base}/quality/mine")
    await other.wait_for_selector("#mine-status:text-is('还没有质检记录')")
    assert await other.locator("#my-reviews tbody tr").count() == 0
