"""Wiring of the work-order side into the controller: ``open_workorders`` (a ``cleanup_ctx`` resource) and ``setup_workorders(app)`` (routes).

``open_workorders`` opens right after the store (``callcenter.app.create_app`` states the order): the
services, the ticket hook (so every call, from the first, gets its work order) and the overdue
sweep.  Outbound calls (escalations, callbacks) are the outbound package's: it depends on work
orders and puts its service under ``keys.OUTBOUND`` (``callcenter.outbound.plugin``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from callcenter import keys as app_keys
from callcenter.outbound.policy import dialable, policy_for
from callcenter.store.db import session_factory
from callcenter.workorders import desk_http, http, keys
from callcenter.workorders.departments import DirectoryService
from callcenter.workorders.desk import DeskService
from callcenter.workorders.service import WorkOrderService
from callcenter.workorders.sweep import sweep_every


def setup_workorders(app: web.Application) -> None:
    """Add the work orders' ``/api`` routes to ``app``."""
    http.add_routes(app)
    desk_http.add_routes(app)


async def open_workorders(app: web.Application) -> AsyncIterator[None]:
    """The work-order and directory services, hooked to every ticket write, and the overdue sweep."""
    settings = app[app_keys.SETTINGS]
    engine = app[app_keys.ENGINE]
    sessions = session_factory(engine)
    work = WorkOrderService(sessions, settings)
    # a directory's phones are numbers the hotline may dial (the outbound dialling policy, pure)
    dial_check = dialable(policy_for(settings.outbound, settings.asterisk.caller_endpoints))
    app[keys.WORKORDERS], app[keys.DIRECTORY] = work, DirectoryService(sessions, dial_check)
    app[keys.DESK] = DeskService(sessions, work)
    app[keys.OUTBOUND] = None
    app[app_keys.TICKETS].after_write.append(work.on_ticket_write)
    sweeper = None
    if settings.workorders.overdue_check_seconds > 0:
        sweeper = asyncio.create_task(sweep_every(work, settings.workorders.overdue_check_seconds), name="overdue-sweep")
    yield
    if sweeper is not None:
        sweeper.cancel()
        await asyncio.gather(sweeper, return_exceptions=True)
    app[app_keys.TICKETS].after_write.remove(work.on_ticket_write)
