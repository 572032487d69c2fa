"""The hotline's FastAGI route: ticket first, then (IVR to come) hand the caller to the ACD."""

from __future__ import annotations

from datetime import UTC, datetime

import structlog

from callcenter.adapter import Adapter
from callcenter.agi.server import AgiSession
from callcenter.tickets.service import TicketService

log = structlog.get_logger(__name__)


class Hotline:
    """Serves ``agi://.../hotline``: one session per incoming call."""

    def __init__(self, tickets: TicketService, adapter: Adapter) -> None:
        self.tickets = tickets
        self.adapter = adapter

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
        await self.adapter.serve_call(agi, call_id)
