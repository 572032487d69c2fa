"""Our ACD against Asterisk's app_queue: same scenarios, same Asterisk, real SIP phones.

    .venv/bin/python bench/acd_vs_app_queue.py [--quick] [--samples N] [--busy-seconds S]

Runs as root (the embedded Asterisk is chrooted).  It starts its own Asterisk instance
(``callcenter-bench``: SIP 5080, AMI 5041, FastAGI 4576, web 8091) from the cached root, so it can
run beside the demo and the test-suite, registers baresip phones for ten agents and a pool of
callers, and runs every scenario twice:

- **ours**: the controller (``callcenter.app.create_app``) runs in this process; callers dial the
  hotline number, the dialplan hands the call to our FastAGI and our ACD rings the agents;
- **app_queue**: no controller listens, so the hotline's AGI fails and the dialplan falls through
  to ``Queue(hotline-fallback)`` (strategy leastrecent, autofill, timeout 10, retry 5).

Everything is measured from the outside, on AMI events stamped by Asterisk itself
(``timestampevents``), with the same rule on both sides:

- a call *enters the ACD* when its caller channel starts music on hold (``MusicOnHoldStart``):
  our adapter puts the caller on hold as it hands the call to the core, app_queue as the caller
  joins the queue;
- an agent's phone *rings* when its channel goes to state Ringing (``Newstate``: the phone sent
  180 Ringing); an agent leg belongs to the caller whose number it carries (``CallerIDNum``);
- a ring *ends* when the agent's channel hangs up (``Hangup``), an agent *answers* when the channel
  goes Up and it is the leg that enters the caller's bridge (``BridgeEnter``).

The busy hour runs with two mixes of agents ("busy": prompt, slow and absent-minded; "uniform":
every agent alike at random), each on both sides.  A few figures only our controller knows (the
estimated wait it would tell a waiting caller, the kind of each offer, its auto-pauses) are read
in-process (``Probe``).

See bench/README.md for the scenarios and what each figure means.  The last line printed is one
JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import math
import random
import re
import shutil
import socket
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from callcenter import asterisk as embedded
from callcenter import settings as cs
from callcenter.ami.client import AmiClient
from callcenter.demo.softphone import Softphone, SoftphoneError

from _instance import run_exclusive

INSTANCE = "callcenter-bench"
PORTS = {"sip": 5080, "ami": 5041, "agi": 4576, "web": 8091}
AGENTS = tuple(str(1001 + n) for n in range(10))
CALLERS = tuple(str(2001 + n) for n in range(30))
HOTLINE = "12320"

# What both sides get: the real cadence (1 s on, 4 s off, two rings = 10 s), no wrap-up (the
# fallback queue has wrapuptime=0), no IVR menu (callers go straight to the ACD).  Keys missing
# from the current Settings are skipped with a note.
BASE_ACD = {"ring_on": 1.0, "ring_off": 4.0, "rings": 2, "wrap_up": 0.0}
BASE_IVR = {"enabled": False}

SCENARIOS = (
    "idle_to_ring_ms", "freed_to_ring_ms", "missed_to_next_ring_ms", "busy_hour_two_ring_share", "uniform_hour_two_ring_share",
)
SIDES = ("ours", "app_queue")


def say(*parts: object) -> None:
    print(*parts, flush=True)


# ----------------------------------------------------------------------------------- settings


def bench_settings(state_dir: Path, root: str, acd: dict[str, Any], notes: list[str]) -> cs.Settings:
    """Settings through the normal loader (a TOML file), like the test harness builds its own."""
    q = json.dumps

    def section(name: str, cls: type, values: dict[str, Any]) -> list[str]:
        known = {f.name for f in dataclasses.fields(cls)}
        lines = [f"[{name}]"]
        for key, value in values.items():
            if key in known:
                lines.append(f"{key} = {q(value)}")
            else:
                note = f"settings: [{name}] has no '{key}' in this version; not set"
                if note not in notes:
                    notes.append(note)
        return lines

    lines = [
        f"node = {q('pbx-bench')}",
        f"state_dir = {q(str(state_dir))}",
        'log_format = "console"',
        'log_level = "warning"',
        "[ami]",
        f"port = {PORTS['ami']}",
        # the bench's own AMI session sends UserEvent probes: write class "user" beside the controller's
        *[f"write = {q('call,originate,reporting,user')}" for f in dataclasses.fields(cs.AmiSettings) if f.name == "write"],
        "[agi]",
        f"port = {PORTS['agi']}",
        "[web]",
        f"port = {PORTS['web']}",
        *section("acd", cs.AcdSettings, {**BASE_ACD, **acd}),
    ]
    if hasattr(cs, "IvrSettings"):
        lines += section("ivr", cs.IvrSettings, BASE_IVR)
    lines += [
        "[asterisk]",
        f"root = {q(root)}",
        f"sip_port = {PORTS['sip']}",
        f"instance = {q(INSTANCE)}",
        f"queue_log = {q(f'{root}/var/log/{INSTANCE}-asterisk/queue_log')}",
        f"caller_endpoints = {q(list(CALLERS))}",
    ]
    for n, agent in enumerate(AGENTS):
        lines += ["[[agents]]", f"id = {q(agent)}", f"name = {q(f'坐席{n + 1:02d}')}"]
    path = state_dir / f"bench-{abs(hash(json.dumps(acd, sort_keys=True))) % 10**8}.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return cs.load(path, env={})


# ----------------------------------------------------------------------------------- AMI observer


def owner(channel: str) -> str:
    """'PJSIP/1001-0000000a' -> '1001' ('' for other technologies)."""
    if not channel.startswith("PJSIP/"):
        return ""
    return channel[len("PJSIP/") :].rsplit("-", 1)[0]


class Recorder:
    """Every AMI event, in order, with Asterisk's own timestamp (``ts``, epoch seconds)."""

    def __init__(self, settings: cs.Settings) -> None:
        self.ami = AmiClient(settings.ami)
        self.events: list[dict[str, Any]] = []
        self.live: dict[str, str] = {}  # uniqueid -> channel name, channels that exist now
        self.devices: dict[str, str] = {}  # "PJSIP/1001" -> device state
        self._waiters: list[tuple[Callable[[dict], bool], asyncio.Future]] = []
        self.untimed = 0  # events without Asterisk's timestamp (FullyBooted at login): stamped here

    async def start(self) -> None:
        await self.ami.start()
        assert self.ami._manager is not None
        # Straight from panoramisk, before the client's queue: nothing here may raise.
        self.ami._manager.register_event("*", self._on_event)
        if not await self.ami.wait_connected(15):
            raise RuntimeError(f"bench AMI could not log in: {self.ami.last_error}")
        for event in await self.ami.action({"Action": "DeviceStateList"}, as_list=True):
            if event.get("Event") == "DeviceStateChange":
                self.devices[event.get("Device", "")] = event.get("State", "")

    async def close(self) -> None:
        await self.ami.close()

    def _on_event(self, _manager: Any, message: Any) -> None:
        try:
            event = dict(message)
            stamp = event.get("Timestamp")
            if stamp is None:
                self.untimed += 1
                event["ts"] = time.time()
            else:
                event["ts"] = float(stamp)
            event["i"] = len(self.events)
            self.events.append(event)
            name = event.get("Event")
            if name == "Newchannel":
                self.live[event.get("Uniqueid", "")] = event.get("Channel", "")
            elif name == "Hangup":
                self.live.pop(event.get("Uniqueid", ""), None)
            elif name == "DeviceStateChange":
                self.devices[event.get("Device", "")] = event.get("State", "")
            for waiter in list(self._waiters):
                predicate, future = waiter
                if not future.done() and predicate(event):
                    future.set_result(event)
                    self._waiters.remove(waiter)
        except Exception as err:  # never into panoramisk's data_received
            print(f"recorder: {err!r}", file=sys.stderr)

    def mark(self) -> int:
        return len(self.events)

    async def wait(self, predicate: Callable[[dict], bool], since: int = 0, timeout: float = 30.0, what: str = "") -> dict:
        for event in self.events[since:]:
            if predicate(event):
                return event
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        waiter = (predicate, future)
        self._waiters.append(waiter)
        try:
            return await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            raise TimeoutError(f"no AMI event within {timeout} s: {what or predicate}") from None
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    async def new_channel_of(self, user: str, since: int, timeout: float = 10.0) -> dict:
        return await self.wait(
            lambda e: e.get("Event") == "Newchannel" and owner(e.get("Channel", "")) == user,
            since, timeout, f"a channel of {user}",
        )

    async def bridged_agent(self, caller: str, since: int, timeout: float) -> dict:
        """The BridgeEnter of the agent leg that took this caller's call."""
        return await self.wait(
            lambda e: e.get("Event") == "BridgeEnter" and owner(e.get("Channel", "")) in AGENTS
            and caller in (e.get("CallerIDNum"), e.get("ConnectedLineNum")),
            since, timeout, f"an agent bridged with {caller}",
        )

    async def quiet(self, timeout: float = 30.0) -> None:
        """Wait until no channel exists; after ``timeout`` hang up whatever is left."""
        deadline = time.monotonic() + timeout
        while self.live and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        if self.live:
            say(f"  ! channels still up after {timeout:.0f} s, hanging up: {sorted(self.live.values())}")
            for channel in list(self.live.values()):
                with contextlib.suppress(Exception):
                    await self.ami.action({"Action": "Hangup", "Channel": channel})
            await asyncio.sleep(1.0)


