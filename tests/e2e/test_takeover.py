"""Two controllers, one leader (issue 16): the leader dies or loses its database mid-traffic.

A pair (``harness.faults.FaultRig`` mode "pair"): controllers "a" and "b" as subprocesses with
``[ha] enabled`` on one throw-away PostgreSQL database, each through its own TCP relay; Asterisk's
dialplan names a's FastAGI first and b's second.  a leads, b stands by.  With ten or more calls in
flight the leader is SIGKILLed, or (separately) its database connections are cut and refused; it
stays down to the end.  Each test checks:

- the other leads (its /health: role leader, AMI connected) within 3 s of the fault;
- the whole history as in tests/e2e/test_faults.py (``harness.checker``): no caller stranded, every
  call Asterisk answered exactly one ticket with the outcome the phones saw, operators back in the
  state they chose within 15 s;
- never two controllers ringing phones at once, from Asterisk's own AMI events (the rig's login):
  no moment with ringing agent legs (``acd-a-...`` and ``acd-b-...``) of both, and no leg of the old
  leader created after the new one took over;
- cut from its database, the old leader says so on /health (standby, degraded, database not ok)
  and never leads again while its database is unreachable.

PostgreSQL: ``HOTLINE_TEST_PG_URL`` (``./hotline test`` sets it), else the cluster ``./hotline test``
leaves running on 127.0.0.1:55432; without either the tests are skipped (a failure under CI=true).
"""

from __future__ import annotations

import json
import os
import socket

import pytest
from harness.checker import Report
from harness.faults import FaultRig, Takeover, cut_off
from harness.postgres import PG_ENV
from test_faults import fault_site, make_rig  # noqa: F401  (fixtures: the test Asterisk with ten operators, its rigs)

pytestmark = pytest.mark.e2e

TAKEOVER_WITHIN = 3.0  # s from the fault to the other controller leading (issue 16)
HOTLINE_CLUSTER = "postgresql+asyncpg://postgres@127.0.0.1:55432/postgres"  # what ./hotline test starts


@pytest.fixture(scope="module")
def pg_admin_url() -> str:
    """A PostgreSQL server's admin URL (the pair's database is made and dropped there), or skip."""
    url = os.environ.get(PG_ENV)
    if not url:
        try:
            socket.create_connection(("127.0.0.1", 55432), timeout=1.0).close()
            url = HOTLINE_CLUSTER
        except OSError as err:
            reason = f"no PostgreSQL for the pair: {PG_ENV} unset and nothing on 127.0.0.1:55432 ({err})"
            print(reason)
            pytest.skip(reason)
    return url


@pytest.fixture
def make_pair(make_rig, pg_admin_url):  # noqa: F811
    """``await make_pair()``: relays, the pair (a leading, b standing by), phones, ready (test_faults' rig)."""
    return lambda: make_rig("pair", pg_admin_url=pg_admin_url)


async def pair_fault(rig: FaultRig, kind: str) -> tuple[Report, Takeover]:
    """Traffic up to ten calls in flight, the fault, 15 s of recovery and 10 s more, then the check."""
    await rig.warm_up(min_in_flight=10)
    fault = await rig.inject(kind)
    assert fault.in_flight >= 10, f"only {fault.in_flight} calls in flight when the fault began"
    await rig.observe(fault)
    report = await rig.finish()
    takeover = rig.takeovers[-1]
    t0 = rig.traffic.history.started_at
    print(f"\n{kind}: {takeover.old} -> {takeover.new}, takeover {takeover.seconds} s ({fault.note})")
    print("roles seen: " + ", ".join(f"{name} {role}/{status} at t={at - t0:.2f}" for at, name, role, status
                                     in rig.pair.timeline))
    ringing = [leg for leg in rig.leg_watch.spans
               if leg.controller == takeover.old and leg.created <= fault.start < leg.ringing_until(float("inf"))]
    first = min((leg.created for leg in rig.leg_watch.spans if leg.controller == takeover.new), default=None)
    print(f"{takeover.old}'s legs ringing at the fault: {len(ringing)}, the last ended "
          f"{max((leg.ringing_until(float('inf')) - fault.start for leg in ringing), default=0.0):.2f} s after it; "
          f"{takeover.new}'s first leg {None if first is None else round(first - fault.start, 2)} s after it")
    print("controller logs: " + ", ".join(str(m.log_path) for m in rig.pair.members.values()))
    print(report.describe())
    print(json.dumps({"fault": kind, "takeover_s": takeover.seconds, **report.summary(),
                      "agent_legs": report.stats.get("agent_legs"), "two_ringing": len(report.rings)}))
    return report, takeover


def check_pair(rig: FaultRig, report: Report, takeover: Takeover) -> None:
    assert takeover.seconds is not None, f"{takeover.new} never led: {rig.pair.timeline}"
    assert takeover.seconds <= TAKEOVER_WITHIN, f"{takeover.new} led {takeover.seconds} s after the fault"
    legs = report.stats.get("agent_legs") or {}
    # The ring check had something to check: both controllers rang phones, one before, one after.
    assert legs.get(takeover.old) and legs.get(takeover.new), f"agent legs seen on AMI: {legs}"
    assert not report.rings, "\n".join(report.rings[:20])
    assert report.ok, report.describe()


async def test_leader_killed_mid_traffic_the_standby_leads(make_pair):
    rig = await make_pair()
    report, takeover = await pair_fault(rig, "leader_kill")
    assert rig.pair.members[takeover.old].proc.returncode is not None  # it stayed dead
    check_pair(rig, report, takeover)


async def test_leader_cut_from_its_database_mid_traffic_the_standby_leads(make_pair):
    rig = await make_pair()
    report, takeover = await pair_fault(rig, "leader_db_cut")
    fault = rig.faults[-1]
    old = takeover.old
    assert rig.db_relays[old].cuts[0][1] >= 1, "the leader's database connections did not go through its relay"
    health = rig.cut_health.get(old)
    assert cut_off(health), f"{old} cut from its database says {health} (roles seen: {rig.pair.timeline})"
    assert not rig.pair.led_again(old, after=fault.start), f"{old} led again without its database: {rig.pair.timeline}"
    check_pair(rig, report, takeover)
