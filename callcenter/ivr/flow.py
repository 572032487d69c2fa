"""The IVR of a hotline call over FastAGI: greeting, recording notice, seasonal messages, menu.

Theory of operation: ``IvrFlow.run`` plays, in the caller's language (Mandarin first, ``*``
switches), the greeting, the notice that calls are recorded, the seasonal messages the
schedule picks for this moment (none for a caller who called within ``repeat_window_hours``),
then the menu.  Every prompt is a ``STREAM FILE`` with all keys as escape digits: a key skips the
message (``*`` switches language and repeats it in the other one); in the menu a key is the
choice.  No key or a key that is no choice re-reads the menu; after ``menu_attempts`` readings the
caller goes to any operator.  The result is a ``Route`` (skill, priority) for the ACD.

What the caller did becomes the ticket's ``details["ivr"]``: every prompt (played whole, skipped
with which key, missing), the keys, the menu outcome, the language, the seconds spent.  It is
written when the IVR ends however it ends: routed, hung up, or the controller stopping.
Nothing a caller presses can break the call: unexpected errors are logged and the caller is
routed to any operator; only the caller's hangup (``AgiHangup``) ends the call here.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from callcenter.agi.server import AgiHangup, AgiSession
from callcenter.ivr.prompts import playable
from callcenter.ivr.rules import RuleStore
from callcenter.ivr.schedule import select
from callcenter.settings import IvrSettings
from callcenter.tickets.service import TicketService

log = structlog.get_logger(__name__)

KEYS = "0123456789*#"
SWITCH_LANGUAGE = "*"
MAX_SWITCHES = 4  # a caller (or line noise) toggling the language cannot keep the call here
REPEAT_CHECK_TIMEOUT = 1.0


@dataclass(frozen=True)
class Route:
    """Where the ACD sends the caller: ``skill`` None means any operator."""

    skill: str | None = None
    priority: int = 0
    choice: str = "operator"


@dataclass(frozen=True)
class MenuOption:
    """One menu key: the ACD route and the prompt confirming it."""

    route: Route
    confirm: str


# Keep prompts/<locale>.toml "menu" in step with these keys.
MENU: dict[str, MenuOption] = {
    "1": MenuOption(Route("registration", 0, "registration"), "connecting"),
    "2": MenuOption(Route("reports", 0, "reports"), "connecting"),
    "3": MenuOption(Route("guidance", 0, "guidance"), "connecting"),
    "4": MenuOption(Route("urgent", 10, "urgent"), "urgent"),  # fever or injury: ahead of the queue
    "5": MenuOption(Route("complaints", 0, "complaints"), "connecting"),
    "0": MenuOption(Route(None, 0, "operator"), "to_operator"),
}
ANY_OPERATOR = Route(None, 0, "operator")

Available = Callable[[str, str], bool]  # (language, prompt) -> its audio exists


@dataclass
class _Call:
    """One caller's way through the IVR, built up as it happens."""

    call_id: str
    language: str
    started: float
    started_at: dt.datetime
    schedule_time: dt.datetime
    messages: list[dict[str, Any]] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    seasonal: list[str] = field(default_factory=list)
    seasonal_skipped: str | None = None
    menu: dict[str, Any] = field(default_factory=lambda: {"readings": 0, "no_input": 0, "invalid": 0})
    switches: int = 0

    def path(self, outcome: str, seconds: float, route: Route | None) -> dict[str, Any]:
        """The ticket's ``details["ivr"]``."""
        path: dict[str, Any] = {
            "outcome": outcome,
            "language": self.language,
            "started_at": self.started_at.isoformat(),
            "seconds": round(seconds, 2),
            "schedule_time": self.schedule_time.isoformat(),
            "seasonal": self.seasonal,
            "messages": self.messages,
            "keys": self.keys,
            "menu": dict(self.menu),
        }
        if self.seasonal_skipped:
            path["seasonal_skipped"] = self.seasonal_skipped
        if route is not None:
            path["menu"].update(choice=route.choice, skill=route.skill, priority=route.priority)
        return path


