"""Hotline messages made on the web: their texts spoken into prompt audio, then a schedule rule plays them.

The same two paths the hospital's own seasonal messages take: ``prompts.build_prompt`` (espeak-ng
and sox, as ``callcenter prompts build`` does for ``prompts/*.toml``) and ``RuleStore.put`` (what the
schedule page's ``PUT /api/ivr/rules/{name}`` does).  The rule is checked before any audio is made,
and saved only after every language's audio exists, so a call never picks a message it cannot play.
The audio lives in Asterisk's sounds folder, a cache a fresh or rebuilt machine lacks; ``rebuild``
speaks a stored message's texts again where its file is missing (at the controller's start).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import structlog

from callcenter.ivr.exceptions import (
    MessageNotBuilt,
    MessageRefused,
    PromptError,
    ScheduleError,
)
from callcenter.ivr.prompts import Locale, Prompt, build_prompt, sound_path
from callcenter.ivr.rules import RuleStore
from callcenter.ivr.schedule import Rule, parse_rule

log = structlog.get_logger(__name__)


class Messages:
    """Makes hotline messages: audio in every language of the prompt files, and the rule that plays them."""

    def __init__(self, rules: RuleStore, locales: Mapping[str, Locale], sounds: Path | None) -> None:
        self.rules = rules
        self.locales = dict(locales)
        self.sounds = sounds  # Asterisk's sounds folder as this host sees it (None: unknown)

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.locales)

    async def add(self, spec: dict[str, Any], texts: Mapping[str, str]) -> Rule:
        """Build the audio of ``texts`` (language -> text) under the rule's message name, then save the rule."""
        try:
            rule = parse_rule(spec)
        except ScheduleError as err:
            raise MessageRefused(err.slug, str(err), "rule") from None
        taken = [lang for lang, locale in self.locales.items() if rule.message in locale.prompts]
        if taken:
            raise MessageRefused("ivr.message_taken", f"{rule.message!r} is a prompt of the prompt files", "rule")
        missing = [lang for lang in self.locales if not (texts.get(lang) or "").strip()]
        unknown = sorted(set(texts) - set(self.locales))
        if missing or unknown:
            raise MessageRefused("ivr.message_texts", f"texts needed for {', '.join(self.locales)}"
                                 f" (missing: {', '.join(missing) or '-'}; unknown: {', '.join(unknown) or '-'})", "texts")
        if self.sounds is None:
            raise MessageNotBuilt("ivr.sounds_dir_unknown", "set [ivr] sounds_dir to build prompts for your own Asterisk")
        for language, locale in self.locales.items():
            prompt = Prompt(rule.message, texts[language].strip(), locale.voice, locale.speed)
            try:
                await asyncio.to_thread(build_prompt, self.sounds, language, prompt)
            except PromptError as err:
                raise MessageNotBuilt(err.slug, str(err)) from None
        saved = await self.rules.put(rule.to_spec())
        log.info("ivr.message_made", rule=saved.name, message=saved.message, languages=list(self.locales))
        return saved

    async def rebuild(self, name: str, texts: Mapping[str, str]) -> list[str]:
        """Speak again the audio of message ``name`` in each language whose file is missing; the languages rebuilt."""
        if self.sounds is None:
            return []
        rebuilt = []
        for language, locale in self.locales.items():
            text = (texts.get(language) or "").strip()
            if not text or sound_path(self.sounds, language, name).exists():
                continue
            try:
                await asyncio.to_thread(build_prompt, self.sounds, language, Prompt(name, text, locale.voice, locale.speed))
            except PromptError as err:  # the rest still start; the message is silent in this language
                log.error("ivr.message_not_rebuilt", message=name, language=language, error=str(err), slug=err.slug)
                continue
            log.info("ivr.message_rebuilt", message=name, language=language)
            rebuilt.append(language)
        return rebuilt
