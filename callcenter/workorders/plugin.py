"""Wiring of the work-order side into the controller: ``setup_workorders(app)``, one call in create_app.

Two resources, in ``cleanup_ctx`` order:
- right after the store: the services, the ticket hook (so every call, from the first, gets its
  work order), the sample knowledge base on an empty store, and the overdue sweep;
- at the end (after AMI and the FastAGI server): outbound calls and the FastAGI route ``outbound``.
Then the outbound lists' own resources (``callcenter.outbound.plugin``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import structlog
from aiohttp import web
from sqlalchemy.engine import make_url

from callcenter import keys as app_keys
from callcenter.kb.service import KbService
from callcenter.outbound.plugin import setup_outbound_lists
from callcenter.outbound.service import OutboundService
from callcenter.store.db import session_factory
from callcenter.workorders import api, keys
from callcenter.workorders.services import DirectoryService, WorkOrderService

log = structlog.get_logger(__name__)

REPO = Path(__file__).resolve().parents[2]


def setup_workorders(app: web.Application) -> None:
    """Add the work-order resources and the ``/api`` routes to ``app`` (call after create_app's own)."""
    names = [getattr(ctx, "__name__", "") for ctx in app.cleanup_ctx]
    after_store = names.index("_store") + 1 if "_store" in names else 0
    app.cleanup_ctx.insert(after_store, _workorders)
    app.cleanup_ctx.append(_outbound)
    api.add_routes(app)
    setup_outbound_lists(app)  # follow-up and reminder lists, automatic callbacks (/api/outbound)


async def _workorders(app: web.Application) -> AsyncIterator[None]:
    settings = app[app_keys.SETTINGS]
    engine = app[app_keys.ENGINE]
    sessions = session_factory(engine)
    work = WorkOrderService(sessions, settings)
    kb = KbService(sessions, make_url(settings.database_url).get_backend_name())
    app[keys.WORKORDERS], app[keys.DIRECTORY], app[keys.KB] = work, DirectoryService(sessions), kb
    app[keys.OUTBOUND] = None
    app[app_keys.TICKETS].after_write.append(work.on_ticket_write)
    await _seed_kb(kb, settings.workorders.kb_sample)
    sweeper = None
    if settings.workorders.overdue_check_seconds > 0:
        sweeper = asyncio.create_task(_sweep(work, settings.workorders.overdue_check_seconds), name="overdue-sweep")
    yield
    if sweeper is not None:
        sweeper.cancel()
        await asyncio.gather(sweeper, return_exceptions=True)
    app[app_keys.TICKETS].after_write.remove(work.on_ticket_write)


async def _outbound(app: web.Application) -> AsyncIterator[None]:
    outbound = OutboundService(app[app_keys.SETTINGS], app[app_keys.AMI], app[keys.WORKORDERS], app[keys.DIRECTORY])
    app[keys.OUTBOUND] = outbound
    app[app_keys.AGI].route("outbound", outbound.serve)
    adapter = app.get(app_keys.ADAPTER)
    if adapter is not None:  # kept places (press 1 on hold) are called back through the same dialling policy
        adapter.dialler = outbound
    yield
    if adapter is not None:
        adapter.dialler = None
    await outbound.close()


async def _seed_kb(kb: KbService, sample: str) -> None:
    """Load the sample knowledge base into an empty store (once; later edits are the hospital's)."""
    if not sample:
        return
    path = Path(sample) if Path(sample).is_absolute() else REPO / sample
    if not path.exists():
        log.warning("kb.sample_missing", path=str(path))
        return
    if await kb.count() == 0:
        report = await kb.import_csv(path.read_bytes(), "sample")
        log.info("kb.sample_loaded", path=str(path), entries=report["created"])


async def _sweep(work: WorkOrderService, every: float) -> None:
    while True:
        try:
            await work.sweep_overdue()
        except Exception:
            log.exception("ticket.overdue_sweep_failed")
        await asyncio.sleep(every)
