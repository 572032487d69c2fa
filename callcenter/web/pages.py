"""HTML pages: small templates filled server-side with escaped values; scripts do the rest.

Templates hold ``{{ name }}`` placeholders and ``<!--#include _part.html-->`` lines; every value
is HTML-escaped, so nothing a user typed can become markup.  A logged-in page starts with
``<!--#extends _base.html-->`` and fills the base's ``<!--#slot name-->`` places with its
``<!--#block name-->...<!--#endblock-->`` sections ("scripts": its own script tags, "main": the
page), so every page shares one head (CSP-safe scripts only, no inline code) and one header.  Pages carry the CSRF token in ``<meta name="csrf-token">`` and the user in
``data-*`` attributes of ``<body>``; all live content is drawn by the page's script with
``textContent`` (never ``innerHTML``).
"""

from __future__ import annotations

import html
import re
from functools import cache
from pathlib import Path

from aiohttp import web

from callcenter.web.security import csrf_token, current_user, session_of

TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")
_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
_INCLUDE = re.compile(r"<!--#include ([\w.-]+)-->")
_EXTENDS = re.compile(r"^\s*<!--#extends ([\w.-]+)-->")
_BLOCK = re.compile(r"<!--#block (\w+)-->\n?(.*?)<!--#endblock-->", re.S)
_SLOT = re.compile(r"<!--#slot (\w+)-->")


@cache
def _template(name: str) -> str:
    text = (TEMPLATES / name).read_text(encoding="utf-8")
    base = _EXTENDS.match(text)
    if base is not None:
        blocks = {m.group(1): m.group(2) for m in _BLOCK.finditer(text)}
        text = _SLOT.sub(lambda m: blocks.get(m.group(1), ""), _template(base.group(1)))
    return _INCLUDE.sub(lambda m: _template(m.group(1)), text)


def render_text(name: str, **values: object) -> str:
    """The template ``name`` with each placeholder replaced by its escaped value."""

    def fill(match: re.Match[str]) -> str:
        return html.escape(str(values[match.group(1)]), quote=True)

    return _PLACEHOLDER.sub(fill, _template(name))


def render(name: str, status: int = 200, **values: object) -> web.Response:
    """An HTML response of the template ``name``."""
    return web.Response(text=render_text(name, **values), content_type="text/html", status=status)


def page(request: web.Request, name: str, title: str, **values: object) -> web.Response:
    """A logged-in page: the template with the user, role, agent and CSRF token filled in."""
    user = current_user(request)
    return render(
        name,
        **values,
        page=name.removesuffix(".html"),
        title=title,
        csrf=csrf_token(session_of(request)),
        username=user.username,
        display_name=user.display_name or user.username,
        role=user.role,
        agent_id=user.agent_id or "",
    )


def home_of(role: str) -> str:
    """Where a user of ``role`` lands after logging in."""
    return "/agent" if role == "operator" else "/wallboard"
