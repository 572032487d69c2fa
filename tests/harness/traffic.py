"""Traffic on the real Asterisk, and the history of it as the phones saw it.

Operator phones (baresip) answer the hotline's offers after a random delay (or by hand, through
the ``Softphone`` API); caller phones dial the hotline every few seconds, talk for a while once an
operator picked up, and then one side hangs up.  Everything is recorded from the phones' own
events (``at`` = ``time.monotonic()``), never from the controller, so the history can be checked
against what the controller recorded (``harness.checker``):

- a ``CallRecord`` per dial: when the caller dialled, when Asterisk answered it (the caller is on
  hold from then), when it closed, who we told to hang up and when;
- a ``Ring`` per incoming call at an operator phone: whose number it showed (the From URI carries
  the caller's number, for the controller's Originate and for app_queue alike), when it rang, when
  the operator answered and when it closed.  A ring is matched to the call of that caller that was
  live when it rang.

Used by tests/e2e/test_faults.py and bench/fault_soak.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import re
import shutil
import tempfile
import time
import wave
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from callcenter.demo.softphone import Softphone, SoftphoneError, write_tone_wav

BRIDGED_WITHIN = 1.5  # s: an answered ring that closed this close to its call's end was the bridged leg...
MIN_TALK = 0.5  # s: ...if it lasted this long after the answer (a leg hung up at once never reached the caller)
TONE_SECONDS = 1200.0  # the phones' audio (one shared file): longer than any call, or baresip hangs up at its end
HANGUP_WITHIN = 10.0  # s: a hang-up we sent this long before the call closed is what closed it (a loaded box is slow)
FEATURE_CODES = {"login": "*45", "logout": "*46", "pause": "*47", "resume": "*48"}
CHOSEN_AFTER = {"login": "available", "resume": "available", "logout": "logged_out", "pause": "paused"}
_NUMBER = re.compile(r"sip:([^@;>]+)@")


def number_of(event: dict[str, Any]) -> str:
    """The caller number an incoming call shows (user part of the peer URI)."""
    match = _NUMBER.search(str(event.get("peeruri", "")))
    return match.group(1) if match else ""


@dataclass
class Load:
    """How callers and operators behave; times in seconds."""

    interval: tuple[float, float] = (0.8, 1.6)  # between two arrivals (uniform)...
    rate: float | None = None  # ...or Poisson arrivals at this many calls a second (the busy hour)
    burst: int = 10  # the first callers arrive this many at a time, 0.3 s apart, to fill the lines
    talk: tuple[float, float] = (6.0, 12.0)  # from the operator's answer to the hang-up
    answer_after: tuple[float, float] = (0.3, 1.2)  # an operator's phone rings this long before they answer
    patience: float = 40.0  # a caller not connected after this long on hold hangs up
    agent_ends: float = 0.5  # share of calls the operator ends (the caller ends the others)
    seed: int = 7


@dataclass
class Ring:
    """One incoming call at one operator phone."""

    operator: str
    phone_call: str  # baresip's call id on the operator's phone
    caller: str  # the number it showed
    rang_at: float
    answered_at: float | None = None
    closed_at: float | None = None
    closed_here: float | None = None  # when the operator's phone hung it up itself
    call: int | None = None  # CallRecord.n it belongs to (None: no live call of that caller)

    def status(self, t: float) -> str | None:
        """"ringing", "talking" or None (not yet / over) at monotonic time ``t``."""
        if t < self.rang_at or (self.closed_at is not None and t >= self.closed_at):
            return None
        return "talking" if self.answered_at is not None and t >= self.answered_at else "ringing"


@dataclass
class CallRecord:
    """One caller's dial of the hotline, as the phones saw it."""

    n: int
    caller: str
    dialled_at: float
    talk: float = 0.0
    ends: str = "caller"  # who is to hang up after talking
    phone_call: str | None = None  # baresip's call id on the caller's phone
    established_at: float | None = None  # Asterisk answered: on hold from here
    closed_at: float | None = None
    hangups: list[tuple[str, float]] = field(default_factory=list)  # ("caller"|"agent", when we sent it)
    rings: list[Ring] = field(default_factory=list)
    dial_error: str | None = None

    @property
    def reached(self) -> bool:
        """Asterisk answered the call (a ticket is owed)."""
        return self.established_at is not None

    @property
    def bridged(self) -> Ring | None:
        """The operator the caller talked to: the answered ring that ended with the call."""
        answered = [r for r in self.rings if r.answered_at is not None]
        if self.closed_at is None:
            live = [r for r in answered if r.closed_at is None]
            return live[-1] if live else None
        together = [
            r for r in answered
            if r.closed_at is not None and abs(r.closed_at - self.closed_at) <= BRIDGED_WITHIN
            and r.closed_at - (r.answered_at or 0.0) >= MIN_TALK
        ]
        return max(together, key=lambda r: r.answered_at or 0.0) if together else None

    @property
    def unclear(self) -> Ring | None:
        """A ring answered just before the call ended with it (within ``MIN_TALK``): bridged or not,
        the phones cannot tell (an Asterisk restart cut it, or the leg was hung up as the call dropped)."""
        if self.closed_at is None or self.bridged is not None:
            return None
        return next((
            r for r in self.rings
            if r.answered_at is not None and r.closed_at is not None
            and abs(r.closed_at - self.closed_at) <= BRIDGED_WITHIN and r.closed_at - r.answered_at < MIN_TALK
        ), None)

    @property
    def hangup_by(self) -> str | None:
        """Who ended it: "caller", "agent" (a hang-up we sent just before it closed), else "system"."""
        if self.closed_at is None:
            return None
        for who, at in reversed(self.hangups):
            if at <= self.closed_at and self.closed_at - at <= HANGUP_WITHIN:
                if who == "agent" and self.bridged is None:
                    continue  # the operator hung up a leg that never reached the caller
                return who
        return "system"


