"""Automatic call distribution: the pure decision core.

Theory of operation
-------------------
The core holds the state of every agent and every call of the hotline and answers one question,
"what now?", each time something happens.  Events come in with a timestamp (``handle(event)``);
commands go out as plain values (``Offer``, ``StopRinging``, ``WakeAt``, ``AgentStateChanged``).
It never does I/O and never awaits: the adapter (``callcenter.adapter``) owns the sockets, turns
AMI/AGI traffic into events, carries out the commands and, for ``WakeAt``, sends ``Tick`` events.
Because of that, routing is tested with plain values and a fake clock.

Rules:
- A waiting call is offered the moment an eligible agent is free; calls are served by priority,
  then arrival.  Eligible: available, not busy on the phone outside the ACD, and holding the
  call's skill (any agent once the call has waited ``overflow_after``, or at once when no
  logged-in agent has the skill).  An agent who frees serves ringing calls before the queue: first
  a call whose only ring is past its guard point (the SLA guard below), then one more phone for
  each escalating call, and only then the waiting calls.  A waiting call's two-ring promise has not
  started yet; a ringing call's runs out in seconds.
- Which free agent: an agent who already missed this call is the last choice; then agents likely
  to answer within the ring window (p >= ``likely_threshold``) before unlikely ones; inside each
  group the strategy (longest idle, fewest calls, round robin), so work is still shared.
- An unlikely agent is a helper: a guard, pair or escalation ring, not a call's only ring.  When no
  likely agent is free the call still rings them at once (a call never waits while an eligible
  agent is free), but their guard point is ring start: the next agent free rings too.
- Each agent remembers the offers that rang at their phone (``AnswerMemory``): answered or not, and
  how many seconds from ring start to answer, decayed with ``memory_half_life`` so a bad hour is
  forgiven.  A new agent starts as if ``PRIOR_OFFERS`` offers had rung and been answered, spread
  evenly over the window.  p(answer within t) = (prior answers within t + remembered answers
  within t) / (prior offers + remembered offers).  A ring stopped because another agent answered or
  the caller left, and a withdrawn offer, are remembered as nothing (and are nobody's miss).
- An agent has at most one call, ringing or connected.  A call rings one agent, or more:
  - the SLA guard: while one agent rings, another free agent rings too from the first moment the
    ringing agent's own history puts the chance of an answer in what is left of the window below
    ``guard_likelihood`` (checked at ring start and every ``ANSWER_BIN`` seconds after), and at the
    latest ``sla_guard_after`` seconds into the window (an unknown agent is guarded then; an
    unlikely one at ring start);
  - pairing (``pair_when_idle``): when the queue is empty and more than ``PAIR_RESERVE`` agents
    are still free after an offer, a second agent rings with the new call at once;
  - escalation: a call still unanswered ``escalate_after`` seconds after its first ring rings every
    free eligible agent (the room's phones all ring), and any agent freed until it is answered;
  the first to answer gets the call, the other phones stop.  ``sla_guard_after`` off turns all
  three off (one phone at a time); each can be turned off alone.  ``Offer.kind`` says which.
- An offer not answered in the window (``RingFailed``) returns the call to the queue and offers it
  again at once (no retry pause, unlike app_queue).  ``max_missed`` misses in a row pause the
  agent with reason ``missed_calls``; the core resumes them ``auto_resume_after`` seconds later
  (``Agent.resume_at``), unless they resumed or paused for another reason meanwhile.  A phone
  that answers just after its ring ended (``LateAnswer``) takes that miss back.
- ``position`` and ``estimated_wait`` tell a waiting caller where they stand (see
  ``estimated_wait`` for the model); ``agent_figures`` gives supervisors each agent's memory.
- The core owns time.  The ring window and the SLA guard run from the moment the phone rings
  (``RingStarted``), not from the offer.  Every offer has a deadline in the core: an offer that has
  not reached the phone ``setup_timeout`` after it was made is withdrawn, and a ring still going
  ``ring_timeout + ring_grace`` after it started is a miss, even if Asterisk never says so.
- A transport failure (``OfferWithdrawn``: AMI down, an Originate Asterisk refused, an answer that
  never reached us) is nobody's miss: the call goes back to the queue and that agent is held out
  of offers for ``retry_after`` seconds, so a broken phone does not spin.
- While the link to Asterisk is down (``LinkDown`` .. ``LinkUp``) no offer is made; a waiting
  caller who has spent ``handoff_after`` seconds waiting in the outage is handed back to the
  dialplan (``HandOff``), whose fallback queue serves them.
- A call that was already connected when the controller started is adopted (``CallAdopted``) so
  its operator is on a call, not available.
- Keep your place (``PlaceKept``): a waiting caller who chose to be called back hangs up, and the
  call stays in the queue with its waiting time but no caller on the line.  In its turn it is
  offered like any call (``Offer.callback``), to one free operator at a time (no guard, pairing or
  escalation: a kept call never rings two phones), so no more callbacks go out than operators are
  free.  The operator answers, then the adapter dials the caller.  A caller not reached
  (``CallbackUnreached``) frees the operator at once (no wrap-up, not a miss) and the call waits
  again in its old place, offered no sooner than ``callback_retry_after`` seconds later; after
  ``callback_attempts`` such attempts the core forgets it (``CallbackGaveUp``).  A kept call is
  never handed back to the dialplan in an outage: nobody is on the line; it waits for the link.
- After a call, the agent is in wrap-up for ``wrap_up`` seconds (``WrapUpEnded`` ends it early).
- Pause and logout requested while ringing or on a call take effect when the agent is free.
- Every transition is listed in ``AGENT_TRANSITIONS`` / ``CALL_TRANSITIONS``; anything else raises
  ``IllegalTransition`` before state is touched, so a bad event never corrupts the core.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import math
from dataclasses import dataclass, field
from enum import StrEnum


class AgentState(StrEnum):
    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


class CallState(StrEnum):
    IN_MENU = "in_menu"
    WAITING = "waiting"
    OFFERED = "offered"
    CONNECTED = "connected"
    ENDED = "ended"


class Strategy(StrEnum):
    LONGEST_IDLE = "longest_idle"
    FEWEST_CALLS = "fewest_calls"
    ROUND_ROBIN = "round_robin"


class IllegalTransition(Exception):
    """An event does not fit the current state; the core's state is left unchanged."""


MISSED_CALLS = "missed_calls"  # pause reason set by the core itself
AUTO_RESUMED = "auto_resumed"  # AgentStateChanged reason when the core ends a missed-calls pause
ANSWER_BIN = 0.5  # seconds: resolution of the remembered answer delays and of the guard's checks
PRIOR_OFFERS = 4.0  # a new agent: as if this many offers had rung and been answered over the window
PAIR_RESERVE = 1  # free agents pairing leaves for the next caller
DEFAULT_TALK = 180.0  # seconds of talk assumed before any call has ended (for the estimated wait)

# ---- events (inputs) -------------------------------------------------------------------------


@dataclass(frozen=True)
class AgentLoggedIn:
    agent_id: str
    at: float
    skills: frozenset[str] = frozenset()


@dataclass(frozen=True)
class AgentLoggedOut:
    agent_id: str
    at: float


@dataclass(frozen=True)
class AgentPaused:
    agent_id: str
    at: float
    reason: str = "break"


@dataclass(frozen=True)
class AgentResumed:
    agent_id: str
    at: float


@dataclass(frozen=True)
class AgentSkillsChanged:
    """A supervisor changed the agent's skills: they apply at once (and at the next login)."""

    agent_id: str
    at: float
    skills: frozenset[str] = frozenset()


@dataclass(frozen=True)
class WrapUpEnded:
    agent_id: str
    at: float