# ----------------------------------------------------------------------------------- analysis


@dataclass
class Chan:
    uniqueid: str
    name: str
    user: str
    created: float
    cid: str | None = None  # the caller number an agent leg carries
    ringing: float | None = None
    up: float | None = None
    hangup: float | None = None
    bridged: float | None = None
    moh: float | None = None  # first MusicOnHoldStart
    queue_join: float | None = None


@dataclass
class CallRecord:
    caller: Chan
    legs: list[Chan] = field(default_factory=list)  # agent legs, by ring start

    @property
    def enter(self) -> float | None:
        return self.caller.moh

    @property
    def rang(self) -> list[Chan]:
        return sorted((leg for leg in self.legs if leg.ringing is not None), key=lambda leg: leg.ringing)

    @property
    def answered(self) -> Chan | None:
        taken = [leg for leg in self.legs if leg.bridged is not None and leg.up is not None]
        return min(taken, key=lambda leg: leg.up) if taken else None


def index_channels(events: Iterable[dict]) -> dict[str, Chan]:
    chans: dict[str, Chan] = {}
    for e in events:
        uid = e.get("Uniqueid")
        name = e.get("Event")
        if not uid:
            continue
        if name == "Newchannel":
            chans[uid] = Chan(uid, e.get("Channel", ""), owner(e.get("Channel", "")), e["ts"])
            continue
        chan = chans.get(uid)
        if chan is None:
            continue
        if chan.user in AGENTS and chan.cid is None:
            for key in ("CallerIDNum", "ConnectedLineNum"):
                if e.get(key) in CALLERS:
                    chan.cid = e[key]
                    break
        if name == "Newstate":
            state = e.get("ChannelStateDesc")
            if state == "Ringing" and chan.ringing is None:
                chan.ringing = e["ts"]
            elif state == "Up" and chan.up is None:
                chan.up = e["ts"]
        elif name == "Hangup":
            chan.hangup = e["ts"]
        elif name == "BridgeEnter" and chan.bridged is None:
            chan.bridged = e["ts"]
        elif name == "MusicOnHoldStart" and chan.moh is None:
            chan.moh = e["ts"]
        elif name == "QueueCallerJoin" and chan.queue_join is None:
            chan.queue_join = e["ts"]
    return chans


def calls_of(events: list[dict], caller_uids: Iterable[str]) -> dict[str, CallRecord]:
    """The caller channels named, each with the agent legs that carried its number while it lived."""
    chans = index_channels(events)
    records: dict[str, CallRecord] = {}
    for uid in caller_uids:
        if uid in chans:
            records[uid] = CallRecord(chans[uid])
    for chan in chans.values():
        if chan.user not in AGENTS or chan.cid is None:
            continue
        for record in records.values():
            c = record.caller
            if c.user == chan.cid and c.created <= chan.created <= (c.hangup or math.inf):
                record.legs.append(chan)
                break
    for record in records.values():
        record.legs.sort(key=lambda leg: leg.ringing or leg.created)
    return records


def median(values: list[float]) -> float | None:
    return percentile(values, 50)


