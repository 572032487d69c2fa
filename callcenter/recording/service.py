"""Recording calls: start MixMonitor on answer, measure the file at hang-up, pause, listen, retention, faults.

Theory of operation
-------------------
- **Start** (``start``): just before the caller's session bridges the operator (or the callback's
  operator leg dials the caller, or a department answers an escalation), the storage is checked
  (the day's directory can be created and written, enough free disk).  If it is fine, the session
  runs ``MixMonitor(<file>,b)`` on its own channel: both directions, only while bridged.  The file
  is ``<directory>/<YYYY>/<MM>/<DD>/ticket-<ticket id>-<uniqueid>.wav`` (hospital's local date);
  Asterisk gets the path as it sees it (inside its chroot), the controller reads it through the
  host path.  A ``recordings`` row (status ``recording``) links it to the ticket.
- **Fault**: if the check fails, the call goes on unrecorded: the row says ``not_recorded`` with
  the reason, the ticket's ``details.recording`` says so, and ``fault`` is set, which the wallboard
  shows supervisors as a ``recording_failed`` alert until a later check passes.  The directory is
  also checked every ``check_seconds`` between calls, so a filling disk alerts before calls fail.
- **Finish** (``ended``): after hang-up MixMonitor closes the file by itself; we wait until the wav
  header's lengths match the file and its size holds still, then keep path, duration, size and
  SHA-256 on the row and on the ticket.  A file whose header was never completed (Asterisk died
  mid-call) is repaired (see ``wav.py``); rows left ``recording`` by a controller crash are
  finished the same way when the controller starts again (``recover``).
- **Pause** (``set_paused``): AMI ``MixMonitorMute`` (Direction both) on the recorded channel: the
  file keeps running with silence, so the timeline stays true; each pause/resume (who, when) goes
  on the row and on the ticket.  (Asterisk 22 has no ``PauseMonitor``: app_monitor is gone.)
- **Listening** is logged once per playback session (``listened``): every request for the audio
  counts, byte ranges included, and the requests of one user for one recording and action
  (play or download) with gaps under ``LISTEN_SESSION`` are one listen row, however a player
  splits its fetches.  Who may listen is decided in ``http.py``.  **Retention** (``apply_retention``) deletes files older than ``retention_days``
  unless flagged, and logs each deletion.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import shutil
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import structlog
from sqlalchemy import column, select, table
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.agi.server import AgiHangup, AgiSession
from callcenter.ami.client import AmiClient
from callcenter.exceptions import AmiError
from callcenter.recording import wav
from callcenter.recording.exceptions import NotLive, RecordingError
from callcenter.recording.models import Recording, RecordingListen
from callcenter.settings import Settings
from callcenter.store.models import Ticket, utcnow
from callcenter.tickets.service import TicketService

log = structlog.get_logger(__name__)

MB = 1024 * 1024
OUTBOUND_REGISTER_DELAY = 1.0  # seconds an outbound leg's row waits (see _register)
TICKET_LOOKUP = 0.3  # seconds the file name waits for the ticket id before the bridge
CHECK_TIMEOUT = 3.0  # a storage check that hangs (dead network disk) counts as unwritable
RECOVER_LIMIT = 6 * 3600.0  # after a restart, a still-growing file is watched this long at most
LISTEN_SESSION = 15 * 60.0  # seconds between requests that still belong to one playback session
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")
T = TypeVar("T")


@dataclass
class LiveRecording:
    """A recording MixMonitor is writing now."""

    id: int
    key: str  # the call id the adapter knows (inbound) or the outbound leg's uniqueid
    uniqueid: str  # the inbound call's uniqueid when the ticket's details are kept per call
    channel: str
    agent_id: str | None
    kind: str
    host_path: Path
    paused: bool = False
    ticket_uniqueid: str | None = None  # inbound: write details.recording on this call's ticket
    registered: asyncio.Task[int] | None = None  # the row being written; ``id`` is set when it is


class RecordingService:
    """Records calls for one controller (node)."""

    def __init__(
        self,
        settings: Settings,
        ami: AmiClient,
        tickets: TicketService,
        sessions: async_sessionmaker[AsyncSession],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.rec = settings.recording
        self.ami = ami
        self.tickets = tickets
        self.sessions = sessions
        self.clock = clock
        self.zone = settings.hospital.zone
        self.directory = settings.recording_path
        self.live: dict[str, LiveRecording] = {}
        self.fault: dict[str, Any] | None = None  # the wallboard's recording_failed alert
        self._tasks: set[asyncio.Task[Any]] = set()
        self._listening: dict[tuple[int | str | None, int, str], float] = {}  # (user, recording, action) -> last request

    # -- lifecycle ----------------------------------------------------------------------------------

    async def close(self) -> None:
        """Stop background work (files being finished are finished again by ``recover``)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        """One line for a background write that failed (the database gone, say), not asyncio's traceback."""
        self._tasks.discard(task)
        if not task.cancelled() and (err := task.exception()) is not None:
            log.error("recording.task_failed", task=task.get_name(), error=f"{type(err).__name__}: {err}"[:300])

    # -- storage ------------------------------------------------------------------------------------

    def _day_dir(self, at: float) -> Path:
        day = dt.datetime.fromtimestamp(at, self.zone).date()
        return self.directory / f"{day:%Y}" / f"{day:%m}" / f"{day:%d}"

    async def check_storage(self) -> tuple[str, str] | None:
        """None when today's directory takes a file and the disk has room; else (reason, detail)."""
        day_dir = self._day_dir(self.clock())

        def probe() -> tuple[str, str] | None:
            try:
                day_dir.mkdir(parents=True, exist_ok=True)
                probe_file = day_dir / f".probe-{uuid.uuid4().hex[:8]}"
                probe_file.write_bytes(b"")
                probe_file.unlink()
            except OSError as err:
                return "unwritable", f"{day_dir}: {err.strerror or err}"
            free = shutil.disk_usage(day_dir).free
            if free < self.rec.min_free_mb * MB:
                return "disk_full", f"{free // MB} MB free in {self.directory}, below {self.rec.min_free_mb:g} MB"
            return None

        try:
            return await asyncio.wait_for(asyncio.to_thread(probe), CHECK_TIMEOUT)
        except TimeoutError:
            return "unwritable", f"{day_dir}: no answer from the disk within {CHECK_TIMEOUT:g} s"

    async def check(self, call: str | None = None) -> tuple[str, str] | None:
        """Check the storage and keep ``fault`` (the supervisors' alert) in step with the answer."""
        problem = await self.check_storage()
        if problem is None:
            if self.fault is not None:
                log.info("recording.storage_recovered", directory=str(self.directory), was=self.fault["reason"])
                self.fault = None
            return None
        reason, detail = problem
        if self.fault is None or self.fault["reason"] != reason:
            log.error("recording.storage_fault", reason=reason, detail=detail, directory=str(self.directory))
            self.fault = {"kind": "recording_failed", "reason": reason, "detail": detail, "since": self.clock(),
                          "calls": 0, "last_call": None}
        if call is not None:
            self.fault = {**self.fault, "calls": self.fault["calls"] + 1, "last_call": call, "detail": detail}
        return problem

    async def watch_storage(self) -> None:
        """Check the directory every ``check_seconds`` (so supervisors hear of a full disk early).

        A directory that does not exist yet is left to the first call (which creates it), so that a
        controller without calls (tests, a fresh install) writes nothing to disk.
        """
        while True:
            try:
                if self.fault is not None or self.directory.exists():
                    await self.check()
            except Exception:
                log.exception("recording.check_failed")
            await asyncio.sleep(self.rec.check_seconds)

    # -- start --------------------------------------------------------------------------------------

    async def start_inbound(self, agi: AgiSession, call_id: str, agent_id: str) -> None:
        """The caller's session is about to bridge ``agent_id``: start recording (takes milliseconds)."""
        if not self.rec.enabled:
            return None
        try:  # the ticket id names the file; a database slower than this must not delay the answer
            ticket = await asyncio.wait_for(self.tickets.get(call_id), TICKET_LOOKUP)
        except Exception:  # slow or down: record anyway, named and linked by the call's uniqueid
            log.warning("recording.ticket_unknown", uniqueid=call_id, exc_info=True)
            ticket = None
        return await self._start(agi, key=call_id, kind="inbound", agent_id=agent_id,
                                 ticket_id=ticket.id if ticket else None, ticket_uniqueid=call_id,
                                 name=f"ticket-{ticket.id if ticket else 'none'}-{call_id}")

    async def start_outbound(self, agi: AgiSession, kind: str, ticket_id: int, agent_id: str | None) -> None:
        """An outbound leg was answered (callback: the operator's leg; escalation: the department's)."""
        leg = agi.env("uniqueid")
        options = self.rec.mixmonitor_options if kind == "callback" else self.rec.mixmonitor_options.replace("b", "")
        return await self._start(agi, key=leg, kind=kind, agent_id=agent_id, ticket_id=ticket_id,
                                 ticket_uniqueid=None, name=f"ticket-{ticket_id}-{kind}-{leg}", options=options)

    async def _start(self, agi: AgiSession, *, key: str, kind: str, agent_id: str | None, ticket_id: int | None,
                     ticket_uniqueid: str | None, name: str, options: str | None = None) -> None:
        """Check, start MixMonitor, keep the row; never lets a recording problem break the call."""
        if not self.rec.enabled:
            return None
        try:
            return await self._start_unguarded(agi, key=key, kind=kind, agent_id=agent_id, ticket_id=ticket_id,
                                               ticket_uniqueid=ticket_uniqueid, name=name, options=options)
        except (AgiHangup, asyncio.CancelledError):
            raise
        except Exception:
            log.exception("recording.start_failed", uniqueid=key, kind=kind)
            return None

    async def _start_unguarded(self, agi: AgiSession, *, key: str, kind: str, agent_id: str | None,
                               ticket_id: int | None, ticket_uniqueid: str | None, name: str,
                               options: str | None) -> None:
        # Only the storage check and MixMonitor run before the bridge (milliseconds): the database
        # work goes on in the background, so a slow or locked database never delays the answer.
        now = self.clock()
        uniqueid, channel = agi.env("uniqueid"), agi.env("channel")
        row = Recording(ticket_id=ticket_id, node=self.settings.node, uniqueid=uniqueid[:64], channel=channel[:128],
                        kind=kind, agent_id=agent_id, status="recording", reason="", path="",
                        started_at=dt.datetime.fromtimestamp(now, dt.UTC), repaired=False, flagged=False,
                        flag_reason="", pauses=[])
        problem = await self.check(call=key)
        if problem is None:
            relative = self._day_dir(now).relative_to(self.directory) / f"{_SAFE.sub('_', name)}.wav"
            row.path = str(relative)
            inside = f"{self.settings.recording_asterisk_dir.rstrip('/')}/{relative}"
            try:
                await agi.exec("MixMonitor", f"{inside},{options if options is not None else self.rec.mixmonitor_options}")
            except AgiHangup:
                raise
            except Exception as err:  # the call matters more than its recording
                problem = ("mixmonitor_failed", f"{type(err).__name__}: {err}")
        live = None
        if problem is None:
            live = LiveRecording(0, key, uniqueid, channel, agent_id, kind, self.directory / row.path,
                                 ticket_uniqueid=ticket_uniqueid)
            self.live[key] = live
        else:
            row.status, row.reason = "not_recorded", f"{problem[0]}: {problem[1]}"[:255]
            row.ended_at = row.started_at
        registered = self._spawn(self._register(row, live, problem, key, ticket_uniqueid), f"recording-start-{key}")
        if live is not None:
            live.registered = registered
        return None

    async def _register(self, row: Recording, live: LiveRecording | None, problem: tuple[str, str] | None,
                        key: str, ticket_uniqueid: str | None) -> int:
        """Keep the recording's row and tell the ticket (background of ``_start``)."""
        if row.kind != "inbound":
            # The outbound service writes its contact at the very moment the leg answers, in a
            # read-then-write transaction that SQLite fails at once (no busy wait) when another
            # writer commits in between: stay out of its way.
            await asyncio.sleep(OUTBOUND_REGISTER_DELAY)
        rec_id = await _retry_locked(lambda: self._insert(row))
        bound = log.bind(recording_id=rec_id, uniqueid=key, ticket_id=row.ticket_id, kind=row.kind, agent=row.agent_id)
        if live is not None:
            live.id = rec_id
            bound.info("recording.started", path=row.path)
            details = {"status": "recording", "recording_id": rec_id, "path": row.path, "pauses": []}
        else:
            assert problem is not None
            bound.warning("recording.not_recorded", reason=problem[0], detail=problem[1])
            details = {"status": "not_recorded", "reason": problem[0], "detail": problem[1], "recording_id": rec_id}
        if ticket_uniqueid:
            await self.tickets.record_details(ticket_uniqueid, "recording", details)
        return rec_id

    async def _insert(self, row: Recording) -> int:
        async with self.sessions() as session, session.begin():
            session.add(row)
            await session.flush()
            return row.id

    # -- finish -------------------------------------------------------------------------------------

    def ended(self, key: str) -> None:
        """The recorded leg hung up: measure the file once Asterisk has closed it (in the background)."""
        live = self.live.pop(key, None)
        if live is not None:
            self._spawn(self._finish_live(live), f"recording-finish-{key}")

    async def _finish_live(self, live: LiveRecording) -> None:
        if live.registered is not None:
            await live.registered  # the row exists (its id is known) before it is finished
        await self._finish(live.id, live.host_path, live.ticket_uniqueid, self.rec.finish_timeout)

    async def _finish(self, rec_id: int, path: Path, ticket_uniqueid: str | None, settle: float,
                      limit: float | None = None) -> dict[str, Any]:
        """Wait for the file to be closed (or to stop growing for ``settle`` s), then measure and store it."""
        closed = await self._wait_closed(path, settle, limit if limit is not None else settle + 30)
        values: dict[str, Any] = {"ended_at": utcnow()}
        if not closed and not path.exists():
            values.update(status="missing", reason="Asterisk wrote no file (nothing was bridged, or it could not write)")
        else:
            try:
                measured = await asyncio.to_thread(_measure, path)
            except (OSError, wav.NotWav) as err:
                values.update(status="missing", reason=f"unreadable: {err}"[:255])
            else:
                values.update(status="complete", **measured)
        async def store() -> dict[str, Any] | None:
            async with self.sessions() as session, session.begin():
                row = await session.get(Recording, rec_id)
                if row is None:
                    return None
                for name, value in values.items():
                    setattr(row, name, value)
                return summary_of(row)

        summary = await _retry_locked(store)
        if summary is None:
            return values
        log.info("recording.finished", recording_id=rec_id, status=values["status"], path=summary["path"],
                 duration=values.get("duration_seconds"), size=values.get("size_bytes"), repaired=values.get("repaired"))
        if ticket_uniqueid:
            await self.tickets.record_details(ticket_uniqueid, "recording", summary)
        return values

    async def _wait_closed(self, path: Path, settle: float, limit: float) -> bool:
        """True once the header matches the file and the size held still; False after ``settle`` s unchanged."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        last_size, still_since = -1, loop.time()
        while True:
            try:
                size = path.stat().st_size
                consistent = wav.info(path).consistent
            except (OSError, wav.NotWav):
                size, consistent = -1, False
            now = loop.time()
            if size != last_size:
                last_size, still_since = size, now
            elif consistent and size >= 0 and now - still_since >= 0.3:
                return True
            if now - still_since >= settle or now - start >= limit:
                return False
            await asyncio.sleep(0.1)

    async def recover(self) -> None:
        """At start: finish the rows a crash left ``recording`` (their files may still be growing)."""
        async with self.sessions() as session:
            rows = (await session.scalars(select(Recording).where(
                Recording.node == self.settings.node, Recording.status == "recording"))).all()
            pending = [(r.id, self.directory / r.path, r.kind, r.uniqueid) for r in rows]
        for rec_id, path, kind, uniqueid in pending:
            log.info("recording.recovering", recording_id=rec_id, path=str(path))
            self._spawn(self._finish(rec_id, path, uniqueid if kind == "inbound" else None,
                                     settle=2 * self.rec.finish_timeout, limit=RECOVER_LIMIT),
                        f"recording-recover-{rec_id}")

    # -- pause --------------------------------------------------------------------------------------

    def live_of_agent(self, agent_id: str) -> LiveRecording | None:
        """The recording of the call this operator is on now, if any."""
        return next((r for r in self.live.values() if r.agent_id == agent_id), None)

    async def set_paused(self, live: LiveRecording, paused: bool, by: str) -> dict[str, Any]:
        """Mute (pause) or unmute (resume) a live recording; logged on the row and the ticket."""
        if live.key not in self.live:
            raise NotLive("recording.not_live", "the call is no longer being recorded")
        try:
            reply = await self.ami.action({"Action": "MixMonitorMute", "Channel": live.channel, "Direction": "both",
                                           "State": "1" if paused else "0"})
        except AmiError as err:
            raise RecordingError("recording.ami", f"Asterisk did not take the pause: {err}") from err
        final = reply[-1] if isinstance(reply, list) else reply
        if final.get("Response") != "Success":
            raise NotLive("recording.not_live", f"Asterisk refused: {final.get('Message', '?')}")
        live.paused = paused
        entry = {"op": "pause" if paused else "resume", "at": utcnow().isoformat(), "by": by}
        if live.registered is not None:
            await live.registered

        async def store() -> dict[str, Any]:
            async with self.sessions() as session, session.begin():
                row = await session.get(Recording, live.id)
                assert row is not None
                row.pauses = [*row.pauses, entry]
                return summary_of(row)

        summary = await _retry_locked(store)
        log.info("recording.paused" if paused else "recording.resumed", recording_id=live.id, uniqueid=live.key, by=by)
        if live.ticket_uniqueid:
            await self.tickets.record_details(live.ticket_uniqueid, "recording", summary)
        return {"recording_id": live.id, "paused": paused, "pauses": summary["pauses"]}

    # -- reads, listens, flags ------------------------------------------------------------------------

    async def get(self, rec_id: int) -> Recording | None:
        async with self.sessions() as session:
            return await session.get(Recording, rec_id)

    async def find(self, *, ticket_id: int | None = None, uniqueid: str | None = None, agent_id: str | None = None,
                   limit: int = 50) -> list[Recording]:
        """Recordings of a ticket or call (any of its legs), or an operator's, newest first."""
        query = select(Recording).order_by(Recording.started_at.desc(), Recording.id.desc()).limit(limit)
        if ticket_id is not None:
            query = query.where(Recording.ticket_id == ticket_id)
        if uniqueid is not None:
            ticket_ids = select(Ticket.id).where(Ticket.uniqueid == uniqueid).scalar_subquery()
            query = query.where((Recording.uniqueid == uniqueid) | (Recording.ticket_id.in_(ticket_ids)))
        if agent_id is not None:
            query = query.where(Recording.agent_id == agent_id)
        async with self.sessions() as session:
            return list((await session.scalars(query)).all())

    async def in_departments_of(self, user_id: int, ticket_id: int | None) -> bool:
        """True when the ticket (or the ticket its call was merged into) is escalated to one of the
        user's departments (a specialist's recordings grant reaches no further).

        The work-order tables are named, not imported: work orders sit beside recordings.
        """
        if ticket_id is None:
            return False
        orders = table("work_orders", column("ticket_id"), column("parent_id"), column("department_id"))
        bound = table("user_departments", column("user_id"), column("department_id"))
        async with self.sessions() as session:
            row = (await session.execute(select(orders.c.parent_id, orders.c.department_id)
                                         .where(orders.c.ticket_id == ticket_id))).first()
            if row is not None and row.parent_id is not None:
                row = (await session.execute(select(orders.c.parent_id, orders.c.department_id)
                                             .where(orders.c.ticket_id == row.parent_id))).first()
            if row is None or row.department_id is None:
                return False
            found = await session.scalar(select(bound.c.user_id).where(bound.c.user_id == user_id,
                                                                       bound.c.department_id == row.department_id))
        return found is not None

    def file_of(self, row: Recording) -> Path | None:
        """The host path of a complete recording's file (None if it has none or it is gone)."""
        if row.status != "complete" or not row.path:
            return None
        path = (self.directory / row.path).resolve()
        if self.directory not in path.parents or not path.is_file():
            return None
        return path

    async def listened(self, rec_id: int, *, user_id: int | None, username: str, role: str, action: str,
                       address: str) -> bool:
        """Count one request for the audio (any range); True when it opened a playback session (a new row)."""
        now = self.clock()
        key = (user_id if user_id is not None else username, rec_id, action)
        last = self._listening.get(key)
        self._listening[key] = now  # before any await: a player's parallel range requests find it
        if len(self._listening) > 10_000:
            self._listening = {k: t for k, t in self._listening.items() if now - t < LISTEN_SESSION}
        if last is not None and 0 <= now - last < LISTEN_SESSION:
            return False
        try:
            async with self.sessions() as session, session.begin():
                session.add(RecordingListen(recording_id=rec_id, user_id=user_id, username=username, role=role,
                                            action=action, address=address[:64], at=utcnow()))
        except BaseException:
            self._listening.pop(key, None)  # not logged: the next request tries again
            raise
        log.info("recording.listened", recording_id=rec_id, user=username, role=role, action=action)
        return True

    async def listens(self, rec_id: int) -> list[dict[str, Any]]:
        query = select(RecordingListen).where(RecordingListen.recording_id == rec_id).order_by(RecordingListen.id)
        async with self.sessions() as session:
            return [{"username": r.username, "role": r.role, "action": r.action, "at": r.at.isoformat(),
                     "address": r.address} for r in (await session.scalars(query)).all()]

    async def flag(self, rec_id: int, flagged: bool, reason: str, by: str) -> Recording | None:
        """Keep (or stop keeping) a recording past retention."""
        async with self.sessions() as session, session.begin():
            row = await session.get(Recording, rec_id)
            if row is None:
                return None
            row.flagged, row.flag_reason = flagged, reason[:255]
        log.info("recording.flagged" if flagged else "recording.unflagged", recording_id=rec_id, by=by, reason=reason)
        return row

    # -- retention ------------------------------------------------------------------------------------

    async def apply_retention(self, now: dt.datetime | None = None) -> list[dict[str, Any]]:
        """Delete files older than ``retention_days`` that are not flagged; log and return each."""
        if self.rec.retention_days <= 0:
            return []
        now = now or utcnow()
        cutoff = now - dt.timedelta(days=self.rec.retention_days)
        deleted: list[dict[str, Any]] = []
        async with self.sessions() as session, session.begin():
            rows = (await session.scalars(select(Recording).where(
                Recording.started_at < cutoff, Recording.flagged.is_(False),
                Recording.status.in_(("complete", "missing"))))).all()
            for row in rows:
                path = self.directory / row.path if row.path else None
                try:
                    if path is not None:
                        path.unlink(missing_ok=True)
                except OSError as err:
                    log.error("recording.delete_failed", recording_id=row.id, path=row.path, error=str(err))
                    continue
                row.status, row.deleted_at = "deleted", now
                row.reason = f"retention: older than {self.rec.retention_days:g} days"
                entry = {"recording_id": row.id, "ticket_id": row.ticket_id, "path": row.path,
                         "started_at": row.started_at.isoformat(), "size_bytes": row.size_bytes}
                deleted.append(entry)
                log.info("recording.deleted", **entry)
        log.info("recording.retention", deleted=len(deleted), cutoff=cutoff.isoformat())
        return deleted

    async def retention_loop(self) -> None:
        """Run the retention job at start and then every ``retention_interval_hours``."""
        while True:
            try:
                await self.apply_retention()
            except Exception:
                log.exception("recording.retention_failed")
            await asyncio.sleep(self.rec.retention_interval_hours * 3600)


