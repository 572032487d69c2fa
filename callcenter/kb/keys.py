"""Typed keys of what the knowledge base keeps on the aiohttp application."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from callcenter.kb.dictionary import DictionaryService
    from callcenter.kb.prevention import PreventionService
    from callcenter.kb.service import KbService
    from callcenter.kb.suggestions import SuggestionService

KB: web.AppKey["KbService"] = web.AppKey("kb")
PREVENTION: web.AppKey["PreventionService"] = web.AppKey("prevention")
SUGGESTIONS: web.AppKey["SuggestionService"] = web.AppKey("kb_suggestions")
DICTIONARY: web.AppKey["DictionaryService"] = web.AppKey("kb_dictionary")
