"""Errors of the web area (answered by ``callcenter.web.api``, which maps every area's errors to HTTP)."""

from __future__ import annotations

from callcenter.exceptions import CallCenterError


class WebError(CallCenterError):
    """A refused request; ``status`` is the HTTP status it maps to."""

    def __init__(self, status: int, slug: str, message: str) -> None:
        super().__init__(slug, message)
        self.status = self.http_status = status
