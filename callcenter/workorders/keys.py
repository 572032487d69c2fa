"""Typed keys of what the work-order side keeps on the aiohttp application."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from callcenter.kb.service import KbService
    from callcenter.outbound.service import OutboundService
    from callcenter.workorders.services import DirectoryService, WorkOrderService

WORKORDERS: web.AppKey["WorkOrderService"] = web.AppKey("workorders")
DIRECTORY: web.AppKey["DirectoryService"] = web.AppKey("directory")
KB: web.AppKey["KbService"] = web.AppKey("kb")
OUTBOUND: web.AppKey["OutboundService | None"] = web.AppKey("outbound")
