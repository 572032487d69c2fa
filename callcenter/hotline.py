"""The hotline's FastAGI route: ticket first, then the IVR, then hand the caller to the ACD."""

from __future__ import annotations

from datetime import UTC, datetime

import structlog

from callcenter.adapter import Adapter
from callcenter.agi.server import AgiCommandError, AgiHangup, AgiSession
from callcenter.ivr.flow import ANY_OPERATOR, IvrFlow, Route
from callcenter.tickets.service import TicketService

log = structlog.get_logger(__name__)


class Hotline:
    """Serves ``agi://.../hotline``: one session per incoming call."""

    def __init__(self, tickets: TicketService, adapter: Adapter, ivr: IvrFlow | None = None) -> None:
        self.tickets = tickets
        self.adapter = adapter
        self.ivr = ivr

    async def __call__(self, agi: AgiSession) -> None:
        call_id = agi.env("uniqueid")
        structlog.contextvars.bind_contextvars(uniqueid=call_id)
        if not call_id:
            log.warning("call.no_uniqueid", channel=agi.env("channel"))
            return  # the dialplan continues to the fallback queue: the caller is still served
        caller_number = agi.env("callerid")
        # Is this Asterisk with a call?  One command that plays nothing: a peer that closes without a
        # word, or answers what Asterisk never would, gets no ticket (garbage, or a port scan).
        gone = False
        try:
            probe = await agi.run("GET VARIABLE UNIQUEID")
        except AgiHangup:
            if not agi.heard:
                log.warning("call.not_a_call", reason="closed without answering", channel=agi.env("channel"))
                return
            gone = True  # Asterisk said HANGUP: a real caller who left at once
        except AgiCommandError:
            log.warning("call.not_a_call", reason="not an AGI peer", channel=agi.env("channel"))
            return
        else:
            found, value = probe.get("result", ("0", ""))
            if found == "1" and value != call_id:
                log.warning("call.not_a_call", reason="uniqueid does not match the channel's")
                return
        log.info("call.arrived", caller=caller_number, channel=agi.env("channel"))
        # Ticket first: committed before the caller hears anything.
        ticket_id = await self.tickets.open_for_arrival(
            uniqueid=call_id,
            caller_number=caller_number,
            caller_name=agi.env("calleridname"),
            channel=agi.env("channel"),
            arrived_at=datetime.now(UTC),
        )
        stage = "arrival"
        try:
            if gone:
                raise AgiHangup("HANGUP")
            if ticket_id is not None:
                await agi.set_variable("HOTLINE_TICKET", ticket_id)
            await agi.answer()
            stage = "ivr"
            route = await self._resumed(agi)
            if route is None:
                route = await self.ivr.run(agi, call_id, caller_number) if self.ivr is not None else ANY_OPERATOR
                if self.adapter.settings.ha.enabled:  # for the other controller, should it take the caller over
                    await agi.set_variable("HOTLINE_ROUTE", f"{route.priority}:{route.skill or ''}")
        except AgiHangup:
            # Gone before reaching the queue (at the greeting, in the menu, or before we answered):
            # the ticket ends here, with the stage; Asterisk going away is "system", not the caller.
            self.adapter.end_ticket_later(call_id, self.adapter.clock(), "caller", stage)
            return
        except Exception:
            # Our fault: the socket closes and the dialplan's fallback queue serves the caller;
            # queue_log completes the ticket.
            log.exception("call.controller_error", stage=stage)
            return
        await self.adapter.serve_call(agi, call_id, priority=route.priority, skill=route.skill)

    async def _resumed(self, agi: AgiSession) -> Route | None:
        """A caller the other controller of a pair had taken through the IVR (it then died): its route, no IVR again."""
        if not self.adapter.settings.ha.enabled:
            return None
        priority, _, skill = (await agi.get_variable("HOTLINE_ROUTE")).partition(":")
        if not priority.lstrip("-").isdigit():
            return None
        log.info("call.resumed", priority=int(priority), skill=skill or None)
        return Route(skill or None, int(priority), "resumed")
