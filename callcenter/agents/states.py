"""Operators' chosen states, kept in the database so a restarted controller puts them back.

Theory of operation: whenever an operator (or a supervisor, or the core's ``missed_calls`` pause)
chooses logged out, available or paused, the adapter calls ``AgentStateStore.save``; at start it
calls ``load`` and feeds ``restore_events(...)`` to the fresh core.  Ringing, on-call and wrap-up
are not choices and are not stored: they are rebuilt from Asterisk.

A save never raises into the call path: when the database cannot take it (locked, full, gone),
``agent_state.save_failed`` is logged and the value is kept in memory (the latest per operator);
the next ``save`` or ``flush`` writes it.  ``load`` returns those unsaved values over the rows.
Writes are serialised by a lock, so the row ends with the value saved last.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import structlog
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.acd import AgentLoggedIn, AgentPaused
from callcenter.agents.models import AgentStateRow

log = structlog.get_logger(__name__)

CHOSEN_STATES = ("logged_out", "available", "paused")
REASON_LEN, BY_LEN = 64, 96  # column sizes in migration 0008


@dataclass(frozen=True)
class ChosenState:
    """What an operator last chose: ``state`` one of CHOSEN_STATES, ``reason`` for a pause, ``since`` UTC."""

    state: str
    reason: str | None
    since: dt.datetime
    by: str


class AgentStateStore:
    """The chosen state of every operator of one node, in ``agent_states``."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], node: str) -> None:
        self._sessions = sessions
        self.node = node
        self._unsaved: dict[str, ChosenState] = {}  # agent id -> latest value the database has not taken
        self._lock = asyncio.Lock()

    @property
    def unsaved(self) -> int:
        """How many operators' states wait in memory for the database."""
        return len(self._unsaved)

    async def load(self) -> dict[str, ChosenState]:
        """Agent id -> chosen state, as stored, with values not yet saved on top (raises if unreadable)."""
        async with self._sessions() as session:
            await session.connection(execution_options={"sqlite_begin": "DEFERRED"})  # SQLite: read beside a writer
            rows = (await session.scalars(select(AgentStateRow).where(AgentStateRow.node == self.node))).all()
        chosen = {}
        for row in rows:
            if row.state not in CHOSEN_STATES:  # a hand-written row: ignore it, the operator starts afresh
                log.error("agent_state.invalid", agent=row.agent_id, state=row.state)
                continue
            chosen[row.agent_id] = ChosenState(row.state, row.reason, row.since, row.by)
        return chosen | self._unsaved

    async def save(self, agent_id: str, state: str, reason: str | None, since: dt.datetime, by: str) -> bool:
        """Keep the operator's choice (insert or replace); False if it waits in memory for the database."""
        if state not in CHOSEN_STATES:
            raise ValueError(f"state {state!r} is not one of {CHOSEN_STATES}")
        if since.tzinfo is None:
            raise ValueError(f"naive datetime {since!r}: pass a timezone-aware one")
        reason = reason[:REASON_LEN] if state == "paused" and reason else None
        self._unsaved[agent_id] = ChosenState(state, reason, since.astimezone(dt.UTC), by[:BY_LEN])
        return await self.flush()

    async def flush(self) -> bool:
        """Write every value still in memory; True when nothing is left unsaved.  Never raises."""
        async with self._lock:
            batch = dict(self._unsaved)
            if not batch:
                return True
            try:
                async with self._sessions() as session, session.begin():
                    insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert
                    statement = insert(AgentStateRow).values([
                        {"node": self.node, "agent_id": agent_id, "state": c.state, "reason": c.reason,
                         "since": c.since, "by": c.by}
                        for agent_id, c in batch.items()
                    ])
                    await session.execute(statement.on_conflict_do_update(
                        index_elements=["node", "agent_id"],
                        set_={key: statement.excluded[key] for key in ("state", "reason", "since", "by")},
                    ))
            except Exception as err:  # locked, full or unreachable database: keep the values, retry later
                log.error("agent_state.save_failed", agents=sorted(batch), error=f"{type(err).__name__}: {err}")
                return False
            for agent_id, chosen in batch.items():
                if self._unsaved.get(agent_id) is chosen:  # a newer choice made meanwhile stays unsaved
                    del self._unsaved[agent_id]
            return not self._unsaved


def restore_events(
    chosen: Mapping[str, ChosenState],
    registered: set[str],
    auto_login: bool,
    now: float,
    skills: Mapping[str, frozenset[str]],
) -> list[AgentLoggedIn | AgentPaused]:
    """The core events that put each registered operator back in the state they chose.

    Logged out stays logged out, even with ``auto_login``; paused logs in, then pauses with the
    stored reason; available logs in; an operator with no stored choice logs in if ``auto_login``.
    Operators whose phone is not registered get nothing (the registration logs them in later).
    """
    events: list[AgentLoggedIn | AgentPaused] = []
    for agent_id in sorted(registered):
        choice = chosen.get(agent_id)
        state = choice.state if choice is not None and choice.state in CHOSEN_STATES else None
        if state == "logged_out" or (state is None and not auto_login):
            continue
        events.append(AgentLoggedIn(agent_id, now, frozenset(skills.get(agent_id, frozenset()))))
        if state == "paused" and choice is not None:
            events.append(AgentPaused(agent_id, now, choice.reason) if choice.reason else AgentPaused(agent_id, now))
    return events
