"""ORM models of the knowledge base: entries, and every edit kept with who, when, before and after.

Search indexes are not models: SQLite has an external-content FTS5 table ``kb_fts`` (trigram
tokenizer) kept in step with ``kb_entries`` by triggers; PostgreSQL has pg_trgm GIN indexes.
Both are created by migration 0004.  The word index ``kb_fts_words`` (migration 0016: FTS5 on
SQLite, a tsvector table on PostgreSQL) is written by ``callcenter.kb.index``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.store.models import Base, utcnow


class KbEntry(Base):
    """One question and its answer, as operators read it out."""

    __tablename__ = "kb_entries"
    __table_args__ = (Index("ix_kb_entries_category", "category"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    keywords: Mapped[str] = mapped_column(Text, default="")  # space-separated
    category: Mapped[str] = mapped_column(String(32), default="")
    department: Mapped[str] = mapped_column(String(64), default="")
    active: Mapped[bool] = mapped_column(default=True)
    updated_by: Mapped[str] = mapped_column(String(64), default="")
    author: Mapped[str] = mapped_column(String(64), default="")  # who wrote the answer (a specialist's reply)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class KbRevision(Base):
    """One edit of an entry: created, updated or deleted, with the fields before and after."""

    __tablename__ = "kb_revisions"
    __table_args__ = (Index("ix_kb_revisions_entry_id", "entry_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("kb_entries.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(8))  # create, update, delete, import
    by: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    before: Mapped[dict[str, Any] | None] = mapped_column()
    after: Mapped[dict[str, Any] | None] = mapped_column()


def include_name(name: str | None, type_: str, parent_names: dict[str, Any]) -> bool:
    """For schema comparisons (alembic ``include_name``): skip the SQLite FTS5 table and its shadows.

    ``kb_fts`` is a virtual table (and ``kb_fts_data``, ``_idx``, ``_docsize``, ``_config`` are
    FTS5's own storage); SQLAlchemy cannot model them, the migration creates them by hand.
    """
    return not (type_ == "table" and (name or "").startswith("kb_fts"))


class KbView(Base):
    """One lookup: an operator opened an entry from the desk (during a ticket, when there was one)."""

    __tablename__ = "kb_views"
    __table_args__ = (Index("ix_kb_views_at_entry_id", "at", "entry_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("kb_entries.id", ondelete="CASCADE"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    by: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class KbTerm(Base):
    """A word of the hospital's own that supervisors added to the segmenter's dictionary."""

    __tablename__ = "kb_terms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    word: Mapped[str] = mapped_column(String(32), unique=True)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class KbSynonymGroup(Base):
    """Words the hotline uses for the same thing (发烧, 发热, 高烧): a query word finds them all."""

    __tablename__ = "kb_synonyms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    terms: Mapped[list[str]] = mapped_column(JSON)
    updated_by: Mapped[str] = mapped_column(String(64), default="")
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class KbSearchState(Base):
    """Facts about the search index: the dictionary it was built with, whether synonyms were seeded."""

    __tablename__ = "kb_search_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(128), default="")


class PreventionMessage(Base):
    """A hotline message made from an entry (未诉先办): its texts, its schedule rule, where it came from.

    ``rule_name`` is the IVR schedule rule (and prompt) that plays it; ``category`` is the ticket
    category whose calls it should prevent, counted before and after ``starts_at`` for its effect.
    """

    __tablename__ = "prevention_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_name: Mapped[str] = mapped_column(String(64), unique=True)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("kb_entries.id", ondelete="SET NULL"))
    category: Mapped[str] = mapped_column(String(32))
    texts: Mapped[dict[str, Any]] = mapped_column()  # Asterisk language -> spoken text
    first_day: Mapped[dt.date] = mapped_column()
    last_day: Mapped[dt.date] = mapped_column()
    starts_at: Mapped[dt.datetime] = mapped_column()  # first_day's midnight, hospital time
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
