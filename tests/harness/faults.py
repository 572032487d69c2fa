"""Faults injected on the real Asterisk while traffic flows, and the rig that runs and checks it all.

``FaultRig`` puts together what tests/e2e/test_faults.py and bench/fault_soak.py share:

- settings for ten operators and a pool of callers (``write_settings``: a TOML file through the
  normal loader, so a controller subprocess reads exactly what an in-process one gets);
- the AMI relay (``harness.relay``): the controller's ``ami.port`` is the relay's;
- the controller, in this process (``InProcessController``: its ``Adapter.violations()`` is
  checked too) or as ``python -m callcenter --config FILE serve`` (``SubprocessController``: it can
  be SIGKILLed);
- the traffic (``harness.traffic``) and a sampler of the controller's ACD agent states;
- the four faults: ``ami_cut`` (relay refuses and cuts), ``asterisk_restart`` (``core restart now``,
  done when fully booted again), ``controller_kill`` (SIGKILL, started again after a pause),
  ``db_lock`` (a SQLite connection holding ``BEGIN EXCLUSIVE``);
- a pair (``mode="pair"``, issue 16): two controllers "a" and "b" (``PairController``, each a
  subprocess with ``[ha] enabled``) on one throw-away PostgreSQL database of the test cluster, each
  through its own TCP relay (so one controller's database can be cut), Asterisk's dialplan naming
  a's FastAGI first and b's second; the sampler reads whichever says it leads.  Two more faults:
  ``leader_kill`` (SIGKILL the leader) and ``leader_db_cut`` (its database relay cut and refused),
  each over when the other leads with AMI connected (``Takeover``: how long it took); the faulty one
  stays down.  ``LegWatch`` records every agent leg's ring from Asterisk's own AMI events, for the
  check that the two never ring phones at once;
- ``finish()``: stop arrivals, let calls end, wait for the tickets, read them and queue_log, and
  run ``harness.checker.check``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import re
import secrets
import shutil
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from callcenter import asterisk as embedded
from callcenter import settings as cs
from callcenter.exceptions import AsteriskError
from harness.checker import Fault, LegSpan, Report, Sample, TicketView, check
from harness.env import TEST_INSTANCE, TEST_PORTS
from harness.queue_log import read_queue_log
from harness.relay import AmiRelay
from harness.traffic import Load, Traffic

REPO = Path(__file__).resolve().parents[2]
FAULTS = ("ami_cut", "asterisk_restart", "controller_kill", "db_lock")
PAIR_FAULTS = ("leader_kill", "leader_db_cut")  # mode "pair" only
PAIR = ("a", "b")  # a leads first; Asterisk tries a's FastAGI, then b's
RECOVERY_WINDOW = 15.0  # s after a fault ends by which every operator must be back in their state


# -- settings ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Site:
    """Which Asterisk instance, its ports, and who is on it."""

    root: str
    instance: str
    ports: Mapping[str, int]  # sip, ami, agi, web
    node: str
    operators: tuple[str, ...] = tuple(str(1001 + n) for n in range(10))
    callers: tuple[str, ...] = tuple(str(2001 + n) for n in range(24))
    acd: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def test(cls, root: str | None = None, **kwargs: Any) -> Site:
        """The e2e test instance (harness.env's ports and name), with the tests' short ring cadence."""
        acd = {"ring_on": 0.2, "ring_off": 0.8, "wrap_up": 0, "sla_guard_after": 0}
        return cls(root or cs.AsteriskSettings().root, TEST_INSTANCE, TEST_PORTS, "pbx-test", acd=acd, **kwargs)


def write_settings(
    site: Site, state_dir: Path, name: str, *, ami_port: int | None = None, db_url: str | None = None,
    log_level: str = "info", notes: list[str] | None = None, agi_port: int | None = None,
    web_port: int | None = None, ha: Mapping[str, Any] | None = None, extra: Sequence[str] = (),
) -> tuple[Path, cs.Settings]:
    """Write ``<state_dir>/<name>.toml`` and load it; [acd] keys this version lacks are left out (noted).

    ``ha``: the ``[ha]`` keys; ``extra``: more TOML, whole tables (a ``[section]`` line first).
    """
    q = json.dumps
    known = {f.name for f in dataclasses.fields(cs.AcdSettings)}
    acd = []
    for key, value in site.acd.items():
        if key in known:
            acd.append(f"{key} = {q(value)}")
        elif notes is not None:
            notes.append(f"settings: [acd] has no '{key}' in this version; not set")
    lines = [
        f"node = {q(site.node)}",
        f"state_dir = {q(str(state_dir))}",
        'log_format = "console"',
        f"log_level = {q(log_level)}",
        "[ami]",
        f"port = {ami_port or site.ports['ami']}",
        "[agi]",
        f"port = {agi_port or site.ports['agi']}",
        "[web]",
        f"port = {web_port or site.ports['web']}",
        "[ivr]",
        "enabled = false",
        "[acd]",
        *acd,
        "[lists]",  # abandoned calls' callbacks would ring operators outside the history's calls
        "auto_callback = false",
        "[asterisk]",
        f"root = {q(site.root)}",
        f"sip_port = {site.ports['sip']}",
        f"instance = {q(site.instance)}",
        f"queue_log = {q(f'{site.root}/var/log/{site.instance}-asterisk/queue_log')}",
        f"caller_endpoints = {q(list(site.callers))}",
    ]
    if db_url:
        lines += ["[database]", f"url = {q(db_url)}"]
    if ha:
        lines += ["[ha]", *(f"{key} = {q(value)}" for key, value in ha.items())]
    lines += extra
    for n, agent in enumerate(site.operators):
        lines += ["[[agents]]", f"id = {q(agent)}", f"name = {q(f'坐席{n + 1:02d}')}"]
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, cs.load(path, env={})


def seed_secrets(from_state_dir: str | Path, to_state_dir: Path) -> None:
    """Share an instance's secrets (AMI secret, SIP passwords) with a new state directory."""
    source = Path(from_state_dir) / "secrets.toml"
    to_state_dir.mkdir(parents=True, exist_ok=True)
    if source.exists():
        shutil.copy2(source, to_state_dir / "secrets.toml")


def reconfigure_asterisk(settings: cs.Settings, timeout: float = 20.0) -> None:
    """Write a running instance's config from ``settings`` and reload it (endpoints, queue, dialplan)."""
    embedded.write_config(settings)
    embedded.rx(settings, "core reload")
    last = settings.agents[-1].id
    deadline = time.monotonic() + timeout
    while True:
        try:
            if f"Endpoint:  {last}" in embedded.rx(settings, f"pjsip show endpoint {last}") or last in embedded.rx(
                settings, "pjsip show endpoints"
            ):
                return
        except AsteriskError:
            pass
        if time.monotonic() > deadline:
            raise AsteriskError("asterisk.reload", f"endpoint {last} not loaded {timeout} s after core reload")
        time.sleep(0.2)


def wait_fully_booted(settings: cs.Settings, timeout: float = 60.0) -> None:
    """Block until the instance answers ``core waitfullybooted`` (after a start or a restart)."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(AsteriskError):
            if embedded.is_running(settings):
                embedded.rx(settings, "core waitfullybooted", timeout=max(1.0, deadline - time.monotonic()))
                return
        if time.monotonic() > deadline:
            raise AsteriskError("asterisk.boot", f"not fully booted within {timeout} s")
        time.sleep(0.1)


def uptime_seconds(settings: cs.Settings) -> float | None:
    """Seconds since Asterisk (re)started, from ``core show uptime seconds``."""
    with contextlib.suppress(AsteriskError, ValueError):
        for line in embedded.rx(settings, "core show uptime seconds").splitlines():
            if line.startswith("System uptime:"):
                return float(line.split(":", 1)[1])
    return None


# -- the controller ---------------------------------------------------------------------------------


class ControllerUnderTest(Protocol):
    mode: str

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def kill(self) -> None: ...
    async def agent_states(self) -> dict[str, tuple[str, str | None]] | None: ...
    async def violations(self) -> list[str] | None: ...


class InProcessController:
    """The controller in this event loop (harness.controller): its state is read directly."""

    mode = "inprocess"

    def __init__(self, settings: cs.Settings) -> None:
        self.settings = settings
        self.controller: Any = None

    async def start(self) -> None:
        from harness.controller import Controller

        self.controller = await Controller(self.settings).start()

    async def stop(self) -> None:
        if self.controller is not None:
            await self.controller.stop()
            self.controller = None

    async def kill(self) -> None:
        raise NotImplementedError("an in-process controller cannot be SIGKILLed: use SubprocessController")

    @property
    def adapter(self) -> Any:
        from callcenter import keys

        return None if self.controller is None else self.controller[keys.ADAPTER]

    async def agent_states(self) -> dict[str, tuple[str, str | None]] | None:
        adapter = self.adapter
        if adapter is None:
            return None
        return {a.agent_id: (a.state.value, a.pause_reason) for a in adapter.acd.agents.values()}

    async def violations(self) -> list[str] | None:
        adapter = self.adapter
        if adapter is None or not hasattr(adapter, "violations"):
            return None
        return list(adapter.violations())


class SubprocessController:
    """``python -m callcenter --config FILE serve``: state read from /health; SIGKILL is real.

    /health shows its details (AMI, agent states) to a logged-in supervisor only: the rig adds a
    supervisor account to the database before the first start and logs in over HTTP.
    """

    mode = "subprocess"
    USER = "fault-rig"

    def __init__(self, config: Path, settings: cs.Settings, log_dir: Path, *, password: str | None = None) -> None:
        """``password``: the rig's supervisor is in the database already, with this password."""
        self.config = config
        self.settings = settings
        self.log_dir = log_dir
        self.proc: asyncio.subprocess.Process | None = None
        self.starts = 0
        self._http: Any = None
        self._password = password or secrets.token_urlsafe(24)
        self._account = password is not None
        self._last_login = 0.0
        self.last_health: dict[str, Any] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.settings.web.host}:{self.settings.web.port}"

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"controller-{self.starts}.log"

    async def _add_supervisor(self) -> None:
        await add_supervisor(self.settings.database_url, self.USER, self._password)
        self._account = True

    async def _login(self) -> None:
        """Log in as the rig's supervisor (the session cookie stays in the client's jar)."""
        self._last_login = time.monotonic()
        async with self._http.get(f"{self.url}/login") as response:
            page = await response.text()
        match = re.search(r'name="csrf_token" value="([^"]*)"', page)
        form = {"username": self.USER, "password": self._password, "csrf_token": match.group(1) if match else ""}
        async with self._http.post(f"{self.url}/login", data=form, allow_redirects=False) as response:
            await response.read()

    async def start(self, timeout: float = 30.0, ready: Any = None) -> None:
        """Start it; return once ``ready(health)`` (default: AMI connected)."""
        import aiohttp

        ready = ready or (lambda health: health.get("ami", {}).get("connected"))
        if self._http is None:
            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=2.0), cookie_jar=aiohttp.CookieJar(unsafe=True),  # 127.0.0.1
            )
        if not self._account:
            await self._add_supervisor()
        self.starts += 1
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
        env["PYTHONUNBUFFERED"] = "1"
        with open(self.log_path, "wb") as log:  # noqa: ASYNC230 - opened once per start, not in a hot path
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "callcenter", "--config", str(self.config), "serve",
                cwd=str(REPO), env=env, stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=asyncio.subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while True:
            health = await self.health()
            if health and ready(health):
                return
            if self.proc.returncode is not None:
                raise RuntimeError(f"controller exited ({self.proc.returncode}): {self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"controller not ready within {timeout} s: {health}\n{self.log_tail()}")
            await asyncio.sleep(0.1)

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    async def health(self, login: bool = True) -> dict[str, Any] | None:
        """The /health body with its details (None: no answer); logs in again when they are missing
        (``login`` False: the body as it comes, at once)."""
        if self._http is None or self.proc is None or self.proc.returncode is not None:
            return None
        for attempt in range(2):
            try:
                async with self._http.get(f"{self.url}/health") as response:
                    body = await response.json()
                if not isinstance(body, dict):
                    return None
                # A standby has no details to show (and refuses the login page).
                if not login or "ami" in body or body.get("role") == "standby" or attempt == 1 \
                        or time.monotonic() - self._last_login < 1.0:
                    self.last_health = body
                    return body
                await self._login()
            except Exception:  # noqa: BLE001 - not up (yet), or going away
                return None
        return None

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 15.0)
            except TimeoutError:
                await self.kill()
        self.proc = None
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def kill(self) -> None:
        """SIGKILL: no cleanup at all, as when the machine or the process dies."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()

    async def agent_states(self) -> dict[str, tuple[str, str | None]] | None:
        return agent_states_of(await self.health())

    async def violations(self) -> list[str] | None:
        health = self.last_health
        found = health.get("violations") if health else None
        return list(found) if isinstance(found, list) else None


def agent_states_of(health: Mapping[str, Any] | None) -> dict[str, tuple[str, str | None]] | None:
    """The ACD's agent states in a supervisor's /health (None: not there)."""
    if health is None or "acd" not in health:
        return None
    agents = health.get("acd", {}).get("agents", {})
    reasons = health.get("acd", {}).get("pause_reasons", {}) or {}
    out: dict[str, tuple[str, str | None]] = {}
    for agent_id, value in agents.items():
        if isinstance(value, dict):  # a richer /health: {"state": ..., "reason": ...}
            out[agent_id] = (str(value.get("state")), value.get("reason") or value.get("pause_reason"))
        else:
            out[agent_id] = (str(value), reasons.get(agent_id))
    return out


async def add_supervisor(url: str, user: str, password: str) -> None:
    """The rig's supervisor account (/health's details), in the database at ``url`` (upgraded to head)."""
    from callcenter.accounts.service import AccountService
    from callcenter.store.db import open_database, session_factory

    engine = await open_database(url)
    try:
        await AccountService(session_factory(engine)).create(user, password, "supervisor")
    finally:
        await engine.dispose()


def leads(health: Mapping[str, Any] | None) -> bool:
    """/health says: this controller leads with AMI connected (without the details: status ok, which
    needs AMI connected and resynchronised, and the database)."""
    if not health or health.get("role") != "leader":
        return False
    ami = health.get("ami")
    return bool(ami.get("connected")) if isinstance(ami, dict) else health.get("status") == "ok"


class PairController:
    """Two controller subprocesses of a pair; its state is read from whichever says it leads.

    ``timeline``: each controller's /health (role, status) as sampled, one entry per change.
    """

    mode = "pair"

    def __init__(self, members: Mapping[str, SubprocessController]) -> None:
        self.members = dict(members)
        self.down: set[str] = set()  # killed or cut by a fault: kept down to the end
        self.timeline: list[tuple[float, str, str | None, str | None]] = []  # (monotonic, name, role, status)
        self._seen: dict[str, tuple[str | None, str | None]] = {}

    async def start(self, timeout: float = 30.0) -> None:
        """a first, until it leads; then b, until it says standby."""
        first, second = self.members
        await self.members[first].start(timeout, ready=leads)
        await self.members[second].start(timeout, ready=lambda h: h.get("role") == "standby" and h.get("status") == "standby")

    async def stop(self) -> None:
        for member in self.members.values():
            await member.stop()

    async def kill(self) -> None:
        """SIGKILL the leader."""
        name = await self.leader()
        if name is not None:
            await self.members[name].kill()

    def other(self, name: str) -> str:
        return next(n for n in self.members if n != name)

    async def health(self, name: str, login: bool = True) -> dict[str, Any] | None:
        """One controller's /health (None: no answer), noted in the timeline when its role or status changed."""
        health = await self.members[name].health(login)
        seen = (health.get("role"), health.get("status")) if health else (None, None)
        if self._seen.get(name) != seen:
            self._seen[name] = seen
            self.timeline.append((time.monotonic(), name, *seen))
        return health

    async def leader(self) -> str | None:
        """The controller that says it leads with AMI connected, asking each (None: none does)."""
        found = None
        for name in self.members:
            if leads(await self.health(name)) and found is None:
                found = name
        return found

    async def agent_states(self) -> dict[str, tuple[str, str | None]] | None:
        name = await self.leader()
        return None if name is None else agent_states_of(self.members[name].last_health)

    async def violations(self) -> list[str] | None:
        name = await self.leader()
        return None if name is None else await self.members[name].violations()

    def led_again(self, name: str, after: float) -> list[float]:
        """When ``name`` said it leads again, once it had stopped leading after monotonic ``after``."""
        seen = [(t, role) for t, who, role, _ in self.timeline if who == name and t > after]
        stopped = next((i for i, (_, role) in enumerate(seen) if role != "leader"), len(seen))
        return [t for t, role in seen[stopped:] if role == "leader"]


