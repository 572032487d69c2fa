"""Suggestions before typing, the pure choice: each signal, closeness, popularity on ties, no duplicates, limit."""

from __future__ import annotations

from callcenter.kb.suggest import (
    LAST_TICKET,
    MAX_LIMIT,
    MENU,
    MESSAGE,
    Candidate,
    Signal,
    signals,
    suggest,
    wanted,
)

ENTRIES = [
    Candidate(1, "registration"), Candidate(2, "registration"), Candidate(3, "guidance"),
    Candidate(4, "reports"), Candidate(5, "medical"), Candidate(6, "service"), Candidate(7, "urgent"),
]


def ids(found, views=None, limit=10, candidates=ENTRIES):
    return [s.entry_id for s in suggest(found, candidates, views or {}, limit)]


def test_the_menu_choice_points_at_its_categories_closest_first():
    found = signals("registration", [], None)
    assert [(s.kind, s.value) for s in found] == [(MENU, "registration")]
    assert ids(found) == [1, 2, 3]  # registration, then guidance; nothing else
    assert [r.kind for r in suggest(found, ENTRIES, {}, 10)[2].reasons] == [MENU]


def test_a_message_heard_points_at_its_own_entry_first():
    found = signals("registration", [(5, "流感季节，发热患儿请走发热门诊")], None)
    assert [s.kind for s in found] == [MESSAGE, MENU]
    assert ids(found) == [5, 1, 2, 3]
    assert suggest(found, ENTRIES, {}, 1)[0].reasons[0].value == "流感季节，发热患儿请走发热门诊"


def test_the_last_ticket_category_comes_after_this_calls_choice():
    found = signals("reports", [], "complaint")
    assert [(s.kind, s.value) for s in found] == [(MENU, "reports"), (LAST_TICKET, "complaint")]
    assert ids(found) == [4, 6]
    alone = signals(None, [], "complaint")
    assert ids(alone) == [6] and suggest(alone, ENTRIES, {}, 5)[0].reasons[0].kind == LAST_TICKET


def test_signals_that_point_nowhere_are_left_out():
    assert signals("operator", [], None) == ()
    assert signals(None, [], "other") == ()
    assert signals("no-such-choice", [], "") == ()
    assert ids(()) == []


def test_popular_entries_order_the_ones_the_signals_tie_on():
    found = signals("registration", [], None)
    assert ids(found, {2: 5, 1: 1, 3: 50}) == [2, 1, 3]  # 3 is popular but only guidance: after registration
    assert [s.views for s in suggest(found, ENTRIES, {2: 5, 1: 1}, 10)] == [5, 1, 0]
    assert ids(found, {1: 3, 2: 3}) == [1, 2, 3]  # an equal count: lower id (the curated entry) first


def test_an_entry_named_by_more_signals_goes_first_and_carries_every_reason():
    found = signals("urgent", [], "medical")  # urgent: (urgent, medical); medical: (medical, vaccination)
    picked = suggest(found, [Candidate(7, "urgent"), Candidate(5, "medical"), Candidate(8, "urgent")], {8: 9}, 10)
    assert [s.entry_id for s in picked] == [8, 7, 5]
    assert [r.kind for r in picked[2].reasons] == [MENU, LAST_TICKET]
    same_place = (Signal(MENU, "a", categories=("x",)), Signal(LAST_TICKET, "b", categories=("x", "y")))
    both = suggest(same_place, [Candidate(1, "x"), Candidate(2, "x")], {1: 100}, 10)
    assert [s.entry_id for s in both] == [1, 2] and all(len(s.reasons) == 2 for s in both)


def test_no_duplicates_even_when_an_entry_comes_twice_or_two_messages_name_it():
    found = signals("registration", [(1, "挂号提示"), (1, "挂号提示（重播）")], "registration")
    picked = suggest(found, [*ENTRIES, Candidate(1, "registration")], {}, 10)
    assert [s.entry_id for s in picked] == [1, 2, 3]
    assert [r.kind for r in picked[0].reasons] == [MESSAGE, MESSAGE, MENU, LAST_TICKET]


def test_limit_is_kept_and_bounded():
    found = signals("guidance", [], None)
    many = [Candidate(n, "guidance") for n in range(1, 200)]
    assert ids(found, limit=3, candidates=many) == [1, 2, 3]
    assert len(ids(found, limit=1000, candidates=many)) == MAX_LIMIT
    assert ids(found, limit=0, candidates=many) == [] and ids(found, limit=-5, candidates=many) == []


def test_wanted_names_what_the_store_reads():
    found = signals("complaints", [(42, "x")], "billing")
    assert wanted(found) == ({42}, {"service", "billing"})
