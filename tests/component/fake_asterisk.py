"""A scripted Asterisk for component tests: an AMI server and FastAGI sessions on real sockets.

``FakeAsterisk`` speaks enough AMI for the adapter (Login, Ping, CoreStatus, CoreShowChannels,
DeviceStateList, Hangup, Originate) and plays Asterisk's side of FastAGI (``AgiCall``): the
caller's ``hotline`` session and the agent's ``agent`` session.  Nothing happens by itself: an
Originate is answered "successfully queued" and then the test decides what the phone does
(``ring``, ``answer``, ``fail``), or sets ``on_originate`` to script every ring the same way.

Async Originate as panoramisk 1.4 collects it: the reply "Originate successfully queued" makes the
action a multi-message one; the ``OriginateResponse`` event carrying the same ActionID (with a
``Response`` header) completes it, and the adapter gets ``[reply, OriginateResponse]``.  A reply
``Response: Error`` completes it at once (``AmiClient.action`` raises ``AmiError``).
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

EOL = "\r\n"
STARTED = ("2025-03-10", "09:00:00")


def _frame(headers: dict[str, Any]) -> bytes:
    return (EOL.join(f"{k}: {v}" for k, v in headers.items()) + EOL + EOL).encode()


@dataclass
class Originate:
    """One Originate the controller sent: the agent's leg (its Uniqueid is the ChannelId sent)."""

    action_id: str
    leg_id: str
    agent: str
    call_id: str
    at: float
    writer: asyncio.StreamWriter
    channel: str | None = None  # the leg's channel name once it exists (``ring``)
    answered: bool = False
    responded: bool = False  # OriginateResponse sent


@dataclass
class Sent:
    """One AMI action the controller sent, and when."""

    at: float
    action: dict[str, str]
    login: int  # which AMI connection (1: the first login)

    @property
    def name(self) -> str:
        return self.action.get("action", "").lower()


