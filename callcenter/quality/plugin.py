"""Wiring of quality review: ``open_quality`` (a ``cleanup_ctx`` resource) and ``setup_quality(app)`` (routes)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from callcenter import keys as app_keys
from callcenter.quality import http, keys
from callcenter.quality.service import QualityService
from callcenter.store.db import session_factory


def setup_quality(app: web.Application) -> None:
    """Add quality review's routes and pages to ``app``."""
    http.add_routes(app)


async def open_quality(app: web.Application) -> AsyncIterator[None]:
    """The quality-review service (reads and writes only; nothing runs in the background)."""
    settings = app[app_keys.SETTINGS]
    app[keys.QUALITY] = QualityService(session_factory(app[app_keys.ENGINE]), settings.quality, settings.hospital.zone)
    yield
