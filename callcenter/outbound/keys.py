"""Typed keys of what the outbound-list side keeps on the aiohttp application."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from callcenter.outbound.lists import ListStore
    from callcenter.outbound.runner import ListRunner

LISTS: web.AppKey["ListStore"] = web.AppKey("outbound_lists")
RUNNER: web.AppKey["ListRunner"] = web.AppKey("outbound_runner")
