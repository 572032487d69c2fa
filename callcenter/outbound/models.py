"""ORM models of scheduled outbound lists: import batches and the log of every outbound attempt.

The tasks themselves are ``callback_tasks`` rows (``callcenter.workorders.models.CallbackTask``)
of kind ``followup_day7`` or ``appointment_reminder``, with ``list_id`` naming their import and
``due_by`` their deadline.  Every attempt of a list task, and every automatic callback of an
abandoned call, is an ``outbound_attempts`` row.  Schema: migration 0006.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.store.models import Base, utcnow

LIST_KINDS = ("followup_day7", "appointment_reminder")
CAMPAIGN_KIND = "satisfaction_sample"  # a task of a sampled satisfaction campaign (``callcenter.outbound.campaigns``)
DIALLED_KINDS = (*LIST_KINDS, CAMPAIGN_KIND)  # tasks the runner dials itself (paced together)
ATTEMPT_RESULTS = ("calling", "answered", "no_answer", "busy", "failed", "interrupted", "operator_missed")


class OutboundList(Base):
    """One imported file (a hospital information system export)."""

    __tablename__ = "outbound_lists"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), default="")  # file name or label given at import
    imported_by: Mapped[str | None] = mapped_column(String(64))
    imported_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    rows: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)  # already imported earlier
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class OutboundAttempt(Base):
    """One call placed for an outbound task, with what happened."""

    __tablename__ = "outbound_attempts"
    __table_args__ = (
        Index("ix_outbound_attempts_task_id", "task_id"),
        Index("ix_outbound_attempts_started_at", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("callback_tasks.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(24))  # the task's kind
    number: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[dt.datetime | None]
    result: Mapped[str] = mapped_column(String(24), default="calling")  # one of ATTEMPT_RESULTS
    agent_id: Mapped[str | None] = mapped_column(String(64))  # automatic callbacks: the operator rung
    call_ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Campaign(Base):
    """A sampled satisfaction campaign: what was asked, the seed it was drawn with, its list of tasks."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    period_from: Mapped[dt.datetime]  # tickets closed in [period_from, period_to]
    period_to: Mapped[dt.datetime]
    per_department: Mapped[int | None] = mapped_column(Integer)  # patients per department, or...
    share: Mapped[float | None] = mapped_column(Float)  # ...this share of each department's closed tickets
    seed: Mapped[int] = mapped_column(Integer)
    windows: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"workday": [...], "holiday": [...]}
    ends_at: Mapped[dt.datetime]  # the tasks' due_by
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    list_id: Mapped[int | None] = mapped_column(ForeignKey("outbound_lists.id", ondelete="SET NULL"))
