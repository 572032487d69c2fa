"""Wiring: the IVR's parts built from the settings, for the application and the CLI."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.ivr.exceptions import IvrError
from callcenter.ivr.flow import IvrFlow
from callcenter.ivr.messages import Messages
from callcenter.ivr.prompts import BuildReport, build_prompts, load_locales, sound_path
from callcenter.ivr.rules import RuleStore
from callcenter.settings import Settings
from callcenter.tickets.service import TicketService

log = structlog.get_logger(__name__)


def schedule_clock(settings: Settings) -> Callable[[], dt.datetime]:
    """The clock the schedule sees: real UTC time, or ``[ivr] fixed_time`` (a testing seam)."""
    if settings.ivr.fixed_time:
        fixed = dt.datetime.fromisoformat(settings.ivr.fixed_time)
        log.warning("ivr.fixed_time", fixed_time=fixed.isoformat(), detail="the schedule ignores the real clock")
        return lambda: fixed
    return lambda: dt.datetime.now(dt.UTC)


async def create_ivr(settings: Settings, sessions: async_sessionmaker[AsyncSession], tickets: TicketService) -> IvrFlow:
    """The IVR flow, its schedule imported from the file into the database (a bad file is logged, not fatal).

    Raises IvrError when the prompt texts cannot be used (the application then runs without IVR).
    """
    rules = RuleStore(sessions, refresh=settings.ivr.rules_refresh)
    try:
        await rules.import_file(settings.schedule_path)
    except IvrError as err:  # calls go on with the rules the database already holds
        log.error("ivr.schedule_not_imported", error=str(err), slug=err.slug)
        await rules.reload()
    locales = load_locales(settings.prompts_path)
    if settings.ivr.language not in locales:
        raise IvrError("ivr.language", f"ivr.language {settings.ivr.language!r} has no prompts in {settings.prompts_path}")
    sounds = settings.sounds_path
    available = (lambda language, name: True) if sounds is None else _exists_in(sounds)
    return IvrFlow(
        settings.ivr, rules, tickets, zone=settings.hospital.zone, languages=_ordered(locales, settings.ivr.language),
        available=available, sounds_dir=settings.asterisk_sounds_dir, clock=schedule_clock(settings),
    )


def create_messages(settings: Settings, flow: IvrFlow) -> Messages:
    """The maker of hotline messages from the web, writing to the running IVR's schedule."""
    return Messages(flow.rules, load_locales(settings.prompts_path), settings.sounds_path)


def build(settings: Settings) -> BuildReport | None:
    """Generate missing or changed prompt audio into Asterisk's sounds dir (None: dir unknown)."""
    sounds = settings.sounds_path
    if sounds is None:
        log.warning("ivr.sounds_dir_unknown", detail="set [ivr] sounds_dir to build prompts for your own Asterisk")
        return None
    report = build_prompts(sounds, settings.prompts_path)
    log.info("ivr.prompts_ready", sounds=str(sounds), report=str(report))
    return report


def _exists_in(sounds: Path) -> Callable[[str, str], bool]:
    return lambda language, name: sound_path(sounds, language, name).exists()


def _ordered(locales: dict, first: str) -> tuple[str, ...]:
    """Languages with the configured first language first (``*`` cycles through them in this order)."""
    return (first, *sorted(lang for lang in locales if lang != first))
