"""Automatic call distribution: the pure decision core.

Theory of operation
-------------------
The core holds the state of every agent and every call of the hotline and answers one question,
"what now?", each time something happens.  Events come in with a timestamp (``handle(event)``);
commands go out as plain values (``Offer``, ``StopRinging``).  It never does I/O and never awaits:
the adapter (``callcenter.adapter``) owns the sockets, turns AMI/AGI traffic into events and
carries out the commands.  Because of that, routing is tested with plain values and a fake clock.

Rules:
- A waiting call is offered the moment an agent is available; an available agent takes the
  oldest waiting call (higher priority first).  The agent chosen is the one idle longest.
- An agent has at most one call, ringing or connected.  A call rings at most one agent.
- An offer that is not answered within the ring window goes back to the head of the queue and is
  offered at once to another agent if there is one (no retry pause, unlike app_queue).  The agent
  who missed it is the last choice for that call.
- Every transition is listed in ``AGENT_TRANSITIONS`` / ``CALL_TRANSITIONS``; anything else raises
  ``IllegalTransition`` before state is touched, so a bad event never corrupts the core.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class AgentState(StrEnum):
    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    RINGING = "ringing"
    ON_CALL = "on_call"


class CallState(StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"
    CONNECTED = "connected"
    ENDED = "ended"


class IllegalTransition(Exception):
    """An event does not fit the current state; the core's state is left unchanged."""


# ---- events (inputs) -------------------------------------------------------------------------


@dataclass(frozen=True)
class AgentLoggedIn:
    agent_id: str
    at: float


@dataclass(frozen=True)
class AgentLoggedOut:
    agent_id: str
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
class AgentAnswered:
    call_id: str
    agent_id: str
    at: float


@dataclass(frozen=True)
class CallEnded:
    """The call is over, whoever hung up, in whatever state it was."""

    call_id: str
    at: float


Event = AgentLoggedIn | AgentLoggedOut | CallWaiting | RingFailed | AgentAnswered | CallEnded

# ---- commands (outputs) ----------------------------------------------------------------------


@dataclass(frozen=True)
class Offer:
    """Ring ``agent_id`` with ``call_id`` for at most ``timeout`` seconds."""

    call_id: str
    agent_id: str
    timeout: float


@dataclass(frozen=True)
class StopRinging:
    call_id: str
    agent_id: str


Command = Offer | StopRinging

# ---- transition tables -----------------------------------------------------------------------

AGENT_TRANSITIONS: dict[tuple[AgentState, str], AgentState] = {
    (AgentState.LOGGED_OUT, "login"): AgentState.AVAILABLE,
    (AgentState.AVAILABLE, "login"): AgentState.AVAILABLE,
    (AgentState.RINGING, "login"): AgentState.RINGING,
    (AgentState.ON_CALL, "login"): AgentState.ON_CALL,
    (AgentState.AVAILABLE, "logout"): AgentState.LOGGED_OUT,
    (AgentState.LOGGED_OUT, "logout"): AgentState.LOGGED_OUT,
    (AgentState.AVAILABLE, "offer"): AgentState.RINGING,
    (AgentState.RINGING, "ring_failed"): AgentState.AVAILABLE,
    (AgentState.RINGING, "answer"): AgentState.ON_CALL,
    (AgentState.RINGING, "call_ended"): AgentState.AVAILABLE,
    (AgentState.ON_CALL, "call_ended"): AgentState.AVAILABLE,
}

CALL_TRANSITIONS: dict[tuple[CallState, str], CallState] = {
    (CallState.WAITING, "offer"): CallState.OFFERED,
    (CallState.OFFERED, "ring_failed"): CallState.WAITING,
    (CallState.OFFERED, "answer"): CallState.CONNECTED,
    (CallState.WAITING, "call_ended"): CallState.ENDED,
    (CallState.OFFERED, "call_ended"): CallState.ENDED,
    (CallState.CONNECTED, "call_ended"): CallState.ENDED,
}


def _next(table: dict, state: StrEnum, move: str, what: str) -> StrEnum:
    try:
        return table[(state, move)]
    except KeyError:
        raise IllegalTransition(f"{what}: cannot '{move}' while {state}") from None


@dataclass
class Agent:
    agent_id: str
    state: AgentState = AgentState.LOGGED_OUT
    idle_since: float = 0.0  # when the agent last became available: longest idle goes first
    call_id: str | None = None
    logout_pending: bool = False  # logged out while ringing or on a call: applied when free


@dataclass
class Call:
    call_id: str
    arrived_at: float
    priority: int = 0
    state: CallState = CallState.WAITING
    agent_id: str | None = None
    missed_by: list[str] = field(default_factory=list)  # agents who let it ring out, in order


