"""Random days for the ACD core's property tests: step strategies and the event each step makes.

A day is a list of ``(kind, pick)`` steps; ``day_event`` turns one step into the core event it
stands for in the core's current state, or None when it does not fit (a ring's outcome with nothing
ringing, a resume of an operator who is not paused): the test then skips the step.  The tests own
their bookkeeping (which calls are live, what they assert after each event).
"""

from __future__ import annotations

from hypothesis import strategies as st

from callcenter.acd import (
    Acd,
    AgentAnswered,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentPaused,
    AgentPhoneBusy,
    AgentResumed,
    AgentState,
    CallEnded,
    CallWaiting,
    Event,
    LinkDown,
    LinkUp,
    OfferWithdrawn,
    RingFailed,
    RingStarted,
    Tick,
    WrapUpEnded,
)

# What operators, callers, phones and the AMI link do in a day.
KINDS = ["login", "logout", "pause", "resume", "busy", "call", "rang", "fail", "withdraw", "answer", "end", "tick",
         "wrapped", "down", "up"]
RING_OUTCOMES = {"rang": RingStarted, "withdraw": OfferWithdrawn, "fail": RingFailed, "answer": AgentAnswered}


def steps(kinds: list[str], min_size: int = 0, max_size: int = 80) -> st.SearchStrategy[list[tuple[str, int]]]:
    """A day: ``(kind, pick)`` steps; ``pick`` chooses the operator, the call or the ring a step is about."""
    return st.lists(st.tuples(st.sampled_from(kinds), st.integers(0, 30)), min_size=min_size, max_size=max_size)


def day_event(acd: Acd, kind: str, pick: int, agent_id: str, now: float, call_id: str,
              priorities: int = 3) -> Event | None:
    """The event of one step of ``KINDS`` now, or None when it does not fit the core's state.

    ``agent_id`` is the operator the step is about, ``call_id`` the id a new call (``"call"``) takes,
    ``priorities`` how many priorities new calls spread over.
    """
    ringing = [(c.call_id, a) for c in acd.calls.values() for a in c.ringing]
    known = agent_id in acd.agents
    state = acd.agents[agent_id].state if known else None
    if kind == "login":
        return AgentLoggedIn(agent_id, now)
    if kind == "logout" and known:
        return AgentLoggedOut(agent_id, now)
    if kind == "pause" and known and state != AgentState.LOGGED_OUT:
        return AgentPaused(agent_id, now, "break")
    if kind == "resume" and state == AgentState.PAUSED:
        return AgentResumed(agent_id, now)
    if kind == "busy" and known:
        return AgentPhoneBusy(agent_id, now, busy=pick % 2 == 0)
    if kind == "wrapped" and state == AgentState.WRAP_UP:
        return WrapUpEnded(agent_id, now)
    if kind == "tick":
        return Tick(now)
    if kind == "call":
        return CallWaiting(call_id, now, priority=pick % priorities)
    if kind in RING_OUTCOMES and ringing:
        ringing_call, ringing_agent = ringing[pick % len(ringing)]
        return RING_OUTCOMES[kind](ringing_call, ringing_agent, now)
    if kind == "down":
        return LinkDown(now)
    if kind == "up":
        return LinkUp(now)
    if kind == "end" and acd.calls:
        return CallEnded(list(acd.calls.values())[pick % len(acd.calls)].call_id, now)
    return None
