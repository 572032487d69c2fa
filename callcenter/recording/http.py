"""Recording routes: list, play/download (each logged), the listen log, flags, the operator's pause.

  GET  /api/recordings?ticket=ID|uniqueid=U|limit=N   recordings the user may hear (operators: their own)
  GET  /api/recordings/{id}                           one recording (supervisors: with its listen log)
  GET  /api/recordings/{id}/audio[?download=1]        the wav; each playback session is logged (who, when), ranges too
  GET  /api/recordings/{id}/listens                   the listen log (supervisor)
  POST /api/recordings/{id}/flag                      {"flagged": bool, "reason": ...}: keep past retention (supervisor)
  POST /api/agent/recording                           {"paused": bool}: pause/resume the operator's current call

Who may listen: supervisors, the operator who took the call (the recording's ``agent_id``), and a
department specialist a supervisor granted ``may_hear_recordings``, for their departments' tickets
only (a specialist without the grant is refused every recording route, 403); nobody else (not
other operators, not admins, who manage accounts, not calls), not even to learn that a recording
exists (404, as for a missing id).
"""

from __future__ import annotations

from typing import Any

import structlog
from aiohttp import web

from callcenter.accounts.models import User
from callcenter.recording import keys
from callcenter.recording import schemas as s
from callcenter.recording.exceptions import NotLive, RecordingError
from callcenter.recording.models import Recording
from callcenter.recording.service import summary_of
from callcenter.web import api
from callcenter.web.api import Route, path_id, requires
from callcenter.web.security import client_address, current_user

log = structlog.get_logger(__name__)


def may_listen(user: User, row: Recording) -> bool:
    """Supervisors, and the operator who took the call."""
    return user.role == "supervisor" or (bool(user.agent_id) and row.agent_id == user.agent_id)


def not_granted(user: User) -> web.Response | None:
    """The 403 of a specialist without the recordings grant (None for everybody else)."""
    if user.role == "specialist" and not user.may_hear_recordings:
        log.warning("recording.refused_not_granted", user=user.username)
        return api.error_json(403, "recording.not_granted", "a supervisor has not let you hear recordings")
    return None


async def _visible(request: web.Request) -> Recording | web.Response:
    user = current_user(request)
    refused = not_granted(user)
    if refused is not None:
        return refused
    service = request.app[keys.RECORDINGS]
    row = await service.get(path_id(request, what="recording"))
    granted = row is not None and user.role == "specialist" and await service.in_departments_of(user.id, row.ticket_id)
    if row is None or not (may_listen(user, row) or granted):
        if row is not None:
            log.warning("recording.refused", recording_id=row.id, user=user.username, role=user.role)
        return api.error_json(404, "recording.unknown", "no such recording")
    return row


@requires("specialist")
async def list_recordings(request: web.Request) -> web.Response:
    """Recordings of a ticket or call, or the newest ones; operators see only calls they took,
    granted specialists only the recordings of a ticket of their departments (``ticket=``)."""
    user = current_user(request)
    refused = not_granted(user)
    if refused is not None:
        return refused
    q = api.query(request, s.RecordingsQuery)
    if user.role == "specialist":
        service = request.app[keys.RECORDINGS]
        if q.ticket is None or q.uniqueid is not None or not await service.in_departments_of(user.id, q.ticket):
            return web.json_response({"recordings": []})
        return web.json_response({"recordings": [_json(r) for r in await service.find(ticket_id=q.ticket, limit=q.limit)]})
    if user.role != "supervisor" and not user.agent_id:
        return web.json_response({"recordings": []})  # no phone, no calls (a NUL sentinel broke PostgreSQL)
    agent = None if user.role == "supervisor" else user.agent_id
    rows = await request.app[keys.RECORDINGS].find(ticket_id=q.ticket, uniqueid=q.uniqueid, agent_id=agent,
                                                   limit=q.limit)
    return web.json_response({"recordings": [_json(row) for row in rows]})


@requires("specialist")
async def get_recording(request: web.Request) -> web.Response:
    """One recording; supervisors also get who listened."""
    row = await _visible(request)
    if isinstance(row, web.Response):
        return row
    body = _json(row)
    if current_user(request).role == "supervisor":
        body["listens"] = await request.app[keys.RECORDINGS].listens(row.id)
    return web.json_response(body)


