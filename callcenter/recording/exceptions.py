"""Errors of the recording area, each with a stable slug (mapped to HTTP in ``http.py``)."""

from __future__ import annotations

from callcenter.exceptions import CallCenterError


class RecordingError(CallCenterError):
    """Asterisk did not do what a recording needed (maps to 503)."""


class NotLive(RecordingError):
    """The call is not being recorded now (maps to 409)."""
