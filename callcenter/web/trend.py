"""The wallboard's charts: rows and samples in, series out; no I/O, no clock of its own.

- ``day``: today's calls offered and service level per quarter hour beside the same weekday a week
  earlier, each bin counted by ``figures.by_quarter`` (the one definition of service level that the
  reports and today's tiles use);
- ``WaitingSamples``: callers on hold (not kept places), sampled every ``every`` seconds over the
  last ``span`` seconds; memory only, so after a controller restart the chart starts empty;
- ``screen``: what the wall screen may show of the wallboard (figures, charts, operators' states;
  no caller numbers, tickets or alerts).
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from typing import Any
from zoneinfo import ZoneInfo

from callcenter.web import figures

SAMPLE_EVERY = 15.0  # seconds between samples of the callers waiting
WAITING_SPAN = 3600.0  # seconds of samples kept (the chart's hour)
BIN_KEYS = ("offered", "offered_to_agent", "within_two_rings", "service_level")  # what a chart's bin carries


def quarters(rows: list[figures.CallRow], zone: ZoneInfo) -> list[dict[str, Any]]:
    """The 96 quarter hours of ``rows``' local day, each with the figures a chart draws."""
    return [{"start": b["start"], **{k: b[k] for k in BIN_KEYS}} for b in figures.by_quarter(rows, zone)]


def day(today_rows: list[figures.CallRow], last_week_rows: list[figures.CallRow], zone: ZoneInfo,
        today: dt.date, now: dt.datetime) -> dict[str, Any]:
    """Today's quarter hours beside the same weekday last week; ``now_bin``: the quarter ``now`` falls in."""
    local = now.astimezone(zone)
    return {
        "day": today.isoformat(),
        "last_week_day": (today - dt.timedelta(days=7)).isoformat(),
        "now_bin": local.hour * 4 + local.minute // 15 if local.date() == today else 95,
        "today": quarters(today_rows, zone),
        "last_week": quarters(last_week_rows, zone),
    }


class WaitingSamples:
    """How many callers waited, sampled at most every ``every`` seconds, the last ``span`` seconds kept."""

    def __init__(self, every: float = SAMPLE_EVERY, span: float = WAITING_SPAN) -> None:
        self.every = every
        self.span = span
        self._samples: deque[tuple[float, int]] = deque()

    def add(self, at: float, waiting: int) -> bool:
        """Keep ``waiting`` as the sample at ``at`` when one is due; True if kept."""
        if self._samples and at - self._samples[-1][0] < self.every:
            return False
        self._samples.append((at, waiting))
        while self._samples and self._samples[0][0] < at - self.span:
            self._samples.popleft()
        return True

    def series(self, now: float) -> list[list[float]]:
        """[[unix seconds, callers waiting], ...] of the last ``span`` seconds before ``now``, oldest first."""
        return [[at, waiting] for at, waiting in self._samples if now - self.span <= at <= now]


SCREEN_AGENT_KEYS = ("agent_id", "name", "state", "since", "reason", "registered")


def screen(board: dict[str, Any]) -> dict[str, Any]:
    """The wall screen's message from the wallboard's: figures and charts, no caller or ticket."""
    waiting = [c for c in board["calls"] if not c["callback"] and c["state"] in ("waiting", "offered")]
    return {
        "type": "wallscreen",
        "waiting": len(waiting),
        "longest_since": min((c["waiting_since"] for c in waiting), default=None),
        "callbacks_waiting": board["callbacks_waiting"],
        "agents": [{k: a.get(k) for k in SCREEN_AGENT_KEYS} for a in board["agents"]],
        "today": board["today"],
        "trend": board["trend"],
        "target": board["target"],
        "long_wait_alert": board["long_wait_alert"],
        "now": board["now"],
    }
