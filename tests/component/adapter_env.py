"""The adapter's test environment over real sockets: ``Env`` wires the controller's call path (a real
Adapter, AgiServer, AmiClient and TicketService on SQLite, IVR off) against ``fake_asterisk``.

The ``env`` fixture (``conftest.py``) gives each test an unstarted ``Env`` and, after the test,
checks the invariant (``Env.check``): ``Adapter.violations()`` is empty, no leg, caller session,
adopted call or ticket end in progress is left, no agent is ringing, no FastAGI session is left
open, and every ticket has ended, except those deliberately handed to the dialplan's fallback queue.

Timings are short: the test ring cadence (0.2 s on, 0.8 s off: a 2 s ring window), ring grace
0.5 s, setup timeout 1 s, retry hold 0.5 s, outage hand-off 1 s.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fake_asterisk import AgiCall, FakeAsterisk, Originate
from harness.env import make_test_settings
from harness.polling import eventually

from callcenter.acd import AgentState, AgentStateChanged, IllegalTransition
from callcenter.adapter import Adapter, KeptDialler
from callcenter.agents.states import AgentStateStore
from callcenter.agi.server import AgiServer
from callcenter.ami.client import AmiClient
from callcenter.hotline import Hotline
from callcenter.store import open_database, session_factory
from callcenter.store.models import HANGUP_BY, Ticket
from callcenter.tickets import TicketService

TIMINGS = {
    "ring_on": 0.2, "ring_off": 0.8,  # ring window 2 s
    "wrap_up": 0.0, "max_missed": 2, "sla_guard_after": 0.0,
    "setup_timeout": 1.0, "ring_grace": 0.5, "retry_after": 0.5, "ami_down_handoff": 1.0,
}
RING_WINDOW = 2.0
ANSWER_GRACE = 0.8  # patched into the adapter (2 s in production)
CUT_WINDOW = 0.5  # patched into the adapter (2 s in production)
SLACK = 0.6  # scheduling slack on timing assertions
_uids = itertools.count(1)



class Env:
    """The controller's call path (as ``callcenter.app`` wires it, IVR off) against a FakeAsterisk."""

    def __init__(self, tmp_path: Path, ami_port: int, agi_port: int) -> None:
        self.tmp_path, self.ami_port, self.agi_port = tmp_path, ami_port, agi_port
        self.fake = FakeAsterisk()
        self.fake.agi_port = agi_port
        self.events: list[tuple[float, Any, bool]] = []  # (when, core event, accepted)
        self.commands: list[tuple[float, Any]] = []  # (when, core command)
        self.handed: set[str] = set()  # calls deliberately left to the dialplan's fallback queue
        self.adapter: Adapter | None = None
        self.agi: AgiServer | None = None
        self.ami: AmiClient | None = None
        self.tickets: TicketService | None = None
        self.engine = None

    async def start(self, devices: Any = ("1001",), before: Callable[[TicketService], Awaitable[None]] | None = None,
                    dialler: KeptDialler | None = None, ha_name: str = "", **acd: Any) -> Env:
        self.fake.devices = dict(devices) if isinstance(devices, dict) else {a: "NOT_INUSE" for a in devices}
        await self.fake.start(self.ami_port)
        settings = make_test_settings(self.tmp_path / "state")
        settings = dataclasses.replace(
            settings,
            ami=dataclasses.replace(settings.ami, host="127.0.0.1", port=self.ami_port, ping_interval=0.5,
                                    action_timeout=1.0, reconnect_delay=1.0),
            agi=dataclasses.replace(settings.agi, host="127.0.0.1", port=self.agi_port),
            acd=dataclasses.replace(settings.acd, **{**TIMINGS, **acd}),
            ha=dataclasses.replace(settings.ha, enabled=bool(ha_name), name=ha_name),  # one of a pair (SQLite here)
        )
        self.settings = settings
        self.engine = await open_database(settings.database_url)
        sessions = session_factory(self.engine)
        self.tickets = TicketService(sessions, settings.node, spill_dir=settings.state_path / "spill")
        await self.tickets.start()
        if before is not None:
            await before(self.tickets)
        self.ami = AmiClient(settings.ami)
        self.adapter = Adapter(settings, self.ami, self.tickets, states=AgentStateStore(sessions, settings.node),
                               dialler=dialler)
        self._record()
        await self.adapter.start()
        await self.ami.start()
        self.agi = AgiServer()
        self.agi.route("hotline", Hotline(self.tickets, self.adapter, None))
        self.agi.route("agent", self.adapter.serve_agent)
        await self.agi.start("127.0.0.1", self.agi_port)
        await eventually(lambda: self.adapter.link["up"], 5, message="the first resync")
        return self

    def _record(self) -> None:
        core, real = self.adapter.acd, self.adapter.acd.handle

        def handle(event: Any) -> Any:
            try:
                out = real(event)
            except IllegalTransition:
                self.events.append((time.time(), event, False))
                raise
            self.events.append((time.time(), event, True))
            return out

        core.handle = handle  # type: ignore[method-assign]
        self.adapter.listeners.append(lambda command: self.commands.append((time.time(), command)))

    async def stop(self) -> None:
        if self.agi is not None:
            await self.agi.close()
        if self.ami is not None:
            await self.ami.close()
        if self.tickets is not None:
            await self.tickets.close()
        if self.engine is not None:
            await self.engine.dispose()
        await self.fake.close()

    # -- driving ----------------------------------------------------------------------------------

    async def call(self, replies: dict[str, str] | None = None, hold: bool = True) -> AgiCall:
        """A caller dials the hotline (its FastAGI session); ``hold``: wait until they hear the music."""
        uid = f"1741568400.{next(_uids)}"
        caller = await self.fake.open_agi("hotline", uid, f"PJSIP/trunk-{uid}", replies=replies)
        if hold:
            await eventually(lambda: caller.saw("SET MUSIC ON"), 5, message="caller on hold")
        return caller

    async def originates(self, count: int, agent: str | None = None, timeout: float = 5) -> list[Originate]:
        """Wait for ``count`` Originates (to ``agent``); the first ``count``."""
        def found() -> list[Originate]:
            sent = self.fake.originates_to(agent) if agent else self.fake.originates
            return sent[:count] if len(sent) >= count else []
        return await eventually(found, timeout, message=f"{count} Originate(s) to {agent or 'any agent'}")

    # -- observing --------------------------------------------------------------------------------

    def accepted(self, kind: type, **match: Any) -> list[Any]:
        return [e for _, e, ok in self.events if ok and isinstance(e, kind)
                and all(getattr(e, k) == v for k, v in match.items())]

    def when(self, kind: type, **match: Any) -> float:
        """When the core first accepted such an event."""
        return next(t for t, e, ok in self.events if ok and isinstance(e, kind)
                    and all(getattr(e, k) == v for k, v in match.items()))

    def issued(self, kind: type, **match: Any) -> list[tuple[float, Any]]:
        return [(t, c) for t, c in self.commands if isinstance(c, kind)
                and all(getattr(c, k) == v for k, v in match.items())]

    def hung_up_channels(self) -> set[str]:
        return {s.action.get("channel", "") for s in self.fake.actions("Hangup")}

    def agent(self, agent_id: str) -> Any:
        return self.adapter.acd.agents[agent_id]

    def paused(self) -> list[Any]:
        return [c for _, c in self.issued(AgentStateChanged) if c.state == AgentState.PAUSED]

    async def ticket(self, uid: str) -> Ticket:
        assert await self.tickets.flush(5)
        ticket = await self.tickets.get(uid)
        assert ticket is not None, f"no ticket for {uid}"
        return ticket

    async def ended_ticket(self, uid: str) -> Ticket:
        async def ended() -> Ticket | None:
            ticket = await self.ticket(uid)
            return ticket if ticket.ended_at is not None else None
        return await eventually(ended, 5, message=f"ticket {uid} ended")

    # -- the invariant ----------------------------------------------------------------------------

    def problems(self) -> list[str]:
        adapter, found = self.adapter, list(self.adapter.violations())
        if adapter.legs:
            found.append(f"legs left: {sorted(adapter.legs)}")
        if adapter.calls:
            found.append(f"caller sessions left: {sorted(adapter.calls)}")
        if adapter.adopted:
            found.append(f"adopted calls left: {sorted(adapter.adopted)}")
        if adapter.ending:
            found.append(f"ticket ends still being written: {sorted(adapter.ending)}")
        found += [f"agent {a} ringing" for a, s in adapter.acd.agents.items() if s.state == AgentState.RINGING]
        found += [f"{c.script} session {c.uniqueid} still open" for c in self.fake.calls if not c.closed.is_set()]
        if self.agi.sessions:
            found.append(f"{self.agi.sessions} FastAGI session(s) still served")
        return found

    async def check(self) -> None:
        deadline = time.monotonic() + 6
        while (problems := self.problems()) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert problems == [], "left behind after the test"
        assert await self.tickets.flush(5), "ticket writes still queued"
        for ticket in await self.tickets.list_recent(1000):
            if ticket.uniqueid in self.handed:
                assert ticket.ended_at is None and ticket.hangup_by is None, f"{ticket.uniqueid}: the fallback queue ends it"
                assert ticket.call_status != "abandoned"
            else:
                assert ticket.ended_at is not None, f"ticket {ticket.uniqueid} never ended"
                assert ticket.hangup_by in HANGUP_BY