async def _retry_locked(write: Callable[[], Awaitable[T]], attempts: int = 5) -> T:
    """Run one write transaction again when SQLite answers "database is locked" (another writer won)."""
    for attempt in range(attempts):
        try:
            return await write()
        except OperationalError as err:
            if "locked" not in str(err) or attempt == attempts - 1:
                raise
            log.debug("recording.write_retry", attempt=attempt + 1)
            await asyncio.sleep(0.1 * 2**attempt)
    raise AssertionError("unreachable")


def _measure(path: Path) -> dict[str, Any]:
    """Repair the header if Asterisk never closed the file, then duration, size and checksum."""
    repaired = wav.repair(path)
    info = wav.info(path)
    return {"duration_seconds": round(info.duration, 3), "size_bytes": info.file_bytes,
            "sha256": wav.sha256(path), "repaired": repaired}


def summary_of(row: Recording) -> dict[str, Any]:
    """What a ticket (``details.recording``) and the API show of a recording."""
    return {
        "recording_id": row.id,
        "ticket_id": row.ticket_id,
        "uniqueid": row.uniqueid,
        "kind": row.kind,
        "agent_id": row.agent_id,
        "status": row.status,
        "reason": row.reason,
        "path": row.path,
        "started_at": row.started_at.isoformat() if row.started_at else None,
        "ended_at": row.ended_at.isoformat() if row.ended_at else None,
        "duration_seconds": row.duration_seconds,
        "size_bytes": row.size_bytes,
        "sha256": row.sha256,
        "repaired": row.repaired,
        "flagged": row.flagged,
        "flag_reason": row.flag_reason,
        "pauses": list(row.pauses or []),
    }
