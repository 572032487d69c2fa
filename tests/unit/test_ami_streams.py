"""Bad input to the AMI side changes nothing and raises nothing (property tests over generated AMI streams).

A real ``Adapter`` (stub AMI with canned replies, stub ticket service, a frozen clock) is brought to
a known good state through its own paths: ``on_login`` reads the device states (four operators,
1003 busy on a private call) and adopts a call bridged to 1004; a caller waits and the core's
``Offer`` makes ``_ring`` register a leg ringing at 1001 or 1002.  Then generated streams of
panoramisk ``Message`` events are fed in the order the AMI client would (one at a time, each
handler awaited):

- no handler raises, and no task a handler started fails;
- ``adapter.violations()`` (the core's ``violations(now)`` plus the adapter's legs and sessions)
  stays empty after every event;
- events about unknown channels, devices or agents, events of types the adapter does not follow,
  and events missing the field that would matter change nothing at all (snapshot of the core,
  legs, live calls, adopted calls, commands, AMI actions and ticket writes before and after);
- a duplicate is idempotent: an event applied twice (at once, or after its tasks ran) leaves the
  state it left applied once;
- hang-ups and channel events in any order, repeated, end the adopted call's ticket exactly once
  and with the right side.

Each example runs in its own event loop (so timers the core asks for never leak into other tests)
and every task is finished or cancelled before the loop closes.  The last tests check that the
properties catch wrong programs (a handler raising KeyError on a missing header, one acting on a
missing field, one ending a ticket twice on a duplicate hang-up).
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import datetime as dt
import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import structlog
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from panoramisk.message import Message

from callcenter.acd import AgentState, CallEnded, CallState, CallWaiting
from callcenter.adapter import Adapter, LiveCall
from callcenter.settings import AgentSettings, Settings

NOW = 1_700_000_000.0  # frozen: no deadline passes while a stream is fed
AGENTS = ("1001", "1002", "1003", "1004")
SETTINGS = Settings(agents=tuple(AgentSettings(id=a, name=f"op {a}") for a in AGENTS))

CALLER = "call-1"  # the caller waiting, offered to one free operator
CALLER_CHANNEL = "PJSIP/2001-00000001"
ADOPTED = "adopt-1"  # a call found bridged to 1004 at start
ADOPTED_CHANNEL = "PJSIP/2002-000000a1"
ADOPTED_AGENT = "adopt-agent-1"  # 1004's channel in that bridge
ADOPTED_AGENT_CHANNEL = "PJSIP/1004-000000a2"
# Filled in per world: the leg _ring registered, its channel, its operator.
LEG, LEG_CHANNEL, LEG_AGENT, LEG_DEVICE = "{leg}", "{leg_channel}", "{leg_agent}", "{leg_device}"

IDS = [LEG, CALLER, ADOPTED, ADOPTED_AGENT]
CHANNELS = [LEG_CHANNEL, CALLER_CHANNEL, ADOPTED_CHANNEL, ADOPTED_AGENT_CHANNEL]
DEVICES = [f"PJSIP/{a}" for a in AGENTS] + [LEG_DEVICE]
AGENT_IDS = [*AGENTS, LEG_AGENT]
DEVICE_STATES = ["UNKNOWN", "NOT_INUSE", "INUSE", "BUSY", "INVALID", "UNAVAILABLE", "RINGING", "RINGINUSE", "ONHOLD"]
CHANNEL_STATES = [str(n) for n in range(11)]
OPS = ["login", "logout", "pause", "resume"]
KNOWN = {*IDS, *CHANNELS, *DEVICES, *AGENT_IDS, *DEVICE_STATES, *CHANNEL_STATES, *OPS, "HotlineAgent"}

NAMES = ["DeviceStateChange", "Newchannel", "Newstate", "Hangup", "BridgeLeave", "UserEvent", "Shutdown",
         "OriginateResponse", "VarSet", "Newexten", "BridgeEnter", "DialBegin", "DialEnd", "PeerStatus", "ContactStatus",
         "FullyBooted", "Cdr", "QueueMemberStatus", "Hangupx", "", "Event"]
RELEVANT: dict[str, dict[str, list[str]]] = {
    "DeviceStateChange": {"Device": DEVICES, "State": DEVICE_STATES},
    "Newchannel": {"Uniqueid": IDS, "Channel": CHANNELS, "ChannelState": CHANNEL_STATES},
    "Newstate": {"Uniqueid": IDS, "Channel": CHANNELS, "ChannelState": CHANNEL_STATES},
    "Hangup": {"Uniqueid": IDS, "Channel": CHANNELS, "Cause": ["16", "17", "0", "127"]},
    "BridgeLeave": {"Uniqueid": IDS, "Channel": CHANNELS, "BridgeUniqueid": ["bridge-1"]},
    "UserEvent": {"UserEvent": ["HotlineAgent", "Other"], "Agent": AGENT_IDS, "Op": OPS},
    "Shutdown": {"Shutdown": ["Cleanly", "Uncleanly"], "Restart": ["True", "False"]},
}
VALUES = {"Uniqueid": IDS, "Linkedid": IDS, "Channel": CHANNELS, "Device": DEVICES, "State": DEVICE_STATES,
          "ChannelState": CHANNEL_STATES, "Agent": AGENT_IDS, "Op": OPS, "UserEvent": ["HotlineAgent"]}
HEADERS = sorted({h for headers in RELEVANT.values() for h in headers} | set(VALUES) | {"ChannelStateDesc", "Exten", "Reason"})

# -- values ----------------------------------------------------------------------------------------

odd = st.sampled_from(["", " ", "\x00", "\u202e1001", "🙂", "坐席", "e\u0301", "\ufeff", "None", "null", "-1", "PJSIP/",
                       "PJSIP/9999", "PJSIP/1001 ", " 1001", "pjsip/1001", "PJSIP/1001-", "acd-", "hotlineagent",
                       "not_inuse", "5 ", "05", "Login", "LOGIN", "a\r\nEvent: Hangup"])
huge = st.integers(1_000, 100_000).map(lambda n: "9" * n)
garbage = st.one_of(odd, st.text(max_size=24), huge).filter(lambda v: v not in KNOWN)
garbage_value = st.one_of(garbage, st.lists(garbage, min_size=2, max_size=3))  # a repeated header is a list


def any_value(relevant: list[str]) -> st.SearchStrategy[Any]:
    """Mostly a value that means something here, else garbage; now and then a repeated header."""
    known = st.sampled_from(relevant)
    scalar = weighted((3, known), (1, garbage))
    return weighted((13, known), (5, garbage), (2, st.lists(scalar, min_size=2, max_size=3)))


def weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """One of the strategies, by weight (``one_of`` leans towards whatever is still novel, e.g. free text)."""
    table = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.integers(0, len(table) - 1).flatmap(lambda i: table[i])


def event_spec() -> st.SearchStrategy[dict[str, Any]]:
    """Any event: well formed about the things we hold, or followed or not with headers known, missing, garbage, repeated."""
    return weighted((1, wellformed_spec()), (2, messy_spec()))


@st.composite
def wellformed_spec(draw: st.DrawFn) -> dict[str, Any]:
    name = draw(st.sampled_from(FOLLOWED))
    return {"Event": name, **{header: draw(st.sampled_from(values)) for header, values in RELEVANT.get(name, {}).items()}}


@st.composite
def messy_spec(draw: st.DrawFn) -> dict[str, Any]:
    canonical = name = draw(weighted((3, st.sampled_from(FOLLOWED)), (1, st.sampled_from(NOT_FOLLOWED))))
    if not draw(st.integers(0, 4)):
        name = draw(st.sampled_from([name.lower(), name.upper()]))  # the client matches names case-insensitively
    headers: dict[str, Any] = {"Event": name}
    for header, relevant in RELEVANT.get(canonical, {}).items():
        if draw(st.integers(0, 5)):  # mostly present
            headers[header] = draw(any_value(relevant))
    for header in draw(st.lists(st.sampled_from(HEADERS), max_size=3)):
        headers.setdefault(header, draw(any_value(VALUES.get(header, IDS + CHANNELS))))
    return headers


def _noise_headers(draw: st.DrawFn, fixed: dict[str, Any], others: list[str]) -> dict[str, Any]:
    headers = dict(fixed)
    for header in others:
        if draw(st.booleans()):
            headers[header] = draw(any_value(VALUES.get(header, CHANNELS)))
    return headers


@st.composite
def noise_spec(draw: st.DrawFn) -> dict[str, Any]:
    """An event that must change nothing: about nobody we know, of a type not followed, or missing what matters."""
    missing_or_garbage = weighted((1, st.none()), (2, garbage_value))
    by_uniqueid = [name for name in FOLLOWED if "Uniqueid" in RELEVANT.get(name, {})]
    kind = draw(st.sampled_from(["unknown_device", "known_device_no_state", "unknown_channel", "leg_no_channel",
                                 "leg_no_ringing_state", "unknown_hangup", "not_ours_userevent", "unknown_agent",
                                 "agent_no_op", "not_followed"]))
    fixed: dict[str, Any]
    if kind == "unknown_device":
        fixed = {"Event": "DeviceStateChange", "Device": draw(missing_or_garbage)}
        others = ["State"]
    elif kind == "known_device_no_state":
        fixed = {"Event": "DeviceStateChange", "Device": draw(st.sampled_from(DEVICES)), "State": draw(missing_or_garbage)}
        others = []
    elif kind == "unknown_channel":
        fixed = {"Event": draw(st.sampled_from(by_uniqueid)), "Uniqueid": draw(missing_or_garbage)}
        others = ["Channel", "ChannelState"]
    elif kind == "leg_no_channel":
        fixed = {"Event": "Newchannel", "Uniqueid": LEG, "Channel": draw(st.sampled_from([None, ""])),
                 "ChannelState": draw(st.sampled_from([None, "0", "4"]))}
        others = []
    elif kind == "leg_no_ringing_state":
        fixed = {"Event": "Newstate", "Uniqueid": LEG, "ChannelState": draw(missing_or_garbage)}
        others = []
    elif kind == "unknown_hangup":
        fixed = {"Event": "Hangup", "Uniqueid": draw(missing_or_garbage)}
        others = ["Channel", "Cause"]
    elif kind == "not_ours_userevent":
        fixed = {"Event": "UserEvent", "UserEvent": draw(missing_or_garbage)}
        others = ["Agent", "Op"]
    elif kind == "unknown_agent":
        fixed = {"Event": "UserEvent", "UserEvent": "HotlineAgent", "Agent": draw(missing_or_garbage)}
        others = ["Op"]
    elif kind == "agent_no_op":
        fixed = {"Event": "UserEvent", "UserEvent": "HotlineAgent", "Agent": draw(st.sampled_from(AGENT_IDS)),
                 "Op": draw(missing_or_garbage)}
        others = []
    else:  # events the adapter does not follow, even about our own channels
        fixed = {"Event": draw(st.sampled_from(NOT_FOLLOWED))}
        others = ["Uniqueid", "Channel", "Device", "State", "Agent", "Op", "ChannelState"]
    headers = _noise_headers(draw, fixed, others)
    return {k: v for k, v in headers.items() if v is not None}


def stream_of(spec: st.SearchStrategy[dict]) -> st.SearchStrategy[list[tuple[dict, int]]]:
    """A stream drawn from a small pool of events: each sent 1-3 times in a row, and again later, in any order."""
    return st.lists(spec, min_size=1, max_size=6).flatmap(lambda pool: st.lists(
        st.tuples(st.sampled_from(pool), weighted((2, st.just(1)), (1, st.just(2)), (1, st.just(3)))), min_size=1, max_size=20))

# -- the world -------------------------------------------------------------------------------------


class StubAmi:
    """What the adapter uses of AmiClient, with canned replies; events are handed over like its consumer does."""

    def __init__(self) -> None:
        self.handlers: dict[str, list[Callable]] = {}
        self.login_hooks: list[Callable[[], Awaitable[None]]] = []
        self.disconnect_hooks: list[Callable[[], None]] = []
        self.connected = True
        self.actions: list[dict[str, Any]] = []
        self.names: set[str] = set()

    def on(self, name: str, handler: Callable) -> None:
        self.handlers.setdefault(name.lower(), []).append(handler)
        self.names.add(name)

    def on_login(self, hook: Callable[[], Awaitable[None]]) -> None:
        self.login_hooks.append(hook)

    def on_disconnect(self, hook: Callable[[], None]) -> None:
        self.disconnect_hooks.append(hook)

    async def action(self, action: dict[str, Any], *, as_list: bool | None = None, timeout: float | None = None) -> Any:
        self.actions.append(dict(action))
        name = action.get("Action")
        if name == "Originate":  # the phone rings on; the Originate's reply is not part of these streams
            await asyncio.get_running_loop().create_future()
        if name == "CoreStatus":
            return Message({"Response": "Success", "CoreStartupDate": "2025-01-01", "CoreStartupTime": "08:00:00"})
        if name == "CoreShowChannels":
            return [Message({"Response": "Success", "EventList": "start"}),
                    *(Message({"Event": "CoreShowChannel", "Uniqueid": u, "Channel": c, "BridgeId": "bridge-1",
                               "ChannelState": "6"})
                      for u, c in ((ADOPTED, ADOPTED_CHANNEL), (ADOPTED_AGENT, ADOPTED_AGENT_CHANNEL))),
                    Message({"Event": "CoreShowChannelsComplete", "EventList": "Complete"})]
        if name == "DeviceStateList":
            states = {"1001": "NOT_INUSE", "1002": "NOT_INUSE", "1003": "INUSE", "1004": "INUSE"}
            return [Message({"Response": "Success", "EventList": "start"}),
                    *(Message({"Event": "DeviceStateChange", "Device": f"PJSIP/{a}", "State": s}) for a, s in states.items()),
                    Message({"Event": "DeviceStateListComplete", "EventList": "Complete"})]
        return Message({"Response": "Success"})

    async def deliver(self, event: Message) -> None:
        """As AmiClient._consume, but a handler's exception fails the test instead of being logged."""
        for handler in self.handlers.get(str(event.get("Event", "")).lower(), []):
            result = handler(event)
            if result is not None:
                await result


