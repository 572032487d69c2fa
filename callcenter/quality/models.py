"""ORM model of quality reviews: one review per call (ticket); a second submission replaces it.

The reports read ``quality_reviews`` by table name (``callcenter.workorders.report_quality``):
keep ``ticket_id``, ``agent_id`` and ``total``.  Schema: migration 0017.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.store.models import Base, utcnow


class QualityReview(Base):
    """A supervisor's scores of one call on the review form."""

    __tablename__ = "quality_reviews"
    __table_args__ = (Index("ix_quality_reviews_agent_id", "agent_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), unique=True)
    agent_id: Mapped[str] = mapped_column(String(64))  # the operator who took the call
    reviewer: Mapped[str] = mapped_column(String(64))
    scores: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # item key -> points
    total: Mapped[float] = mapped_column(Float)  # percent of the points possible
    comments: Mapped[str] = mapped_column(Text, default="")
    form_version: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
