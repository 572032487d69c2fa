"""Errors of the web area and their one mapping to HTTP answers."""

from __future__ import annotations

from aiohttp import web

from callcenter.exceptions import CallCenterError


class WebError(CallCenterError):
    """A refused request; ``status`` is the HTTP status it maps to."""

    def __init__(self, status: int, slug: str, message: str) -> None:
        super().__init__(slug, message)
        self.status = status


def error_response(status: int, slug: str, message: str) -> web.Response:
    """The JSON body every refused API call answers with."""
    return web.json_response({"error": slug, "message": message}, status=status)
