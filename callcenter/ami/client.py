"""Our small AMI client over panoramisk's Manager.

panoramisk frames AMI and matches replies by ActionID; this wrapper adds what it lacks (see
docs/architecture.md, "Asterisk configuration and the libraries we lean on"):
- every action has a timeout (an ``as_list`` action answered with an error never completes);
- a watchdog pings and drops a half-open connection so panoramisk reconnects;
- every event goes into one ``asyncio.Queue`` consumed by a single task, in order, so a handler's
  exception is logged and never reaches panoramisk's ``data_received`` (where it would drop the
  connection);
- connection state changes are logged once each: ``ami.disconnected`` when AMI stops answering
  (the socket closed, or a ping went unanswered), ``ami.reconnected`` with the outage's length
  (``outage_s``) when a ping is answered again (``ami.connected`` the first time); panoramisk's own
  connection chatter ("Not able to reconnect" every second of an outage) is silenced;
- ``responsive``: logged in *and* a ping answered within the watchdog interval (a server that
  accepts the login and then answers nothing is not "connected" for the health endpoint);
- ``callcenter_ami_reconnects_total`` (Prometheus, in the registry the app hands over) counts the
  outages that ended, where ``ami.reconnected`` is logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from panoramisk import Manager
from panoramisk.message import Message
from prometheus_client import CollectorRegistry, Counter

from callcenter.exceptions import AmiError
from callcenter.settings import AmiSettings

log = structlog.get_logger(__name__)

EventHandler = Callable[[Message], Awaitable[None] | None]
LoginHook = Callable[[], Awaitable[None]]

# panoramisk's connection messages: said once per outage by us instead (ami.disconnected / ami.reconnected).
_CHATTER = ("Not able to reconnect", "Not able to connect", "Connection lost", "Try to connect again")


class _QuietReconnects(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(_CHATTER)


_panoramisk_log = logging.getLogger("panoramisk.manager")
_panoramisk_log.addFilter(_QuietReconnects())


class AmiClient:
    """One AMI connection that reconnects by itself; events are handled in arrival order."""

    def __init__(self, settings: AmiSettings, registry: CollectorRegistry | None = None) -> None:
        self.settings = settings
        self._reconnects = Counter("callcenter_ami_reconnects", "AMI outages that ended: answering again after a loss",
                                   registry=registry)  # None: counted, not exported
        self.handlers: dict[str, list[EventHandler]] = {}
        self.login_hooks: list[LoginHook] = []
        self.disconnect_hooks: list[Callable[[], None]] = []
        self.connected = False  # logged in (the watchdog drops a connection whose pings go unanswered)
        self.last_error: str | None = None
        self.connected_since: float | None = None
        self.last_pong: float | None = None  # time.monotonic() of the last answered ping on this connection
        self.outages = 0  # outages seen since start (each logged once)
        self._outage_since: float | None = time.monotonic()  # not answering since (None: answering)
        self._ever_up = False
        self._ping_now = asyncio.Event()
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
            log=_panoramisk_log,
        )
        self._manager.register_event("*", self._enqueue)
        self._manager.connect()
        self._tasks = [
            asyncio.create_task(self._consume(), name="ami-events"),
            asyncio.create_task(self._watchdog(), name="ami-watchdog"),
        ]

    async def close(self) -> None:
        self.silence()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def silence(self) -> None:
        """Stop now, without an await: no action leaves from here on and nothing reconnects.

        For shutting down, and for a controller that lost the lead (callcenter.ha), which must not
        send one more action.  panoramisk reconnects after any lost connection, its own close()
        included, unless its ``connect`` is disarmed first.
        """
        for task in self._tasks:
            task.cancel()
        if self._manager is not None:
            self._manager.connect = lambda *_args, **_kwargs: None  # type: ignore[method-assign]
            self._manager.authenticated = False  # action() refuses from here on
            transport = getattr(self._manager.protocol, "transport", None)
            if transport is not None:
                transport.abort()
            self._manager.close()  # its pinger too
        self.connected = False

    @property
    def responsive(self) -> bool:
        """Logged in and a ping answered within the watchdog interval: what /health calls connected."""
        return (self.connected and self.last_pong is not None
                and time.monotonic() - self.last_pong <= 2 * self.settings.ping_interval)

    @property
    def last_pong_age(self) -> float | None:
        """Seconds since the last answered ping on this connection (None: none yet)."""
        return None if self.last_pong is None else time.monotonic() - self.last_pong

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
        """Run an Asterisk CLI command over AMI and return its output.

        Needs the write class ``command``, which the controller's own account does not have (any CLI
        command could run): for an account of a tool or a test, not for the controller.
        """
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
        log.debug("ami.logged_in", host=self.settings.host, port=self.settings.port)
        self._ping_now.set()  # responsive once this connection answers a ping, at once
        for hook in self.login_hooks:
            asyncio.create_task(self._run_hook(hook))

    def _answered(self) -> None:
        """A ping was answered: the end of an outage, if one was running (said once, with its length)."""
        self.last_pong = time.monotonic()
        if self._outage_since is None:
            return
        outage, self._outage_since = self.last_pong - self._outage_since, None
        if self._ever_up:
            self._reconnects.inc()
            log.info("ami.reconnected", host=self.settings.host, port=self.settings.port, outage_s=round(outage, 1))
        else:
            log.info("ami.connected", host=self.settings.host, port=self.settings.port)
        self._ever_up = True

    def _outage(self, reason: str) -> None:
        """AMI stopped answering: the start of an outage (said once, however many reconnects it takes)."""
        self.last_pong = None
        if self._outage_since is not None:
            return
        self._outage_since = time.monotonic()
        self.outages += 1
        log.warning("ami.disconnected", reason=reason, reconnect_in=self.settings.reconnect_delay)

    async def _run_hook(self, hook: LoginHook) -> None:
        try:
            await hook()
        except Exception:
            log.exception("ami.login_hook_failed", hook=getattr(hook, "__qualname__", repr(hook)))

    def _on_disconnect(self, _manager: Manager, exc: Exception | None) -> None:
        was_connected = self.connected
        self._outage(str(exc) if exc else "closed")
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
        """Ping while connected (at once after a login); a ping with no answer means a half-open socket: drop it."""
        while True:
            try:
                await asyncio.wait_for(self._ping_now.wait(), self.settings.ping_interval)
            except TimeoutError:
                pass
            self._ping_now.clear()
            manager = self._manager
            if not self._ever_up and not self.connected and self.outages == 0 and self._outage_since is not None:
                self.outages = 1  # AMI was not there at start: said once, like any outage
                log.warning("ami.disconnected", reason=self.last_error or "not reachable yet",
                            host=self.settings.host, port=self.settings.port)
            if manager is None or manager.protocol is None:
                continue
            if not manager.authenticated:
                if not self.connected and manager._connected:  # TCP up but login refused
                    self.last_error = "login failed (check ami.username / ami.secret)"
                continue
            try:
                await self.action({"Action": "Ping"}, timeout=self.settings.ping_interval)
                self._answered()
            except AmiError as err:
                log.debug("ami.watchdog_reset", reason=str(err))
                self._outage(f"ping unanswered: {err}")
                self.last_error = "AMI answered no ping (connection dropped and re-opened)"
                if self.connected:
                    self.connected = False
                    self._lost()
                manager.authenticated = False
                transport = getattr(manager.protocol, "transport", None)
                if transport is not None:
                    transport.abort()  # panoramisk sees connection_lost and reconnects
