"""Typed keys for what the aiohttp application holds."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from sqlalchemy.ext.asyncio import AsyncEngine

    from callcenter.adapter import Adapter
    from callcenter.agi.server import AgiServer
    from callcenter.ami.client import AmiClient
    from callcenter.ivr.flow import IvrFlow
    from callcenter.ivr.messages import Messages
    from callcenter.settings import Settings
    from callcenter.tickets.service import TicketService

SETTINGS: web.AppKey["Settings"] = web.AppKey("settings")
ENGINE: web.AppKey["AsyncEngine"] = web.AppKey("engine")
TICKETS: web.AppKey["TicketService"] = web.AppKey("tickets")
AMI: web.AppKey["AmiClient"] = web.AppKey("ami")
AGI: web.AppKey["AgiServer"] = web.AppKey("agi")
ADAPTER: web.AppKey["Adapter"] = web.AppKey("adapter")
IVR: web.AppKey["IvrFlow | None"] = web.AppKey("ivr")
IVR_MESSAGES: web.AppKey["Messages | None"] = web.AppKey("ivr_messages")  # hotline messages made on the web
METRICS: web.AppKey["CollectorRegistry"] = web.AppKey("metrics")  # this app's Prometheus registry (GET /metrics)
LEADING: web.AppKey[Callable[[], bool]] = web.AppKey("leading")  # does this controller lead? (/health, /metrics)
# The logged-in user of a request (callcenter.accounts.models.User), set by the web side's access
# middleware; other areas' handlers (the work-order API) read who is acting from it.
USER: web.RequestKey[Any] = web.RequestKey("user")