def _followed() -> list[str]:
    """The event names the adapter subscribes to (so a handler added later is fed too)."""
    ami = StubAmi()
    Adapter(SETTINGS, ami, StubTickets(), clock=lambda: NOW)
    return sorted(ami.names)


@dataclasses.dataclass
class Unended:
    uniqueid: str
    answered_at: dt.datetime | None = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)  # the answer was written


class StubTickets:
    def __init__(self) -> None:
        self.log: list[tuple] = []

    async def list_unended(self) -> list[Unended]:
        return [Unended(ADOPTED), Unended(CALLER)]

    def __getattr__(self, name: str) -> Callable[..., Awaitable[None]]:
        if name.startswith("_"):
            raise AttributeError(name)
        async def write(*args: Any, **kwargs: Any) -> None:
            self.log.append((name, *args, *sorted(kwargs.items())))
        return write


FOLLOWED = _followed()
NOT_FOLLOWED = [name for name in NAMES if name.lower() not in {f.lower() for f in FOLLOWED}]
assert "Hangup" in FOLLOWED and "OriginateResponse" in NOT_FOLLOWED


@dataclasses.dataclass
class World:
    adapter: Adapter
    ami: StubAmi
    tickets: StubTickets
    commands: list
    tasks: list[asyncio.Task]
    known: dict[str, str]

    def message(self, spec: dict[str, Any]) -> Message:
        def fill(v: Any) -> Any:
            return [fill(x) for x in v] if isinstance(v, list) else self.known.get(v, v)
        return Message({k: fill(v) for k, v in spec.items()})

    async def send(self, spec: dict[str, Any], times: int = 1, settle: bool = True) -> None:
        event = self.message(spec)
        for n in range(times):
            await self.ami.deliver(event)
            if settle or n == times - 1:
                await self.settle()

    async def settle(self) -> None:
        """Let the tasks handlers started run; any that failed fails the test."""
        for _ in range(8):
            await asyncio.sleep(0)
        for task in self.tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise task.exception()

    def check(self) -> None:
        assert self.adapter.violations() == [], self.adapter.violations()
        assert self.adapter.acd.violations(NOW) == []

    def snapshot(self) -> dict[str, Any]:
        ad, acd = self.adapter, self.adapter.acd
        core = {k: repr(v) if isinstance(v, itertools.count) else copy.deepcopy(v) for k, v in vars(acd).items()}
        state = {
            "core": core,
            "live": {k: (c.caller_number, c.caller_name, c.answered.qsize()) for k, c in ad.calls.items()},
            "legs": {k: (l.call_id, l.agent_id, l.channel, l.released.done(), l.claimed.done()) for k, l in ad.legs.items()},
            "adopted": {k: dataclasses.asdict(a) for k, a in ad.adopted.items()},
            "ending": sorted(ad.ending), "registered": sorted(ad.registered),
            "chosen": {k: dataclasses.asdict(c) for k, c in ad.chosen.items()},
            "shutdown_at": ad.shutdown_at, "link": dict(ad.link), "started": ad.started,
            "asterisk_started": ad.asterisk_started, "resynced": ad._resynced.is_set(),
            "commands": list(self.commands), "actions": copy.deepcopy(self.ami.actions), "tickets": list(self.tickets.log),
            "tasks": sum(1 for t in self.tasks if not t.done()),
        }
        leg_id = self.known[LEG]
        return _replace(state, leg_id, LEG)  # worlds differ only by the leg's random id


