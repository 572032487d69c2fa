"""The rota in the database: shifts (imported from settings, edited by supervisors) and skills.

``rota_shifts`` holds one row per shift: ``spec`` is the shift as a ``[[shifts]]`` table (start,
end, days, agents); ``origin`` says who set it last: "file" (imported from the settings at start,
updated by the next start) or "web" (a supervisor; imports leave it alone).  ``agent_skills`` holds
the skills a supervisor gave an operator, overriding ``[[agents]] skills``.  Schema: migration 0007.
``agent_states`` holds the state each operator last chose (logged out, available, paused with a
reason), per node, so a restarted controller puts them back (``callcenter.agents.states``).
Schema: migration 0008.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.store.models import Base, utcnow


class RotaShift(Base):
    """One shift of the 24/7 rota (see ``callcenter.agents.rota.Shift``)."""

    __tablename__ = "rota_shifts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    spec: Mapped[dict[str, Any]] = mapped_column(default=dict)
    origin: Mapped[str] = mapped_column(String(8), default="file")  # "file" or "web"
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(64), default=None)


class AgentSkills(Base):
    """An operator's skills as a supervisor set them (``skills`` is a JSON list of skill names)."""

    __tablename__ = "agent_skills"

    agent_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(64), default=None)


class AgentStateRow(Base):
    """The state an operator last chose on one node: "logged_out", "available" or "paused" (with a reason).

    ``by`` says who chose it: "phone", "web:<user>", "supervisor:<user>", or "core" (the automatic
    ``missed_calls`` pause).
    """

    __tablename__ = "agent_states"

    node: Mapped[str] = mapped_column(String(64), primary_key=True)  # settings.node, as on tickets
    agent_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(64), default=None)
    since: Mapped[dt.datetime]
    by: Mapped[str] = mapped_column(String(96))
