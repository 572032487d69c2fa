"""Requests and answers of the recording API (``/api/recordings/*``, ``/api/agent/recording``) as models."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from callcenter.web.api import Body, Id, Query, Reply, limit, line, text

UniqueId = line(64, 1)
Limit200 = limit(200)
FlagReason = text(500)


class RecordingsQuery(Query):
    ticket: Id | None = Field(None, description="recordings of this ticket")
    uniqueid: UniqueId | None = Field(None, description="recordings of this call (Asterisk uniqueid)")
    limit: Limit200 = 50


class AudioQuery(Query):
    download: bool = Field(False, description="as an attachment instead of inline for the player")


class Flag(Body):
    flagged: bool = Field(description="keep past retention (true) or release (false)")
    reason: FlagReason = ""


class Pause(Body):
    paused: bool = Field(description="mute (true) or resume (false) the recording of the call you are on")


class Recording(Reply):
    recording_id: int
    ticket_id: int | None
    uniqueid: str
    kind: str
    agent_id: str | None
    status: str
    started_at: str | None
    ended_at: str | None
    duration_seconds: float | None
    flagged: bool
    pauses: list[Any]
    audio_url: str | None = Field(description="where to play it (only when complete)")


class RecordingList(Reply):
    recordings: list[Recording]


class Listens(Reply):
    recording_id: int
    listens: list[dict[str, Any]]


class Paused(Reply):
    recording_id: int
    paused: bool
    pauses: list[Any]