def _replace(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, dict):
        return {_replace(k, old, new): _replace(v, old, new) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_replace(v, old, new) for v in value)
    return value


async def build(ringing: bool) -> World:
    """The known good state, reached through the adapter's own paths."""
    ami, tickets, commands = StubAmi(), StubTickets(), []
    adapter = Adapter(SETTINGS, ami, tickets, clock=lambda: NOW)
    adapter.listeners.append(commands.append)
    world = World(adapter, ami, tickets, commands, _TASKS, {})
    for hook in ami.login_hooks:
        await hook()
    adapter.calls[CALLER] = LiveCall(CALLER, "2001", "Caller")
    assert adapter.apply(CallWaiting(CALLER, NOW))
    await world.settle()
    [leg] = adapter.legs.values()
    world.known = {LEG: leg.leg_id, LEG_CHANNEL: f"PJSIP/{leg.agent_id}-00000010", LEG_AGENT: leg.agent_id,
                   LEG_DEVICE: f"PJSIP/{leg.agent_id}"}
    if ringing:
        await world.send({"Event": "Newchannel", "Uniqueid": LEG, "Channel": LEG_CHANNEL, "ChannelState": "0"})
        await world.send({"Event": "Newstate", "Uniqueid": LEG, "Channel": LEG_CHANNEL, "ChannelState": "5"})
    agents = adapter.acd.agents
    assert leg.agent_id in ("1001", "1002") and agents[leg.agent_id].state == AgentState.RINGING
    assert agents["1003"].phone_busy and agents["1004"].state == AgentState.ON_CALL
    assert adapter.acd.calls[CALLER].state == CallState.OFFERED and ADOPTED in adapter.adopted
    world.check()
    return world