@dataclass
class History:
    """Everything the phones saw; ``wall_offset`` turns monotonic times into Unix times."""

    started_at: float
    wall_offset: float
    operators: tuple[str, ...]
    callers: tuple[str, ...]
    calls: list[CallRecord] = field(default_factory=list)
    rings: dict[str, list[Ring]] = field(default_factory=dict)  # operator -> rings in order
    stray_rings: list[Ring] = field(default_factory=list)  # rang with no live call of that caller
    chosen: dict[str, list[tuple[float, str]]] = field(default_factory=dict)  # operator -> (since, state)
    skipped: int = 0  # arrivals with no free caller phone

    def wall(self, t: float) -> float:
        return t + self.wall_offset

    def chosen_at(self, operator: str, t: float) -> str:
        """The state the operator chose (available, paused, logged_out) at time ``t``."""
        state = "available"
        for since, what in self.chosen.get(operator, []):
            if since <= t:
                state = what
        return state

    def phone_status(self, operator: str, t: float) -> tuple[str, Ring | None]:
        """("idle", None), ("ringing", ring) or ("talking", ring) for an operator phone at ``t``."""
        found: tuple[str, Ring | None] = ("idle", None)
        for ring in self.rings.get(operator, []):
            status = ring.status(t)
            if status == "talking":
                return status, ring
            if status == "ringing":
                found = (status, ring)
        return found

    def idle_since(self, operator: str, t: float) -> float | None:
        """Since when the operator's phone has had no call at ``t`` (None: busy at ``t``)."""
        if self.phone_status(operator, t)[0] != "idle":
            return None
        ends = [r.closed_at for r in self.rings.get(operator, []) if r.closed_at is not None and r.closed_at <= t]
        return max(ends, default=self.started_at)

    def in_flight(self, t: float | None = None) -> int:
        """Calls dialled and not yet closed at ``t`` (now when None)."""
        t = time.monotonic() if t is None else t
        return sum(1 for c in self.calls if c.dialled_at <= t and (c.closed_at is None or c.closed_at > t) and not c.dial_error)

    def max_in_flight(self, start: float = 0.0, end: float = float("inf")) -> int:
        moments = [c.dialled_at for c in self.calls if start <= c.dialled_at <= end]
        return max((self.in_flight(t) for t in moments), default=0)


def long_tone(path: Path, seconds: float) -> Path:
    """The Softphone's tone (a whole number of its 1 s periods), ``seconds`` long, written fast."""
    one = write_tone_wav(path.with_name("one-second.wav"), seconds=1.0)
    with wave.open(str(one), "rb") as src:
        params, frames = src.getparams(), src.readframes(src.getnframes())
    with wave.open(str(path), "wb") as out:
        out.setparams(params)
        out.writeframes(frames * max(1, round(seconds)))
    return path


