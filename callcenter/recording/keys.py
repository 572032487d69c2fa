"""Typed key for the recording service on the application."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from callcenter.recording.service import RecordingService

RECORDINGS: web.AppKey["RecordingService"] = web.AppKey("recordings")
