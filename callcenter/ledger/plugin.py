"""Wiring of the feedback ledger: ``open_ledger`` (a ``cleanup_ctx`` resource) and ``setup_ledger(app)`` (routes).

``open_ledger`` opens right after the work orders: its service hooks every ticket change
(``WorkOrderService.after_change``), so a complaint, a suggestion or a low survey score becomes an
item in the same transaction.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from callcenter import keys as app_keys
from callcenter.ledger import http, keys
from callcenter.ledger.service import LedgerService
from callcenter.store.db import session_factory
from callcenter.workorders import keys as workorder_keys


def setup_ledger(app: web.Application) -> None:
    """Add the ledger's routes and page to ``app``."""
    http.add_routes(app)


async def open_ledger(app: web.Application) -> AsyncIterator[None]:
    """The ledger service, hooked to every ticket change."""
    ledger = LedgerService(session_factory(app[app_keys.ENGINE]))
    app[keys.LEDGER] = ledger
    work = app[workorder_keys.WORKORDERS]
    work.after_change.append(ledger.on_work_change)
    yield
    work.after_change.remove(ledger.on_work_change)
