"""The sweep at start: tickets of calls that ended while the controller was away are closed."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from callcenter.store import open_database, session_factory
from callcenter.tickets import TicketService
from callcenter.tickets.sweep import close_vanished_calls

ARRIVED = dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)


class ChannelList:
    """The one AMI action the sweep sends: CoreShowChannels, answered with these uniqueids."""

    def __init__(self, *uniqueids: str) -> None:
        self.uniqueids = uniqueids

    async def action(self, action: dict, as_list: bool = False) -> list[dict]:
        assert action == {"Action": "CoreShowChannels"} and as_list
        return [{"Event": "CoreShowChannel", "Uniqueid": u, "Linkedid": u} for u in self.uniqueids]


@pytest.fixture
async def tickets(tmp_path: Path) -> AsyncIterator[TicketService]:
    engine = await open_database(f"sqlite+aiosqlite:///{tmp_path / 'callcenter.db'}")
    service = TicketService(session_factory(engine), "pbx1", spill_dir=tmp_path / "spill")
    await service.start()
    yield service
    await service.close()
    await engine.dispose()


async def test_vanished_calls_end_by_system_and_a_lost_kept_place_says_unreached(tickets):
    for uid, number in (("1.1", "13800000001"), ("1.2", "13800000002"), ("1.3", "13800000003"), ("1.4", "13800000004")):
        await tickets.open_for_arrival(uid, number, "", "PJSIP/trunk", ARRIVED)
    kept = {"requested_at": ARRIVED.isoformat(), "position": 2, "waited_seconds": 40.0, "attempts": [],
            "outcome": "waiting"}
    await tickets.record_details("1.1", "callback", kept)  # a kept place the controller held in memory
    await tickets.record_details("1.3", "callback", {**kept, "outcome": "answered"})
    await tickets.mark_answered("1.3", "1001", ARRIVED + dt.timedelta(seconds=50))

    closed = await close_vanished_calls(tickets, ChannelList("1.4"), ours=())  # 1.4 still up in Asterisk
    assert closed == 3
    await tickets.flush(5)
    lost, plain, answered, live = [await tickets.get(u) for u in ("1.1", "1.2", "1.3", "1.4")]
    assert lost.hangup_by == plain.hangup_by == answered.hangup_by == "system" and live.ended_at is None
    assert lost.details["callback"] == {**kept, "outcome": "unreached", "lost": "controller_restarted"}
    assert "callback" not in plain.details
    assert answered.details["callback"]["outcome"] == "answered"  # a callback already made stays as it was
    assert all(t.details["end"]["observed"] == "after_restart" for t in (lost, plain, answered))
