"""Tickets of one node: every write goes through one ordered queue, so no call waits on the database.

Theory of operation: each change (open, ringing, a ring, answered, ended, fallback merge) becomes a
``TicketWrite`` appended to an in-memory queue that a single background task applies in order, the
writes waiting (within ``BATCH_MAX`` and ``BATCH_SECONDS``) in one transaction.  Callers wait for
their write at most ``wait_limit`` seconds, then go on while the write stays queued.  A write that fails with a database
error (locked, full, gone) is retried with backoff; from the first failure until the queue drains,
every pending write is also appended to a JSON-lines spill file, replayed by ``start()`` after a
crash.  Every write is idempotent, so replaying one that had in fact been committed changes nothing.
A write that can never succeed (bad data) fails its batch, which is then applied one write per
transaction: that write is moved to a ``.rejected.jsonl`` file instead of blocking the queue.
Committed writes are counted by kind, with the time each took from queued to committed, in the
Prometheus registry the app hands over (``callcenter_ticket_writes_total``, ``callcenter_ticket_write_seconds``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import os
import re
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.store.db import read_session_factory
from callcenter.store.models import (
    HANGUP_BY,
    SOURCES,
    Ticket,
    clip_raw,
    normalise_name,
    normalise_number,
    utcnow,
)
from callcenter.tickets.queue_log import FallbackCall

log = structlog.get_logger(__name__)

STATUS_RANK = {"new": 0, "ringing": 1, "answered": 2, "completed": 3, "abandoned": 3}
# How one ring of an operator's phone ended: the operator answered it; let it ring out or refused it
# (a miss); it stopped because another operator answered first; the call ended while it rang (the
# caller hung up); the system took the offer back (a transport failure: nobody's miss).
RING_OUTCOMES = ("answered", "missed", "answered_elsewhere", "caller_left", "withdrawn")
ATTEMPT_TIMEOUT = 30.0  # one write attempt; a hung connection then counts as a failure and is retried
# A batch: at most BATCH_MAX writes, and no more added once BATCH_SECONDS have passed in its transaction.
# The bounds keep the transaction short: SQLite holds its one write lock for all of it and every other
# service's transaction (a page's read too) waits behind it, failing after the 5 s busy timeout; a bad
# write also makes the writer re-apply its whole batch one write per transaction.  0.1 s of writes
# already spreads a commit's cost over many.
BATCH_MAX = 200
BATCH_SECONDS = 0.1
WRITE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)  # seconds


@dataclass(frozen=True)
class TicketWrite:
    """One change to the ticket of ``uniqueid``; ``data`` is JSON-ready (datetimes as ISO text)."""

    kind: str
    uniqueid: str
    data: dict[str, Any]

    def to_json(self) -> str:
        """One spill-file line."""
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str) -> TicketWrite:
        """Parse one spill-file line (raises ValueError/KeyError/TypeError when it is not one)."""
        raw = json.loads(line)
        if raw["kind"] not in APPLIERS:
            raise ValueError(f"unknown write kind {raw['kind']!r}")
        return cls(kind=raw["kind"], uniqueid=str(raw["uniqueid"]), data=dict(raw["data"]))


@dataclass
class _Pending:
    """A queued write, the future its caller waits on, and whether the spill file holds it."""

    write: TicketWrite
    done: asyncio.Future[Any]
    spilled: bool = False
    queued_at: float = field(default_factory=time.monotonic)


@dataclass
class _WriterState:
    """The background writer's retry state."""

    failing: bool = False
    delay: float = 0.0
    failures: int = 0