class FakeAsterisk:
    """The AMI side: accepts the controller's connection, answers actions, emits events on demand."""

    def __init__(self) -> None:
        self.devices: dict[str, str] = {}  # agent id -> device state reported by DeviceStateList
        self.channels: dict[str, dict[str, str]] = {}  # uniqueid -> CoreShowChannel fields
        self.started = STARTED  # CoreStatus startup date and time: changing it says "Asterisk restarted"
        self.originate_reply = "queued"  # or "error": Response: Error
        self.on_originate: Callable[[Originate], Any] | None = None  # scripts every ring
        self.after_channel_list: Callable[[], Any] | None = None  # runs once CoreShowChannels has answered
        self.accepting = True  # False: new AMI connections are closed at once (an outage)
        self.sent: list[Sent] = []
        self.originates: list[Originate] = []
        self.logins = 0
        self.writer: asyncio.StreamWriter | None = None
        self.agi_port = 0
        self.calls: list[AgiCall] = []  # every FastAGI session opened
        self._seq = itertools.count(1)
        self._server: asyncio.base_events.Server | None = None
        self._conns: set[asyncio.Task] = set()

    async def start(self, port: int) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for call in self.calls:
            call.close()
        if self.writer is not None:
            self.writer.close()
        for task in list(self._conns):
            task.cancel()
        await asyncio.gather(*self._conns, return_exceptions=True)

    # -- AMI --------------------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.accepting:
            writer.close()
            return
        task = asyncio.current_task()
        self._conns.add(task)
        self.writer = writer
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        buffer = b""
        login = 0
        try:
            while chunk := await reader.read(65536):
                buffer += chunk
                while b"\r\n\r\n" in buffer:
                    message, buffer = buffer.split(b"\r\n\r\n", 1)
                    action = {}
                    for line in message.decode().split("\r\n"):
                        name, _, value = line.partition(": ")
                        action[name.strip().lower()] = value.strip()
                    if action.get("action", "").lower() == "login":
                        self.logins += 1
                        login = self.logins
                    self.sent.append(Sent(time.time(), action, login))
                    self._answer(action, writer)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._conns.discard(task)
            writer.close()

    def _answer(self, action: dict[str, str], writer: asyncio.StreamWriter) -> None:
        name, aid = action.get("action", "").lower(), action.get("actionid", "")
        ok = {"Response": "Success", "ActionID": aid}
        if name == "login":
            writer.write(_frame({**ok, "Message": "Authentication accepted"}))
            writer.write(_frame({"Event": "FullyBooted", "Privilege": "system,all", "Status": "Fully Booted"}))
        elif name == "ping":
            writer.write(_frame({**ok, "Ping": "Pong", "Timestamp": f"{time.time():.6f}"}))
        elif name == "corestatus":
            date, clock = self.started
            writer.write(_frame({**ok, "CoreStartupDate": date, "CoreStartupTime": clock, "CoreReloadDate": date,
                                 "CoreReloadTime": clock, "CoreCurrentCalls": str(len(self.channels))}))
        elif name == "coreshowchannels":
            writer.write(_frame({**ok, "EventList": "start", "Message": "Channels will follow"}))
            for uniqueid, fields in self.channels.items():
                writer.write(_frame({"Event": "CoreShowChannel", "ActionID": aid, "Uniqueid": uniqueid, **fields}))
            writer.write(_frame({"Event": "CoreShowChannelsComplete", "ActionID": aid, "EventList": "Complete",
                                 "ListItems": str(len(self.channels))}))
            if self.after_channel_list is not None:
                self.after_channel_list()
        elif name == "devicestatelist":
            writer.write(_frame({**ok, "EventList": "start", "Message": "Device State Changes will follow"}))
            for agent, state in self.devices.items():
                writer.write(_frame({"Event": "DeviceStateChange", "ActionID": aid, "Device": f"PJSIP/{agent}", "State": state}))
            writer.write(_frame({"Event": "DeviceStateListComplete", "ActionID": aid, "EventList": "Complete",
                                 "ListItems": str(len(self.devices))}))
        elif name == "hangup":
            uniqueid = next((u for u, f in self.channels.items() if f.get("Channel") == action.get("channel")), None)
            if uniqueid is None:
                writer.write(_frame({"Response": "Error", "ActionID": aid, "Message": "No such channel"}))
            else:
                writer.write(_frame({**ok, "Message": "Channel Hungup"}))
                self.hang_up(uniqueid)
        elif name == "originate":
            self._originate(action, writer)
        else:
            writer.write(_frame(ok))

    def _originate(self, action: dict[str, str], writer: asyncio.StreamWriter) -> None:
        aid = action.get("actionid", "")
        if self.originate_reply == "error":
            writer.write(_frame({"Response": "Error", "ActionID": aid, "Message": "Originate failed"}))
            return
        writer.write(_frame({"Response": "Success", "ActionID": aid, "Message": "Originate successfully queued"}))
        variables = dict(v.split("=", 1) for v in re.split(r"[,|]", action.get("variable", "")) if "=" in v)
        o = Originate(aid, action.get("channelid", ""), action.get("channel", "").removeprefix("PJSIP/"),
                      variables.get("HOTLINE_CALL", ""), time.time(), writer)
        self.originates.append(o)
        if self.on_originate is not None:
            result = self.on_originate(o)
            if asyncio.iscoroutine(result):
                asyncio.get_running_loop().create_task(result)

    def event(self, name: str, **headers: str) -> None:
        """Send an event on the current AMI connection (lost if there is none)."""
        if self.writer is not None and not self.writer.is_closing():
            self.writer.write(_frame({"Event": name, **headers}))

    def drop(self) -> None:
        """Close the controller's AMI connection (it reconnects unless ``accepting`` is False)."""
        if self.writer is not None:
            self.writer.close()

    def actions(self, name: str, login: int | None = None) -> list[Sent]:
        return [s for s in self.sent if s.name == name.lower() and (login is None or s.login == login)]

    # -- the agent's phone ------------------------------------------------------------------------

    def ring(self, o: Originate, state: str = "5") -> None:
        """The leg exists and the phone rings (``state`` 6: answered at once)."""
        o.channel = f"PJSIP/{o.agent}-{next(self._seq):08x}"
        self.channels[o.leg_id] = {"Channel": o.channel, "ChannelState": state, "ChannelStateDesc": "Ringing",
                                   "Context": "hotline-agent", "Exten": "s", "Linkedid": o.leg_id, "BridgeId": ""}
        self.event("Newchannel", Channel=o.channel, Uniqueid=o.leg_id, ChannelState="0", ChannelStateDesc="Down",
                   Context="hotline-agent", Exten="s", Linkedid=o.leg_id)
        self.event("Newstate", Channel=o.channel, Uniqueid=o.leg_id, ChannelState=state,
                   ChannelStateDesc="Up" if state == "6" else "Ringing")

    async def answer(self, o: Originate, session: bool = True) -> AgiCall | None:
        """The agent picks up: Newstate Up, OriginateResponse Success and (``session``) the leg's FastAGI session."""
        if o.channel is None:
            self.ring(o)
        o.answered = True
        self.channels[o.leg_id].update(ChannelState="6", ChannelStateDesc="Up")
        self.event("Newstate", Channel=o.channel, Uniqueid=o.leg_id, ChannelState="6", ChannelStateDesc="Up")
        self.respond(o, "Success", "4")
        return await self.agent_session(o) if session else None

    async def agent_session(self, o: Originate) -> AgiCall:
        """The agent's leg enters ``[hotline-agent]`` and opens its FastAGI session."""
        return await self.open_agi("agent", o.leg_id, o.channel or f"PJSIP/{o.agent}-dead", callerid=o.agent,
                                   replies={"GET VARIABLE HOTLINE_CALL": f"200 result=1 ({o.call_id})"})

    def fail(self, o: Originate, reason: str) -> None:
        """The ring ends unanswered: OriginateResponse Failure with ``reason`` (the leg's channel, if any, hangs up)."""
        if o.leg_id in self.channels:
            self.hang_up(o.leg_id, reason=reason)
        else:
            self.respond(o, "Failure", reason)

    def respond(self, o: Originate, response: str, reason: str) -> None:
        if o.responded:
            return
        o.responded = True
        if not o.writer.is_closing():
            o.writer.write(_frame({"Event": "OriginateResponse", "ActionID": o.action_id, "Response": response,
                                   "Channel": o.channel or f"PJSIP/{o.agent}", "Context": "hotline-agent", "Exten": "s",
                                   "Reason": reason, "Uniqueid": o.leg_id if o.channel else "<null>",
                                   "CallerIDNum": "<unknown>", "CallerIDName": "<unknown>"}))

    def hang_up(self, uniqueid: str, reason: str = "1") -> None:
        """The channel hangs up: Hangup event; an unanswered Originate fails; its FastAGI session hears HANGUP."""
        fields = self.channels.pop(uniqueid, None)
        if fields is None:
            return
        self.event("Hangup", Channel=fields["Channel"], Uniqueid=uniqueid, Cause="16", **{"Cause-txt": "Normal Clearing"})
        for o in self.originates:
            if o.leg_id == uniqueid and not o.answered:
                self.respond(o, "Failure", reason)
        for call in self.calls:
            if call.channel == fields["Channel"]:
                call.hangup()

    def originates_to(self, agent: str) -> list[Originate]:
        return [o for o in self.originates if o.agent == agent]

    # -- FastAGI ----------------------------------------------------------------------------------

    async def open_agi(self, script: str, uniqueid: str, channel: str, callerid: str = "13800138000",
                       name: str = "张三", replies: dict[str, str] | None = None) -> AgiCall:
        call = AgiCall(self, script, uniqueid, channel, callerid, name, dict(replies or {}))
        self.calls.append(call)
        await call.open(self.agi_port)
        return call

    def session_on(self, channel: str) -> AgiCall | None:
        return next((c for c in self.calls if c.channel == channel and not c.closed.is_set()), None)


