"""Settings for the test instance of the embedded Asterisk.

Non-default ports and a separate ``asterisk.instance`` let the test-suite run while a demo
Asterisk (default ports, instance "callcenter") runs from the same cached root.
"""

from __future__ import annotations

import json
from pathlib import Path

from callcenter import settings as cc_settings

TEST_PORTS = {"sip": 5070, "ami": 5039, "agi": 4574, "web": 8089}
TEST_INSTANCE = "callcenter-test"
TEST_AGENTS = ("1001", "1002", "1003", "1004")


def make_test_settings(state_dir: Path, root: str | None = None, **top: object) -> cc_settings.Settings:
    """Settings through the normal loader (TOML file) so secrets are generated as in production."""
    root = root or cc_settings.AsteriskSettings().root
    q = json.dumps  # TOML basic strings accept JSON string escapes
    lines = [
        f"node = {q('pbx-test')}",
        f"state_dir = {q(str(state_dir))}",
        "log_format = \"console\"",
        "[ami]",
        f"port = {TEST_PORTS['ami']}",
        # AGIExecStart (the tests' harness.agi_commands) is an "agi" class event the controller never uses
        'read = "system,call,agent,user,dtmf,agi"',
        'extra_events = ["AGIExecStart"]',
        "[agi]",
        f"port = {TEST_PORTS['agi']}",
        "[web]",
        f"port = {TEST_PORTS['web']}",
        "[ivr]",  # calls go straight to the ACD; tests of the IVR switch it on (tests/e2e/test_ivr.py)
        "enabled = false",
        "[acd]",  # shortened ring cadence: two rings take 2 s instead of 10 s
        "ring_on = 0.2",
        "ring_off = 0.8",
        "wrap_up = 0",  # tests that need wrap-up or the SLA guard set them
        "sla_guard_after = 0",
        "[lists]",  # abandoned calls' callbacks would ring free operators in the middle of other tests
        "auto_callback = false",
        "[asterisk]",
        f"root = {q(root)}",
        f"sip_port = {TEST_PORTS['sip']}",
        f"instance = {q(TEST_INSTANCE)}",
        f"queue_log = {q(f'{root}/var/log/{TEST_INSTANCE}-asterisk/queue_log')}",
    ]
    for n, agent in enumerate(TEST_AGENTS):
        lines += ["[[agents]]", f"id = {q(agent)}", f"name = {q(f'坐席{n + 1:02d}')}"]
    for key, value in top.items():
        lines.insert(0, f"{key} = {json.dumps(value)}")
    path = Path(state_dir) / "callcenter-test.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return cc_settings.load(path, env={})
