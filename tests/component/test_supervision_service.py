"""The supervision service against a fake AMI: what it sends Asterisk, what it tells the desk and the ticket."""

from __future__ import annotations

import asyncio
import dataclasses
from types import SimpleNamespace
from typing import Any

import pytest

from callcenter.settings import Settings, SupervisionSettings
from callcenter.web.exceptions import WebError
from callcenter.web.supervision import SupervisionService


class FakeAmi:
    def __init__(self) -> None:
        self.handlers: dict[str, list] = {}
        self.sent: list[dict[str, Any]] = []
        self.answer = asyncio.get_running_loop().create_future()  # the Originate's final reply

    def on(self, name: str, handler) -> None:
        self.handlers.setdefault(name, []).append(handler)

    def emit(self, name: str, **headers: str) -> None:
        for handler in self.handlers.get(name, []):
            handler({"Event": name, **headers})

    async def action(self, action: dict[str, Any], **_: Any) -> Any:
        self.sent.append(action)
        if action["Action"] == "Originate":
            return [{"Response": "Success"}, await self.answer]
        return {"Response": "Success"}


class FakeWork:
    def __init__(self) -> None:
        self.contacts: dict[int, dict[str, Any]] = {}

    async def record_contact(self, ticket_id: int, kind: str, **values: Any) -> int:
        self.contacts[len(self.contacts) + 1] = {"ticket_id": ticket_id, "kind": kind, **values}
        return len(self.contacts)

    async def update_contact(self, contact_id: int, **values: Any) -> None:
        self.contacts[contact_id].update(values)


async def service(show_operator: bool = True):
    ami = FakeAmi()
    agent = SimpleNamespace(state="on_call", call_id="1700.1")
    adapter = SimpleNamespace(ami=ami, skills={"1001": frozenset(), "1002": frozenset()},
                              acd=SimpleNamespace(agents={"1001": agent}))
    tickets = SimpleNamespace(get=lambda call_id: _ticket(call_id))
    pushed: list[tuple[str, dict]] = []
    work = FakeWork()
    settings = dataclasses.replace(Settings(), supervision=SupervisionSettings(show_operator=show_operator))
    svc = SupervisionService(settings, adapter, tickets, lambda a, m: pushed.append((a, m)), work=work)
    return svc, ami, agent, pushed, work


async def _ticket(call_id: str):
    return SimpleNamespace(id=7, details={})


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_session_rings_the_supervisors_phone_into_chanspy_and_a_dropped_leg_ends_only_the_session():
    svc, ami, agent, pushed, work = await service()
    session = await svc.start(username="boss", role="supervisor", phone="3001", agent_id="1001", mode="whisper")
    await settle()
    originate = ami.sent[0]
    assert originate["Channel"] == "PJSIP/3001" and originate["Context"] == "hotline-supervisor"
    assert originate["ChannelId"] == f"spy-{session.id}"
    assert originate["Variable"] == "HOTLINE_SPY_TARGET=PJSIP/1001-,HOTLINE_SPY_OPTS=qESw"
    ami.emit("Newchannel", Uniqueid=f"spy-{session.id}", Channel="PJSIP/3001-0000000a")
    ami.answer.set_result({"Event": "OriginateResponse", "Response": "Success"})
    await settle()
    assert session.answered_at is not None and pushed == [("1001", {"type": "supervision", "active": True})]
    assert work.contacts[1]["kind"] == "supervision" and work.contacts[1]["outcome"] == "on_line"

    # Busy phone: a second session from the same phone is refused.
    with pytest.raises(WebError) as refused:
        await svc.start(username="boss", role="supervisor", phone="3001", agent_id="1001", mode="listen")
    assert refused.value.slug == "supervision.phone_busy"

    # The supervisor's phone hangs up: the session ends; the operator's call is not touched.
    ami.emit("Hangup", Uniqueid=f"spy-{session.id}", Channel="PJSIP/3001-0000000a")
    await settle()
    assert session.end_reason == "hung_up" and not svc.active()
    assert (agent.state, agent.call_id) == ("on_call", "1700.1")
    assert [a["Action"] for a in ami.sent] == ["Originate"]  # nothing sent to the operator's channel
    assert pushed[-1] == ("1001", {"type": "supervision", "active": False})
    assert work.contacts[1]["outcome"] == "hung_up" and len(work.contacts) == 1


async def test_a_mode_switch_sets_the_options_and_redirects_the_phones_channel_back_into_chanspy():
    svc, ami, _, _, work = await service()
    session = await svc.start(username="boss", role="supervisor", phone="3001", agent_id="1001", mode="listen")
    with pytest.raises(WebError) as early:
        await svc.switch(session.id, "barge", username="boss")
    assert early.value.slug == "supervision.not_answered"
    ami.emit("Newchannel", Uniqueid=f"spy-{session.id}", Channel="PJSIP/3001-0000000b")
    ami.answer.set_result({"Response": "Success"})
    await settle()
    await svc.switch(session.id, "barge", username="boss2")
    assert ami.sent[1:] == [
        {"Action": "Setvar", "Channel": "PJSIP/3001-0000000b", "Variable": "HOTLINE_SPY_OPTS", "Value": "qESB"},
        {"Action": "Redirect", "Channel": "PJSIP/3001-0000000b", "Context": "hotline-supervisor", "Exten": "s",
         "Priority": "2"},
    ]
    await svc.end(session.id, username="boss")
    assert ami.sent[-1] == {"Action": "Hangup", "Channel": "PJSIP/3001-0000000b"}
    contact = work.contacts[1]
    assert contact["text"] == "listen → barge" and contact["outcome"] == "ended"
    assert [(m["mode"], m["by"]) for m in contact["details"]["modes"]] == [("listen", "boss"), ("barge", "boss2")]
    with pytest.raises(WebError) as over:
        await svc.end(session.id, username="boss")
    assert over.value.slug == "supervision.no_session"


async def test_with_show_operator_off_the_desk_is_not_told():
    svc, ami, _, pushed, _ = await service(show_operator=False)
    session = await svc.start(username="boss", role="supervisor", phone="3001", agent_id="1001", mode="listen")
    ami.answer.set_result({"Response": "Success"})
    await settle()
    await svc.end(session.id, username="boss")
    assert session.answered_at is not None and pushed == []


@pytest.mark.parametrize(("kwargs", "slug", "status"), [
    ({"role": "operator", "phone": "1001", "agent_id": "1001"}, "supervision.forbidden", 403),
    ({"phone": None}, "supervision.no_phone", 409),
    ({"agent_id": "1002"}, "supervision.not_on_call", 409),
    ({"agent_id": "9999"}, "supervision.unknown_operator", 404),
])
async def test_refusals_send_nothing_to_asterisk(kwargs, slug, status):
    svc, ami, _, _, work = await service()
    args = {"username": "u", "role": "supervisor", "phone": "3001", "agent_id": "1001", "mode": "listen", **kwargs}
    with pytest.raises(WebError) as refused:
        await svc.start(**args)
    assert (refused.value.slug, refused.value.status) == (slug, status)
    assert ami.sent == [] and work.contacts == {}
