"""Settings: TOML plus environment, clear errors for broken config, secrets kept outside the repo."""

import json
import os
import subprocess
import sys
from zoneinfo import ZoneInfo

import pytest

from callcenter.exceptions import ConfigError
from callcenter.settings import load


def test_defaults_run_the_embedded_demo(tmp_path):
    s = load(env={"CALLCENTER_STATE_DIR": str(tmp_path)})
    assert s.asterisk.mode == "embedded"
    assert s.ami.host == s.agi.host == s.web.host == "127.0.0.1"
    assert len(s.agents) == 10
    assert s.acd.ring_timeout == 10.0
    assert s.database_url == f"sqlite+aiosqlite:///{tmp_path / 'callcenter.db'}"


def test_environment_overrides_file(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('node = "a"\n[ami]\nport = 5038\n[acd]\nring_on = 0.5\n')
    s = load(cfg, env={"CALLCENTER_STATE_DIR": str(tmp_path), "CALLCENTER_NODE": "b", "CALLCENTER_AMI__PORT": "6000"})
    assert (s.node, s.ami.port, s.acd.ring_on) == ("b", 6000, 0.5)


def test_secrets_are_generated_once_and_reused(tmp_path):
    env = {"CALLCENTER_STATE_DIR": str(tmp_path)}
    first, second = load(env=env), load(env=env)
    assert first.ami.secret and first.ami.secret == second.ami.secret
    assert first.agents[0].sip_password == second.agents[0].sip_password
    assert (tmp_path / "secrets.toml").stat().st_mode & 0o077 == 0
    assert load(env={**env, "CALLCENTER_AMI__SECRET": "from-env"}).ami.secret == "from-env"


@pytest.mark.parametrize(
    ("text", "slug", "words"),
    [
        ("[ami\nport=1", "config.syntax", "c.toml"),
        ("[ami]\nprot = 1\n", "config.unknown_key", "prot"),
        ("[ami]\nport = 'many'\n", "config.type", "ami.port"),
        ("[asterisk]\nmode = 'cloud'\n", "config.value", "asterisk.mode"),
        ("[acd]\nrings = 0\n", "config.value", "rings"),
        ("[[agents]]\nid='1'\n[[agents]]\nid='1'\n", "config.value", "unique"),
        ("[[agents]]\nid='10 01'\n", "config.value", "letters and digits"),
        ("agents = 3\n", "config.type", "agents"),
        ("[lists]\nwindows = ['09:30-11:30', '9-11']\n", "config.value", "lists.windows: '9-11' is not a time window"),
        ('[web]\ntimezone = "Europe/Paris"\n[ivr]\ntimezone = "Asia/Shanghai"\n', "config.value",
         "web.timezone = 'Europe/Paris', ivr.timezone = 'Asia/Shanghai': these must agree; set hospital.timezone alone"),
        ('[hospital]\ntimezone = "Asia/Shanghai"\n[workorders]\ntimezone = "UTC"\n', "config.value",
         "hospital.timezone = 'Asia/Shanghai', workorders.timezone = 'UTC'"),
        ('[hospital]\ntimezone = "Mars/Olympus"\n', "config.value", "hospital.timezone: unknown time zone 'Mars/Olympus'"),
        ('[ivr]\ntimezone = "Mars/Olympus"\n', "config.value", "hospital.timezone: unknown time zone 'Mars/Olympus'"),
        ('hospital = "Asia/Shanghai"\n[web]\ntimezone = "UTC"\n', "config.type", "[hospital] must be a table"),
        ('notes = ["x"]\n', "config.unknown_key", "notes"),
        ('[ha]\nenabled = true\nname = "a"\n', "config.value", "ha.enabled needs a PostgreSQL database"),
        ('[database]\nurl = "postgresql+asyncpg://u@db/cc"\n[ha]\nenabled = true\nname = "A B"\n', "config.value",
         "ha.name: 'A B' must be 1-16 of a-z, 0-9"),
        ('[database]\nurl = "postgresql+asyncpg://u@db/cc"\n[ha]\nenabled = true\nname = "a"\npeer_agi = "b"\n',
         "config.value", "ha.peer_agi: 'b' must be host:port"),
        ('[database]\nurl = "postgresql+asyncpg://u@db/cc"\n[ha]\nenabled = true\nname = "a"\nlease = 0.1\n',
         "config.value", "0 < check_interval < lease"),
        ('[database]\nurl = "postgresql+asyncpg://u@db/cc"\n[ha]\nenabled = true\nname = "a"\nlock_key = 9223372036854775808\n',
         "config.value", "ha.lock_key must fit"),
    ],
)
def test_broken_config_says_what_is_wrong(tmp_path, text, slug, words):
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError) as err:
        load(cfg, env={"CALLCENTER_STATE_DIR": str(tmp_path)})
    assert err.value.slug == slug
    assert words in str(err.value)


