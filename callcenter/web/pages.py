"""HTML pages: Jinja2 templates (through aiohttp-jinja2) filled server-side; scripts do the rest.

Autoescape is on, so every value is HTML-escaped and nothing a user typed can become markup; a
name missing from the context is an error (``StrictUndefined``), not an empty string.  A logged-in
page extends ``_base.html`` and fills its blocks ("scripts": its own script tags, "main": the page),
so every page shares one head (``_head.html``: our own script files only, no inline code, as the CSP
demands) and one header.  Pages carry the CSRF token in ``<meta name="csrf-token">`` and the user in
``data-*`` attributes of ``<body>``; all live content is drawn by the page's script with
``textContent`` (never ``innerHTML``).
"""

from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from callcenter.web import labels
from callcenter.web.security import csrf_token, current_user, session_of

TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")


def setup_templates(app: web.Application) -> None:
    """Give ``app`` the pages' Jinja2 environment: ``templates/``, autoescaped, strict about names.

    ``t("key")`` in a template is the label's Mandarin text (``callcenter.web.labels``); the page's
    script switches it to the user's language through the element's ``data-i18n`` attribute.
    """
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        default_helpers=False,
    )
    env.globals["t"] = labels.text


def render(request: web.Request, name: str, status: int = 200, **values: object) -> web.Response:
    """An HTML response of the template ``name`` filled with ``values``."""
    return aiohttp_jinja2.render_template(name, request, values, status=status)


def page(request: web.Request, name: str, title: str, **values: object) -> web.Response:
    """A logged-in page: the template with the user, role, agent and CSRF token filled in."""
    user = current_user(request)
    return render(
        request,
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
    return {"screen": "/wallscreen", "specialist": "/desk", "operator": "/agent"}.get(role, "/wallboard")
