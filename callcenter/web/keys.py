"""Typed keys for what the web side keeps on the application."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from callcenter.accounts.service import AccountService
    from callcenter.agents.store import RotaStore
    from callcenter.web.live import LiveHub
    from callcenter.web.security import LoginThrottle
    from callcenter.web.supervision import SupervisionService
    from callcenter.web.wallboard import Wallboard

ACCOUNTS: web.AppKey["AccountService"] = web.AppKey("accounts")
CLOCK: web.AppKey[Callable[[], dt.datetime]] = web.AppKey("web_clock")  # optional: the reports' "now" (tests fix it)
HUB: web.AppKey["LiveHub"] = web.AppKey("live_hub")
READS: web.AppKey["async_sessionmaker[AsyncSession]"] = web.AppKey("web_reads")  # read-only queries
ROTA: web.AppKey["RotaStore"] = web.AppKey("rota")  # shifts and skills as supervisors edited them
SUPERVISION: web.AppKey["SupervisionService"] = web.AppKey("supervision")  # listen, whisper, barge sessions
THROTTLE: web.AppKey["LoginThrottle"] = web.AppKey("login_throttle")
WALLBOARD: web.AppKey["Wallboard"] = web.AppKey("wallboard")  # operators' states, the live board, today's figures
