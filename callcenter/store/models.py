"""ORM models of the store: one ticket per call, plus the caller-id clean-up they rely on."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Any

from sqlalchemy import JSON, DateTime, Float, Index, Integer, MetaData, String, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

SOURCES = ("controller", "fallback_queue")
CALL_STATUSES = ("new", "ringing", "answered", "abandoned", "completed")
HANGUP_BY = ("caller", "agent", "system")

NUMBER_LEN = 32  # E.164 numbers are at most 15 digits; room for prefixes and extensions
NAME_LEN = 80  # Asterisk keeps caller names to 80 bytes; we count characters
RAW_LEN = 255  # raw caller ids are kept for audit, capped so a hostile header cannot bloat rows

# Stable constraint names so later migrations (and PostgreSQL) can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes on every backend: SQLite keeps no zone, so UTC is stored and re-attached."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        """Refuse naive values and store UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware one")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        """Hand back aware UTC whatever the backend returned."""
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base sharing one metadata with a naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UtcDateTime, dict[str, Any]: JSON}


class Ticket(Base):
    """One call, written when it arrives and completed as it is answered and ends."""

    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("node", "uniqueid"),
        Index("ix_tickets_arrived_at", "arrived_at"),
        Index("ix_tickets_caller_number", "caller_number"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    node: Mapped[str] = mapped_column(String(64))  # Asterisk node that carried the call
    uniqueid: Mapped[str] = mapped_column(String(64))  # the caller channel's Asterisk Uniqueid
    linkedid: Mapped[str | None] = mapped_column(String(64))
    caller_number: Mapped[str] = mapped_column(String(NUMBER_LEN), default="")  # digits only, for look-ups
    caller_number_raw: Mapped[str] = mapped_column(String(RAW_LEN), default="")
    caller_name: Mapped[str] = mapped_column(String(NAME_LEN), default="")
    caller_name_raw: Mapped[str] = mapped_column(String(RAW_LEN), default="")
    channel: Mapped[str] = mapped_column(String(128), default="")
    source: Mapped[str] = mapped_column(String(16))  # one of SOURCES
    call_status: Mapped[str] = mapped_column(String(16), default="new")  # one of CALL_STATUSES
    arrived_at: Mapped[dt.datetime]
    first_rang_at: Mapped[dt.datetime | None]  # an operator's phone first rang for it (the two-ring clock)
    answered_at: Mapped[dt.datetime | None]
    ended_at: Mapped[dt.datetime | None]
    agent_id: Mapped[str | None] = mapped_column(String(64))
    hangup_by: Mapped[str | None] = mapped_column(String(8))  # one of HANGUP_BY
    talk_seconds: Mapped[float | None] = mapped_column(Float)
    wait_seconds: Mapped[float | None] = mapped_column(Float)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)  # per-call measurements; replace, never mutate
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"<Ticket {self.id} {self.node}/{self.uniqueid} {self.call_status}>"


_NUMBER_PUNCTUATION = re.compile(r"[\s\-().]")


def clean_text(raw: object) -> str:
    """Text safe for any backend: no NULs or other control characters, no broken surrogates."""
    text = "" if raw is None else str(raw)
    text = text.encode("utf-8", errors="replace").decode("utf-8")
    return "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in text)


def clip_raw(raw: object) -> str:
    """The caller id as received, made storable and capped at RAW_LEN characters."""
    return clean_text(raw)[:RAW_LEN]


def normalise_number(raw: object) -> str:
    """Digits (with a leading +) of a dialable caller number; "" for anonymous, empty or non-numeric ids."""
    text = _NUMBER_PUNCTUATION.sub("", clean_text(raw))
    plus = text.startswith("+")
    digits = text[1:] if plus else text
    if not digits.isascii() or not digits.isdigit():
        return ""
    return (("+" if plus else "") + digits)[:NUMBER_LEN]


def normalise_name(raw: object) -> str:
    """A caller name fit for display: whitespace collapsed, capped at NAME_LEN characters."""
    return " ".join(clean_text(raw).split())[:NAME_LEN]


RULE_ORIGINS = ("file", "web")


class IvrRule(Base):
    """One rule of the IVR's seasonal-message schedule (see callcenter.ivr.schedule).

    ``spec`` is the rule as a schedule-file table, validated by ``callcenter.ivr.schedule.parse_rule``
    on the way in.  ``origin`` says who set it last: "file" (imported from prompts/schedule.toml,
    updated by the next import) or "web" (a supervisor; imports leave it alone).
    """

    __tablename__ = "ivr_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    spec: Mapped[dict[str, Any]] = mapped_column(default=dict)
    origin: Mapped[str] = mapped_column(String(8), default="file")  # one of RULE_ORIGINS
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"<IvrRule {self.name} {self.origin}>"
