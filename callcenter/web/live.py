"""Live pushes over websockets: the operator's screen-pop and state, the supervisor's wallboard.

Theory of operation
-------------------
The hub is one of the ACD adapter's listeners: it receives every command the core emits, in the
core's own call stack, and must never block or raise there.  It decides *what* goes out and to whom;
what the messages hold (an operator's state, the wallboard) is ``callcenter.web.wallboard``'s:
- ``Offer`` (an operator's phone starts ringing) -> a ``pop`` to that operator's sockets at once,
  built from memory only (caller number, name, the menu's skill, arrival and wait times); the slower facts from
  the database (the caller's earlier tickets, the menu path) follow as ``pop_details``.
- ``StopRinging`` -> ``ring_stopped`` to that operator; ``AgentStateChanged`` -> ``agent``.
- Any of them marks the wallboard dirty; a loop sends supervisors a new ``wallboard`` when the
  live picture changed (also checked every ``WALLBOARD_CHECK`` seconds, for arrivals and hang-ups
  that emit no command).  A work-order event the wallboard shows (a ticket gone overdue in the
  sweep, a refused outside call: ``WorkOrderService.listeners``) marks it dirty too.
- A ticket that climbed the overdue ladder or a new callback task (``TODO_EVENTS``) -> ``todo`` to
  every operator's desk, whose to-do panel then fetches its own list.
Each socket has its own queue and sender task, so messages to one client keep their order and a
slow client never delays another.  Times are sent as Unix seconds of the server's clock with the
server's ``now`` beside them, so pages tick waits and countdowns themselves.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog
from aiohttp import WSMsgType, web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.acd import AgentState, AgentStateChanged, Command, Offer, StopRinging
from callcenter.adapter import Adapter
from callcenter.tickets.service import TicketService
from callcenter.web.api import requires
from callcenter.web import trend
from callcenter.web.store import caller_history
from callcenter.web.wallboard import Wallboard

if TYPE_CHECKING:
    from callcenter.workorders.service import WorkOrderService

log = structlog.get_logger(__name__)

WALLBOARD_CHECK = 0.5  # seconds between checks of the live picture when nothing was pushed
MAX_QUEUED = 500  # messages waiting for one socket before it is dropped as too slow
TODO_EVENTS = ("ticket.ladder", "callback.task_created")  # work-order events that change a to-do panel


@dataclass(eq=False)
class Client:
    """One open websocket of a logged-in user."""

    ws: web.WebSocketResponse
    user_id: int
    username: str
    role: str
    agent_id: str | None
    queue: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    wallscreen: bool = False  # the wall screen's socket (/ws/screen): only the ``wallscreen`` message

    @property
    def supervisor(self) -> bool:
        return self.role in ("supervisor", "admin") and not self.wallscreen

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
        adapter: Adapter,
        board: Wallboard,
        tickets: TicketService,
        reads: async_sessionmaker[AsyncSession],
        clock: Callable[[], float] = time.time,
        *,
        work: WorkOrderService | None = None,
    ) -> None:
        self.adapter = adapter
        self.board = board  # what an operator's state and the wallboard say
        self.tickets = tickets
        self.reads = reads
        self.clock = clock
        self.work = work
        self.clients: set[Client] = set()
        self._dirty = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_board = ""
        self._last_screen = ""
        self._unboarded: set[Client] = set()  # supervisors' sockets that have not had a board yet

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
        if client.wallscreen:
            self._unboarded.add(client)
            self._dirty.set()
            return
        if client.agent_id:
            self._send(client, self.board.agent_message(client.agent_id))
            agent = self.adapter.acd.agents.get(client.agent_id)
            if agent is not None and agent.call_id and agent.state in (AgentState.RINGING, AgentState.ON_CALL):
                self._pop(agent.call_id, client.agent_id, self.adapter.acd.ring_timeout, only=client)
        if client.supervisor:
            self._unboarded.add(client)  # the newcomer needs a full board, even an unchanged one
            self._dirty.set()

    def unregister(self, client: Client) -> None:
        """A page went away."""
        self.clients.discard(client)
        self._unboarded.discard(client)
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

    def to_agent(self, agent_id: str, message: dict[str, Any]) -> int:
        """Send ``message`` to that operator's open pages (e.g. ``supervision``); how many got it."""
        return self._to_agent(agent_id, message)

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
                    self._to_agent(agent_id, self.board.agent_message(agent_id))
                case _:
                    return
            self._dirty.set()
        except Exception:  # a listener must never break the ACD
            log.exception("web.listener_failed", command=type(command).__name__)

    def on_work_event(self, event: str, data: dict[str, Any]) -> None:
        """Work-order listener: a ticket went overdue (the sweep), an outside call was refused -> alerts now;
        a ticket climbed the ladder, a callback task was made -> the operators' to-do panels fetch theirs."""
        if event in TODO_EVENTS:
            message = {"type": "todo", "event": event, "ticket_id": data.get("ticket_id", data.get("id")),
                       "now": self.clock()}
            for client in self.clients:
                if client.agent_id:
                    self._send(client, message)
        if self.board.note(event, data):
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

    async def _wallboard_loop(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._dirty.wait(), timeout=WALLBOARD_CHECK)
            except TimeoutError:
                pass
            self._dirty.clear()
            self.board.sample()  # callers waiting, for the last hour's chart (whether anybody looks or not)
            supervisors = [c for c in self.clients if c.supervisor or c.wallscreen]
            if not supervisors:
                continue
            try:
                board = await self.board.snapshot()
            except Exception:
                log.exception("web.wallboard_failed")
                await asyncio.sleep(1.0)
                continue
            screen = trend.screen(board)
            for message, last, which in ((board, "_last_board", "supervisor"), (screen, "_last_screen", "wallscreen")):
                key = json.dumps({k: v for k, v in message.items() if k != "now"}, sort_keys=True, default=str)
                # Who is connected now: a page may have opened (or closed) while the board was computed.
                clients = [c for c in self.clients if getattr(c, which)]
                if key == getattr(self, last):
                    clients = [c for c in clients if c in self._unboarded]
                setattr(self, last, key)
                self._unboarded.difference_update(clients)
                for client in clients:
                    self._send(client, message)


@requires("operator")
async def websocket(request: web.Request) -> web.StreamResponse:
    """GET /ws: the page's live channel (the access middleware has checked session and Origin)."""
    return await _serve(request, wallscreen=False)


@requires("screen")
async def screen_websocket(request: web.Request) -> web.StreamResponse:
    """GET /ws/screen: the wall screen's live channel, read-only (only pings are answered)."""
    return await _serve(request, wallscreen=True)


async def _serve(request: web.Request, wallscreen: bool) -> web.StreamResponse:
    from callcenter.web import keys as web_keys
    from callcenter.web.security import current_user

    user = current_user(request)
    hub = request.app[web_keys.HUB]
    ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=64 * 1024)
    await ws.prepare(request)
    client = Client(ws, user.id, user.username, user.role, None if wallscreen else user.agent_id, wallscreen=wallscreen)
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