def percentile(values: list[float], pct: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    k = (len(s) - 1) * pct / 100
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def summary(values: list[float]) -> dict[str, Any]:
    return {
        "median": _round(median(values)),
        "p95": _round(percentile(values, 95)),
        "min": _round(min(values) if values else None),
        "max": _round(max(values) if values else None),
        "n": len(values),
    }


def _round(value: float | None) -> float | None:
    if value is None:
        return None
    return round(value, 2) if abs(value) < 100 else round(value, 1)


# ----------------------------------------------------------------------------------- phones


def caller_of(event: dict) -> str:
    match = re.search(r"sip:([^@;>]+)@", str(event.get("peeruri", "")))
    return match.group(1) if match else ""


class BenchPhone(Softphone):
    """A softphone whose answering is decided per incoming call by ``policy`` (None: never)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, answer="manual", answer_after=None, **kwargs)
        self.policy: Callable[[BenchPhone, dict], float | None] | None = None
        self._accepts: dict[str, asyncio.Task] = {}

    async def _on_event(self, event: dict[str, Any]) -> None:
        await super()._on_event(event)
        kind, call = event.get("type"), str(event.get("id", ""))
        if kind == "CALL_INCOMING" and self.policy is not None:
            delay = self.policy(self, event)
            if delay is not None:
                self._accepts[call] = asyncio.create_task(self._accept_in(delay, call))
        elif kind == "CALL_CLOSED":
            task = self._accepts.pop(call, None)
            if task is not None:
                task.cancel()

    async def _accept_in(self, delay: float, call: str) -> None:
        await asyncio.sleep(delay)
        self._accepts.pop(call, None)
        with contextlib.suppress(SoftphoneError):  # the ring may have ended meanwhile
            await self.accept()

    async def stop(self) -> None:
        for task in self._accepts.values():
            task.cancel()
        await super().stop()


async def start_phones(users: list[tuple[str, str]], host: str, port: int, batch: int = 8) -> list[BenchPhone]:
    """Start and register phones a few at a time; a phone whose random ports were taken is retried."""

    async def one(user: str, password: str) -> BenchPhone:
        for attempt in range(4):
            phone = BenchPhone(user, password, host, port)
            try:
                await phone.start()
                return phone
            except SoftphoneError:
                phone.cleanup()
                if attempt == 3:
                    raise
        raise AssertionError("unreachable")

    phones: list[BenchPhone] = []
    for i in range(0, len(users), batch):
        phones += await asyncio.gather(*(one(u, p) for u, p in users[i : i + batch]))
    return phones


def answer_after(delay: float) -> Callable[[BenchPhone, dict], float | None]:
    return lambda _phone, _event: delay


class DeclineFirstOffer:
    """Leave the first offer of each call ringing out; answer any later offer after ``delay``.

    An agent never misses twice in a row (it answers after a miss), so an ACD that pauses
    agents after two misses in a row keeps them all.
    """

    def __init__(self, delay: float = 0.3) -> None:
        self.delay = delay
        self.offers: dict[str, int] = {}  # caller number -> offers seen for its current call
        self.missed_last: set[str] = set()

    def new_call(self, caller: str) -> None:
        self.offers[caller] = 0

    def __call__(self, phone: BenchPhone, event: dict) -> float | None:
        caller = caller_of(event)
        seen = self.offers.get(caller, 0)
        self.offers[caller] = seen + 1
        if seen == 0 and phone.user not in self.missed_last:
            self.missed_last.add(phone.user)
            return None
        self.missed_last.discard(phone.user)
        return self.delay


# Busy-hour mixes: each agent's answer behaviour, as (kind, agents, bands); a band is (share of
# offers, answer delay range in seconds, or None: never answers).  Delays past 10 s are rings that
# run out of the window; the same draws are replayed on both sides.
MIXES: dict[str, tuple[tuple[str, tuple[str, ...], tuple[tuple[float, tuple[float, float] | None], ...]], ...]] = {
    # the busy hour: six prompt operators, two slow, two absent-minded
    "busy": (
        ("prompt", AGENTS[:6], ((0.02, None), (0.98, (0.5, 4.0)))),
        ("slow", AGENTS[6:8], ((0.05, None), (0.95, (2.0, 12.0)))),
        ("absent-minded", AGENTS[8:], ((0.40, None), (0.60, (1.0, 8.0)))),
    ),
    # every operator alike, at random: nobody's history says more than anybody else's
    "uniform": (
        ("alike", AGENTS, ((0.75, (0.5, 4.0)), (0.15, (4.0, 9.0)), (0.10, None))),
    ),
}
PROFILES = MIXES["busy"]
HOURS = {"busy_hour_two_ring_share": "busy", "uniform_hour_two_ring_share": "uniform"}  # scenario -> mix


def profile_kind(mix: str, agent: str) -> str:
    return next((kind for kind, agents, _ in MIXES[mix] if agent in agents), "?")


class AgentProfile:
    """One agent's seeded answer behaviour: the k-th offer gets the k-th draw on both sides.

    Two draws per offer whatever the band (the band, then a delay), so the busy mix replays the
    same hour as earlier versions of this script for the same ``--seed``.
    """

    def __init__(self, seed: int, agent: str, mix: str = "busy") -> None:
        self.rng = random.Random(f"{seed}-{agent}" if mix == "busy" else f"{seed}-{mix}-{agent}")
        self.bands = next(p[2] for p in MIXES[mix] if agent in p[1])
        self.fallback = next(band for _, band in self.bands if band is not None)

    def __call__(self, _phone: BenchPhone, _event: dict) -> float | None:
        r = self.rng.random()
        band = self.bands[-1][1]
        for share, candidate in self.bands:
            if r < share:
                band = candidate
                break
            r -= share
        delay = self.rng.uniform(*(band or self.fallback))
        return None if band is None else delay


# ----------------------------------------------------------------------------------- inside ours


class Probe:
    """What our controller decided, read in-process (it runs in this process): only what the phones
    cannot tell.  The estimate a caller is given (``Acd.estimated_wait``) when the call starts waiting
    and at each hold announcement, the offers by kind (first, guard, pair, all), the core's agent
    states (auto-pauses, auto-resumes; the trace's "who was free").  Wraps the core's ``handle`` and
    ``estimated_wait`` on the adapter's instance; nothing in the controller is changed.
    """

    def __init__(self) -> None:
        self.waits: dict[str, tuple[float, int | None, float | None]] = {}  # call id -> (at, position, estimate)
        self.announced: list[tuple[str, float, float | None]] = []  # (call id, at, estimate) the adapter asked for
        self.offers: dict[str, list[tuple[float, str, str]]] = {}  # call id -> [(at, agent, kind)]
        self.states: dict[str, list[tuple[float, str, str | None]]] = {}  # agent -> [(at, state, reason)]
        self.auto_pauses: list[tuple[float, str]] = []  # (at, agent): paused for missed calls
        self.auto_resumes: list[tuple[float, str]] = []
        self.errors = 0

    def attach(self, adapter: Any) -> None:
        from callcenter import acd as core

        self.core = core
        acd = adapter.acd
        now = time.time()
        for agent in acd.agents.values():
            self.states[agent.agent_id] = [(now, agent.state.value, agent.pause_reason)]
        handle, estimate = acd.handle, acd.estimated_wait

        def traced_handle(event: Any) -> list:
            out = handle(event)
            try:
                self._seen(acd, estimate, event, out)
            except Exception as err:  # never into the controller
                self.errors += 1
                print(f"probe: {err!r}", file=sys.stderr)
            return out

        def traced_estimate(call_id: str, at: float) -> float | None:
            value = estimate(call_id, at)
            self.announced.append((call_id, at, value))
            return value

        acd.handle = traced_handle
        acd.estimated_wait = traced_estimate

    def _seen(self, acd: Any, estimate: Callable, event: Any, out: list) -> None:
        core = self.core
        at = event.at
        if isinstance(event, core.CallWaiting):
            position = acd.position(event.call_id)  # None: offered at once, it never waited
            self.waits[event.call_id] = (at, position, estimate(event.call_id, at) if position is not None else None)
        for command in out:
            if isinstance(command, core.Offer):
                self.offers.setdefault(command.call_id, []).append((at, command.agent_id, command.kind))
            elif isinstance(command, core.AgentStateChanged):
                self.states.setdefault(command.agent_id, []).append((at, command.state.value, command.reason))
                if command.state == core.AgentState.PAUSED and command.reason == core.MISSED_CALLS:
                    self.auto_pauses.append((at, command.agent_id))
                elif command.reason == getattr(core, "AUTO_RESUMED", None):
                    self.auto_resumes.append((at, command.agent_id))

    def state_at(self, agent: str, at: float) -> str:
        state = "?"
        for t, value, _ in self.states.get(agent, []):
            if t > at:
                break
            state = value
        return state

    def free_at(self, at: float) -> list[str]:
        return [a for a in sorted(self.states) if self.state_at(a, at) == "available"]

    def kinds_by_count(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for offers in self.offers.values():
            for _, _, kind in offers:
                counts[kind] = counts.get(kind, 0) + 1
        return counts

    def kind_of(self, call_id: str, leg: Chan) -> str:
        """The kind of the offer that made this leg: the agent's last offer of the call before its channel."""
        kinds = [kind for at, agent, kind in self.offers.get(call_id, []) if agent == leg.user and at <= leg.created + 0.5]
        return kinds[-1] if kinds else "?"


# ----------------------------------------------------------------------------------- the bench


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.notes: list[str] = []
        self.state_dir = Path(tempfile.mkdtemp(prefix="callcenter-bench-"))
        self.root = args.root or cs.AsteriskSettings().root
        self.settings = bench_settings(self.state_dir, self.root, {}, self.notes)
        self.rec: Recorder | None = None
        self.agents: dict[str, BenchPhone] = {}
        self.callers: list[BenchPhone] = []
        self.free_callers: asyncio.Queue[BenchPhone] = asyncio.Queue()
        self.runner: Any = None
        self.side = ""
        self.probe: Probe | None = None  # ours: what the controller decided (see Probe)
        self.acd_points: tuple[float | None, float | None] = (None, None)  # ours: SLA guard, escalation (s into the ring)

    # -- lifecycle ------------------------------------------------------------------------------

    def start_asterisk(self) -> None:
        s = self.settings
        embedded.stop(s)  # a leftover of an interrupted run
        with contextlib.suppress(FileNotFoundError):
            s.queue_log_path.unlink()
        embedded.start(s)
        # AMI events stamped by Asterisk: the figures do not depend on this process's event loop.
        etc = Path(self.root) / str(embedded.layout(s).etc).lstrip("/")
        manager = etc / "manager.conf"
        text = manager.read_text(encoding="utf-8")
        if "timestampevents" not in text:
            manager.write_text(text.replace("[general]\n", "[general]\ntimestampevents = yes\n", 1), encoding="utf-8")
            embedded.rx(s, "manager reload")

    async def start(self) -> None:
        self.rec = Recorder(self.settings)
        await self.rec.start()
        probe = self.rec.mark()
        await self.rec.ami.action({"Action": "UserEvent", "UserEvent": "BenchProbe"})
        event = await self.rec.wait(lambda e: e.get("Event") == "UserEvent", probe, 5, "probe")
        if "Timestamp" not in event:
            raise RuntimeError("AMI events carry no Timestamp header (timestampevents did not apply)")
        host, port = self.settings.asterisk.sip_host, self.settings.asterisk.sip_port
        self.callers = await start_phones(
            [(user, cs.caller_password(self.settings, user)) for user in CALLERS[: self.args.callers]], host, port
        )
        for phone in self.callers:
            self.free_callers.put_nowait(phone)

    async def close(self) -> None:
        await self.stop_controller()
        for phone in [*self.agents.values(), *self.callers]:
            with contextlib.suppress(Exception):
                await phone.stop()
            phone.cleanup()
        self.agents.clear()
        if self.rec is not None:
            await self.rec.close()

    def stop_asterisk(self) -> None:
        embedded.stop(self.settings)

    # -- agents ---------------------------------------------------------------------------------

    async def set_agents(self, wanted: Iterable[str], policy: Callable[[str], Callable | None]) -> None:
        """Exactly these agents' phones registered, each answering by ``policy(agent)``."""
        assert self.rec is not None
        wanted = list(wanted)
        host, port = self.settings.asterisk.sip_host, self.settings.asterisk.sip_port
        for user in [u for u in self.agents if u not in wanted]:
            phone = self.agents.pop(user)
            await phone.stop()
            phone.cleanup()
        new = await start_phones([(u, self.settings.agent(u).sip_password) for u in wanted if u not in self.agents], host, port)
        self.agents.update({p.user: p for p in new})
        for user, phone in self.agents.items():
            phone.policy = policy(user)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            states = {a: self.rec.devices.get(f"PJSIP/{a}", "UNKNOWN") for a in AGENTS}
            if all((states[a] == "NOT_INUSE") == (a in wanted) for a in AGENTS):
                return
            await asyncio.sleep(0.05)
        raise RuntimeError(f"agent phones did not reach the wanted registrations: {states}")

    # -- controller -----------------------------------------------------------------------------

    async def use(self, side: str, acd: dict[str, Any] | None = None) -> None:
        """Route the hotline through ``side``: start our controller, or make sure none listens."""
        await self.stop_controller()
        self.side = side
        if side == "app_queue":
            if not _port_free(self.settings.agi.host, self.settings.agi.port):
                raise RuntimeError(f"something listens on FastAGI port {self.settings.agi.port}: not app_queue")
            return
        from aiohttp import web

        from callcenter.app import create_app

        settings = bench_settings(self.state_dir, self.root, acd or {}, self.notes)
        self._forget_chosen_states(settings)
        self.runner = web.AppRunner(create_app(settings), access_log=None)
        await self.runner.setup()
        from callcenter import keys

        self.probe = Probe()
        self.probe.attach(self.runner.app[keys.ADAPTER])
        a = settings.acd
        self.acd_points = (a.sla_guard_after or None, getattr(a, "escalate_after", 0.0) or None)
        await web.TCPSite(self.runner, settings.web.host, settings.web.port).start()
        await self._controller_ready(settings)

    def _forget_chosen_states(self, settings: cs.Settings) -> None:
        """Every scenario starts with every operator available: the operators' chosen states the last
        controller kept in the database (a pause for missed calls from the previous busy hour) go."""
        path = settings.state_path / "callcenter.db"
        if not settings.database.url and path.exists():
            with contextlib.closing(sqlite3.connect(path)) as db, contextlib.suppress(sqlite3.Error), db:
                db.execute("DELETE FROM agent_states")

    def app_queue_autopause(self) -> str:
        """The fallback queue's ``autopause`` as configured ("no" when not set: Asterisk's default)."""
        etc = Path(self.root) / str(embedded.layout(self.settings).etc).lstrip("/")
        section, value = "", "no"
        with contextlib.suppress(OSError):
            for line in (etc / "queues.conf").read_text(encoding="utf-8").splitlines():
                line = line.split(";", 1)[0].strip()
                if line.startswith("["):
                    section = line.strip("[]")
                elif section in ("general", self.settings.asterisk.fallback_queue) and line.split("=")[0].strip() == "autopause":
                    value = line.split("=", 1)[1].strip().lstrip(">").strip()
        return value

    async def _controller_ready(self, settings: cs.Settings) -> None:
        """/health says AMI is up (its public "status", or an older version's "ami") and the registered
        agents are in (the in-process controller's ACD: /health details need a supervisor's login)."""
        url = f"http://{settings.web.host}:{settings.web.port}/health"
        deadline = time.monotonic() + 20
        body: Any = None
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                with contextlib.suppress(aiohttp.ClientError, json.JSONDecodeError):
                    async with http.get(url) as response:
                        body = await response.json()
                ami_ok = isinstance(body, dict) and (body.get("status") == "ok" or body.get("ami", {}).get("connected"))
                states = (body or {}).get("acd", {}).get("agents") if isinstance(body, dict) else None
                if states is None and self.runner is not None:
                    from callcenter import keys

                    adapter = self.runner.app.get(keys.ADAPTER)
                    states = {a.agent_id: a.state.value for a in adapter.acd.agents.values()} if adapter else None
                if ami_ok and states is None:
                    await asyncio.sleep(1.0)  # this version does not say: let it read device states
                    return
                if ami_ok and all(states.get(a) == "available" for a in self.agents):
                    return
                await asyncio.sleep(0.1)
        raise RuntimeError(f"controller not ready within 20 s: {body}")

    async def stop_controller(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    # -- calls ----------------------------------------------------------------------------------

    async def caller(self) -> BenchPhone:
        return await self.free_callers.get()

    async def dial(self, phone: BenchPhone) -> dict:
        """Dial the hotline; return the caller channel's Newchannel event."""
        assert self.rec is not None
        since = self.rec.mark()
        await phone.dial(HOTLINE)
        return await self.rec.new_channel_of(phone.user, since)

    async def end(self, phone: BenchPhone, chan: dict, hang_up: bool = True) -> None:
        """Hang up (if still up), wait until Asterisk dropped the caller's channel, free the phone."""
        assert self.rec is not None
        uid = chan.get("Uniqueid")
        if hang_up and uid in self.rec.live:
            with contextlib.suppress(SoftphoneError):
                await phone.hangup()
        with contextlib.suppress(TimeoutError):
            await self.rec.wait(lambda e: e.get("Event") == "Hangup" and e.get("Uniqueid") == uid, 0, 15, "caller hangup")
        await asyncio.sleep(0.1)  # let the phone see its CALL_CLOSED
        self.free_callers.put_nowait(phone)

    def check_side(self, records: dict[str, CallRecord]) -> None:
        """Our calls must not have gone through app_queue (the controller failing falls back to it)."""
        if self.side != "ours":
            return
        fell = [r.caller.name for r in records.values() if r.caller.queue_join is not None]
        if fell:
            note = f"ours: {len(fell)} call(s) fell through to app_queue (controller failed them): excluded"
            self.notes.append(note)
            say(f"  ! {note}")
            for uid in [u for u, r in records.items() if r.caller.queue_join is not None]:
                del records[uid]


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((host, port)) != 0


# ----------------------------------------------------------------------------------- scenarios


async def idle_to_ring(bench: Bench, n: int) -> dict[str, Any]:
    """Every agent idle; a caller enters the ACD -> an agent's phone rings."""
    rec = bench.rec
    assert rec is not None
    start = rec.mark()
    uids = []
    for _ in range(n):
        phone = await bench.caller()
        chan = await bench.dial(phone)
        await rec.bridged_agent(phone.user, chan["i"], 20)
        await asyncio.sleep(0.2)
        await bench.end(phone, chan)
        await rec.quiet()
        uids.append(chan["Uniqueid"])
        await asyncio.sleep(random.uniform(0.1, 0.4))
    records = calls_of(rec.events[start:], uids)
    bench.check_side(records)
    ring, dial = [], []
    for r in records.values():
        if r.enter is None or not r.rang:
            continue
        first = r.rang[0]
        ring.append((first.ringing - r.enter) * 1000)
        dial.append((first.created - r.enter) * 1000)
    return {"values": ring, "dial_ms": dial}


async def freed_to_ring(bench: Bench, n: int) -> dict[str, Any]:
    """One agent on a call, one caller waiting; the agent hangs up -> the waiting call rings there."""
    rec = bench.rec
    assert rec is not None
    agent = bench.agents[AGENTS[0]]
    start = rec.mark()
    first = await bench.caller()
    talking = await bench.dial(first)
    await rec.bridged_agent(first.user, talking["i"], 20)
    talking_phone = first
    pairs: list[tuple[str, str]] = []
    for _ in range(n):
        phone = await bench.caller()
        waiting = await bench.dial(phone)
        uid = waiting["Uniqueid"]
        await rec.wait(lambda e: e.get("Event") == "MusicOnHoldStart" and e.get("Uniqueid") == uid, waiting["i"], 10, "caller on hold")
        # A random moment: app_queue checks its waiting callers once a second.
        await asyncio.sleep(random.uniform(0.3, 1.3))
        await agent.hangup()
        await rec.bridged_agent(phone.user, waiting["i"], 20)
        pairs.append((talking["Uniqueid"], uid))
        await bench.end(talking_phone, talking, hang_up=False)  # the agent's hang-up ended it
        talking, talking_phone = waiting, phone
    await asyncio.sleep(0.2)
    await bench.end(talking_phone, talking)
    await rec.quiet()
    records = calls_of(rec.events[start:], [u for pair in pairs for u in pair])
    bench.check_side(records)
    values = []
    for before, after in pairs:
        a, b = records.get(before), records.get(after)
        if a is None or b is None or a.answered is None or a.answered.hangup is None:
            continue
        freed = a.answered.hangup
        rings = [leg.ringing for leg in b.rang if leg.ringing >= freed]
        if rings:
            values.append((rings[0] - freed) * 1000)
    return {"values": values}


async def missed_to_next_ring(bench: Bench, n: int, concurrent: int = 5) -> dict[str, Any]:
    """The first agent rung lets it ring out -> the next agent's phone rings."""
    rec = bench.rec
    assert rec is not None
    policy: DeclineFirstOffer = bench.agents[AGENTS[0]].policy  # shared by all agents
    start = rec.mark()
    uids: list[str] = []
    values: list[float] = []
    same_agent = guard_first = 0

    async def one(delay: float) -> None:
        await asyncio.sleep(delay)
        phone = await bench.caller()
        policy.new_call(phone.user)
        chan = await bench.dial(phone)
        uids.append(chan["Uniqueid"])
        with contextlib.suppress(TimeoutError):
            await rec.bridged_agent(phone.user, chan["i"], 45)
            await asyncio.sleep(0.3)
        await bench.end(phone, chan)

    rounds = 0
    while len(values) < n and rounds < 3 + 3 * n // concurrent:
        rounds += 1
        await asyncio.gather(*(one(0.4 * k) for k in range(concurrent)))
        await rec.quiet()
        records = calls_of(rec.events[start:], uids)
        bench.check_side(records)
        kept: list[tuple[float, bool]] = []
        guard_first = 0
        for r in records.values():
            rang = r.rang
            if len(rang) < 2 or rang[0].up is not None or rang[0].hangup is None:
                continue
            missed, following = rang[0], rang[1]
            if following.ringing < missed.hangup:
                guard_first += 1  # a second ring before the first ran out (SLA guard)
                continue
            kept.append(((following.ringing - missed.hangup) * 1000, following.user == missed.user))
        kept = kept[:n]
        values = [value for value, _ in kept]
        same_agent = sum(same for _, same in kept)
        say(f"    round {rounds}: {len(values)} samples so far")
    return {"values": values, "same_agent_again": same_agent, "guard_rang_before_miss": guard_first}


def busy_schedule(seed: int, seconds: float, rate: float) -> list[tuple[float, float, str]]:
    """Poisson arrivals: (arrival second, talk seconds, who hangs up)."""
    rng = random.Random(f"{seed}-arrivals")
    t, out = 0.0, []
    while True:
        t += rng.expovariate(rate)
        if t >= seconds:
            return out
        out.append((t, rng.uniform(5.0, 20.0), rng.choice(("caller", "agent"))))


async def busy_hour(bench: Bench, seconds: float, seed: int, rate: float, ring_window: float, mix: str = "busy") -> dict[str, Any]:
    rec = bench.rec
    assert rec is not None
    schedule = busy_schedule(seed, seconds, rate)
    start = rec.mark()
    uids: list[str] = []
    skipped = gave_up = 0
    t0 = time.monotonic()

    async def one(at: float, talk: float, by: str) -> None:
        nonlocal skipped, gave_up
        await asyncio.sleep(max(0.0, at - (time.monotonic() - t0)))
        if bench.free_callers.empty():
            skipped += 1
            return
        phone = await bench.caller()
        chan = await bench.dial(phone)
        uids.append(chan["Uniqueid"])
        try:
            bridged = await rec.bridged_agent(phone.user, chan["i"], bench.args.patience)
        except TimeoutError:
            gave_up += 1
            await bench.end(phone, chan)
            return
        await asyncio.sleep(talk)
        agent = bench.agents.get(owner(bridged.get("Channel", "")))
        if by == "agent" and agent is not None and chan["Uniqueid"] in rec.live:
            with contextlib.suppress(SoftphoneError):
                await agent.hangup()
        await bench.end(phone, chan)

    await asyncio.gather(*(one(*call) for call in schedule))
    await rec.quiet()
    events = rec.events[start:]
    records = calls_of(events, uids)
    bench.check_side(records)
    out = hour_figures(bench, records, events, ring_window, mix)
    out.update(calls=len(schedule), skipped_no_phone=skipped, gave_up_at_patience=gave_up)
    return out


def hour_figures(bench: Bench, records: dict[str, CallRecord], events: list[dict], ring_window: float, mix: str) -> dict[str, Any]:
    """The busy hour's figures for one side, from the phones (AMI), plus what only our controller knows."""
    probe = bench.probe if bench.side == "ours" else None
    offered = within = abandoned = abandoned_ringing = 0
    waits, first_ring_to_answer = [], []
    late: list[CallRecord] = []
    for r in records.values():
        taken = r.answered
        if taken is None:  # the caller hung up before any answer (patience), whatever rang
            abandoned += 1
            end = r.caller.hangup or math.inf
            abandoned_ringing += any(leg.ringing is not None and leg.ringing <= end <= (leg.hangup or math.inf) + 0.5
                                     for leg in r.legs)
        if not r.rang:
            continue
        offered += 1
        first = r.rang[0].ringing
        if taken is None or taken.up - first > ring_window:
            late.append(r)
        if taken is None:
            continue
        first_ring_to_answer.append(taken.up - first)
        within += taken.up - first <= ring_window
        if r.enter is not None:
            waits.append(taken.up - r.enter)
    legs = sum(len(r.legs) for r in records.values())
    answered = sum(1 for r in records.values() if r.answered is not None)
    misses = sum(1 for r in records.values() for leg in r.rang if leg.up is None)
    overlapping = sum(1 for r in records.values() if _overlap(r.rang))
    wait = summary(waits)
    out: dict[str, Any] = {
        "mix": mix,
        "share": within / offered if offered else None,
        "entered": len(records),
        "offered": offered,
        "answered_within": within,
        "answered": answered,
        "abandoned": abandoned,
        "abandoned_share": abandoned / len(records) if records else None,
        "abandoned_while_ringing": abandoned_ringing,
        "offers": legs,
        "offers_per_answered": legs / answered if answered else None,
        "guard_rings": sum(guard_rings(r) for r in records.values()),
        "rings_not_answered": misses,
        "calls_rung_at_two_agents_at_once": overlapping,
        "wait_s": wait,
        "first_ring_to_answer_s": summary(first_ring_to_answer),
    }
    if probe is not None:
        out["auto_pauses"] = len(probe.auto_pauses)
        out["auto_pauses_note"] = (f"paused for missed calls by the core ({len(probe.auto_resumes)} auto-resumed): "
                                   + ", ".join(f"{agent} ({profile_kind(mix, agent)})" for _, agent in probe.auto_pauses))
        out["auto_resumes"] = len(probe.auto_resumes)
        out["offers_by_kind"] = probe.kinds_by_count()
        out["eta"] = eta_error(records, probe)
        if probe.errors:
            bench.notes.append(f"probe: {probe.errors} error(s) reading the controller's decisions")
    else:
        configured = bench.app_queue_autopause()
        paused = sum(1 for e in events if e.get("Event") == "QueueMemberPause" and str(e.get("Paused")) == "1")
        out["auto_pauses"] = paused if configured.lower() not in ("no", "0", "false") else 0
        out["auto_pauses_note"] = (f"autopause = {configured}: {paused} QueueMemberPause" if configured.lower() not in ("no", "0", "false")
                                   else "autopause not configured in queues.conf (Asterisk's default: no), so 0")
        out["eta"] = {"median_abs_s": None, "note": "n/a: app_queue's own holdtime estimate is not comparable "
                      "(announce-frequency = 0: it announces nothing)"}
    out["late"] = late_summary(bench, late, ring_window, probe, mix)
    if bench.args.trace:
        for r in sorted(late, key=lambda r: r.caller.created):
            say(f"    {bench.side} late: {trace(r, probe, mix, bench.acd_points)}")
    return out


def guard_rings(r: CallRecord) -> int:
    """Phones that started ringing while another phone already rang for the same caller
    (SLA guard, pairing, escalation; app_queue's parallel rings if it had any)."""
    legs = r.rang
    count = 0
    for j, leg in enumerate(legs):
        for other in legs[:j]:
            ends = [t for t in (other.up, other.hangup) if t is not None]
            if other.ringing <= leg.ringing < (min(ends) if ends else math.inf):
                count += 1
                break
    return count


def eta_error(records: dict[str, CallRecord], probe: Probe) -> dict[str, Any]:
    """The estimate a waiting call got (sampled when it started waiting) against its real wait.

    Real wait: entering the ACD (first MusicOnHoldStart) -> the answer, from the phones.  Calls
    offered at once never waited (no estimate) and calls never answered have no real wait: both
    are counted, not compared.  The core's estimate is "until an operator is offered the call", so
    the error to the first ring is given too; and the estimates the hold announcements used.
    """
    errors, to_ring = [], []
    immediate = no_estimate = unanswered = 0
    for uid, r in records.items():
        sample = probe.waits.get(uid)
        if sample is None or r.enter is None:
            continue
        _, position, estimate = sample
        if position is None:
            immediate += 1
            continue
        if estimate is None:
            no_estimate += 1
            continue
        taken = r.answered
        if taken is None:
            unanswered += 1
            continue
        errors.append(estimate - (taken.up - r.enter))
        if r.rang:
            to_ring.append(estimate - (r.rang[0].ringing - r.enter))
    heard = []
    for call_id, at, estimate in probe.announced:
        r = records.get(call_id)
        if r is not None and estimate is not None and r.answered is not None:
            heard.append(estimate - (r.answered.up - at))
    return {
        "median_abs_s": _round(median([abs(e) for e in errors])),
        "p95_abs_s": _round(percentile([abs(e) for e in errors], 95)),
        "median_signed_s": _round(median(errors)),  # > 0: the estimate was too long
        "n": len(errors),
        "to_first_ring_median_abs_s": _round(median([abs(e) for e in to_ring])),
        "offered_at_once": immediate,
        "no_estimate": no_estimate,
        "abandoned_with_estimate": unanswered,
        "announced_median_abs_s": _round(median([abs(e) for e in heard])),
        "announced_n": len(heard),
        "matched": sum(1 for uid in records if uid in probe.waits),
    }


def late_summary(bench: Bench, late: list[CallRecord], ring_window: float, probe: Probe | None, mix: str) -> dict[str, Any]:
    """Why offered calls were not answered within two rings: counted from the phones and, for ours,
    from the core's agent states (who was free at the guard and escalation points)."""
    out: dict[str, Any] = {"calls": len(late), "never_answered": sum(1 for r in late if r.answered is None)}
    first_kind: dict[str, int] = {}
    phones: dict[str, int] = {}
    first_missed = 0
    for r in late:
        first = r.rang[0]
        kind = profile_kind(mix, first.user)
        first_kind[kind] = first_kind.get(kind, 0) + 1
        first_missed += first.up is None
        n = sum(1 for leg in r.rang if leg.ringing <= first.ringing + ring_window)
        key = str(n) if n < 3 else "3+"
        phones[key] = phones.get(key, 0) + 1
    out["first_phone_profile"] = first_kind
    out["first_phone_not_answered"] = first_missed
    out["phones_rung_within_window"] = phones
    if probe is not None:
        guard, escalate = bench.acd_points
        nobody = {"at_guard": 0, "at_escalation": 0, "whole_window": 0}
        for r in late:
            t0 = r.rang[0].ringing
            rung = {leg.user for leg in r.rang}

            def free(t: float, rung: set[str] = rung) -> list[str]:
                return [a for a in probe.free_at(t) if a not in rung]

            nobody["at_guard"] += guard is not None and not free(t0 + guard)
            nobody["at_escalation"] += escalate is not None and not free(t0 + escalate)
            nobody["whole_window"] += all(not free(t0 + dt / 2) for dt in range(1, int(ring_window * 2)))
        out["no_other_operator_free"] = nobody
    return out


def _overlap(legs: list[Chan]) -> bool:
    """Two rings of one call at the same time (the SLA guard)."""
    for a, b in zip(legs, legs[1:]):
        if a.hangup is not None and b.ringing is not None and b.ringing < a.hangup and a.up is None:
            return True
    return any(b.ringing is not None and a.up is not None and b.ringing < a.up for a, b in zip(legs, legs[1:]))


def trace(r: CallRecord, probe: Probe | None = None, mix: str = "busy",
          points: tuple[float | None, float | None] = (None, None)) -> str:
    """One call's story relative to its first ring: who rang when (their profile, and for ours the
    offer's kind), answered or not; for ours, who else was free at the guard and escalation points."""
    t0 = r.rang[0].ringing if r.rang else r.caller.created
    rel = lambda t: "-" if t is None else f"{t - t0:+.2f}"  # noqa: E731
    uid = r.caller.uniqueid
    legs = "; ".join(
        f"{leg.user}[{profile_kind(mix, leg.user)}" + (f"/{probe.kind_of(uid, leg)}" if probe else "") + "]"
        + f" ring {rel(leg.ringing)} " + (f"up {rel(leg.up)}" if leg.up else "no answer")
        + f" end {rel(leg.hangup)}" + (" BRIDGED" if leg.bridged else "")
        for leg in r.legs
    )
    story = f"{r.caller.user} entered {rel(r.enter)}: {legs}"
    if r.answered is None:
        story += f"; caller hung up {rel(r.caller.hangup)}"
    if probe is not None and r.rang:
        moments = [(0.0, "ring")] + [(p, name) for p, name in zip(points, ("guard", "escalation")) if p is not None]
        states = []
        for dt, name in moments:
            at = t0 + dt
            counts: dict[str, int] = {}
            for agent in sorted(probe.states):
                state = probe.state_at(agent, at)
                counts[state] = counts.get(state, 0) + 1
            states.append(f"+{dt:g} ({name}) free {','.join(probe.free_at(at)) or 'none'} "
                          f"[{' '.join(f'{k}:{v}' for k, v in sorted(counts.items()))}]")
        story += " | " + "; ".join(states)
    return story


# ----------------------------------------------------------------------------------- main


async def run(args: argparse.Namespace) -> dict[str, Any]:
    bench = Bench(args)
    n = args.samples
    results: dict[str, dict[str, Any]] = {s: {} for s in SCENARIOS}
    wanted = [s for s in SCENARIOS if not args.only or s.split("_to_")[0].split("_")[0] in args.only or s in args.only]
    say(f"Asterisk instance {INSTANCE}: SIP {PORTS['sip']}, AMI {PORTS['ami']}, FastAGI {PORTS['agi']}, web {PORTS['web']}")
    t_start = time.monotonic()
    await asyncio.to_thread(bench.start_asterisk)
    try:
        await bench.start()
        ring_window = bench.settings.acd.ring_timeout
        say(f"ring window {ring_window:g} s (cadence {bench.settings.acd.ring_on:g} s on / {bench.settings.acd.ring_off:g} s off); "
            f"{n} samples per scenario; {len(bench.callers)} caller phones")
        for scenario in wanted:
            for side in [s for s in SIDES if not args.side or s in args.side]:
                t = time.monotonic()
                say(f"- {scenario} / {side}")
                if scenario == "idle_to_ring_ms":
                    await bench.set_agents(AGENTS, lambda a: answer_after(0.2))
                    await bench.use(side)
                    out = await idle_to_ring(bench, n)
                elif scenario == "freed_to_ring_ms":
                    await bench.set_agents(AGENTS[:1], lambda a: answer_after(0.1))
                    await bench.use(side)
                    out = await freed_to_ring(bench, n)
                elif scenario == "missed_to_next_ring_ms":
                    shared = DeclineFirstOffer()
                    await bench.set_agents(AGENTS, lambda a: shared)
                    # Measure the re-offer itself: no second ring before the miss, no pauses.
                    await bench.use(side, {"sla_guard_after": 0.0, "max_missed": 0})
                    out = await missed_to_next_ring(bench, n)
                else:
                    mix = HOURS[scenario]
                    await bench.set_agents(AGENTS, lambda a: AgentProfile(args.seed, a, mix))
                    await bench.use(side, dict(args.busy_acd))
                    out = await busy_hour(bench, args.busy_seconds, args.seed, args.rate, ring_window, mix)
                await bench.stop_controller()
                out["seconds"] = round(time.monotonic() - t, 1)
                results[scenario][side] = out
                if "values" in out:
                    s = summary(out["values"])
                    say(f"    median {s['median']} ms, p95 {s['p95']} ms, n={s['n']} ({out['seconds']} s)")
                else:
                    say(f"    share {out['share']}, offered {out['offered']}, waits median {out['wait_s']['median']} s ({out['seconds']} s)")
    finally:
        if args.dump_events and bench.rec is not None:
            Path(args.dump_events).write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in bench.rec.events) + "\n")
            say(f"AMI events written to {args.dump_events}")
        await bench.close()
        await asyncio.to_thread(bench.stop_asterisk)
        shutil.rmtree(bench.state_dir, ignore_errors=True)  # its secrets and database
    return report(results, bench.notes, time.monotonic() - t_start, ring_window)


def report(results: dict[str, dict[str, Any]], notes: list[str], elapsed: float, ring_window: float) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    blocks: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = []
    say("")
    say(f"{'figure':<34}{'ours median':>12}{'ours p95':>10}{'app_queue median':>18}{'aq p95':>9}{'ratio':>8}{'n':>8}")
    for scenario in SCENARIOS:
        sides = results[scenario]
        if not sides:
            continue
        if scenario in HOURS:
            hour = scenario.removesuffix("_two_ring_share")  # busy_hour, uniform_hour
            label = hour.split("_")[0] + " hour"
            figures[scenario] = {side: _round3(sides[side]["share"]) for side in sides}
            waits = {side: sides[side]["wait_s"] for side in sides}
            figures[f"{hour}_wait_s"] = {side: {"median": w["median"], "p95": w["p95"]} for side, w in waits.items()}
            figures[hour] = hour_json(HOURS[scenario], sides)
            o, a = figures[scenario].get("ours"), figures[scenario].get("app_queue")
            say(f"{label + ': answered in two rings':<34}{_fmt(o):>12}{'':>10}{_fmt(a):>18}{'':>9}{_ratio(o, a):>8}"
                f"{'/'.join(str(sides[s]['offered']) for s in sides):>8}")
            wo, wa = waits.get("ours", {}), waits.get("app_queue", {})
            say(f"{label + ': wait to answer (s)':<34}{_fmt(wo.get('median')):>12}{_fmt(wo.get('p95')):>10}"
                f"{_fmt(wa.get('median')):>18}{_fmt(wa.get('p95')):>9}{_ratio(wo.get('median'), wa.get('median')):>8}")
            blocks.append((label, scenario, sides, figures[hour]))
            continue
        stats = {side: summary(sides[side]["values"]) for side in sides}
        figures[scenario] = {side: {"median": s["median"], "p95": s["p95"]} for side, s in stats.items()}
        o, a = stats.get("ours", {}), stats.get("app_queue", {})
        say(f"{scenario:<34}{_fmt(o.get('median')):>12}{_fmt(o.get('p95')):>10}{_fmt(a.get('median')):>18}"
            f"{_fmt(a.get('p95')):>9}{_ratio(o.get('median'), a.get('median')):>8}{'/'.join(str(s['n']) for s in stats.values()):>8}")
        if scenario == "idle_to_ring_ms":
            d = {side: summary(sides[side]["dial_ms"]) for side in sides}
            say(f"{'  (to the dial, before 180)':<34}{_fmt(d.get('ours', {}).get('median')):>12}{_fmt(d.get('ours', {}).get('p95')):>10}"
                f"{_fmt(d.get('app_queue', {}).get('median')):>18}{_fmt(d.get('app_queue', {}).get('p95')):>9}")
        if scenario == "missed_to_next_ring_ms":
            for side in sides:
                say(f"    {side}: next ring at the same agent in {sides[side]['same_agent_again']} of {stats[side]['n']}; "
                    f"second ring before the miss (SLA guard) {sides[side]['guard_rang_before_miss']}")
    say(f"ratio = ours / app_queue (medians); n = samples ours/app_queue; ring window {ring_window:g} s")
    for label, scenario, sides, fig in blocks:
        hour_table(label, HOURS[scenario], sides, fig)
    for note in notes:
        say(f"note: {note}")
    say(f"total {elapsed:.0f} s")
    return figures


TWO_RING_TARGET = 0.98  # issue 11: offered calls answered within two rings, on each mix


def hour_json(mix: str, sides: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One mix's figures for the JSON line: each side, and the targets of issue 11 when both ran."""
    out: dict[str, Any] = {"mix": mix}
    for side, d in sides.items():
        eta = d["eta"]
        out[side] = {
            "two_ring_share": _round3(d["share"]),
            "offered": d["offered"],
            "answered_within_two_rings": d["answered_within"],
            "wait_median_s": d["wait_s"]["median"],
            "wait_p95_s": d["wait_s"]["p95"],
            "answered": d["answered"],
            "calls": d["entered"],
            "abandoned": d["abandoned"],
            "abandoned_share": _round3(d["abandoned_share"]),
            "offers": d["offers"],
            "offers_per_answered": _round3(d["offers_per_answered"]),
            "guard_rings": d["guard_rings"],
            "auto_pauses": d["auto_pauses"],
            "eta_error_median_abs_s": eta["median_abs_s"] if side == "ours" else "n/a",
        }
        if side == "ours":
            out[side].update(eta_error_n=eta["n"], eta_error_median_signed_s=eta["median_signed_s"],
                             auto_resumes=d["auto_resumes"], offers_by_kind=d["offers_by_kind"])
        else:
            out[side]["auto_pauses_note"] = d["auto_pauses_note"]
    if "ours" in sides and "app_queue" in sides:
        o, a = out["ours"], out["app_queue"]
        below = lambda x, y: x is not None and y is not None and x < y  # noqa: E731
        out["targets_met"] = {
            "two_ring_share_ge_0.98": o["two_ring_share"] is not None and o["two_ring_share"] >= TWO_RING_TARGET,
            "wait_median_below_app_queue": below(o["wait_median_s"], a["wait_median_s"]),
            "wait_p95_below_app_queue": below(o["wait_p95_s"], a["wait_p95_s"]),
            "abandonment_not_above_app_queue": (o["abandoned_share"] or 0) <= (a["abandoned_share"] or 0),
        }
    return out


def hour_table(label: str, mix: str, sides: dict[str, dict[str, Any]], fig: dict[str, Any]) -> None:
    """One mix side by side: ours, app_queue, the target and whether ours met it."""
    profiles = ", ".join(f"{len(agents)} {kind}" for kind, agents, _ in MIXES[mix])
    say("")
    say(f"{label} (mix '{mix}': {profiles})")
    say(f"  {'figure':<46}{'ours':>16}{'app_queue':>16}  target")
    o, a = fig.get("ours", {}), fig.get("app_queue", {})
    met = fig.get("targets_met", {})
    mark = lambda key: "" if key not in met else ("  met" if met[key] else "  MISSED")  # noqa: E731

    def row(name: str, ours: Any, aq: Any, target: str = "", key: str = "") -> None:
        say(f"  {name:<46}{ours:>16}{aq:>16}  {target}{mark(key)}")

    def of(d: dict, value: str, part: str, whole: str) -> str:
        return "-" if not d else f"{_fmt(d.get(value))} ({d.get(part)}/{d.get(whole)})"

    row("offered calls answered within two rings", of(o, "two_ring_share", "answered_within_two_rings", "offered"),
        of(a, "two_ring_share", "answered_within_two_rings", "offered"), f">= {TWO_RING_TARGET}", "two_ring_share_ge_0.98")
    row("wait, entering the ACD -> answer, median (s)", _fmt(o.get("wait_median_s")), _fmt(a.get("wait_median_s")),
        "< app_queue", "wait_median_below_app_queue")
    row("wait, p95 (s)", _fmt(o.get("wait_p95_s")), _fmt(a.get("wait_p95_s")), "< app_queue", "wait_p95_below_app_queue")
    row("abandoned (hung up before an answer)", of(o, "abandoned_share", "abandoned", "calls"),
        of(a, "abandoned_share", "abandoned", "calls"), "<= app_queue", "abandonment_not_above_app_queue")
    row("offers per answered call", _fmt(o.get("offers_per_answered")), _fmt(a.get("offers_per_answered")))
    row("guard rings (rung while another phone rang)", _fmt(o.get("guard_rings")), _fmt(a.get("guard_rings")))
    row("auto-pauses (paused for missed calls)", _fmt(o.get("auto_pauses")), _fmt(a.get("auto_pauses")) + ("*" if a else ""))
    ours_eta = "-" if not o else f"{_fmt(o.get('eta_error_median_abs_s'))} (n={o.get('eta_error_n')})"
    row("estimated-wait error, median |est - wait| (s)", ours_eta, "n/a" if a else "-")
    for side, d in sides.items():
        say(f"    {side}: {d['calls']} calls, {d['entered']} entered, {d['offered']} offered, {d['answered_within']} in two rings, "
            f"{d['answered']} answered, {d['abandoned']} abandoned ({d['abandoned_while_ringing']} while a phone rang), "
            f"{d['rings_not_answered']} rings not answered, {d['calls_rung_at_two_agents_at_once']} calls rung at two "
            f"phones at once, first ring->answer median {d['first_ring_to_answer_s']['median']} s p95 "
            f"{d['first_ring_to_answer_s']['p95']} s")
        if side == "ours":
            e = d["eta"]
            say(f"      offers by kind {d['offers_by_kind']}; {d['auto_pauses_note']}")
            say(f"      estimated wait (sampled as each call starts waiting, vs its real wait to answer): median |error| "
                f"{e['median_abs_s']} s, p95 {e['p95_abs_s']} s, median signed {e['median_signed_s']} s (> 0: too long), "
                f"n={e['n']}; to the first ring {e['to_first_ring_median_abs_s']} s; not compared: {e['offered_at_once']} "
                f"offered at once, {e['no_estimate']} without an estimate, {e['abandoned_with_estimate']} abandoned; "
                f"announced estimates median |error| {e['announced_median_abs_s']} s (n={e['announced_n']})")
        else:
            say(f"      * {d['auto_pauses_note']}; estimated wait: {d['eta']['note']}")
        late = d["late"]
        say(f"      not within two rings: {late['calls']} ({late['never_answered']} never answered); first phone by profile "
            f"{late['first_phone_profile']}, first phone not answering {late['first_phone_not_answered']}; phones rung in "
            f"the window {late['phones_rung_within_window']}"
            + (f"; no other operator free {late['no_other_operator_free']}" if "no_other_operator_free" in late else ""))


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and value < 1 and value > 0:
        return f"{value:.3f}"
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)


def _ratio(a: Any, b: Any) -> str:
    if not a or not b:
        return "-"
    r = a / b
    return f"{r:.3f}" if r < 0.1 else f"{r:.2f}"


def _round3(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="5 samples, 30 s busy hours")
    p.add_argument("--samples", type=int, help="samples per latency scenario (default 20, quick 5)")
    p.add_argument("--busy-seconds", type=float, help="length of the compressed busy hour (default 240, quick 30)")
    p.add_argument("--rate", type=float, default=0.5, help="busy hour: calls per second (Poisson)")
    p.add_argument("--patience", type=float, default=60.0, help="busy hour: seconds a caller waits before giving up")
    p.add_argument("--seed", type=int, default=7, help="arrivals and agents' answer delays (same on both sides)")
    p.add_argument("--callers", type=int, default=30, help="caller phones (at most 30)")
    p.add_argument("--busy-acd", action="append", default=[], metavar="KEY=VALUE",
                   help="busy hour: an [acd] setting for ours (e.g. sla_guard_after=0); default: the defaults")
    p.add_argument("--only", action="append", default=[], help="run only these scenarios: idle, freed, missed, busy, uniform (the two busy-hour mixes)")
    p.add_argument("--side", action="append", default=[], choices=SIDES, help="run only this side (repeatable)")
    p.add_argument("--dump-events", metavar="FILE", help="write every AMI event seen (JSON lines) to FILE")
    p.add_argument("--trace", action="store_true", help="busy hour: print every call not answered within two rings")
    p.add_argument("--root", help="the cached Asterisk root (default: the settings' default)")
    args = p.parse_args(argv)
    args.samples = args.samples or (5 if args.quick else 20)
    args.busy_seconds = args.busy_seconds or (30.0 if args.quick else 240.0)
    args.callers = max(4, min(args.callers, len(CALLERS)))
    args.busy_acd = [(k, _number(v)) for k, v in (item.split("=", 1) for item in args.busy_acd)]
    return args


def _number(text: str) -> Any:
    for kind in (int, float):
        with contextlib.suppress(ValueError):
            return kind(text)
    return {"true": True, "false": False}.get(text.lower(), text)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    return run_exclusive(INSTANCE, args.root, lambda: run(args))

if __name__ == "__main__":
    sys.exit(main())
