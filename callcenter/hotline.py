"""The hotline's FastAGI route: ticket first, then the IVR, then hand the caller to the ACD."""

from __future__ import annotations

from datetime import UTC, datetime

import structlog

from callcenter.adapter import Adapter
from callcenter.agi.server import AgiHangup, AgiSession
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
        log.info("call.arrived", caller=caller_number, channel=agi.env("channel"))
        # Ticket first: committed before the caller hears anything.
        ticket_id = await self.tickets.open_for_arrival(
            uniqueid=call_id,
            caller_number=caller_number,
            caller_name=agi.env("calleridname"),
            channel=agi.env("channel"),
            arrived_at=datetime.now(UTC),
        )
        if ticket_id is not None:
            await agi.set_variable("HOTLINE_TICKET", ticket_id)
        await agi.answer()
        route = await self._ivr(agi, call_id, caller_number)
        if route is not None:
            await self.adapter.serve_call(agi, call_id, priority=route.priority, skill=route.skill)

    async def _ivr(self, agi: AgiSession, call_id: str, caller_number: str) -> Route | None:
        """The caller's route from the IVR; None (ticket ended) when they hung up in it."""
        if self.ivr is None:
            return ANY_OPERATOR
        try:
            return await self.ivr.run(agi, call_id, caller_number)
        except AgiHangup:
            log.info("call.ended", uniqueid=call_id, hangup_by="caller", stage="ivr")
            await self.tickets.mark_ended(call_id, datetime.now(UTC), "caller")
            return None
