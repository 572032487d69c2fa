"""Our small AMI client over panoramisk's Manager.

panoramisk frames AMI and matches replies by ActionID; this wrapper adds what it lacks (see
DESIGN.md, "Known behaviour of the chosen libraries"):
- every action has a timeout (an ``as_list`` action answered with an error never completes);
- a watchdog pings and drops a half-open connection so panoramisk reconnects;
- every event goes into one ``asyncio.Queue`` consumed by a single task, in order, so a handler's
  exception is logged and never reaches panoramisk's ``data_received`` (where it would drop the
  connection);
- connection state changes are logged (``ami.connected``, ``ami.disconnected``) and exposed for
  the health endpoint.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from panoramisk import Manager
from panoramisk.message import Message

from callcenter.exceptions import AmiError
from callcenter.settings import AmiSettings

log = structlog.get_logger(__name__)

EventHandler = Callable[[Message], Awaitable[None] | None]
LoginHook = Callable[[], Awaitable[None]]


class AmiClient:
    """One AMI connection that reconnects by itself; events are handled in arrival order."""

    def __init__(self, settings: AmiSettings) -> None:
        self.settings = settings
        self.handlers: dict[str, list[EventHandler]] = {}
        self.login_hooks: list[LoginHook] = []
        self.disconnect_hooks: list[Callable[[], None]] = []
        self.connected = False  # logged in and answering pings
        self.last_error: str | None = None
        self.connected_since: float | None = None
        self._events: asyncio.Queue[Message] = asyncio.Queue()
        self._tasks: list[asyncio.Task] = []
        self._manager: Manager | None = None

    # -- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start connecting; returns at once (the connection comes up and recovers by itself)."""
        loop = asyncio.get_running_loop()
        self._manager = Manager(
            loop=loop,
            host=self.settings.host,
            port=self.settings.port,
            username=self.settings.username,
            secret=self.settings.secret,
            # panoramisk's own ping never checks the reply: push it out of the way, we watch.
            ping_delay=10**9,
            ping_interval=10**9,
            reconnect_timeout=max(1, int(self.settings.reconnect_delay)),
            on_login=self._on_login,
            on_disconnect=self._on_disconnect,
        )
        self._manager.register_event("*", self._enqueue)
        self._manager.connect()
        self._tasks = [
            asyncio.create_task(self._consume(), name="ami-events"),
            asyncio.create_task(self._watchdog(), name="ami-watchdog"),
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._manager is not None:
            self._manager.close()
        self.connected = False

    async def wait_connected(self, timeout: float) -> bool:
        """Wait until logged in, at most ``timeout`` seconds; True if connected."""
        deadline = time.monotonic() + timeout
        while not self.connected and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return self.connected

    # -- subscriptions ----------------------------------------------------------------------------

    def on(self, event_name: str, handler: EventHandler) -> None:
        """Call ``handler(event)`` for every AMI event of that name (case-insensitive)."""
        self.handlers.setdefault(event_name.lower(), []).append(handler)

    def on_login(self, hook: LoginHook) -> None:
        """Run ``hook()`` after every successful login (first connect and each reconnect)."""
        self.login_hooks.append(hook)

    def on_disconnect(self, hook: Callable[[], None]) -> None:
        """Call ``hook()`` each time the connection is lost (dropped, or reset by the watchdog)."""
        self.disconnect_hooks.append(hook)

    def _lost(self) -> None:
        self._drop_awaiting()
        for hook in self.disconnect_hooks:
            try:
                hook()
            except Exception:
                log.exception("ami.disconnect_hook_failed", hook=getattr(hook, "__qualname__", repr(hook)))

    def _drop_awaiting(self) -> None:
        """Fail the actions the lost connection left unanswered instead of letting panoramisk re-send them.

        panoramisk re-sends them after the next FullyBooted: an Originate the controller has long
        withdrawn would ring a phone for nobody.  Their callers get ``ami.down`` now.
        """
        manager = self._manager
        while manager is not None and manager.awaiting_actions:
            action = manager.awaiting_actions.popleft()
            future = getattr(action, "future", None)
            if future is not None and not future.done():
                future.set_exception(ConnectionError("AMI connection lost"))

    # -- actions ----------------------------------------------------------------------------------

    async def action(self, action: dict[str, Any], *, as_list: bool | None = None, timeout: float | None = None) -> Any:
        """Send one action and return its reply (a Message, or a list for list actions)."""
        if self._manager is None or self._manager.protocol is None or not self._manager.authenticated:
            raise AmiError("ami.down", f"AMI not connected; cannot send {action.get('Action')}")
        future = self._manager.send_action(dict(action), as_list=as_list)
        try:
            reply = await asyncio.wait_for(asyncio.shield(future), timeout or self.settings.action_timeout)
        except asyncio.TimeoutError as err:
            future.cancel()
            raise AmiError("ami.timeout", f"AMI action {action.get('Action')} got no reply") from err
        except ConnectionError as err:
            raise AmiError("ami.down", f"AMI connection lost during {action.get('Action')}") from err
        first = reply[0] if isinstance(reply, list) and reply else reply
        if isinstance(first, Message) and first.get("Response") == "Error":
            raise AmiError("ami.error", f"AMI action {action.get('Action')} failed: {first.get('Message')}")
        return reply

    async def command(self, cli_command: str) -> str:
        """Run an Asterisk CLI command over AMI and return its output."""
        reply = await self.action({"Action": "Command", "Command": cli_command})
        output = reply.get("Output", "") if isinstance(reply, Message) else ""
        return "\n".join(output) if isinstance(output, list) else str(output or reply.content)

    # -- internals --------------------------------------------------------------------------------

    def _enqueue(self, _manager: Manager, event: Message) -> None:
        self._events.put_nowait(event)

    async def _consume(self) -> None:
        while True:
            event = await self._events.get()
            name = event.get("Event", "")
            for handler in self.handlers.get(name.lower() if isinstance(name, str) else "", []):
                try:
                    result = handler(event)
                    if result is not None:
                        await result
                except Exception:
                    log.exception("ami.handler_failed", ami_event=event.get("Event"), uniqueid=event.get("Uniqueid"))

    def _on_login(self, _manager: Manager) -> None:
        self.connected = True
        self.connected_since = time.time()
        self.last_error = None
        log.info("ami.connected", host=self.settings.host, port=self.settings.port)
        for hook in self.login_hooks:
            asyncio.create_task(self._run_hook(hook))

    async def _run_hook(self, hook: LoginHook) -> None:
        try:
            await hook()
        except Exception:
            log.exception("ami.login_hook_failed", hook=getattr(hook, "__qualname__", repr(hook)))

    def _on_disconnect(self, _manager: Manager, exc: Exception | None) -> None:
        was_connected = self.connected
        if self.connected:
            log.warning("ami.disconnected", reason=str(exc) if exc else "closed", reconnect_in=self.settings.reconnect_delay)
        self.connected = False
        if self._manager is not None:
            self._manager.authenticated = False  # panoramisk keeps it set: actions would go to a dead socket
        if was_connected:
            self._lost()
        else:
            self._drop_awaiting()  # the watchdog reported the loss; the socket's actions fail now
        self.connected_since = None
        self.last_error = str(exc) if exc else "disconnected"

    async def _watchdog(self) -> None:
        """Ping while connected; a ping with no answer means a half-open socket: drop it."""
        while True:
            await asyncio.sleep(self.settings.ping_interval)
            manager = self._manager
            if manager is None or manager.protocol is None:
                continue
            if not manager.authenticated:
                if not self.connected and manager._connected:  # TCP up but login refused
                    self.last_error = "login failed (check ami.username / ami.secret)"
                continue
            try:
                await self.action({"Action": "Ping"}, timeout=self.settings.ping_interval)
            except AmiError as err:
                log.warning("ami.watchdog_reset", reason=str(err))
                if self.connected:
                    self.connected = False
                    self._lost()
                manager.authenticated = False
                transport = getattr(manager.protocol, "transport", None)
                if transport is not None:
                    transport.abort()  # panoramisk sees connection_lost and reconnects
