"""The one label catalogue of the server and the pages: ``zh-CN.json`` and ``en.json`` beside this file.

Every text a page or a printed report shows has a key (``wb.offered``, ``reports.by_hour``).  The
server fills pages and reports with the Mandarin text (``text``; templates call it as ``t("key")``),
and serves both languages to the pages' scripts as ``/static/i18n.js`` (``script``), where
``Hotline.t`` and the ``data-i18n`` attributes switch languages in the browser.  Texts may carry
``{name}`` placeholders that the scripts fill.  ``tests/web/test_labels.py`` checks that every key
used in templates, scripts and Python exists in both languages.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from aiohttp import web

from callcenter.web.api import public

HERE = Path(__file__).parent
LANGUAGES = {"zh-CN": "zh", "en": "en"}  # catalogue file -> the pages' language code
DEFAULT = "zh-CN"


@functools.cache
def catalogue(language: str = DEFAULT) -> dict[str, str]:
    """Every label of ``language`` (a file name of ``LANGUAGES``), key -> text."""
    if language not in LANGUAGES:
        raise ValueError(f"no label catalogue {language!r}")
    return json.loads((HERE / f"{language}.json").read_text(encoding="utf-8"))


def text(key: str, language: str = DEFAULT) -> str:
    """The label ``key`` in ``language``; a missing key is an error (the label test finds it first)."""
    return catalogue(language)[key]


@functools.cache
def script() -> str:
    """The catalogue as the pages' scripts read it: ``const HOTLINE_I18N = {zh: {...}, en: {...}};``."""
    tables = {code: catalogue(language) for language, code in LANGUAGES.items()}
    body = json.dumps(tables, ensure_ascii=False, indent=1)
    return ('// Page texts: Mandarin (default) and English, from callcenter/web/labels/*.json.\n'
            '"use strict";\n\n'
            f"const HOTLINE_I18N = {body};\n")


@public
async def serve_script(request: web.Request) -> web.Response:
    """``/static/i18n.js``: the catalogue for the pages (a script file, as the CSP wants)."""
    return web.Response(text=script(), content_type="text/javascript", charset="utf-8")
