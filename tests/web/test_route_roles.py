"""Every route of the whole app declares who may call it, and the declarations are the access rules.

Roles are declared where a route is: ``Route.role`` in an area's table, ``@requires(role)`` or
``@public`` on a handler registered by hand (``callcenter.web.api``).  The access middleware reads
nothing else, so a route without a declaration would be a hole (it answers "admin only" and logs
``web.route_undeclared``); this test finds it first.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web

from callcenter.accounts.models import ROLE_RANK
from callcenter.app import create_app
from callcenter.web import api
from callcenter.web.security import PUBLIC_PREFIXES
from webtools import component_settings

# Every route anybody may call without logging in.
PUBLIC_ROUTES = {("GET", "/login"), ("HEAD", "/login"), ("POST", "/login"), ("GET", "/health"), ("HEAD", "/health"),
                 # loopback, the metrics token or a supervisor's session: the handler decides (tests/web/test_metrics.py)
                 ("GET", "/metrics"), ("HEAD", "/metrics"),
                 ("GET", "/static/i18n.js"), ("HEAD", "/static/i18n.js")}  # the labels, beside the static files
# Every route that needs more than a logged-in operator (GET also answers HEAD).
ABOVE_OPERATOR = {
    "admin": {
        "GET /admin/users", "GET /api/admin/users", "PATCH /api/admin/users/{id}", "POST /api/admin/users",
        "POST /api/admin/users/{id}/password", "POST /api/admin/users/{id}/unlock",
    },
    "supervisor": {
        "DELETE /api/ivr/rules/{name}", "DELETE /api/kb/entries/{id}", "DELETE /api/rota/shifts/{name}",
        "DELETE /api/specialists/{id}", "GET /api/desk/specialists", "PUT /api/desk/specialists/{id}", "GET /api/ivr/preview", "GET /api/ivr/rules", "GET /api/kb/export.csv",
        "GET /api/recordings/{id}/listens", "GET /api/reports", "GET /api/reports.csv", "GET /api/reports.pdf",
        "GET /api/rota", "GET /api/supervisor/wallboard", "GET /departments", "GET /kb", "GET /reports", "GET /rota", "GET /schedule",
        "GET /wallboard", "PATCH /api/departments/{id}", "PATCH /api/kb/entries/{id}", "PATCH /api/specialists/{id}",
        "POST /api/departments", "POST /api/departments/import", "POST /api/departments/{id}/specialists", "POST /api/kb/entries",
        "POST /api/kb/import", "POST /api/outbound/import", "POST /api/outbound/tasks/{id}/cancel",
        "POST /api/recordings/{id}/flag", "POST /api/supervisor/agents/{agent_id}", "POST /api/tickets/import",
        "PUT /api/ivr/rules/{name}", "PUT /api/rota/agents/{agent_id}/skills", "PUT /api/rota/shifts/{name}",
        # 未诉先办: what rose most, hotline messages made from entries
        "GET /prevention", "GET /api/prevention", "POST /api/prevention/messages",
        # the feedback ledger: a supervisor's moves, classification and catalogue
        "POST /api/ledger/items", "POST /api/ledger/items/{id}/verify", "POST /api/ledger/items/{id}/strike-off",
        "POST /api/ledger/items/{id}/reopen", "POST /api/ledger/items/{id}/classify", "GET /api/ledger/catalogue",
        "POST /api/ledger/catalogue/import",
        # sampled satisfaction campaigns
        "POST /api/campaigns", "GET /api/campaigns", "GET /api/campaigns/{id}", "GET /campaigns",
        # the words knowledge-base search uses: dictionary terms and synonym groups
        "POST /api/kb/terms", "DELETE /api/kb/terms/{id}", "POST /api/kb/synonyms", "PUT /api/kb/synonyms/{id}",
        "DELETE /api/kb/synonyms/{id}",
        # quality review: the week's calls to review, one call, scoring it
        "GET /quality", "GET /api/quality/calls", "GET /api/quality/calls/{id}", "POST /api/quality/calls/{id}/review",
    },
}


def declared_roles(app: web.Application) -> dict[tuple[str, str], str | None]:
    """(method, path) -> the role its handler declares, for every route but the static files."""
    return {(route.method, route.resource.canonical): api.role_of(route.handler)
            for route in app.router.routes() if not isinstance(route.resource, web.StaticResource)}


def test_every_route_declares_its_role(tmp_path: Path) -> None:
    app = create_app(component_settings(tmp_path))
    roles = declared_roles(app)
    assert len(roles) > 100  # the whole app: every area's routes
    undeclared = sorted(route for route, role in roles.items() if role is None)
    assert undeclared == []
    assert {role for role in roles.values()} <= {*ROLE_RANK, api.PUBLIC}
    assert {route for route, role in roles.items() if role == api.PUBLIC} == PUBLIC_ROUTES
    for role, expected in ABOVE_OPERATOR.items():
        found = {f"{method} {path}" for (method, path), r in roles.items() if r == role and method != "HEAD"}
        assert found == expected, role
    static = [route for route in app.router.routes() if isinstance(route.resource, web.StaticResource)]
    assert static and all(route.resource.canonical + "/" in PUBLIC_PREFIXES for route in static)


def test_a_route_table_entry_is_registered_with_its_role() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({})

    app = web.Application()
    api.register(app, (api.Route("GET", "/api/x", handler, "x", "t"),
                       api.Route("POST", "/api/y", handler, "y", "t", role="supervisor")))
    roles = declared_roles(app)
    assert roles[("GET", "/api/x")] == roles[("HEAD", "/api/x")] == "operator"  # any logged-in user, said so
    assert roles[("POST", "/api/y")] == "supervisor"


def test_an_unknown_role_is_refused_when_declared() -> None:
    with pytest.raises(ValueError, match="superuser"):
        api.requires("superuser")