class TrafficPhone(Softphone):
    """A softphone that reports every event to the traffic (which decides when to answer).

    baresip hangs a call up by itself when its audio file ends ("end of file"): the Softphone's
    own tone lasts 60 s, shorter than a long wait plus a talk, so every phone here sends ``tone``
    (one long file shared by all) instead.
    """

    def __init__(
        self, *args: Any, on_event: Callable[[TrafficPhone, dict[str, Any]], None], tone: Path | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, answer="manual", answer_after=None, **kwargs)
        self._report = on_event
        self._tone = tone

    def _write_config(self) -> None:
        if self._tone is not None and self.workdir is not None and not (self.workdir / "source.wav").exists():
            (self.workdir / "source.wav").symlink_to(self._tone)
        super()._write_config()

    async def _on_event(self, event: dict[str, Any]) -> None:
        # Into the history before anything can await: a call task must never act on a call that has
        # already closed (Softphone._on_event stamps the event again, microseconds later).
        event["at"] = time.monotonic()
        self._report(self, event)
        await super()._on_event(event)

    async def accept_call(self, phone_call: str) -> None:
        """Answer this call (not whichever is current)."""
        await self.command("callfind", phone_call)
        await self.command("accept")

    async def hangup_call(self, phone_call: str) -> None:
        """Hang this call up (not whichever is current)."""
        await self.command("callfind", phone_call)
        await self.command("hangup")


async def start_phones(
    users: Iterable[tuple[str, str]], host: str, port: int, on_event: Callable[[TrafficPhone, dict[str, Any]], None],
    batch: int = 8, tone: Path | None = None,
) -> list[TrafficPhone]:
    """Start and register phones a few at a time; one whose random ports were taken is retried."""

    async def one(user: str, password: str) -> TrafficPhone:
        for attempt in range(4):
            phone = TrafficPhone(user, password, host, port, on_event=on_event, tone=tone)
            try:
                await phone.start()
                return phone
            except SoftphoneError:
                phone.cleanup()
                if attempt == 3:
                    raise
        raise AssertionError("unreachable")

    users = list(users)
    phones: list[TrafficPhone] = []
    for i in range(0, len(users), batch):
        phones += await asyncio.gather(*(one(u, p) for u, p in users[i : i + batch]))
    return phones