class Acd:
    """The hotline's agents and calls, and the decision of who takes which call."""

    def __init__(self, ring_timeout: float) -> None:
        self.ring_timeout = ring_timeout
        self.agents: dict[str, Agent] = {}
        self.calls: dict[str, Call] = {}

    # -- public ---------------------------------------------------------------------------------

    def handle(self, event: Event) -> list[Command]:
        """Apply one event and return what the adapter must do now."""
        match event:
            case AgentLoggedIn(agent_id, at):
                agent = self.agents.setdefault(agent_id, Agent(agent_id))
                was = agent.state
                agent.state = _next(AGENT_TRANSITIONS, agent.state, "login", agent_id)
                agent.logout_pending = False
                if was == AgentState.LOGGED_OUT:
                    agent.idle_since = at
            case AgentLoggedOut(agent_id, _):
                agent = self._agent(agent_id)
                if agent.state in (AgentState.RINGING, AgentState.ON_CALL):
                    agent.logout_pending = True
                else:
                    agent.state = _next(AGENT_TRANSITIONS, agent.state, "logout", agent_id)
            case CallWaiting(call_id, at, priority, _skill):
                if call_id in self.calls:
                    raise IllegalTransition(f"{call_id}: already known")
                self.calls[call_id] = Call(call_id, arrived_at=at, priority=priority)
            case RingFailed(call_id, agent_id, at):
                call, agent = self._offered_pair(call_id, agent_id)
                call.state = _next(CALL_TRANSITIONS, call.state, "ring_failed", call_id)
                agent.state = _next(AGENT_TRANSITIONS, agent.state, "ring_failed", agent_id)
                call.agent_id, agent.call_id = None, None
                call.missed_by.append(agent_id)
                self._free(agent, at)
            case AgentAnswered(call_id, agent_id, _):
                call, agent = self._offered_pair(call_id, agent_id)
                call.state = _next(CALL_TRANSITIONS, call.state, "answer", call_id)
                agent.state = _next(AGENT_TRANSITIONS, agent.state, "answer", agent_id)
            case CallEnded(call_id, at):
                call = self._call(call_id)
                commands: list[Command] = []
                call.state = _next(CALL_TRANSITIONS, call.state, "call_ended", call_id)
                if call.agent_id is not None:
                    agent = self._agent(call.agent_id)
                    if agent.state == AgentState.RINGING:
                        commands.append(StopRinging(call_id, agent.agent_id))
                    agent.state = _next(AGENT_TRANSITIONS, agent.state, "call_ended", agent.agent_id)
                    agent.call_id = None
                    self._free(agent, at)
                del self.calls[call_id]
                return commands + self._dispatch()
            case _:
                raise IllegalTransition(f"unknown event {event!r}")
        return self._dispatch()

    def waiting(self) -> list[Call]:
        """Calls waiting for an agent, in the order they will be offered."""
        return sorted(
            (c for c in self.calls.values() if c.state == CallState.WAITING),
            key=lambda c: (-c.priority, c.arrived_at, c.call_id),
        )

    # -- internals ------------------------------------------------------------------------------

    def _dispatch(self) -> list[Command]:
        """Offer waiting calls to available agents until one of the two runs out."""
        commands: list[Command] = []
        for call in self.waiting():
            agent = self._choose_agent(call)
            if agent is None:
                break
            call.state = _next(CALL_TRANSITIONS, call.state, "offer", call.call_id)
            agent.state = _next(AGENT_TRANSITIONS, agent.state, "offer", agent.agent_id)
            call.agent_id, agent.call_id = agent.agent_id, call.call_id
            commands.append(Offer(call.call_id, agent.agent_id, self.ring_timeout))
        return commands

    def _choose_agent(self, call: Call) -> Agent | None:
        free = [a for a in self.agents.values() if a.state == AgentState.AVAILABLE]
        if not free:
            return None
        # Longest idle first; an agent who already missed this call only when no one else is free.
        missed = set(call.missed_by)
        return min(free, key=lambda a: (a.agent_id in missed, a.idle_since, a.agent_id))

    def _free(self, agent: Agent, at: float) -> None:
        agent.idle_since = at
        if agent.logout_pending:
            agent.state = _next(AGENT_TRANSITIONS, agent.state, "logout", agent.agent_id)
            agent.logout_pending = False

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

    def _offered_pair(self, call_id: str, agent_id: str) -> tuple[Call, Agent]:
        call, agent = self._call(call_id), self._agent(agent_id)
        if call.agent_id != agent_id or agent.call_id != call_id:
            raise IllegalTransition(f"{call_id} is not offered to {agent_id}")
        return call, agent
