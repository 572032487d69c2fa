"""Suggestions before typing on a real database (SQLite and PostgreSQL): the signals read from the ticket,
the hotline message heard, the caller's last ticket, lookups of the last 30 days."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest
from harness.postgres import store_url  # noqa: F401  (fixture: SQLite, and PostgreSQL when configured)

from callcenter.kb.models import KbEntry, KbView, PreventionMessage
from callcenter.kb.suggestions import SuggestionService, heard_messages
from callcenter.store import open_database, session_factory
from callcenter.store.models import Ticket
from callcenter.workorders.exceptions import NotFound
from callcenter.workorders.models import WorkOrder

NOW = dt.datetime(2026, 11, 30, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
async def stack(store_url: str) -> AsyncIterator[tuple[SuggestionService, object, object]]:
    engine = await open_database(store_url)
    sessions = session_factory(engine)
    yield SuggestionService(sessions, clock=lambda: NOW), sessions, sessions
    await engine.dispose()


async def entry(sessions, question: str, category: str, active: bool = True) -> int:
    async with sessions() as session, session.begin():
        row = KbEntry(question=question, answer=f"{question}的答案", category=category, active=active)
        session.add(row)
        await session.flush()
        return row.id


async def ticket(sessions, uniqueid: str, number: str, when: dt.datetime, *, ivr: dict | None = None,
                 category: str | None = None) -> int:
    async with sessions() as session, session.begin():
        row = Ticket(node="t", uniqueid=uniqueid, source="controller", caller_number=number, arrived_at=when,
                     details={"ivr": ivr} if ivr else {})
        session.add(row)
        await session.flush()
        session.add(WorkOrder(ticket_id=row.id, category=category, created_at=when))
        return row.id


async def add(sessions, *rows) -> None:
    async with sessions() as session, session.begin():
        session.add_all(rows)


def ivr(choice: str | None = None, seasonal: tuple[str, ...] = (), missing: tuple[str, ...] = (), language: str = "zh"):
    messages = [{"prompt": n, "language": language, "seasonal": True, **({"outcome": "missing"} if n in missing else {})}
                for n in seasonal]
    return {"language": language, "seasonal": list(seasonal), "messages": messages,
            "menu": {"choice": choice} if choice else {"readings": 1}}


async def test_menu_choice_message_heard_and_last_ticket_with_reasons(stack):
    service, kb, sessions = stack
    reg1, reg2 = await entry(kb, "怎么挂号？", "registration"), await entry(kb, "能挂几天后的号？", "registration")
    guide = await entry(kb, "儿科在几楼？", "guidance")
    flu = await entry(kb, "流感疫苗什么时候打？", "vaccination")
    complaint = await entry(kb, "怎么投诉？", "service")
    await entry(kb, "报告在哪取？", "reports")  # no signal points at it
    await add(sessions, PreventionMessage(rule_name="kb_flu", entry_id=flu, category="medical",
                                          texts={"zh": "流感高发季，请及时接种流感疫苗", "en": "Flu season: get vaccinated"},
                                          first_day=NOW.date(), last_day=NOW.date(), starts_at=NOW))
    # The caller complained last week and asked about reports before that; a call from someone else is no history.
    await ticket(sessions, "old-1", "13800000001", NOW - dt.timedelta(days=20), category="reports")
    await ticket(sessions, "old-2", "13800000001", NOW - dt.timedelta(days=7), category="complaint")
    await ticket(sessions, "old-3", "13800000001", NOW - dt.timedelta(days=1))  # not categorised: says nothing
    await ticket(sessions, "other", "13900000009", NOW - dt.timedelta(hours=1), category="billing")
    tid = await ticket(sessions, "now-1", "13800000001", NOW,
                       ivr=ivr("registration", seasonal=("kb_flu", "flu_season")))  # flu_season: the file's own
    await ticket(sessions, "later", "13800000001", NOW + dt.timedelta(hours=1), category="urgent")  # not "last"

    # Lookups in the last 30 days order entries the signals tie on; older ones do not count.
    await add(sessions, *[KbView(entry_id=reg2, by="op1", at=NOW - dt.timedelta(days=1)) for _ in range(3)],
              KbView(entry_id=reg1, by="op1", at=NOW - dt.timedelta(days=2)),
              *[KbView(entry_id=reg1, by="op1", at=NOW - dt.timedelta(days=31)) for _ in range(5)])

    result = await service.for_ticket(tid, limit=10)
    assert result["signals"] == [
        {"kind": "message", "value": "流感高发季，请及时接种流感疫苗"},
        {"kind": "menu", "value": "registration"},
        {"kind": "last_ticket", "value": "complaint"},
    ]
    assert [e["id"] for e in result["entries"]] == [flu, reg2, reg1, guide, complaint]
    first = result["entries"][0]
    assert first["question"] == "流感疫苗什么时候打？" and first["answer"] == "流感疫苗什么时候打？的答案"
    assert first["reasons"] == [{"kind": "message", "value": "流感高发季，请及时接种流感疫苗"}]
    assert [e["views"] for e in result["entries"][1:3]] == [3, 1]
    assert result["entries"][-1]["reasons"] == [{"kind": "last_ticket", "value": "complaint"}]
    assert [e["id"] for e in (await service.for_ticket(tid, limit=2))["entries"]] == [flu, reg2]


async def test_a_message_not_heard_an_inactive_entry_and_an_unknown_caller_suggest_nothing(stack):
    service, kb, sessions = stack
    await entry(kb, "旧的挂号规则", "registration", active=False)
    flu = await entry(kb, "流感疫苗什么时候打？", "vaccination")
    await add(sessions, PreventionMessage(rule_name="kb_flu", entry_id=flu, category="medical", texts={"zh": "流感"},
                                          first_day=NOW.date(), last_day=NOW.date(), starts_at=NOW))
    tid = await ticket(sessions, "anon", "", NOW, ivr=ivr("registration", seasonal=("kb_flu",), missing=("kb_flu",)))
    await ticket(sessions, "anon-before", "", NOW - dt.timedelta(days=1), category="reports")  # anonymous: not theirs
    result = await service.for_ticket(tid)
    assert result["signals"] == [{"kind": "menu", "value": "registration"}] and result["entries"] == []
    bare = await ticket(sessions, "bare", "13700000000", NOW)  # no IVR (a fallback call), no history
    assert await service.for_ticket(bare) == {"ticket_id": bare, "signals": [], "entries": []}
    with pytest.raises(NotFound):
        await service.for_ticket(10**6)


async def test_the_message_words_follow_the_callers_language():
    assert heard_messages(ivr(seasonal=("a", "b", "a"), missing=("b",))) == ["a"]
    assert heard_messages({"seasonal": "not a list"}) == []
    assert heard_messages({"seasonal": ["x", 3], "messages": "junk"}) == ["x"]


async def test_english_words_for_a_caller_who_chose_english(stack):
    service, kb, sessions = stack
    flu = await entry(kb, "流感疫苗什么时候打？", "vaccination")
    await add(sessions, PreventionMessage(rule_name="kb_flu", entry_id=flu, category="medical",
                                          texts={"zh": "流感高发季", "en": "Flu season"},
                                          first_day=NOW.date(), last_day=NOW.date(), starts_at=NOW))
    tid = await ticket(sessions, "en-1", "13800000002", NOW, ivr=ivr(seasonal=("kb_flu",), language="en"))
    assert (await service.for_ticket(tid))["entries"][0]["reasons"] == [{"kind": "message", "value": "Flu season"}]


async def test_a_large_category_still_puts_its_popular_late_entry_first(stack):
    service, kb, sessions = stack
    ids = [await entry(kb, f"挂号问题{n}", "registration") for n in range(12)]
    await add(sessions, *[KbView(entry_id=ids[-1], by="op1", at=NOW - dt.timedelta(days=3)) for _ in range(2)],
              KbView(entry_id=ids[5], by="op1", at=NOW - dt.timedelta(days=3)))
    tid = await ticket(sessions, "big", "13800000003", NOW, ivr=ivr("registration"))
    assert [e["id"] for e in (await service.for_ticket(tid, limit=4))["entries"]] == [ids[-1], ids[5], ids[0], ids[1]]
    assert [e["id"] for e in (await service.for_ticket(tid, limit=50))["entries"]][:3] == [ids[-1], ids[5], ids[0]]
    assert len((await service.for_ticket(tid, limit=50))["entries"]) == 12
