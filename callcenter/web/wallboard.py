"""What the pages show of the live state: operators' rows, calls in progress, today's figures, alerts.

Built from the ACD's memory (``Adapter``) and the database, never pushed from here: the live hub
(``callcenter.web.live``) decides when a page is sent what.
- ``agent_message``: one operator's state as their desk and the wallboard's row show it, with the
  core's memory of their recent rings.
- ``live_board``: calls in progress and every operator's state; each operator carries the shift that
  has them scheduled now (the rota store, edited by supervisors).
- ``today``: today's figures from the tickets (``callcenter.web.figures``: the hotline's and each
  operator's, counting every call that rang), reused for ``TODAY_REFRESH`` seconds.
- ``overdue``: the overdue tickets (the work-order side's overdue detection), reused for
  ``OVERDUE_REFRESH`` seconds or until ``note`` hears its sweep announce a newly overdue ticket.
- ``alerts``: what a supervisor must look at now (service level, long waits, operators paused for
  missed calls or absent from their shift, overdue tickets, refused outside calls, recording faults).
- ``snapshot``: the whole wallboard message.
Times are Unix seconds of the server's clock with the server's ``now`` beside them, so pages tick
waits and countdowns themselves.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.acd import MISSED_CALLS, AgentState, CallState
from callcenter.adapter import Adapter
from callcenter.settings import Settings
from callcenter.web import figures, trend
from callcenter.web.store import call_rows

if TYPE_CHECKING:
    from callcenter.agents.store import RotaStore
    from callcenter.workorders.service import WorkOrderService

log = structlog.get_logger(__name__)

TODAY_REFRESH = 2.0  # seconds today's figures are reused
OVERDUE_REFRESH = 10.0  # seconds the list of overdue tickets is reused (a sweep's alert refreshes it at once)
OVERDUE_SHOWN = 10  # overdue tickets listed one by one; more are one "overdue_more" alert
REFUSED_KEPT = 50  # refused outside calls remembered for the wallboard
REFUSED_SHOWN = 5  # ... listed one by one (the last hour's), more are one "dial_refused_more" alert
REFUSED_FOR = 3600.0  # seconds a refused call stays an alert
LAST_WEEK_REFRESH = 300.0  # seconds the same weekday last week's quarter hours are reused (late tickets of that day)


class Wallboard:
    """The live picture of the ACD, today's figures and the alerts, as the pages show them."""

    def __init__(
        self,
        settings: Settings,
        adapter: Adapter,
        reads: async_sessionmaker[AsyncSession],
        clock: Callable[[], float] = time.time,
        *,
        rota: RotaStore | None = None,
        work: WorkOrderService | None = None,
    ) -> None:
        self.settings = settings
        self.adapter = adapter
        self.reads = reads
        self.clock = clock
        self.rota = rota
        self.work = work
        self.zone = settings.hospital.zone
        self.names = {a.id: a.name for a in settings.agents}
        self._overdue: list[dict[str, Any]] = []
        self._ladder: list[dict[str, Any]] = []  # tickets at ladder level 2+ (overdue(), refreshed with it)
        self._overdue_at = 0.0
        self._today: dict[str, Any] = {}
        self._today_at = 0.0
        self._refused: deque[dict[str, Any]] = deque(maxlen=REFUSED_KEPT)  # refused outside calls, newest last
        self._trend: dict[str, Any] = {}  # today's quarter hours beside last week's (trend.day), with today()
        self._last_week: tuple[dt.date, float, list[figures.CallRow]] | None = None  # (that day, read at, rows)
        self.waiting = trend.WaitingSamples()  # callers on hold over the last hour, memory only

    def note(self, event: str, data: dict[str, Any]) -> bool:
        """A work-order event: a ticket went overdue (the sweep), an outside call was refused; True if shown."""
        if event in ("ticket.overdue", "ticket.ladder"):
            self._overdue_at = 0.0
            return True
        if event == "outbound.dial_refused":  # the dialling policy (callcenter/outbound/policy.py)
            self._refused.append({**data, "when": self.clock()})
            return True
        return False

    # -- operators -----------------------------------------------------------------------------

    def agent_message(self, agent_id: str) -> dict[str, Any]:
        """One operator's state as their page shows it."""
        agent = self.adapter.acd.agents.get(agent_id)
        base = {"type": "agent", "agent_id": agent_id, "name": self.names.get(agent_id, ""), "now": self.clock()}
        if agent is None:
            return {**base, "state": AgentState.LOGGED_OUT.value, "since": None, "registered": agent_id in self.adapter.registered}
        return {
            **base,
            "state": agent.state.value,
            "since": agent.since,
            "reason": agent.pause_reason,
            "call_id": agent.call_id,
            "wrap_up_until": agent.wrap_up_until if agent.state == AgentState.WRAP_UP else None,
            "pending": agent.pending,
            "phone_busy": agent.phone_busy,
            "registered": agent_id in self.adapter.registered,
            "calls_answered": agent.calls_answered,
            "missed_in_row": agent.missed_in_row,
            # When the core rings a paused operator again by itself ([acd] auto_resume_after); None: only by hand.
            "resume_at": getattr(agent, "resume_at", None) if agent.state == AgentState.PAUSED else None,
            "answer": self._answer_memory(agent_id),
        }

    def _answer_memory(self, agent_id: str) -> dict[str, Any] | None:
        """The core's memory of the operator's recent rings (it rings likely answerers first)."""
        figures = self.adapter.acd.agent_figures(self.clock()).get(agent_id)
        if figures is None:
            return None
        return {
            "p_within_window": round(figures.p_within_window, 3),
            "likely": figures.likely,
            "answer_share": None if figures.answer_share is None else round(figures.answer_share, 3),
            "typical_answer": None if figures.typical_answer is None else round(figures.typical_answer, 1),
            "offers_remembered": round(figures.offers_remembered, 1),
        }

    # -- the board -----------------------------------------------------------------------------

    def live_board(self) -> dict[str, Any]:
        """Calls in progress and every operator's state, from the ACD's memory."""
        acd = self.adapter.acd
        calls = []
        for call in acd.calls.values():
            if call.state in (CallState.ENDED,):
                continue
            live = self.adapter.calls.get(call.call_id) or self.adapter.kept.get(call.call_id)
            calls.append(
                {
                    "call_id": call.call_id,
                    "caller_number": live.caller_number if live else "",
                    "callback": call.kept_at is not None,  # a kept place: nobody on hold, called back in turn
                    "attempts": call.callback_attempts,
                    "state": call.state.value,
                    "arrived_at": call.arrived_at,
                    "waiting_since": call.waiting_since if call.waiting_since is not None else call.arrived_at,
                    "answered_at": call.answered_at,
                    "ringing": sorted(call.ringing),
                    "agent_id": call.agent_id,
                }
            )
        calls.sort(key=lambda c: c["waiting_since"])
        duty = self.rota.on_duty(dt.datetime.fromtimestamp(self.clock(), self.zone)) if self.rota is not None else {}
        agents = []
        for agent_settings in self.settings.agents:
            message = self.agent_message(agent_settings.id)
            message.pop("type", None)
            message.pop("now", None)
            message["shift"] = duty.get(agent_settings.id)  # scheduled now: the shift's name
            agents.append(message)
        callbacks = sum(1 for c in calls if c["callback"] and c["state"] == "waiting")
        return {"calls": calls, "agents": agents, "callbacks_waiting": callbacks}

    async def today(self) -> dict[str, Any]:
        """Today's figures (local day), recomputed at most every ``TODAY_REFRESH`` seconds."""
        now = self.clock()
        if now - self._today_at < TODAY_REFRESH and self._today:
            return self._today
        day = dt.datetime.fromtimestamp(now, self.zone).date()
        start, end = figures.local_day_bounds(day, self.zone)
        rows = await call_rows(self.reads, start, end)
        # Each operator's figures too, crediting every ring of their phone (figures.by_agent).
        self._today = {"day": day.isoformat(), **figures.summarise(rows), "agents": figures.by_agent(rows)}
        self._trend = trend.day(rows, await self._last_week_rows(day - dt.timedelta(days=7), now), self.zone, day,
                                dt.datetime.fromtimestamp(now, dt.UTC))
        self._today_at = now
        return self._today

    async def _last_week_rows(self, day: dt.date, now: float) -> list[figures.CallRow]:
        """The calls of ``day`` (the same weekday last week), read again every ``LAST_WEEK_REFRESH`` seconds."""
        if self._last_week is None or self._last_week[0] != day or now - self._last_week[1] >= LAST_WEEK_REFRESH:
            self._last_week = (day, now, await call_rows(self.reads, *figures.local_day_bounds(day, self.zone)))
        return self._last_week[2]

    def sample(self) -> None:
        """Note the callers on hold now when a sample is due (the live hub calls this every loop)."""
        now = self.clock()
        waiting = sum(1 for c in self.adapter.acd.calls.values()
                      if c.state in (CallState.WAITING, CallState.OFFERED) and c.kept_at is None)
        self.waiting.add(now, waiting)

    async def overdue(self) -> list[dict[str, Any]]:
        """Tickets past their promised reply or callback deadline, most late first (cached)."""
        now = self.clock()
        if self.work is None or now - self._overdue_at < OVERDUE_REFRESH:
            return self._overdue
        rows = [r for r in await self.work.list(overdue_only=True, limit=500) if r.get("overdue")]
        rows.sort(key=lambda r: r["overdue"]["deadline"])
        self._overdue = [
            {"ticket_id": r["id"], "caller_number": r["caller_number"], "status": r["status"],
             "category": r["category"], "deadline": r["overdue"]["deadline"], "days": r["overdue"]["days"]}
            for r in rows
        ]
        # The supervisor's part of the overdue ladder (level 2 and 3; callcenter/workorders/timelimits.py).
        climbed = await self.work.list(ladder=2, limit=200)
        for r in climbed:  # the ladder's deadline: the earlier of the time limit and the promised reply
            r["deadline"] = min((dt.datetime.fromisoformat(m) for m in (r["due_at"], r["promised_reply_at"]) if m),
                                default=None)
        climbed.sort(key=lambda r: (-r["ladder_level"], r["deadline"] or dt.datetime.max.replace(tzinfo=dt.UTC)))
        self._ladder = [
            {"ticket_id": r["id"], "caller_number": r["caller_number"], "category": r["category"],
             "level": r["ladder_level"], "due_at": r["deadline"].isoformat() if r["deadline"] else None,
             "agent_id": r["assigned_agent"] or r["agent_id"], "department_id": r["department_id"]}
            for r in climbed
        ]
        self._overdue_at = now
        return self._overdue

    def alerts(
        self, board: dict[str, Any], today: dict[str, Any], overdue: list[dict[str, Any]] | None = None
    ) -> list[dict[str, Any]]:
        """What a supervisor must look at now."""
        web_settings = self.settings.web
        now = self.clock()
        out: list[dict[str, Any]] = []
        level = today.get("service_level")
        if level is not None and level < web_settings.service_level_target:
            out.append({"kind": "service_level", "value": level, "target": web_settings.service_level_target})
        for call in board["calls"]:
            waited = now - call["waiting_since"]
            if call["state"] in ("waiting", "offered") and not call.get("callback") and waited > web_settings.long_wait_alert:
                out.append({"kind": "long_wait", "call_id": call["call_id"], "caller_number": call["caller_number"], "since": call["waiting_since"]})
        for agent in board["agents"]:
            if agent["state"] == "paused" and agent.get("reason") == MISSED_CALLS:
                out.append({"kind": "auto_paused", "agent_id": agent["agent_id"], "name": agent["name"], "since": agent["since"]})
            if agent.get("shift") and agent["state"] == "logged_out":
                out.append({"kind": "absent", "agent_id": agent["agent_id"], "name": agent["name"], "shift": agent["shift"]})
        overdue = overdue or []
        for ticket in overdue[:OVERDUE_SHOWN]:
            out.append({"kind": "overdue", **ticket})
        if len(overdue) > OVERDUE_SHOWN:
            out.append({"kind": "overdue_more", "count": len(overdue) - OVERDUE_SHOWN})
        refused = [r for r in self._refused if now - r["when"] <= REFUSED_FOR]
        for entry in reversed(refused[-REFUSED_SHOWN:]):  # newest first
            out.append({"kind": "dial_refused", "number": entry.get("number"), "reason": entry.get("reason"),
                        "by": entry.get("by"), "call": entry.get("kind"), "ticket_id": entry.get("ticket_id"),
                        "since": entry["when"]})
        if len(refused) > REFUSED_SHOWN:
            out.append({"kind": "dial_refused_more", "count": len(refused) - REFUSED_SHOWN})
        recorder = self.adapter.recorder  # callcenter.recording: calls go on unrecorded while this lasts
        if recorder is not None and recorder.fault is not None:
            out.append(dict(recorder.fault))  # kind "recording_failed": reason, detail, since, calls
        return out

    async def snapshot(self) -> dict[str, Any]:
        """The whole wallboard: live calls and agents, today's figures, alerts."""
        board = self.live_board()
        today = await self.today()
        try:
            overdue = await self.overdue()
        except Exception:  # the figures and the live picture matter more than this list
            log.exception("web.overdue_failed")
            overdue = self._overdue
        return {
            "type": "wallboard",
            **board,
            "today": today,
            "overdue": len(overdue),
            "ladder": self._ladder,
            "alerts": self.alerts(board, today, overdue),
            "trend": {**self._trend, "waiting": self.waiting.series(self.clock()), "every": self.waiting.every},
            "target": self.settings.web.service_level_target,
            "long_wait_alert": self.settings.web.long_wait_alert,
            "now": self.clock(),
        }