class Traffic:
    """Operator and caller phones on one Asterisk, callers arriving, and the history of it all."""

    def __init__(
        self,
        host: str,
        port: int,
        hotline: str,
        operators: dict[str, str],  # agent id -> SIP password
        callers: dict[str, str],  # caller endpoint -> SIP password
        load: Load | None = None,
    ) -> None:
        self.host, self.port, self.hotline = host, port, hotline
        self._passwords = {**operators, **callers}
        self.load = load or Load()
        self.rng = random.Random(self.load.seed)
        now = time.monotonic()
        self.history = History(now, time.time() - now, tuple(operators), tuple(callers))
        self.history.rings = {op: [] for op in operators}
        self.operators: dict[str, TrafficPhone] = {}
        self.callers: dict[str, TrafficPhone] = {}
        self.manual: set[str] = set()  # operators answered by hand (the test calls accept_call)
        self._free: asyncio.Queue[TrafficPhone] = asyncio.Queue()
        self._active: dict[str, CallRecord] = {}  # caller endpoint -> its live call
        self._open_rings: dict[tuple[str, str], Ring] = {}  # (operator, phone call) -> ring
        self._changed = asyncio.Condition()
        self._tasks: set[asyncio.Task[None]] = set()
        self._arrivals: asyncio.Task[None] | None = None
        self.errors: list[str] = []
        self._tone_dir: Path | None = None

    # -- phones ------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Register every phone."""
        self._tone_dir = Path(tempfile.mkdtemp(prefix="traffic-tone-"))
        tone = await asyncio.to_thread(long_tone, self._tone_dir / "tone.wav", TONE_SECONDS)
        ops = [(u, self._passwords[u]) for u in self.history.operators]
        calls = [(u, self._passwords[u]) for u in self.history.callers]
        for phone in await start_phones(ops, self.host, self.port, self._on_event, tone=tone):
            self.operators[phone.user] = phone
        for phone in await start_phones(calls, self.host, self.port, self._on_event, tone=tone):
            self.callers[phone.user] = phone
            self._free.put_nowait(phone)

    async def close(self) -> None:
        """Stop arrivals and every phone (calls still up are hung up by baresip as it quits)."""
        await self.stop_arrivals()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for phone in [*self.operators.values(), *self.callers.values()]:
            with contextlib.suppress(Exception):
                await phone.stop()
            phone.cleanup()
        if self._tone_dir is not None:
            shutil.rmtree(self._tone_dir, ignore_errors=True)

    async def choose(self, operator: str, op: str, timeout: float = 10.0) -> None:
        """The operator dials a feature code (login, logout, pause, resume) and it is the state they chose."""
        phone = self.operators[operator]
        before = len(phone.events)
        self.history.chosen.setdefault(operator, []).append((time.monotonic(), CHOSEN_AFTER[op]))
        await phone.dial(FEATURE_CODES[op])
        deadline = time.monotonic() + timeout
        while not any(e.get("type") == "CALL_CLOSED" for e in phone.events[before:]):
            if time.monotonic() > deadline:
                raise SoftphoneError(f"{operator}: feature code {op} did not finish within {timeout} s")
            await asyncio.sleep(0.05)

    # -- events (synchronous: never raise into the phone's reader) ---------------------------------

    def _on_event(self, phone: TrafficPhone, event: dict[str, Any]) -> None:
        try:
            if phone.user in self.history.operators:
                self._operator_event(phone, event)
            else:
                self._caller_event(phone, event)
        except Exception as err:  # noqa: BLE001 - recorded, never into the phone's reader
            self.errors.append(f"{phone.user} {event.get('type')}: {err!r}")
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def _operator_event(self, phone: TrafficPhone, event: dict[str, Any]) -> None:
        kind, phone_call, at = event.get("type"), str(event.get("id", "")), float(event["at"])
        key = (phone.user, phone_call)
        if kind == "CALL_INCOMING":
            ring = Ring(phone.user, phone_call, number_of(event), at)
            self._open_rings[key] = ring
            self.history.rings[phone.user].append(ring)
            record = self._active.get(ring.caller)
            if record is not None and record.closed_at is None:
                ring.call = record.n
                record.rings.append(ring)
            else:
                self.history.stray_rings.append(ring)
            self._maybe_answer(phone, ring)
        elif kind == "CALL_ESTABLISHED" and key in self._open_rings:
            self._open_rings[key].answered_at = at
        elif kind == "CALL_CLOSED" and key in self._open_rings:
            self._open_rings.pop(key).closed_at = at

    def _maybe_answer(self, phone: TrafficPhone, ring: Ring) -> None:
        """Available operators answer after a while, when not already talking; others let it ring."""
        if phone.user in self.manual or self.history.chosen_at(phone.user, ring.rang_at) != "available":
            return
        if self.history.phone_status(phone.user, ring.rang_at)[0] == "talking":
            return
        delay = self.rng.uniform(*self.load.answer_after)
        self._spawn(self._answer_later(phone, ring, delay))

    async def _answer_later(self, phone: TrafficPhone, ring: Ring, delay: float) -> None:
        await asyncio.sleep(delay)
        if ring.closed_at is not None or self.history.phone_status(phone.user, time.monotonic())[0] == "talking":
            return
        with contextlib.suppress(SoftphoneError):  # the ring may have ended meanwhile
            await phone.accept_call(ring.phone_call)

    def _caller_event(self, phone: TrafficPhone, event: dict[str, Any]) -> None:
        record = self._active.get(phone.user)
        kind, at = event.get("type"), float(event["at"])
        if record is None or record.closed_at is not None or not str(kind).startswith("CALL_"):
            return
        phone_call = str(event.get("id", ""))
        if record.phone_call is None and phone_call:
            record.phone_call = phone_call
        elif phone_call and phone_call != record.phone_call:
            return  # not this call
        if kind == "CALL_ESTABLISHED" and record.established_at is None:
            record.established_at = at
        elif kind == "CALL_CLOSED":
            if "end of file" in str(event.get("param", "")).lower():  # the phone itself hung up
                record.hangups.append(("caller", at))
                self.errors.append(f"call {record.n} from {record.caller}: the caller's audio file ended")
            record.closed_at = at

    # -- callers -----------------------------------------------------------------------------------

    def start_arrivals(self) -> None:
        """Callers arrive from now on: a burst to fill the lines, then one every ``load.interval``."""
        if self._arrivals is None:
            self._arrivals = asyncio.create_task(self._arrive(), name="traffic-arrivals")

    async def stop_arrivals(self) -> None:
        if self._arrivals is not None:
            self._arrivals.cancel()
            await asyncio.gather(self._arrivals, return_exceptions=True)
            self._arrivals = None

    async def drain(self, timeout: float = 90.0) -> bool:
        """Wait for every call in progress to end; False if some are still up after ``timeout``."""
        calls = [t for t in self._tasks if t.get_name().startswith("call-")]
        if not calls:
            return True
        _, pending = await asyncio.wait(calls, timeout=timeout)
        return not pending

    async def _arrive(self) -> None:
        for k in range(self.load.burst):
            self._spawn(self._call(), name=f"call-burst-{k}")
            await asyncio.sleep(0.3)
        for k in itertools.count():
            rate = self.load.rate
            await asyncio.sleep(self.rng.expovariate(rate) if rate else self.rng.uniform(*self.load.interval))
            self._spawn(self._call(), name=f"call-{k}")

    def _spawn(self, coro: Any, name: str = "traffic") -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def until(self, predicate: Callable[[], Any], timeout: float) -> bool:
        """Wait for a phone event that makes ``predicate()`` true; False after ``timeout``."""
        deadline = time.monotonic() + timeout
        async with self._changed:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), min(remaining, 0.5))
        return True

    async def _call(self) -> None:
        if self._free.empty():
            self.history.skipped += 1
            return
        phone = self._free.get_nowait()
        record = CallRecord(
            len(self.history.calls), phone.user, time.monotonic(), talk=self.rng.uniform(*self.load.talk),
            ends="agent" if self.rng.random() < self.load.agent_ends else "caller",
        )
        self.history.calls.append(record)
        self._active[phone.user] = record
        try:
            await self._converse(phone, record)
        except Exception as err:  # noqa: BLE001 - the history says what happened; the run goes on
            self.errors.append(f"call {record.n} from {record.caller}: {err!r}")
        finally:
            await self._release(phone, record)

    async def _converse(self, phone: TrafficPhone, record: CallRecord) -> None:
        try:
            await phone.dial(self.hotline)
        except SoftphoneError as err:
            record.dial_error = str(err)
            return
        if not await self.until(lambda: record.established_at or record.closed_at, 20.0):
            await self._hang_up(record, "caller")
            return
        if record.closed_at is not None:
            return
        deadline = (record.established_at or time.monotonic()) + self.load.patience
        while record.closed_at is None:
            def talking() -> Ring | None:
                return next((r for r in record.rings if r.answered_at is not None and r.closed_at is None), None)

            answered = await self.until(lambda: record.closed_at is not None or talking(), deadline - time.monotonic())
            if record.closed_at is not None:
                return
            if not answered:  # nobody took the call in time: the caller gives up
                await self._hang_up(record, "caller")
                return
            ring = talking()
            assert ring is not None and ring.answered_at is not None
            ends_at = ring.answered_at + record.talk
            await self.until(lambda r=ring: record.closed_at is not None or r.closed_at is not None, ends_at - time.monotonic())
            if record.closed_at is not None:
                return
            if ring.closed_at is not None:  # that leg never reached the caller (or the call goes on elsewhere)
                await self.until(lambda: record.closed_at is not None, 1.0)
                continue
            if record.ends == "agent":
                record.hangups.append(("agent", time.monotonic()))
                with contextlib.suppress(SoftphoneError):
                    await self.operators[ring.operator].hangup_call(ring.phone_call)
                if not await self.until(lambda: record.closed_at is not None, 3.0):
                    continue  # the leg was not bridged to this caller: keep waiting
            else:
                await self._hang_up(record, "caller")

    async def _hang_up(self, record: CallRecord, who: str) -> None:
        """The caller hangs up (we note it first: the phone's CALL_CLOSED may come at once)."""
        if record.closed_at is not None:
            return
        record.hangups.append((who, time.monotonic()))
        with contextlib.suppress(SoftphoneError):
            await self.callers[record.caller].hangup()

    async def _release(self, phone: TrafficPhone, record: CallRecord) -> None:
        """Give the phone back once its call closed (hanging it up if it did not)."""
        if record.dial_error is None and not await self.until(lambda: record.closed_at is not None, 10.0):
            self.errors.append(f"call {record.n} from {record.caller}: still up 10 s after it should have ended")
            await self._hang_up(record, "caller")
            if not await self.until(lambda: record.closed_at is not None, 10.0):
                return  # the phone is lost to the run: better than mixing two calls on it
        await asyncio.sleep(0.2)  # the phone's own state settles before its next dial
        if self._active.get(phone.user) is record:
            del self._active[phone.user]
        self._free.put_nowait(phone)


__all__ = ["CallRecord", "History", "Load", "Ring", "Traffic", "TrafficPhone", "number_of", "start_phones"]
