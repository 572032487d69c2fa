"""The ``users`` table: who may use the web pages, with which role, and which agent they are."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.store.models import Base, utcnow

# Each role may do what the roles before it may; a specialist (a department's desk, issue 14) is
# below operator, so every route of the hotline room refuses them.  ``screen`` (the room's
# television) is lowest: it may only see the wall screen (/wallscreen and its data).
ROLES = ("screen", "specialist", "operator", "supervisor", "admin")
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}


class User(Base):
    """One person who logs in to the web pages; operators are tied to an ACD agent (their phone)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)  # stored lower-case
    display_name: Mapped[str] = mapped_column(String(80), default="")
    role: Mapped[str] = mapped_column(String(16))  # one of ROLES
    agent_id: Mapped[str | None] = mapped_column(String(64), index=True)  # the PJSIP endpoint of an operator's phone
    password_hash: Mapped[str] = mapped_column(String(255))  # argon2id encoded hash
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    may_hear_recordings: Mapped[bool] = mapped_column(Boolean, default=False)  # a specialist's grant (their departments)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)  # in a row
    locked_until: Mapped[dt.datetime | None]
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)  # bumped to end every session of the user
    last_login_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def at_least(self, role: str) -> bool:
        """True when this user's role includes ``role``."""
        return ROLE_RANK.get(self.role, -1) >= ROLE_RANK[role]

    def __repr__(self) -> str:
        return f"<User {self.username} {self.role}>"


class WebSession(Base):
    """One logged-in browser: the encrypted cookie carries its id; logging out deletes the row,
    so a copy of the old cookie is worth nothing (the cookie alone cannot be revoked)."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # random, known only inside the cookie
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)  # rewritten every few minutes of use
