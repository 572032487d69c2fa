"""Typed keys of what the outbound side keeps on the aiohttp application.

The outbound service is also put under ``callcenter.workorders.keys.OUTBOUND`` (typed there by a
small protocol), where the work-order routes find it without importing this package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from callcenter.outbound.campaigns import CampaignStore
    from callcenter.outbound.lists import ListStore
    from callcenter.outbound.runner import ListRunner
    from callcenter.outbound.service import OutboundService

SERVICE: web.AppKey["OutboundService"] = web.AppKey("outbound_service")
LISTS: web.AppKey["ListStore"] = web.AppKey("outbound_lists")
RUNNER: web.AppKey["ListRunner"] = web.AppKey("outbound_runner")
CAMPAIGNS: web.AppKey["CampaignStore"] = web.AppKey("outbound_campaigns")