_TASKS: list[asyncio.Task] = []  # every task started in the current example's loop


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    """One example in its own event loop; every task it started is finished or cancelled before it closes."""
    loop = asyncio.new_event_loop()
    _TASKS.clear()

    def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task:
        task = asyncio.Task(coro, loop=loop, **kwargs)
        _TASKS.append(task)
        return task

    loop.set_task_factory(factory)
    try:
        with structlog.testing.capture_logs():  # quiet and fast (huge values are logged too)
            loop.run_until_complete(scenario())
    finally:
        pending = [t for t in _TASKS if not t.done()]
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
        _TASKS.clear()


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# -- properties ------------------------------------------------------------------------------------


def check_any_stream(ringing: bool, stream: list[tuple[dict, int]]) -> None:
    """Anything at all: nothing raises, the invariant holds after every event, a duplicate changes nothing more."""
    async def scenario() -> None:
        world = await build(ringing)
        for spec, times in stream:
            await world.send(spec)
            world.check()
            if times > 1:
                once = world.snapshot()
                await world.send(spec, times - 1, settle=False)
                assert world.snapshot() == once, f"not idempotent: {spec}"
                world.check()
    run(scenario)


def check_noise(ringing: bool, stream: list[tuple[dict, int]]) -> None:
    """Events about nothing we know, or missing what matters: nothing changes, nothing is sent or written."""
    async def scenario() -> None:
        world = await build(ringing)
        before = world.snapshot()
        for spec, times in stream:
            await world.send(spec, times, settle=False)
            assert world.snapshot() == before, f"changed by {world.message(spec)!r}"
        world.check()
    run(scenario)


