"""ORM models of call recordings: one row per recorded (or refused) call leg, and who listened."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.store.models import Base, utcnow

KINDS = ("inbound", "callback", "escalation")
# recording: MixMonitor is writing; complete: file closed and measured; not_recorded: refused at
# the start (fault), the call went on; missing: the file never appeared; deleted: retention removed it.
STATUSES = ("recording", "complete", "not_recorded", "missing", "deleted")


class Recording(Base):
    """One call's recording, linked to its ticket; ``path`` is relative to ``[recording] directory``."""

    __tablename__ = "recordings"
    __table_args__ = (
        Index("ix_recordings_ticket_id", "ticket_id"),
        Index("ix_recordings_uniqueid", "uniqueid"),
        Index("ix_recordings_started_at", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    node: Mapped[str] = mapped_column(String(64))
    uniqueid: Mapped[str] = mapped_column(String(64))  # the recorded channel's Asterisk uniqueid
    channel: Mapped[str] = mapped_column(String(128), default="")  # for MixMonitorMute while live
    kind: Mapped[str] = mapped_column(String(16))  # one of KINDS
    agent_id: Mapped[str | None] = mapped_column(String(64))  # the operator on the call (who may listen)
    status: Mapped[str] = mapped_column(String(16))  # one of STATUSES
    reason: Mapped[str] = mapped_column(String(255), default="")  # why not recorded / missing / deleted
    path: Mapped[str] = mapped_column(String(255), default="")
    started_at: Mapped[dt.datetime]
    ended_at: Mapped[dt.datetime | None]
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    size_bytes: Mapped[int | None] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64))
    repaired: Mapped[bool] = mapped_column(Boolean, default=False)  # header rebuilt after a crash
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)  # kept by retention (disputes, review)
    flag_reason: Mapped[str] = mapped_column(String(255), default="")
    pauses: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [{"op": "pause"|"resume", "at", "by"}]
    deleted_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<Recording {self.id} ticket={self.ticket_id} {self.status}>"


class RecordingListen(Base):
    """One play or download of a recording: who, when."""

    __tablename__ = "recording_listens"
    __table_args__ = (Index("ix_recording_listens_recording_id", "recording_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(Integer)
    username: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(16))  # play | download
    address: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
