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

Keep your place: after ``[acd] callback_offer_after`` seconds on hold the announcement offers a
callback; a caller who presses 1 (during it, or on hold: AMI ``DTMFEnd``) hears a confirmation and
is hung up, and the core keeps the call in its place (``PlaceKept``).  In its turn the core offers
it like any call (``Offer.callback``): the operator's phone rings as usual, and when the operator
answers, ``serve_agent`` dials the caller from the operator's leg (``Dial`` with the dial string of
the ``[outbound]`` dialling policy, ``KeptDialler``).  A caller who does not answer is
``CallbackUnreached``: the operator is free at once and the core tries again later, or gives up
(``CallbackGaveUp``): the ticket then ends unanswered and becomes an abandoned-call task.  The
request, each attempt and the outcome are kept on the ticket (``details.callback``).

Agents: a phone that registers logs its agent in (``acd.auto_login``); feature codes send AMI
``UserEvent(HotlineAgent)`` to log in/out, pause and resume; device states say when a phone is
busy with a call the ACD did not place.  Events that no longer fit the core's state (a vanished
channel, an answer after the caller left) are normal races: logged at debug, never a crash.

Counted for Prometheus (the registry ``create_app`` hands over): each ``Offer`` the core makes
(``callcenter_offers_total``, by kind), each answer it accepts (``callcenter_answers_total``) and those
within the two-ring window (``callcenter_answers_within_two_rings_total``), the same test as the ticket's.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog
from panoramisk.message import Message
from prometheus_client import CollectorRegistry, Counter

from callcenter.acd import (
    AUTO_RESUMED,
    MISSED_CALLS,
    Acd,
    AgentAnswered,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentPaused,
    AgentPhoneBusy,
    AgentResumed,
    AgentSkillsChanged,
    AgentState,
    AgentStateChanged,
    Call,
    CallAdopted,
    CallbackGaveUp,
    CallbackUnreached,
    CallEnded,
    CallState,
    CallWaiting,
    Command,
    Event,
    HandOff,
    IllegalTransition,
    LateAnswer,
    LinkDown,
    LinkUp,
    Offer,
    OfferWithdrawn,
    PlaceKept,
    RingFailed,
    RingStarted,
    StopRinging,
    Strategy,
    Tick,
    WakeAt,
    WrapUpEnded,
)
from callcenter.agents.states import AgentStateStore, ChosenState
from callcenter.agi.server import AgiHangup, AgiSession
from callcenter.ami.client import AmiClient
from callcenter.exceptions import AmiError, CallCenterError
from callcenter.ivr.prompts import playable, sound_path
from callcenter.ivr.waiting import announcement
from callcenter.settings import Settings
from callcenter.tickets.rings import RingRecorder
from callcenter.tickets.service import TicketService

log = structlog.get_logger(__name__)

UNREGISTERED = {"UNAVAILABLE", "INVALID", "UNKNOWN"}
PHONE_BUSY = {"INUSE", "BUSY", "RINGING", "RINGINUSE", "ONHOLD"}
ON_ANOTHER_CALL = PHONE_BUSY - {"RINGING"}  # device states of a phone with a call besides our ring
DEVICE_STATES = UNREGISTERED | PHONE_BUSY | {"NOT_INUSE"}  # anything else (missing, garbage) is ignored
# Originate reasons (OriginateResponse ``Reason``) that are the agent's doing: 1 hung up / declined,
# 3 rang out, 5 busy.  Anything else (0 the channel could not be created, 8 congestion) is the
# transport's: the offer is withdrawn and nobody is charged a miss.
AGENT_REASONS = {"1", "3", "5"}
RINGING_STATES = {"5", "6"}  # Newstate ChannelState: 5 ringing, 6 up (an auto-answering phone skips ringing)
ANSWER_GRACE = 2.0  # seconds from an answered Originate to the leg's FastAGI session before it counts as lost
CUT_WINDOW = 2.0  # seconds after a hang-up to learn whether Asterisk itself cut the call
LOST_BYE_CHECK = 0.5  # seconds after an answered agent leg's hang-up request before we make sure it went
LEG_PREFIX = "acd-"  # our agent legs' uniqueids (Originate ChannelId)
# SoftHangupRequest ``Cause`` 4 is AST_SOFTHANGUP_SHUTDOWN: Asterisk hangs up each channel as it stops
# or restarts, one event per channel, before that channel's Hangup and before the Shutdown event.
SHUTDOWN_CAUSE = "4"
CUT_MEMORY = 600.0  # seconds a channel cut by a shutdown is remembered (queue_log is read a little later)
KEEP = "keep"  # ``_hold``'s answer when the caller pressed 1 to keep their place
KEPT_SETTLE = 15.0  # seconds a callback waits for the caller's own session to close before dialling them
# Dial's DIALSTATUS -> a callback attempt's outcome (as OutboundService words them)
DIAL_OUTCOMES = {"ANSWER": "answered", "NOANSWER": "no_answer", "BUSY": "busy", "CONGESTION": "congestion",
                 "CHANUNAVAIL": "unavailable", "CANCEL": "cancelled"}


class KeptDialler(Protocol):
    """The dialling policy the callbacks of kept places go through (``OutboundService`` is one).

    Both raise a ``CallCenterError`` (``DialRefused``) for a number the policy refuses; ``admit`` also counts the call
    against ``by``'s and the global rate limits.
    """

    def external(self, number: str) -> str: ...

    def admit(self, number: str, *, by: str | None, kind: str, ticket_id: int | None = None,
              task_id: int | None = None) -> str: ...


class CallRecorder(Protocol):
    """What the adapter asks of call recording (``callcenter.recording.service.RecordingService`` is one)."""

    fault: dict[str, Any] | None  # the wallboard's recording_failed alert, None while recording works

    async def start_inbound(self, agi: AgiSession, call_id: str, agent_id: str) -> None: ...

    def ended(self, key: str) -> None: ...


@dataclass
class Leg:
    """One ring of one agent's phone for one call (an Originate)."""

    leg_id: str  # Asterisk uniqueid of the agent's channel (Originate ChannelId)
    call_id: str
    agent_id: str
    channel: str | None = None  # known from Newchannel
    released: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    claimed: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())  # serve_agent took it


@dataclass
class LiveCall:
    """A caller whose FastAGI session is open, waiting for or talking to an agent."""

    call_id: str
    caller_number: str
    caller_name: str
    answered: asyncio.Queue = field(default_factory=asyncio.Queue)  # agent legs that won the call; None: hand off
    channel: str = ""
    announcing: bool = False  # a hold announcement is playing: an answer stops it (AMI ControlPlayback)
    keep: asyncio.Event = field(default_factory=asyncio.Event)  # the caller pressed 1 to keep their place