@dataclass
class Takeover:
    """A pair fault's outcome: ``new`` led (role leader, AMI connected) ``seconds`` after the fault began."""

    kind: str
    old: str
    new: str
    start: float
    led_at: float | None = None  # monotonic; None: the other never led

    @property
    def seconds(self) -> float | None:
        return None if self.led_at is None else round(self.led_at - self.start, 2)


class LegWatch:
    """Every agent leg a controller of a pair placed (``acd-<name>-...``), from Asterisk's own AMI events.

    Its own AMI login, straight to Asterisk (not through the controllers' relay): Newchannel, Newstate
    (Up: answered) and Hangup, stamped with ``time.monotonic()`` as they arrive.
    """

    def __init__(self, ami: cs.AmiSettings, names: Sequence[str] = PAIR) -> None:
        from callcenter.ami.client import AmiClient

        self.client = AmiClient(ami)
        self.pattern = re.compile(rf"^acd-({'|'.join(map(re.escape, names))})-")
        self.legs: dict[str, LegSpan] = {}
        for name, handler in (("Newchannel", self._created), ("Newstate", self._state), ("Hangup", self._hangup)):
            self.client.on(name, handler)

    async def start(self, timeout: float = 10.0) -> LegWatch:
        await self.client.start()
        if not await self.client.wait_connected(timeout):
            raise RuntimeError(f"the rig's AMI login failed: {self.client.last_error}")
        return self

    async def close(self) -> None:
        await self.client.close()

    @property
    def spans(self) -> list[LegSpan]:
        return sorted(self.legs.values(), key=lambda leg: leg.created)

    def _leg(self, event: Any, create: bool = False) -> LegSpan | None:
        uniqueid = str(event.get("Uniqueid", ""))
        match = self.pattern.match(uniqueid)
        if match is None:
            return None
        if create and uniqueid not in self.legs:
            self.legs[uniqueid] = LegSpan(uniqueid, match.group(1), time.monotonic())
        return self.legs.get(uniqueid)

    def _created(self, event: Any) -> None:
        self._leg(event, create=True)

    def _state(self, event: Any) -> None:
        leg = self._leg(event, create=True)  # a Newstate before its Newchannel: created now, at the latest
        if leg is not None and str(event.get("ChannelState")) == "6" and leg.answered is None:
            leg.answered = time.monotonic()

    def _hangup(self, event: Any) -> None:
        leg = self._leg(event, create=True)
        if leg is not None and leg.hung_up is None:
            leg.hung_up = time.monotonic()


