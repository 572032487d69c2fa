"""Typed key of what quality review keeps on the aiohttp application."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from callcenter.quality.service import QualityService

QUALITY: web.AppKey["QualityService"] = web.AppKey("quality")
