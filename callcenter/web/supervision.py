"""Supervisors listen to, whisper to or barge in on operators' calls (issue 15; docs/supervision.md).

Theory of operation
-------------------
- ``start`` asks the pure ``callcenter.web.spy.decide`` whether the supervisor may, then rings the
  supervisor's own phone with AMI Originate into ``[hotline-supervisor]`` (dialplans/supervision.conf);
  answered, the phone runs ChanSpy on the operator's channel with the mode's options.
- ``switch`` changes the mode on the same call: AMI Setvar of ``HOTLINE_SPY_OPTS`` on the phone's
  channel, then Redirect to ChanSpy's priority; ChanSpy ends and starts again in the new mode.
- ``end`` hangs the phone's channel up.  The spy leg is a channel of its own: the operator's call,
  its ticket and the ACD never see it (the adapter ignores channels it did not place), so a leg that
  drops changes nothing but the session.
- Every session is a ``supervision`` contact in the spied call's ticket's history (kept up to date as
  it goes): who (``agent_id``: the supervisor's username), their phone (``number``), how it ended
  (``outcome``), the modes in order (``text``) and in ``details`` the operator, each mode with its
  time and who chose it, when it started ("from"), was answered and ended ("to"), and why.
- With ``[supervision] show_operator`` the operator's desk is told (``supervision`` over the live hub)
  while a supervisor is on the line.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog

from callcenter.adapter import Adapter
from callcenter.exceptions import AmiError
from callcenter.settings import Settings
from callcenter.tickets.service import TicketService
from callcenter.web.exceptions import WebError
from callcenter.web.spy import Facts, Refusal, Spy, check_mode, decide, options

if TYPE_CHECKING:
    from callcenter.workorders.service import WorkOrderService

log = structlog.get_logger(__name__)

LEG_PREFIX = "spy-"  # the supervisor's leg's uniqueid (Originate ChannelId)
SPY_PRIORITY = "2"  # ChanSpy's priority in [hotline-supervisor]
KEEP_ENDED = 200  # ended sessions kept in memory for the calls' tickets


@dataclass
class SpySession:
    """One supervisor's phone on one operator's call."""

    id: str
    by: str
    phone: str
    agent_id: str
    call_id: str
    ticket_id: int | None
    mode: str
    started_at: float
    modes: list[dict[str, Any]] = field(default_factory=list)  # each mode with when and who chose it
    channel: str | None = None
    answered_at: float | None = None
    ended_at: float | None = None
    end_reason: str | None = None
    ended_by: str | None = None
    contact_id: int | None = None  # its contact in the ticket's history
    writing: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def leg_id(self) -> str:
        return LEG_PREFIX + self.id

    @property
    def active(self) -> bool:
        return self.ended_at is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "by": self.by, "phone": self.phone, "agent_id": self.agent_id, "call_id": self.call_id,
            "ticket_id": self.ticket_id, "mode": self.mode, "modes": list(self.modes),
            "started_at": _iso(self.started_at), "answered_at": _iso(self.answered_at), "ended_at": _iso(self.ended_at),
            "end_reason": self.end_reason, "ended_by": self.ended_by, "active": self.active,
        }


class SupervisionService:
    """The live sessions, their AMI legs and their record on the tickets."""

    def __init__(self, settings: Settings, adapter: Adapter, tickets: TicketService,
                 notify: Callable[[str, dict[str, Any]], None], *, work: WorkOrderService | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.adapter = adapter
        self.ami = adapter.ami
        self.tickets = tickets
        self.work = work  # the tickets' contact history (None: sessions are logged only)
        self.notify = notify  # (agent id, message) to that operator's desk
        self.clock = clock
        self.sessions: dict[str, SpySession] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.ami.on("Newchannel", self.on_new_channel)
        self.ami.on("Hangup", self.on_hangup)

    # -- what supervisors do --------------------------------------------------------------------

    def active(self) -> list[SpySession]:
        return [s for s in self.sessions.values() if s.active]

    async def start(self, *, username: str, role: str, phone: str | None, agent_id: str, mode: str) -> SpySession:
        """Ring the supervisor's phone; answered, it spies on ``agent_id``'s call in ``mode``."""
        agent = self.adapter.acd.agents.get(agent_id)
        facts = Facts(
            role=role, username=username, phone=phone, phones=self.settings.supervision.phones, agent_id=agent_id,
            known_agent=agent_id in self.adapter.skills, agent_state=str(agent.state) if agent else None,
            call_id=agent.call_id if agent else None,
            phone_busy=any(s.phone == phone for s in self.active()),
        )
        answer = decide(facts, mode)
        if isinstance(answer, Refusal):
            log.warning("supervision.refused", user=username, role=role, agent=agent_id, mode=mode, reason=answer.slug)
            raise _error(answer)
        ticket = await self.tickets.get(answer.call_id)
        now = self.clock()
        session = SpySession(uuid.uuid4().hex[:16], username, answer.phone, agent_id, answer.call_id,
                             ticket.id if ticket else None, mode, now,
                             modes=[{"mode": mode, "at": _iso(now), "by": username}])
        self.sessions[session.id] = session
        log.info("supervision.started", session=session.id, user=username, phone=session.phone, agent=agent_id,
                 uniqueid=session.call_id, ticket=session.ticket_id, mode=mode)
        self._spawn(self._ring(session, answer))
        await self._record(session)
        return session

    async def switch(self, session_id: str, mode: str, *, username: str) -> SpySession:
        """Change the mode on the same call (Setvar, then Redirect back into ChanSpy)."""
        session = self._live(session_id)
        if (bad := check_mode(mode)) is not None:
            raise _error(bad)
        if session.answered_at is None or session.channel is None:
            raise WebError(409, "supervision.not_answered", "the supervisor's phone has not answered yet")
        if mode != session.mode:
            await self.ami.action({"Action": "Setvar", "Channel": session.channel, "Variable": "HOTLINE_SPY_OPTS",
                                   "Value": options(mode)})
            await self.ami.action({"Action": "Redirect", "Channel": session.channel, "Context": "hotline-supervisor",
                                   "Exten": "s", "Priority": SPY_PRIORITY})
            previous, session.mode = session.mode, mode
            session.modes.append({"mode": mode, "at": _iso(self.clock()), "by": username})
            log.info("supervision.mode", session=session.id, user=username, agent=session.agent_id,
                     uniqueid=session.call_id, mode=mode, previous=previous)
            await self._record(session)
        return session

    async def end(self, session_id: str, *, username: str) -> SpySession:
        """Hang the supervisor's phone up; the operator's call goes on."""
        session = self._live(session_id)
        self._finish(session, "ended", username)
        channel = session.channel
        if channel:
            try:
                await self.ami.action({"Action": "Hangup", "Channel": channel})
            except AmiError as err:  # gone already: the end stands
                log.debug("supervision.hangup_race", session=session.id, reason=str(err))
        await self._record(session)
        return session

    def _live(self, session_id: str) -> SpySession:
        session = self.sessions.get(session_id)
        if session is None or not session.active:
            raise WebError(404, "supervision.no_session", f"no live supervision session {session_id[:40]}")
        return session

    # -- the supervisor's leg ---------------------------------------------------------------------

    async def _ring(self, session: SpySession, spy: Spy) -> None:
        ring = self.settings.supervision.ring_timeout
        action = {
            "Action": "Originate", "Channel": f"PJSIP/{spy.phone}", "Context": "hotline-supervisor", "Exten": "s",
            "Priority": "1", "Timeout": str(int(ring * 1000)), "ChannelId": session.leg_id, "Async": "true",
            "CallerID": f'"{spy.mode} {spy.agent_id}" <{spy.agent_id}>',
            "Variable": f"HOTLINE_SPY_TARGET={spy.target},HOTLINE_SPY_OPTS={spy.options}",
        }
        try:
            replies = await self.ami.action(action, timeout=ring + 10)
            final = replies[-1] if isinstance(replies, list) else replies
            ok = final.get("Response") == "Success"
            reason = "" if ok else f"originate reason {final.get('Reason', '?')}"
        except AmiError as err:
            ok, reason = False, str(err)
        if not session.active:
            return
        if not ok:
            log.info("supervision.not_answered", session=session.id, phone=session.phone, reason=reason)
            self._finish(session, "not_answered", None)
        else:
            session.answered_at = self.clock()
            log.info("supervision.answered", session=session.id, phone=session.phone, agent=session.agent_id)
            if self.settings.supervision.show_operator:
                self.notify(session.agent_id, {"type": "supervision", "active": True})
        await self._record(session)

    def on_new_channel(self, event: Any) -> None:
        session = self._by_leg(event.get("Uniqueid", ""))
        if session is not None:
            session.channel = event.get("Channel") or session.channel

    def on_hangup(self, event: Any) -> None:
        session = self._by_leg(event.get("Uniqueid", ""))
        if session is None or not session.active:
            return
        self._finish(session, "hung_up", None)
        self._spawn(self._record(session))

    def _by_leg(self, uniqueid: str) -> SpySession | None:
        if not uniqueid.startswith(LEG_PREFIX):
            return None
        return self.sessions.get(uniqueid[len(LEG_PREFIX):])

    def _finish(self, session: SpySession, reason: str, by: str | None) -> None:
        session.ended_at, session.end_reason, session.ended_by = self.clock(), reason, by
        log.info("supervision.ended", session=session.id, agent=session.agent_id, uniqueid=session.call_id,
                 reason=reason, by=by)
        others = any(s.agent_id == session.agent_id and s.answered_at for s in self.active())
        if session.answered_at is not None and self.settings.supervision.show_operator and not others:
            self.notify(session.agent_id, {"type": "supervision", "active": False})
        ended = [s for s in self.sessions.values() if not s.active]
        for old in ended[:-KEEP_ENDED]:
            del self.sessions[old.id]

    async def _record(self, session: SpySession) -> None:
        """The session as a contact in its ticket's history: added at the start, then kept up to date."""
        if self.work is None or session.ticket_id is None:
            return
        async with session.writing:
            outcome = session.end_reason or ("on_line" if session.answered_at else "ringing")
            values: dict[str, Any] = {"outcome": outcome, "text": " → ".join(m["mode"] for m in session.modes),
                                      "details": session.as_dict()}
            try:
                if session.contact_id is None:
                    session.contact_id = await self.work.record_contact(
                        session.ticket_id, "supervision", agent_id=session.by, number=session.phone, **values)
                else:
                    await self.work.update_contact(session.contact_id, **values)
            except Exception:  # the session goes on; its log lines keep the facts
                log.exception("supervision.not_recorded", session=session.id, ticket=session.ticket_id)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """End every live session (their phones hang up) and wait for the writes."""
        for session in self.active():
            try:
                await self.end(session.id, username="system")
            except (AmiError, WebError):
                pass
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=3)


def _error(refusal: Refusal) -> WebError:
    err = _Refused(refusal.status, refusal.slug, refusal.message)
    err.problems = [{"field": refusal.field, "problem": refusal.message}] if refusal.field else []
    return err


class _Refused(WebError):
    problems: list[dict[str, str]]

    def http_fields(self) -> dict[str, Any]:
        return {"problems": self.problems}


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat()
