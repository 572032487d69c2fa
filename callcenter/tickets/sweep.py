"""After a restart: close the tickets of calls that ended while the controller was away.

A call the controller connected keeps going in Asterisk if the controller stops; when it ends,
nobody records the end.  Calls the fallback queue took are completed from queue_log (see
``reconcile``); this sweep handles the rest: a ticket with no end whose call Asterisk no longer
has (``CoreShowChannels``) and that no live session of ours holds is closed with
``hangup_by = "system"`` and its details say the end was observed, not seen.
"""

from __future__ import annotations

from collections.abc import Container
from datetime import UTC, datetime

import structlog

from callcenter.ami.client import AmiClient
from callcenter.tickets.service import TicketService

log = structlog.get_logger(__name__)


async def live_uniqueids(ami: AmiClient) -> set[str]:
    """Unique and linked ids of every channel Asterisk has now."""
    replies = await ami.action({"Action": "CoreShowChannels"}, as_list=True)
    live: set[str] = set()
    for event in replies if isinstance(replies, list) else []:
        if event.get("Event") == "CoreShowChannel":
            live.update(x for x in (event.get("Uniqueid"), event.get("Linkedid")) if x)
    return live


async def close_vanished_calls(tickets: TicketService, ami: AmiClient, ours: Container[str]) -> int:
    """Close unended tickets whose calls are gone; returns how many."""
    live = await live_uniqueids(ami)
    closed = 0
    for ticket in await tickets.list_unended():
        if ticket.uniqueid in live or ticket.uniqueid in ours:
            continue
        now = datetime.now(UTC)
        await tickets.record_details(ticket.uniqueid, "end", {"observed": "after_restart", "at": now.isoformat()})
        await tickets.mark_ended(ticket.uniqueid, now, "system")
        log.info("ticket.closed_after_restart", uniqueid=ticket.uniqueid, ticket_id=ticket.id)
        closed += 1
    return closed