class IvrFlow:
    """Plays the IVR to one caller at a time (one instance serves every call)."""

    def __init__(
        self,
        settings: IvrSettings,
        rules: RuleStore,
        tickets: TicketService,
        *,
        zone: dt.tzinfo,
        languages: tuple[str, ...],
        available: Available,
        sounds_dir: str = "/usr/share/asterisk/sounds",
        clock: Callable[[], dt.datetime] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if settings.language not in languages:
            raise ValueError(f"ivr.language {settings.language!r} has no prompts (have {', '.join(languages)})")
        self.settings = settings
        self.rules = rules
        self.tickets = tickets
        self.languages = languages
        self.available = available
        self.sounds_dir = sounds_dir  # as Asterisk sees it
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.monotonic = monotonic
        self.zone = zone  # the hospital's time (settings.hospital.zone): what the schedule's rules read

    async def run(self, agi: AgiSession, call_id: str, caller_number: str) -> Route:
        """Play the IVR; the caller's route.  Raises AgiHangup when the caller hangs up here."""
        call = _Call(
            call_id=call_id,
            language=self.settings.language,
            started=self.monotonic(),
            started_at=dt.datetime.now(dt.UTC),
            schedule_time=self.clock().astimezone(self.zone),
        )
        bound = log.bind(uniqueid=call_id)
        outcome, route = "routed", ANY_OPERATOR
        try:
            await self._set_language(agi, call)
            route = await self._play_all(agi, call, caller_number)
            return route
        except AgiHangup:
            outcome, route = "hangup", None  # type: ignore[assignment]
            raise
        except asyncio.CancelledError:
            outcome, route = "controller_stopped", None  # type: ignore[assignment]
            raise
        except Exception:
            # A bug or an unexpected reply must not cost the caller the call: any operator takes it.
            bound.exception("ivr.failed")
            outcome, route = "error", ANY_OPERATOR
            return route
        finally:
            seconds = self.monotonic() - call.started
            bound.info("ivr.done", outcome=outcome, choice=route.choice if route else None, seconds=round(seconds, 1))
            await self.tickets.record_ivr(call_id, call.path(outcome, seconds, route))

    async def _play_all(self, agi: AgiSession, call: _Call, caller_number: str) -> Route:
        await self._message(agi, call, "greeting")
        await self._message(agi, call, self._other_language_hint(call))
        await self._message(agi, call, "recording_notice")
        for name in await self._seasonal(call, caller_number):
            call.seasonal.append(name)
            await self._message(agi, call, name, seasonal=True)
        return await self._menu(agi, call)

    # -- the parts -------------------------------------------------------------------------------

    def _other_language_hint(self, call: _Call) -> str:
        """"For English, press star" in Mandarin, "中文服务请按星号键" in English."""
        return "for_english" if call.language != "en" else "for_chinese"

    async def _seasonal(self, call: _Call, caller_number: str) -> list[str]:
        """Messages the schedule picks for this moment, unless the caller heard them recently."""
        if self.settings.max_seasonal == 0:
            return []
        if await self._called_recently(call, caller_number):
            call.seasonal_skipped = "repeat_caller"
            return []
        rules = select(await self.rules.current(), call.schedule_time, self.settings.max_seasonal)
        return [rule.message for rule in rules]

    async def _called_recently(self, call: _Call, caller_number: str) -> bool:
        hours = self.settings.repeat_window_hours
        if hours <= 0:
            return False
        since = dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours)
        try:
            async with asyncio.timeout(REPEAT_CHECK_TIMEOUT):
                return await self.tickets.called_since(caller_number, since, exclude_uniqueid=call.call_id)
        except Exception as err:  # the database is slow or down: play the messages, it does no harm
            log.warning("ivr.repeat_check_failed", uniqueid=call.call_id, error=f"{type(err).__name__}: {err}")
            return False

    async def _message(self, agi: AgiSession, call: _Call, name: str, *, seasonal: bool = False) -> None:
        """An information message: any key skips it; ``*`` switches language and repeats it."""
        while True:
            key = await self._play(agi, call, name, seasonal=seasonal)
            if key != SWITCH_LANGUAGE or not await self._switch_language(agi, call):
                return
            if name in ("for_english", "for_chinese"):
                return  # the hint was taken: no need to offer the way back at once

    async def _menu(self, agi: AgiSession, call: _Call) -> Route:
        """Read the menu until a valid key; after ``menu_attempts`` readings, any operator."""
        pending: str | None = None  # a key pressed during a notice counts as the next choice
        while call.menu["readings"] < self.settings.menu_attempts or pending is not None:
            key = pending
            pending = None
            if key is None:
                call.menu["readings"] += 1
                key = await self._play(agi, call, "menu")
                if key is None:
                    key = await self._wait_digit(agi, call)
            if key is None:
                call.menu["no_input"] += 1
                if call.menu["readings"] < self.settings.menu_attempts:
                    pending = await self._play(agi, call, "menu_no_input")
                continue
            if key == SWITCH_LANGUAGE and await self._switch_language(agi, call):
                call.menu["readings"] -= 1  # the menu again, in the new language, is not a new attempt
                continue
            option = MENU.get(key)
            if option is None:
                call.menu["invalid"] += 1
                if call.menu["readings"] < self.settings.menu_attempts:
                    pending = await self._play(agi, call, "menu_invalid")
                continue
            await self._play(agi, call, option.confirm)
            return option.route
        await self._play(agi, call, "to_operator")
        call.menu["gave_up"] = True
        return ANY_OPERATOR

    # -- AGI -------------------------------------------------------------------------------------

    async def _play(self, agi: AgiSession, call: _Call, name: str, *, seasonal: bool = False) -> str | None:
        """STREAM FILE one prompt with barge-in; the key pressed, or None when it played to the end."""
        entry: dict[str, Any] = {"prompt": name, "language": call.language}
        if seasonal:
            entry["seasonal"] = True
        call.messages.append(entry)
        if not self.available(call.language, name):
            log.warning("ivr.prompt_missing", uniqueid=call.call_id, prompt=name, language=call.language)
            entry["outcome"] = "missing"
            return None
        started = self.monotonic()
        try:
            result = await agi.run(f'STREAM FILE {playable(self.sounds_dir, call.language, name)} "{KEYS}"')
        except AgiHangup:
            # result=-1 is also how Asterisk reports a file it cannot open: ask whether the caller is still there
            entry.update(outcome="failed", seconds=round(self.monotonic() - started, 2))
            await agi.run("CHANNEL STATUS")  # raises AgiHangup when the caller is gone
            log.warning("ivr.prompt_failed", uniqueid=call.call_id, prompt=name, language=call.language)
            return None
        entry["seconds"] = round(self.monotonic() - started, 2)
        key = digit_of(result)
        if key is None:
            entry["outcome"] = "played"
        else:
            entry.update(outcome="skipped", key=key)
            call.keys.append(key)
        return key

    async def _wait_digit(self, agi: AgiSession, call: _Call) -> str | None:
        result = await agi.run(f"WAIT FOR DIGIT {int(self.settings.menu_timeout * 1000)}")
        key = digit_of(result)
        if key is not None:
            call.keys.append(key)
        return key

    async def _switch_language(self, agi: AgiSession, call: _Call) -> bool:
        """Move to the next language; False when switching is not possible (one language, too many switches)."""
        if len(self.languages) < 2 or call.switches >= MAX_SWITCHES:
            return False
        call.switches += 1
        index = self.languages.index(call.language) if call.language in self.languages else -1
        call.language = self.languages[(index + 1) % len(self.languages)]
        await self._set_language(agi, call)
        log.info("ivr.language", uniqueid=call.call_id, language=call.language)
        return True

    async def _set_language(self, agi: AgiSession, call: _Call) -> None:
        await agi.set_variable("CHANNEL(language)", call.language)


def digit_of(result: dict[str, Any]) -> str | None:
    """The key in a STREAM FILE / WAIT FOR DIGIT reply (``result=<ASCII code>``; 0 = none)."""
    value = result.get("result", ("0", ""))[0]
    try:
        code = int(value)
    except ValueError:
        return None
    if code <= 0:
        return None
    key = chr(code) if code < 0x110000 else ""
    return key if key in KEYS else None