@dataclass
class AgiCall:
    """Asterisk's side of one FastAGI session: answers each command, can hang up or close."""

    fake: FakeAsterisk
    script: str
    uniqueid: str
    channel: str
    callerid: str
    name: str
    replies: dict[str, str]  # command prefix -> reply line, or "HANGUP" / "CLOSE"
    commands: list[str] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)  # the socket is closed (either side)
    hung_up: bool = False  # this side hung up (HANGUP sent or socket closed)
    bridge_result: str = ""
    _bridge: asyncio.Future | None = None
    _writer: asyncio.StreamWriter | None = None
    _task: asyncio.Task | None = None

    async def open(self, port: int) -> None:
        reader, self._writer = await asyncio.open_connection("127.0.0.1", port)
        headers = {
            "agi_network": "yes", "agi_network_script": self.script, "agi_request": f"agi://127.0.0.1/{self.script}",
            "agi_channel": self.channel, "agi_uniqueid": self.uniqueid, "agi_callerid": self.callerid,
            "agi_calleridname": self.name, "agi_context": "hotline", "agi_extension": "12320",
        }
        self._writer.write(("".join(f"{k}: {v}\n" for k, v in headers.items()) + "\n").encode())
        self._task = asyncio.get_running_loop().create_task(self._serve(reader))

    async def _serve(self, reader: asyncio.StreamReader) -> None:
        try:
            while line := await reader.readline():
                command = line.decode().rstrip("\r\n")
                self.commands.append(command)
                reply = await self._reply(command)
                if reply is None or self.hung_up:
                    continue
                self._writer.write(f"{reply}\n".encode())
                await self._writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._writer.close()
            self.closed.set()

    async def _reply(self, command: str) -> str | None:
        for prefix, reply in self.replies.items():
            if command.startswith(prefix):
                if reply == "HANGUP":
                    self.hangup()
                    return None
                if reply == "CLOSE":
                    self.close()
                    return None
                return reply
        if command.startswith("EXEC Bridge"):
            target = command.split(" ", 2)[2].strip('"')
            agent = self.fake.session_on(target)
            if agent is None:
                self.bridge_result = "NONEXISTENT"
                return "200 result=0"
            agent.hangup()  # Bridge takes the agent's channel out of its AGI session
            self.bridge_result = "SUCCESS"
            self._bridge = asyncio.get_running_loop().create_future()
            return await self._bridge  # until the agent (``end_bridge``) or the caller (``hangup``) hangs up
        if command == "GET VARIABLE BRIDGERESULT":
            return f"200 result=1 ({self.bridge_result})" if self.bridge_result else "200 result=0"
        if command == "HANGUP":  # the controller hangs the channel up
            self.fake.hang_up(self.uniqueid)
            return "200 result=1"
        return "200 result=0"

    def end_bridge(self) -> None:
        """The agent hung up: the caller's Bridge returns and the dialplan goes on."""
        assert self._bridge is not None and not self._bridge.done(), "not bridged"
        self._bridge.set_result("200 result=0")

    @property
    def bridging(self) -> bool:
        return self._bridge is not None and not self._bridge.done()

    def hangup(self) -> None:
        """The channel hangs up: Asterisk writes HANGUP and closes the session."""
        if self.hung_up or self.closed.is_set():
            return
        self.hung_up = True
        self._writer.write(b"HANGUP\n")
        self._writer.close()
        if self._bridge is not None and not self._bridge.done():
            self._bridge.set_result(None)

    def close(self) -> None:
        """The socket closes without a word."""
        if self._writer is not None and not self.closed.is_set():
            self.hung_up = True
            self._writer.close()
        if self._bridge is not None and not self._bridge.done():
            self._bridge.set_result(None)

    def saw(self, prefix: str) -> bool:
        return any(c.startswith(prefix) for c in self.commands)
