"""Wiring of the web side: security middlewares, routes, and the live hub's lifetime.

``setup_web(app)`` is called once by ``create_app``; ``open_web`` (the accounts service, the rota, the
wallboard and the live hub) is the ``cleanup_ctx`` resource ``create_app`` opens after the store, the work orders
and the ACD adapter, so it closes before them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import structlog
from aiohttp import web

from callcenter import keys
from callcenter.accounts.service import AccountService
from callcenter.agents.store import RotaStore
from callcenter.store.db import session_factory
from callcenter.web import (
    admin_http,
    agent_http,
    auth,
    desk_http,
    reports_http,
    rota_http,
    supervision_http,
    supervisor_http,
)
from callcenter.web import wallscreen_http
from callcenter.web import keys as web_keys
from callcenter.web import labels
from callcenter.web.guard import ticket_guard
from callcenter.web.live import LiveHub, websocket
from callcenter.web.pages import STATIC, setup_templates
from callcenter.web.security import setup_security
from callcenter.web.supervision import SupervisionService
from callcenter.web.wallboard import Wallboard
from callcenter.workorders import keys as wo_keys

log = structlog.get_logger(__name__)


def setup_web(app: web.Application) -> None:
    """Install the web side on the controller's application."""
    setup_security(app)
    setup_templates(app)
    app.middlewares.append(ticket_guard)  # after the access check: operators work their own tickets
    auth.add_routes(app)
    agent_http.add_routes(app)
    desk_http.add_routes(app)
    supervisor_http.add_routes(app)
    supervision_http.add_routes(app)
    admin_http.add_routes(app)
    rota_http.add_routes(app)
    reports_http.add_routes(app)
    wallscreen_http.add_routes(app)
    app.router.add_get("/ws", websocket)
    app.router.add_get("/static/i18n.js", labels.serve_script)  # before the files: generated, not a file
    app.router.add_static("/static/", STATIC, follow_symlinks=False)


async def open_web(app: web.Application) -> AsyncIterator[None]:
    """Accounts, the rota (its skills handed to the adapter), the wallboard and the live hub of desks and wallboards."""
    settings = app[keys.SETTINGS]
    reads = session_factory(app[keys.ENGINE])
    app[web_keys.READS] = reads
    app[web_keys.ACCOUNTS] = AccountService(
        reads,
        max_failed=settings.web.max_failed_logins,
        lockout=dt.timedelta(minutes=settings.web.lockout_minutes),
    )
    if await app[web_keys.ACCOUNTS].count() == 0:
        log.warning("web.no_accounts", hint="create the first admin: callcenter user add NAME --role admin")
    rota = RotaStore(reads, settings.agents)
    await rota.import_settings(settings.shifts)
    for agent_id, skills in rota.skill_overrides().items():
        app[keys.ADAPTER].set_skills(agent_id, frozenset(skills))
    app[web_keys.ROTA] = rota
    work = app.get(wo_keys.WORKORDERS)
    board = Wallboard(settings, app[keys.ADAPTER], reads, rota=rota, work=work)
    app[web_keys.WALLBOARD] = board
    hub = LiveHub(app[keys.ADAPTER], board, app[keys.TICKETS], reads, work=work)
    app[web_keys.HUB] = hub
    hub.start()
    supervision = SupervisionService(settings, app[keys.ADAPTER], app[keys.TICKETS], hub.to_agent, work=work)
    app[web_keys.SUPERVISION] = supervision
    yield
    await supervision.close()
    await hub.close()
