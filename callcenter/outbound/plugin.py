"""Wiring of outbound calls into the controller: four ``cleanup_ctx`` resources and ``setup_outbound(app)`` (routes).

``callcenter.app.create_app`` states where each resource opens:
- ``open_list_store`` after the work orders: the list store and the campaigns' store (imports, campaigns
  and reads work without Asterisk);
- ``open_outbound`` after AMI and recording, before the ACD adapter: the service of escalation and
  callback calls (``OutboundService``), which is also the dialling policy ``create_app`` hands the
  adapter for kept places (nothing is dialled yet);
- ``run_outbound`` after the FastAGI server: the FastAGI route ``outbound``, and the service where the
  work-order routes find it; it closes the calls in progress;
- ``open_list_runner`` after it: the runner, which dials list tasks and automatic callbacks, and the
  FastAGI route ``outbound-list``.
Outbound depends on work orders (tasks, contacts, the directory), never the other way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from callcenter import keys as app_keys
from callcenter.outbound import http, keys
from callcenter.outbound.campaigns import CampaignStore
from callcenter.outbound.lists import ListStore
from callcenter.outbound.runner import ROUTE, ListRunner
from callcenter.outbound.service import OutboundService
from callcenter.recording.plugin import recorder_of
from callcenter.store.db import session_factory
from callcenter.workorders import keys as wo_keys


def setup_outbound(app: web.Application) -> None:
    """Add the ``/api/outbound`` routes to ``app``."""
    http.add_routes(app)


async def open_list_store(app: web.Application) -> AsyncIterator[None]:
    """The outbound lists' store, and the campaigns' (sampled satisfaction callbacks)."""
    app[keys.LISTS] = ListStore(session_factory(app[app_keys.ENGINE]), app[app_keys.SETTINGS])
    app[keys.CAMPAIGNS] = CampaignStore(session_factory(app[app_keys.ENGINE]), app[app_keys.SETTINGS])
    yield


async def open_outbound(app: web.Application) -> AsyncIterator[None]:
    """The service of escalation and callback calls; kept places (press 1 on hold) are called back through its dialling policy."""
    app[keys.SERVICE] = OutboundService(app[app_keys.SETTINGS], app[app_keys.AMI], app[wo_keys.WORKORDERS],
                                        app[wo_keys.DIRECTORY], recorder=recorder_of(app))
    yield


async def run_outbound(app: web.Application) -> AsyncIterator[None]:
    """Outbound calls served: FastAGI route ``outbound``; the work-order routes reach the service from here on."""
    outbound = app[keys.SERVICE]
    app[wo_keys.OUTBOUND] = outbound
    app[app_keys.AGI].route("outbound", outbound.serve)
    yield
    await outbound.close()


async def open_list_runner(app: web.Application) -> AsyncIterator[None]:
    """The runner of list tasks and automatic callbacks."""
    runner = ListRunner(app[app_keys.SETTINGS], app[keys.LISTS], app[keys.SERVICE], app[app_keys.ADAPTER],
                        app[app_keys.TICKETS], campaigns=app[keys.CAMPAIGNS])
    app[app_keys.AGI].route(ROUTE, runner.serve)
    await runner.start()
    app[keys.RUNNER] = runner
    yield
    await runner.close()
