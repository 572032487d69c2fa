"""Load: SIPp callers into the real Asterisk at a set rate; what one controller and one Asterisk carry.

    .venv/bin/python bench/load.py [--rate 20] [--seconds 60] [--url URL] [--step CPS] [--hold 2-10]

Runs as root (the embedded Asterisk is chrooted).  Its own Asterisk instance (``callcenter-bench``:
SIP 5080, AMI 5041, FastAGI 4576, web 8091; the same instance and lock as the other Asterisk benches,
so they never run at once), our dialplan unchanged.  The controller runs as a subprocess
(``python -m callcenter --config FILE serve``), so its CPU and RSS are its own (from /proc).

- **Callers**: one SIPp UAC (Debian's ``sip-tester``) dials the hotline number at ``--rate`` new calls
  a second for ``--seconds``, spread over the thirty caller endpoints (2001-2030, digest auth from an
  injection file), and hangs up after a random ``--hold`` (uniform, seconds) counted from the answer:
  a caller still on hold then abandons.  No RTP is sent (Asterisk's music on hold goes unheard).
- **Operators**: ten baresip phones (1001-1010, ``callcenter.demo.softphone``) that answer the moment
  they ring.  Baresip rather than SIPp UAS: a SIPp UAS must also register with digest auth and
  answer Asterisk's qualify OPTIONS; baresip does both as a real phone does, and ten phones with one
  call each are no load for it.  The load is on the caller side.

Per rate it reports calls offered (SIPp), SIPp failures, tickets written for the run (they must equal
the calls), lost (calls without exactly one ticket, plus SIPp failures), ticket write latency
(queued -> committed, from the controller's ``callcenter_ticket_write_seconds`` histogram),
arrival -> first ring (tickets' ``arrived_at`` -> ``first_rang_at``), AMI events per second (counted
on a second AMI login of the bench: Asterisk sends every event to each login), the controller's CPU
(share of one core) and peak RSS, and event-loop lag p99 (``callcenter_event_loop_lag_seconds``).
Histogram percentiles are read from the buckets (linear inside a bucket), so they are as coarse as
the buckets.  With ``--step CPS`` the rate goes up by CPS after each lossless run, the controller and
Asterisk staying up, until a run loses a call (or ``--max-rate``); ``max_lossless_cps`` is the last
lossless rate.

Last line: ``{"rate_cps", "calls", "tickets", "lost", "ticket_write_p99_ms", "arrival_to_ring_p99_ms",
"controller_cpu_share", "loop_lag_p99_ms", "max_lossless_cps", ...}`` (the last run's figures).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import math
import os
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the shared harness

import aiohttp
from _instance import run_exclusive
from acd_vs_app_queue import AGENTS, CALLERS, INSTANCE, PORTS
from harness.faults import Site, SubprocessController, write_settings
from prometheus_client.parser import text_string_to_metric_families

from callcenter import asterisk as embedded
from callcenter import settings as cs
from callcenter.asterisk.provision import _pid as asterisk_pid
from callcenter.demo.softphone import Softphone, SoftphoneError

ACD = {"ring_on": 1.0, "ring_off": 4.0, "rings": 2, "wrap_up": 0.0}
TICKET_WRITES = "callcenter_ticket_write_seconds"
LOOP_LAG = "callcenter_event_loop_lag_seconds"
SETTLE_S = 120.0  # after SIPp ends: how long the ticket queue may take to drain before missing tickets count as lost


def say(*parts: object) -> None:
    print(*parts, flush=True)


# -- pure parts (tests/unit/test_bench_load.py) ------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile (0..1) with linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def bucket_quantile(buckets: Sequence[tuple[float, float]], q: float) -> float | None:
    """The q-quantile of a Prometheus histogram from its cumulative ``(le, count)`` buckets.

    Linear inside the bucket that holds it (as PromQL's ``histogram_quantile``); a quantile in the
    ``+Inf`` bucket is the highest finite bound.  None when nothing was observed.
    """
    ordered = sorted(buckets)
    if not ordered or ordered[-1][1] <= 0:
        return None
    rank = q * ordered[-1][1]
    prev_le, prev_count = 0.0, 0.0
    for le, count in ordered:
        if count >= rank and count > prev_count:
            if math.isinf(le):
                return prev_le
            return prev_le + (le - prev_le) * (rank - prev_count) / (count - prev_count)
        prev_le, prev_count = (le if not math.isinf(le) else prev_le), count
    return prev_le


def bucket_delta(after: dict[float, float], before: dict[float, float]) -> list[tuple[float, float]]:
    """Cumulative buckets observed between two scrapes of the same histogram."""
    return [(le, count - before.get(le, 0.0)) for le, count in after.items()]


def histograms(text: str) -> dict[str, dict[float, float]]:
    """Every histogram's cumulative buckets ``{le: count}`` from a Prometheus text exposition."""
    found: dict[str, dict[float, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.endswith("_bucket"):
                found.setdefault(family.name, {})[float(sample.labels["le"])] = sample.value
    return found


def gauges(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every gauge sample: ``(name, sorted labels) -> value``."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text) if family.type == "gauge" for s in family.samples
    }


def parse_hold(text: str) -> tuple[float, float]:
    """``"2-10"`` -> (2.0, 10.0) seconds; a single number is a fixed hold."""
    low, _, high = text.partition("-")
    pair = (float(low), float(high or low))
    if pair[0] < 0 or pair[1] < pair[0]:
        raise argparse.ArgumentTypeError(f"hold {text!r}: want MIN-MAX seconds, 0 <= MIN <= MAX")
    return pair


def step_rates(start: float, step: float | None, max_rate: float) -> list[float]:
    """The rates to run: just ``start``, or ``start, start+step, ...`` up to ``max_rate``."""
    if not step:
        return [start]
    rates, rate = [], start
    while rate <= max_rate + 1e-9:
        rates.append(round(rate, 3))
        rate += step
    return rates


def split_calls(calls: int, ways: int) -> list[int]:
    """``calls`` shared as evenly as can be among ``ways`` SIPp processes (one per caller endpoint:
    SIPp 3.6 does not expand an injection field as the first value inside ``[authentication ...]``)."""
    return [calls // ways + (1 if k < calls % ways else 0) for k in range(ways)]


def caller_scenario(hold: tuple[float, float], user: str) -> str:
    """The SIPp UAC of caller endpoint ``user`` (password by ``-au``/``-ap``): INVITE the hotline number,
    answer Asterisk's digest challenge, wait for the answer, stay ``hold`` seconds (uniform), hang up.
    ``-aa`` answers UPDATEs (connected line)."""
    low, high = (int(hold[0] * 1000), int(hold[1] * 1000))
    head = f"""\
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{user}@[local_ip]:[local_port]>;tag=[pid]L[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      Max-Forwards: 70
      Contact: <sip:{user}@[local_ip]:[local_port]>
      Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE"""
    sdp = """\
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=- 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000"""
    return f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="hotline caller">
  <send retrans="500"><![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
{head}
      CSeq: 1 INVITE
{sdp}
  ]]></send>
  <recv response="100" optional="true"/>
  <recv response="401" auth="true"/>
  <send><![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      From: <sip:{user}@[local_ip]:[local_port]>;tag=[pid]L[call_number]
      [last_To:]
      Call-ID: [call_id]
      Max-Forwards: 70
      CSeq: 1 ACK
      Content-Length: 0
  ]]></send>
  <send retrans="500"><![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
{head}
      CSeq: 2 INVITE
      [authentication]
{sdp}
  ]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rrs="true" rtd="true"/>
  <send><![CDATA[
      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{user}@[local_ip]:[local_port]>;tag=[pid]L[call_number]
      [last_To:]
      [routes]
      Call-ID: [call_id]
      Max-Forwards: 70
      CSeq: 2 ACK
      Content-Length: 0
  ]]></send>
  <pause distribution="uniform" min="{low}" max="{high}"/>
  <send retrans="500"><![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{user}@[local_ip]:[local_port]>;tag=[pid]L[call_number]
      [last_To:]
      [routes]
      Call-ID: [call_id]
      Max-Forwards: 70
      CSeq: 3 BYE
      Content-Length: 0
  ]]></send>
  <recv response="200" crlf="true"/>
  <ResponseTimeRepartition value="100, 500, 1000, 5000"/>
</scenario>
"""


def sipp_totals(stat_csv: str) -> dict[str, int]:
    """The cumulative counters of SIPp's last ``-trace_stat`` line (``...(C)`` columns)."""
    rows = list(csv.reader(stat_csv.splitlines(), delimiter=";"))
    if len(rows) < 2:
        return {}
    header, last = rows[0], rows[-1]
    totals = {}
    for name, value in zip(header, last):
        if name.endswith("(C)"):
            with contextlib.suppress(ValueError):
                totals[name[:-3]] = int(value)
    return totals


# -- measuring the controller ------------------------------------------------------------------------


class ProcStat:
    """CPU seconds and peak RSS of one process, from /proc."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.tick = os.sysconf("SC_CLK_TCK")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / self.tick  # utime, stime

    def rss_mb(self) -> tuple[float, float]:
        """(current, peak) resident set size, MB."""
        status = dict(line.split(":", 1) for line in Path(f"/proc/{self.pid}/status").read_text().splitlines() if ":" in line)
        return (int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024)


class AmiEventCounter:
    """A second AMI login that only counts the events Asterisk sends (it sends each to every login)."""

    def __init__(self, settings: cs.Settings) -> None:
        self.settings = settings
        self.events = 0
        self._task: asyncio.Task[None] | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def start(self) -> None:
        ami = self.settings.ami
        reader, self._writer = await asyncio.open_connection(ami.host, ami.port)
        self._writer.write(f"Action: Login\r\nUsername: {ami.username}\r\nSecret: {ami.secret}\r\nEvents: on\r\n\r\n".encode())
        await self._writer.drain()
        self._task = asyncio.create_task(self._count(reader))

    async def _count(self, reader: asyncio.StreamReader) -> None:
        while line := await reader.readline():
            if line.startswith(b"Event: "):
                self.events += 1

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._writer:
            self._writer.close()


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def scrape(http: aiohttp.ClientSession, url: str) -> str:
    async with http.get(f"{url}/metrics") as response:
        response.raise_for_status()
        return await response.text()


def operators_available(text: str) -> int:
    return int(gauges(text).get(("callcenter_operators", (("state", "available"),)), 0))


def pending_writes(text: str) -> int:
    return int(gauges(text).get(("callcenter_ticket_writes_pending", ()), 0))


async def tickets_since(url: str, after_id: int) -> tuple[int, int, list[float]]:
    """(tickets with id > after_id, calls with more than one ticket, arrival -> first ring in ms)."""
    from sqlalchemy import select

    from callcenter.store.db import open_database
    from callcenter.store.models import Ticket

    engine = await open_database(url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(select(Ticket.uniqueid, Ticket.arrived_at, Ticket.first_rang_at)
                                       .where(Ticket.id > after_id))).all()
    finally:
        await engine.dispose()
    seen: dict[str, int] = {}
    rings = []
    for uniqueid, arrived, rang in rows:
        seen[uniqueid] = seen.get(uniqueid, 0) + 1
        if rang is not None:
            rings.append((rang - arrived).total_seconds() * 1000)
    return len(rows), sum(1 for n in seen.values() if n > 1), rings


async def max_ticket_id(url: str) -> int:
    from sqlalchemy import func, select

    from callcenter.store.db import open_database
    from callcenter.store.models import Ticket

    engine = await open_database(url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(select(func.max(Ticket.id)))).scalar() or 0
    finally:
        await engine.dispose()


# -- the run --------------------------------------------------------------------------------------


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def r1(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


async def one_rate(rate: float, args: argparse.Namespace, work: Path, settings: cs.Settings, url: str,
                   proc: ProcStat, pbx: ProcStat | None, ami: AmiEventCounter, http: aiohttp.ClientSession, web: str) -> dict[str, Any]:
    """One SIPp run at ``rate``; its figures."""
    calls = max(1, round(rate * args.seconds))
    run_dir = work / f"rate-{rate:g}"
    run_dir.mkdir()
    first_id = await max_ticket_id(url)
    before = histograms(await scrape(http, web))
    cpu0, events0, t0 = proc.cpu_seconds(), ami.events, time.monotonic()
    pbx0 = pbx.cpu_seconds() if pbx else 0.0
    say(f"rate {rate:g}/s: {calls} calls over {args.seconds:g} s from {args.callers} caller endpoints, "
        f"hold {args.hold[0]:g}-{args.hold[1]:g} s")
    runs = []
    for ep, n in zip(CALLERS[: args.callers], split_calls(calls, args.callers)):
        if not n:
            continue
        out = run_dir / ep
        out.mkdir()
        scenario = out / "caller.xml"
        scenario.write_text(caller_scenario(args.hold, ep))
        command = [
            args.sipp, f"127.0.0.1:{PORTS['sip']}", "-sf", str(scenario), "-s", settings.asterisk.hotline_number,
            "-au", ep, "-ap", cs.caller_password(settings, ep), "-i", "127.0.0.1", "-p", str(free_udp_port()),
            "-mp", str(free_udp_port() & ~1), "-r", f"{rate * n / calls:g}", "-rp", "1000", "-m", str(n), "-l", "5000",
            "-aa", "-nostdin", "-trace_stat", "-stf", str(out / "stat.csv"), "-fd", "1", "-trace_err",
            "-error_file", str(out / "errors.log"), "-recv_timeout", "120000", "-timeout_error",
        ]
        if args.keep:
            command += ["-trace_msg", "-message_file", str(out / "messages.log")]
        runs.append((out, await asyncio.create_subprocess_exec(
            *command, cwd=out, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL)))
    rss_peak = 0.0
    while any(p.returncode is None for _, p in runs):
        rss_peak = max(rss_peak, proc.rss_mb()[0])
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(p.wait() for _, p in runs)), 1.0)
    traffic_s = time.monotonic() - t0
    cpu_s, events = proc.cpu_seconds() - cpu0, ami.events - events0
    pbx_s = pbx.cpu_seconds() - pbx0 if pbx else None
    totals: dict[str, int] = {}
    for out, _ in runs:
        stat = out / "stat.csv"
        for key, value in (sipp_totals(stat.read_text(errors="replace")) if stat.exists() else {}).items():
            totals[key] = totals.get(key, 0) + value
    ended = time.monotonic()
    while time.monotonic() < ended + SETTLE_S:  # the ticket queue drains
        if pending_writes(await scrape(http, web)) == 0:
            break
        await asyncio.sleep(0.5)
    drain_s = time.monotonic() - ended
    await asyncio.sleep(2.0)  # the last hangups' writes
    after = histograms(await scrape(http, web))
    tickets, doubled, rings = await tickets_since(url, first_id)
    offered = totals.get("TotalCallCreated", calls)
    failed = totals.get("FailedCall", 0)
    succeeded = totals.get("SuccessfulCall", 0)
    lost = failed + max(0, succeeded - tickets) + doubled
    writes = bucket_delta(after.get(TICKET_WRITES, {}), before.get(TICKET_WRITES, {}))
    lag = bucket_delta(after.get(LOOP_LAG, {}), before.get(LOOP_LAG, {}))
    reasons = {k: v for k, v in totals.items() if k.startswith("Failed") and k != "FailedCall" and v}
    return {
        "rate_cps": rate, "calls": offered, "sipp_ok": succeeded, "sipp_failed": failed, "sipp_failures": reasons,
        "tickets": tickets, "tickets_doubled": doubled, "lost": lost,
        "ticket_write_p50_ms": ms(bucket_quantile(writes, 0.5)), "ticket_write_p99_ms": ms(bucket_quantile(writes, 0.99)),
        "arrival_to_ring_p50_ms": r1(percentile(rings, 0.5)), "arrival_to_ring_p99_ms": r1(percentile(rings, 0.99)),
        "rang": len(rings), "ticket_writes": int(max((c for _, c in writes), default=0)), "ami_events_per_s": round(events / traffic_s, 1),
        "controller_cpu_share": round(cpu_s / traffic_s, 3), "controller_rss_mb": round(rss_peak, 1),
        "asterisk_cpu_share": None if pbx_s is None else round(pbx_s / traffic_s, 3),
        "loop_lag_p99_ms": ms(bucket_quantile(lag, 0.99)), "traffic_s": round(traffic_s, 1),
        "writes_drained_s": round(drain_s, 1),
    }


async def load(args: argparse.Namespace) -> dict[str, Any]:
    root = args.root or cs.AsteriskSettings().root
    site = Site(root, INSTANCE, PORTS, "pbx-bench", operators=AGENTS, callers=CALLERS, acd=ACD)
    work = Path(tempfile.mkdtemp(prefix="callcenter-load-"))
    url = args.url or f"sqlite+aiosqlite:///{work / 'callcenter.db'}"
    config, settings = write_settings(site, work, "load", db_url=url, log_level="info")
    web = f"http://127.0.0.1:{PORTS['web']}"
    say(f"Asterisk instance {INSTANCE}: SIP {PORTS['sip']}, AMI {PORTS['ami']}, FastAGI {PORTS['agi']}, web {PORTS['web']}; "
        f"database {url.split('://')[0]}; work in {work}")
    await asyncio.to_thread(embedded.stop, settings)  # a leftover of an interrupted run
    await asyncio.to_thread(embedded.start, settings)
    controller = SubprocessController(config, settings, work / "logs")
    phones: list[Softphone] = []
    ami = AmiEventCounter(settings)
    results: list[dict[str, Any]] = []
    http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5.0))
    try:
        await controller.start()
        assert controller.proc is not None
        proc = ProcStat(controller.proc.pid)
        pbx_pid = asterisk_pid(settings)
        pbx = ProcStat(pbx_pid) if pbx_pid else None
        for agent in settings.agents:
            for attempt in range(4):
                phone = Softphone(agent.id, agent.sip_password, "127.0.0.1", PORTS["sip"], answer="auto")
                try:
                    await phone.start()
                    break
                except SoftphoneError:
                    phone.cleanup()
                    if attempt == 3:
                        raise
            phones.append(phone)
        deadline = time.monotonic() + 30.0
        while operators_available(await scrape(http, web)) < len(AGENTS):
            if time.monotonic() > deadline:
                raise RuntimeError("the ten operators are not all available 30 s after registering")
            await asyncio.sleep(0.5)
        await ami.start()
        say(f"controller up (pid {proc.pid}), {len(phones)} operators available")
        for rate in step_rates(args.rate, args.step, args.max_rate):
            result = await one_rate(rate, args, work, settings, url, proc, pbx, ami, http, web)
            results.append(result)
            say(f"  offered {result['calls']}, tickets {result['tickets']}, lost {result['lost']}, "
                f"cpu {result['controller_cpu_share']}, ring p99 {result['arrival_to_ring_p99_ms']} ms")
            if result["lost"]:
                break
    finally:
        await ami.close()
        await http.close()
        for phone in phones:
            with contextlib.suppress(Exception):
                await phone.stop()
        await controller.stop()
        await asyncio.to_thread(embedded.stop, settings)
        if args.keep:
            say(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print_table(results)
    lossless = [r["rate_cps"] for r in results if not r["lost"]]
    summary = dict(results[-1]) if results else {"rate_cps": args.rate, "calls": 0}
    summary["max_lossless_cps"] = max(lossless) if lossless else 0
    summary["database"] = url.split("+")[0].split(":")[0]
    if not args.step:
        summary["max_lossless_cps_note"] = "one rate only (no --step): lossless at it" if lossless else "lost at this rate"
    return summary


COLUMNS = (
    ("rate/s", "rate_cps"), ("calls", "calls"), ("sipp ok", "sipp_ok"), ("failed", "sipp_failed"),
    ("tickets", "tickets"), ("lost", "lost"), ("write p50 ms", "ticket_write_p50_ms"),
    ("write p99 ms", "ticket_write_p99_ms"), ("ring p50 ms", "arrival_to_ring_p50_ms"),
    ("ring p99 ms", "arrival_to_ring_p99_ms"), ("AMI ev/s", "ami_events_per_s"), ("cpu", "controller_cpu_share"),
    ("rss MB", "controller_rss_mb"), ("ast cpu", "asterisk_cpu_share"), ("lag p99 ms", "loop_lag_p99_ms"),
)


def print_table(results: list[dict[str, Any]]) -> None:
    say("")
    say("  ".join(f"{title:>12}" for title, _ in COLUMNS))
    for r in results:
        say("  ".join(f"{'-' if r.get(key) is None else r[key]!s:>12}" for _, key in COLUMNS))
        if r.get("sipp_failures"):
            say(f"    SIPp failures: {r['sipp_failures']}")
    say("write = ticket write queued -> committed; ring = arrival -> first operator ring (tickets); "
        "cpu = controller CPU seconds / traffic seconds (ast cpu: Asterisk's); lag = event-loop lag")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rate", type=float, default=20.0, help="new calls a second (default 20)")
    p.add_argument("--seconds", type=float, default=60.0, help="seconds of arrivals (default 60)")
    p.add_argument("--hold", type=parse_hold, default=(2.0, 10.0), help="caller hangs up MIN-MAX s after the answer (2-10)")
    p.add_argument("--url", help="database URL, e.g. postgresql+asyncpg://user@host/db (default: a fresh SQLite file)")
    p.add_argument("--step", type=float, help="after a lossless run, add this many calls a second and run again")
    p.add_argument("--max-rate", type=float, default=200.0, help="the highest rate --step tries (200)")
    p.add_argument("--callers", type=int, choices=range(1, len(CALLERS) + 1), metavar="N", default=10,
                   help="caller endpoints (2001...), one SIPp process each (10)")
    p.add_argument("--sipp", default=shutil.which("sipp") or "/usr/bin/sipp", help="the sipp binary")
    p.add_argument("--keep", action="store_true", help="keep the work directory (SIPp logs, controller logs, database)")
    p.add_argument("--root", help="the cached Asterisk root (default: the settings' default)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    return run_exclusive(INSTANCE, args.root, lambda: load(args))


if __name__ == "__main__":
    sys.exit(main())