@dataclass
class KeptPlace:
    """A caller who kept their place and hung up: called back in their turn (``details.callback``)."""

    call_id: str
    caller_number: str
    caller_name: str
    requested_at: float
    position: int | None  # their place when they asked
    waited: float  # seconds they had waited on the line
    attempts: list[dict[str, Any]] = field(default_factory=list)  # operator, time, outcome of each callback
    outcome: str = "waiting"  # waiting | calling | answered | unreached
    hung_up: asyncio.Event = field(default_factory=asyncio.Event)  # the caller's own session is over
    answered_at: float | None = None  # the caller answered the callback now being made


@dataclass
class AdoptedCall:
    """A call found bridged to an agent when the controller started: followed until its hang-up."""

    call_id: str
    agent_id: str
    agent_uniqueid: str
    ended_by: str | None = None  # whose channel hung up first


class Adapter:
    """Owns the ACD core for this controller and connects it to Asterisk."""

    def __init__(self, settings: Settings, ami: AmiClient, tickets: TicketService, clock: Callable[[], float] = time.time,
                 states: AgentStateStore | None = None, recorder: CallRecorder | None = None,
                 dialler: KeptDialler | None = None, registry: CollectorRegistry | None = None) -> None:
        self.settings = settings
        # Our legs' uniqueids; a controller of a pair puts its name in (which one rang is in every AMI event).
        self.leg_prefix = f"{LEG_PREFIX}{settings.ha.name}-" if settings.ha.name else LEG_PREFIX
        # registry None: counted, not exported (tests build many adapters in one process)
        self._offers = Counter("callcenter_offers", "Offers the ACD made (one phone rung for one call), by kind: "
                               "first, guard, pair, all", ["kind"], registry=registry)
        self._answers = Counter("callcenter_answers", "Offers answered by an operator (answers the ACD accepted)",
                                registry=registry)
        self._within_two_rings = Counter("callcenter_answers_within_two_rings", "Answers within the two-ring window "
                                         "([acd] rings x (ring_on + ring_off)) from the call's first ring",
                                         registry=registry)
        self.ami = ami
        self.tickets = tickets
        self.clock = clock
        self.states = states  # operators' chosen states, kept across restarts
        acd = settings.acd
        self.acd = Acd(
            ring_timeout=acd.ring_timeout,
            wrap_up=acd.wrap_up,
            max_missed=acd.max_missed,
            sla_guard_after=acd.sla_guard_after or None,
            overflow_after=acd.overflow_after,
            strategy=Strategy(acd.strategy),
            setup_timeout=acd.setup_timeout,
            ring_grace=acd.ring_grace,
            retry_after=acd.retry_after,
            handoff_after=acd.ami_down_handoff,
            guard_likelihood=acd.guard_likelihood,
            likely_threshold=acd.likely_threshold,
            escalate_after=acd.escalate_after or None,
            pair_when_idle=acd.pair_when_idle,
            auto_resume_after=acd.auto_resume_after or None,
            memory_half_life=acd.memory_half_life,
            callback_attempts=acd.callback_attempts,
            callback_retry_after=acd.callback_retry_after,
        )
        self.skills = {a.id: frozenset(a.skills) for a in settings.agents}
        self.chosen: dict[str, ChosenState] = {}  # agent id -> chosen state loaded at start
        self.calls: dict[str, LiveCall] = {}
        self.legs: dict[str, Leg] = {}
        self.adopted: dict[str, AdoptedCall] = {}
        self.kept: dict[str, KeptPlace] = {}  # kept places (no caller on the line) until called back or given up
        self.dialler = dialler  # the [outbound] dialling policy; None: no callback is offered
        self.ending: set[str] = set()  # calls whose ticket end is being written
        self.dropped: dict[str, float] = {}  # legs we gave up before knowing their channel -> when (hung up if they show up)
        self.registered: set[str] = set()
        self.device_states: dict[str, str] = {}  # agent id -> the phone's latest device state, in event order
        self.listeners: list[Callable[[Command], None]] = []  # e.g. the wallboard
        self.rings = RingRecorder(tickets, self._spawn)  # every ring on the call's ticket: who, when, how it ended
        self.recorder = recorder  # None: calls are not recorded
        self.started = False  # the first login's restore and adoption are done
        self.link: dict[str, Any] = {"up": False, "down_since": None, "resyncs": 0, "last_resync": None}
        self.asterisk_started: str | None = None  # CoreStatus start time: a change means Asterisk restarted
        self.shutdown_at: float | None = None  # Asterisk announced a shutdown or restart
        self.asterisk_going = False  # ... and has not been back since
        self.cut_by_asterisk: dict[str, float] = {}  # uniqueid -> when a shutdown hung that channel up
        self._resynced = asyncio.Event()
        self._writes: set[asyncio.Task] = set()  # ticket ends being decided and written
        ami.on("DeviceStateChange", self.on_device_state)
        ami.on("Newchannel", self.on_new_channel)
        ami.on("Newstate", self.on_new_state)
        ami.on("Hangup", self.on_hangup)
        ami.on("HangupRequest", self.on_hangup_request)
        ami.on("BridgeLeave", self.on_bridge_leave)
        ami.on("UserEvent", self.on_user_event)
        ami.on("Shutdown", self.on_shutdown)
        ami.on("SoftHangupRequest", self.on_soft_hangup)
        ami.on("DTMFEnd", self.on_dtmf)
        ami.on("DialEnd", self.on_dial_end)
        ami.on_login(self.on_login)
        ami.on_disconnect(self.on_disconnect)
        self.acd.handle(LinkDown(self.clock()))  # no offers until the first login's resync
        self.link["down_since"] = self.clock()

    def _spawn(self, coro: Any) -> None:
        """A ticket write in the background, finished (or cut short) by ``close``."""
        task = asyncio.create_task(coro)
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def close(self, wait: float = 3.0) -> None:
        """Let ticket ends still being decided land (the store closes after us); the sweep covers the rest."""
        if self._writes:
            _, late = await asyncio.wait(set(self._writes), timeout=wait)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    async def start(self) -> None:
        """Load the operators' chosen states (before the first login restores them)."""
        if self.states is not None:
            self.chosen = await self.states.load()

    # -- core -------------------------------------------------------------------------------------

    def apply(self, event: Event) -> bool:
        """Hand one event to the core and execute its commands; False if it did not fit."""
        try:
            commands = self.acd.handle(event)
        except IllegalTransition as err:
            log.debug("acd.event_ignored", acd_event=type(event).__name__, reason=str(err))
            return False
        self.rings.observe(event, self.acd)
        if isinstance(event, AgentAnswered):
            self._answers.inc()
            answered = self.acd.calls.get(event.call_id)
            if answered is not None and self._within_window(answered):
                self._within_two_rings.inc()
        for command in commands:
            self._execute(command)
        return True

    def _execute(self, command: Command) -> None:
        for listener in self.listeners:
            listener(command)
        match command:
            case Offer():
                self._offers.labels(command.kind).inc()
                log.info("acd.offer", uniqueid=command.call_id, agent=command.agent_id, guard=command.guard,
                         callback=command.callback)
                asyncio.create_task(self._ring(command))
            case StopRinging(call_id, agent_id):
                log.info("acd.stop_ringing", uniqueid=call_id, agent=agent_id)
                for leg in [leg for leg in self.legs.values() if leg.call_id == call_id and leg.agent_id == agent_id]:
                    if not leg.claimed.done():  # an answered leg is the caller's session's to release
                        self.legs.pop(leg.leg_id, None)
                    asyncio.create_task(self._hangup_leg(leg))
            case WakeAt(at):
                asyncio.get_running_loop().call_later(max(0.0, at - self.clock()), self._tick)
            case HandOff(call_id, reason):
                live = self.calls.get(call_id)
                log.warning("call.handed_off", uniqueid=call_id, reason=reason)
                if live is not None:
                    live.answered.put_nowait(None)
            case CallbackGaveUp(call_id, attempts):
                log.warning("call.callback_gave_up", uniqueid=call_id, attempts=attempts)
            case AgentStateChanged(agent_id, state, reason):
                log.info("agent.state", agent=agent_id, state=state.value, reason=reason)
                if state == AgentState.PAUSED and reason == MISSED_CALLS:
                    self._choose(agent_id, "paused", reason, "core")
                elif state == AgentState.AVAILABLE and reason == AUTO_RESUMED:
                    self._choose(agent_id, "available", None, "core")  # a restart must not bring the pause back

    def _tick(self) -> None:
        self.apply(Tick(self.clock()))

    def violations(self) -> list[str]:
        """The core's invariant plus the adapter's: no leg, live call or adopted call the core does not hold."""
        found = self.acd.violations(self.clock())
        for leg in self.legs.values():
            if leg.released.done():
                continue  # its session is hanging it up
            call = self.acd.calls.get(leg.call_id)
            ringing = call is not None and leg.agent_id in call.ringing
            talking = call is not None and call.state == CallState.CONNECTED and call.agent_id == leg.agent_id
            if not (ringing or talking):
                found.append(f"leg {leg.leg_id} of {leg.call_id} at {leg.agent_id} left behind")
        for call_id in self.calls:
            if call_id not in self.acd.calls:
                found.append(f"caller session {call_id} the core does not hold")
        for call_id in self.kept:
            if call_id not in self.acd.calls:
                found.append(f"kept place {call_id} the core does not hold")
        for call_id, call in self.acd.calls.items():
            if call.state != CallState.IN_MENU and call_id not in self.calls and call_id not in self.adopted \
                    and call_id not in self.kept:
                found.append(f"call {call_id} in the core with no caller session")
        return found

    # -- ringing agents ---------------------------------------------------------------------------

    async def _ring(self, offer: Offer) -> None:
        """Ring one agent for one call until answered, refused or out of time."""
        live: LiveCall | KeptPlace | None = self.calls.get(offer.call_id) or self.kept.get(offer.call_id)
        leg = Leg(f"{self.leg_prefix}{uuid.uuid4().hex[:20]}", offer.call_id, offer.agent_id)
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
        agents_fault = False
        try:
            # Ring first, write the ticket while it rings: the database never delays a phone.
            originate = asyncio.create_task(self.ami.action(action, timeout=offer.timeout + 10))
            await asyncio.sleep(0)  # let the Originate go out now
            await self.tickets.mark_ringing(offer.call_id, offer.agent_id, _utc(self.clock()))
            replies = await originate
            final = replies[-1] if isinstance(replies, list) else replies
            if final.get("Response") == "Success":
                # Answered: the leg's FastAGI session (serve_agent) takes it from here, unless it
                # never comes (the AGI connection failed, the phone dropped at once).
                try:
                    await asyncio.wait_for(asyncio.shield(leg.claimed), ANSWER_GRACE)
                    return
                except TimeoutError:
                    reason = "answered but no agent session"
            else:
                reason = f"originate reason {final.get('Reason', '?')}"
                # A ring Asterisk itself cut as it stopped (restart) is nobody's miss; nor is one that
                # rang while the phone was taken by another call (the fallback queue's, say, after an
                # AMI outage), whose busy state reached us only after the offer went out.
                cut = leg.leg_id in self.cut_by_asterisk or self._shutting_down()
                in_use = self.device_states.get(offer.agent_id) in ON_ANOTHER_CALL
                if in_use:
                    reason += ", phone in use on another call"
                agents_fault = str(final.get("Reason", "")) in AGENT_REASONS and not cut and not in_use
        except AmiError as err:
            reason = str(err)
        if self.legs.pop(leg.leg_id, None) is None:
            return  # the core ended this ring already (answered elsewhere, caller left, deadline)
        if agents_fault:
            if self.apply(RingFailed(offer.call_id, offer.agent_id, self.clock())):
                log.info("agent.ring_failed", uniqueid=offer.call_id, agent=offer.agent_id, reason=reason)
        else:
            asyncio.create_task(self._hangup_leg(leg))
            if self.apply(OfferWithdrawn(offer.call_id, offer.agent_id, self.clock(), reason)):
                log.warning("acd.offer_withdrawn", uniqueid=offer.call_id, agent=offer.agent_id, reason=reason)

    async def _hangup_leg(self, leg: Leg) -> None:
        if not leg.released.done():
            leg.released.set_result(None)
        channel = leg.channel or await self._channel_of(leg)
        if channel is None or not self.ami.connected:
            log.debug("ami.hangup_unknown_channel", leg=leg.leg_id)
            now = self.clock()
            self.dropped = {k: t for k, t in self.dropped.items() if now - t < 120}
            self.dropped[leg.leg_id] = now  # if its channel appears later, it is hung up then
            return
        await self._hangup_channel(channel)

    async def _channel_of(self, leg: Leg, wait: float = 1.0) -> str | None:
        """The leg's channel name, waiting briefly for its Newchannel event."""
        deadline = time.monotonic() + wait
        while leg.channel is None and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return leg.channel

    # -- the link to Asterisk ---------------------------------------------------------------------

    def on_disconnect(self) -> None:
        """AMI is gone: no offers until it is back and resynchronised (the core hands callers off)."""
        now = self.clock()
        self._resynced.clear()
        if self.link["up"]:
            self.link.update(up=False, down_since=now)
        self.apply(LinkDown(now))

    async def on_login(self) -> None:
        """After each AMI login: resynchronise with what Asterisk has, then offer again."""
        self.asterisk_going = False
        status = await self.ami.action({"Action": "CoreStatus"})
        started = f"{status.get('CoreStartupDate', '')} {status.get('CoreStartupTime', '')}"
        if self.asterisk_started is not None and started != self.asterisk_started:
            log.warning("asterisk.restarted", started=started)
        self.asterisk_started = started
        channels = await self._channels()
        if not self.started:
            self.started = True
            await self.refresh_agents(restore=True)
            await self._adopt(channels)
            await self._hang_up_strays(channels)
            # A call that hung up while we read the database was adopted from the old list, and its
            # Hangup named a call we did not hold yet: ask again (from here on_hangup sees them).
            channels = await self._channels()
        else:
            await self.refresh_agents()
        now = self.clock()
        self.link.update(up=True, down_since=None, resyncs=self.link["resyncs"] + 1, last_resync=_utc(now).isoformat())
        self.apply(LinkUp(now))  # first: a ring found gone below is offered again, not handed off
        self._resync_legs(channels)
        self._resync_adopted(channels)
        self._resynced.set()
        log.info("ami.resynced", channels=len(channels), legs=len(self.legs), adopted=len(self.adopted),
                 waiting=len(self.acd.waiting()))

    async def _channels(self) -> dict[str, Message]:
        """Asterisk's channels now, by unique id."""
        replies = await self.ami.action({"Action": "CoreShowChannels"}, as_list=True)
        return {e.get("Uniqueid"): e for e in (replies if isinstance(replies, list) else [])
                if e.get("Event") == "CoreShowChannel" and e.get("Uniqueid")}

    async def _hang_up_strays(self, channels: dict[str, Message]) -> None:
        """At start: agent legs still ringing that an earlier run (or the other controller) placed.

        Nobody will bridge them (their caller's session is gone), and the phone must ring for one
        controller only: they are hung up before this one's first offer.
        """
        for uniqueid, channel in channels.items():
            if uniqueid.startswith(LEG_PREFIX) and uniqueid not in self.legs and channel.get("ChannelState") != "6":
                log.info("agent.stray_ring_ended", leg=uniqueid, channel=channel.get("Channel"))
                await self._hangup_channel(str(channel.get("Channel", "")))

    def _resync_legs(self, channels: dict[str, Message]) -> None:
        """Our rings as Asterisk has them after an outage: ringing now, or gone (withdrawn)."""
        now = self.clock()
        for leg in list(self.legs.values()):
            if leg.claimed.done():
                continue  # answered: the agent's session holds it
            channel = channels.get(leg.leg_id)
            if channel is None:
                self.legs.pop(leg.leg_id, None)
                self.apply(OfferWithdrawn(leg.call_id, leg.agent_id, now, "leg gone after outage"))
            else:
                leg.channel = leg.channel or channel.get("Channel")
                if channel.get("ChannelState") in RINGING_STATES:
                    self.apply(RingStarted(leg.call_id, leg.agent_id, now))

    def _resync_adopted(self, channels: dict[str, Message]) -> None:
        for adopted in list(self.adopted.values()):
            if adopted.call_id not in channels:  # ended while AMI was away: the end was not seen
                self._spawn(self._end_adopted(adopted, adopted.ended_by or "system", observed=True))

    async def _adopt(self, channels: dict[str, Message]) -> None:
        """At start: calls still bridged to an agent (the controller was away) are followed to their end."""
        unended = {t.uniqueid: t for t in await self.tickets.list_unended()}
        by_bridge: dict[str, list[Message]] = {}
        for channel in channels.values():
            if channel.get("BridgeId"):
                by_bridge.setdefault(channel.get("BridgeId"), []).append(channel)
        now = self.clock()
        for members in by_bridge.values():
            callers = [c for c in members if c.get("Uniqueid") in unended]
            agents = [(agent_id, c) for c in members for agent_id in self.skills
                      if str(c.get("Channel", "")).startswith(f"PJSIP/{agent_id}-")]
            if len(callers) != 1 or len(agents) != 1:
                continue
            call_id, (agent_id, agent_channel) = callers[0].get("Uniqueid"), agents[0]
            if call_id in self.calls or not self.apply(CallAdopted(call_id, agent_id, now)):
                continue
            self.adopted[call_id] = AdoptedCall(call_id, agent_id, agent_channel.get("Uniqueid"))
            if unended[call_id].answered_at is None:  # the answer was never written (the controller died then)
                await self.tickets.mark_answered(call_id, agent_id, _utc(now))
                await self.tickets.record_details(call_id, "answer", {"observed": "at_start"})
            log.info("call.adopted", uniqueid=call_id, agent=agent_id)

    def on_bridge_leave(self, event: Message) -> None:
        """The first side of an adopted call to leave its bridge is the side that hung up."""
        uniqueid = event.get("Uniqueid", "")
        for adopted in self.adopted.values():
            if adopted.ended_by is None and uniqueid in (adopted.agent_uniqueid, adopted.call_id):
                adopted.ended_by = "agent" if uniqueid == adopted.agent_uniqueid else "caller"

    def on_hangup(self, event: Message) -> None:
        uniqueid = _header(event, "Uniqueid")
        for adopted in list(self.adopted.values()):
            if uniqueid == adopted.agent_uniqueid and adopted.ended_by is None:
                adopted.ended_by = "agent"
            elif uniqueid == adopted.call_id:
                by = "system" if self._shutting_down() else adopted.ended_by or "caller"
                self._spawn(self._end_adopted(adopted, by))

    async def _end_adopted(self, adopted: AdoptedCall, hangup_by: str, observed: bool = False) -> None:
        if self.adopted.pop(adopted.call_id, None) is None:
            return
        now = self.clock()
        self.apply(CallEnded(adopted.call_id, now))
        log.info("call.ended", uniqueid=adopted.call_id, hangup_by=hangup_by, adopted=True, observed=observed)
        if observed:
            await self.tickets.record_details(adopted.call_id, "end", {"observed": "after_outage", "at": _utc(now).isoformat()})
        await self.tickets.mark_ended(adopted.call_id, _utc(now), hangup_by)

    def _shutting_down(self) -> bool:
        """Asterisk announced a shutdown and has not been back (logged in again) since."""
        return self.asterisk_going

    def on_shutdown(self, event: Message) -> None:
        self.shutdown_at = self.clock()
        self.asterisk_going = True
        log.warning("asterisk.shutdown", restart=event.get("Restart"), shutdown=event.get("Shutdown"))

    def on_soft_hangup(self, event: Message) -> None:
        """Asterisk is hanging a channel up because it is stopping: that channel's call was cut, not ended."""
        uniqueid = _header(event, "Uniqueid")
        if _header(event, "Cause") != SHUTDOWN_CAUSE or not uniqueid:
            return
        now = self.clock()
        if not self.asterisk_going:
            self.shutdown_at, self.asterisk_going = now, True
            log.warning("asterisk.shutting_down", first_channel=uniqueid)
        for old in [uid for uid, at in self.cut_by_asterisk.items() if at < now - CUT_MEMORY]:
            del self.cut_by_asterisk[old]  # in place: the queue_log reconciler holds this dict
        self.cut_by_asterisk[uniqueid] = now

    async def _ended_by(self, call_id: str, default: str, at: float) -> str:
        """Who ended a call whose session closed at ``at``: ``default``, or "system" if Asterisk cut it.

        A clean stop or restart names each channel it cuts (``on_soft_hangup``).  A crash names
        none: then AMI went at the same moment and Asterisk came back with a new start time.
        """
        deadline = at + CUT_WINDOW
        while self.clock() < deadline and self.ami.connected and call_id not in self.cut_by_asterisk:
            await asyncio.sleep(0.1)
        if call_id in self.cut_by_asterisk:
            return "system"
        if self.ami.connected or self.shutdown_at is not None and self.shutdown_at >= at - CUT_WINDOW:
            return default  # AMI stayed, or Asterisk stopped cleanly and did not cut this channel
        down_since = self.link["down_since"]
        if down_since is None or down_since < at - CUT_WINDOW:
            return default  # AMI was already away: nothing says Asterisk went with the call
        before = self.asterisk_started
        try:
            await asyncio.wait_for(self._resynced.wait(), 30)
        except TimeoutError:
            return "system"
        return "system" if self.asterisk_started != before else default

    # -- AMI events -------------------------------------------------------------------------------

    async def refresh_agents(self, restore: bool = False) -> None:
        """Read every agent phone's device state (after each AMI login); ``restore``: bring back chosen states."""
        events = await self.ami.action({"Action": "DeviceStateList"}, as_list=True)
        for event in events if isinstance(events, list) else []:
            if event.get("Event") == "DeviceStateChange":
                self.on_device_state(event, restore=restore)

    def on_device_state(self, event: Message, restore: bool = False) -> None:
        device = _header(event, "Device")
        agent_id = device[len("PJSIP/") :] if device.startswith("PJSIP/") else ""
        if agent_id not in self.skills:
            return
        state, now = _header(event, "State"), self.clock()
        if state not in DEVICE_STATES:
            return
        self.device_states[agent_id] = state
        if state in UNREGISTERED and self._shutting_down():
            return  # Asterisk is going away, not the phone: the resync after it is back tells
        if state in UNREGISTERED:
            self.registered.discard(agent_id)
            if agent_id in self.acd.agents:
                self.apply(AgentLoggedOut(agent_id, now))
            return
        if agent_id not in self.registered:
            self.registered.add(agent_id)
            self._log_in_as_chosen(agent_id, now)
        if agent_id in self.acd.agents:
            self.apply(AgentPhoneBusy(agent_id, now, busy=state in PHONE_BUSY))

    def release_phone(self, agent_id: str) -> None:
        """End a reservation (``AgentPhoneBusy`` set by an automatic callback): the phone is as its last device state says.

        The latest DeviceStateChange is the truth; a DeviceStateList read now can be older than it.
        """
        if agent_id in self.acd.agents:
            busy = self.device_states.get(agent_id) in PHONE_BUSY
            self.apply(AgentPhoneBusy(agent_id, self.clock(), busy=busy))

    def _log_in_as_chosen(self, agent_id: str, now: float) -> None:
        """A phone registered: log its operator in as they last chose (logged out stays out, a break stays a break)."""
        chosen = self.chosen.get(agent_id)
        choice = chosen.state if chosen is not None else None
        if choice == "logged_out" or (choice is None and not self.settings.acd.auto_login):
            return
        self.apply(AgentLoggedIn(agent_id, now, self.skills[agent_id]))
        if choice == "paused":
            self.apply(AgentPaused(agent_id, now, chosen.reason or "break"))

    def _choose(self, agent_id: str, state: str, reason: str | None, by: str) -> None:
        """Remember an operator's chosen state (kept across restarts)."""
        since = _utc(self.clock())
        self.chosen[agent_id] = ChosenState(state, reason, since, by)
        if self.states is not None:
            asyncio.create_task(self.states.save(agent_id, state, reason, since, by))

    def on_new_channel(self, event: Message) -> None:
        leg = self.legs.get(_header(event, "Uniqueid"))
        if leg is not None:
            leg.channel = _header(event, "Channel") or leg.channel
        self._hang_up_dropped(event)

    def _hang_up_dropped(self, event: Message) -> None:
        """A ring we gave up before its channel was known showed up after all: stop it ringing for nobody."""
        uniqueid, channel = _header(event, "Uniqueid"), _header(event, "Channel")
        if uniqueid in self.dropped and channel:
            del self.dropped[uniqueid]
            log.info("acd.dropped_leg_hung_up", leg=uniqueid)
            asyncio.create_task(self._hangup_channel(channel))

    async def _finish_hangup(self, channel: str) -> None:
        await asyncio.sleep(LOST_BYE_CHECK)
        if await self._hangup_channel(channel):
            log.warning("acd.lost_hangup_repaired", channel=channel)

    async def _hangup_channel(self, channel: str) -> bool:
        """Hang ``channel`` up; False if it was gone already (or AMI is down)."""
        try:
            await self.ami.action({"Action": "Hangup", "Channel": channel})
            return True
        except AmiError as err:
            log.debug("ami.hangup_race", channel=channel, reason=str(err))
            return False

    def on_hangup_request(self, event: Message) -> None:
        """An answered agent leg's phone hung up: make sure the hang-up reaches the channel.

        Asterisk loses the phone's BYE when it comes just as the caller's Bridge moves the leg out of
        its FastAGI session: the hang-up goes to the session's surrogate and the leg sits in the bridge
        with a dead SIP session, the caller in silence until they give up.  A Hangup of our own a
        moment later ends that bridge; when the BYE did its work, there is no channel left to hang up.
        """
        if _header(event, "Uniqueid").startswith(LEG_PREFIX) and _header(event, "ChannelState") == "6":
            channel = _header(event, "Channel")
            if channel:
                asyncio.create_task(self._finish_hangup(channel))

    def on_new_state(self, event: Message) -> None:
        """The agent's phone is ringing (or answered at once): the ring window starts now."""
        self._hang_up_dropped(event)
        leg = self.legs.get(_header(event, "Uniqueid"))
        if leg is not None and _header(event, "ChannelState") in RINGING_STATES:
            leg.channel = leg.channel or _header(event, "Channel") or None
            self.apply(RingStarted(leg.call_id, leg.agent_id, self.clock()))

    def on_user_event(self, event: Message) -> None:
        if _header(event, "UserEvent") != "HotlineAgent":
            return
        self.agent_op(_header(event, "Agent"), _header(event, "Op"), by="phone")

    def set_skills(self, agent_id: str, skills: frozenset[str]) -> bool:
        """Give an agent new skills: at once if logged in, and at every later login; False if unknown."""
        if agent_id not in self.skills:
            return False
        self.skills[agent_id] = frozenset(skills)
        log.info("agent.skills", agent=agent_id, skills=sorted(skills))
        return self.apply(AgentSkillsChanged(agent_id, self.clock(), frozenset(skills)))

    # -- operators' actions (feature codes and the web's desk) --------------------------------------

    def make_available(self, agent_id: str, by: str = "web") -> bool:
        """Ready for calls: log in, end a pause or cut a wrap-up short; True if already available, else False."""
        agent = self.acd.agents.get(agent_id)
        state = agent.state if agent else AgentState.LOGGED_OUT
        if state == AgentState.LOGGED_OUT:
            return self.agent_op(agent_id, "login", by=by)
        if state == AgentState.PAUSED:
            return self.agent_op(agent_id, "resume", by=by)
        if state == AgentState.WRAP_UP:
            return self.apply(WrapUpEnded(agent_id, self.clock()))
        return state == AgentState.AVAILABLE

    def agent_op(self, agent_id: str, op: str, reason: str = "break", by: str = "web") -> bool:
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
        ok = self.apply(events[op]())
        if ok:
            chosen = {"login": "available", "resume": "available", "logout": "logged_out", "pause": "paused"}[op]
            self._choose(agent_id, chosen, reason if op == "pause" else None, by)
        return ok

    # -- the agent's answered leg -----------------------------------------------------------------

    async def serve_agent(self, agi: AgiSession) -> None:
        """An agent answered an offer: give the call to the caller's session, or hang up."""
        leg = self.legs.get(agi.env("uniqueid"))
        if leg is not None and not leg.claimed.done():
            leg.claimed.set_result(None)
        if leg is None or not self.apply(AgentAnswered(leg.call_id, leg.agent_id, self.clock())):
            if leg is not None:
                self.legs.pop(leg.leg_id, None)
                call_id, agent_id = leg.call_id, leg.agent_id
            else:  # the ring is over and forgotten: the leg's channel still says whose and for which call
                call_id, agent_id = await agi.get_variable("HOTLINE_CALL"), _agent_of(agi.env("channel"))
            log.info("agent.answer_too_late", uniqueid=call_id or None, agent=agent_id or None)
            if call_id and agent_id in self.skills:
                self.apply(LateAnswer(call_id, agent_id, self.clock()))
            await agi.run("HANGUP")
            return
        leg.channel = agi.env("channel")
        kept = self.kept.get(leg.call_id)
        if kept is not None:
            await self._serve_kept(agi, leg, kept)
            return
        try:
            live = self.calls[leg.call_id]
            live.answered.put_nowait(leg)
            self._stop_announcement(live)
            call = self.acd.calls[leg.call_id]
            log.info("call.answered", uniqueid=leg.call_id, agent=leg.agent_id)
            await self.tickets.mark_answered(leg.call_id, leg.agent_id, _utc(call.answered_at or self.clock()))
            await self.tickets.record_details(leg.call_id, "acd", self._measurements(call))
            # Parked until the caller's Bridge takes the leg (the socket then reports a hangup),
            # or until the caller's session releases it without bridging.
            await agi.idle_until(leg.released)
            await agi.run("HANGUP")
        finally:
            self.legs.pop(leg.leg_id, None)

    @staticmethod
    def _ring_seconds(call: Call) -> float:
        """From the call's first ring (or offer) to its answer."""
        first_ring = call.first_rang_at or call.first_offered_at or call.answered_at or 0
        return max(0.0, (call.answered_at or 0) - first_ring)

    def _within_window(self, call: Call) -> bool:
        """Answered within the two-ring promise (the ticket's ``within_two_rings``)."""
        return self._ring_seconds(call) <= self.settings.acd.ring_timeout

    def _measurements(self, call: Call) -> dict:
        """Per-call figures kept on the ticket: menu, wait, rings, two-ring promise, misses."""
        cadence = self.settings.acd.ring_on + self.settings.acd.ring_off
        ring_time = self._ring_seconds(call)
        waiting_since = call.waiting_since if call.waiting_since is not None else call.arrived_at
        return {
            "menu_seconds": round(waiting_since - call.arrived_at, 3),
            "wait_seconds": round((call.answered_at or 0) - waiting_since, 3),
            "ring_seconds": round(ring_time, 3),
            "rings": max(1, math.ceil(ring_time / cadence)) if cadence > 0 else 1,
            "within_two_rings": self._within_window(call),
            "offered_to": list(call.offered_to),
            "missed_by": list(call.missed_by),
        }

    # -- one caller's AGI session -----------------------------------------------------------------

    async def serve_call(
        self, agi: AgiSession, call_id: str, priority: int = 0, skill: str | None = None
    ) -> None:
        """Keep the caller on hold until an agent answers, bridge them, return when it is over.

        Every way out ends the ticket with the truth: the caller or the agent hung up, Asterisk
        cut the call ("system"), or the caller was handed to the dialplan's fallback queue (the
        ticket then follows queue_log: no end is written here).
        """
        live = LiveCall(call_id, agi.env("callerid"), agi.env("calleridname"), channel=agi.env("channel"))
        self.calls[call_id] = live
        hangup_by: str | None = None  # None: handed to the dialplan (fallback queue)
        stage = "queue"
        leg: Leg | None = None
        try:
            await agi.music_on()
            self.apply(CallWaiting(call_id, self.clock(), priority, skill))
            held = await self._hold(agi, live)
            if held == KEEP:
                stage = "kept"
                await self._confirm_kept(agi, live)
                return
            leg = held if isinstance(held, Leg) else None
            if leg is None:  # the core handed the caller back: AMI is down
                await agi.music_off()
                await agi.set_variable("HOTLINE_DONE", "2")  # the fallback queue now, not the other controller
                await self.tickets.record_details(call_id, "handoff", {"reason": "ami_down", "at": _utc(self.clock()).isoformat()})
                return
            stage = "bridge"
            # Once Bridge has run (BRIDGERESULT=SUCCESS) the caller is served: even if the controller dies
            # during the conversation, the dialplan must not send them on afterwards.  If it dies before
            # Bridge runs, the dialplan takes the caller on (to the other controller or the fallback queue).
            await agi.set_variable("HOTLINE_DONE", "3")
            await agi.music_off()
            if self.recorder is not None:  # MixMonitor on the caller's channel: both sides, while bridged
                await self.recorder.start_inbound(agi, call_id, leg.agent_id)
            await agi.exec("Bridge", leg.channel or "")
            result = await agi.get_variable("BRIDGERESULT")
            if result != "SUCCESS":
                # The agent's leg vanished between answer and bridge: let app_queue serve the caller.
                log.warning("call.bridge_failed", uniqueid=call_id, agent=leg.agent_id, result=result)
                await agi.set_variable("HOTLINE_DONE", "2")
            else:
                hangup_by = "agent"
        except AgiHangup:
            hangup_by = "caller"
        except asyncio.CancelledError:
            # The controller is stopping: the socket closes and the dialplan takes the call on to
            # the fallback queue (or lets a connected call finish); queue_log completes the ticket.
            hangup_by = None
            raise
        except Exception:
            # Our own fault: the socket closes, the dialplan's fallback queue serves the caller and
            # queue_log completes the ticket (answered by whoever took it there, not abandoned).
            log.exception("call.controller_error", uniqueid=call_id, stage=stage)
            hangup_by = None
        finally:
            self.calls.pop(call_id, None)
            if self.recorder is not None:
                self.recorder.ended(call_id)  # measures the file once Asterisk has closed it
            if leg is not None and not leg.released.done():
                leg.released.set_result(None)
            ended_at = self.clock()
            answered = self.acd.calls.get(call_id) is not None and self.acd.calls[call_id].state == CallState.CONNECTED
            if call_id in self.kept:  # the caller kept their place: the call goes on without them
                self.kept[call_id].hung_up.set()
            else:
                self.apply(CallEnded(call_id, ended_at))
                if hangup_by is None:
                    log.info("call.handed_to_dialplan", uniqueid=call_id, answered=answered, stage=stage)
                else:
                    self.end_ticket_later(call_id, ended_at, hangup_by, stage)

    async def _hold(self, agi: AgiSession, live: LiveCall) -> Leg | str | None:
        """Music until an agent answers (or the core hands the caller back), with announcements meanwhile.

        ``KEEP``: the caller pressed 1 and the core kept their place.  An answer that comes during
        an announcement is not lost when the caller then hangs up: its leg is released so the
        operator's phone is not left holding a dead call.
        """
        every = self.settings.acd.announce_every
        if every <= 0 and self.settings.acd.callback_offer_after > 0 and self.dialler is not None:
            every = self.settings.acd.callback_offer_after  # no announcements: the callback offer alone
        answered = asyncio.ensure_future(live.answered.get())
        keep = asyncio.ensure_future(live.keep.wait())
        try:
            while True:
                try:
                    await agi.idle_until(asyncio.wait_for(asyncio.wait({answered, keep}, return_when=asyncio.FIRST_COMPLETED),
                                                          every if every > 0 else None))
                except TimeoutError:
                    await self._announce(agi, live, answered)
                if answered.done():
                    return answered.result()
                if keep.done() or live.keep.is_set():
                    if self._keep_place(live):
                        return KEEP
                    live.keep.clear()  # too late (a phone rings for them) or not offered: hold on
                    keep.cancel()
                    keep = asyncio.ensure_future(live.keep.wait())
                    if not answered.done():
                        await agi.music_on()  # a key that stopped an announcement left the caller in silence
        except BaseException:
            if answered.done() and not answered.cancelled() and answered.result() is not None:
                leg = answered.result()
                if not leg.released.done():
                    leg.released.set_result(None)
            raise
        finally:
            answered.cancel()
            keep.cancel()

    async def _announce(self, agi: AgiSession, live: LiveCall, answered: asyncio.Future) -> None:
        """Tell a waiting caller their place and the estimated wait (``callcenter.ivr.waiting``), and,
        once they may keep their place, that 1 does it (the key ends the announcement)."""
        call = self.acd.calls.get(live.call_id)
        if call is None or call.state != CallState.WAITING:
            return  # a phone is ringing for this caller: the answer may come any moment
        offer = self._callback_open(live)
        if self.settings.acd.announce_every > 0:
            names = announcement(self.acd.position(live.call_id), self.acd.estimated_wait(live.call_id, self.clock()),
                                 offer_callback=offer)
        else:
            names = ("queue_callback_offer",) if offer else ()
        language = await self._language(agi)
        sounds = self.settings.sounds_path
        files = [
            playable(self.settings.asterisk_sounds_dir, language, name)
            for name in names
            if sounds is None or sound_path(sounds, language, name).exists()
        ]
        if not files:
            return
        log.info("call.announced", uniqueid=live.call_id, prompts=list(names), language=language)
        live.announcing = True
        try:
            await agi.music_off()
            for file in files:
                if answered.done() or live.keep.is_set():
                    break
                result = await agi.run(f'STREAM FILE {file} "{"1" if offer else ""}"')
                if offer and _key(result) == "1":
                    live.keep.set()
        finally:
            live.announcing = False
        if not answered.done() and not live.keep.is_set():
            await agi.music_on()

    # -- keep your place ----------------------------------------------------------------------------

    def _callback_open(self, live: LiveCall) -> bool:
        """May this caller keep their place now: waited ``callback_offer_after``, waiting (no phone
        ringing for them), a number the dialling policy would call."""
        after = self.settings.acd.callback_offer_after
        call = self.acd.calls.get(live.call_id)
        if after <= 0 or self.dialler is None or call is None or call.state != CallState.WAITING or call.kept_at is not None:
            return False
        since = call.waiting_since if call.waiting_since is not None else call.arrived_at
        if self.clock() - since + 1e-6 < after or not live.caller_number:
            return False
        try:
            self.dialler.external(live.caller_number)
        except CallCenterError:  # refused by the dialling policy (emergency, international, ...): not offered
            return False
        return True

    def on_dtmf(self, event: Message) -> None:
        """A key a caller on hold pressed (AMI DTMFEnd): 1 keeps their place once it is offered."""
        if _header(event, "Digit") != "1" or _header(event, "Direction") not in ("Received", ""):
            return
        live = self.calls.get(_header(event, "Uniqueid"))
        if live is None:
            channel = _header(event, "Channel")
            live = next((c for c in self.calls.values() if channel and c.channel == channel), None)
        if live is not None and self._callback_open(live):
            log.info("call.keep_pressed", uniqueid=live.call_id, via="dtmf")
            live.keep.set()

    def _keep_place(self, live: LiveCall) -> bool:
        """The caller pressed 1: the core keeps their place (False if it is too late: a phone rings for them)."""
        if not self._callback_open(live):
            return False
        now = self.clock()
        position = self.acd.position(live.call_id)
        call = self.acd.calls[live.call_id]
        since = call.waiting_since if call.waiting_since is not None else call.arrived_at
        if not self.apply(PlaceKept(live.call_id, now)):
            return False
        kept = KeptPlace(live.call_id, live.caller_number, live.caller_name, now, position, round(now - since, 3))
        self.kept[live.call_id] = kept
        log.info("call.place_kept", uniqueid=live.call_id, position=position, waited=kept.waited)
        self._spawn(self._record_callback(kept))
        return True

    async def _confirm_kept(self, agi: AgiSession, live: LiveCall) -> None:
        """Tell the caller their place is kept, and hang up (the dialplan must not queue them again)."""
        await agi.set_variable("HOTLINE_DONE", "1")
        await agi.music_off()
        language = await self._language(agi)
        sounds = self.settings.sounds_path
        if sounds is None or sound_path(sounds, language, "queue_callback_confirm").exists():
            await agi.run(f'STREAM FILE {playable(self.settings.asterisk_sounds_dir, language, "queue_callback_confirm")} ""')
        await agi.run("HANGUP")

    async def _record_callback(self, kept: KeptPlace) -> None:
        """The kept place's story on its ticket (``details.callback``): request, attempts, outcome."""
        await self.tickets.record_details(kept.call_id, "callback", {
            "requested_at": _utc(kept.requested_at).isoformat(),
            "position": kept.position,
            "waited_seconds": kept.waited,
            "attempts": [dict(a) for a in kept.attempts],
            "outcome": kept.outcome,
        })

    async def _serve_kept(self, agi: AgiSession, leg: Leg, kept: KeptPlace) -> None:
        """The operator answered a kept place: dial the caller from the operator's leg, then end or try later."""
        call_id, agent_id = leg.call_id, leg.agent_id
        attempt: dict[str, Any] = {"agent_id": agent_id, "at": _utc(self.clock()).isoformat(), "outcome": "calling"}
        kept.attempts.append(attempt)
        kept.outcome, kept.answered_at = "calling", None
        self._spawn(self._record_callback(kept))
        log.info("callback.operator_answered", uniqueid=call_id, agent=agent_id, attempt=len(kept.attempts))
        outcome, hangup_by = "failed", "agent"
        try:
            try:  # the caller's own session may still be saying goodbye: their line must be free
                await asyncio.wait_for(kept.hung_up.wait(), KEPT_SETTLE)
            except TimeoutError:
                pass
            try:
                if self.dialler is None:
                    raise AmiError("callback.no_dialler", "no dialling policy to call the caller back")
                dial = self.dialler.admit(kept.caller_number, by=agent_id, kind="kept_place")
            except CallCenterError as err:  # refused (policy, rate limit): this attempt fails, the operator is freed
                outcome = "refused"
                attempt["reason"] = getattr(err, "reason", None) or str(err)
                log.warning("callback.dial_refused", uniqueid=call_id, agent=agent_id, reason=attempt["reason"])
            else:
                await agi.set_variable("CALLERID(all)", f'"" <{self.settings.outbound.caller_id or self.settings.asterisk.hotline_number}>')
                if self.recorder is not None:  # MixMonitor on the operator's leg: both sides, while bridged
                    await self.recorder.start_inbound(agi, call_id, agent_id)
                await agi.exec("Dial", f"{dial},{int(self.settings.outbound.caller_ring_seconds)},g")
                status = await agi.get_variable("DIALSTATUS")
                outcome = DIAL_OUTCOMES.get(status, status.lower() or "failed")
                if outcome == "answered":
                    self._callback_answered(kept, agent_id)  # in case DialEnd was not seen
                    hangup_by = "caller"  # Dial returned: the caller hung up, the operator is still here
        except AgiHangup:  # the operator hung up, during the call or before the caller answered
            outcome = "answered" if kept.answered_at is not None else "operator_hung_up"
        finally:
            self.legs.pop(leg.leg_id, None)
            if self.recorder is not None:
                self.recorder.ended(call_id)
            attempt["outcome"] = outcome
            now = self.clock()
            if outcome == "answered":
                self.kept.pop(call_id, None)
                kept.outcome = "answered"
                self.apply(CallEnded(call_id, now))
                self._spawn(self._record_callback(kept))
                self.end_ticket_later(call_id, now, hangup_by, "callback")
            else:
                self.apply(CallbackUnreached(call_id, agent_id, now))
                if call_id not in self.acd.calls:  # the core gave up: an unanswered call, an abandoned-call task
                    self.kept.pop(call_id, None)
                    kept.outcome = "unreached"
                    self._spawn(self._record_callback(kept))
                    self.end_ticket_later(call_id, now, "caller", "callback")
                else:
                    kept.outcome = "waiting"
                    self._spawn(self._record_callback(kept))
            log.info("callback.attempt", uniqueid=call_id, agent=agent_id, outcome=outcome, attempt=len(kept.attempts),
                     result=kept.outcome)
        try:
            await agi.run("HANGUP")
        except AgiHangup:
            pass

    def on_dial_end(self, event: Message) -> None:
        """The caller of a kept place answered the callback (DialEnd on the operator's leg)."""
        leg = self.legs.get(_header(event, "Uniqueid"))
        if leg is None or leg.call_id not in self.kept or _header(event, "DialStatus") != "ANSWER":
            return
        self._callback_answered(self.kept[leg.call_id], leg.agent_id)

    def _callback_answered(self, kept: KeptPlace, agent_id: str) -> None:
        """The caller is on the line with the operator: the ticket is answered now."""
        if kept.answered_at is not None:
            return
        kept.answered_at = self.clock()
        call = self.acd.calls.get(kept.call_id)
        log.info("call.answered", uniqueid=kept.call_id, agent=agent_id, callback=True)
        self._spawn(self.tickets.mark_answered(kept.call_id, agent_id, _utc(kept.answered_at)))
        if call is not None:
            self._spawn(self.tickets.record_details(kept.call_id, "acd", self._measurements(call)))

    async def _language(self, agi: AgiSession) -> str:
        """The caller's language: the IVR's choice (CHANNEL(language)), or the hotline's first language."""
        if self.settings.ivr.enabled:
            chosen = await agi.get_variable("CHANNEL(language)")
            if chosen:
                return chosen
        return self.settings.ivr.language

    def _stop_announcement(self, live: LiveCall) -> None:
        """An operator answered during a hold announcement: cut it short so the bridge is not delayed."""
        if live.announcing and live.channel and self.ami.connected:
            self._spawn(self._control_playback(live.channel, "stop"))

    async def _control_playback(self, channel: str, control: str) -> None:
        try:
            await self.ami.action({"Action": "ControlPlayback", "Channel": channel, "Control": control})
        except AmiError as err:  # the announcement then ends by itself, a few seconds later
            log.warning("call.announcement_not_stopped", channel=channel, error=str(err))

    def end_ticket_later(self, call_id: str, ended_at: float, hangup_by: str, stage: str) -> None:
        """End the ticket in the background: the FastAGI session closes now, so Asterisk never waits on us."""
        self.ending.add(call_id)
        self._spawn(self.end_ticket(call_id, ended_at, hangup_by, stage))

    async def end_ticket(self, call_id: str, ended_at: float, hangup_by: str, stage: str) -> None:
        """Write the ticket's end (and the stage it ended in) once it is known whether Asterisk itself cut the call.

        The caller adds ``call_id`` to ``ending`` first, so the sweep leaves it alone meanwhile.
        """
        try:
            hangup_by = await self._ended_by(call_id, hangup_by, ended_at)
            log.info("call.ended", uniqueid=call_id, hangup_by=hangup_by, stage=stage)
            await self.tickets.record_details(call_id, "end", {"stage": stage, "hangup_by": hangup_by})
            await self.tickets.mark_ended(call_id, _utc(ended_at), hangup_by)
        finally:
            self.ending.discard(call_id)

    def in_hand(self) -> set[str]:
        """Calls this controller is following (sessions, adopted calls, ends being written): not for the sweep."""
        return set(self.calls) | set(self.adopted) | self.ending | set(self.kept)


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _header(event: Message, name: str) -> str:
    """A header's text; "" when missing or garbled (panoramisk makes a repeated header a list)."""
    value = event.get(name, "")
    return value if isinstance(value, str) else ""


def _key(result: dict[str, Any]) -> str | None:
    """The key that stopped a STREAM FILE (``result=<ASCII code>``; 0: none)."""
    value = result.get("result", ("0", ""))[0]
    return chr(int(value)) if value.isdigit() and 0 < int(value) < 128 else None


def _agent_of(channel: str) -> str:
    """The agent of one of their phone's channels: ``PJSIP/1001-0000002a`` -> ``1001``."""
    return channel[len("PJSIP/"):].rsplit("-", 1)[0] if channel.startswith("PJSIP/") else ""


def _cid(text: str) -> str:
    """Caller id text safe inside an AMI header and a quoted name."""
    return "".join(ch for ch in text if ch.isprintable() and ch not in '"<>\r\n')[:64]
