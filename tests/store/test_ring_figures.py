"""Rings on tickets (``TicketService.record_ring``) and the figures read back from a real SQLite file.

Every figure the wallboard and the reports show counts the calls that rang an operator: a caller
who hangs up while a phone rings is offered and not answered within two rings, and each operator
is credited every ring of their phone, not only the one who answered.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from harness.postgres import store_engine, store_url  # noqa: F401  (fixtures: engine, on SQLite and PostgreSQL when configured)
from callcenter.store import session_factory
from callcenter.store.db import alembic_config
from callcenter.tickets import TicketService
from callcenter.web import figures
from callcenter.web.store import call_rows

T0 = dt.datetime(2025, 3, 3, 2, 0, 0, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


@pytest.fixture
async def tickets(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[TicketService]:
    service = TicketService(session_factory(engine), "pbx1", spill_dir=tmp_path / "spill")
    await service.start()
    yield service
    await service.close()


def migrate(sync: Connection, direction: str, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = sync
    getattr(command, direction)(config, revision)


async def test_migration_adds_first_rang_at_and_goes_down_and_up_again(engine: AsyncEngine) -> None:
    def columns(sync: Connection) -> set[str]:
        return {c["name"] for c in inspect(sync).get_columns("tickets")}

    async with engine.begin() as conn:
        assert "first_rang_at" in await conn.run_sync(columns)
        await conn.run_sync(migrate, "downgrade", "0009")
        assert "first_rang_at" not in await conn.run_sync(columns)
        await conn.run_sync(migrate, "upgrade", "head")
        assert "first_rang_at" in await conn.run_sync(columns)


async def call(tickets: TicketService, uniqueid: str, arrived: float, rings: list[tuple[str, float, float, str]],
               answered: tuple[str, float, bool] | None, ended: float) -> None:
    """One call as the adapter writes it: arrival, each ring's start and end, the answer, the end."""
    await tickets.open_for_arrival(uniqueid, "13800138000", "", "PJSIP/trunk-1", at(arrived))
    for agent, start, _, _ in rings:
        await tickets.record_ring(uniqueid, agent, at(start))
    if answered is not None:
        agent, moment, within = answered
        await tickets.mark_answered(uniqueid, agent, at(moment))
        await tickets.record_details(uniqueid, "acd", {"within_two_rings": within})
    for agent, start, end, outcome in rings:
        await tickets.record_ring(uniqueid, agent, at(start), at(end), outcome)
    await tickets.mark_ended(uniqueid, at(ended), "caller" if answered is None else "agent")


async def figures_of(engine: AsyncEngine) -> tuple[dict, dict[str, dict]]:
    rows = await call_rows(session_factory(engine), at(-3600), at(3600))
    return figures.summarise(rows), {a["agent_id"]: a for a in figures.by_agent(rows)}


async def test_a_ring_is_kept_once_whatever_the_order_and_first_rang_at_is_the_earliest(tickets: TicketService):
    await tickets.open_for_arrival("r1", "2001", "", "PJSIP/trunk-1", at(0))
    await tickets.record_ring("r1", "1002", at(16.2), at(17.0), "answered")  # the end lands first
    await tickets.record_ring("r1", "1001", at(10.0))
    await tickets.record_ring("r1", "1002", at(16.2))  # then its start: nothing new
    await tickets.record_ring("r1", "1001", at(10.0), at(17.0), "answered_elsewhere")
    await tickets.record_ring("r1", "1001", at(10.0), at(17.0), "answered_elsewhere")  # a replay
    await tickets.record_ring("r1", "1001", at(10.0))  # a late start never undoes the end
    ticket = await tickets.get("r1")
    assert ticket is not None
    assert ticket.first_rang_at == at(10.0)
    assert ticket.call_status == "ringing"
    assert ticket.details["rings"] == [
        {"agent_id": "1001", "started_at": at(10.0).isoformat(), "ended_at": at(17.0).isoformat(), "outcome": "answered_elsewhere"},
        {"agent_id": "1002", "started_at": at(16.2).isoformat(), "ended_at": at(17.0).isoformat(), "outcome": "answered"},
    ]
    with pytest.raises(ValueError):
        await tickets.record_ring("r1", "1001", at(10.0), at(17.0), "bored")


async def test_a_caller_who_hangs_up_while_a_phone_rings_lowers_the_service_level(engine, tickets: TicketService):
    await call(tickets, "ok-1", 0, [("1001", 2, 4, "answered")], ("1001", 4, True), 60)
    await call(tickets, "ok-2", 100, [("1002", 102, 103, "answered")], ("1002", 103, True), 160)
    before, _ = await figures_of(engine)
    assert (before["offered_to_agent"], before["within_two_rings"], before["service_level"]) == (2, 2, 1.0)

    await call(tickets, "left", 200, [("1001", 202, 207, "caller_left")], None, 207)  # hung up while it rang
    await call(tickets, "queue", 300, [], None, 330)  # hung up waiting, no phone rang: not offered to anyone
    summary, agents = await figures_of(engine)
    assert (summary["offered"], summary["answered"], summary["abandoned"]) == (4, 2, 2)
    assert summary["offered_to_agent"] == 3  # the call that rang counts, though nobody answered it
    assert summary["service_level"] == round(2 / 3, 4)
    assert agents["1001"]["offered"] == 2 and agents["1001"]["caller_left"] == 1 and agents["1001"]["missed"] == 0
    assert agents["1001"]["service_level"] == 0.5  # the call that rang out of the caller's patience counts against


async def test_a_missed_ring_then_another_answers_credits_both_operators(engine, tickets: TicketService):
    await call(tickets, "m1", 0, [("1001", 1, 11, "missed"), ("1002", 11.2, 12, "answered")], ("1002", 12, False), 70)
    summary, agents = await figures_of(engine)
    assert (summary["offered_to_agent"], summary["within_two_rings"], summary["service_level"]) == (1, 0, 0.0)
    a, b = agents["1001"], agents["1002"]
    assert (a["offered"], a["answered"], a["missed"], a["service_level"]) == (1, 0, 1, 0.0)
    assert (b["offered"], b["answered"], b["missed"], b["within_two_rings"]) == (1, 1, 0, 0)
    assert b["avg_talk"] == 58.0


async def test_the_guard_pair_the_ring_stopped_because_another_answered_is_not_a_miss(engine, tickets: TicketService):
    await call(tickets, "g1", 0, [("1001", 1, 8, "answered_elsewhere"), ("1002", 7, 8, "answered")], ("1002", 8, True), 60)
    summary, agents = await figures_of(engine)
    assert (summary["offered_to_agent"], summary["service_level"]) == (1, 1.0)  # one call, not two
    a, b = agents["1001"], agents["1002"]
    assert (a["offered"], a["missed"], a["answered_elsewhere"]) == (1, 0, 1)
    assert a["service_level"] is None  # no ring A could have answered: no rate, not 0%
    assert (b["offered"], b["answered"], b["within_two_rings"], b["service_level"]) == (1, 1, 1, 1.0)


async def test_a_fallback_queue_answer_with_no_ring_recorded_still_counts_as_offered(engine, tickets: TicketService):
    await tickets.open_for_arrival("f1", "2005", "", "PJSIP/trunk-1", at(0))
    await tickets.mark_answered("f1", "1003", at(9))
    await tickets.mark_ended("f1", at(40), "agent")
    summary, agents = await figures_of(engine)
    assert (summary["offered_to_agent"], summary["within_two_rings"]) == (1, 0)
    assert (agents["1003"]["offered"], agents["1003"]["answered"]) == (1, 1)
