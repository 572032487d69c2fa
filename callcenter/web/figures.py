"""The hotline's figures over a set of tickets: pure functions, shared by the wallboard and reports.

Definitions (one place, so the wallboard, the reports and their CSV always agree):
- offered: every call that reached the hotline (every ticket);
- answered: calls an operator answered; abandoned: calls that ended unanswered;
- offered to an operator: calls that rang at least one operator's phone (the ticket's
  ``details.rings``, written when the phone starts ringing), or that an operator answered (a
  fallback-queue call, a ticket from before rings were recorded);
- answered within two rings: the ACD's per-call measurement ``details.acd.within_two_rings``
  (from the call's first ring, ``first_rang_at``, to the answer), counted only for answered calls;
- service level: answered within two rings / offered to an operator.  A caller who hung up while
  a phone rang counts against it, as does an answer after a missed ring;
- waits: ``wait_seconds`` of ended calls (arrival to answer, or to hang-up when abandoned).
- callbacks: calls whose caller kept their place and was called back (``details.callback``, press 1
  on hold); callbacks_answered: the caller answered one; callbacks_unreached: every attempt failed,
  or the kept place was lost when the controller restarted (``details.callback.lost``); either way
  the ticket ends unanswered and becomes an abandoned-call task.  A kept place is never counted
  as abandoned, not even an unreached one: the caller did not give up, the callbacks failed.

Per operator (``by_agent``), every ring credits the operator it rang, not only the one who answered:
- offered: rings that reached the operator's phone (a call rung at them twice is two offers);
- answered: calls they answered; missed: rings they let ring out or refused; answered_elsewhere:
  rings stopped because another operator answered first (not a miss); caller_left: rings the
  caller hung up during; withdrawn: rings the system took back (a transport failure);
- within_two_rings: calls they answered within two rings (the call's measurement);
- service level: within_two_rings / (offered - answered_elsewhere - withdrawn): of the rings the
  operator could have answered, the share that kept the promise;
- waits and talk times over the calls they answered.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo


RING_OUTCOMES = ("answered", "missed", "answered_elsewhere", "caller_left", "withdrawn")


@dataclass(frozen=True)
class Ring:
    """One ring of an operator's phone for a call; ``outcome`` None while it rings (or was never told)."""

    agent_id: str
    started_at: dt.datetime | None = None
    outcome: str | None = None


@dataclass(frozen=True)
class CallRow:
    """The columns of one ticket that figures need."""

    arrived_at: dt.datetime
    call_status: str
    agent_id: str | None = None  # the operator who answered
    rings: tuple[Ring, ...] = ()  # every ring of an operator's phone, in order
    answered_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    wait_seconds: float | None = None
    talk_seconds: float | None = None
    within_two_rings: bool | None = None
    category: str | None = None
    solved: bool | None = None
    satisfaction: int | None = None
    callback: str | None = None  # a kept place: its outcome (waiting, calling, answered, unreached); None: not one


@dataclass
class _Tally:
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    offered_to_agent: int = 0
    within_two_rings: int = 0
    callbacks: int = 0
    callbacks_answered: int = 0
    callbacks_unreached: int = 0
    waits: list[float] = field(default_factory=list)
    talks: list[float] = field(default_factory=list)

    def add(self, row: CallRow) -> None:
        self.offered += 1
        answered = _answered(row)
        if answered:
            self.answered += 1
        if row.callback is not None:
            self.callbacks += 1
            self.callbacks_answered += row.callback == "answered"
            self.callbacks_unreached += row.callback == "unreached"
        elif row.call_status == "abandoned":
            self.abandoned += 1
        if row.rings or row.agent_id:
            self.offered_to_agent += 1
        if answered and row.within_two_rings:
            self.within_two_rings += 1
        if row.wait_seconds is not None and row.ended_at is not None:
            self.waits.append(row.wait_seconds)
        if row.talk_seconds is not None and row.answered_at is not None:
            self.talks.append(row.talk_seconds)

    def summary(self) -> dict[str, Any]:
        return {
            "offered": self.offered,
            "answered": self.answered,
            "abandoned": self.abandoned,
            "offered_to_agent": self.offered_to_agent,
            "within_two_rings": self.within_two_rings,
            "callbacks": self.callbacks,
            "callbacks_answered": self.callbacks_answered,
            "callbacks_unreached": self.callbacks_unreached,
            "service_level": round(self.within_two_rings / self.offered_to_agent, 4) if self.offered_to_agent else None,
            "abandon_rate": round(self.abandoned / self.offered, 4) if self.offered else None,
            "avg_wait": round(statistics.fmean(self.waits), 1) if self.waits else None,
            "max_wait": round(max(self.waits), 1) if self.waits else None,
            "avg_talk": round(statistics.fmean(self.talks), 1) if self.talks else None,
        }


def summarise(rows: list[CallRow]) -> dict[str, Any]:
    """Offered, answered, abandoned, service level and waits over ``rows``."""
    tally = _Tally()
    for row in rows:
        tally.add(row)
    return tally.summary()