@dataclass(frozen=True)
class AgentPhoneBusy:
    """The agent's phone is (or no longer is) busy with a call the ACD did not place."""

    agent_id: str
    at: float
    busy: bool


@dataclass(frozen=True)
class CallArrived:
    """A call entered the hotline and is in the menu (not yet waiting for an agent)."""

    call_id: str
    at: float


@dataclass(frozen=True)
class CallWaiting:
    call_id: str
    at: float
    priority: int = 0  # higher goes first
    skill: str | None = None  # from the menu choice; None: any agent


@dataclass(frozen=True)
class RingFailed:
    """The offered agent did not answer in the window (or was busy / unreachable)."""

    call_id: str
    agent_id: str
    at: float


@dataclass(frozen=True)
class RingStarted:
    """The offered agent's phone is ringing (or answered straight away): the ring window starts."""

    call_id: str
    agent_id: str
    at: float


@dataclass(frozen=True)
class OfferWithdrawn:
    """The offer never reached the agent (transport failure): not the agent's miss."""

    call_id: str
    agent_id: str
    at: float
    reason: str = "transport"


@dataclass(frozen=True)
class LinkDown:
    """The control link to Asterisk (AMI) is down: no offer can go out."""

    at: float


@dataclass(frozen=True)
class LinkUp:
    """The link is back and the adapter has resynchronised: offers may go out again."""

    at: float


@dataclass(frozen=True)
class CallAdopted:
    """A call found connected to ``agent_id`` when the controller started (it kept going in Asterisk)."""

    call_id: str
    agent_id: str
    at: float


@dataclass(frozen=True)
class AgentAnswered:
    call_id: str
    agent_id: str
    at: float


@dataclass(frozen=True)
class LateAnswer:
    """The agent's phone answered a ring the core had already ended: they were at the desk after all."""

    call_id: str
    agent_id: str
    at: float


@dataclass(frozen=True)
class CallEnded:
    """The call is over, whoever hung up, in whatever state it was."""

    call_id: str
    at: float


@dataclass(frozen=True)
class PlaceKept:
    """A waiting caller chose to be called back and hung up: the call keeps its place, with nobody on the line."""

    call_id: str
    at: float


@dataclass(frozen=True)
class CallbackUnreached:
    """A kept call's operator answered but its caller did not (no answer, busy, failed, operator hung up first)."""

    call_id: str
    agent_id: str
    at: float


@dataclass(frozen=True)
class Tick:
    """Time passed: due wrap-ups end, SLA guards and skill overflows fire."""

    at: float


Event = (
    AgentLoggedIn | AgentLoggedOut | AgentPaused | AgentResumed | AgentSkillsChanged | WrapUpEnded | AgentPhoneBusy
    | CallArrived | CallWaiting | RingStarted | RingFailed | OfferWithdrawn | AgentAnswered | CallEnded
    | CallAdopted | LinkDown | LinkUp | PlaceKept | CallbackUnreached | LateAnswer | Tick
)

# ---- commands (outputs) ----------------------------------------------------------------------


@dataclass(frozen=True)
class Offer:
    """Ring ``agent_id`` with ``call_id`` for at most ``timeout`` seconds."""

    call_id: str
    agent_id: str
    timeout: float
    guard: bool = False  # not the call's only ring: placed by the SLA guard, pairing or escalation
    # "first": the call's own ring; "guard": the SLA guard's; "pair": rung with the first at once
    # (queue empty); "all": escalation rings every free agent.  Left empty, it follows ``guard``.
    kind: str = ""
    callback: bool = False  # a kept place: no caller on the line; once the operator answers, the caller is dialled

    def __post_init__(self) -> None:
        if not self.kind:
            object.__setattr__(self, "kind", "guard" if self.guard else "first")


@dataclass(frozen=True)
class StopRinging:
    call_id: str
    agent_id: str


@dataclass(frozen=True)
class WakeAt:
    """Send ``Tick`` at (or just after) ``at``: something is due then."""

    at: float


@dataclass(frozen=True)
class HandOff:
    """Give the caller back to the dialplan (its fallback queue): the core has forgotten the call."""

    call_id: str
    reason: str


@dataclass(frozen=True)
class CallbackGaveUp:
    """A kept call's caller was not reached in ``attempts`` callbacks: the core has forgotten the call."""

    call_id: str
    attempts: int


@dataclass(frozen=True)
class AgentStateChanged:
    """For the log, the wallboard and the operator's page."""

    agent_id: str
    state: AgentState
    reason: str | None = None  # the pause reason; AUTO_RESUMED when the core ended a missed-calls pause


Command = Offer | StopRinging | WakeAt | HandOff | AgentStateChanged | CallbackGaveUp

# ---- transition tables -----------------------------------------------------------------------

S = AgentState
AGENT_TRANSITIONS: dict[tuple[AgentState, str], AgentState] = {
    (S.LOGGED_OUT, "login"): S.AVAILABLE,
    (S.AVAILABLE, "logout"): S.LOGGED_OUT,
    (S.WRAP_UP, "logout"): S.LOGGED_OUT,
    (S.PAUSED, "logout"): S.LOGGED_OUT,
    (S.AVAILABLE, "pause"): S.PAUSED,
    (S.WRAP_UP, "pause"): S.PAUSED,
    (S.PAUSED, "pause"): S.PAUSED,  # a new reason
    (S.PAUSED, "resume"): S.AVAILABLE,
    (S.AVAILABLE, "offer"): S.RINGING,
    (S.RINGING, "ring_failed"): S.AVAILABLE,
    (S.RINGING, "ring_stopped"): S.AVAILABLE,  # another agent answered, or the caller left
    (S.RINGING, "answer"): S.ON_CALL,
    (S.RINGING, "withdrawn"): S.AVAILABLE,  # the offer never reached the phone: not a miss
    (S.AVAILABLE, "adopt"): S.ON_CALL,  # found talking at start
    (S.PAUSED, "adopt"): S.ON_CALL,
    (S.WRAP_UP, "adopt"): S.ON_CALL,
    (S.LOGGED_OUT, "adopt"): S.ON_CALL,
    (S.ON_CALL, "call_ended"): S.WRAP_UP,
    (S.ON_CALL, "callback_unreached"): S.AVAILABLE,  # the kept call's caller did not answer: free at once
    (S.WRAP_UP, "wrap_up_ended"): S.AVAILABLE,
}
C = CallState
CALL_TRANSITIONS: dict[tuple[CallState, str], CallState] = {
    (C.IN_MENU, "wait"): C.WAITING,
    (C.WAITING, "offer"): C.OFFERED,
    (C.OFFERED, "offer"): C.OFFERED,  # the SLA guard's second ring
    (C.OFFERED, "ring_failed"): C.WAITING,  # the last ringing agent failed
    (C.OFFERED, "ring_failed_other"): C.OFFERED,  # one of two failed; the other still rings
    (C.OFFERED, "answer"): C.CONNECTED,
    (C.WAITING, "hand_off"): C.ENDED,
    (C.IN_MENU, "call_ended"): C.ENDED,
    (C.WAITING, "call_ended"): C.ENDED,
    (C.OFFERED, "call_ended"): C.ENDED,
    (C.CONNECTED, "call_ended"): C.ENDED,
    (C.CONNECTED, "callback_unreached"): C.WAITING,  # a kept call back in its place, to be tried again
    (C.CONNECTED, "callback_gave_up"): C.ENDED,  # ... or forgotten after its last attempt
}


def _next(table: dict, state: StrEnum, move: str, what: str) -> StrEnum:
    try:
        return table[(state, move)]
    except KeyError:
        raise IllegalTransition(f"{what}: cannot '{move}' while {state}") from None


