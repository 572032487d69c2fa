"""Typed key of what the ledger keeps on the aiohttp application."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from callcenter.ledger.service import LedgerService

LEDGER: web.AppKey["LedgerService"] = web.AppKey("ledger")