def check_duplicates(ringing: bool, stream: list[tuple[dict, int]], settle: bool) -> None:
    """Two worlds: one gets each event once, the other each event 1-3 times; they end in the same state."""
    async def scenario() -> None:
        once, repeated = await build(ringing), await build(ringing)
        for spec, times in stream:
            await once.send(spec)
            await repeated.send(spec, times, settle=settle)
            repeated.check()
        assert repeated.snapshot() == once.snapshot()
    run(scenario)


@FAST
@given(st.booleans(), stream_of(event_spec()))
def test_any_stream_raises_nothing_and_keeps_the_invariant(ringing: bool, stream: list) -> None:
    check_any_stream(ringing, stream)


@FAST
@given(st.booleans(), stream_of(noise_spec()))
def test_unknown_channels_devices_and_missing_fields_change_nothing(ringing: bool, stream: list) -> None:
    check_noise(ringing, stream)


@FAST
@given(st.booleans(), stream_of(event_spec()), st.booleans())
def test_duplicate_events_are_idempotent(ringing: bool, stream: list, settle: bool) -> None:
    check_duplicates(ringing, stream, settle)


LIFECYCLE = [
    {"Event": "Newchannel", "Uniqueid": LEG, "Channel": LEG_CHANNEL, "ChannelState": "0"},
    {"Event": "Newstate", "Uniqueid": LEG, "Channel": LEG_CHANNEL, "ChannelState": "5"},
    {"Event": "Newstate", "Uniqueid": LEG, "Channel": LEG_CHANNEL, "ChannelState": "6"},
    {"Event": "Hangup", "Uniqueid": LEG, "Channel": LEG_CHANNEL, "Cause": "16"},
    {"Event": "Hangup", "Uniqueid": CALLER, "Channel": CALLER_CHANNEL, "Cause": "16"},
    {"Event": "Hangup", "Uniqueid": ADOPTED_AGENT, "Channel": ADOPTED_AGENT_CHANNEL, "Cause": "16"},
    {"Event": "Hangup", "Uniqueid": ADOPTED, "Channel": ADOPTED_CHANNEL, "Cause": "16"},
    {"Event": "DeviceStateChange", "Device": "PJSIP/1004", "State": "NOT_INUSE"},
    {"Event": "DeviceStateChange", "Device": LEG_DEVICE, "State": "RINGING"},
    {"Event": "Hangup", "Uniqueid": "1699999999.77", "Channel": "PJSIP/1002-00000077", "Cause": "16"},
    {"Event": "BridgeLeave", "Uniqueid": ADOPTED_AGENT, "Channel": ADOPTED_AGENT_CHANNEL, "BridgeUniqueid": "bridge-1"},
    {"Event": "BridgeLeave", "Uniqueid": ADOPTED, "Channel": ADOPTED_CHANNEL, "BridgeUniqueid": "bridge-1"},
]
# Who ended the adopted call: the first of these seen before the caller's channel hangs up (else the caller).
FIRST_TO_GO = {5: "agent"} | ({10: "agent", 11: "caller"} if "BridgeLeave" in FOLLOWED else {})