@dataclass
class AnswerMemory:
    """An agent's recent offers that rang, decayed to ``stamp``: how often and how fast they answer."""

    stamp: float = 0.0  # the time the counts below are decayed to
    offers: float = 0.0  # offers that rang, answered or not
    answered: list[float] = field(default_factory=list)  # [k]: answers within k * ANSWER_BIN s of ring start
    # From when the agent counts as likely to answer within the window: decay only raises the
    # chance (towards the prior's), so the moment can be worked out once, when a ring is remembered.
    likely_from: float = -math.inf

    def within(self, seconds: float) -> float:
        """Remembered answers (decayed to ``stamp``) that came within ``seconds`` of ring start."""
        if not self.answered or seconds < 0:
            return 0.0
        return self.answered[min(int(seconds / ANSWER_BIN + 1e-9), len(self.answered) - 1)]

    def record(self, at: float, delay: float | None, decay: float, bins: int) -> None:
        """One more offer that rang: answered after ``delay`` seconds, or not (None)."""
        self.offers = self.offers * decay + 1.0
        self.answered = [n * decay for n in self.answered] if self.answered else [0.0] * bins
        if delay is not None:
            first = min(max(0, -int(-delay // ANSWER_BIN)), bins - 1)  # delay in ((k-1) * bin, k * bin]
            for k in range(first, bins):
                self.answered[k] += 1.0
        self.stamp = at

    def typical_answer(self) -> float | None:
        """Median seconds from ring start to answer of the remembered answers (None: none)."""
        if not self.answered or self.answered[-1] <= 0:
            return None
        half = self.answered[-1] / 2
        return next(k for k, n in enumerate(self.answered) if n >= half) * ANSWER_BIN


@dataclass
class Agent:
    agent_id: str
    skills: frozenset[str] = frozenset()
    state: AgentState = AgentState.LOGGED_OUT
    since: float = 0.0  # when the agent entered ``state``
    idle_since: float = 0.0  # when the agent last became available: longest idle goes first
    call_id: str | None = None
    pause_reason: str | None = None
    pending: str | None = None  # "logout" or "pause:<reason>" requested while busy
    wrap_up_until: float | None = None
    phone_busy: bool = False  # on a call the ACD did not place
    missed_in_row: int = 0
    last_miss: str | None = None  # the call of the latest miss, forgiven if its late answer comes (``LateAnswer``)
    held_until: float | None = None  # held out of offers after a transport failure
    calls_answered: int = 0
    order: int = 0  # position in the rota, for round robin
    resume_at: float | None = None  # paused for missed calls: when the core resumes them (None: by hand)
    memory: AnswerMemory = field(default_factory=AnswerMemory)


@dataclass(frozen=True)
class AgentFigures:
    """One agent's answer memory as supervisors see it (``Acd.agent_figures``)."""

    offers_remembered: float  # offers that rang, decayed (a bad hour fades with the half-life)
    answer_share: float | None  # share of those answered (None: nothing remembered)
    p_within_window: float  # chance of answering within the ring window, with the new-agent prior
    likely: bool  # p_within_window >= likely_threshold: preferred when several agents are free
    typical_answer: float | None  # median seconds from ring start to answer (None: no answers)
    resume_at: float | None  # paused for missed calls: when the core resumes them


@dataclass
class Call:
    call_id: str
    arrived_at: float
    priority: int = 0
    skill: str | None = None
    state: CallState = CallState.WAITING
    waiting_since: float | None = None
    first_offered_at: float | None = None
    answered_at: float | None = None
    agent_id: str | None = None  # the agent who answered
    ringing: dict[str, float] = field(default_factory=dict)  # agent id -> when it was offered
    rang_at: dict[str, float] = field(default_factory=dict)  # agent id -> when its phone started ringing
    first_rang_at: float | None = None  # the ring window and the two-ring promise count from here
    offered_to: list[str] = field(default_factory=list)  # every agent rung, in order
    missed_by: list[str] = field(default_factory=list)  # agents who let it ring out, in order
    seq: int = 0  # arrival order among equal times
    adopted: bool = False  # found connected at start: its talk time is unknown
    kept_at: float | None = None  # the caller kept their place and hung up (a callback); None: on the line
    callback_attempts: int = 0  # callbacks whose caller was not reached
    not_before: float | None = None  # a kept call is not offered again before this (its retry pause)


class Acd:
    """The hotline's agents and calls, and the decision of who takes which call."""

    def __init__(
        self,
        ring_timeout: float,
        *,
        wrap_up: float = 0.0,
        max_missed: int = 2,
        sla_guard_after: float | None = None,
        overflow_after: float = 30.0,
        strategy: Strategy = Strategy.LONGEST_IDLE,
        setup_timeout: float = 4.0,
        ring_grace: float = 1.0,
        retry_after: float = 2.0,
        handoff_after: float = 5.0,
        guard_likelihood: float = 0.8,
        likely_threshold: float = 0.8,
        escalate_after: float | None = None,
        pair_when_idle: bool = False,
        auto_resume_after: float | None = None,
        memory_half_life: float = 1800.0,
        callback_attempts: int = 3,
        callback_retry_after: float = 120.0,
    ) -> None:
        self.ring_timeout = ring_timeout
        self.wrap_up = wrap_up
        self.max_missed = max_missed
        self.sla_guard_after = sla_guard_after if sla_guard_after and sla_guard_after < ring_timeout else None
        self.overflow_after = overflow_after
        self.strategy = Strategy(strategy)
        self.setup_timeout = setup_timeout
        self.ring_grace = ring_grace
        self.retry_after = retry_after
        self.handoff_after = handoff_after
        guarded = self.sla_guard_after is not None  # guard off: one phone at a time, no extra rings at all
        self.guard_likelihood = guard_likelihood if guarded else 0.0  # 0: the fixed guard point only
        self.likely_threshold = likely_threshold  # 0: the strategy alone chooses
        self.escalate_after = escalate_after if guarded and escalate_after and escalate_after < ring_timeout else None
        self.pair_when_idle = pair_when_idle and guarded
        self.auto_resume_after = auto_resume_after or None
        self.memory_half_life = memory_half_life  # 0: no decay (remembered for ever)
        self.callback_attempts = max(1, callback_attempts)  # callbacks of a kept place before it is given up
        self.callback_retry_after = max(0.0, callback_retry_after)
        self._bins = int(-(-(ring_timeout + ring_grace) // ANSWER_BIN)) + 1  # answer delays up to the core's deadline
        self.link_down_since: float | None = None  # None: the link to Asterisk is up
        self.agents: dict[str, Agent] = {}
        self.calls: dict[str, Call] = {}
        self._queue: list[tuple[int, float, int, str]] = []  # waiting calls, sorted: (-prio, since, seq, id)
        self._free: set[str] = set()  # available and phone not busy
        self._seq = itertools.count()
        self._rr_last = -1  # round robin: rota position of the last agent offered a call
        self._wakes: list[float] = []  # heap of WakeAt times already asked for
        self._wake_set: set[float] = set()
        self._wrap_ups: list[tuple[float, str]] = []  # heap: (wrap-up end, agent id)
        self._guards: list[tuple[float, str]] = []  # heap: (SLA guard point, call id)
        self._skilled: dict[str, int] = {}  # skill -> logged-in agents holding it
        self._guard_due: dict[str, None] = {}  # calls past their guard point, ringing one agent (ordered set)
        # heap: (deadline, call id, agent id, ring start or None): an offer not yet ringing by its
        # deadline is withdrawn, a ring going on past its deadline is a miss.
        self._deadlines: list[tuple[float, int, str, str, float | None]] = []
        self._holds: list[tuple[float, str]] = []  # heap: (hold end, agent id)
        self._escalations: list[tuple[float, str]] = []  # heap: (escalation point, call id)
        self._escalating: dict[str, None] = {}  # calls ringing every free agent until answered (ordered set)
        self._resumes: list[tuple[float, str]] = []  # heap: (auto-resume time, agent id)
        self._talk = [0.0, 0.0, 0.0]  # decayed talk seconds, decayed calls, when decayed: the mean talk time

    # -- public ---------------------------------------------------------------------------------

    def handle(self, event: Event) -> list[Command]:
        """Apply one event and return what the adapter must do now."""
        out: list[Command] = []
        now = event.at
        match event:
            case AgentLoggedIn(agent_id, at, skills):
                agent = self.agents.get(agent_id)
                if agent is None:
                    agent = self.agents[agent_id] = Agent(agent_id, order=len(self.agents))
                if agent.state == S.LOGGED_OUT:
                    agent.skills = frozenset(skills)
                    agent.missed_in_row = 0
                    self._set(agent, "login", at, out)
                elif agent.pending == "logout":
                    agent.pending = None  # logged back in before the logout took effect
            case AgentLoggedOut(agent_id, at):
                agent = self._agent(agent_id)
                if agent.state in (S.RINGING, S.ON_CALL):
                    agent.pending = "logout"
                elif agent.state != S.LOGGED_OUT:
                    self._set(agent, "logout", at, out)
            case AgentPaused(agent_id, at, reason):
                agent = self._agent(agent_id)
                if agent.state in (S.RINGING, S.ON_CALL):
                    agent.pending = f"pause:{reason}"
                else:
                    self._set(agent, "pause", at, out, reason=reason)
            case AgentResumed(agent_id, at):
                agent = self._agent(agent_id)
                if agent.pending and agent.pending.startswith("pause:"):
                    agent.pending = None
                else:
                    self._set(agent, "resume", at, out)
                    agent.missed_in_row = 0
            case AgentSkillsChanged(agent_id, at, skills):
                agent = self.agents.get(agent_id)
                if agent is not None:
                    if agent.state != S.LOGGED_OUT:  # keep the count of logged-in holders of each skill
                        for skill in agent.skills:
                            self._skilled[skill] = self._skilled.get(skill, 0) - 1
                        for skill in skills:
                            self._skilled[skill] = self._skilled.get(skill, 0) + 1
                    agent.skills = frozenset(skills)
            case WrapUpEnded(agent_id, at):
                self._set(self._agent(agent_id), "wrap_up_ended", at, out)
            case AgentPhoneBusy(agent_id, at, busy):
                agent = self._agent(agent_id)
                agent.phone_busy = busy and agent.state not in (S.RINGING, S.ON_CALL)
                self._refresh_free(agent)
            case CallArrived(call_id, at):
                self._new_call(call_id, at).state = C.IN_MENU
            case CallWaiting(call_id, at, priority, skill):
                call = self.calls.get(call_id) or self._new_call(call_id, at)
                if call.state == C.IN_MENU:
                    call.state = _next(CALL_TRANSITIONS, call.state, "wait", call_id)
                elif call.waiting_since is not None:
                    raise IllegalTransition(f"{call_id}: already waiting")
                call.priority, call.skill, call.waiting_since = priority, skill, at
                self._enqueue(call)
                if skill is not None and self.overflow_after > 0:
                    self._wake(at + self.overflow_after, out)
                if self.link_down_since is not None:
                    self._wake(at + self.handoff_after, out)
            case RingFailed(call_id, agent_id, at):
                call, agent = self._ringing_pair(call_id, agent_id)
                self._ring_failed(call, agent, at, out)
            case RingStarted(call_id, agent_id, at):
                call, agent = self._ringing_pair(call_id, agent_id)
                if agent_id not in call.rang_at:
                    call.rang_at[agent_id] = at
                    self._deadline(at + self.ring_timeout + self.ring_grace, call_id, agent_id, at, out)
                    if call.first_rang_at is None:
                        call.first_rang_at = at
                        if call.kept_at is not None:
                            pass  # a kept call rings one operator at a time: no guard, no escalation
                        elif self.sla_guard_after is not None and len(call.ringing) == 1:
                            self._schedule_guard(call, at + self._guard_point(agent, at), at, out)
                        if self.escalate_after is not None and call.kept_at is None:
                            heapq.heappush(self._escalations, (at + self.escalate_after, call_id))
                            self._wake(at + self.escalate_after, out)
            case OfferWithdrawn(call_id, agent_id, at, _reason):
                call, agent = self._ringing_pair(call_id, agent_id)
                self._withdraw(call, agent, at, out)
            case LinkDown(at):
                if self.link_down_since is None:
                    self.link_down_since = at
                    self._wake(at + self.handoff_after, out)
            case LinkUp(at):
                self.link_down_since = None
            case CallAdopted(call_id, agent_id, at):
                agent = self._agent(agent_id)
                if agent.state in (S.RINGING, S.ON_CALL):
                    raise IllegalTransition(f"{agent_id} is busy with {agent.call_id}")
                call = self._new_call(call_id, at)
                call.state, call.agent_id, call.answered_at, call.adopted = C.CONNECTED, agent_id, at, True
                if agent.state == S.PAUSED:
                    agent.pending = f"pause:{agent.pause_reason}"
                elif agent.state == S.LOGGED_OUT:
                    agent.pending = "logout"
                agent.call_id = call_id
                self._set(agent, "adopt", at, out)
            case AgentAnswered(call_id, agent_id, at):
                call, agent = self._ringing_pair(call_id, agent_id)
                call.state = _next(CALL_TRANSITIONS, call.state, "answer", call_id)
                rang = call.rang_at.get(agent_id, at)  # answered before the ring was reported: at once
                self._remember(agent, at, max(0.0, at - rang))
                self._escalating.pop(call_id, None)
                del call.ringing[agent_id]
                call.agent_id, call.answered_at = agent_id, at
                agent.missed_in_row = 0
                agent.calls_answered += 1
                self._set(agent, "answer", at, out)
                self._stop_other_rings(call, at, out)
            case CallEnded(call_id, at):
                call = self._call(call_id)
                call.state = _next(CALL_TRANSITIONS, call.state, "call_ended", call_id)
                self._dequeue(call)
                self._stop_other_rings(call, at, out)
                self._escalating.pop(call_id, None)
                if call.answered_at is not None and not call.adopted:
                    self._remember_talk(at, at - call.answered_at)
                if call.agent_id is not None:
                    agent = self._agent(call.agent_id)
                    agent.call_id = None
                    self._set(agent, "call_ended", at, out)
                del self.calls[call_id]
            case PlaceKept(call_id, at):
                call = self._call(call_id)
                if call.state != C.WAITING or call.kept_at is not None:
                    raise IllegalTransition(f"{call_id}: cannot keep a place while {call.state}")
                call.kept_at = at  # same queue entry: the place and the waiting time are kept
            case CallbackUnreached(call_id, agent_id, at):
                call, agent = self._call(call_id), self._agent(agent_id)
                if call.kept_at is None or call.state != C.CONNECTED or call.agent_id != agent_id:
                    raise IllegalTransition(f"{call_id}: no callback of {agent_id} in progress")
                call.callback_attempts += 1
                gave_up = call.callback_attempts >= self.callback_attempts
                call.state = _next(CALL_TRANSITIONS, call.state, "callback_gave_up" if gave_up else "callback_unreached", call_id)
                agent.call_id = None
                self._set(agent, "callback_unreached", at, out)  # not a miss, no wrap-up: the operator did their part
                call.agent_id = call.answered_at = call.first_rang_at = None
                call.rang_at.clear()
                if gave_up:
                    del self.calls[call_id]
                    out.append(CallbackGaveUp(call_id, call.callback_attempts))
                else:
                    if self.callback_retry_after > 0:
                        call.not_before = at + self.callback_retry_after
                        self._wake(call.not_before, out)
                    self._enqueue(call)
            case LateAnswer(call_id, agent_id, at):
                # Picked up just as the ring ended (the answer crossed the core's deadline or the
                # Originate's timeout): a late answer, not an empty desk.  The miss is taken back,
                # and a missed-calls pause it caused ends.
                agent = self.agents.get(agent_id)
                if agent is not None and agent.last_miss == call_id and agent.missed_in_row > 0:
                    agent.last_miss = None
                    agent.missed_in_row -= 1
                    if agent.state == S.PAUSED and agent.pause_reason == MISSED_CALLS:
                        self._set(agent, "resume", at, out, note=AUTO_RESUMED)
            case Tick(at):
                while self._wakes and self._wakes[0] <= at:
                    self._wake_set.discard(heapq.heappop(self._wakes))
                while self._wrap_ups and self._wrap_ups[0][0] <= at:
                    until, agent_id = heapq.heappop(self._wrap_ups)
                    agent = self.agents[agent_id]
                    if agent.state == S.WRAP_UP and agent.wrap_up_until == until:
                        self._set(agent, "wrap_up_ended", at, out)
                while self._holds and self._holds[0][0] <= at + 1e-9:
                    until, agent_id = heapq.heappop(self._holds)
                    agent = self.agents[agent_id]
                    if agent.held_until == until:
                        agent.held_until = None
                        self._refresh_free(agent)
                while self._deadlines and self._deadlines[0][0] <= at + 1e-9:
                    _, _, call_id, agent_id, rang = heapq.heappop(self._deadlines)
                    call = self.calls.get(call_id)
                    if call is None or agent_id not in call.ringing or call.rang_at.get(agent_id) != rang:
                        continue  # answered, failed or stopped in time
                    agent = self.agents[agent_id]
                    out.append(StopRinging(call_id, agent_id))
                    if rang is None or self.link_down_since is not None:
                        # never reached the phone, or AMI is down and could not say how the ring ended
                        self._withdraw(call, agent, at, out)
                    else:  # rang out its window and Asterisk did not say so: a miss all the same
                        self._ring_failed(call, agent, at, out)
                while self._guards and self._guards[0][0] <= at + 1e-9:
                    _, call_id = heapq.heappop(self._guards)
                    call = self.calls.get(call_id)
                    if call is not None and call.state == C.OFFERED and len(call.ringing) == 1 and call.kept_at is None:
                        self._guard_due[call_id] = None
                while self._escalations and self._escalations[0][0] <= at + 1e-9:
                    _, call_id = heapq.heappop(self._escalations)
                    call = self.calls.get(call_id)
                    if call is not None and call.state == C.OFFERED and call.kept_at is None:  # kept: one phone
                        self._escalating[call_id] = None
                while self._resumes and self._resumes[0][0] <= at + 1e-9:
                    until, agent_id = heapq.heappop(self._resumes)
                    agent = self.agents[agent_id]
                    if agent.resume_at == until and agent.state == S.PAUSED and agent.pause_reason == MISSED_CALLS:
                        agent.missed_in_row = 0
                        self._set(agent, "resume", at, out, note=AUTO_RESUMED)
            case _:
                raise IllegalTransition(f"unknown event {event!r}")
        return out + self._dispatch(now)

    def waiting(self) -> list[Call]:
        """Calls waiting for an agent, in the order they will be offered."""
        return [self.calls[entry[3]] for entry in self._queue]

    def position(self, call_id: str) -> int | None:
        """Where a waiting call stands in the order calls are offered (1: next); None if not waiting."""
        call = self.calls.get(call_id)
        if call is None or call.state != C.WAITING:
            return None
        since = call.waiting_since if call.waiting_since is not None else call.arrived_at
        i = bisect.bisect_left(self._queue, (-call.priority, since, call.seq, call.call_id))
        return i + 1 if i < len(self._queue) and self._queue[i][3] == call_id else None

    def handle_time(self) -> float:
        """Expected seconds an operator spends on a call: decayed mean talk time (``DEFAULT_TALK``
        weighing as one call, so it holds before any call ended) plus the wrap-up."""
        total, calls, _ = self._talk
        return (DEFAULT_TALK + total) / (1.0 + calls) + max(self.wrap_up, 0.0)

    def estimated_wait(self, call_id: str, now: float) -> float | None:
        """Seconds until an operator likely answers this waiting call; None when not meaningful.

        The model: every operator logged in frees at a time of their own: free now (or when a
        transport hold ends), in wrap-up at its known end, on a call at max(now, answered + mean
        talk) + wrap-up, ringing at now + handle time (the ring is assumed answered; a call ringing
        several phones keeps only the first, the others free now), paused for missed calls at
        their auto-resume; paused by choice or busy outside the ACD: never.  The calls
        ahead of this one (``position``) take the earliest free times in turn, each freeing that
        operator again a handle time later (``handle_time``); this call takes the next.  An
        operator without the call's skill counts only from its overflow point.  The first operator
        Then the phone rings the room's typical time before it is answered (``_time_to_answer``).  None: the call is
        not waiting, the link is down (callers are handed back), nobody will free, or nothing
        observed backs the figure (no call has ended and no operator is on one).
        """
        position = self.position(call_id)
        if position is None or self.link_down_since is not None:
            return None
        call = self.calls[call_id]
        handle = self.handle_time()
        talk = handle - max(self.wrap_up, 0.0)
        frees: list[tuple[float, str]] = []
        observed = self._talk[1] > 0
        kept: set[str] = set()  # calls ringing several phones: the first one keeps it
        for agent in self.agents.values():
            if agent.state == S.LOGGED_OUT or agent.phone_busy:
                continue
            if agent.state == S.AVAILABLE:
                at = agent.held_until if agent.held_until is not None else now
            elif agent.state == S.WRAP_UP:
                at = agent.wrap_up_until if agent.wrap_up_until is not None else now
            elif agent.state == S.ON_CALL:
                answered = self.calls[agent.call_id].answered_at if agent.call_id in self.calls else None
                at = max(now, (answered if answered is not None else now) + talk) + max(self.wrap_up, 0.0)
                observed = True
            elif agent.state == S.RINGING:
                at = now if agent.call_id in kept else now + handle
                kept.add(agent.call_id or "")
                observed = True
            elif agent.resume_at is not None:
                at = agent.resume_at
            else:
                continue
            frees.append((max(at, now), agent.agent_id))
        if not frees or not observed:
            return None
        heapq.heapify(frees)
        for _ in range(position - 1):  # the calls ahead take the earliest operators in turn
            at, agent_id = heapq.heappop(frees)
            heapq.heappush(frees, (at + handle, agent_id))
        skilled = call.skill is None or not self._skilled.get(call.skill)
        overflow = (call.waiting_since if call.waiting_since is not None else call.arrived_at) + self.overflow_after
        best = min(
            at if skilled or call.skill in self.agents[agent_id].skills else max(at, overflow) for at, agent_id in frees
        )
        return max(0.0, best - now) + self._time_to_answer()

    def _time_to_answer(self) -> float:
        """Seconds a phone rings before it is answered: the median of the operators' typical
        answers (0 before any).  One figure for the room, so a caller further back never hears a
        shorter wait; a caller asks how long until someone speaks, not until a phone rings."""
        known = sorted(t for a in self.agents.values() if (t := a.memory.typical_answer()) is not None)
        return known[len(known) // 2] if known else 0.0

    def agent_figures(self, now: float) -> dict[str, AgentFigures]:
        """Every known agent's answer memory at ``now``, for supervisors."""
        figures = {}
        for agent in self.agents.values():
            memory = agent.memory
            weight = self._decay(memory.stamp, now) if memory.offers else 0.0
            offers = weight * memory.offers
            p = self._likelihood(agent, now, self.ring_timeout)
            figures[agent.agent_id] = AgentFigures(
                offers_remembered=offers,
                answer_share=weight * memory.within(self.ring_timeout) / offers if offers > 1e-9 else None,
                p_within_window=p,
                likely=p >= self.likely_threshold,
                typical_answer=memory.typical_answer(),
                resume_at=agent.resume_at,
            )
        return figures

    def violations(self, now: float, slack: float = 1.0) -> list[str]:
        """What is untrue in the core's state at ``now`` (empty when consistent): the invariant.

        No agent ringing without a live offer, no connected agent without their call, no offer
        past its deadline (more than ``slack`` late: a lost Tick), no call waiting while an
        eligible agent is free and the link is up, the free set and the queue in step.
        """
        found: list[str] = []
        for agent in self.agents.values():
            call = self.calls.get(agent.call_id) if agent.call_id else None
            if agent.state == S.RINGING and (call is None or agent.agent_id not in call.ringing):
                found.append(f"agent {agent.agent_id} ringing without a live offer ({agent.call_id})")
            elif agent.state == S.ON_CALL and (call is None or call.agent_id != agent.agent_id):
                found.append(f"agent {agent.agent_id} on a call the core does not hold ({agent.call_id})")
            elif agent.state not in (S.RINGING, S.ON_CALL) and agent.call_id is not None:
                found.append(f"agent {agent.agent_id} {agent.state} still holds {agent.call_id}")
            free = agent.state == S.AVAILABLE and not agent.phone_busy and agent.held_until is None
            if free != (agent.agent_id in self._free):
                found.append(f"agent {agent.agent_id}: free set out of step")
            if agent.held_until is not None and agent.held_until + slack < now:
                found.append(f"agent {agent.agent_id} held past {agent.held_until}")
            if agent.state == S.WRAP_UP and self.wrap_up > 0 and (agent.wrap_up_until or 0) + slack < now:
                found.append(f"agent {agent.agent_id} in wrap-up past its end")
            if agent.resume_at is not None and (agent.state, agent.pause_reason) != (S.PAUSED, MISSED_CALLS):
                found.append(f"agent {agent.agent_id} {agent.state} has an auto-resume due")
            elif agent.resume_at is not None and agent.resume_at + slack < now:
                found.append(f"agent {agent.agent_id} paused for missed calls past its auto-resume")
        queued = {entry[3] for entry in self._queue}
        for call in self.calls.values():
            if (call.state == C.WAITING) != (call.call_id in queued):
                found.append(f"call {call.call_id} {call.state}: queue out of step")
            if call.state == C.OFFERED and not call.ringing:
                found.append(f"call {call.call_id} offered to nobody")
            if call.ringing and call.state != C.OFFERED:
                found.append(f"call {call.call_id} {call.state} but ringing {sorted(call.ringing)}")
            if call.kept_at is not None and len(call.ringing) > 1:
                found.append(f"kept call {call.call_id} rings {len(call.ringing)} phones")
            if call.not_before is not None and call.kept_at is None:
                found.append(f"call {call.call_id} has a retry pause but no kept place")
            if len(call.ringing) > 2 and call.call_id not in self._escalating:
                found.append(f"call {call.call_id} rings {len(call.ringing)} phones without an escalation")
            for agent_id, offered in call.ringing.items():
                agent = self.agents.get(agent_id)
                if agent is None or agent.state != S.RINGING or agent.call_id != call.call_id:
                    found.append(f"call {call.call_id} rings {agent_id}, who is not ringing it")
                rang = call.rang_at.get(agent_id)
                due = offered + self.setup_timeout if rang is None else rang + self.ring_timeout + self.ring_grace
                if due + slack < now:
                    found.append(f"call {call.call_id} still ringing {agent_id} {now - due:.1f} s past its deadline")
        if self.link_down_since is None:
            for call in self.waiting():
                if call.not_before is not None and call.not_before > now:
                    continue  # a kept call in its retry pause
                if self._choose_agent(call, now, self._free) is not None:
                    found.append(f"call {call.call_id} waits while an eligible agent is free")
        elif any(c.kept_at is None for c in self.waiting()):
            oldest = min(max(c.waiting_since or c.arrived_at, self.link_down_since)
                         for c in self.waiting() if c.kept_at is None)
            if oldest + self.handoff_after + slack < now:
                found.append("a caller waits past the outage hand-off")
        return found

    # -- decisions ------------------------------------------------------------------------------

    def _dispatch(self, now: float) -> list[Command]:
        """Serve due SLA guards and escalations, then offer waiting calls to eligible free agents."""
        commands: list[Command] = []
        if self.link_down_since is not None:  # nothing can ring: only hand callers back
            self._hand_off_outage(now, commands)
            return commands
        if not self._free:
            return commands
        # Ringing calls before the queue: a queued call's two-ring promise has not started yet,
        # a ringing call's runs out in seconds.  Guards first, then one more phone per escalation.
        if self._guard_due:
            self._sla_guard(now, commands)
        if self._escalating and self._free:
            self._escalate(now, commands, one_more=True)
        offered: list[Call] = []
        for entry in list(self._queue):
            if not self._free:
                break
            call = self.calls[entry[3]]
            if call.not_before is not None and call.not_before > now + 1e-9:
                continue  # a kept call in its retry pause keeps its place, the calls behind it go on
            agent = self._choose_agent(call, now, self._free)
            if agent is not None:
                self._dequeue(call)
                self._offer(call, agent, now, commands, kind="first")
                offered.append(call)
        if offered and self._guard_due and self._free:
            self._sla_guard(now, commands)  # a call rung anew from the queue may be past its guard point
        if offered and self.pair_when_idle and not self._queue:
            self._pair(offered, now, commands)
        if self._escalating and self._free:
            self._escalate(now, commands)
        return commands

    def _pair(self, offered: list[Call], now: float, commands: list[Command]) -> None:
        """Queue empty: ring a second free agent with each call just offered, keeping ``PAIR_RESERVE`` free."""
        for call in offered:
            if len(self._free) <= PAIR_RESERVE:
                return
            if call.state != C.OFFERED or len(call.ringing) != 1 or call.kept_at is not None:
                continue
            agent = self._choose_agent(call, now, self._free - set(call.ringing))
            if agent is not None:
                self._offer(call, agent, now, commands, kind="pair")

    def _escalate(self, now: float, commands: list[Command], one_more: bool = False) -> None:
        """Calls past their escalation point ring every free eligible agent (the first to answer wins);
        ``one_more``: each such call rings just one more (the best choice), before the queue is served."""
        for call_id in list(self._escalating):
            call = self.calls.get(call_id)
            if call is None or call.state != C.OFFERED or call.kept_at is not None:
                del self._escalating[call_id]
                continue
            if one_more:
                agent = self._choose_agent(call, now, self._free) if self._free else None
                if agent is not None:
                    self._offer(call, agent, now, commands, kind="all")
                continue
            for agent in sorted(self._eligible(call, now, self._free), key=lambda a: a.order):
                self._offer(call, agent, now, commands, kind="all")

    def _sla_guard(self, now: float, commands: list[Command]) -> None:
        """Ring a second free agent for calls whose single ring has gone on past the guard point."""
        for call_id in list(self._guard_due):
            if not self._free:
                return
            call = self.calls.get(call_id)
            if call is None or call.state not in (C.OFFERED, C.WAITING) or len(call.ringing) > 1 or call.kept_at is not None:
                del self._guard_due[call_id]
                continue
            if call.state == C.WAITING:
                continue  # back in the queue: still past its guard point when it rings again
            candidates = self._free - set(call.offered_to)
            agent = self._choose_agent(call, now, candidates) if candidates else None
            if agent is not None:
                del self._guard_due[call_id]
                self._offer(call, agent, now, commands, kind="guard")

    def _eligible(self, call: Call, now: float, free: set[str]) -> list[Agent]:
        """The agents of ``free`` who may take ``call`` now (skills, or anyone once it overflowed)."""
        # Any agent may take the call once it has waited long enough for its skill, or at once
        # when no logged-in agent has the skill (waiting would only delay the caller).
        overflowed = (
            call.skill is None
            or not self._skilled.get(call.skill)
            or (call.waiting_since is not None and now - call.waiting_since + 1e-9 >= self.overflow_after)
        )
        candidates = [self.agents[a] for a in free]
        if not overflowed:
            candidates = [a for a in candidates if call.skill in a.skills]
        return candidates

    def _choose_agent(self, call: Call, now: float, free: set[str]) -> Agent | None:
        """Who rings next: not one who missed this call, then likely to answer in time, then the strategy."""
        candidates = self._eligible(call, now, free)
        if len(candidates) <= 1:
            return candidates[0] if candidates else None
        missed = call.missed_by
        if self.likely_threshold > 0:
            unlikely = lambda a: now < a.memory.likely_from  # noqa: E731
        else:
            unlikely = lambda a: False  # noqa: E731
        if self.strategy == Strategy.FEWEST_CALLS:
            key = lambda a: (a.agent_id in missed, unlikely(a), a.calls_answered, a.idle_since, a.agent_id)  # noqa: E731
        elif self.strategy == Strategy.ROUND_ROBIN:
            n = max(len(self.agents), 1)
            key = lambda a: (a.agent_id in missed, unlikely(a), (a.order - self._rr_last - 1) % n)  # noqa: E731
        else:
            key = lambda a: (a.agent_id in missed, unlikely(a), a.idle_since, a.agent_id)  # noqa: E731
        return min(candidates, key=key)

    # -- answer memory --------------------------------------------------------------------------

    def _decay(self, since: float, now: float) -> float:
        """How much a count made at ``since`` still weighs at ``now``."""
        if self.memory_half_life <= 0 or now <= since:
            return 1.0
        return 0.5 ** ((now - since) / self.memory_half_life)

    def _remember(self, agent: Agent, at: float, delay: float | None) -> None:
        """An offer rang at the agent's phone: answered after ``delay`` seconds, or missed (None)."""
        memory = agent.memory
        memory.record(at, delay, self._decay(memory.stamp, at), self._bins)
        memory.likely_from = self._likely_from(memory)

    def _likely_from(self, memory: AnswerMemory) -> float:
        """When p(answer within the window) reaches ``likely_threshold`` as the memory fades.

        p(f) = (P + f A) / (P + f N), remembered answers A of N offers weighing f (1 now, halving
        every half-life), P the prior's answers: it reaches the threshold t at f = P (1 - t) / (t N - A).
        """
        bar = self.likely_threshold
        answered, offers = memory.within(self.ring_timeout), memory.offers
        if PRIOR_OFFERS + answered >= bar * (PRIOR_OFFERS + offers):
            return -math.inf
        if self.memory_half_life <= 0 or bar >= 1:
            return math.inf  # never forgotten (or never quite back to the prior's certainty)
        weight = PRIOR_OFFERS * (1 - bar) / (bar * offers - answered)
        return memory.stamp + self.memory_half_life * math.log2(1 / weight)

    def _likelihood(self, agent: Agent, now: float, within: float, after: float = 0.0) -> float:
        """p(the agent answers within ``within`` s of ring start | not answered in the first ``after`` s).

        The prior (``PRIOR_OFFERS`` answers spread evenly over the ring window) never decays, so a
        remembered hour fades back to it.
        """
        memory = agent.memory
        weight = self._decay(memory.stamp, now) if memory.offers else 0.0
        window = self.ring_timeout

        def answered(t: float) -> float:
            return PRIOR_OFFERS * min(max(t, 0.0) / window, 1.0) + weight * memory.within(t)

        before = answered(after) if after > 0 else 0.0  # at ring start nothing is known yet
        left = PRIOR_OFFERS + weight * memory.offers - before
        return (answered(within) - before) / left if left > 1e-12 else 0.0

    def _guard_point(self, agent: Agent, now: float) -> float:
        """Seconds into the agent's ring when the guard is due: at once for an agent the memory rates
        unlikely (below ``likely_threshold``: never a call's only ring), else the first check at which their
        chance to answer in what is left of the window is below ``guard_likelihood``, at the latest ``sla_guard_after``."""
        latest = self.sla_guard_after
        memory = agent.memory
        assert latest is not None
        if self.likely_threshold > 0 and now < memory.likely_from:
            return 0.0
        if self.guard_likelihood <= 0 or not memory.offers:
            return latest  # nothing remembered: the prior answers within the window (p = 1)
        # _likelihood(agent, now, ring_timeout, after=k * ANSWER_BIN) for k = 0, 1, ..., inlined: it runs at every ring
        weight, window, bar = self._decay(memory.stamp, now), self.ring_timeout, self.guard_likelihood
        total = PRIOR_OFFERS + weight * memory.offers
        in_window = PRIOR_OFFERS + weight * memory.within(window)
        answered, last = memory.answered, len(memory.answered) - 1
        for k in range(int(latest / ANSWER_BIN - 1e-9) + 1):
            elapsed = k * ANSWER_BIN
            by = PRIOR_OFFERS * min(elapsed / window, 1.0) + weight * answered[min(k, last)] if k else 0.0
            if in_window - by < bar * (total - by) or total - by <= 1e-12:
                return elapsed
        return latest

    def _schedule_guard(self, call: Call, due: float, now: float, out: list[Command]) -> None:
        if due <= now + 1e-9:
            self._guard_due[call.call_id] = None
        else:
            heapq.heappush(self._guards, (due, call.call_id))
            self._wake(due, out)

    def _remember_talk(self, at: float, seconds: float) -> None:
        total, calls, stamp = self._talk
        decay = self._decay(stamp, at)
        self._talk = [total * decay + max(0.0, seconds), calls * decay + 1.0, at]

    def _offer(self, call: Call, agent: Agent, now: float, out: list[Command], kind: str) -> None:
        call.state = _next(CALL_TRANSITIONS, call.state, "offer", call.call_id)
        self._set(agent, "offer", now, out)
        call.ringing[agent.agent_id] = now
        call.offered_to.append(agent.agent_id)
        if call.first_offered_at is None:
            call.first_offered_at = now
        agent.call_id = call.call_id
        self._rr_last = agent.order
        out.append(Offer(call.call_id, agent.agent_id, self.ring_timeout, kind != "first", kind,
                         callback=call.kept_at is not None))
        self._deadline(now + self.setup_timeout, call.call_id, agent.agent_id, None, out)

    def _stop_other_rings(self, call: Call, at: float, out: list[Command]) -> None:
        for agent_id in list(call.ringing):
            agent = self.agents[agent_id]
            agent.call_id = None
            self._set(agent, "ring_stopped", at, out)
            out.append(StopRinging(call.call_id, agent_id))
        call.ringing.clear()
        call.rang_at.clear()

    def _ring_failed(self, call: Call, agent: Agent, at: float, out: list[Command]) -> None:
        """The agent let the call ring out (or refused it): a miss; the call rings on elsewhere."""
        if agent.agent_id in call.rang_at:  # remembered only if it rang (busy or unreachable says nothing)
            self._remember(agent, at, None)
        self._drop_ring(call, agent)
        call.missed_by.append(agent.agent_id)
        agent.missed_in_row += 1
        agent.last_miss = call.call_id
        self._set(agent, "ring_failed", at, out)
        self._after_ring_removed(call, at, out)

    def _withdraw(self, call: Call, agent: Agent, at: float, out: list[Command]) -> None:
        """The offer never reached the agent: back to the queue, the agent held out briefly, no miss."""
        self._drop_ring(call, agent)
        if self.retry_after > 0:
            agent.held_until = at + self.retry_after
            heapq.heappush(self._holds, (agent.held_until, agent.agent_id))
            self._wake(agent.held_until, out)
        self._set(agent, "withdrawn", at, out)
        self._after_ring_removed(call, at, out)

    def _drop_ring(self, call: Call, agent: Agent) -> None:
        """Take one ring off the call (back to waiting if it was the last) and off the agent."""
        move = "ring_failed_other" if len(call.ringing) > 1 else "ring_failed"
        call.state = _next(CALL_TRANSITIONS, call.state, move, call.call_id)
        del call.ringing[agent.agent_id]
        call.rang_at.pop(agent.agent_id, None)
        agent.call_id = None

    def _after_ring_removed(self, call: Call, at: float, out: list[Command]) -> None:
        if call.state == C.WAITING:
            self._escalating.pop(call.call_id, None)  # rung anew from the queue, one phone at a time
            self._enqueue(call)
            if self.link_down_since is not None:
                self._wake(max(call.waiting_since or at, self.link_down_since) + self.handoff_after, out)
        elif self.sla_guard_after is not None and call.first_rang_at is not None and len(call.ringing) == 1:
            # One of two rings ended: the call has rung since its first ring, so the guard
            # applies again to the ring that is left (at once if past its point, or sooner if
            # that agent's own history says so).
            due = call.first_rang_at + self.sla_guard_after
            (left,) = call.ringing
            rang = call.rang_at.get(left)
            if rang is not None:
                due = min(due, rang + self._guard_point(self.agents[left], at))
            self._schedule_guard(call, due, at, out)

    def _hand_off_outage(self, now: float, out: list[Command]) -> None:
        """Link down: callers who have waited ``handoff_after`` in the outage go to the dialplan's fallback."""
        assert self.link_down_since is not None
        for call in self.waiting():
            if call.kept_at is not None:
                continue  # nobody on the line to hand back: the kept call waits for the link
            since = max(call.waiting_since if call.waiting_since is not None else call.arrived_at, self.link_down_since)
            if since + self.handoff_after <= now + 1e-9:
                self._dequeue(call)
                call.state = _next(CALL_TRANSITIONS, call.state, "hand_off", call.call_id)
                del self.calls[call.call_id]
                out.append(HandOff(call.call_id, "ami_down"))

    def _deadline(self, at: float, call_id: str, agent_id: str, rang: float | None, out: list[Command]) -> None:
        heapq.heappush(self._deadlines, (at, next(self._seq), call_id, agent_id, rang))
        self._wake(at, out)

    # -- state keeping --------------------------------------------------------------------------

    def _set(self, agent: Agent, move: str, at: float, out: list[Command], reason: str | None = None,
             note: str | None = None) -> None:
        """Move an agent by the table, apply what was pending once free, keep the free set in step.

        ``note``: the ``AgentStateChanged`` reason when the agent is not paused (e.g. AUTO_RESUMED).
        """
        state = _next(AGENT_TRANSITIONS, agent.state, move, agent.agent_id)
        if state == S.WRAP_UP and self.wrap_up <= 0:
            state = _next(AGENT_TRANSITIONS, state, "wrap_up_ended", agent.agent_id)
        if state == S.AVAILABLE and move not in ("login", "resume"):
            state, reason = self._when_free(agent, move)
        changed = state != agent.state or reason != agent.pause_reason
        if (agent.state == S.LOGGED_OUT) != (state == S.LOGGED_OUT):
            step = 1 if agent.state == S.LOGGED_OUT else -1
            for skill in agent.skills:
                self._skilled[skill] = self._skilled.get(skill, 0) + step
        was_missed_pause = agent.state == S.PAUSED and agent.pause_reason == MISSED_CALLS
        agent.state, agent.since = state, at
        agent.pause_reason = reason if state == S.PAUSED else None
        if state == S.PAUSED and reason == MISSED_CALLS:
            if not was_missed_pause and self.auto_resume_after:
                agent.resume_at = at + self.auto_resume_after
                heapq.heappush(self._resumes, (agent.resume_at, agent.agent_id))
                self._wake(agent.resume_at, out)
        else:  # resumed, or paused for something the agent chose: only a person resumes them
            agent.resume_at = None
        if state == S.AVAILABLE:
            agent.idle_since = at
        agent.wrap_up_until = at + self.wrap_up if state == S.WRAP_UP else None
        if state == S.WRAP_UP:
            heapq.heappush(self._wrap_ups, (agent.wrap_up_until, agent.agent_id))
            self._wake(agent.wrap_up_until, out)
        self._refresh_free(agent)
        if changed:
            out.append(AgentStateChanged(agent.agent_id, state, agent.pause_reason if state == S.PAUSED else note))

    def _when_free(self, agent: Agent, move: str) -> tuple[AgentState, str | None]:
        """Where an agent goes when a ring or call is over: pending logout or pause, too many misses, or available."""
        pending, agent.pending = agent.pending, None
        if pending == "logout":
            return S.LOGGED_OUT, None
        if pending and pending.startswith("pause:"):
            return S.PAUSED, pending.split(":", 1)[1]
        if move == "ring_failed" and self.max_missed > 0 and agent.missed_in_row >= self.max_missed:
            return S.PAUSED, MISSED_CALLS
        return S.AVAILABLE, None

    def _refresh_free(self, agent: Agent) -> None:
        if agent.state == S.AVAILABLE and not agent.phone_busy and agent.held_until is None:
            self._free.add(agent.agent_id)
        else:
            self._free.discard(agent.agent_id)

    def _new_call(self, call_id: str, at: float) -> Call:
        if call_id in self.calls:
            raise IllegalTransition(f"{call_id}: already known")
        call = self.calls[call_id] = Call(call_id, arrived_at=at, seq=next(self._seq))
        return call

    def _enqueue(self, call: Call) -> None:
        since = call.waiting_since if call.waiting_since is not None else call.arrived_at
        bisect.insort(self._queue, (-call.priority, since, call.seq, call.call_id))

    def _dequeue(self, call: Call) -> None:
        since = call.waiting_since if call.waiting_since is not None else call.arrived_at
        entry = (-call.priority, since, call.seq, call.call_id)
        i = bisect.bisect_left(self._queue, entry)
        if i < len(self._queue) and self._queue[i] == entry:
            del self._queue[i]

    def _wake(self, at: float, out: list[Command]) -> None:
        if at not in self._wake_set:
            self._wake_set.add(at)
            heapq.heappush(self._wakes, at)
            out.append(WakeAt(at))

    def _agent(self, agent_id: str) -> Agent:
        try:
            return self.agents[agent_id]
        except KeyError:
            raise IllegalTransition(f"unknown agent {agent_id}") from None

    def _call(self, call_id: str) -> Call:
        try:
            return self.calls[call_id]
        except KeyError:
            raise IllegalTransition(f"unknown call {call_id}") from None

    def _ringing_pair(self, call_id: str, agent_id: str) -> tuple[Call, Agent]:
        call, agent = self._call(call_id), self._agent(agent_id)
        if agent_id not in call.ringing or agent.call_id != call_id:
            raise IllegalTransition(f"{call_id} is not ringing at {agent_id}")
        return call, agent
