"""ORM models of the feedback ledger (台账): its catalogue, its items and each item's history.

``ledger_catalogue`` is the hospital's classification of feedback: per department, items with a
code (the university hospital's 13 functional departments and 415 items).  ``ledger_items`` are
the complaints, dissatisfied survey scores and suggestions to rectify; the reports count them per
department from ``status``, ``department_id``, ``created_at`` and ``struck_off_at`` (a contract:
keep these names).  ``ledger_events`` is each item's history; a reopened item keeps every step.
Schema: migration 0013.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.store.models import Base, utcnow

SOURCES = ("complaint", "survey", "suggestion", "campaign", "manual")
MAX_CODE, MAX_ITEM, MAX_TEXT, MAX_NAME = 32, 200, 4000, 80


class CatalogueItem(Base):
    """One item of a department's feedback catalogue (e.g. 门诊部 / MZ-03 / 候诊时间长)."""

    __tablename__ = "ledger_catalogue"
    __table_args__ = (UniqueConstraint("department_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(MAX_CODE))
    item: Mapped[str] = mapped_column(String(MAX_ITEM))
    active: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class LedgerItem(Base):
    """One piece of feedback to rectify (see ``callcenter.ledger.lifecycle``)."""

    __tablename__ = "ledger_items"
    __table_args__ = (
        # one item per ticket and source, however often the hook runs (manual items have no ticket)
        UniqueConstraint("ticket_id", "source"),
        Index("ix_ledger_items_status_department_id", "status", "department_id"),
        Index("ix_ledger_items_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(16))  # one of SOURCES
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="SET NULL"))
    catalogue_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_catalogue.id", ondelete="SET NULL"))
    institution: Mapped[str] = mapped_column(String(MAX_NAME), default="")  # a health bureau's ledger per institution
    description: Mapped[str] = mapped_column(Text, default="")
    measure: Mapped[str] = mapped_column(Text, default="")  # the rectification measure
    owner: Mapped[str] = mapped_column(String(MAX_NAME), default="")
    deadline: Mapped[dt.datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="open")
    score: Mapped[int | None] = mapped_column(Integer)  # the survey score when the source is a survey
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    struck_off_at: Mapped[dt.datetime | None]
    verified_by: Mapped[str | None] = mapped_column(String(64))


class LedgerEvent(Base):
    """One step of an item's history: created, classified, measure set, a status move."""

    __tablename__ = "ledger_events"
    __table_args__ = (Index("ix_ledger_events_item_id_at", "item_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("ledger_items.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    by: Mapped[str | None] = mapped_column(String(64))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
