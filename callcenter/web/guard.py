"""Operators work only the tickets of calls that rang their phone.

The work-order API (``callcenter.workorders.http``) lets any logged-in user change any ticket; on
the web side an operator may change (PATCH, notes, escalate, callback, survey) only a ticket whose
call, or one of the repeat calls merged into it, rang or was answered at the operator's phone.
A callback may ring only the operator's own phone first.  Supervisors and admins may change every
ticket.  Reads stay open to operators (a caller's history is part of the screen-pop).
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from callcenter import keys
from callcenter.web import keys as web_keys
from callcenter.web.api import ID_MAX, error_json, peek_json
from callcenter.web.security import SAFE_METHODS, USER_KEY, Handler
from callcenter.web.store import tickets_of_work

TICKET_PATH = re.compile(r"^/api/tickets/([0-9]{1,10})(?:/(notes|escalate|callback|survey))?/?$", re.ASCII)


@web.middleware
async def ticket_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse an operator's change to a ticket that is not theirs (runs after the access check)."""
    if request.method in SAFE_METHODS:
        return await handler(request)
    match = TICKET_PATH.match(request.path)
    user = request.get(USER_KEY)
    if match is None or user is None or user.at_least("supervisor") or int(match.group(1)) > ID_MAX:
        return await handler(request)  # beyond the database's ids: the API answers 404
    rows = await tickets_of_work(request.app[web_keys.READS], int(match.group(1)))
    if not rows:
        return await handler(request)  # no such ticket: the API answers 404
    if not any(rang_at(request.app, ticket, user.agent_id) for ticket in rows):
        return error_json(403, "ticket.not_yours", "this ticket's calls did not ring your phone")
    if match.group(2) == "callback":
        body = await peek_json(request)
        if isinstance(body, dict) and body.get("agent_id") not in (None, "", user.agent_id):
            return error_json(403, "ticket.not_your_phone", "a callback rings your own phone first")
    return await handler(request)


def rang_at(app: web.Application, ticket: Any, agent_id: str | None) -> bool:
    """True when ``ticket``'s call rang (or was answered at) the phone ``agent_id``."""
    if not agent_id:
        return False
    offered = ((ticket.details or {}).get("acd") or {}).get("offered_to") or []
    if ticket.agent_id == agent_id or agent_id in offered:
        return True
    call = app[keys.ADAPTER].acd.calls.get(ticket.uniqueid)
    return call is not None and (agent_id in call.offered_to or call.agent_id == agent_id)
