"""One label catalogue (``callcenter/web/labels/*.json``): every key the templates, scripts and Python
use exists in Mandarin and in English, and the pages get the catalogue the server renders with."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from callcenter.accounts.models import ROLE_RANK
from callcenter.acd import MISSED_CALLS, AgentState, CallState
from callcenter.web import labels, reports
from callcenter.web.pages import STATIC, TEMPLATES
from callcenter.web.schemas import PAUSE_REASONS
from callcenter.ledger.lifecycle import MOVE_NAMES as LEDGER_MOVES
from callcenter.ledger.lifecycle import Status as LedgerStatus
from callcenter.ledger.models import SOURCES as LEDGER_SOURCES
from callcenter.workorders.lifecycle import CATEGORIES, Status
from webtools import login

WEB = Path(labels.__file__).parents[1]
KEY = r"([a-z0-9_]+(?:\.[a-z0-9_]+)+)"
LANGUAGES = list(labels.LANGUAGES)


def keys_in_templates() -> set[str]:
    found = set()
    for path in TEMPLATES.glob("*.html"):
        text = path.read_text(encoding="utf-8")
        found |= set(re.findall(rf'data-i18n(?:-ph|-title)?="{KEY}"', text))
        found |= set(re.findall(rf'\bt\("{KEY}"\)', text))
    return found


def keys_in_scripts() -> set[str]:
    return {key for path in STATIC.glob("*.js")
            for key in re.findall(rf'\bt\("{KEY}"', path.read_text(encoding="utf-8"))}


def prefixes_in_scripts() -> set[str]:
    """Keys scripts build at run time: t(`state.${...}`) -> "state."."""
    return {prefix for path in STATIC.glob("*.js")
            for prefix in re.findall(r"\bt\(`([a-z_.]+\.)\$\{", path.read_text(encoding="utf-8"))}


def keys_in_python() -> set[str]:
    found = set()
    for path in WEB.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        found |= set(re.findall(rf"""(?:_label|labels\.text)\(["']{KEY}["']""", text))
    # the report's table heads are lists of keys
    found |= set(re.findall(r'"((?:reports|wb|col)\.[a-z_]+)"', Path(reports.__file__).read_text(encoding="utf-8")))
    return found


# Keys scripts build from values the server sends: every value needs its label.
BUILT = {
    "state.": {s.value for s in AgentState},
    "reason.": {*PAUSE_REASONS, MISSED_CALLS},
    "wostatus.": {s.value for s in Status},
    "wo.": set(CATEGORIES),
    "role.": set(ROLE_RANK),
    "call.": {s.value for s in CallState} - {CallState.ENDED.value},  # the wallboard lists live calls
    "login.error.": {"failed", "throttled"},
    "ledger.status.": {s.value for s in LedgerStatus},
    "ledger.source.": set(LEDGER_SOURCES),
    "ledger.move.": set(LEDGER_MOVES),
}


def test_both_languages_have_the_same_keys_and_placeholders() -> None:
    zh, en = (labels.catalogue(language) for language in LANGUAGES)
    assert len(zh) > 300
    assert sorted(set(zh) ^ set(en)) == []
    for key in zh:
        assert set(re.findall(r"\{\w+\}", zh[key])) == set(re.findall(r"\{\w+\}", en[key])), key
        assert zh[key].strip() and en[key].strip(), key


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("where", ["templates", "scripts", "python"])
def test_every_key_used_exists(where: str, language: str) -> None:
    used = {"templates": keys_in_templates, "scripts": keys_in_scripts, "python": keys_in_python}[where]()
    assert len(used) > 20, where  # the scan found the keys (a broken pattern would find none)
    assert sorted(used - set(labels.catalogue(language))) == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_key_a_script_builds_exists(language: str) -> None:
    catalogue = labels.catalogue(language)
    prefixes = prefixes_in_scripts()
    assert set(BUILT) <= prefixes
    for prefix in prefixes:
        assert any(key.startswith(prefix) for key in catalogue), prefix
    for prefix, values in BUILT.items():
        assert sorted(prefix + v for v in values if prefix + v not in catalogue) == [], prefix


def test_page_titles_are_labels() -> None:
    """A page's ``<title>`` comes from the catalogue: ``t("title.*")`` in the template, or the label a route hands ``page()``."""
    titles = [(path.name, title) for path in TEMPLATES.glob("*.html")
              for title in re.findall(r"<title>(.*?)</title>", path.read_text(encoding="utf-8"), re.S)]
    assert len(titles) >= 2  # the layout's and the login page's
    for name, title in titles:
        assert re.fullmatch(r'\{\{ (?:title|t\("title\.[a-z_]+"\)) \}\}', title), (name, title)
    for path in WEB.rglob("*.py"):
        written = re.findall(r'\bpage\(\s*request,\s*"[^"]+",\s*(f?"[^"]*")', path.read_text(encoding="utf-8"))
        assert written == [], f"{path.name}: a page title written in the code, not a label: {written}"


def test_the_work_order_categories_mandarin_names_are_the_catalogues() -> None:
    assert {key: labels.text(f"wo.{key}") for key in CATEGORIES} == CATEGORIES  # the API's description


def test_a_missing_key_or_language_is_an_error() -> None:
    with pytest.raises(KeyError):
        labels.text("no.such_label")
    with pytest.raises(ValueError):
        labels.catalogue("fr")


async def test_pages_get_the_catalogue_the_server_renders_with(app_client) -> None:
    response = await app_client.get("/static/i18n.js")  # before login: every page, the login form too
    assert response.status == 200 and response.content_type == "text/javascript"
    script = await response.text()
    assert "<" not in script.replace("\\u003c", "")  # data only: no markup
    tables = script.split("const HOTLINE_I18N = ", 1)[1].rstrip().removesuffix(";")
    assert json.loads(tables) == {"zh": labels.catalogue("zh-CN"), "en": labels.catalogue("en")}
    await login(app_client, "boss")
    page = await (await app_client.get("/wallboard")).text()
    assert f'data-i18n="wb.offered">{labels.text("wb.offered")}<' in page  # the server's text is the catalogue's
    await login(app_client, "op1")
    desk = await (await app_client.get("/agent")).text()
    options = re.findall(r'<option value="([a-z_0-9]+)" data-i18n="wo\.\1">([^<]+)</option>', desk)
    assert options == [(key, labels.text(f"wo.{key}")) for key in CATEGORIES]
    assert reports._label("reports.offered") == f'<span data-i18n="reports.offered">{labels.text("reports.offered")}</span>'