@FAST
@given(st.booleans(), st.permutations(range(len(LIFECYCLE))).flatmap(
    lambda order: st.tuples(st.integers(0, len(order)), st.lists(st.integers(1, 3), min_size=len(order), max_size=len(order)))
    .map(lambda cut_times: [(i, t) for i, t in zip(order[:cut_times[0]], cut_times[1])])))
def test_hangups_in_any_order_end_the_adopted_call_once_and_truly(ringing: bool, steps: list[tuple[int, int]]) -> None:
    async def scenario() -> None:
        world = await build(ringing)
        for i, times in steps:
            await world.send(LIFECYCLE[i], times, settle=False)
            world.check()
        await world.settle()
        world.check()
        order = [i for i, _ in steps]
        ends = [entry for entry in world.tickets.log if entry[0] == "mark_ended" and entry[1] == ADOPTED]
        if 6 in order:
            by = next((FIRST_TO_GO[i] for i in order[:order.index(6)] if i in FIRST_TO_GO), "caller")
            assert [e[3] for e in ends] == [by]
            assert ADOPTED not in world.adapter.adopted and ADOPTED not in world.adapter.acd.calls
        else:
            assert ends == [] and ADOPTED in world.adapter.adopted
        assert world.adapter.acd.calls[CALLER].state == CallState.OFFERED  # nothing here ends the waiting caller's offer
    run(scenario)


