"""GET /metrics (issue 16, operations): the Prometheus scrape of the whole controller, over real sockets.

- From loopback the scrape needs no login and carries every family (``FAMILIES``).
- After calls through a scripted Asterisk (``FakeAsterisk``: AMI and FastAGI on real sockets), the
  counters moved by exactly what happened: offers, answers, answers within the two-ring window (one
  answered in time, one answered after the window), ticket writes by kind, one AMI reconnect; the
  gauges say what is true now (a caller waiting, an operator ringing).
- From another address (the machine's own non-loopback address: the socket's peer is not loopback)
  nothing presented is 401, a wrong token 403, the right token 200; a supervisor's session 200, an
  operator's 403.  A loopback request that names a proxy (``X-Forwarded-For``) is not local.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from component.fake_asterisk import FakeAsterisk
from harness.env import make_test_settings
from harness.polling import eventually
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families

from callcenter import keys
from callcenter.acd import AgentState
from callcenter.app import create_app
from callcenter.web import keys as web_keys
from webtools import PASSWORD, free_port, login

TOKEN = "metrics-token-for-the-tests-0123456789"
OPENMETRICS_ACCEPT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
                      "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")  # what Prometheus 2.x sends
FAMILIES = {  # family -> type
    "callcenter_calls_waiting": "gauge",
    "callcenter_longest_wait_seconds": "gauge",
    "callcenter_operators": "gauge",
    "callcenter_offers": "counter",
    "callcenter_answers": "counter",
    "callcenter_answers_within_two_rings": "counter",
    "callcenter_ticket_writes": "counter",
    "callcenter_ticket_writes_rejected": "counter",
    "callcenter_ticket_write_seconds": "histogram",
    "callcenter_ticket_writes_pending": "gauge",
    "callcenter_ami_reconnects": "counter",
    "callcenter_ami_up": "gauge",
    "callcenter_leader": "gauge",
    "callcenter_event_loop_lag_seconds": "histogram",
}


def lan_address() -> str | None:
    """This machine's own address on a non-loopback interface (None: it has none)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: only the route is looked up
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if ipaddress.ip_address(address).is_loopback or address == "0.0.0.0" else address


@pytest.fixture
async def controller(tmp_path: Path) -> AsyncIterator[tuple[TestClient, FakeAsterisk]]:
    """The whole app on all interfaces, AMI and FastAGI against a FakeAsterisk; operator 1001's phone registered."""
    fake = FakeAsterisk()
    fake.devices = {"1001": "NOT_INUSE"}
    ami_port = free_port()
    await fake.start(ami_port)
    settings = make_test_settings(tmp_path / "state")
    settings = dataclasses.replace(
        settings,
        ami=dataclasses.replace(settings.ami, port=ami_port, ping_interval=0.5, action_timeout=1.0, reconnect_delay=1.0),
        agi=dataclasses.replace(settings.agi, port=free_port()),
        web=dataclasses.replace(settings.web, metrics_token=TOKEN),
        acd=dataclasses.replace(settings.acd, ring_grace=1.5, escalate_after=0.0, pair_when_idle=False),
    )
    fake.agi_port = settings.agi.port
    app = create_app(settings)
    async with TestClient(TestServer(app, host="0.0.0.0", port=free_port())) as client:
        accounts = app[web_keys.ACCOUNTS]
        await accounts.create("boss", PASSWORD, "supervisor")
        await accounts.create("op1", PASSWORD, "operator", agent_id="1001")
        await eventually(lambda: app[keys.ADAPTER].link["up"], 5, message="AMI up and resynced")
        yield client, fake
    await fake.close()


async def scrape(client: TestClient | aiohttp.ClientSession, **headers: str) -> dict[str, object]:
    """The parsed families of one scrape (asserting it answered 200 in the text format)."""
    response = await client.get("/metrics", headers=headers)
    text = await response.text()
    assert response.status == 200, text
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return {family.name: family for family in text_string_to_metric_families(text)}


def value(families: dict[str, object], sample: str, **labels: str) -> float:
    """One sample's value (0 when the labelled series has not appeared yet)."""
    name = sample.removesuffix("_total").removesuffix("_count").removesuffix("_sum")
    family = families[name.removesuffix("_bucket")]
    found = [s.value for s in family.samples if s.name == sample and s.labels == labels]
    assert len(found) <= 1
    return found[0] if found else 0.0


