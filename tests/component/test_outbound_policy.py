"""Toll fraud: the whole controller app (``create_app``) against a scripted Asterisk (``fake_asterisk``),
driven through the HTTP API as a logged-in user.

The outbound dialling policy refuses emergency, international, satellite and premium numbers and
anything outside the allowed patterns, and a user over the per-minute limit; every refusal is logged
(``outbound.dial_refused`` with the reason) and shown on the supervisors' wallboard; nothing refused
ever reaches Asterisk as an Originate.  With AMI down a callback answers 503 (as documented), not 202.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from fake_asterisk import FakeAsterisk
from harness.env import make_test_settings
from harness.polling import eventually
from structlog.testing import capture_logs

from callcenter import keys
from callcenter.app import create_app
from callcenter.web import keys as web_keys
from callcenter.workorders import keys as wo_keys

PASSWORD = "correct horse battery"
PER_USER = 3
LIMITS = {"operator_per_minute": PER_USER, "global_per_minute": 100}


def promise() -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclasses.dataclass
class Api:
    client: TestClient
    fake: FakeAsterisk
    csrf: str = ""

    @property
    def app(self) -> Any:
        return self.client.server.app

    async def login(self, username: str) -> None:
        form = await (await self.client.get("/login")).text()
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        response = await self.client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token},
                                          allow_redirects=False)
        assert response.status == 302, await response.text()
        self.csrf = (await (await self.client.get("/api/me")).json())["csrf"]

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        response = await self.client.post(path, json=body, headers={"X-CSRF-Token": self.csrf})
        return response.status, await response.json()

    async def ticket(self, uid: str, number: str = "13800138000") -> int:
        tickets = self.app[keys.TICKETS]
        now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
        tid = await tickets.open_for_arrival(uid, number, "家长", "PJSIP/trunk-1", now)
        await tickets.mark_answered(uid, "1001", now + dt.timedelta(seconds=5))
        await tickets.mark_ended(uid, now + dt.timedelta(seconds=60), "caller")
        assert await tickets.flush(5)
        return tid

    def originates(self) -> list[dict[str, str]]:
        return [s.action for s in self.fake.actions("Originate")]


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    fake = FakeAsterisk()
    ami_port = free_port()
    await fake.start(ami_port)
    fake.devices = {"1001": "NOT_INUSE", "1002": "NOT_INUSE"}
    settings = make_test_settings(tmp_path / "state")
    settings = dataclasses.replace(
        settings,
        ami=dataclasses.replace(settings.ami, port=ami_port, ping_interval=0.5, action_timeout=1.0, reconnect_delay=1.0),
        agi=dataclasses.replace(settings.agi, port=free_port()),
        web=dataclasses.replace(settings.web, port=free_port()),
        outbound=dataclasses.replace(settings.outbound, **{k: v for k, v in LIMITS.items() if hasattr(settings.outbound, k)}),
    )
    fake.agi_port = settings.agi.port
    app = create_app(settings)
    async with TestClient(TestServer(app)) as client:
        accounts = app[web_keys.ACCOUNTS]
        await accounts.create("boss", PASSWORD, "supervisor", display_name="Boss")
        await accounts.create("boss2", PASSWORD, "supervisor", display_name="Boss 2")
        ami = app[keys.AMI]
        await eventually(lambda: getattr(ami, "responsive", ami.connected) and app[keys.ADAPTER].link["up"], 5,
                         message="AMI up and resynced")
        yield Api(client, fake)
    await fake.close()


REFUSED = [
    ("00900123456789", "outbound.international"),  # international premium
    ("+882 16 1234 5678", "outbound.international"),  # satellite
    ("+881612345678", "outbound.international"),
    ("110", "outbound.emergency"),
    ("120", "outbound.emergency"),
    ("112", "outbound.emergency"),
    ("90012345", "outbound.refused"),  # 900-style premium
    ("021-12345678", "outbound.not_allowed"),  # not the hospital's area
    ("10086", "outbound.not_allowed"),
]


async def test_refused_numbers_never_reach_asterisk_and_supervisors_see_them(api):
    await api.login("boss")
    tid = await api.ticket("1741568400.1")
    with capture_logs() as logs:
        for number, slug in REFUSED:
            status, body = await api.post(f"/api/tickets/{tid}/callback", {"agent_id": "1001", "number": number})
            assert (status, body.get("error")) == (400, slug), (number, body)
            assert body["problems"][0]["field"] == "number"
    assert api.originates() == []  # not one of them was dialled
    refused = [e for e in logs if e["event"] == "outbound.dial_refused"]
    assert [(e["number"], e["reason"], e["by"], e["kind"]) for e in refused] == [
        (number, slug.removeprefix("outbound."), "boss", "callback") for number, slug in REFUSED
    ]
    assert all(e["log_level"] == "warning" and e["ticket_id"] == tid for e in refused)

    # shown to supervisors: the wallboard's alerts, newest first, the rest counted
    board = await (await api.client.get("/api/supervisor/wallboard")).json()
    alerts = [a for a in board["alerts"] if a["kind"].startswith("dial_refused")]
    assert [a.get("number") for a in alerts if a["kind"] == "dial_refused"] == [n for n, _ in REFUSED][::-1][:5]
    assert alerts[0]["reason"] == "not_allowed" and alerts[0]["by"] == "boss" and alerts[0]["ticket_id"] == tid
    assert {"kind": "dial_refused_more", "count": len(REFUSED) - 5} in alerts
    assert len(api.app[wo_keys.OUTBOUND].refusals) == len(REFUSED)


async def test_allowed_numbers_are_dialled_through_the_trunk_and_internal_endpoints_directly(api):
    await api.login("boss")
    tid = await api.ticket("1741568400.2")
    outbound = api.app[wo_keys.OUTBOUND]
    assert outbound.external("+86 10 6402-8401") == "PJSIP/64028401"
    assert outbound.external("013812345678") == "PJSIP/13812345678"
    assert outbound.external("2005") == "PJSIP/2005"  # a caller endpoint of this Asterisk
    status, body = await api.post(f"/api/tickets/{tid}/callback", {"agent_id": "1001", "number": "+86 138 1234 5678"})
    assert status == 202, body
    await eventually(lambda: api.originates(), 5, message="the operator's phone rung")
    assert api.originates()[0]["channel"] == "PJSIP/1001"


async def test_a_user_over_the_rate_limit_is_refused_and_others_are_not(api):
    await api.login("boss")
    tid = await api.ticket("1741568400.3")
    with capture_logs() as logs:
        for n in range(PER_USER):
            status, body = await api.post(f"/api/tickets/{tid}/callback", {"agent_id": "1001", "number": f"1381234567{n}"})
            assert status == 202, body
        status, body = await api.post(f"/api/tickets/{tid}/callback", {"agent_id": "1001", "number": "13812345679"})
        assert (status, body["error"]) == (400, "outbound.rate_operator")
    assert [e["reason"] for e in logs if e["event"] == "outbound.dial_refused"] == ["rate_operator"]
    await eventually(lambda: len(api.originates()) == PER_USER, 5, message="the allowed callbacks rung")

    await api.client.post("/logout", headers={"X-CSRF-Token": api.csrf})
    await api.login("boss2")  # another user has a minute of their own
    status, body = await api.post(f"/api/tickets/{tid}/callback", {"agent_id": "1002", "number": "13812345679"})
    assert status == 202, body


async def test_an_escalation_skips_a_refused_number_and_refuses_when_none_is_left(api):
    await api.login("boss")
    tid = await api.ticket("1741568400.4")
    directory = api.app[wo_keys.DIRECTORY]
    bad = await directory.save_department({"name": "急诊", "office_phone": "120"})
    status, body = await api.post(f"/api/tickets/{tid}/escalate", {"department_id": bad["id"], "promised_reply_at": promise()})
    assert (status, body["error"]) == (400, "outbound.emergency")
    assert api.originates() == []
    mixed = await directory.save_department({"name": "呼吸科", "office_phone": "00882123456"})
    await directory.save_specialist({"name": "王医生", "mobile": "13912345678", "rank": 1}, department_id=mixed["id"])
    with capture_logs() as logs:
        status, body = await api.post(f"/api/tickets/{tid}/escalate", {"department_id": mixed["id"], "promised_reply_at": promise()})
        assert status == 202, body
        await eventually(lambda: api.originates(), 5, message="the specialist's mobile rung")
    assert [o["channel"] for o in api.originates()] == ["PJSIP/13912345678"]
    assert [(e["number"], e["reason"]) for e in logs if e["event"] == "outbound.dial_refused"] == [("00882123456", "international")]


async def test_a_list_call_to_a_refused_number_is_not_dialled(api):
    outbound = api.app[wo_keys.OUTBOUND]
    with capture_logs() as logs, pytest.raises(Exception) as err:
        outbound.admit("+882 1234", by="lists", kind="reminder", task_id=7)
    assert err.value.reason == "international"
    assert [(e["by"], e["kind"], e["task_id"]) for e in logs if e["event"] == "outbound.dial_refused"] == [("lists", "reminder", 7)]


async def test_with_ami_down_a_callback_answers_503_not_202(api):
    await api.login("boss")
    tid = await api.ticket("1741568400.5")
    api.fake.accepting = False
    api.fake.drop()
    ami = api.app[keys.AMI]
    await eventually(lambda: not getattr(ami, "responsive", ami.connected), 5, message="AMI gone")
    status, body = await api.post(f"/api/tickets/{tid}/callback", {"agent_id": "1001", "number": "13812345678"})
    assert (status, body["error"]) == (503, "ami.down"), body
    dep = await api.app[wo_keys.DIRECTORY].save_department({"name": "检验科", "office_phone": "64028401"})
    status, body = await api.post(f"/api/tickets/{tid}/escalate", {"department_id": dep["id"], "promised_reply_at": promise()})
    assert (status, body["error"]) == (503, "ami.down"), body
    assert api.originates() == []
