"""Wiring of call recording into the controller: two ``cleanup_ctx`` resources and ``setup_recording(app)`` (routes).

``callcenter.app.create_app`` states where each resource opens:
- ``open_recording`` after AMI, before the ACD adapter: the service, handed to the adapter and the
  outbound service through their constructors (when ``[recording] enabled``);
- ``run_recording`` right after the adapter (before the FastAGI server takes calls): unfinished
  recordings of a previous run, the storage watch and the daily retention job.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from callcenter import keys as app_keys
from callcenter.recording import http, keys
from callcenter.recording.service import RecordingService
from callcenter.store.db import session_factory


def setup_recording(app: web.Application) -> None:
    """Add the recording routes to ``app``."""
    http.add_routes(app)


def recorder_of(app: web.Application) -> RecordingService | None:
    """The recording service calls are recorded by, or None when ``[recording] enabled`` is off."""
    return app[keys.RECORDINGS] if app[app_keys.SETTINGS].recording.enabled else None


async def open_recording(app: web.Application) -> AsyncIterator[None]:
    """The recording service (nothing runs yet)."""
    settings = app[app_keys.SETTINGS]
    service = RecordingService(settings, app[app_keys.AMI], app[app_keys.TICKETS], session_factory(app[app_keys.ENGINE]))
    app[keys.RECORDINGS] = service
    yield
    await service.close()


async def run_recording(app: web.Application) -> AsyncIterator[None]:
    """Finish a previous run's recordings; watch the storage; apply the retention daily."""
    settings, service = app[app_keys.SETTINGS], app[keys.RECORDINGS]
    tasks: list[asyncio.Task[None]] = []
    if settings.recording.enabled:
        await service.recover()
        if settings.recording.check_seconds > 0:
            tasks.append(asyncio.create_task(service.watch_storage(), name="recording-storage-watch"))
        tasks.append(asyncio.create_task(service.retention_loop(), name="recording-retention"))
    yield
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
