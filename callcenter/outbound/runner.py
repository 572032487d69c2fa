"""The outbound runner: dials list tasks in the off-peak windows and offers abandoned calls' callbacks.

Theory of operation (one asyncio task in the controller; decisions in ``planner``, rows in ``lists``):

- **List calls** (day-7 follow-ups, appointment reminders).  Each look, the planner picks at most
  one due task; the runner logs an ``outbound_attempts`` row (``calling``) and rings the patient
  with the existing outbound machinery (``OutboundService.originate``: AMI Originate into
  ``[hotline-outbound] message``).  When the patient answers, the leg opens a FastAGI session on
  route ``outbound-list`` (``serve``): the message in the task's language, then "press 1 for an
  operator" (twice at most), then goodbye.  Key 1 makes the leg an inbound hotline call: a ticket
  first (with the patient's number), then the ACD queue like any caller; if the controller fails
  while the patient waits, the dialplan hands them to the fallback queue.  The attempt's result
  (answered, no_answer, busy, failed) and what happened in the call (message heard whole or
  interrupted, key, ticket of the operator call) go on the attempt row; the retry rules decide
  the task's next step.
- **Abandoned-call callbacks**.  When no inbound caller waits and an operator is free, the oldest
  due ``abandoned`` task is offered to the operator idle longest as an ordinary callback
  (``OutboundService.callback``: the operator's phone first, then the caller).  The operator is
  reserved in the ACD (phone busy) in the same step that picks them, before anything is awaited, so
  no inbound call is offered to them at the same time; their device state takes over from there.
  Whatever ends the callback (its outcome, an error of the database or of AMI, a bug, the runner
  stopping) releases the reservation, re-reads the phones' device states and frees the slot, so one
  failed callback never stops the next.  An operator who does not answer costs the caller no
  attempt: the task waits for the next free operator.
- **Campaign calls** (sampled satisfaction campaigns, ``callcenter.outbound.campaigns``) are list
  tasks of kind ``satisfaction_sample`` with their campaign's own windows (working days and holidays
  differ; the planner decides).  The answered patient hears the survey prompt and presses 1-5 (asked
  twice at most); the score goes to the ticket through ``record_survey`` (``via="campaign"``), no key
  is a "no key" survey contact; the attempt is answered either way.
- A controller that stops mid-call leaves ``calling`` rows; the next start marks them
  ``interrupted`` (a list task's attempt counts, so the bound holds across restarts).

``clock`` is injectable (tests use a clock inside a window); the runner also looks every
``lists.check_seconds`` and at once after an import (``wake``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from callcenter.acd import AgentPhoneBusy, AgentState
from callcenter.adapter import Adapter
from callcenter.agi.server import AgiHangup, AgiSession
from callcenter.exceptions import AmiError
from callcenter.ivr.flow import digit_of as key_of
from callcenter.ivr.prompts import playable, sound_path
from callcenter.outbound.campaigns import CampaignStore
from callcenter.outbound.lists import ListStore
from callcenter.outbound.models import CAMPAIGN_KIND, DIALLED_KINDS, LIST_KINDS
from callcenter.outbound.planner import (
    HOUR,
    Capacity,
    DayWindows,
    ListTask,
    Operator,
    outcome_of,
    parse_windows,
    pick_callback,
    plan,
)
from callcenter.outbound.service import Live, OutboundService
from callcenter.settings import Settings
from callcenter.store.models import utcnow
from callcenter.tickets.service import TicketService
from callcenter.workorders.exceptions import WorkOrderError
from callcenter.workorders.models import CallbackTask

log = structlog.get_logger(__name__)

ROUTE = "outbound-list"  # FastAGI route of an answered list call (dialplans/outbound.conf, exten "message")
PRESS_ONE = "outbound_press_one"
GOODBYE = "outbound_goodbye"
SURVEY = "campaign_survey"  # "how satisfied were you ... press 1 to 5"
THANKS = "campaign_thanks"
SCORES = "12345"
NO_WINDOWS = DayWindows((), ())  # a campaign task whose campaign is gone is never dialled
OFFERS = 2  # "press 1" is said at most this often
CALLBACK_LIMIT = 3600.0  # seconds an automatic callback may take before the runner stops waiting for it


@dataclass(eq=False)
class ListLive(Live):
    """An answered (or ringing) list call, found by the FastAGI session through ``OutboundService.live``."""

    message: str = ""  # prompt name: the task's kind
    language: str = "zh"
    name: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    call_ticket_id: int | None = None
    campaign_id: int | None = None


class ListRunner:
    """Dials list tasks and automatic callbacks; serves the answered list calls (FastAGI)."""

    def __init__(self, settings: Settings, store: ListStore, outbound: OutboundService, adapter: Adapter,
                 tickets: TicketService, clock: Callable[[], dt.datetime] = utcnow,
                 campaigns: CampaignStore | None = None) -> None:
        self.settings = settings
        self.lists = settings.lists
        self.store, self.outbound, self.adapter, self.tickets = store, outbound, adapter, tickets
        self.clock = clock
        self.campaigns = campaigns  # None: campaign tasks are not dialled
        self.windows = parse_windows(self.lists.windows)
        self.callback_windows = parse_windows(self.lists.callback_windows)
        self.capacity = Capacity(self.lists.per_hour, self.lists.concurrent)
        self.in_flight: set[int] = set()  # list tasks being called
        self.callbacks: dict[int, asyncio.Future] = {}  # abandoned task id -> the callback's outcome
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task | None = None
        self._tasks: set[asyncio.Task] = set()

    # -- life -----------------------------------------------------------------------------------------

    async def start(self) -> None:
        interrupted = await self.store.recover(self.clock())
        if interrupted:
            log.warning("outbound.attempts_interrupted", attempts=interrupted)
        self.outbound.work.listeners.append(self.on_work_event)
        self._loop_task = asyncio.create_task(self._loop(), name="outbound-runner")

    async def close(self) -> None:
        if self.on_work_event in self.outbound.work.listeners:
            self.outbound.work.listeners.remove(self.on_work_event)
        tasks = [t for t in (self._loop_task, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def wake(self) -> None:
        """Look again now (after an import, an ended call, a changed clock)."""
        self._wake.set()

    def _spawn(self, coro: Any, name: str) -> asyncio.Task:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _loop(self) -> None:
        while True:
            self._wake.clear()
            try:
                wait = await self.tick()
            except Exception:
                log.exception("outbound.runner_failed")
                wait = self.lists.check_seconds
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=wait)
            except TimeoutError:
                pass

    async def tick(self) -> float:
        """One look: expire, dial what the planner says, offer a callback; seconds until the next look."""
        now = self.clock()
        wake_at = now + dt.timedelta(seconds=self.lists.check_seconds)
        if self.lists.enabled:
            pending = await self.store.pending(DIALLED_KINDS if self.campaigns is not None else LIST_KINDS)
            starts = await self.store.recent_starts(now - HOUR)
            decided = plan(await self._planned(pending.values()), now, self.windows, self.store.tz, self.capacity,
                           in_flight=frozenset(self.in_flight), recent_starts=starts)
            await self.store.expire(decided.expire, now)
            for task_id in decided.dial:
                self.in_flight.add(task_id)
                self._spawn(self._dial(pending[task_id], now), f"list-call-{task_id}")
            if decided.wake_at is not None:
                wake_at = min(wake_at, decided.wake_at)
        if self.lists.auto_callback:
            await self._offer_callback(now)
        return max(0.05, (wake_at - now).total_seconds())

    async def _planned(self, tasks: Any) -> list[ListTask]:
        """The planner's view of pending tasks; a campaign's task carries its campaign's windows."""
        tasks = list(tasks)
        campaign_lists = {t.list_id for t in tasks if t.kind == CAMPAIGN_KIND and t.list_id is not None}
        windows = await self.campaigns.windows_by_list(campaign_lists) if self.campaigns and campaign_lists else {}
        return [ListTask(t.id, t.not_before, t.due_by, t.attempts, t.max_attempts,
                         windows.get(t.list_id, NO_WINDOWS) if t.kind == CAMPAIGN_KIND else None)  # type: ignore[arg-type]
                for t in tasks]

    # -- list calls -------------------------------------------------------------------------------------

    async def _dial(self, task: CallbackTask, now: dt.datetime) -> None:
        live = ListLive("message", task.ticket_id or 0, 0, number=task.number, task_id=task.id, message=task.kind,
                        language=str(task.details.get("language", "zh")), name=task.name,
                        campaign_id=task.details.get("campaign_id"))
        try:
            attempt_id = await self.store.start_attempt(task, now)
            try:  # the dialling policy and its rate limits (a refusal is logged and shown to supervisors)
                dial = self.outbound.admit(task.number, by="lists", kind=task.kind, ticket_id=task.ticket_id,
                                           task_id=task.id)
            except WorkOrderError as err:
                reason = "failed"
                live.details["refused"] = getattr(err, "reason", err.slug)
            else:
                caller_id = f'"儿童医院热线" <{self.outbound.caller_id}>'
                reason = await self.outbound.originate(live, dial, "message", self.lists.ring_seconds, caller_id)
            result = outcome_of(reason)
            log.info("outbound.list_call", task_id=task.id, kind=task.kind, number=task.number, result=result)
            if result == "answered":
                try:  # the message, the key, and the hand-over to an operator if asked
                    await asyncio.wait_for(asyncio.shield(live.done), 600)
                except TimeoutError:
                    live.details["note"] = "no FastAGI session reported back"
            details = {"reason": reason, **live.details} if reason != result else live.details
            await self.store.finish_attempt(attempt_id, result, self.clock(), details, call_ticket_id=live.call_ticket_id)
        except Exception:
            log.exception("outbound.list_call_failed", task_id=task.id)
        finally:
            self.outbound.forget(live)
            self.in_flight.discard(task.id)
            self.wake()

    async def serve(self, agi: AgiSession) -> None:
        """``agi://.../outbound-list``: the patient answered: message, "press 1", goodbye or an operator."""
        live = self.outbound.live.get(agi.env("uniqueid"))
        if not isinstance(live, ListLive):
            log.info("outbound.unknown_list_leg", uniqueid=agi.env("uniqueid"))
            await agi.run("HANGUP")
            return
        try:
            if live.message == CAMPAIGN_KIND:
                await self._survey(agi, live)
            elif await self._message(agi, live) == "1":
                await self._to_operator(agi, live)
            else:
                await self._play(agi, live, GOODBYE, "")
        except AgiHangup:
            live.details.setdefault("hung_up", "patient")
        finally:
            if not live.done.done():
                live.done.set_result(None)

    async def _survey(self, agi: AgiSession, live: ListLive) -> None:
        """A campaign call: the survey prompt, one key 1-5 (asked twice at most), the score on the ticket."""
        score: int | None = None
        try:
            for _ in range(2):
                result = await agi.run(f"GET DATA {self._file(live, SURVEY)} {int(self.lists.key_timeout * 1000)} 1")
                key = result.get("result", ("", ""))[0]
                if key and key in SCORES:
                    score = int(key)
                    break
            live.details["key"] = score
            await self._play(agi, live, THANKS if score is not None else GOODBYE, "")
        finally:  # a hang-up after the key still counts the key
            live.details.setdefault("key", score)
            if self.campaigns is not None and live.task_id is not None and live.campaign_id is not None:
                try:
                    await self.campaigns.record_score(self.outbound.work, live.task_id, live.ticket_id,
                                                      live.campaign_id, score, now=self.clock())
                except Exception:
                    log.exception("campaign.score_failed", task_id=live.task_id, ticket_id=live.ticket_id)
                    live.details["score_error"] = True

    def _file(self, live: ListLive, name: str) -> str:
        """The prompt's file for GET DATA, or a beep when it was not built."""
        sounds = self.settings.sounds_path
        if sounds is not None and not sound_path(sounds, live.language, name).exists():
            log.warning("outbound.prompt_missing", prompt=name, language=live.language)
            live.details.setdefault("prompts_missing", []).append(name)
            return "beep"
        return playable(self.settings.asterisk_sounds_dir, live.language, name)

    async def _message(self, agi: AgiSession, live: ListLive) -> str | None:
        """The task's message, then the operator offer; the key pressed ("1") or None."""
        key = await self._play(agi, live, live.message, "1")
        live.details["message"] = "interrupted" if key else "whole"
        for _ in range(OFFERS):
            if key == "1":
                break
            key = await self._play(agi, live, PRESS_ONE, "1")
            if key is None:
                key = key_of(await agi.run(f"WAIT FOR DIGIT {int(self.lists.key_timeout * 1000)}"))
        live.details["key"] = key
        return key

    async def _play(self, agi: AgiSession, live: ListLive, name: str, keys: str) -> str | None:
        """STREAM FILE one prompt of the call's language; the key that stopped it, or None."""
        sounds = self.settings.sounds_path
        if sounds is not None and not sound_path(sounds, live.language, name).exists():
            log.warning("outbound.prompt_missing", prompt=name, language=live.language)
            live.details.setdefault("prompts_missing", []).append(name)
            return None
        result = await agi.run(f'STREAM FILE {playable(self.settings.asterisk_sounds_dir, live.language, name)} "{keys}"')
        return key_of(result)

    async def _to_operator(self, agi: AgiSession, live: ListLive) -> None:
        """Key 1: from here the patient is a hotline caller (ticket first, then the ACD)."""
        call_id = agi.env("uniqueid")
        live.details["to_operator"] = True
        await agi.set_variable("HOTLINE_TO_OPERATOR", "1")  # the dialplan's fallback queue if we fail
        await agi.set_variable("CALLERID(num)", live.number)
        # The session's environment still holds the caller id we showed the patient; the ACD shows the
        # operator the caller id of the session, which from now on is the patient's.
        agi.headers["agi_callerid"], agi.headers["agi_calleridname"] = live.number, live.name
        live.call_ticket_id = await self.tickets.open_for_arrival(call_id, live.number, live.name, agi.env("channel"),
                                                                  utcnow())
        if live.call_ticket_id is not None:
            await agi.set_variable("HOTLINE_TICKET", live.call_ticket_id)
        live.done.set_result(None)  # the attempt is written now; the conversation may take long
        log.info("outbound.list_to_operator", task_id=live.task_id, ticket_id=live.call_ticket_id)
        await self.adapter.serve_call(agi, call_id)

    # -- automatic callbacks of abandoned calls ---------------------------------------------------------

    def _free_operators(self) -> list[Operator]:
        return [Operator(a.agent_id, a.idle_since) for a in self.adapter.acd.agents.values()
                if a.state == AgentState.AVAILABLE and not a.phone_busy]

    async def _offer_callback(self, now: dt.datetime) -> None:
        acd = self.adapter.acd
        if self.callbacks or not self._free_operators() or acd.waiting():  # one at a time, only when nobody waits
            return
        pending = await self.store.pending(("abandoned",), limit=200)
        # The ACD moved on while the store answered: look again, then pick and reserve the operator
        # with no await in between, so an inbound offer and this callback never ring the same phone.
        free, waiting = self._free_operators(), len(acd.waiting())
        if self.callbacks or not free or waiting:
            return
        picked = pick_callback(self.store.planned(pending.values()), now, self.callback_windows, self.store.tz,
                               free=free, callers_waiting=waiting, in_flight=frozenset(self.callbacks))
        if picked is None:
            return
        task_id, agent_id = picked
        if not self.adapter.apply(AgentPhoneBusy(agent_id, self.adapter.clock(), busy=True)):
            return
        finished = self.callbacks[task_id] = asyncio.get_running_loop().create_future()
        task = self._spawn(self._callback(pending[task_id], agent_id, now, finished), f"auto-callback-{task_id}")
        # A task cancelled before it ever ran skips _callback's own release: release here too (once).
        task.add_done_callback(lambda _: self._release(task_id, agent_id, finished))

    def _release(self, task_id: int, agent_id: str, finished: asyncio.Future) -> bool:
        """Free the callback's slot and its operator's reservation; False if this one was already released."""
        if self.callbacks.get(task_id) is not finished:
            return False
        del self.callbacks[task_id]
        if not finished.done():
            finished.cancel()
        try:
            self.adapter.release_phone(agent_id)  # the phone as its latest device state says
        except Exception:
            log.exception("outbound.callback_release_failed", task_id=task_id, agent=agent_id)
        return True

    async def _callback(self, task: CallbackTask, agent_id: str, now: dt.datetime, finished: asyncio.Future) -> None:
        """Ring the reserved operator, then the caller; on every path the operator is released after."""
        attempt_id: int | None = None
        details: dict[str, Any] = {}
        outcome = "failed"
        try:
            attempt_id = await self.store.start_attempt(task, now, agent_id=agent_id)
            started = await self.outbound.callback(task.ticket_id, agent_id, number=task.number, survey=False,
                                                   task_id=task.id, by="auto")
            details["contact_id"] = started["contact_id"]
            try:
                outcome = await asyncio.wait_for(finished, CALLBACK_LIMIT)
            except TimeoutError:
                details["error"] = "no outcome within the limit"
                log.warning("outbound.callback_failed", task_id=task.id, agent=agent_id, reason=details["error"])
        except (WorkOrderError, AmiError) as err:
            details["error"] = str(err)
            log.warning("outbound.callback_failed", task_id=task.id, agent=agent_id, reason=str(err))
        except Exception as err:  # a database failure or a bug: said once, and the operator is still freed
            details["error"] = f"{type(err).__name__}: {err}"
            log.exception("outbound.callback_failed", task_id=task.id, agent=agent_id)
        finally:
            # Also when cancelled (the runner stopping): nobody stays reserved.
            self._release(task.id, agent_id, finished)
        result = "operator_missed" if outcome.startswith("operator_") else outcome_of(outcome)
        details["outcome"] = outcome
        if attempt_id is not None:
            try:
                # The callback path logged the task's attempt itself (done, retry, failed); this is the call log.
                await self.store.finish_attempt(attempt_id, result, self.clock(), details, count=False)
            except Exception:
                log.exception("outbound.callback_log_failed", task_id=task.id)
        log.info("outbound.auto_callback", task_id=task.id, agent=agent_id, result=result)
        if "error" not in details:
            self.wake()  # a failure is retried at the next regular look, not in a tight loop

    def on_work_event(self, event: str, data: dict[str, Any]) -> None:
        """``callback.finished`` of an automatic callback: its outcome."""
        if event != "callback.finished":
            return
        future = self.callbacks.get(data.get("task_id"))  # type: ignore[arg-type]
        if future is not None and not future.done():
            future.set_result(str(data.get("outcome") or "failed"))
