"""The AMI/AGI adapter: feeds the pure ACD core with events and carries out its commands.

How a hotline call reaches an operator:
1. The caller's FastAGI session (``serve_call``) puts the caller on hold (music) and tells the
   core the call is waiting.
2. For each ``Offer`` the adapter rings the agent's phone with AMI ``Originate`` (the ring window
   is Originate's timeout; the agent's phone shows the caller's number).  Several offers can ring
   at once (the SLA guard); ``StopRinging`` hangs a ring up.
3. The agent answers: the agent's leg enters ``[hotline-agent]`` and opens a FastAGI session
   (``serve_agent``).  If the core accepts the answer, the caller's session runs ``Bridge`` to that
   leg; otherwise (another agent was faster, the caller left) the leg is hung up.
4. An ``OriginateResponse`` failure (no answer in the window, busy, unreachable) is ``RingFailed``:
   the core re-offers the call at once.

Agents: a phone that registers logs its agent in (``acd.auto_login``); feature codes send AMI
``UserEvent(HotlineAgent)`` to log in/out, pause and resume; device states say when a phone is
busy with a call the ACD did not place.  Events that no longer fit the core's state (a vanished
channel, an answer after the caller left) are normal races: logged at debug, never a crash.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from panoramisk.message import Message

from callcenter.acd import (
    Acd,
    AgentAnswered,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentPaused,
    AgentPhoneBusy,
    AgentResumed,
    AgentSkillsChanged,
    AgentStateChanged,
    Call,
    CallEnded,
    CallState,
    CallWaiting,
    Command,
    Event,
    IllegalTransition,
    Offer,
    RingFailed,
    StopRinging,
    Strategy,
    Tick,
    WakeAt,
)
from callcenter.agi.server import AgiHangup, AgiSession
from callcenter.ami.client import AmiClient
from callcenter.exceptions import AmiError
from callcenter.settings import Settings
from callcenter.tickets.service import TicketService

log = structlog.get_logger(__name__)

UNREGISTERED = {"UNAVAILABLE", "INVALID", "UNKNOWN"}
PHONE_BUSY = {"INUSE", "BUSY", "RINGING", "RINGINUSE", "ONHOLD"}


@dataclass
class Leg:
    """One ring of one agent's phone for one call (an Originate)."""

    leg_id: str  # Asterisk uniqueid of the agent's channel (Originate ChannelId)
    call_id: str
    agent_id: str
    channel: str | None = None  # known from Newchannel
    released: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())


@dataclass
class LiveCall:
    """A caller whose FastAGI session is open, waiting for or talking to an agent."""

    call_id: str
    caller_number: str
    caller_name: str
    answered: asyncio.Queue = field(default_factory=asyncio.Queue)  # agent legs that won the call