def free_port() -> int:
    """A TCP port nobody listens on now, on loopback."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- the rig ----------------------------------------------------------------------------------------


class FaultRig:
    """Asterisk (already running), relay, controller, phones, traffic, faults and the check."""

    def __init__(
        self,
        site: Site,
        work: Path,
        *,
        secrets_from: str | Path,
        mode: str = "inprocess",
        load: Load | None = None,
        choices: Mapping[str, str] | None = None,  # operator -> feature op ("pause", "logout") at start
        log_level: str = "info",
        pg_admin_url: str | None = None,  # mode "pair": a PostgreSQL server's admin URL (a database is made there)
    ) -> None:
        if mode == "pair" and not pg_admin_url:
            raise ValueError("a pair needs PostgreSQL: pg_admin_url")
        self.site = site
        self.work = Path(work)
        self.mode = mode
        self.load = load or Load()
        self.choices = dict(choices if choices is not None else {site.operators[-1]: "pause"})
        self.notes: list[str] = []
        seed_secrets(secrets_from, self.work)
        self.db_path = self.work / "callcenter.db"
        _, self.asterisk_settings = write_settings(site, self.work, "asterisk-side", notes=self.notes)
        self.relay = AmiRelay(self.asterisk_settings.ami.host, self.asterisk_settings.ami.port)
        self.log_level = log_level
        self.controller: ControllerUnderTest | None = None
        self.settings: cs.Settings | None = None  # the controller's (ami.port = the relay's)
        self.traffic: Traffic | None = None
        self.faults: list[Fault] = []
        self.samples: list[Sample] = []
        self.violations: list[tuple[float, list[str]]] = []
        self._sampler: asyncio.Task[None] | None = None
        self._queue_log_offset = 0
        self.report: Report | None = None
        # a pair
        self.pg_admin_url = pg_admin_url
        self.db_url: str | None = None  # the shared database, straight (the controllers go through db_relays)
        self.db_relays: dict[str, AmiRelay] = {}
        self.pair: PairController | None = None
        self.leg_watch: LegWatch | None = None
        self.takeovers: list[Takeover] = []
        self.cut_health: dict[str, dict[str, Any] | None] = {}  # a controller cut from its database: its last /health
        self._database = contextlib.ExitStack()

    # -- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> FaultRig:
        """Relay, controller, phones registered and seen by the controller, operators' choices made."""
        await self.relay.start()
        if self.mode == "pair":
            self.controller = self.pair = await self._pair()
        else:
            config, self.settings = write_settings(
                self.site, self.work, "controller", ami_port=self.relay.port,
                db_url=f"sqlite+aiosqlite:///{self.db_path}", log_level=self.log_level,
            )
            if self.mode == "subprocess":
                self.controller = SubprocessController(config, self.settings, self.work / "logs")
            else:
                self.controller = InProcessController(self.settings)
        assert self.settings is not None
        with contextlib.suppress(OSError):
            self._queue_log_offset = self.settings.queue_log_path.stat().st_size
        await self.controller.start()
        s = self.settings
        self.traffic = Traffic(
            s.asterisk.sip_host, s.asterisk.sip_port, s.asterisk.hotline_number,
            {a.id: a.sip_password for a in s.agents if a.id in self.site.operators},
            {c: cs.caller_password(s, c) for c in self.site.callers},
            self.load,
        )
        await self.traffic.start()
        await self.wait_states({op: "available" for op in self.site.operators}, timeout=20.0)
        for op, what in self.choices.items():
            await self.traffic.choose(op, what)
        want = {op: self.traffic.history.chosen_at(op, time.monotonic()) for op in self.site.operators}
        await self.wait_states(want, timeout=10.0)
        self._sampler = asyncio.create_task(self._sample(), name="acd-state-sampler")
        return self

    async def _pair(self) -> PairController:
        """A throw-away database, a relay to it per controller, both controllers' settings (not started),
        Asterisk's dialplan naming a's FastAGI then b's, and the rig's own AMI watch of the agent legs."""
        from sqlalchemy.engine import make_url

        from harness.postgres import throwaway_database

        assert self.pg_admin_url is not None
        admin = make_url(self.pg_admin_url)
        self.db_url = await asyncio.to_thread(
            self._database.enter_context, throwaway_database(self.pg_admin_url, f"cc_pair_{secrets.token_hex(6)}"))
        password = secrets.token_urlsafe(24)
        await add_supervisor(self.db_url, SubprocessController.USER, password)  # also creates the schema
        agi = {name: free_port() for name in PAIR}
        lock_key = secrets.randbelow(2**31 - 2) + 1  # advisory locks are the cluster's: one key per rig
        members: dict[str, SubprocessController] = {}
        for name in PAIR:
            relay = self.db_relays[name] = await AmiRelay(admin.host or "127.0.0.1", admin.port or 5432).start()
            url = make_url(self.db_url).set(host=relay.host, port=relay.port).render_as_string(hide_password=False)
            peer = next(n for n in PAIR if n != name)
            state = self.work / name
            seed_secrets(self.work, state)
            config, settings = write_settings(
                self.site, state, "controller", ami_port=self.relay.port, db_url=url, log_level=self.log_level,
                agi_port=agi[name], web_port=free_port(),
                ha={"enabled": True, "name": name, "lock_key": lock_key, "peer_agi": f"127.0.0.1:{agi[peer]}"},
            )
            members[name] = SubprocessController(config, settings, state / "logs", password=password)
        self.settings = members[PAIR[0]].settings
        _, self.asterisk_settings = write_settings(
            self.site, self.work, "asterisk-side", agi_port=agi[PAIR[0]], ha={"peer_agi": f"127.0.0.1:{agi[PAIR[1]]}"},
        )
        await asyncio.to_thread(reconfigure_asterisk, self.asterisk_settings)
        self.leg_watch = await LegWatch(self.asterisk_settings.ami).start()
        return PairController(members)

    async def close(self) -> None:
        if self._sampler is not None:
            self._sampler.cancel()
            await asyncio.gather(self._sampler, return_exceptions=True)
            self._sampler = None
        if self.traffic is not None:
            await self.traffic.close()
        if self.controller is not None:
            await self.controller.stop()
        await self.relay.close()
        for relay in self.db_relays.values():
            await relay.close()
        if self.leg_watch is not None:
            await self.leg_watch.close()
        await asyncio.to_thread(self._database.close)  # drops the pair's database

    async def wait_states(self, want: Mapping[str, str], timeout: float) -> None:
        """Poll until the controller shows each operator in the wanted state."""
        assert self.controller is not None
        deadline = time.monotonic() + timeout
        states: Any = None
        while True:
            states = await self.controller.agent_states()
            if states is not None and all(states.get(op, ("absent",))[0] == s for op, s in want.items()):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"operators not in {dict(want)} within {timeout} s: {states}")
            await asyncio.sleep(0.1)

    async def _sample(self, interval: float = 0.25) -> None:
        assert self.controller is not None
        while True:
            try:
                states = await self.controller.agent_states()
            except Exception:  # noqa: BLE001 - a sample that failed says "unreachable"
                states = None
            self.samples.append(Sample(time.monotonic(), states))
            await asyncio.sleep(interval)

    async def record_violations(self) -> list[str]:
        """Ask the controller for its invariant now (``Adapter.violations()``); keep what it found."""
        assert self.controller is not None
        found = await self.controller.violations()
        if found:
            self.violations.append((time.monotonic(), found))
        return found or []

    # -- traffic -----------------------------------------------------------------------------------

    async def warm_up(self, min_in_flight: int = 10, timeout: float = 90.0) -> None:
        """Callers start arriving; return once ``min_in_flight`` calls are up at once."""
        assert self.traffic is not None
        self.traffic.start_arrivals()
        deadline = time.monotonic() + timeout
        while self.traffic.history.in_flight() < min_in_flight:
            if time.monotonic() > deadline:
                raise AssertionError(f"never {min_in_flight} calls in flight within {timeout} s "
                                     f"(now {self.traffic.history.in_flight()}; errors {self.traffic.errors[:5]})")
            await asyncio.sleep(0.1)

    async def flow_until(self, moment: float) -> None:
        """Let the traffic run (and the sampler watch) until monotonic ``moment``."""
        while time.monotonic() < moment:
            await asyncio.sleep(min(0.5, max(0.0, moment - time.monotonic())))

    async def observe(self, fault: Fault, extra: float = 10.0) -> None:
        """Traffic goes on through the recovery window and ``extra`` seconds of checking after it."""
        await self.flow_until(fault.end + RECOVERY_WINDOW)
        await self.record_violations()
        await self.flow_until(fault.end + RECOVERY_WINDOW + extra)

    # -- faults ------------------------------------------------------------------------------------

    async def inject(self, kind: str, **kwargs: Any) -> Fault:
        """Inject one fault by name (``FAULTS``); returns it with its start and end."""
        injector = {
            "ami_cut": self.cut_ami,
            "asterisk_restart": self.restart_asterisk,
            "controller_kill": self.kill_controller,
            "db_lock": self.lock_database,
            "leader_kill": self.kill_leader,
            "leader_db_cut": self.cut_leader_database,
        }[kind]
        fault = await injector(**kwargs)
        self.faults.append(fault)
        return fault

    async def cut_ami(self, seconds: float = 10.0) -> Fault:
        """The controller's AMI connection is closed and refused for ``seconds``."""
        in_flight = self.traffic.history.in_flight() if self.traffic else 0
        before = len(self.relay.cuts)
        start, end = await self.relay.outage(seconds)
        cut = self.relay.cuts[before][1]
        return Fault("ami_cut", start, end, f"{cut} AMI connection(s) cut", in_flight)

    async def restart_asterisk(self, timeout: float = 60.0) -> Fault:
        """``core restart now`` on the instance; the fault ends when it is fully booted again."""
        in_flight = self.traffic.history.in_flight() if self.traffic else 0
        s = self.asterisk_settings
        start = time.monotonic()
        with contextlib.suppress(AsteriskError):  # the console drops as Asterisk goes down
            await asyncio.to_thread(embedded.rx, s, "core restart now", timeout=3.0)
        deadline = start + timeout
        while True:  # the old process may still answer for a moment: wait for the new one
            await asyncio.to_thread(wait_fully_booted, s, max(1.0, deadline - time.monotonic()))
            up = await asyncio.to_thread(uptime_seconds, s)
            if up is not None and up <= time.monotonic() - start + 1.0:
                break
            if time.monotonic() > deadline:
                raise AsteriskError("asterisk.restart", f"Asterisk did not restart within {timeout} s (uptime {up})")
            await asyncio.sleep(0.2)
        return Fault("asterisk_restart", start, time.monotonic(), "core restart now", in_flight)

    async def kill_controller(self, down: float = 5.0) -> Fault:
        """SIGKILL the controller, leave it dead ``down`` seconds, start it again (the end: it is up)."""
        assert self.controller is not None
        in_flight = self.traffic.history.in_flight() if self.traffic else 0
        start = time.monotonic()
        await self.controller.kill()
        await asyncio.sleep(down)  # the outage itself
        await self.controller.start()
        return Fault("controller_kill", start, time.monotonic(), f"SIGKILL, started again after {down:g} s", in_flight)

    async def lock_database(self, seconds: float = 10.0) -> Fault:
        """Another connection holds ``BEGIN EXCLUSIVE`` on the controller's SQLite file for ``seconds``."""
        in_flight = self.traffic.history.in_flight() if self.traffic else 0
        locked, release = threading.Event(), threading.Event()
        times: dict[str, float] = {}

        def hold() -> None:
            conn = sqlite3.connect(self.db_path, timeout=30.0, isolation_level=None)
            try:
                conn.execute("BEGIN EXCLUSIVE")
                times["start"] = time.monotonic()
                locked.set()
                release.wait(seconds + 60.0)
                conn.execute("ROLLBACK")
            finally:
                times["end"] = time.monotonic()
                conn.close()
                locked.set()

        holder = asyncio.create_task(asyncio.to_thread(hold))
        while not locked.is_set():
            await asyncio.sleep(0.02)
        if "start" not in times:
            await holder  # raises what went wrong
        await asyncio.sleep(seconds)  # the lock is held this long
        release.set()
        await holder
        return Fault("db_lock", times["start"], times["end"], "BEGIN EXCLUSIVE held", in_flight)

    async def kill_leader(self, timeout: float = 30.0) -> Fault:
        """SIGKILL the pair's leader; over when the other leads with AMI connected.  It stays dead."""
        pair, old = await self._leader()
        in_flight = self.traffic.history.in_flight() if self.traffic else 0
        start = time.monotonic()
        await pair.members[old].kill()
        pair.down.add(old)
        takeover = await self._takeover("leader_kill", old, start, timeout)
        return Fault("leader_kill", start, takeover.led_at or time.monotonic(),
                     f"SIGKILL {old}; {takeover.new} led after {takeover.seconds} s", in_flight)

    async def cut_leader_database(self, timeout: float = 30.0, settle: float = 10.0) -> Fault:
        """The leader's database relay cuts its connections and refuses new ones (to the end of the run);
        over when the other leads.  Then the cut one's /health is read for up to ``settle`` s, until it
        says standby, degraded, database not ok (kept in ``cut_health``)."""
        pair, old = await self._leader()
        relay = self.db_relays[old]
        in_flight = self.traffic.history.in_flight() if self.traffic else 0
        start = time.monotonic()
        await relay.refuse()
        cut = relay.cut()
        pair.down.add(old)
        takeover = await self._takeover("leader_db_cut", old, start, timeout)
        end = takeover.led_at or time.monotonic()
        deadline = time.monotonic() + settle
        while True:
            health = self.cut_health[old] = await pair.health(old)
            if cut_off(health) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        return Fault("leader_db_cut", start, end, f"{old}'s database cut ({cut} connection(s)) and refused; "
                     f"{takeover.new} led after {takeover.seconds} s", in_flight)

    async def _leader(self) -> tuple[PairController, str]:
        assert self.pair is not None, "a pair fault needs mode='pair'"
        name = await self.pair.leader()
        assert name is not None, f"no controller leads: {self.pair.timeline[-4:]}"
        return self.pair, name

    async def _takeover(self, kind: str, old: str, start: float, timeout: float) -> Takeover:
        """Poll the other controller's /health until it leads with AMI connected."""
        assert self.pair is not None
        takeover = Takeover(kind, old, self.pair.other(old), start)
        self.takeovers.append(takeover)
        while time.monotonic() < start + timeout:
            if leads(await self.pair.health(takeover.new, login=False)):  # a login would be counted in
                takeover.led_at = time.monotonic()
                break
            await asyncio.sleep(0.05)
        else:
            self.notes.append(f"{kind}: {takeover.new} did not lead within {timeout:g} s of the fault")
        return takeover

    def takeover_moments(self) -> list[tuple[str, float]]:
        """(old leader, when the other took over): it said it leads, or placed its first leg, if earlier."""
        moments = []
        legs = self.leg_watch.spans if self.leg_watch else []
        for t in self.takeovers:
            firsts = [leg.created for leg in legs if leg.controller == t.new and leg.created > t.start]
            at = min([*([t.led_at] if t.led_at is not None else []), *firsts], default=None)
            if at is not None:
                moments.append((t.old, at))
        return moments

    # -- the end -----------------------------------------------------------------------------------

    async def finish(self, drain_timeout: float = 90.0, tickets_timeout: float = 30.0) -> Report:
        """Stop arrivals, let every call end, wait for the tickets to settle, check everything."""
        assert self.traffic is not None and self.settings is not None
        await self.traffic.stop_arrivals()
        if not await self.traffic.drain(drain_timeout):
            self.notes.append(f"calls still up {drain_timeout:.0f} s after arrivals stopped")
        deadline = time.monotonic() + tickets_timeout
        tickets = await self.read_tickets()
        while _unsettled(self.traffic.history, tickets) and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            tickets = await self.read_tickets()
        await self.record_violations()
        end = time.monotonic()
        if self._sampler is not None:
            self._sampler.cancel()
            await asyncio.gather(self._sampler, return_exceptions=True)
            self._sampler = None
        entries = read_queue_log(self.settings.queue_log_path, self._queue_log_offset)
        acd = self.settings.acd
        handoff = getattr(acd, "ami_down_handoff", 5.0)
        self.report = check(
            self.traffic.history, tickets, self.samples, self.faults, entries,
            threshold=handoff + acd.ring_timeout, end=end, recovery_window=RECOVERY_WINDOW, wrap_up=acd.wrap_up,
            violations=self.violations,
            pause_reasons={op: "break" for op, what in self.choices.items() if what == "pause"},
            max_missed=acd.max_missed,
            legs=self.leg_watch.spans if self.leg_watch else (), takeovers=self.takeover_moments(),
        )
        self.report.notes = self.notes + self.traffic.errors[:20] + self.report.notes
        return self.report

    async def read_tickets(self) -> list[TicketView]:
        """Every ticket of this node in the controller's database, read directly."""
        from sqlalchemy import select
        from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

        from callcenter.store.models import Ticket

        assert self.settings is not None
        engine = create_async_engine(self.db_url or self.settings.database_url)
        try:
            async with AsyncSession(engine) as session:
                rows = (await session.scalars(select(Ticket).where(Ticket.node == self.settings.node))).all()
                return [TicketView.of(row) for row in rows]
        except Exception as err:  # noqa: BLE001 - locked or not created yet: nothing to read now
            self.notes.append(f"tickets unreadable once: {type(err).__name__}: {err}".splitlines()[0])
            return []
        finally:
            await engine.dispose()


def cut_off(health: Mapping[str, Any] | None) -> bool:
    """/health of a controller that cannot reach its database: standby, degraded, database not ok."""
    database = (health or {}).get("database")
    return bool(health and health.get("role") == "standby" and health.get("status") == "degraded"
                and isinstance(database, dict) and database.get("ok") is False)


def _unsettled(history: Any, tickets: Sequence[TicketView]) -> int:
    """Calls Asterisk answered whose ticket is not (yet) there and ended."""
    wall = history.wall
    ended = [t for t in tickets if t.ended_at is not None]
    missing = 0
    for call in history.calls:
        if not call.reached or call.closed_at is None:
            continue
        if not any(t.caller_number == call.caller and wall(call.dialled_at) - 1.5 <= t.arrived_at <= wall(call.closed_at) + 1.5
                   for t in ended):
            missing += 1
    return missing


__all__ = [
    "FAULTS", "PAIR", "PAIR_FAULTS", "RECOVERY_WINDOW", "FaultRig", "InProcessController", "LegWatch", "PairController",
    "Site", "SubprocessController", "Takeover", "cut_off", "leads", "reconfigure_asterisk", "seed_secrets",
    "wait_fully_booted", "write_settings",
]
