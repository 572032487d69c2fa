"""GET /metrics: the controller's figures for Prometheus (text format, by ``prometheus-client``).

Who may scrape (the route is declared public; this handler decides):
- a peer on loopback (127.0.0.1, ::1: the socket's address, never a header), unless the request
  names a proxy (``Forwarded``, ``X-Forwarded-For``, ``X-Real-IP``): a reverse proxy on this host
  would make every visitor look local;
- a request with ``Authorization: Bearer <[web] metrics_token>`` (environment:
  ``CALLCENTER_WEB__METRICS_TOKEN``; empty, the default: no token works);
- a logged-in supervisor or admin (their browser session).
Otherwise 401 (nothing presented) or 403 (a wrong token, or an operator's session), as JSON errors.

Each app has its own ``CollectorRegistry`` (``create_app`` makes it; tests start many apps in one
process).  Counters live where their event happens, in the registry handed to them: offers and
answers in the adapter, ticket writes in the ticket service, reconnects in the AMI client.  What is
true now (callers waiting, operators by state, AMI up, writes pending, leading) is read from the
core at each scrape by ``LiveCollector``; ``LoopLag`` measures the event loop's scheduling delay.
No label carries a caller's number, a ticket or a call: every series is bounded.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder

from callcenter import keys
from callcenter.acd import AgentState, CallState
from callcenter.web.api import error_json, public
from callcenter.web.security import request_user, role_refusal

if TYPE_CHECKING:
    from callcenter.adapter import Adapter
    from callcenter.ami.client import AmiClient
    from callcenter.tickets.service import TicketService

log = structlog.get_logger(__name__)
LEADER_HELP = "1 when this controller leads (holds AMI actions and FastAGI)"  # the leader's and a standby's

PROXY_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")
LAG_INTERVAL = 0.25  # seconds between event-loop lag samples
LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)  # seconds
ON_HOLD = (CallState.WAITING, CallState.OFFERED)


class LiveCollector:
    """Gauges read from the ACD core, the AMI client and the ticket queue at each scrape."""

    def __init__(self, adapter: Adapter, ami: AmiClient, tickets: TicketService, leading: Callable[[], bool]) -> None:
        self.adapter, self.ami, self.tickets, self.leading = adapter, ami, tickets, leading

    def collect(self) -> Iterator[Metric]:
        """One sample of each family (prometheus-client calls this at every scrape)."""
        acd, now = self.adapter.acd, self.adapter.clock()
        # Callers on the line waiting for an operator (a phone may be ringing); kept places have nobody on the line.
        holding = [c for c in acd.calls.values() if c.state in ON_HOLD and c.kept_at is None]
        waits = [now - (c.waiting_since if c.waiting_since is not None else c.arrived_at) for c in holding]
        yield GaugeMetricFamily("callcenter_calls_waiting", "Callers on hold waiting for an operator (ringing included)",
                                value=len(holding))
        yield GaugeMetricFamily("callcenter_longest_wait_seconds", "How long the longest-waiting caller has waited "
                                "(0: nobody waits)", value=max([0.0, *waits]))
        operators = GaugeMetricFamily("callcenter_operators", "Operators by ACD state (configured, never seen: logged out)",
                                      labels=["state"])
        counts = {state: 0 for state in AgentState}
        for agent in acd.agents.values():
            counts[agent.state] += 1
        counts[AgentState.LOGGED_OUT] += sum(1 for a in self.adapter.settings.agents if a.id not in acd.agents)
        for state, count in counts.items():
            operators.add_metric([state.value], count)
        yield operators
        yield GaugeMetricFamily("callcenter_ami_up", "1 while AMI answers pings and the adapter has resynchronised",
                                value=int(bool(self.ami.responsive and self.adapter.link["up"])))
        yield GaugeMetricFamily("callcenter_ticket_writes_pending", "Ticket writes queued, not yet committed",
                                value=self.tickets.pending_writes)
        yield GaugeMetricFamily("callcenter_leader", LEADER_HELP, value=int(self.leading()))


class LoopLag:
    """How late the event loop runs a task that asked to wake up: ``callcenter_event_loop_lag_seconds``."""

    def __init__(self, registry: CollectorRegistry, interval: float = LAG_INTERVAL) -> None:
        self.interval = interval
        self.histogram = Histogram("callcenter_event_loop_lag_seconds", "Delay of the event loop in running a "
                                   f"timer due every {interval} s", buckets=LAG_BUCKETS, registry=registry)

    async def run(self) -> None:
        """Sample until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.interval
            await asyncio.sleep(self.interval)
            self.histogram.observe(max(0.0, loop.time() - due))


@public  # anyone reaches the handler; it lets in loopback, the metrics token or a supervisor (_refusal)
async def metrics(request: web.Request) -> web.Response:
    """The app's registry in the Prometheus text format (OpenMetrics when the scraper asks for it)."""
    return await _scrape(request, sessions=True)


@public
async def standby_metrics(request: web.Request) -> web.Response:
    """A standby's /metrics (``callcenter.web.health.standby_app``): loopback or the token; it has no logins."""
    return await _scrape(request, sessions=False)


async def _scrape(request: web.Request, sessions: bool) -> web.Response:
    refusal = await _refusal(request, sessions)
    if refusal is not None:
        return refusal
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return web.Response(body=encode(request.app[keys.METRICS]), headers={"Content-Type": content_type})


class StandbyCollector:
    """What a standby reports: it does not lead, and whether it reaches the database (so could)."""

    def __init__(self, database: Callable[[], bool]) -> None:
        self.database = database

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("callcenter_leader", LEADER_HELP, value=0)
        yield GaugeMetricFamily("callcenter_standby_database_up",
                                "1 when this standby reaches PostgreSQL (it can take the lead)",
                                value=1 if self.database() else 0)


async def _refusal(request: web.Request, sessions: bool) -> web.Response | None:
    """None when the request may scrape; the JSON error otherwise."""
    authorization = request.headers.get("Authorization")
    if authorization is not None:  # a token presented is judged, wherever the request comes from
        expected = request.app[keys.SETTINGS].web.metrics_token
        scheme, _, given = authorization.partition(" ")
        if expected and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected.encode()):
            return None
        log.warning("metrics.token_refused", peer=request.remote, configured=bool(expected))
        return error_json(403, "metrics.bad_token", "wrong metrics token (Authorization: Bearer <[web] metrics_token>)")
    if _local(request):
        return None
    user = await request_user(request) if sessions else None
    if user is None:
        refused = error_json(401, "metrics.unauthorized", "scrape from this host, with the metrics token "
                             "(Authorization: Bearer ...), or log in as a supervisor")
        refused.headers["WWW-Authenticate"] = 'Bearer realm="callcenter metrics"'
        return refused
    return role_refusal(user, "supervisor", request.path)


def _local(request: web.Request) -> bool:
    """The socket's peer is loopback and the request names no proxy."""
    if any(name in request.headers for name in PROXY_HEADERS):
        return False
    try:
        address = ipaddress.ip_address(request.remote or "")
    except ValueError:  # a unix socket, or no peer
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback
