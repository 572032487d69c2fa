"""Prompt texts and their audio: every prompt in both languages, built once, replaced by recordings."""

from __future__ import annotations

import math
import shutil
import struct
import time
import wave
from pathlib import Path

import pytest

from callcenter.ivr.exceptions import PromptError
from callcenter.ivr.flow import MENU
from callcenter.ivr.prompts import PROMPTS_DIR, build_prompts, load_locales, sound_path, wav_seconds

FLOW_PROMPTS = {"greeting", "recording_notice", "menu", "menu_invalid", "menu_no_input", "to_operator"}
FLOW_PROMPTS |= {option.confirm for option in MENU.values()}

needs_tools = pytest.mark.skipif(not (shutil.which("espeak-ng") and shutil.which("sox")), reason="espeak-ng and sox")


def test_both_languages_have_the_same_prompts_and_everything_the_flow_plays():
    locales = load_locales()
    assert set(locales) == {"zh", "en"}
    zh, en = set(locales["zh"].prompts), set(locales["en"].prompts)
    assert zh - {"for_english"} == en - {"for_chinese"}
    assert FLOW_PROMPTS <= zh
    assert "for_english" in zh and "for_chinese" in en


def test_menu_texts_name_every_menu_key():
    locales = load_locales()
    en_menu = locales["en"].prompts["menu"].text
    for key in MENU:
        assert f"press {key}" in en_menu
    zh_digits = {"0": "零", "1": "一", "2": "二", "3": "三", "4": "四", "5": "五"}
    zh_menu = locales["zh"].prompts["menu"].text
    for key in MENU:
        assert f"请按{zh_digits[key]}" in zh_menu


def test_mandarin_texts_spell_numbers_as_spoken():
    for prompt in load_locales()["zh"].prompts.values():
        if prompt.voice.startswith("cmn"):
            assert not any(ch.isdigit() for ch in prompt.text), prompt.name  # "120" would be read 一百二十


@needs_tools
def test_build_makes_8khz_mono_wavs_then_only_what_changed(tmp_path):
    prompts = tmp_path / "prompts"
    shutil.copytree(PROMPTS_DIR, prompts, ignore=shutil.ignore_patterns("recordings"))
    sounds = tmp_path / "sounds"
    first = build_prompts(sounds, prompts)
    assert len(first.built) == sum(len(l.prompts) for l in load_locales(prompts).values())
    with wave.open(str(sound_path(sounds, "zh", "heatstroke")), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
    assert 10 < wav_seconds(sound_path(sounds, "zh", "heatstroke")) < 60

    started = time.monotonic()
    second = build_prompts(sounds, prompts)
    assert second.built == () and second.kept == len(first.built)
    assert time.monotonic() - started < 0.5

    # a hospital's own recording replaces the generated prompt of the same name
    (prompts / "recordings" / "zh").mkdir(parents=True)
    _tone(prompts / "recordings" / "zh" / "greeting.wav", seconds=1.5, rate=44100)
    edited = (prompts / "en.toml").read_text(encoding="utf-8").replace("Connecting you now", "Putting you through")
    (prompts / "en.toml").write_text(edited, encoding="utf-8")
    third = build_prompts(sounds, prompts)
    assert set(third.built) == {"zh/greeting", "en/connecting"}
    assert wav_seconds(sound_path(sounds, "zh", "greeting")) == pytest.approx(1.8, abs=0.05)  # + 0.3 s pad


@needs_tools
def test_prompts_no_longer_named_are_removed(tmp_path):
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    (prompts / "en.toml").write_text('language = "en"\nvoice = "en-us"\n[prompts]\na = "one"\nb = "two"\n')
    sounds = tmp_path / "sounds"
    build_prompts(sounds, prompts)
    (prompts / "en.toml").write_text('language = "en"\nvoice = "en-us"\n[prompts]\na = "one"\n')
    report = build_prompts(sounds, prompts)
    assert report.removed == ("en/b",)
    assert not sound_path(sounds, "en", "b").exists() and sound_path(sounds, "en", "a").exists()


def test_missing_tools_and_bad_texts_are_reported(tmp_path, monkeypatch):
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    (prompts / "en.toml").write_text('language = "en"\nvoice = "en-us"\n[prompts]\na = "one"\n')
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(PromptError) as err:
        build_prompts(tmp_path / "sounds", prompts)
    assert err.value.slug == "ivr.tools_missing" and "espeak-ng" in str(err.value)
    (prompts / "en.toml").write_text('language = "en"\n[prompts]\na = ""\n')
    with pytest.raises(PromptError):
        load_locales(prompts)


def _tone(path: Path, seconds: float, rate: int) -> None:
    frames = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * n / rate))) for n in range(int(seconds * rate)))
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(frames)
