"""Hotline messages made on the web survive a rebuilt Asterisk root: their audio is spoken again at start.

Asterisk's sounds folder is a cache (a fresh machine or a rebuilt root has none of the web's
messages, and ``callcenter prompts build`` builds only prompts/*.toml).  A message is made through
the API, its files are deleted, the controller starts again on the same database: the files are
back (espeak-ng and sox, really run), the log says which, and the IVR's rules still pick it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import wave
from pathlib import Path

import structlog
from aiohttp.test_utils import TestClient, TestServer
from webtools import PASSWORD, component_settings, login

from callcenter import keys
from callcenter.app import create_app
from callcenter.ivr.prompts import sound_path
from callcenter.ivr.schedule import select
from callcenter.kb import keys as kb_keys
from callcenter.settings import Settings
from callcenter.web import keys as web_keys


def settings_of(tmp_path: Path) -> Settings:
    base = component_settings(tmp_path)
    return dataclasses.replace(base, ivr=dataclasses.replace(base.ivr, enabled=True,
                                                             sounds_dir=str(tmp_path / "sounds")))


async def test_a_message_s_deleted_audio_is_rebuilt_when_the_controller_starts(tmp_path):
    settings = settings_of(tmp_path)
    today = dt.datetime.now(settings.hospital.zone).date()
    app = create_app(settings)
    async with TestClient(TestServer(app)) as client:
        await app[web_keys.ACCOUNTS].create("boss", PASSWORD, "supervisor", display_name="BOSS")
        entry = await app[kb_keys.KB].create({"question": "报告在哪里取？", "answer": "门诊一楼自助机。",
                                              "category": "reports"}, "boss")
        headers = {"X-CSRF-Token": await login(client, "boss")}
        body = {"entry_id": entry["id"], "texts": {"zh": "检验报告请到门诊一楼自助机打印。",
                                                    "en": "Print your lab reports at the ground-floor kiosks."},
                "first_day": today.isoformat(), "last_day": (today + dt.timedelta(days=7)).isoformat()}
        made = await client.post("/api/prevention/messages", json=body, headers=headers)
        assert made.status == 201, await made.text()
        name = (await made.json())["rule"]
        ended = {**body, "first_day": (today - dt.timedelta(days=9)).isoformat(),
                 "last_day": (today - dt.timedelta(days=2)).isoformat()}
        made = await client.post("/api/prevention/messages", json=ended, headers=headers)
        assert made.status == 201, await made.text()
        old = (await made.json())["rule"]
    sounds = settings.sounds_path
    files = [sound_path(sounds, language, n) for n in (name, old) for language in ("zh", "en")]
    assert all(f.exists() for f in files)
    for f in files:
        f.unlink()  # a rebuilt Asterisk root

    app = create_app(settings)
    with structlog.testing.capture_logs() as logs:
        async with TestClient(TestServer(app)):
            for language in ("zh", "en"):
                with wave.open(str(sound_path(sounds, language, name)), "rb") as audio:
                    assert audio.getframerate() == 8000 and audio.getnframes() / 8000 > 1.0
                assert not sound_path(sounds, language, old).exists()  # ended: no call can play it
            # The IVR's own rule evaluation picks it today at noon, and its file is there.
            rules = await app[keys.IVR].rules.reload()
            noon = dt.datetime.combine(today, dt.time(12), settings.hospital.zone)
            assert name in [r.message for r in select(rules, noon)]
    rebuilt = [(e["message"], e["language"]) for e in logs if e["event"] == "ivr.message_rebuilt"]
    assert sorted(rebuilt) == [(name, "en"), (name, "zh")]  # one line per prompt rebuilt

    # A third start with the files in place rebuilds nothing.
    app = create_app(settings)
    with structlog.testing.capture_logs() as logs:
        async with TestClient(TestServer(app)):
            pass
    assert not [e for e in logs if e["event"] == "ivr.message_rebuilt"]
