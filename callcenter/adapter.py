"""The AMI/AGI adapter: feeds the pure ACD core with events and carries out its commands.

- AMI ``DeviceStateChange`` (and ``DeviceStateList`` after each login) says which agents'
  phones are registered: registered agents are logged in (feature-code login comes later).
- A hotline call's FastAGI session (``serve_call``) waits for the core's ``Offer`` and rings the
  agent with ``Dial`` inside the session; the caller hears music on hold in between.
- AMI ``DialEnd`` with ``ANSWER`` tells the core (and the ticket) who answered and when.
- ``StopRinging`` hangs up the agent's ringing leg over AMI.

Events that no longer fit the core's state (a channel that vanished, an event that arrived after
the AGI already reported the same fact) are normal races: logged at debug, never a crash.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime

import structlog
from panoramisk.message import Message

from callcenter.acd import (
    Acd,
    AgentAnswered,
    AgentLoggedIn,
    AgentLoggedOut,
    CallEnded,
    CallState,
    CallWaiting,
    Command,
    Event,
    IllegalTransition,
    Offer,
    RingFailed,
    StopRinging,
)
from callcenter.agi.server import AgiHangup, AgiSession
from callcenter.ami.client import AmiClient
from callcenter.exceptions import AmiError
from callcenter.settings import Settings
from callcenter.tickets.service import TicketService

log = structlog.get_logger(__name__)

UNREGISTERED_DEVICE_STATES = {"UNAVAILABLE", "INVALID", "UNKNOWN"}


def agent_of_channel(channel: str) -> str:
    """'PJSIP/1001-0000000a' -> '1001'."""
    return channel.split("/", 1)[-1].rsplit("-", 1)[0]


class Adapter:
    """Owns the ACD core for this controller and connects it to Asterisk."""

    def __init__(self, settings: Settings, ami: AmiClient, tickets: TicketService, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.ami = ami
        self.tickets = tickets
        self.clock = clock
        self.acd = Acd(ring_timeout=settings.acd.ring_timeout)
        self.agent_ids = {a.id for a in settings.agents}
        self.offers: dict[str, asyncio.Queue[Offer]] = {}  # call id -> offers for its AGI session
        self.ringing_channels: dict[str, str] = {}  # call id -> agent channel being rung
        ami.on("DeviceStateChange", self.on_device_state)
        ami.on("DialBegin", self.on_dial_begin)
        ami.on("DialEnd", self.on_dial_end)
        ami.on_login(self.refresh_agents)

    # -- core -------------------------------------------------------------------------------------

    def apply(self, event: Event) -> bool:
        """Hand one event to the core and execute its commands; False if it did not fit."""
        try:
            commands = self.acd.handle(event)
        except IllegalTransition as err:
            log.debug("acd.event_ignored", acd_event=type(event).__name__, reason=str(err))
            return False
        log.debug("acd.event", acd_event=type(event).__name__, **_fields(event))
        for command in commands:
            self._execute(command)
        return True

    def _execute(self, command: Command) -> None:
        log.info("acd.decided", command=type(command).__name__, uniqueid=command.call_id, agent=command.agent_id)
        if isinstance(command, Offer):
            queue = self.offers.get(command.call_id)
            if queue is not None:
                queue.put_nowait(command)
        elif isinstance(command, StopRinging):
            channel = self.ringing_channels.pop(command.call_id, None)
            if channel:
                asyncio.create_task(self._hangup(channel))

    async def _hangup(self, channel: str) -> None:
        try:
            await self.ami.action({"Action": "Hangup", "Channel": channel})
        except AmiError as err:
            log.debug("ami.hangup_race", channel=channel, reason=str(err))

    # -- AMI events -------------------------------------------------------------------------------

    async def refresh_agents(self) -> None:
        """After each AMI login, read every agent phone's device state."""
        events = await self.ami.action({"Action": "DeviceStateList"}, as_list=True)
        for event in events if isinstance(events, list) else []:
            if event.get("Event") == "DeviceStateChange":
                self.on_device_state(event)

    def on_device_state(self, event: Message) -> None:
        device = event.get("Device", "")
        if not device.startswith("PJSIP/"):
            return
        agent_id = device[len("PJSIP/") :]
        if agent_id not in self.agent_ids:
            return
        now = self.clock()
        if event.get("State", "") in UNREGISTERED_DEVICE_STATES:
            if agent_id in self.acd.agents:
                self.apply(AgentLoggedOut(agent_id, now))
        else:
            self.apply(AgentLoggedIn(agent_id, now))

    def on_dial_begin(self, event: Message) -> None:
        call_id = event.get("Uniqueid", "")
        if call_id in self.offers:
            self.ringing_channels[call_id] = event.get("DestChannel", "")

    async def on_dial_end(self, event: Message) -> None:
        call_id = event.get("Uniqueid", "")
        if call_id not in self.offers:
            return
        self.ringing_channels.pop(call_id, None)
        if event.get("DialStatus") != "ANSWER":
            return  # the AGI session reports the failed ring when Dial returns
        agent_id = agent_of_channel(event.get("DestChannel", ""))
        await self._answered(call_id, agent_id, self.clock())

    async def _answered(self, call_id: str, agent_id: str, at: float) -> None:
        if self.apply(AgentAnswered(call_id, agent_id, at)):
            structlog.contextvars.bind_contextvars(uniqueid=call_id)
            log.info("call.answered", uniqueid=call_id, agent=agent_id)
            await self.tickets.mark_answered(call_id, agent_id, _utc(at))

    # -- one call's AGI session -------------------------------------------------------------------

    async def serve_call(self, agi: AgiSession, call_id: str, priority: int = 0, skill: str | None = None) -> None:
        """Keep the caller on hold until an agent answers; return when the call is over."""
        queue: asyncio.Queue[Offer] = asyncio.Queue()
        self.offers[call_id] = queue
        hangup_by: str | None = "caller"
        try:
            await agi.music_on()
            self.apply(CallWaiting(call_id, self.clock(), priority, skill))
            while True:
                offer = await agi.idle_until(queue.get())
                status = await self._ring(agi, offer)
                if status == "ANSWER":  # Dial's g option: the agent hung up, the caller is still here
                    if self._state(call_id) == CallState.OFFERED:  # AMI DialEnd not seen yet
                        await self._answered(call_id, offer.agent_id, self.clock())
                    hangup_by = "agent"
                    await agi.set_variable("HOTLINE_DONE", "1")
                    return
                log.info("call.ring_failed", uniqueid=call_id, agent=offer.agent_id, dial_status=status)
                self.apply(RingFailed(call_id, offer.agent_id, self.clock()))
                await agi.music_on()
        except AgiHangup:
            hangup_by = "caller"
        except asyncio.CancelledError:
            # The controller is stopping: the socket closes and the dialplan takes the call on to
            # the fallback queue (or lets a connected call finish); queue_log completes the ticket.
            hangup_by = None
            raise
        finally:
            self.offers.pop(call_id, None)
            self.ringing_channels.pop(call_id, None)
            answered = self._state(call_id) == CallState.CONNECTED
            self.apply(CallEnded(call_id, self.clock()))
            if hangup_by is None:
                log.info("call.handed_to_dialplan", uniqueid=call_id, answered=answered)
            else:
                log.info("call.ended", uniqueid=call_id, hangup_by=hangup_by, answered=answered)
                await self.tickets.mark_ended(call_id, _utc(self.clock()), hangup_by)

    async def _ring(self, agi: AgiSession, offer: Offer) -> str:
        log.info("agent.rang", uniqueid=offer.call_id, agent=offer.agent_id, timeout=offer.timeout)
        await self.tickets.mark_ringing(offer.call_id, offer.agent_id, _utc(self.clock()))
        await agi.music_off()
        await agi.exec("Dial", f"PJSIP/{offer.agent_id},{offer.timeout:g},gU(hotline-answered)")
        return await agi.get_variable("DIALSTATUS")

    def _state(self, call_id: str) -> CallState | None:
        call = self.acd.calls.get(call_id)
        return call.state if call else None


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _fields(event: Event) -> dict:
    return {k: v for k, v in vars(event).items() if k != "at"}
