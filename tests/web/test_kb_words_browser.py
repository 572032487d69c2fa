"""A supervisor edits the search words on the knowledge-base page, in a real browser, and sees the effect."""

from __future__ import annotations

from webtools import PASSWORD, artifact, browser_login


async def test_browser_supervisor_adds_a_term_and_a_synonym_group(app_client, browser):
    base = str(app_client.make_url("")).rstrip("/")
    page = await browser_login(browser, base, "boss", PASSWORD)
    await page.goto(f"{base}/kb")
    await page.wait_for_selector("#kb-groups tbody tr")  # the shipped synonym groups
    assert await page.locator("#kb-terms li.none").count() == 1

    await page.fill("#kb-term", "川崎病")
    await page.click("#kb-term-form button[type='submit']")
    await page.wait_for_selector("#kb-terms li:has-text('川崎病')")
    assert await page.get_attribute("#kb-words-status", "class") == "ok"

    await page.fill("#kb-group", "挤眉弄眼，眨眼")
    await page.click("#kb-group-form button[type='submit']")
    row = page.locator("#kb-groups tbody tr", has=page.locator("input[value='挤眉弄眼，眨眼']"))
    await row.wait_for()
    await row.locator("input").fill("挤眉弄眼，眨眼，清嗓子")
    await row.locator("button[data-action='save-group']").click()
    await page.wait_for_selector("#kb-groups input[value='挤眉弄眼，眨眼，清嗓子']")

    await page.fill("#kb-group", "只有一个")  # one term: refused, and said so
    await page.click("#kb-group-form button[type='submit']")
    await page.wait_for_selector("#kb-words-status.error")
    await page.locator("#kb-words").screenshot(path=artifact("kb-words.png"))

    await page.click("#kb-terms li:has-text('川崎病') button[data-action='delete-term']")
    await page.wait_for_selector("#kb-terms li.none")