def counters(families: dict[str, object]) -> dict[str, float]:
    """The figures the call flow must move."""
    out = {
        "answers": value(families, "callcenter_answers_total"),
        "within": value(families, "callcenter_answers_within_two_rings_total"),
        "reconnects": value(families, "callcenter_ami_reconnects_total"),
        "write_seconds_count": value(families, "callcenter_ticket_write_seconds_count"),
        "rejected": value(families, "callcenter_ticket_writes_rejected_total"),
    }
    for family, prefix in (("callcenter_ticket_writes", "writes"), ("callcenter_offers", "offers")):
        for sample in families[family].samples:
            if sample.name == f"{family}_total":
                out[f"{prefix}.{sample.labels['kind']}"] = sample.value
    return out


async def test_from_loopback_the_scrape_needs_no_login_and_carries_every_family(controller):
    client, _ = controller
    families = await scrape(client)
    assert {name: families[name].type for name in FAMILIES if name in families} == FAMILIES
    operators = {s.labels["state"]: s.value for s in families["callcenter_operators"].samples}
    # Every state, zeros too (a series that vanished would break alerts); 1001's phone registered, 1002-1004
    # configured and never seen (logged out).
    assert operators == {"logged_out": 3.0, "available": 1.0, "ringing": 0.0, "on_call": 0.0, "wrap_up": 0.0,
                         "paused": 0.0}
    assert value(families, "callcenter_leader") == 1.0 and value(families, "callcenter_ami_up") == 1.0
    assert value(families, "callcenter_calls_waiting") == 0.0 == value(families, "callcenter_longest_wait_seconds")
    lag = await eventually(lambda: _lag_samples(client), 5, message="event-loop lag sampled")
    assert lag >= 1
    # Prometheus itself asks for OpenMetrics first: it gets it, the same families.
    response = await client.get("/metrics", headers={"Accept": OPENMETRICS_ACCEPT})
    assert response.headers["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    opened = {f.name: f.type for f in openmetrics_families(await response.text())}
    assert {name: opened.get(name) for name in FAMILIES} == FAMILIES
    # No label names a caller, a ticket or a call: every series is bounded.
    labels = {key for family in families.values() for s in family.samples for key in s.labels}
    assert labels <= {"state", "kind", "le"}, labels


async def _lag_samples(client: TestClient) -> float:
    return value(await scrape(client), "callcenter_event_loop_lag_seconds_count")


async def test_a_call_flow_moves_the_counters_by_exactly_what_happened(controller):
    client, fake = controller
    app = client.server.app
    settings = app[keys.SETTINGS].acd
    before = counters(await scrape(client))

    # Call 1: rings 1001, answered at once (within two rings), talks, the operator hangs up.
    first = await fake.open_agi("hotline", "1741568400.1", "PJSIP/trunk-00000001")
    await eventually(lambda: fake.originates_to("1001"), 5, message="1001 offered the first call")
    [one] = fake.originates_to("1001")
    fake.ring(one)
    await eventually(lambda: app[keys.ADAPTER].acd.agents["1001"].state == AgentState.RINGING, 5)
    now = await scrape(client)  # what is true now: one caller waiting, its operator's phone ringing
    assert value(now, "callcenter_calls_waiting") == 1.0 and value(now, "callcenter_longest_wait_seconds") > 0
    assert value(now, "callcenter_operators", state="ringing") == 1.0
    await fake.answer(one)
    await eventually(lambda: first.bridging, 5, message="first caller bridged")
    first.end_bridge()
    await eventually(lambda: first.closed.is_set(), 5, message="first call over")

    # Call 2: rings 1001, answered after the two-ring window (before the core's deadline): an answer, not in time.
    second = await fake.open_agi("hotline", "1741568400.2", "PJSIP/trunk-00000002")
    await eventually(lambda: len(fake.originates_to("1001")) == 2, 5, message="1001 offered the second call")
    two = fake.originates_to("1001")[1]
    fake.ring(two)
    rang_at = await eventually(lambda: app[keys.ADAPTER].acd.calls["1741568400.2"].first_rang_at, 5)
    await eventually(lambda: app[keys.ADAPTER].clock() > rang_at + settings.ring_timeout + 0.3, 5)
    await fake.answer(two)
    await eventually(lambda: second.bridging, 5, message="second caller bridged")
    second.hangup()  # the caller hangs up while talking
    await eventually(lambda: second.closed.is_set(), 5, message="second call over")
    for uid in ("1741568400.1", "1741568400.2"):  # a ticket's end is written once the cut window has passed
        await eventually(lambda uid=uid: _ended(app, uid), 8, message=f"ticket {uid} ended")
    assert await app[keys.TICKETS].flush(5)

    # AMI drops and comes back: one reconnect.
    fake.drop()
    await eventually(lambda: app[keys.AMI].outages == 1, 5, message="the outage seen")
    await eventually(lambda: app[keys.ADAPTER].link["up"] and app[keys.AMI].responsive, 8, message="back")

    after = counters(await scrape(client))
    moved = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after.keys() | before.keys()}
    moved = {k: v for k, v in moved.items() if v}
    writes = {k.removeprefix("writes."): v for k, v in moved.items() if k.startswith("writes.")}
    offers = {k.removeprefix("offers."): v for k, v in moved.items() if k.startswith("offers.")}
    assert offers == {"first": 2} and moved["answers"] == 2 and moved["within"] == 1, moved  # one ring each, no guard
    assert moved["reconnects"] == 1 and "rejected" not in moved, moved
    # Each call's ticket: opened, an offer, answered, ended, once each; the rings and details as they came.
    assert (writes["open"], writes["ringing"], writes["answered"], writes["ended"]) == (2, 2, 2, 2), writes
    assert moved["write_seconds_count"] == sum(writes.values()), moved  # every committed write timed once
    tickets = [await app[keys.TICKETS].get(uid) for uid in ("1741568400.1", "1741568400.2")]
    assert [t.details["acd"]["within_two_rings"] for t in tickets] == [True, False]  # the ticket agrees
    now = await scrape(client)
    assert value(now, "callcenter_calls_waiting") == 0.0 and value(now, "callcenter_operators", state="available") == 1.0


