"""Each ring of an operator's phone, kept on the call's ticket: who, when it started, how it ended.

Theory of operation: the adapter hands every event the core accepted to ``RingRecorder.observe``,
in the core's own call stack (so it never blocks or raises there).  The recorder remembers the
rings going on now (call and agent -> when the phone started ringing, the core's ``rang_at``) and
after each event compares them with the core:
- a ring the core has that the recorder does not (``RingStarted`` accepted) has started;
- a ring the recorder has that the core no longer has has ended, and the event says how:
  ``AgentAnswered`` by its agent -> "answered", by another -> "answered_elsewhere";
  ``CallEnded`` -> "caller_left"; otherwise the core either counted a miss (the agent's entry in
  the call's ``missed_by`` grew: rang out, refused, busy) -> "missed", or took the offer back
  (transport failure, link down) -> "withdrawn".
An answer that arrives with no ring seen (a lost Newstate) is a ring that started and ended then.
Each fact becomes one ``ring`` ticket write (``TicketService.record_ring``), keyed by agent and
start, so the start and the end may land in either order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import structlog

from callcenter.acd import Acd, AgentAnswered, CallEnded, Event, RingStarted
from callcenter.tickets.service import TicketService

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class RingFact:
    """One ring of ``agent_id``'s phone for ``call_id``; ``outcome`` None while it still rings."""

    call_id: str
    agent_id: str
    started_at: float
    ended_at: float | None = None
    outcome: str | None = None


@dataclass(frozen=True)
class _Live:
    started_at: float
    misses_before: int  # the agent's entries in the call's missed_by when the ring started


class RingLog:
    """The rings going on, and the facts each core event adds about them (pure: no I/O)."""

    def __init__(self) -> None:
        self.live: dict[tuple[str, str], _Live] = {}  # (call id, agent id) -> the ring

    def observe(self, event: Event, acd: Acd) -> list[RingFact]:
        """What ``event`` (already applied to ``acd``) started or ended."""
        facts: list[RingFact] = []
        answered_by = event.agent_id if isinstance(event, AgentAnswered) else None
        for (call_id, agent_id), ring in list(self.live.items()):
            call = acd.calls.get(call_id)
            if call is not None and call.rang_at.get(agent_id) == ring.started_at:
                continue  # still ringing
            del self.live[(call_id, agent_id)]
            if isinstance(event, AgentAnswered) and event.call_id == call_id:
                outcome = "answered" if agent_id == answered_by else "answered_elsewhere"
            elif isinstance(event, CallEnded) and event.call_id == call_id:
                outcome = "caller_left"
            elif call is not None and call.missed_by.count(agent_id) > ring.misses_before:
                outcome = "missed"
            else:
                outcome = "withdrawn"
            facts.append(RingFact(call_id, agent_id, ring.started_at, event.at, outcome))
        if isinstance(event, RingStarted):
            call = acd.calls.get(event.call_id)
            started = call.rang_at.get(event.agent_id) if call is not None else None
            key = (event.call_id, event.agent_id)
            if started is not None and key not in self.live:
                self.live[key] = _Live(started, call.missed_by.count(event.agent_id))
                facts.append(RingFact(event.call_id, event.agent_id, started))
        if isinstance(event, AgentAnswered) and not any(f.outcome == "answered" for f in facts):
            facts.append(RingFact(event.call_id, event.agent_id, event.at, event.at, "answered"))
        return facts


class RingRecorder:
    """Writes the rings ``RingLog`` finds to the calls' tickets, in the background."""

    def __init__(self, tickets: TicketService, spawn: Callable[[Coroutine[Any, Any, None]], None]) -> None:
        self.tickets = tickets
        self.spawn = spawn  # e.g. Adapter._spawn: the write runs in the background, close() lets it land
        self.log = RingLog()

    def observe(self, event: Event, acd: Acd) -> None:
        """After the core accepted ``event``: queue a ticket write for each ring it started or ended."""
        try:
            for fact in self.log.observe(event, acd):
                log.info("agent.rang" if fact.outcome is None else "agent.ring_ended", uniqueid=fact.call_id,
                         agent=fact.agent_id, outcome=fact.outcome)
                self.spawn(self._write(fact))
        except Exception:  # the core's call stack must go on; a lost ring fact is only a figure
            log.exception("ticket.ring_record_failed", acd_event=type(event).__name__)

    async def _write(self, fact: RingFact) -> None:
        await self.tickets.record_ring(
            fact.call_id, fact.agent_id, _utc(fact.started_at),
            _utc(fact.ended_at) if fact.ended_at is not None else None, fact.outcome,
        )


def _utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)
