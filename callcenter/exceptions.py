"""Errors of the whole controller, each with a stable slug that logs and HTTP answers carry."""

from __future__ import annotations

from typing import Any


class CallCenterError(Exception):
    """Base error: ``slug`` is stable and machine-readable, the message is for people.

    An error a request can cause declares its HTTP status in ``http_status`` (and what its JSON
    answer carries beside ``error`` and ``message`` in ``http_fields``); ``callcenter.web.api``
    answers every route's errors from these, in one place.  ``None``: not the request's fault (500).
    """

    http_status: int | None = None

    def __init__(self, slug: str, message: str) -> None:
        super().__init__(message)
        self.slug = slug

    def http_fields(self) -> dict[str, Any]:
        """What the JSON error answer carries beside ``error`` and ``message``."""
        return {}


class ConfigError(CallCenterError):
    """The settings file or environment is wrong; the message says which key and why."""


class AsteriskError(CallCenterError):
    """Provisioning or talking to Asterisk failed."""


class AmiError(CallCenterError):
    """An AMI action failed, timed out, or the connection is down."""