async def _ended(app, uid: str) -> bool:
    ticket = await app[keys.TICKETS].get(uid)
    return ticket is not None and ticket.ended_at is not None


async def test_from_elsewhere_a_token_or_a_supervisor_session_is_needed(controller):
    client, _ = controller
    lan = lan_address()
    if lan is None:
        pytest.skip("this machine has no non-loopback address to scrape from")
    base = f"http://{lan}:{client.server.port}"
    async with aiohttp.ClientSession(base_url=base, cookie_jar=aiohttp.CookieJar(unsafe=True)) as remote:
        response = await remote.get("/metrics")
        assert response.status == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
        assert (await response.json())["error"] == "metrics.unauthorized"
        response = await remote.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}x"})
        assert (response.status, (await response.json())["error"]) == (403, "metrics.bad_token")
        response = await remote.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"})
        assert response.status == 403  # the token, but not as a bearer token
        assert "callcenter_leader" in await scrape(remote, Authorization=f"Bearer {TOKEN}")

        await login(remote, "op1")
        response = await remote.get("/metrics")
        assert (response.status, (await response.json())["error"]) == (403, "web.forbidden")
    async with aiohttp.ClientSession(base_url=base, cookie_jar=aiohttp.CookieJar(unsafe=True)) as remote:
        await login(remote, "boss")
        assert "callcenter_operators" in await scrape(remote)


async def test_loopback_through_a_proxy_is_not_local_and_a_wrong_token_is_refused_even_there(controller):
    client, _ = controller
    response = await client.get("/metrics", headers={"X-Forwarded-For": "198.51.100.7"})
    assert response.status == 401  # a proxy on this host forwards everybody: the header is not trusted, only noticed
    response = await client.get("/metrics", headers={"Forwarded": "for=198.51.100.7"})
    assert response.status == 401
    assert (await scrape(client, **{"X-Forwarded-For": "198.51.100.7", "Authorization": f"Bearer {TOKEN}"}))
    response = await client.get("/metrics", headers={"Authorization": "Bearer wrong"})
    assert response.status == 403


async def test_no_token_configured_means_no_token_works(app_client):
    assert app_client.server.app[keys.SETTINGS].web.metrics_token == ""  # the default
    response = await app_client.get("/metrics", headers={"Authorization": "Bearer "})
    assert (response.status, (await response.json())["error"]) == (403, "metrics.bad_token")
    assert (await app_client.get("/metrics")).status == 200  # loopback


def test_the_token_comes_from_the_environment_and_a_short_one_is_refused(tmp_path: Path):
    from callcenter import settings as cc_settings
    from callcenter.exceptions import ConfigError

    state = {"CALLCENTER_STATE_DIR": str(tmp_path)}  # the generated secrets go there
    assert cc_settings.load(None, env={**state, "CALLCENTER_WEB__METRICS_TOKEN": TOKEN}).web.metrics_token == TOKEN
    with pytest.raises(ConfigError, match="metrics_token"):
        cc_settings.load(None, env={**state, "CALLCENTER_WEB__METRICS_TOKEN": "short"})
