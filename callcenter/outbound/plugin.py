"""Wiring of scheduled outbound lists into the controller: ``setup_outbound_lists(app)``, one call in create_app.

Two resources, in ``cleanup_ctx`` order:
- after the work orders' store resource: the list store (imports and reads work without Asterisk);
- at the end (after AMI, the ACD adapter, FastAGI and the outbound service): the runner, which
  dials list tasks and automatic callbacks, and the FastAGI route ``outbound-list``.
Call after ``setup_workorders``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from callcenter import keys as app_keys
from callcenter.outbound import http, keys
from callcenter.outbound.lists import ListStore
from callcenter.outbound.runner import ROUTE, ListRunner
from callcenter.store.db import session_factory
from callcenter.workorders import keys as wo_keys


def setup_outbound_lists(app: web.Application) -> None:
    """Add the list store, the runner and the ``/api/outbound`` routes to ``app``."""
    names = [getattr(ctx, "__name__", "") for ctx in app.cleanup_ctx]
    after = names.index("_workorders") + 1 if "_workorders" in names else len(names)
    app.cleanup_ctx.insert(after, _list_store)
    app.cleanup_ctx.append(_list_runner)
    http.add_routes(app)


async def _list_store(app: web.Application) -> AsyncIterator[None]:
    app[keys.LISTS] = ListStore(session_factory(app[app_keys.ENGINE]), app[app_keys.SETTINGS])
    yield


async def _list_runner(app: web.Application) -> AsyncIterator[None]:
    runner = ListRunner(app[app_keys.SETTINGS], app[keys.LISTS], app[wo_keys.OUTBOUND], app[app_keys.ADAPTER],
                        app[app_keys.TICKETS])
    app[app_keys.AGI].route(ROUTE, runner.serve)
    await runner.start()
    app[keys.RUNNER] = runner
    yield
    await runner.close()