@requires("specialist")
async def audio(request: web.Request) -> web.StreamResponse:
    """The recording's wav (inline for the page's player, or as a download); logged."""
    row = await _visible(request)
    if isinstance(row, web.Response):
        return row
    service = request.app[keys.RECORDINGS]
    path = service.file_of(row)
    if path is None:
        return api.error_json(410, "recording.no_file", f"no audio: the recording is {row.status}")
    download = api.query(request, s.AudioQuery).download
    if request.method != "HEAD":  # every byte range counts; the service makes one listen per playback session
        user = current_user(request)
        await service.listened(row.id, user_id=user.id, username=user.username, role=user.role,
                               action="download" if download else "play", address=client_address(request))
    name = path.name
    disposition = f'attachment; filename="{name}"' if download else f'inline; filename="{name}"'
    return web.FileResponse(path, headers={"Content-Type": "audio/wav", "Content-Disposition": disposition})


@requires("supervisor")
async def listens(request: web.Request) -> web.Response:
    """Who played or downloaded the recording, and when."""
    row = await _visible(request)
    if isinstance(row, web.Response):
        return row
    return web.json_response({"recording_id": row.id, "listens": await request.app[keys.RECORDINGS].listens(row.id)})


@requires("supervisor")
async def flag(request: web.Request) -> web.Response:
    """Keep a recording past retention (a dispute, quality review), or release it."""
    if current_user(request).role != "supervisor":
        return api.error_json(403, "recording.supervisors_only", "only supervisors flag recordings")
    body = await api.body(request, s.Flag)
    user = current_user(request)
    row = await request.app[keys.RECORDINGS].flag(path_id(request, what="recording"), body.flagged, body.reason,
                                                  user.username)
    if row is None:
        return api.error_json(404, "recording.unknown", "no such recording")
    return web.json_response(_json(row))


@requires("operator")
async def pause(request: web.Request) -> web.Response:
    """Pause (mute) or resume the recording of the call this operator is on now."""
    user = current_user(request)
    body = await api.body(request, s.Pause)
    service = request.app[keys.RECORDINGS]
    live = service.live_of_agent(user.agent_id) if user.agent_id else None
    if live is None:
        return api.error_json(409, "recording.not_live", "you are not on a recorded call")
    try:
        result = await service.set_paused(live, body.paused, user.username)
    except NotLive as err:
        return api.error_json(409, err.slug, str(err))
    except RecordingError as err:
        return api.error_json(503, err.slug, str(err))
    return web.json_response(result)


def _json(row: Recording) -> dict[str, Any]:
    body = summary_of(row)
    body["audio_url"] = f"/api/recordings/{row.id}/audio" if row.status == "complete" else None
    return body


R = "recordings"
ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/recordings", list_recordings, "Recordings the user may hear (operators: their own calls)", R,
          query=s.RecordingsQuery, response=s.RecordingList),
    Route("GET", "/api/recordings/{id}", get_recording, "One recording (supervisors: with its listen log)", R,
          response=s.Recording),
    Route("GET", "/api/recordings/{id}/audio", audio, "The wav, inline or as a download; every listen is logged", R,
          query=s.AudioQuery, response={"type": "string", "format": "binary"}, response_media="audio/wav",
          errors={410: "the recording has no audio (failed, deleted)"}),
    Route("GET", "/api/recordings/{id}/listens", listens, "Who played or downloaded the recording, and when", R,
          response=s.Listens),
    Route("POST", "/api/recordings/{id}/flag", flag, "Keep a recording past retention, or release it", R,
          body=s.Flag, response=s.Recording),
    Route("POST", "/api/agent/recording", pause, "Pause or resume the recording of the operator's current call", R,
          body=s.Pause, response=s.Paused,
          errors={409: "not on a recorded call", 503: "Asterisk did not take the change"}),
)


def add_routes(app: web.Application) -> None:
    """Register the recording routes (and describe them in the OpenAPI document)."""
    api.register(app, ROUTES)
