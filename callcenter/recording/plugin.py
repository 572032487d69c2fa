"""Wiring of call recording into the controller: ``setup_recording(app)``, one call in create_app.

Two resources, in ``cleanup_ctx`` order:
- right after the ACD adapter (before the FastAGI server takes calls): the service, hooked into the
  adapter (``adapter.recorder``), unfinished recordings of a previous run, the storage watch and
  the daily retention job;
- after the outbound service (which opens last): its hook for callbacks and escalations.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from callcenter import keys as app_keys
from callcenter.recording import http, keys
from callcenter.recording.service import RecordingService
from callcenter.store.db import session_factory
from callcenter.workorders import keys as wo_keys


def setup_recording(app: web.Application) -> None:
    """Add the recording resources and routes (call after the work orders' setup)."""
    names = [getattr(ctx, "__name__", "") for ctx in app.cleanup_ctx]
    after_adapter = names.index("_adapter") + 1 if "_adapter" in names else len(names)
    app.cleanup_ctx.insert(after_adapter, _recording)
    app.cleanup_ctx.append(_recording_outbound)
    http.add_routes(app)


async def _recording(app: web.Application) -> AsyncIterator[None]:
    settings = app[app_keys.SETTINGS]
    service = RecordingService(settings, app[app_keys.AMI], app[app_keys.TICKETS], session_factory(app[app_keys.ENGINE]))
    app[keys.RECORDINGS] = service
    adapter = app[app_keys.ADAPTER]
    tasks: list[asyncio.Task[None]] = []
    if settings.recording.enabled:
        adapter.recorder = service
        await service.recover()
        if settings.recording.check_seconds > 0:
            tasks.append(asyncio.create_task(service.watch_storage(), name="recording-storage-watch"))
        tasks.append(asyncio.create_task(service.retention_loop(), name="recording-retention"))
    yield
    adapter.recorder = None
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await service.close()


async def _recording_outbound(app: web.Application) -> AsyncIterator[None]:
    outbound = app.get(wo_keys.OUTBOUND)
    if outbound is not None and app[app_keys.SETTINGS].recording.enabled:
        outbound.recorder = app[keys.RECORDINGS]
    yield
    if outbound is not None:
        outbound.recorder = None
