"""No controller listening: the hotline's AGI fails and the dialplan falls back to app_queue.

The caller must still reach an operator through the fallback queue, and app_queue must record
the call in queue_log (ENTERQUEUE, then CONNECT) for the controller to turn into a ticket later.
"""

from __future__ import annotations

import socket

import pytest

from harness import eventually, read_queue_log

pytestmark = pytest.mark.e2e


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((host, port)) != 0


async def test_call_reaches_agent_through_fallback_queue(asterisk, phone_factory):
    assert _port_free(asterisk.agi.host, asterisk.agi.port), "a FastAGI server is listening: not a fallback test"
    queue_log = asterisk.queue_log_path
    offset = queue_log.stat().st_size if queue_log.exists() else 0

    agent = await phone_factory("1001", answer="auto")
    caller = await phone_factory("2001", answer="manual")

    await caller.dial(asterisk.asterisk.hotline_number)
    await agent.wait_event("CALL_INCOMING", timeout=10)
    await agent.wait_event("CALL_ESTABLISHED", timeout=5)
    await caller.wait_event("CALL_ESTABLISHED", timeout=5)

    await caller.hangup()
    await agent.wait_event("CALL_CLOSED", timeout=5)
    await caller.wait_event("CALL_CLOSED", timeout=5)

    queue = asterisk.asterisk.fallback_queue

    def connected_call():
        entries = read_queue_log(queue_log, offset)
        entered = {e.callid for e in entries if e.event == "ENTERQUEUE" and e.queue == queue}
        return [e for e in entries if e.event == "CONNECT" and e.callid in entered]

    connects = await eventually(connected_call, timeout=5, message="ENTERQUEUE and CONNECT in queue_log")
    assert len(connects) == 1
    assert connects[0].agent.endswith("1001")
    # The call's end is logged too once both sides hung up.
    callid = connects[0].callid
    await eventually(
        lambda: any(
            e.callid == callid and e.event in ("COMPLETECALLER", "COMPLETEAGENT")
            for e in read_queue_log(queue_log, offset)
        ),
        timeout=5,
        message="COMPLETECALLER/COMPLETEAGENT in queue_log",
    )
