"""The controller's AMI account (embedded manager.conf) has only the classes it uses.

Tables below say, from Asterisk 22's sources, which class carries each event the controller listens
to and which write classes let each action it sends through (manager.c: an action needs any one of
its classes).  Every action the controller's code sends must be in the table, so a new one cannot
slip in without deciding its class.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from callcenter.asterisk.config import AMI_EVENT_PREFIXES, AMI_EVENTS, render_config
from callcenter.settings import Settings

EVENT_CLASS = {
    "FullyBooted": "system", "Shutdown": "system", "Reload": "system",
    "Newchannel": "call", "Newstate": "call", "Hangup": "call",
    "SoftHangupRequest": "call", "HangupRequest": "call", "NewCallerid": "call", "NewConnectedLine": "call",
    "Rename": "call", "DialBegin": "call", "DialEnd": "call", "DialState": "call", "OriginateResponse": "call",
    "UserEvent": "user", "DTMFEnd": "dtmf", "DeviceStateChange": "call", "ContactStatus": "system",
    "PeerStatus": "system", "BridgeCreate": "call", "BridgeDestroy": "call", "BridgeEnter": "call",
    "BridgeLeave": "call", "LocalBridge": "call", "Hold": "call", "Unhold": "call", "MusicOnHoldStart": "call",
    "MusicOnHoldStop": "call", "MixMonitorStart": "call", "MixMonitorStop": "call",
    "Queue": "agent", "Agent": "agent",  # prefixes: QueueCallerJoin, QueueMemberStatus, AgentCalled, ...
}
ACTION_CLASSES = {  # any one of these suffices
    "Originate": {"originate"},
    "Hangup": {"system", "call"},
    "MixMonitorMute": {"system", "call"},
    "ControlPlayback": {"call"},  # app_controlplayback.c registers it with EVENT_FLAG_CALL
    "Setvar": {"call"},  # manager.c: EVENT_FLAG_CALL (a supervision mode switch, then Redirect)
    "Redirect": {"call"},  # manager.c: EVENT_FLAG_CALL
    "CoreShowChannels": {"system", "reporting"},
    "CoreStatus": {"system", "reporting"},
    "DeviceStateList": {"call", "reporting"},
    "Ping": set(),  # no class needed
}
DANGEROUS = {"all", "system", "command", "config", "agi"}  # shell via Originate System(), CLI, files, AGI
REPO = Path(__file__).resolve().parents[2]


def account(settings: Settings) -> dict[str, str]:
    conf = render_config(settings)["manager.conf"]
    section = conf.split(f"[{settings.ami.username}]", 1)[1]
    return {k.strip(): v.strip() for k, _, v in (line.partition("=") for line in section.splitlines())
            if k.strip() in ("read", "write")}


def test_the_account_has_only_the_classes_it_uses():
    classes = account(Settings())
    read, write = set(classes["read"].split(",")), set(classes["write"].split(","))
    assert read == {"system", "call", "agent", "user", "dtmf"}
    assert write == {"originate", "call", "reporting"}
    assert not write & DANGEROUS


def test_every_event_listened_to_is_readable():
    read = set(account(Settings())["read"].split(","))
    for name in (*AMI_EVENTS, *AMI_EVENT_PREFIXES):
        assert EVENT_CLASS[name] in read, name


def test_every_action_the_controller_sends_is_writable():
    write = set(account(Settings())["write"].split(","))
    sent = set()
    for path in (REPO / "callcenter").rglob("*.py"):
        sent |= set(re.findall(r'"Action":\s*"(\w+)"', path.read_text(encoding="utf-8")))
    sent.discard("Command")  # AmiClient.command(): a helper the controller never calls (its account may not)
    assert sent <= set(ACTION_CLASSES), f"decide the class of {sent - set(ACTION_CLASSES)}"
    for action in sent:
        needs = ACTION_CLASSES[action]
        assert not needs or needs & write, action


@pytest.mark.parametrize("line", ["read = all", "write = all"])
def test_no_class_is_all(line):
    assert line not in render_config(Settings())["manager.conf"]


def test_the_example_for_an_own_asterisk_says_the_same():
    text = (REPO / "asterisk.conf.example").read_text(encoding="utf-8")
    assert "read = system,call,agent,user,dtmf" in text and "write = originate,call,reporting" in text
    assert "write = all" not in text and "read = all" not in text
