"""Close the tickets of calls that ended without us seeing the end (run at start and periodically).

A call the controller connected keeps going in Asterisk if the controller stops; if it ends before
the controller is back, nobody records the end.  Calls the fallback queue took are completed from
queue_log (see ``reconcile``); calls still bridged at start are adopted and followed (see
``Adapter._adopt``); this sweep handles the rest: a ticket with no end whose call Asterisk no
longer has (``CoreShowChannels``) and that the controller is not following is closed with
``hangup_by = "system"``, ended when Asterisk's CDR says it ended (else when the sweep saw it gone),
and its details say the end was observed, not seen.
"""

from __future__ import annotations

import re
from collections.abc import Container
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog

from callcenter.ami.client import AmiClient
from callcenter.tickets.cdr import calls as cdr_calls
from callcenter.tickets.service import TicketService

log = structlog.get_logger(__name__)

AGENT_CHANNEL = re.compile(r"^PJSIP/([^-/]+)-")


async def live_uniqueids(ami: AmiClient) -> set[str]:
    """Unique and linked ids of every channel Asterisk has now."""
    replies = await ami.action({"Action": "CoreShowChannels"}, as_list=True)
    live: set[str] = set()
    for event in replies if isinstance(replies, list) else []:
        if event.get("Event") == "CoreShowChannel":
            live.update(x for x in (event.get("Uniqueid"), event.get("Linkedid")) if x)
    return live


async def close_vanished_calls(tickets: TicketService, ami: AmiClient, ours: Container[str],
                               cdr: Path | None = None) -> int:
    """Close unended tickets whose calls are gone; returns how many."""
    live = await live_uniqueids(ami)
    vanished = [t for t in await tickets.list_unended() if t.uniqueid not in live and t.uniqueid not in ours]
    told = cdr_calls(cdr, [t.uniqueid for t in vanished]) if cdr is not None else {}
    for ticket in vanished:
        now = datetime.now(UTC)
        cdr_call = told.get(ticket.uniqueid)
        ended = cdr_call.ended_at if cdr_call else None
        if ended is not None and ticket.arrived_at is not None:
            arrived = _utc(ticket.arrived_at)
            if ended < arrived - timedelta(seconds=2):
                ended = None  # a clock that disagrees: keep the observed time
            else:
                ended = max(ended, arrived)  # CDR times are whole seconds
        agent = AGENT_CHANNEL.match(cdr_call.bridged_to or "") if cdr_call else None
        if ticket.answered_at is None and agent and cdr_call.bridged_at is not None:
            # The answer was never written (the controller died in that moment); the CDR saw the bridge.
            await tickets.mark_answered(ticket.uniqueid, agent.group(1), max(cdr_call.bridged_at, _utc(ticket.arrived_at)))
        await tickets.record_details(ticket.uniqueid, "end", {
            "observed": "after_restart", "at": now.isoformat(), "source": "cdr" if ended else "sweep"})
        kept = (ticket.details or {}).get("callback")
        if isinstance(kept, dict) and kept.get("outcome") not in ("answered", "unreached"):
            # A kept place lives in the controller's memory: its callback was lost with it.  The
            # caller was not reached; the ended ticket becomes an abandoned-call task instead.
            await tickets.record_details(ticket.uniqueid, "callback", {
                **kept, "outcome": "unreached", "lost": "controller_restarted"})
        await tickets.mark_ended(ticket.uniqueid, ended or now, "system")
        log.info("ticket.closed_after_restart", uniqueid=ticket.uniqueid, ticket_id=ticket.id, from_cdr=ended is not None)
    return len(vanished)


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
