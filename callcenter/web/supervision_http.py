"""Listen, whisper, barge: the supervisor's phone on an operator's call (docs/supervision.md).

  GET    /api/supervision/sessions             the live sessions
  POST   /api/supervision/sessions             {"agent_id", "mode"}: ring the supervisor's phone, then ChanSpy
  POST   /api/supervision/sessions/{id}/mode   {"mode"}: switch on the same call
  DELETE /api/supervision/sessions/{id}        end it (the supervisor's phone hangs up)

Only supervisors (and admins).  The start route lets any logged-in user in so that the service can
refuse an operator 403 with a log line naming who tried and whom (``supervision.refused``); the
others need the supervisor role.
"""

from __future__ import annotations

from typing import Literal

import structlog
from aiohttp import web
from pydantic import Field

from callcenter.web import api
from callcenter.web import keys as web_keys
from callcenter.web.security import current_user

log = structlog.get_logger(__name__)

Mode = Literal["listen", "whisper", "barge"]
SESSION_PARAM = {"type": "string", "pattern": r"^[0-9a-f]{16}$"}


class StartSpy(api.Body):
    agent_id: api.line(32, 1) = Field(description="the operator (their phone's endpoint)")  # type: ignore[valid-type]
    mode: Mode = Field(description="listen (silent), whisper (only the operator hears), barge (both hear)")


class SwitchSpy(api.Body):
    mode: Mode


class SpySessionReply(api.Reply):
    id: str
    by: str
    phone: str
    agent_id: str
    call_id: str
    ticket_id: int | None
    mode: str
    active: bool


class SessionAnswer(api.Reply):
    session: SpySessionReply


class SessionList(api.Reply):
    sessions: list[SpySessionReply]


def add_routes(app: web.Application) -> None:
    api.register(app, ROUTES, api.asterisk_unreachable)


async def list_sessions(request: web.Request) -> web.Response:
    """The live sessions."""
    sessions = request.app[web_keys.SUPERVISION].active()
    return web.json_response({"sessions": [x.as_dict() for x in sessions]})


async def start_session(request: web.Request) -> web.Response:
    """Ring the supervisor's own phone; answered, it listens to (whispers to, barges in on) the operator's call."""
    body = await api.body(request, StartSpy)
    user = current_user(request)
    session = await request.app[web_keys.SUPERVISION].start(
        username=user.username, role=user.role, phone=user.agent_id, agent_id=body.agent_id, mode=body.mode)
    return web.json_response({"session": session.as_dict()}, status=201)


async def switch_mode(request: web.Request) -> web.Response:
    """Switch the live session's mode on the same call."""
    session_id = api.path_text(request, "id", 32)
    body = await api.body(request, SwitchSpy)
    session = await request.app[web_keys.SUPERVISION].switch(session_id, body.mode, username=current_user(request).username)
    return web.json_response({"session": session.as_dict()})


async def end_session(request: web.Request) -> web.Response:
    """End the session: the supervisor's phone hangs up, the operator's call goes on."""
    session_id = api.path_text(request, "id", 32)
    session = await request.app[web_keys.SUPERVISION].end(session_id, username=current_user(request).username)
    return web.json_response({"session": session.as_dict()})


S = "supervisor"
P = {"id": SESSION_PARAM}
ROUTES: tuple[api.Route, ...] = (
    api.Route("GET", "/api/supervision/sessions", list_sessions, "Live listen/whisper/barge sessions", S,
              response=SessionList),
    api.Route("POST", "/api/supervision/sessions", start_session,
              "Ring the supervisor's phone and spy on an operator's call (listen, whisper, barge)",
              "operator",  # any desk may ask; the service refuses non-supervisors 403 and logs who and whom
              body=StartSpy, response=SessionAnswer, ok=(201,),
              errors={404: "no such operator",
                      409: "the operator is not on a call, the supervisor has no phone or it is in a session",
                      503: "Asterisk is not reachable"}),
    api.Route("POST", "/api/supervision/sessions/{id}/mode", switch_mode, "Switch a session's mode on the same call", S,
              body=SwitchSpy, path_params=P, response=SessionAnswer,
              errors={409: "the supervisor's phone has not answered yet", 503: "Asterisk is not reachable"}),
    api.Route("DELETE", "/api/supervision/sessions/{id}", end_session, "End a session (the operator's call goes on)", S,
              path_params=P, body_required=False, response=SessionAnswer),
)
