"""The wall screen: the room's television, read-only, for a ``screen`` login (or anybody above it).

  GET /wallscreen          the page: large figures and the day's charts, no controls
  GET /api/wallscreen      its message as JSON (the page gets it over /ws/screen)
  GET /ws/screen           its live channel (``callcenter.web.live``)

A ``screen`` account (the lowest role, ``callcenter.accounts.models.ROLES``) may open these three
and nothing else; what they show carries no caller number, ticket or alert (``trend.screen``).
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from callcenter.web import api, labels, trend
from callcenter.web import keys as web_keys
from callcenter.web.api import requires
from callcenter.web.live import screen_websocket
from callcenter.web.pages import page
from callcenter.web.schemas import Reply


def add_routes(app: web.Application) -> None:
    """Register the wall screen's routes."""
    app.router.add_get("/wallscreen", wallscreen_page)
    app.router.add_get("/ws/screen", screen_websocket)
    api.register(app, ROUTES)


@requires("screen")
async def wallscreen_page(request: web.Request) -> web.Response:
    """The wall screen."""
    return page(request, "wallscreen.html", labels.text("title.wallscreen"))


async def wallscreen(request: web.Request) -> web.Response:
    """The wall screen's message as JSON."""
    board = await request.app[web_keys.WALLBOARD].snapshot()
    return web.json_response(trend.screen(board), dumps=lambda o: json.dumps(o, ensure_ascii=False, default=str))


class Wallscreen(Reply):
    type: str
    waiting: int
    agents: list[dict[str, Any]]
    today: dict[str, Any]
    trend: dict[str, Any]


ROUTES: tuple[api.Route, ...] = (
    api.Route("GET", "/api/wallscreen", wallscreen, "The wall screen's figures and charts (the page gets them over /ws/screen)",
              "supervisor", response=Wallscreen, role="screen"),
)
