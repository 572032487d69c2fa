"""Erlang C: how many operators an hour needs so that calls are answered within a target time.

Pure maths (about thirty lines; pyworkforce would pull in pandas and ortools for it).  The
probability that a caller must wait, C(N, A), comes from the Erlang B recursion (stable for any
N): B(0) = 1, B(k) = A·B(k-1) / (k + A·B(k-1)), then C = N·B / (N − A·(1 − B)).  The share answered
within t seconds is 1 − C·exp(−(N − A)·t / AHT).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def erlang_c(agents: int, traffic: float) -> float:
    """Probability that a call waits, with ``agents`` operators and ``traffic`` erlangs offered."""
    if traffic <= 0:
        return 0.0
    if agents <= traffic:
        return 1.0  # the queue grows without bound
    b = 1.0
    for k in range(1, agents + 1):
        b = traffic * b / (k + traffic * b)
    return agents * b / (agents - traffic * (1 - b))


def service_level(agents: int, calls_per_hour: float, aht: float, target: float) -> float:
    """Share of calls answered within ``target`` seconds (``aht``: average handling seconds)."""
    traffic = calls_per_hour * aht / 3600.0
    if traffic <= 0:
        return 1.0
    if agents <= traffic:
        return 0.0
    return max(0.0, 1.0 - erlang_c(agents, traffic) * math.exp(-(agents - traffic) * target / aht))


@dataclass(frozen=True)
class Staffing:
    """Operators needed for one interval, and what they would achieve."""

    agents: int
    service_level: float
    occupancy: float
    traffic: float


def agents_needed(
    calls_per_hour: float, aht: float, target: float, level: float, max_occupancy: float = 0.85, limit: int = 500
) -> Staffing:
    """The fewest operators that answer ``level`` of calls within ``target`` s at most ``max_occupancy`` busy."""
    traffic = calls_per_hour * aht / 3600.0
    if calls_per_hour <= 0 or aht <= 0:
        return Staffing(0, 1.0, 0.0, 0.0)
    agents = max(1, math.ceil(traffic))
    while agents < limit:
        achieved = service_level(agents, calls_per_hour, aht, target)
        if achieved >= level and traffic / agents <= max_occupancy:
            return Staffing(agents, achieved, traffic / agents, traffic)
        agents += 1
    return Staffing(agents, service_level(agents, calls_per_hour, aht, target), traffic / agents, traffic)