# -- the properties catch wrong programs -----------------------------------------------------------

ONLY_GENERATE = settings(max_examples=2000, deadline=None, phases=[Phase.generate], database=None,
                         suppress_health_check=list(HealthCheck))


def test_would_catch_a_handler_raising_on_a_missing_header(monkeypatch: pytest.MonkeyPatch) -> None:
    original = Adapter.on_new_state

    def on_new_state(self: Adapter, event: Message) -> None:
        event["Uniqueid"]  # KeyError when the header is missing
        original(self, event)

    monkeypatch.setattr(Adapter, "on_new_state", on_new_state)

    @ONLY_GENERATE
    @given(st.booleans(), stream_of(event_spec()))
    def property_(ringing: bool, stream: list) -> None:
        check_any_stream(ringing, stream)

    with pytest.raises(KeyError):
        property_()


def test_would_catch_a_handler_acting_on_a_missing_field(monkeypatch: pytest.MonkeyPatch) -> None:
    original = Adapter.on_device_state

    def on_device_state(self: Adapter, event: Message, restore: bool = False) -> None:
        if not event.get("State"):
            event = Message({**event, "State": "UNAVAILABLE"})  # a missing state read as "gone"
        original(self, event, restore)

    monkeypatch.setattr(Adapter, "on_device_state", on_device_state)

    @ONLY_GENERATE
    @given(st.booleans(), stream_of(noise_spec()))
    def property_(ringing: bool, stream: list) -> None:
        check_noise(ringing, stream)

    with pytest.raises(AssertionError, match="changed by"):
        property_()


def test_would_catch_a_duplicate_hangup_ending_a_ticket_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    async def end_adopted(self: Adapter, adopted: Any, hangup_by: str, observed: bool = False) -> None:
        self.adopted.pop(adopted.call_id, None)  # no "already ended" check
        if adopted.call_id in self.acd.calls:
            self.apply(CallEnded(adopted.call_id, self.clock()))
        await self.tickets.mark_ended(adopted.call_id, None, hangup_by)

    monkeypatch.setattr(Adapter, "_end_adopted", end_adopted)

    @ONLY_GENERATE
    @given(st.booleans(), stream_of(wellformed_spec()))
    def property_(ringing: bool, stream: list) -> None:
        check_duplicates(ringing, stream, settle=False)

    with pytest.raises(AssertionError):
        property_()
