"""Wiring of the knowledge base into the controller: its service, the sample entries, the ``/api/kb`` routes.

``open_kb`` is a ``cleanup_ctx`` resource (after the store: the service reads and writes through
it); ``setup_kb(app)`` adds the routes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import structlog
from aiohttp import web
from sqlalchemy.engine import make_url

from callcenter import keys as app_keys
from callcenter.kb import http, keys, prevention_http
from callcenter.kb.dictionary import DictionaryService
from callcenter.kb.prevention import PreventionService
from callcenter.kb.service import KbService
from callcenter.kb.suggestions import SuggestionService
from callcenter.store.db import session_factory

log = structlog.get_logger(__name__)

REPO = Path(__file__).resolve().parents[2]


def setup_kb(app: web.Application) -> None:
    """Add the knowledge base's ``/api/kb`` and 未诉先办 ``/api/prevention`` routes to ``app``."""
    http.add_routes(app)
    prevention_http.add_routes(app)


async def open_kb(app: web.Application) -> AsyncIterator[None]:
    """The knowledge-base service, with the sample entries loaded into an empty store."""
    settings = app[app_keys.SETTINGS]
    kb = KbService(session_factory(app[app_keys.ENGINE]), make_url(settings.database_url).get_backend_name())
    app[keys.KB] = kb
    app[keys.PREVENTION] = PreventionService(session_factory(app[app_keys.ENGINE]), settings.hospital.zone)
    app[keys.SUGGESTIONS] = SuggestionService(session_factory(app[app_keys.ENGINE]))
    app[keys.DICTIONARY] = DictionaryService(session_factory(app[app_keys.ENGINE]), kb.index)
    await _seed_kb(kb, settings.workorders.kb_sample)
    await app[keys.DICTIONARY].seed()
    await kb.index.ensure()  # cut every entry again when the dictionary changed since the last start
    yield


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