class TicketService:
    """Open and complete the tickets of calls on ``node``; reads go straight to the database."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        node: str,
        *,
        spill_dir: Path | None = None,
        wait_limit: float = 2.0,
        retry_initial: float = 0.5,
        retry_max: float = 30.0,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self._sessions = sessions
        # registry None: counted, not exported (tests build many services in one process)
        self._written = Counter("callcenter_ticket_writes", "Ticket writes committed, by kind of change",
                                ["kind"], registry=registry)
        self._rejected = Counter("callcenter_ticket_writes_rejected", "Ticket writes set aside as never applicable "
                                 "(the .rejected.jsonl file)", registry=registry)
        self._write_time = Histogram("callcenter_ticket_write_seconds", "Seconds from a ticket write queued to committed",
                                     buckets=WRITE_BUCKETS, registry=registry)
        self._readers = read_session_factory(sessions.kw["bind"])  # reads never wait for a writer
        self.node = node
        self.wait_limit = wait_limit
        self._retry_initial = retry_initial
        self._retry_max = retry_max
        self._pending: deque[_Pending] = deque()
        self._wakeup = asyncio.Event()
        self._state = _WriterState(delay=retry_initial)
        self._writer: asyncio.Task[None] | None = None
        # Run inside each write's transaction, after it applied (e.g. work orders, callback tasks).
        self.after_write: list[WriteHook] = []
        safe_node = re.sub(r"[^A-Za-z0-9_.-]", "_", node) or "node"
        self.spill_path = spill_dir / f"tickets-{safe_node}.jsonl" if spill_dir else None
        self.rejected_path = spill_dir / f"tickets-{safe_node}.rejected.jsonl" if spill_dir else None

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Queue the writes a previous run left in the spill file, then start the writer."""
        if self._writer is not None:
            return
        if self.spill_path is None:
            log.warning("ticket.spill_disabled", node=self.node)
        for write in self._read_spill():
            self._pending.append(_Pending(write, asyncio.get_running_loop().create_future(), spilled=True))
        if self._pending:
            log.info("ticket.spill_replayed", node=self.node, writes=len(self._pending))
        self._writer = asyncio.create_task(self._write_loop(), name=f"tickets-writer-{self.node}")
        self._wakeup.set()

    async def close(self, drain_timeout: float = 5.0) -> None:
        """Give queued writes ``drain_timeout`` seconds, then stop; what is left stays in the spill file."""
        if self._writer is None:
            return
        await self.flush(drain_timeout)
        self._writer.cancel()
        try:
            await self._writer
        except asyncio.CancelledError:
            pass
        self._writer = None
        if self._pending:
            self._spill([p for p in self._pending if not p.spilled])
            log.warning("ticket.close_pending", node=self.node, writes=len(self._pending))
            self._pending.clear()  # they are in the spill file; a later start() replays them
        self._state = _WriterState(delay=self._retry_initial)

    async def flush(self, timeout: float) -> bool:
        """Wait until every queued write is committed; False if ``timeout`` passed first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._pending:
            if loop.time() >= deadline:
                return False
            await asyncio.wait([self._pending[-1].done], timeout=max(0.0, deadline - loop.time()))
        return True

    @property
    def pending_writes(self) -> int:
        """Writes queued but not yet committed (for health reporting)."""
        return len(self._pending)

    # -- writes ------------------------------------------------------------------------------

    async def open_for_arrival(
        self,
        uniqueid: str,
        caller_number: str | None,
        caller_name: str | None,
        channel: str | None,
        arrived_at: dt.datetime | None,
        linkedid: str | None = None,
        source: str = "controller",
    ) -> int | None:
        """Create the call's ticket (once per node and uniqueid); its id, or None if not committed in time."""
        if source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, not {source!r}")
        data = {
            "caller_number": clip_raw(caller_number),
            "caller_name": clip_raw(caller_name),
            "channel": clip_raw(channel)[:128],
            "arrived_at": _iso(arrived_at or utcnow()),
            "linkedid": clip_raw(linkedid)[:64] or None,
            "source": source,
        }
        return await self._submit(TicketWrite("open", _clean_uniqueid(uniqueid), data))

    async def mark_ringing(self, uniqueid: str, agent_id: str, at: dt.datetime) -> None:
        """An offer of this call went out to an agent (the Originate): ``details["offers"]``.

        Whether the phone then rang, and how that ring ended, is ``record_ring``'s: the figures count rings.
        """
        data = {"agent_id": _clean_agent(agent_id), "at": _iso(at)}
        await self._submit(TicketWrite("ringing", _clean_uniqueid(uniqueid), data))

    async def record_ring(
        self,
        uniqueid: str,
        agent_id: str,
        started_at: dt.datetime,
        ended_at: dt.datetime | None = None,
        outcome: str | None = None,
    ) -> None:
        """An operator's phone rang for this call (from ``started_at``), and how that ring ended once known.

        Kept in ``details["rings"]`` (one entry per agent and start, so the start and the end may
        come in either order, and a replay changes nothing); the first ring also sets ``first_rang_at``.
        """
        if outcome is not None and outcome not in RING_OUTCOMES:
            raise ValueError(f"outcome must be one of {RING_OUTCOMES} or None, not {outcome!r}")
        data = {"agent_id": _clean_agent(agent_id), "started_at": _iso(started_at), "ended_at": _iso(ended_at),
                "outcome": outcome}
        await self._submit(TicketWrite("ring", _clean_uniqueid(uniqueid), data))

    async def mark_answered(self, uniqueid: str, agent_id: str, answered_at: dt.datetime) -> None:
        """An agent answered the call."""
        data = {"agent_id": _clean_agent(agent_id), "at": _iso(answered_at)}
        await self._submit(TicketWrite("answered", _clean_uniqueid(uniqueid), data))

    async def mark_ended(self, uniqueid: str, ended_at: dt.datetime, hangup_by: str | None) -> None:
        """The call ended; talk and wait times and the outcome follow from the ticket's moments."""
        if hangup_by is not None and hangup_by not in HANGUP_BY:
            raise ValueError(f"hangup_by must be one of {HANGUP_BY} or None, not {hangup_by!r}")
        data = {"at": _iso(ended_at), "hangup_by": hangup_by}
        await self._submit(TicketWrite("ended", _clean_uniqueid(uniqueid), data))

    async def record_details(self, uniqueid: str, section: str, values: dict[str, Any]) -> None:
        """Keep JSON-safe facts about the call under ``details[section]`` (replacing that section)."""
        data = {"section": section, "values": values}
        await self._submit(TicketWrite("details", _clean_uniqueid(uniqueid), data))

    async def record_ivr(self, uniqueid: str, path: dict[str, Any]) -> None:
        """What the caller did in the IVR (messages, keys, menu choice, language, time) -> ``details["ivr"]``."""
        data = json.loads(json.dumps(path, ensure_ascii=False, default=str))  # JSON-ready, a private copy
        await self._submit(TicketWrite("ivr", _clean_uniqueid(uniqueid), data))

    async def merge_fallback_call(self, call: FallbackCall) -> bool | None:
        """Create or complete a ticket from app_queue's record; True if a row changed, None if still queued."""
        data = {
            "queue": call.queue,
            "caller_number": clip_raw(call.caller_number),
            "entered_at": _iso(call.entered_at),
            "answered_at": _iso(call.answered_at),
            "ended_at": _iso(call.ended_at),
            "agent_id": _clean_agent(call.agent_id) if call.agent_id else None,
            "hangup_by": call.hangup_by,
            "end_event": call.end_event,
            "missed_rings": call.missed_rings,
        }
        return await self._submit(TicketWrite("fallback", _clean_uniqueid(call.uniqueid), data))

    # -- reads -------------------------------------------------------------------------------

    async def get(self, uniqueid: str) -> Ticket | None:
        """The committed ticket of ``uniqueid`` on this node."""
        async with self._readers() as session:
            return await _find(session, self.node, uniqueid)

    async def list_recent(self, limit: int = 50) -> list[Ticket]:
        """The newest tickets of this node, newest first."""
        query = select(Ticket).where(Ticket.node == self.node).order_by(Ticket.arrived_at.desc(), Ticket.id.desc())
        async with self._readers() as session:
            return list((await session.scalars(query.limit(limit))).all())

    async def list_unended(self) -> list[Ticket]:
        """This node's tickets whose call has no end yet (live calls, or ended while we were away)."""
        query = select(Ticket).where(Ticket.node == self.node, Ticket.ended_at.is_(None)).order_by(Ticket.id)
        async with self._readers() as session:
            return list((await session.scalars(query)).all())

    async def called_since(self, caller_number: str | None, since: dt.datetime, exclude_uniqueid: str = "") -> bool:
        """True when this caller number has another ticket that arrived at or after ``since``."""
        number = normalise_number(caller_number)
        if not number:
            return False  # anonymous or unusable caller ids never match each other
        query = select(Ticket.id).where(
            Ticket.caller_number == number, Ticket.arrived_at >= since, Ticket.uniqueid != exclude_uniqueid
        )
        async with self._readers() as session:
            return await session.scalar(query.limit(1)) is not None

    async def count(self) -> int:
        """How many tickets this node has."""
        async with self._readers() as session:
            return int(await session.scalar(select(func.count()).select_from(Ticket).where(Ticket.node == self.node)) or 0)

    # -- the writer ----------------------------------------------------------------------------

    async def _submit(self, write: TicketWrite) -> Any:
        """Queue ``write`` and wait for its result at most ``wait_limit`` seconds."""
        if self._writer is None:
            raise RuntimeError("TicketService.start() must be awaited before writing")
        pending = _Pending(write, asyncio.get_running_loop().create_future())
        self._pending.append(pending)
        if self._state.failing:  # the queue is stuck: keep this write safe from a crash too
            self._spill([pending])
        self._wakeup.set()
        try:
            return await asyncio.wait_for(asyncio.shield(pending.done), self.wait_limit)
        except TimeoutError:
            log.warning("ticket.write_delayed", uniqueid=write.uniqueid, kind=write.kind, pending=len(self._pending))
            return None

    async def _write_loop(self) -> None:
        """Apply queued writes in order, a batch per transaction, retrying with backoff while the database fails.

        A batch is every write waiting, at most ``BATCH_MAX`` and as many as ``BATCH_SECONDS`` allow; each
        write's future gets its own result once the batch committed.  A transient error retries the whole
        batch (all of it spilled first).  Any other error means one write in it is bad: that batch is then
        applied one write per transaction, so only the bad write is set aside and the others land.
        """
        singles = 0  # writes at the head still to apply one per transaction after a batch failed
        while True:
            if not self._pending:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            batch = list(itertools.islice(self._pending, 1 if singles else BATCH_MAX))
            head = batch[0]
            bound = log.bind(uniqueid=head.write.uniqueid, kind=head.write.kind, node=self.node)
            try:
                results = await self._apply([p.write for p in batch])
            except Exception as err:
                if _is_transient(err):
                    await self._after_failure(bound, err)
                    continue
                if len(batch) > 1:
                    error = f"{type(err).__name__}: {err}".splitlines()[0]
                    bound.warning("ticket.batch_split", writes=len(batch), error=error)
                    singles = len(batch)
                    continue
                # Bad data would fail forever and block every call behind it: set it aside, never drop it.
                bound.error(
                    "ticket.write_rejected", error=f"{type(err).__name__}: {err}", write=head.write.to_json(), exc_info=True
                )
                self._append(self.rejected_path, [head.write])
                self._rejected.inc()
                results = [None]
            else:
                batch = batch[:len(results)]  # the writes the transaction had time for
                committed = time.monotonic()
                for p in batch:
                    self._written.labels(p.write.kind).inc()
                    self._write_time.observe(committed - p.queued_at)
            for _ in batch:
                self._pending.popleft()
            singles = max(0, singles - len(batch))
            if self._state.failing:
                bound.info("ticket.write_recovered", failures=self._state.failures, pending=len(self._pending))
                self._state = _WriterState(delay=self._retry_initial)
            for p, result in zip(batch, results, strict=True):
                if not p.done.done():
                    p.done.set_result(result)
            if not self._pending:
                self._remove_spill()

    async def _after_failure(self, bound: Any, err: Exception) -> None:
        """Spill what is pending, log, and sleep before the next try."""
        state = self._state
        state.failures += 1
        state.failing = True
        self._spill([p for p in self._pending if not p.spilled])
        bound.warning(
            "ticket.write_failed",
            error=f"{type(err).__name__}: {err}".splitlines()[0],
            retry_in=state.delay,
            pending=len(self._pending),
        )
        await asyncio.sleep(state.delay)
        state.delay = min(state.delay * 2, self._retry_max)

    async def _apply(self, writes: list[TicketWrite]) -> list[Any]:
        """Apply ``writes`` (or the prefix there is time for) in one transaction; what each submitter is told."""
        async with asyncio.timeout(ATTEMPT_TIMEOUT):
            try:
                return await self._transaction(writes)
            except IntegrityError:
                if len(writes) > 1 or writes[0].kind not in ("open", "fallback"):
                    raise
                # Another writer (a second process) created the row first: now it is found and updated.
                return await self._transaction(writes)

    async def _transaction(self, writes: list[TicketWrite]) -> list[Any]:
        """Each write's applier, then the hooks, in one transaction, until ``BATCH_SECONDS`` have passed.

        The results of the writes applied, a prefix of ``writes``; the others wait for the next transaction.
        """
        results = []
        began = time.monotonic()
        async with self._sessions() as session, session.begin():
            for write in writes:
                results.append(await APPLIERS[write.kind](session, self.node, write.uniqueid, write.data))
                await self._run_hooks(session, write)
                if time.monotonic() - began >= BATCH_SECONDS:
                    break
        return results

    async def _run_hooks(self, session: AsyncSession, write: TicketWrite) -> None:
        """Run ``after_write`` hooks, each in a savepoint: a failing hook never loses the call's write.

        A transient database error propagates (the whole write is retried, hooks are idempotent);
        any other error is logged and that hook's changes are rolled back.
        """
        for hook in self.after_write:
            try:
                async with session.begin_nested():
                    await hook(session, self.node, write)
            except Exception as err:
                if _is_transient(err):
                    raise
                log.exception("ticket.hook_failed", uniqueid=write.uniqueid, kind=write.kind,
                              hook=getattr(hook, "__qualname__", repr(hook)))

    # -- the spill file -----------------------------------------------------------------------

    def _spill(self, pendings: list[_Pending]) -> None:
        """Append writes to the spill file, in queue order."""
        if pendings and self._append(self.spill_path, [p.write for p in pendings]):
            for p in pendings:
                p.spilled = True

    def _append(self, path: Path | None, writes: list[TicketWrite]) -> bool:
        """Append JSON lines durably; False (and logged) when there is no file or it cannot be written."""
        if path is None or not writes:
            return False
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as out:
                out.writelines(w.to_json() + "\n" for w in writes)
                out.flush()
                os.fsync(out.fileno())
        except OSError as err:
            log.error("ticket.spill_failed", path=str(path), error=str(err), writes=len(writes))
            return False
        return True

    def _read_spill(self) -> list[TicketWrite]:
        """Writes a previous run left behind; unreadable lines are logged and skipped."""
        if self.spill_path is None or not self.spill_path.exists():
            return []
        writes = []
        for number, line in enumerate(self.spill_path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if not line.strip():
                continue
            try:
                writes.append(TicketWrite.from_json(line))
            except (ValueError, KeyError, TypeError) as err:  # a line cut short by the crash itself
                log.error("ticket.spill_line_skipped", path=str(self.spill_path), line=number, error=str(err))
        return writes

    def _remove_spill(self) -> None:
        """Everything is committed: the spill file has nothing left to protect."""
        if self.spill_path is not None and self.spill_path.exists():
            try:
                self.spill_path.unlink()
            except OSError as err:
                log.error("ticket.spill_failed", path=str(self.spill_path), error=str(err))


# -- applying one write (inside a transaction) -------------------------------------------------


async def _find(session: AsyncSession, node: str, uniqueid: str) -> Ticket | None:
    """The ticket of ``uniqueid`` on ``node``."""
    return await session.scalar(select(Ticket).where(Ticket.node == node, Ticket.uniqueid == uniqueid))


async def _apply_open(session: AsyncSession, node: str, uniqueid: str, data: dict[str, Any]) -> int:
    """Insert the ticket unless it exists; its id either way."""
    ticket = await _find(session, node, uniqueid)
    if ticket is not None:
        return ticket.id
    ticket = Ticket(
        node=node,
        uniqueid=uniqueid,
        linkedid=data["linkedid"],
        caller_number=normalise_number(data["caller_number"]),
        caller_number_raw=data["caller_number"],
        caller_name=normalise_name(data["caller_name"]),
        caller_name_raw=data["caller_name"],
        channel=data["channel"],
        source=data["source"],
        call_status="new",
        arrived_at=_from_iso(data["arrived_at"]),
        details={},
    )
    session.add(ticket)
    await session.flush()
    log.info("ticket.created", uniqueid=uniqueid, node=node, ticket_id=ticket.id, source=ticket.source)
    return ticket.id


async def _apply_ringing(session: AsyncSession, node: str, uniqueid: str, data: dict[str, Any]) -> None:
    """Record an offer sent to an agent (``details["offers"]``; the rings are ``_apply_ring``'s)."""
    ticket = await _existing(session, node, uniqueid, "ringing")
    if ticket is None:
        return
    offer = {"agent_id": data["agent_id"], "at": data["at"]}
    offers = list(ticket.details.get("offers", []))
    if offer not in offers:  # a replayed write must not count twice
        ticket.details = {**ticket.details, "offers": [*offers, offer]}
    _advance(ticket, "ringing")


async def _apply_ring(session: AsyncSession, node: str, uniqueid: str, data: dict[str, Any]) -> None:
    """Add a ring to ``details["rings"]`` or complete the one of the same agent and start."""
    ticket = await _existing(session, node, uniqueid, "ring")
    if ticket is None:
        return
    rings = [dict(r) for r in ticket.details.get("rings", [])]
    key = (data["agent_id"], data["started_at"])
    ring = next((r for r in rings if (r.get("agent_id"), r.get("started_at")) == key), None)
    if ring is None:
        ring = {"agent_id": data["agent_id"], "started_at": data["started_at"], "ended_at": None, "outcome": None}
        rings.append(ring)
    for name in ("ended_at", "outcome"):
        if data[name] is not None:  # an end never comes undone by a late start
            ring[name] = data[name]
    rings.sort(key=lambda r: (r["started_at"], r["agent_id"]))
    if rings != ticket.details.get("rings"):
        ticket.details = {**ticket.details, "rings": rings}
    started = _from_iso(data["started_at"])
    if ticket.first_rang_at is None or started < ticket.first_rang_at:
        ticket.first_rang_at = started
    _advance(ticket, "ringing")


async def _apply_answered(session: AsyncSession, node: str, uniqueid: str, data: dict[str, Any]) -> None:
    """Record who answered and when."""
    ticket = await _existing(session, node, uniqueid, "answered")
    if ticket is None:
        return
    ticket.answered_at = _from_iso(data["at"])
    ticket.agent_id = data["agent_id"]
    _advance(ticket, "answered")


async def _apply_ended(session: AsyncSession, node: str, uniqueid: str, data: dict[str, Any]) -> None:
    """Record the end and derive durations and outcome."""
    ticket = await _existing(session, node, uniqueid, "ended")
    if ticket is None:
        return
    ticket.ended_at = _from_iso(data["at"])
    ticket.hangup_by = data["hangup_by"]
    _derive_outcome(ticket)


async def _apply_fallback(session: AsyncSession, node: str, uniqueid: str, data: dict[str, Any]) -> bool:
    """Create the ticket of a fallback-queue call, or fill in only what an existing ticket lacks."""
    ticket = await _find(session, node, uniqueid)
    created = ticket is None
    if ticket is None:
        arrived = data["entered_at"] or data["answered_at"] or data["ended_at"]
        ticket = Ticket(
            node=node,
            uniqueid=uniqueid,
            caller_number=normalise_number(data["caller_number"]),
            caller_number_raw=data["caller_number"],
            caller_name="",
            caller_name_raw="",
            channel="",
            source="fallback_queue",
            call_status="new",
            arrived_at=_from_iso(arrived) if arrived else utcnow(),
            details={},
        )
        session.add(ticket)
    before = _snapshot(ticket)
    if not ticket.caller_number_raw and data["caller_number"]:
        ticket.caller_number_raw = data["caller_number"]
        ticket.caller_number = normalise_number(data["caller_number"])
    for name in ("answered_at", "ended_at"):
        if getattr(ticket, name) is None and data[name]:
            setattr(ticket, name, _from_iso(data[name]))
    for name in ("agent_id", "hangup_by"):
        if getattr(ticket, name) is None and data[name]:
            setattr(ticket, name, data[name])
    if ticket.answered_at is not None:
        _advance(ticket, "answered")
    if ticket.ended_at is not None:
        _derive_outcome(ticket, only_missing=not created)
    queue_info = {k: data[k] for k in ("queue", "entered_at", "end_event", "missed_rings")}
    if ticket.details.get("fallback_queue") != queue_info:
        ticket.details = {**ticket.details, "fallback_queue": queue_info}
    changed = created or _snapshot(ticket) != before
    if created:
        await session.flush()
        log.info("ticket.created", uniqueid=uniqueid, node=node, ticket_id=ticket.id, source="fallback_queue")
    elif changed:
        log.info("ticket.merged_fallback", uniqueid=uniqueid, node=node, ticket_id=ticket.id)
    return changed


async def _apply_details(session: AsyncSession, node: str, uniqueid: str, data: dict[str, Any]) -> None:
    """Replace one section of the ticket's details."""
    ticket = await _existing(session, node, uniqueid, "details")
    if ticket is not None:
        ticket.details = {**ticket.details, data["section"]: data["values"]}


async def _apply_ivr(session: AsyncSession, node: str, uniqueid: str, data: dict[str, Any]) -> None:
    """Keep the caller's IVR path on the ticket (replaced whole, so a replay changes nothing)."""
    ticket = await _existing(session, node, uniqueid, "ivr")
    if ticket is not None and ticket.details.get("ivr") != data:
        ticket.details = {**ticket.details, "ivr": data}


WriteHook = Callable[[AsyncSession, str, TicketWrite], Awaitable[None]]

APPLIERS: dict[str, Callable[[AsyncSession, str, str, dict[str, Any]], Awaitable[Any]]] = {
    "details": _apply_details,
    "open": _apply_open,
    "ringing": _apply_ringing,
    "ring": _apply_ring,
    "answered": _apply_answered,
    "ended": _apply_ended,
    "fallback": _apply_fallback,
    "ivr": _apply_ivr,
}


async def _existing(session: AsyncSession, node: str, uniqueid: str, kind: str) -> Ticket | None:
    """The ticket an update is for; a missing one is logged (its open was rejected or never sent)."""
    ticket = await _find(session, node, uniqueid)
    if ticket is None:
        log.warning("ticket.update_without_ticket", uniqueid=uniqueid, node=node, kind=kind)
    return ticket


def _advance(ticket: Ticket, status: str) -> None:
    """Move the call status forward only: a late 'ringing' never undoes 'answered'."""
    if STATUS_RANK[status] > STATUS_RANK[ticket.call_status]:
        ticket.call_status = status


def _derive_outcome(ticket: Ticket, only_missing: bool = False) -> None:
    """Talk and wait seconds, and completed/abandoned, from arrival, answer and end."""
    assert ticket.ended_at is not None
    if not only_missing or ticket.call_status not in ("completed", "abandoned"):
        ticket.call_status = "completed" if ticket.answered_at is not None else "abandoned"
    if not only_missing or ticket.talk_seconds is None:
        ticket.talk_seconds = (
            max(0.0, (ticket.ended_at - ticket.answered_at).total_seconds()) if ticket.answered_at else 0.0
        )
    if not only_missing or ticket.wait_seconds is None:
        waited_until = ticket.answered_at or ticket.ended_at
        ticket.wait_seconds = max(0.0, (waited_until - ticket.arrived_at).total_seconds())


def _snapshot(ticket: Ticket) -> tuple[Any, ...]:
    """The fields a fallback merge may change, to tell whether it changed any."""
    return (
        ticket.caller_number_raw,
        ticket.answered_at,
        ticket.ended_at,
        ticket.agent_id,
        ticket.hangup_by,
        ticket.call_status,
        ticket.talk_seconds,
        ticket.wait_seconds,
        ticket.details.get("fallback_queue"),
    )


def _is_transient(err: Exception) -> bool:
    """Worth retrying: the database is locked, full, unreachable or restarting (not bad data)."""
    if isinstance(err, (OperationalError, InterfaceError)):
        return True
    if isinstance(err, DBAPIError):
        return bool(err.connection_invalidated)
    return isinstance(err, (OSError, TimeoutError))


def _clean_uniqueid(uniqueid: object) -> str:
    """A storable uniqueid; an empty one gets a made-up id so the call still has a ticket."""
    text = clip_raw(uniqueid).strip()[:64]
    if not text:
        text = f"missing-{uuid.uuid4().hex[:16]}"
        log.warning("ticket.uniqueid_missing", uniqueid=text)
    return text


def _clean_agent(agent_id: object) -> str:
    """A storable agent id."""
    return clip_raw(agent_id).strip()[:64]


def _iso(moment: dt.datetime | None) -> str | None:
    """Aware ISO text in UTC; a naive datetime is taken as UTC."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).isoformat()


def _from_iso(text: str) -> dt.datetime:
    """The inverse of ``_iso``."""
    return dt.datetime.fromisoformat(text)

