"""The pages' templates (Jinja2 through aiohttp-jinja2): one layout, escaped values, no inline script."""

from __future__ import annotations

import re
from html import unescape as html_unescape

import aiohttp_jinja2
import jinja2
import pytest
from webtools import PASSWORD, USERS, csrf_of, login

from callcenter.web import keys as web_keys

EVIL = '"><script>alert(1)</script><img src=x onerror=alert(2)>&\''
PAGES = {  # path -> (who may see it, its own scripts (a path, a tuple of them, or None), an element id only that page has)
    "/agent": ("op1", "/static/agent.js", "ticket-form"),
    "/wallboard": ("boss", ("/static/charts.js", "/static/wallboard.js"), "t-waiting"),
    "/reports": ("boss", None, "csv"),
    "/schedule": ("boss", "/static/schedule.js", "new-rule"),
    "/rota": ("boss", "/static/rota.js", "add-shift"),
    "/kb": ("boss", "/static/kb.js", "kb-entries"),
    "/admin/users": ("root", "/static/users.js", "add-user"),
}
SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.S)


def assert_no_inline_code(html: str) -> list[str]:
    """Every script is one of our files, empty between its tags; no event attribute, no javascript: URL."""
    sources = []
    for attributes, body in SCRIPT.findall(html):
        source = re.search(r'\bsrc="(/static/[\w.-]+\.js)"', attributes)
        assert source and not body.strip(), f"inline script: {attributes!r} {body[:60]!r}"
        sources.append(source.group(1))
    assert not re.search(r"<[^>]*\son\w+\s*=", html), "an event handler attribute"
    assert "javascript:" not in html
    return sources


@pytest.mark.parametrize("path", PAGES)
async def test_every_page_shares_the_layout_and_runs_only_our_script_files(app_client, path):
    username, own_script, own_id = PAGES[path]
    role, agent = USERS[username]
    csrf = await login(app_client, username)
    response = await app_client.get(path)
    assert response.status == 200 and response.content_type == "text/html" and response.charset == "utf-8"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    html = await response.text()
    assert html.startswith("<!doctype html>\n<html lang=\"zh-CN\">")
    assert f'<meta name="csrf-token" content="{csrf}">' in html
    assert csrf_of(html) == csrf
    assert f'name="csrf_token" value="{csrf}"' in html  # the header's logout form
    body = re.search(r"<body ([^>]*)>", html).group(1)
    page = path.rsplit("/", 1)[1]
    assert body == f'class="{page}" data-role="{role}" data-agent="{agent or ""}" data-user="{username}"'
    assert f'<span class="who">{username.upper()}</span>' in html
    assert '<button type="button" id="lang-toggle" class="link">English</button>' in html
    assert html.count('<header class="top">') == 1 and html.count("<main") == 1
    assert f'id="{own_id}"' in html
    sources = assert_no_inline_code(html)
    own = own_script if isinstance(own_script, tuple) else (own_script,) if own_script else ()
    assert sources == ["/static/i18n.js", "/static/common.js", *own]
    for source in sources:
        script = await app_client.get(source)
        assert script.status == 200 and script.content_type in ("application/javascript", "text/javascript")
    assert "{{" not in html and "{%" not in html


async def test_the_login_page_has_no_inline_code_and_its_own_script(app_client):
    response = await app_client.get("/login")
    html = await response.text()
    assert response.status == 200 and html.startswith("<!doctype html>\n<html lang=\"zh-CN\">")
    assert assert_no_inline_code(html) == ["/static/i18n.js", "/static/common.js", "/static/login.js"]
    assert csrf_of(html) and 'name="next" value=""' in html and 'data-error=""' in html


async def test_a_display_name_with_markup_is_text_on_every_page(app_client):
    await app_client.server.app[web_keys.ACCOUNTS].create("mallory", PASSWORD, "admin", display_name=EVIL)
    await login(app_client, "mallory")
    for path in PAGES:
        html = await (await app_client.get(path)).text()
        assert "<script>alert(1)" not in html and "<img src=x" not in html, path
        who = re.search(r'<span class="who">(.*?)</span>', html).group(1)
        assert html_unescape(who) == EVIL and not set(who) & set("<>\"'"), (path, who)
        assert_no_inline_code(html)


async def test_the_templates_escape_by_default_and_refuse_unknown_names(app_client):
    env = aiohttp_jinja2.get_env(app_client.server.app)
    assert env.from_string("<p title='{{ v }}'>{{ v }}</p>").render(v=EVIL).count("<script>") == 0
    with pytest.raises(jinja2.UndefinedError, match="'missing' is undefined"):
        env.from_string("{{ missing }}").render()