def by_hour(rows: list[CallRow], zone: ZoneInfo) -> list[dict[str, Any]]:
    """The summary of each local hour of day (0-23), every hour present."""
    tallies = [_Tally() for _ in range(24)]
    for row in rows:
        tallies[row.arrived_at.astimezone(zone).hour].add(row)
    return [{"hour": hour, **tally.summary()} for hour, tally in enumerate(tallies)]


def by_quarter(rows: list[CallRow], zone: ZoneInfo) -> list[dict[str, Any]]:
    """The summary of each local quarter hour of day (96: 00:00-00:15 ... 23:45-24:00), every one present.

    Binned by the local wall clock, so the hours add up to ``by_hour`` (a DST day's repeated hour
    shares its bins; Asia/Shanghai has none).
    """
    tallies = [_Tally() for _ in range(96)]
    for row in rows:
        local = row.arrived_at.astimezone(zone)
        tallies[local.hour * 4 + local.minute // 15].add(row)
    return [{"start": f"{i // 4:02d}:{i % 4 * 15:02d}", **tally.summary()} for i, tally in enumerate(tallies)]


def by_day(rows: list[CallRow], zone: ZoneInfo) -> list[dict[str, Any]]:
    """The summary of each local day that has calls, in date order."""
    tallies: dict[dt.date, _Tally] = {}
    for row in rows:
        tallies.setdefault(row.arrived_at.astimezone(zone).date(), _Tally()).add(row)
    return [{"day": day.isoformat(), **tallies[day].summary()} for day in sorted(tallies)]


@dataclass
class _AgentTally:
    offered: int = 0
    answered: int = 0
    missed: int = 0
    answered_elsewhere: int = 0
    caller_left: int = 0
    withdrawn: int = 0
    within_two_rings: int = 0
    waits: list[float] = field(default_factory=list)
    talks: list[float] = field(default_factory=list)

    def add_ring(self, ring: Ring) -> None:
        self.offered += 1
        if ring.outcome in ("missed", "answered_elsewhere", "caller_left", "withdrawn"):
            setattr(self, ring.outcome, getattr(self, ring.outcome) + 1)

    def add_answer(self, row: CallRow) -> None:
        self.answered += 1
        if row.within_two_rings:
            self.within_two_rings += 1
        if row.wait_seconds is not None and row.ended_at is not None:
            self.waits.append(row.wait_seconds)
        if row.talk_seconds is not None:
            self.talks.append(row.talk_seconds)

    def summary(self) -> dict[str, Any]:
        could = self.offered - self.answered_elsewhere - self.withdrawn
        return {
            "offered": self.offered,
            "answered": self.answered,
            "missed": self.missed,
            "answered_elsewhere": self.answered_elsewhere,
            "caller_left": self.caller_left,
            "withdrawn": self.withdrawn,
            "within_two_rings": self.within_two_rings,
            "service_level": round(self.within_two_rings / could, 4) if could > 0 else None,
            "avg_wait": round(statistics.fmean(self.waits), 1) if self.waits else None,
            "avg_talk": round(statistics.fmean(self.talks), 1) if self.talks else None,
        }


def by_agent(rows: list[CallRow]) -> list[dict[str, Any]]:
    """Each operator's figures over every ring of their phone (see the module's definitions)."""
    tallies: dict[str, _AgentTally] = {}
    for row in rows:
        for ring in row.rings:
            if ring.agent_id:
                tallies.setdefault(ring.agent_id, _AgentTally()).add_ring(ring)
        if row.agent_id and _answered(row):
            tally = tallies.setdefault(row.agent_id, _AgentTally())
            if not any(r.agent_id == row.agent_id for r in row.rings):
                tally.offered += 1  # answered with no ring recorded (fallback queue, older tickets): it rang
            tally.add_answer(row)
    return [{"agent_id": agent, **tallies[agent].summary()} for agent in sorted(tallies)]


def top_categories(rows: list[CallRow], limit: int = 10) -> list[dict[str, Any]]:
    """The most frequent ticket categories, most frequent first."""
    counts: dict[str, int] = {}
    for row in rows:
        if row.category:
            counts[row.category] = counts.get(row.category, 0) + 1
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return [{"category": name, "calls": count} for name, count in ranked]


def satisfaction(rows: list[CallRow]) -> dict[str, Any]:
    """How many calls have a satisfaction score, and their average (1-5)."""
    scores = [row.satisfaction for row in rows if row.satisfaction is not None]
    solved = [row.solved for row in rows if row.solved is not None]
    return {
        "rated": len(scores),
        "average": round(statistics.fmean(scores), 2) if scores else None,
        "solved": sum(1 for s in solved if s),
        "recorded": len(solved),
    }


def _answered(row: CallRow) -> bool:
    return row.answered_at is not None or row.call_status in ("answered", "completed")


def local_day_bounds(day: dt.date, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """The UTC start and end of a local calendar day."""
    start = dt.datetime.combine(day, dt.time(), zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)
