"""Outbound calls through Asterisk: department escalations, operator callbacks, the satisfaction survey.

Theory of operation (every call is an AMI ``Originate`` into our context ``[hotline-outbound]``,
``dialplans/outbound.conf``; the answered leg opens a FastAGI session on route ``outbound``):

- **Escalation**: the department's office phone rings for ``office_ring_seconds``; if nobody
  answers, each specialist on duty is rung on the mobile in rank order for
  ``mobile_ring_seconds``, until someone answers.  The one who answers hears a beep and the ticket
  number twice and presses 1 to acknowledge.  Every attempt and who was reached go on the
  ticket's escalation contact.
- **Callback**: the operator's phone rings first (its display shows the caller's number, the web
  page pops the ticket); when the operator answers, the session dials the caller.  ``DialEnd``
  (AMI) says whether the caller answered.  When the operator hangs up, Dial's ``F()`` option sends
  the caller on to the survey (if asked for).
- **Survey**: the caller hears a beep (or ``hotline/<lang>/survey`` when such a prompt was built)
  and presses 1-5; the score goes on the ticket (a satisfied score closes a solved ticket, an
  unsatisfied one reopens it).

Each outbound leg's Asterisk uniqueid is chosen by us (``ChannelId``), so the AGI session and AMI
events find their context in ``self.live`` without parsing anything else.

Every outside number goes through the dialling policy (``policy.py``, ``[outbound]`` settings) in
``admit`` before it becomes a dial string: emergency, international and premium numbers and
anything the allowed patterns do not cover are refused, and so is a call over the per-user or the
global rate limit.  Each refusal is logged (``outbound.dial_refused`` with the reason), kept in
``refusals`` and announced to the work-order listeners (the supervisors' wallboard shows it).
Callbacks and escalations are refused with ``ami.down`` (503) while AMI does not answer, instead
of being accepted and failing later.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog
from panoramisk.message import Message

from callcenter.agi.server import AgiHangup, AgiSession
from callcenter.ami.client import AmiClient
from callcenter.exceptions import AmiError
from callcenter.outbound.policy import REASONS as REFUSAL_REASONS
from callcenter.outbound.policy import Policy, RateLimiter, classify, policy_for
from callcenter.settings import Settings
from callcenter.store.models import normalise_number, utcnow
from callcenter.workorders.departments import DirectoryService
from callcenter.workorders.exceptions import InvalidData, NotFound
from callcenter.workorders.service import WorkOrderService

log = structlog.get_logger(__name__)

CONTEXT = "hotline-outbound"
# OriginateResponse Reason codes (Asterisk's AST_CONTROL_*).
REASONS = {"0": "failed", "1": "hung_up", "3": "no_answer", "4": "answered", "5": "busy", "8": "congestion"}
DIALSTATUS = {"ANSWER": "answered", "NOANSWER": "no_answer", "BUSY": "busy", "CONGESTION": "congestion",
              "CHANUNAVAIL": "unavailable", "CANCEL": "cancelled", "DONTCALL": "refused", "TORTURE": "refused"}
_AGENT = re.compile(r"^[A-Za-z0-9]{1,64}$")
REFUSALS_KEPT = 100  # refused attempts kept in memory for supervisors


class DialRefused(InvalidData):
    """The dialling policy refused a number, or a rate limit was reached (``reason``: a key of
    ``policy.REASONS``).  An ``InvalidData``: the API answers 400 with slug ``outbound.<reason>``;
    ``status`` is the more specific answer an API may prefer (403 refused number, 429 rate limit)."""

    def __init__(self, reason: str, problem: str, number: str) -> None:
        super().__init__(f"outbound.{reason}", f"the call was refused: {problem}",
                         [{"field": "number", "problem": f"{number!r}: {problem}"}])
        self.reason = reason
        self.status = 429 if reason.startswith("rate_") else 403


class OutboundRecorder(Protocol):
    """What outbound calls ask of call recording (``callcenter.recording.service.RecordingService`` is one)."""

    async def start_outbound(self, agi: AgiSession, kind: str, ticket_id: int, agent_id: str | None) -> None: ...

    def ended(self, key: str) -> None: ...


def policy_of(settings: Settings) -> Policy:
    """The dialling policy the settings describe (``[outbound]``; caller endpoints are internal)."""
    return policy_for(settings.outbound, settings.asterisk.caller_endpoints)


def ami_answering(ami: Any) -> bool:
    """AMI answers (``AmiClient.responsive``: a ping answered lately), or at least is logged in."""
    responsive = getattr(ami, "responsive", None)
    return bool(ami.connected if responsive is None else responsive)


@dataclass
class Live:
    """One outbound leg we placed, until its story is written."""

    kind: str  # escalation | callback
    ticket_id: int
    contact_id: int
    agent_id: str | None = None
    number: str = ""  # the other party's number (digits)
    survey: bool = False
    task_id: int | None = None
    caller_outcome: str | None = None  # callback: what happened when the caller was dialled
    acknowledged: bool | None = None  # escalation: pressed 1
    done: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class OutboundService:
    """Places outbound calls and serves their FastAGI sessions (route ``outbound``)."""

    def __init__(self, settings: Settings, ami: AmiClient, work: WorkOrderService, directory: DirectoryService,
                 recorder: OutboundRecorder | None = None) -> None:
        self.settings = settings
        self.out = settings.outbound
        self.ami = ami
        self.work = work
        self.directory = directory
        self.live: dict[str, Live] = {}
        self.surveys: dict[str, Live] = {}  # callback id -> its Live, for the caller's survey leg
        self._tasks: set[asyncio.Task] = set()
        self.recorder = recorder  # None: outbound calls are not recorded
        self.policy = policy_of(settings)
        self.limiter = RateLimiter(self.policy.operator_per_minute, self.policy.global_per_minute)
        self.refusals: deque[dict[str, Any]] = deque(maxlen=REFUSALS_KEPT)  # newest last
        self.clock: Callable[[], float] = time.monotonic  # the rate limits' clock
        ami.on("DialEnd", self.on_dial_end)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, coro: Any, name: str) -> asyncio.Task:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- dial strings -------------------------------------------------------------------------------

    def external(self, number: str) -> str:
        """Dial string of a number the policy allows (no rate limit counted: see ``admit``)."""
        verdict = classify(number, self.policy)
        if not verdict.allowed:
            raise DialRefused(verdict.reason or "refused", verdict.problem, number)
        if verdict.internal:
            return self.out.internal_dial.format(number=verdict.number)
        return self.out.dial.format(number=self.out.prefix + verdict.number)

    def admit(self, number: str, *, by: str | None, kind: str, ticket_id: int | None = None,
              task_id: int | None = None) -> str:
        """The dial string of ``number`` if the policy and the rate limits allow one more call now.

        Counts the call against ``by``'s and the global limit (not for internal endpoints); a refusal
        is logged, kept for supervisors and raised as ``DialRefused``.
        """
        verdict = classify(number, self.policy)
        reason = verdict.reason
        if verdict.allowed and not verdict.internal:
            reason = self.limiter.take(by or "anonymous", self.clock())
        if reason is not None:
            self._refused(number, reason, by=by, kind=kind, ticket_id=ticket_id, task_id=task_id)
            problem = verdict.problem if not verdict.allowed else REFUSAL_REASONS[reason]
            raise DialRefused(reason, problem, number)
        if verdict.internal:
            return self.out.internal_dial.format(number=verdict.number)
        return self.out.dial.format(number=self.out.prefix + verdict.number)

    def rate_check(self, by: str | None, *, kind: str, number: str = "", ticket_id: int | None = None) -> None:
        """Refuse now (logged, kept) if ``by`` or everyone is already at the rate limit; counts nothing."""
        reason = self.limiter.check(by or "anonymous", self.clock())
        if reason is not None:
            self._refused(number, reason, by=by, kind=kind, ticket_id=ticket_id)
            raise DialRefused(reason, REFUSAL_REASONS[reason], number)

    def _refused(self, number: str, reason: str, *, by: str | None, kind: str, ticket_id: int | None = None,
                 task_id: int | None = None) -> None:
        entry = {"at": utcnow().isoformat(), "number": str(number)[:40], "reason": reason, "by": by, "kind": kind,
                 "ticket_id": ticket_id, "task_id": task_id}
        self.refusals.append(entry)
        log.warning("outbound.dial_refused", **entry)
        self.work.notify("outbound.dial_refused", dict(entry))

    def _require_ami(self, what: str) -> None:
        if not ami_answering(self.ami):
            raise AmiError("ami.down", f"AMI is not answering: the {what} cannot be placed now")

    def agent_channel(self, agent_id: str) -> str:
        if not _AGENT.match(agent_id or ""):
            raise InvalidData("outbound.invalid_agent", "no operator to ring",
                              [{"field": "agent_id", "problem": "give the operator's agent id (letters and digits)"}])
        return self.out.agent_dial.format(agent=agent_id)

    @property
    def caller_id(self) -> str:
        return self.out.caller_id or self.settings.asterisk.hotline_number

    # -- escalation ---------------------------------------------------------------------------------

    async def escalate(self, ticket_id: int, department_id: int, by: str | None, reason: str = "") -> dict[str, Any]:
        """Start ringing the department about ``ticket_id``; returns the escalation contact at once."""
        self._require_ami("escalation call")
        targets = await self.directory.escalation_targets(department_id, utcnow(), self.work.tz)
        department = await self.directory.department(department_id)
        if not targets:
            raise InvalidData("escalation.no_targets", f"{department['name']} has no office phone and no specialist on duty",
                              [{"field": "department_id", "problem": "add an office phone or a specialist on duty"}])
        # A number the policy refuses is skipped when its turn comes (logged then); none allowed refuses it all now.
        verdicts = [classify(target["number"], self.policy) for target in targets]
        if not any(v.allowed for v in verdicts):
            for target, verdict in zip(targets, verdicts, strict=True):
                self._refused(target["number"], verdict.reason or "refused", by=by, kind="escalation", ticket_id=ticket_id)
            raise DialRefused(verdicts[0].reason or "refused", verdicts[0].problem, targets[0]["number"])
        self.rate_check(by, kind="escalation", number=targets[0]["number"], ticket_id=ticket_id)
        contact_id = await self.work.record_contact(
            ticket_id, "escalation", agent_id=by, outcome="calling", reached=None, text=reason,
            details={"department_id": department_id, "department": department["name"], "targets": targets,
                     "attempts": []},
        )
        self._spawn(self._escalate(ticket_id, contact_id, targets, by), f"escalation-{ticket_id}")
        log.info("escalation.started", ticket_id=ticket_id, department=department["name"], targets=len(targets))
        return {"contact_id": contact_id, "department": department["name"], "targets": targets}

    async def _escalate(self, ticket_id: int, contact_id: int, targets: list[dict[str, str]], by: str | None = None) -> None:
        attempts: list[dict[str, Any]] = []
        reached: dict[str, str] | None = None
        live = Live("escalation", ticket_id, contact_id)
        try:
            for target in targets:
                ring = self.out.office_ring_seconds if target["role"] == "office" else self.out.mobile_ring_seconds
                live = Live("escalation", ticket_id, contact_id, number=target["number"])
                try:
                    dial = self.admit(target["number"], by=by, kind="escalation", ticket_id=ticket_id)
                except DialRefused as err:
                    attempts.append({**target, "outcome": "refused", "reason": err.reason, "at": utcnow().isoformat()})
                    await self.work.update_contact(contact_id, details={"attempts": attempts})
                    continue
                outcome = await self.originate(live, dial, "escalation", ring,
                                                f'"热线工单{ticket_id}" <{self.caller_id}>')
                attempts.append({**target, "outcome": outcome, "at": utcnow().isoformat()})
                await self.work.update_contact(contact_id, details={"attempts": attempts})
                log.info("escalation.attempt", ticket_id=ticket_id, role=target["role"], name=target["name"], outcome=outcome)
                if outcome == "answered":
                    reached = target
                    try:  # the session plays the ticket number and waits for the key
                        await asyncio.wait_for(asyncio.shield(live.done), self.out.escalation_ack_timeout + 15)
                    except TimeoutError:
                        pass
                    break
        finally:
            final = "reached" if reached else "nobody_reached"
            await self.work.update_contact(
                contact_id, outcome=final, reached=reached["name"] if reached else None, number=reached["number"] if reached else None,
                details={"attempts": attempts, "acknowledged": live.acknowledged if reached else None},
            )
            self.work.notify("escalation.finished", {"ticket_id": ticket_id, "outcome": final,
                                                     "reached": reached["name"] if reached else None})
            log.info("escalation.finished", ticket_id=ticket_id, outcome=final, reached=reached["name"] if reached else None)

    # -- callbacks ------------------------------------------------------------------------------------

    async def callback(self, ticket_id: int, agent_id: str, *, number: str | None = None, survey: bool | None = None,
                       task_id: int | None = None, by: str | None = None) -> dict[str, Any]:
        """Ring the operator, then the caller; returns the callback contact at once."""
        self._require_ami("callback")
        ticket = await self.work.get(ticket_id)
        number = number or ticket["caller_number"]
        if not number:
            raise InvalidData("callback.no_number", "the ticket has no caller number to call back",
                              [{"field": "number", "problem": "give the number to call"}])
        channel = self.agent_channel(agent_id)
        dial = self.admit(number, by=by or agent_id, kind="callback", ticket_id=ticket_id, task_id=task_id)
        survey = self.out.survey if survey is None else survey
        contact_id = await self.work.record_contact(
            ticket_id, "callback", agent_id=agent_id, number=normalise_number(number), outcome="ringing_operator",
            details={"task_id": task_id, "survey": survey, "by": by},
        )
        live = Live("callback", ticket_id, contact_id, agent_id=agent_id, number=normalise_number(number),
                    survey=survey, task_id=task_id)
        self._spawn(self._callback(live, channel, dial), f"callback-{ticket_id}")
        log.info("callback.started", ticket_id=ticket_id, agent=agent_id, number=live.number)
        return {"contact_id": contact_id, "agent_id": agent_id, "number": live.number, "survey": survey}

    async def _callback(self, live: Live, channel: str, dial: str) -> None:
        live.dial = dial  # type: ignore[attr-defined]
        outcome = await self.originate(live, channel, "callback", self.out.agent_ring_seconds,
                                        f'"回访 {live.number}" <{live.number}>')
        if outcome != "answered":
            await self.work.update_contact(live.contact_id, outcome=f"operator_{outcome}")
            self.forget(live)
            self.work.notify("callback.finished", {"ticket_id": live.ticket_id, "outcome": f"operator_{outcome}",
                                                   "agent_id": live.agent_id, "task_id": live.task_id})
            log.info("callback.operator_missed", ticket_id=live.ticket_id, agent=live.agent_id, outcome=outcome)
            return
        try:
            await asyncio.wait_for(asyncio.shield(live.done), self.out.caller_ring_seconds + 3600)
        except TimeoutError:
            pass
        finally:
            self.forget(live)

    def forget(self, live: Live) -> None:
        """Drop ``live``'s legs: its calls are over (also used by the list runner)."""
        for key in [k for k, v in self.live.items() if v is live]:
            self.live.pop(key, None)

    async def _finish_callback(self, live: Live) -> None:
        """Write the callback's outcome once the operator's session ended; log the task attempt."""
        outcome = live.caller_outcome or "operator_hung_up"
        await self.work.update_contact(live.contact_id, outcome=outcome)
        if live.task_id is not None:
            try:
                await self.work.task_attempt(live.task_id, result=outcome, done=outcome == "answered", agent_id=live.agent_id)
            except NotFound:
                log.warning("callback.task_missing", task_id=live.task_id)
        log.info("callback.finished", ticket_id=live.ticket_id, agent=live.agent_id, outcome=outcome)
        self.work.notify("callback.finished", {"ticket_id": live.ticket_id, "outcome": outcome, "agent_id": live.agent_id,
                                               "task_id": live.task_id})

    def on_dial_end(self, event: Message) -> None:
        """The caller's leg of a callback was answered, or not (DialEnd on the operator's channel)."""
        live = self.live.get(event.get("Uniqueid", ""))
        if live is None or live.kind != "callback":
            return
        status = event.get("DialStatus", "")
        live.caller_outcome = DIALSTATUS.get(status, status.lower() or "unknown")
        log.info("callback.caller_dialled", ticket_id=live.ticket_id, outcome=live.caller_outcome)

    # -- AMI Originate ------------------------------------------------------------------------------

    async def originate(self, live: Live, channel: str, exten: str, ring: float, caller_id: str) -> str:
        """Ring ``channel`` for ``ring`` seconds into ``[hotline-outbound] exten``; the outcome word."""
        leg_id = f"ob-{uuid.uuid4().hex[:20]}"
        self.live[leg_id] = live
        action = {
            "Action": "Originate",
            "Channel": channel,
            "Context": CONTEXT,
            "Exten": exten,
            "Priority": "1",
            "Timeout": str(int(ring * 1000)),
            "CallerID": caller_id,
            "ChannelId": leg_id,
            "Variable": f"HOTLINE_TICKET={live.ticket_id}",
            "Async": "true",
        }
        try:
            replies = await self.ami.action(action, timeout=ring + 10)
        except AmiError as err:
            self.live.pop(leg_id, None)
            log.warning("outbound.originate_failed", channel=channel, reason=str(err))
            return "failed"
        final = replies[-1] if isinstance(replies, list) else replies
        if final.get("Response") == "Success":
            return "answered"
        self.live.pop(leg_id, None)
        return REASONS.get(str(final.get("Reason", "0")), "failed")

    # -- the FastAGI route ------------------------------------------------------------------------------

    async def serve(self, agi: AgiSession) -> None:
        """``agi://.../outbound``: the answered leg of an escalation or callback, or the survey."""
        exten = agi.env("extension")
        if exten == "survey":
            await self._serve_survey(agi)
            return
        live = self.live.get(agi.env("uniqueid"))
        if live is None:
            log.info("outbound.unknown_leg", uniqueid=agi.env("uniqueid"), exten=exten)
            await agi.run("HANGUP")
            return
        try:
            if live.kind == "escalation":
                await self._serve_escalation(agi, live)
            else:
                await self._serve_callback(agi, live)
        finally:
            if not live.done.done():
                live.done.set_result(None)

    async def _serve_escalation(self, agi: AgiSession, live: Live) -> None:
        """The department answered: the ticket number twice, then 1 acknowledges."""
        try:
            if self.recorder is not None:  # the whole answered leg: the ticket read out and the key
                await self.recorder.start_outbound(agi, "escalation", live.ticket_id, None)
            for _ in range(2):
                await agi.exec("Playback", "beep")
                await agi.run(f'SAY DIGITS {live.ticket_id} ""')
            result = await agi.run(f"GET DATA beep {int(self.out.escalation_ack_timeout * 1000)} 1")
            key = result.get("result", ("", ""))[0]
            live.acknowledged = key == "1"
            if live.acknowledged:
                await agi.exec("Playback", "auth-thankyou")
        except AgiHangup:
            live.acknowledged = bool(live.acknowledged)
        finally:
            if self.recorder is not None:
                self.recorder.ended(agi.env("uniqueid"))
        log.info("escalation.answered", ticket_id=live.ticket_id, number=live.number, acknowledged=live.acknowledged)

    async def _serve_callback(self, agi: AgiSession, live: Live) -> None:
        """The operator answered: pop the ticket, dial the caller, survey after the operator hangs up."""
        self.work.notify("callback.operator_answered", {"ticket_id": live.ticket_id, "agent_id": live.agent_id,
                                                        "number": live.number})
        await self.work.update_contact(live.contact_id, outcome="dialing_caller")
        callback_id = agi.env("uniqueid")
        self.surveys[callback_id] = live
        try:
            await agi.set_variable("__HOTLINE_TICKET", live.ticket_id)
            await agi.set_variable("__HOTLINE_CALLBACK", callback_id)
            options = "g" + ("F(hotline-outbound^survey^1)" if live.survey else "")
            dial = getattr(live, "dial")
            if self.recorder is not None:  # on the operator's leg: operator and caller, while bridged
                await self.recorder.start_outbound(agi, "callback", live.ticket_id, live.agent_id)
            await agi.exec("Dial", f"{dial},{int(self.out.caller_ring_seconds)},{options}")
            status = await agi.get_variable("DIALSTATUS")
            live.caller_outcome = live.caller_outcome or DIALSTATUS.get(status, status.lower() or None)
        except AgiHangup:
            pass  # the operator hung up: DialEnd told us whether the caller had answered
        finally:
            if self.recorder is not None:
                self.recorder.ended(callback_id)
            await self._finish_callback(live)
            if not live.survey or live.caller_outcome != "answered":
                self.surveys.pop(callback_id, None)

    async def _serve_survey(self, agi: AgiSession) -> None:
        """The caller, after the operator hung up: one key 1-5, twice asked at most."""
        callback_id = await agi.get_variable("HOTLINE_CALLBACK")
        ticket = await agi.get_variable("HOTLINE_TICKET")
        live = self.surveys.pop(callback_id, None)
        if not ticket.isdigit():
            log.warning("survey.no_ticket", uniqueid=agi.env("uniqueid"))
            return
        ticket_id = int(ticket)
        prompt = self._prompt("survey")
        score: int | None = None
        try:
            for _ in range(2):
                result = await agi.run(f"GET DATA {prompt} {int(self.out.survey_timeout * 1000)} 1")
                key = result.get("result", ("", ""))[0]
                if key in ("1", "2", "3", "4", "5"):
                    score = int(key)
                    break
            if score is not None:
                await agi.exec("Playback", "auth-thankyou")
        except AgiHangup:
            pass
        agent = live.agent_id if live else None
        if score is None:
            await self.work.record_contact(ticket_id, "survey", agent_id=agent, outcome="no_key",
                                           details={"via": "ivr", "callback": callback_id})
            log.info("survey.no_key", ticket_id=ticket_id)
            return
        await self.work.record_survey(ticket_id, score, agent_id=agent, via="ivr")

    def _prompt(self, name: str) -> str:
        """``hotline/zh/<name>`` when that prompt was built (see prompts/), else a beep."""
        sounds = self.settings.sounds_path
        if sounds is not None and (sounds / "hotline" / "zh" / f"{name}.wav").exists():
            return f"{self.settings.asterisk_sounds_dir}/hotline/zh/{name}"
        return "beep"