def test_outbound_windows_may_cross_midnight_or_last_the_whole_day(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[lists]\nwindows = ["21:00-07:00"]\ncallback_windows = ["08:00-08:00"]\n')
    s = load(cfg, env={"CALLCENTER_STATE_DIR": str(tmp_path)})
    assert (s.lists.windows, s.lists.callback_windows) == (("21:00-07:00",), ("08:00-08:00",))


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load(tmp_path / "nope.toml")


def test_one_hospital_time_zone(tmp_path):
    env = {"CALLCENTER_STATE_DIR": str(tmp_path)}
    s = load(env=env)
    assert s.hospital.timezone == "Asia/Shanghai" and s.hospital.zone == ZoneInfo("Asia/Shanghai") and s.notes == ()
    cfg = tmp_path / "c.toml"
    cfg.write_text('[hospital]\ntimezone = "Europe/Paris"\n')
    assert load(cfg, env=env).hospital.zone == ZoneInfo("Europe/Paris")
    assert load(env={**env, "CALLCENTER_HOSPITAL__TIMEZONE": "Asia/Urumqi"}).hospital.timezone == "Asia/Urumqi"


@pytest.mark.parametrize(
    ("text", "env", "old"),
    [
        ('[web]\ntimezone = "Europe/Paris"\n', {}, ["web.timezone"]),
        ('[ivr]\ntimezone = "Europe/Paris"\n', {}, ["ivr.timezone"]),
        ('[workorders]\ntimezone = "Europe/Paris"\n', {}, ["workorders.timezone"]),
        ('[web]\ntimezone = "Europe/Paris"\n[ivr]\ntimezone = "Europe/Paris"\n[workorders]\ntimezone = "Europe/Paris"\n', {},
         ["web.timezone", "ivr.timezone", "workorders.timezone"]),
        ('[hospital]\ntimezone = "Europe/Paris"\n[ivr]\ntimezone = "Europe/Paris"\n', {}, ["ivr.timezone"]),
        ("", {"CALLCENTER_WEB__TIMEZONE": "Europe/Paris"}, ["web.timezone"]),
    ],
)
def test_the_old_time_zone_keys_are_still_read_with_a_note(tmp_path, text, env, old):
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    s = load(cfg, env={"CALLCENTER_STATE_DIR": str(tmp_path), **env})
    assert s.hospital.timezone == "Europe/Paris"
    assert [note.split(" ")[0] for note in s.notes] == old
    assert all("deprecated: use hospital.timezone" in note for note in s.notes)


def test_the_command_line_warns_about_an_old_key_once_logging_is_set_up(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'state_dir = "{tmp_path}"\nlog_format = "json"\n[ivr]\ntimezone = "Asia/Shanghai"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
    done = subprocess.run([sys.executable, "-m", "callcenter", "migrate", "--config", str(cfg)], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    warnings = [json.loads(line) for line in done.stderr.splitlines() if "config.deprecated_key" in line]
    assert [(w["level"], w["detail"].split(" ")[0]) for w in warnings] == [("warning", "ivr.timezone")]
