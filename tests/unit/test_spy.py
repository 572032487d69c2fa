"""The pure listen/whisper/barge decision: who may spy on whom, with which ChanSpy options."""

from __future__ import annotations

import dataclasses

import pytest

from callcenter.web.spy import Facts, Refusal, Spy, decide

READY = Facts(role="supervisor", username="boss", phone="3001", phones=("3001", "3002"), agent_id="1001",
              known_agent=True, agent_state="on_call", call_id="1700000000.1")


@pytest.mark.parametrize(("mode", "opts"), [("listen", "qES"), ("whisper", "qESw"), ("barge", "qESB")])
def test_a_supervisor_with_a_phone_spies_on_an_operator_on_a_call(mode, opts):
    assert decide(READY, mode) == Spy("3001", "1001", "1700000000.1", mode, "PJSIP/1001-", opts)


def test_an_admin_may_too():
    assert isinstance(decide(dataclasses.replace(READY, role="admin"), "listen"), Spy)


@pytest.mark.parametrize(("change", "mode", "slug", "status"), [
    ({"role": "operator"}, "listen", "supervision.forbidden", 403),
    ({"role": "specialist"}, "listen", "supervision.forbidden", 403),
    ({}, "shout", "supervision.bad_mode", 400),
    ({"known_agent": False}, "listen", "supervision.unknown_operator", 404),
    ({"phone": None}, "listen", "supervision.no_phone", 409),
    ({"phone": "1002"}, "listen", "supervision.no_phone", 409),  # an operator's phone is not a supervisor's
    ({"phone": "3001", "agent_id": "3001"}, "listen", "supervision.own_call", 409),
    ({"agent_state": "available", "call_id": None}, "listen", "supervision.not_on_call", 409),
    ({"agent_state": "ringing"}, "listen", "supervision.not_on_call", 409),
    ({"agent_state": None, "call_id": None}, "barge", "supervision.not_on_call", 409),
    ({"phone_busy": True}, "whisper", "supervision.phone_busy", 409),
])
def test_refusals_name_the_reason(change, mode, slug, status):
    answer = decide(dataclasses.replace(READY, **change), mode)
    assert isinstance(answer, Refusal)
    assert (answer.slug, answer.status) == (slug, status)
    assert answer.message


def test_an_operator_is_refused_before_anything_else_is_looked_at():
    facts = dataclasses.replace(READY, role="operator", known_agent=False, phone=None, agent_state=None)
    assert decide(facts, "bad").slug == "supervision.forbidden"