class Adapter:
    """Owns the ACD core for this controller and connects it to Asterisk."""

    def __init__(self, settings: Settings, ami: AmiClient, tickets: TicketService, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.ami = ami
        self.tickets = tickets
        self.clock = clock
        acd = settings.acd
        self.acd = Acd(
            ring_timeout=acd.ring_timeout,
            wrap_up=acd.wrap_up,
            max_missed=acd.max_missed,
            sla_guard_after=acd.sla_guard_after or None,
            overflow_after=acd.overflow_after,
            strategy=Strategy(acd.strategy),
        )
        self.skills = {a.id: frozenset(a.skills) for a in settings.agents}
        self.calls: dict[str, LiveCall] = {}
        self.legs: dict[str, Leg] = {}
        self.registered: set[str] = set()
        self.listeners: list[Callable[[Command], None]] = []  # e.g. the wallboard
        self.recorder: Any = None  # callcenter.recording.service.RecordingService, set by its plugin
        ami.on("DeviceStateChange", self.on_device_state)
        ami.on("Newchannel", self.on_new_channel)
        ami.on("UserEvent", self.on_user_event)
        ami.on_login(self.refresh_agents)

    # -- core -------------------------------------------------------------------------------------

    def apply(self, event: Event) -> bool:
        """Hand one event to the core and execute its commands; False if it did not fit."""
        try:
            commands = self.acd.handle(event)
        except IllegalTransition as err:
            log.debug("acd.event_ignored", acd_event=type(event).__name__, reason=str(err))
            return False
        for command in commands:
            self._execute(command)
        return True

    def _execute(self, command: Command) -> None:
        for listener in self.listeners:
            listener(command)
        match command:
            case Offer():
                log.info("acd.offer", uniqueid=command.call_id, agent=command.agent_id, guard=command.guard)
                asyncio.create_task(self._ring(command))
            case StopRinging(call_id, agent_id):
                log.info("acd.stop_ringing", uniqueid=call_id, agent=agent_id)
                for leg in [leg for leg in self.legs.values() if leg.call_id == call_id and leg.agent_id == agent_id]:
                    asyncio.create_task(self._hangup_leg(leg))
            case WakeAt(at):
                asyncio.get_running_loop().call_later(max(0.0, at - self.clock()), self._tick)
            case AgentStateChanged(agent_id, state, reason):
                log.info("agent.state", agent=agent_id, state=state.value, reason=reason)

    def _tick(self) -> None:
        self.apply(Tick(self.clock()))

    # -- ringing agents ---------------------------------------------------------------------------

    async def _ring(self, offer: Offer) -> None:
        """Ring one agent for one call until answered, refused or out of time."""
        live = self.calls.get(offer.call_id)
        leg = Leg(f"acd-{uuid.uuid4().hex[:20]}", offer.call_id, offer.agent_id)
        self.legs[leg.leg_id] = leg
        caller = f'"{_cid(live.caller_name)}" <{_cid(live.caller_number)}>' if live else ""
        action = {
            "Action": "Originate",
            "Channel": f"PJSIP/{offer.agent_id}",
            "Context": "hotline-agent",
            "Exten": "s",
            "Priority": "1",
            "Timeout": str(int(offer.timeout * 1000)),
            "CallerID": caller,
            "ChannelId": leg.leg_id,
            "Variable": f"HOTLINE_CALL={offer.call_id}",
            "Async": "true",
        }
        reason = "failed"
        try:
            # Ring first, write the ticket while it rings: the database never delays a phone.
            originate = asyncio.create_task(self.ami.action(action, timeout=offer.timeout + 10))
            await asyncio.sleep(0)  # let the Originate go out now
            await self.tickets.mark_ringing(offer.call_id, offer.agent_id, _utc(self.clock()))
            replies = await originate
            final = replies[-1] if isinstance(replies, list) else replies
            if final.get("Response") == "Success":
                return  # the agent answered: serve_agent has the leg
            reason = f"originate reason {final.get('Reason', '?')}"
        except AmiError as err:
            reason = str(err)
        self.legs.pop(leg.leg_id, None)
        if self.apply(RingFailed(offer.call_id, offer.agent_id, self.clock())):
            log.info("agent.ring_failed", uniqueid=offer.call_id, agent=offer.agent_id, reason=reason)

    async def _hangup_leg(self, leg: Leg) -> None:
        if not leg.released.done():
            leg.released.set_result(None)
        channel = leg.channel or await self._channel_of(leg)
        if channel is None:
            log.debug("ami.hangup_unknown_channel", leg=leg.leg_id)
            return
        try:
            await self.ami.action({"Action": "Hangup", "Channel": channel})
        except AmiError as err:
            log.debug("ami.hangup_race", channel=channel, reason=str(err))

    async def _channel_of(self, leg: Leg, wait: float = 1.0) -> str | None:
        """The leg's channel name, waiting briefly for its Newchannel event."""
        deadline = time.monotonic() + wait
        while leg.channel is None and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return leg.channel

    # -- AMI events -------------------------------------------------------------------------------

    async def refresh_agents(self) -> None:
        """After each AMI login, read every agent phone's device state."""
        events = await self.ami.action({"Action": "DeviceStateList"}, as_list=True)
        for event in events if isinstance(events, list) else []:
            if event.get("Event") == "DeviceStateChange":
                self.on_device_state(event)

    def on_device_state(self, event: Message) -> None:
        device = event.get("Device", "")
        agent_id = device[len("PJSIP/") :] if device.startswith("PJSIP/") else ""
        if agent_id not in self.skills:
            return
        state, now = event.get("State", ""), self.clock()
        if state in UNREGISTERED:
            self.registered.discard(agent_id)
            if agent_id in self.acd.agents:
                self.apply(AgentLoggedOut(agent_id, now))
            return
        if agent_id not in self.registered:
            self.registered.add(agent_id)
            if self.settings.acd.auto_login:
                self.apply(AgentLoggedIn(agent_id, now, self.skills[agent_id]))
        if agent_id in self.acd.agents:
            self.apply(AgentPhoneBusy(agent_id, now, busy=state in PHONE_BUSY))

    def on_new_channel(self, event: Message) -> None:
        leg = self.legs.get(event.get("Uniqueid", ""))
        if leg is not None:
            leg.channel = event.get("Channel")

    def on_user_event(self, event: Message) -> None:
        if event.get("UserEvent") != "HotlineAgent":
            return
        self.agent_op(event.get("Agent", ""), event.get("Op", ""))

    def set_skills(self, agent_id: str, skills: frozenset[str]) -> bool:
        """Give an agent new skills: at once if logged in, and at every later login; False if unknown."""
        if agent_id not in self.skills:
            return False
        self.skills[agent_id] = frozenset(skills)
        log.info("agent.skills", agent=agent_id, skills=sorted(skills))
        return self.apply(AgentSkillsChanged(agent_id, self.clock(), frozenset(skills)))

    def agent_op(self, agent_id: str, op: str, reason: str = "break") -> bool:
        """Log in, log out, pause or resume an agent (feature code or web); False if refused."""
        if agent_id not in self.skills:
            log.warning("agent.unknown", agent=agent_id, op=op)
            return False
        now = self.clock()
        events = {
            "login": lambda: AgentLoggedIn(agent_id, now, self.skills[agent_id]),
            "logout": lambda: AgentLoggedOut(agent_id, now),
            "pause": lambda: AgentPaused(agent_id, now, reason),
            "resume": lambda: AgentResumed(agent_id, now),
        }
        if op not in events:
            log.warning("agent.unknown_op", agent=agent_id, op=op)
            return False
        log.info("agent.op", agent=agent_id, op=op)
        return self.apply(events[op]())

    # -- the agent's answered leg -----------------------------------------------------------------

    async def serve_agent(self, agi: AgiSession) -> None:
        """An agent answered an offer: give the call to the caller's session, or hang up."""
        leg = self.legs.get(agi.env("uniqueid"))
        if leg is None or not self.apply(AgentAnswered(leg.call_id, leg.agent_id, self.clock())):
            log.info("agent.answer_too_late", uniqueid=leg.call_id if leg else None, agent=leg.agent_id if leg else None)
            await agi.run("HANGUP")
            return
        leg.channel = agi.env("channel")
        live = self.calls[leg.call_id]
        live.answered.put_nowait(leg)
        call = self.acd.calls[leg.call_id]
        log.info("call.answered", uniqueid=leg.call_id, agent=leg.agent_id)
        await self.tickets.mark_answered(leg.call_id, leg.agent_id, _utc(call.answered_at or self.clock()))
        await self.tickets.record_details(leg.call_id, "acd", self._measurements(call))
        try:
            # Parked until the caller's Bridge takes the leg (the socket then reports a hangup),
            # or until the caller's session releases it without bridging.
            await agi.idle_until(leg.released)
            await agi.run("HANGUP")
        finally:
            self.legs.pop(leg.leg_id, None)

    def _measurements(self, call: Call) -> dict:
        """Per-call figures kept on the ticket: menu, wait, rings, two-ring promise, misses."""
        cadence = self.settings.acd.ring_on + self.settings.acd.ring_off
        ring_time = (call.answered_at or 0) - (call.first_offered_at or call.answered_at or 0)
        waiting_since = call.waiting_since if call.waiting_since is not None else call.arrived_at
        return {
            "menu_seconds": round(waiting_since - call.arrived_at, 3),
            "wait_seconds": round((call.answered_at or 0) - waiting_since, 3),
            "ring_seconds": round(ring_time, 3),
            "rings": max(1, math.ceil(ring_time / cadence)) if cadence > 0 else 1,
            "within_two_rings": ring_time <= self.settings.acd.ring_timeout,
            "offered_to": list(call.offered_to),
            "missed_by": list(call.missed_by),
        }

    # -- one caller's AGI session -----------------------------------------------------------------

    async def serve_call(
        self, agi: AgiSession, call_id: str, priority: int = 0, skill: str | None = None
    ) -> None:
        """Keep the caller on hold until an agent answers, bridge them, return when it is over."""
        live = LiveCall(call_id, agi.env("callerid"), agi.env("calleridname"))
        self.calls[call_id] = live
        hangup_by: str | None = "caller"
        leg: Leg | None = None
        try:
            await agi.music_on()
            self.apply(CallWaiting(call_id, self.clock(), priority, skill))
            leg = await agi.idle_until(live.answered.get())
            # From here the caller is served: even if the controller dies during the conversation,
            # the dialplan must not send them to the fallback queue afterwards.
            await agi.set_variable("HOTLINE_DONE", "1")
            await agi.music_off()
            if self.recorder is not None:  # MixMonitor on the caller's channel: both sides, while bridged
                await self.recorder.start_inbound(agi, call_id, leg.agent_id)
            await agi.exec("Bridge", leg.channel or "")
            result = await agi.get_variable("BRIDGERESULT")
            if result != "SUCCESS":
                # The agent's leg vanished between answer and bridge: let app_queue serve the caller.
                log.warning("call.bridge_failed", uniqueid=call_id, agent=leg.agent_id, result=result)
                await agi.set_variable("HOTLINE_DONE", "0")
                hangup_by = None
            else:
                hangup_by = "agent"
        except AgiHangup:
            hangup_by = "caller"
        except asyncio.CancelledError:
            # The controller is stopping: the socket closes and the dialplan takes the call on to
            # the fallback queue (or lets a connected call finish); queue_log completes the ticket.
            hangup_by = None
            raise
        finally:
            self.calls.pop(call_id, None)
            if self.recorder is not None:
                self.recorder.ended(call_id)  # measures the file once Asterisk has closed it
            if leg is not None and not leg.released.done():
                leg.released.set_result(None)
            answered = self.acd.calls.get(call_id) is not None and self.acd.calls[call_id].state == CallState.CONNECTED
            self.apply(CallEnded(call_id, self.clock()))
            if hangup_by is None:
                log.info("call.handed_to_dialplan", uniqueid=call_id, answered=answered)
            else:
                log.info("call.ended", uniqueid=call_id, hangup_by=hangup_by, answered=answered)
                await self.tickets.mark_ended(call_id, _utc(self.clock()), hangup_by)


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _cid(text: str) -> str:
    """Caller id text safe inside an AMI header and a quoted name."""
    return "".join(ch for ch in text if ch.isprintable() and ch not in '"<>\r\n')[:64]
