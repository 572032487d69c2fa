"""Live pushes over websockets: the operator's screen-pop and state, the supervisor's wallboard.

Theory of operation
-------------------
The hub is one of the ACD adapter's listeners: it receives every command the core emits, in the
core's own call stack, and must never block or raise there.  It decides *what* goes out:
- ``Offer`` (an operator's phone starts ringing) -> a ``pop`` to that operator's sockets at once,
  built from memory only (caller number, name, the menu's skill, arrival and wait times); the slower facts from
  the database (the caller's earlier tickets, the menu path) follow as ``pop_details``.
- ``StopRinging`` -> ``ring_stopped`` to that operator; ``AgentStateChanged`` -> ``agent``.
- Any of them marks the wallboard dirty; a loop sends supervisors a new ``wallboard`` when the
  live picture changed (also checked every ``WALLBOARD_CHECK`` seconds, for arrivals and hang-ups
  that emit no command), with today's figures from the tickets (``callcenter.web.figures``: the
  hotline's and each operator's, counting every call that rang) refreshed every ``TODAY_REFRESH``
  and the overdue tickets (the work-order side's overdue detection) every ``OVERDUE_REFRESH`` or at
  once when its sweep announces a newly overdue ticket (``WorkOrderService.listeners``).
- Each operator on the wallboard carries the shift that has them scheduled now (the rota store,
  edited by supervisors); one scheduled but logged out is an alert.
Each socket has its own queue and sender task, so messages to one client keep their order and a
slow client never delays another.  Times are sent as Unix seconds of the server's clock with the
server's ``now`` beside them, so pages tick waits and countdowns themselves.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog
from aiohttp import WSMsgType, web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.acd import (
    MISSED_CALLS,
    AgentState,
    AgentStateChanged,
    CallState,
    Command,
    Offer,
    StopRinging,
)
from callcenter.adapter import Adapter
from callcenter.settings import Settings
from callcenter.tickets.service import TicketService
from callcenter.web import figures
from callcenter.web.api import requires
from callcenter.web.store import call_rows, caller_history

if TYPE_CHECKING:
    from callcenter.agents.store import RotaStore
    from callcenter.workorders.services import WorkOrderService

log = structlog.get_logger(__name__)

WALLBOARD_CHECK = 0.5  # seconds between checks of the live picture when nothing was pushed
TODAY_REFRESH = 2.0  # seconds today's figures are reused
OVERDUE_REFRESH = 10.0  # seconds the list of overdue tickets is reused (a sweep's alert refreshes it at once)
OVERDUE_SHOWN = 10  # overdue tickets listed one by one; more are one "overdue_more" alert
MAX_QUEUED = 500  # messages waiting for one socket before it is dropped as too slow
REFUSED_KEPT = 50  # refused outside calls remembered for the wallboard
REFUSED_SHOWN = 5  # ... listed one by one (the last hour's), more are one "dial_refused_more" alert
REFUSED_FOR = 3600.0  # seconds a refused call stays an alert


@dataclass(eq=False)
class Client:
    """One open websocket of a logged-in user."""

    ws: web.WebSocketResponse
    user_id: int
    username: str
    role: str
    agent_id: str | None
    queue: asyncio.Queue[str] = field(default_factory=asyncio.Queue)

    @property
    def supervisor(self) -> bool:
        return self.role in ("supervisor", "admin")

    async def run_sender(self) -> None:
        """Send queued messages in order until the socket closes."""
        while True:
            text = await self.queue.get()
            if self.ws.closed:
                return
            try:
                await self.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return


class LiveHub:
    """Pushes the ACD's live state to the pages that are open."""

    def __init__(
        self,
        settings: Settings,
        adapter: Adapter,
        tickets: TicketService,
        reads: async_sessionmaker[AsyncSession],
        clock: Callable[[], float] = time.time,
        *,
        rota: RotaStore | None = None,
        work: WorkOrderService | None = None,
    ) -> None:
        self.settings = settings
        self.rota = rota
        self.work = work
        self._overdue: list[dict[str, Any]] = []
        self._overdue_at = 0.0
        self.adapter = adapter
        self.tickets = tickets
        self.reads = reads
        self.clock = clock
        self.zone = settings.hospital.zone
        self.names = {a.id: a.name for a in settings.agents}
        self.clients: set[Client] = set()
        self._dirty = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._today: dict[str, Any] = {}
        self._today_at = 0.0
        self._last_board = ""
        self._refused: deque[dict[str, Any]] = deque(maxlen=REFUSED_KEPT)  # refused outside calls, newest last

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Listen to the ACD and start the wallboard loop."""
        self.adapter.listeners.append(self.on_command)
        if self.work is not None:
            self.work.listeners.append(self.on_work_event)
        self._task = asyncio.create_task(self._wallboard_loop(), name="wallboard")

    async def close(self) -> None:
        """Stop listening and close every socket."""
        if self.on_command in self.adapter.listeners:
            self.adapter.listeners.remove(self.on_command)
        if self.work is not None and self.on_work_event in self.work.listeners:
            self.work.listeners.remove(self.on_work_event)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for client in list(self.clients):
            await client.ws.close(code=1001, message=b"server stopping")
        self.clients.clear()

    # -- sockets -------------------------------------------------------------------------------

    def register(self, client: Client) -> None:
        """A page connected: send it what it needs to draw itself now."""
        self.clients.add(client)
        log.info("web.socket_open", user=client.username, role=client.role, agent=client.agent_id, sockets=len(self.clients))
        self._send(client, {"type": "hello", "now": self.clock(), "agent_id": client.agent_id})
        if client.agent_id:
            self._send(client, self.agent_message(client.agent_id))
            agent = self.adapter.acd.agents.get(client.agent_id)
            if agent is not None and agent.call_id and agent.state in (AgentState.RINGING, AgentState.ON_CALL):
                self._pop(agent.call_id, client.agent_id, self.adapter.acd.ring_timeout, only=client)
        if client.supervisor:
            self._last_board = ""  # the newcomer needs a full board
            self._dirty.set()

    def unregister(self, client: Client) -> None:
        """A page went away."""
        self.clients.discard(client)
        log.info("web.socket_closed", user=client.username, sockets=len(self.clients))

    def disconnect_user(self, user_id: int) -> None:
        """Close every socket of a user (logout, account changed)."""
        for client in [c for c in self.clients if c.user_id == user_id]:
            asyncio.create_task(client.ws.close(code=4401, message=b"logged out"))

    def _send(self, client: Client, message: dict[str, Any]) -> None:
        if client.queue.qsize() >= MAX_QUEUED:
            log.warning("web.socket_too_slow", user=client.username)
            self.clients.discard(client)
            asyncio.create_task(client.ws.close(code=1008, message=b"too slow"))
            return
        client.queue.put_nowait(json.dumps(message, ensure_ascii=False, default=str))

    def _to_agent(self, agent_id: str, message: dict[str, Any]) -> int:
        sent = 0
        for client in self.clients:
            if client.agent_id == agent_id:
                self._send(client, message)
                sent += 1
        return sent

    # -- the ACD's commands ----------------------------------------------------------------------

    def on_command(self, command: Command) -> None:
        """Adapter listener: decide what goes out for one command (never raises)."""
        try:
            match command:
                case Offer(call_id, agent_id, timeout, _guard):
                    self._pop(call_id, agent_id, timeout)
                case StopRinging(call_id, agent_id):
                    self._to_agent(agent_id, {"type": "ring_stopped", "call_id": call_id, "now": self.clock()})
                case AgentStateChanged(agent_id, _state, _reason):
                    # The core has already moved the agent: read the full picture from it.
                    self._to_agent(agent_id, self.agent_message(agent_id))
                case _:
                    return
            self._dirty.set()
        except Exception:  # a listener must never break the ACD
            log.exception("web.listener_failed", command=type(command).__name__)

    def on_work_event(self, event: str, data: dict[str, Any]) -> None:
        """Work-order listener: a ticket went overdue (the sweep), an outside call was refused -> alerts now."""
        if event == "ticket.overdue":
            self._overdue_at = 0.0
            self._dirty.set()
        elif event == "outbound.dial_refused":  # the dialling policy (callcenter/outbound/policy.py)
            self._refused.append({**data, "when": self.clock()})
            self._dirty.set()

    def touch(self) -> None:
        """Something the wallboard shows changed outside the ACD (the rota): send it again."""
        self._dirty.set()

    def _pop(self, call_id: str, agent_id: str, timeout: float, only: Client | None = None) -> None:
        message = self.pop_message(call_id, agent_id, timeout)
        if only is not None:
            self._send(only, message)
        elif not self._to_agent(agent_id, message):
            return  # nobody has this operator's desk open
        asyncio.create_task(self._pop_details(call_id, agent_id, message.get("caller_number", ""), only))

    def pop_message(self, call_id: str, agent_id: str, timeout: float) -> dict[str, Any]:
        """The screen-pop, from memory only: it must leave within milliseconds of the offer."""
        now = self.clock()
        live = self.adapter.calls.get(call_id) or self.adapter.kept.get(call_id)
        call = self.adapter.acd.calls.get(call_id)
        return {
            "type": "pop",
            "call_id": call_id,
            "callback": call is not None and call.kept_at is not None,  # a kept place: the caller is dialled once answered
            "agent_id": agent_id,
            "caller_number": live.caller_number if live else "",
            "caller_name": live.caller_name if live else "",
            "skill": call.skill if call else None,  # the menu choice's skill: the desk's notification names it
            "arrived_at": call.arrived_at if call else None,
            "waiting_since": call.waiting_since if call else None,
            "offered_at": call.ringing.get(agent_id, now) if call else now,
            "answered_at": call.answered_at if call else None,
            "ring_timeout": timeout,
            "now": now,
        }

    async def _pop_details(self, call_id: str, agent_id: str, caller_number: str, only: Client | None) -> None:
        """The database half of the pop: the caller's earlier tickets and what they did in the menu."""
        try:
            ticket = await self.tickets.get(call_id)
            history = await caller_history(self.reads, caller_number, exclude_uniqueid=call_id)
        except Exception:
            log.exception("web.pop_details_failed", uniqueid=call_id)
            return
        details = (ticket.details or {}) if ticket else {}
        message = {
            "type": "pop_details",
            "call_id": call_id,
            "ticket_id": ticket.id if ticket else None,  # the desk's form works on it over /api/tickets
            "ivr": details.get("ivr"),
            "notes": details.get("notes"),
            "history": history,
        }
        if only is not None:
            self._send(only, message)
        else:
            self._to_agent(agent_id, message)

    # -- snapshots -----------------------------------------------------------------------------

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
        self._today_at = now
        return self._today

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

    async def wallboard(self) -> dict[str, Any]:
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
            "alerts": self.alerts(board, today, overdue),
            "target": self.settings.web.service_level_target,
            "long_wait_alert": self.settings.web.long_wait_alert,
            "now": self.clock(),
        }

    async def _wallboard_loop(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._dirty.wait(), timeout=WALLBOARD_CHECK)
            except TimeoutError:
                pass
            self._dirty.clear()
            supervisors = [c for c in self.clients if c.supervisor]
            if not supervisors:
                continue
            try:
                board = await self.wallboard()
            except Exception:
                log.exception("web.wallboard_failed")
                await asyncio.sleep(1.0)
                continue
            key = json.dumps({k: v for k, v in board.items() if k != "now"}, sort_keys=True, default=str)
            if key == self._last_board:
                continue
            self._last_board = key
            for client in supervisors:
                self._send(client, board)


@requires("operator")
async def websocket(request: web.Request) -> web.StreamResponse:
    """GET /ws: the page's live channel (the access middleware has checked session and Origin)."""
    from callcenter.web import keys as web_keys
    from callcenter.web.security import current_user

    user = current_user(request)
    hub = request.app[web_keys.HUB]
    ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=64 * 1024)
    await ws.prepare(request)
    client = Client(ws, user.id, user.username, user.role, user.agent_id)
    sender = asyncio.create_task(client.run_sender(), name=f"ws-{user.username}")
    hub.register(client)
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            try:
                data = json.loads(msg.data)
            except ValueError:
                continue
            if isinstance(data, dict) and data.get("type") == "ping":
                hub._send(client, {"type": "pong", "now": hub.clock(), "echo": data.get("t")})
    finally:
        hub.unregister(client)
        sender.cancel()
        await asyncio.gather(sender, return_exceptions=True)
    return ws
