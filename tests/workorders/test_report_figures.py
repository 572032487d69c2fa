"""The closed loop's report figures as pure functions: each definition at its edges."""

from __future__ import annotations

import datetime as dt

from callcenter.workorders.report_figures import (
    LedgerRow, SurveyRow, TicketRow, closed_loop, ledger_figures, looked_up_most, on_the_call, overdue_at, repeat_callers,
    satisfaction, time_limit,
)

UTC = dt.UTC
START = dt.datetime(2026, 10, 1, tzinfo=UTC)
END = dt.datetime(2026, 11, 1, tzinfo=UTC)
H = dt.timedelta(hours=1)
MIN = dt.timedelta(minutes=1)


def ticket(tid: int, **kw: object) -> TicketRow:
    return TicketRow(ticket_id=tid, arrived_at=kw.pop("arrived_at", START + H), **kw)  # type: ignore[arg-type]


def test_answered_on_the_call_is_solved_within_the_wrap_up_grace_of_an_answered_call():
    ended = START + 2 * H
    assert on_the_call(ticket(1, answered=True, ended_at=ended, solved_at=ended + 5 * MIN))
    assert not on_the_call(ticket(2, answered=True, ended_at=ended, solved_at=ended + 5 * MIN + dt.timedelta(seconds=1)))
    assert not on_the_call(ticket(3, answered=False, ended_at=ended, solved_at=ended))
    assert not on_the_call(ticket(4, answered=True, ended_at=ended))


def test_the_time_limit_is_on_time_late_or_pending_as_known_at_the_end():
    due = START + 10 * H
    assert time_limit(ticket(1, due_at=due, solved_at=due), END) == "on_time"  # at the deadline is in time
    assert time_limit(ticket(2, due_at=due, solved_at=due + MIN), END) == "late"
    assert time_limit(ticket(3, due_at=due), END) == "late"  # unsolved past its deadline
    assert time_limit(ticket(4, due_at=END + H), END) == "pending"  # not due yet
    assert time_limit(ticket(5, due_at=END + H, solved_at=END + MIN), END) == "pending"  # solved after the range
    assert time_limit(ticket(6), END) is None  # no time limit


def test_overdue_at_the_end_takes_the_earliest_passed_deadline_of_an_unsolved_case():
    due, promised = START + 10 * H, START + 5 * H
    assert overdue_at(ticket(1, due_at=due, promised_reply_at=promised), END) == promised
    assert overdue_at(ticket(2, due_at=due, promised_reply_at=END + H), END) == due
    assert overdue_at(ticket(3, due_at=due, solved_at=END - H), END) is None
    assert overdue_at(ticket(4, due_at=due, solved_at=END + H), END) == due  # solved only after the range
    assert overdue_at(ticket(5, due_at=due, status="merged"), END) is None
    assert overdue_at(ticket(6, due_at=due, status="closed", close_reason="unreachable", closed_at=END - H), END) is None
    assert overdue_at(ticket(7, due_at=END), END) is None


def test_satisfaction_rates_per_department_over_reached_and_scored_visits():
    visits = [
        SurveyRow(1, START, "5", "medical", "儿科"),
        SurveyRow(2, START, "4", "medical", "儿科"),
        SurveyRow(3, START, "2", "billing", "儿科"),
        SurveyRow(4, START, "no_key", "complaint", "儿科"),  # reached, no score, about a complaint
        SurveyRow(5, START, "no_answer", "medical", "儿科"),  # not reached
        SurveyRow(6, START, "3", "complaint", None),
    ]
    figures = satisfaction(visits)
    child = figures["儿科"]
    assert (child["visits_reached"], child["visits_scored"], child["satisfied"], child["praise"], child["criticism"]) == (4, 3, 2, 1, 2)
    assert child["satisfaction_rate"] == 0.5 and child["effective_satisfaction_rate"] == round(2 / 3, 4)
    assert child["praise_rate"] == 0.25 and child["criticism_rate"] == 0.5
    hotline = figures[""]
    assert (hotline["visits_reached"], hotline["satisfied"], hotline["criticism"]) == (1, 1, 1)
    assert figures["*"]["visits_reached"] == 5 and figures["*"]["satisfaction_rate"] == 0.6


def test_the_ledger_counts_new_open_at_the_end_and_struck_off_in_the_range():
    items = [
        LedgerRow("儿科", "open", START - H),  # earlier, still open
        LedgerRow("儿科", "struck_off", START - H, START + H),  # earlier, struck off in the range
        LedgerRow("儿科", "rectifying", START + H),  # new, open
        LedgerRow("儿科", "struck_off", START + H, END + H),  # new, struck off only after the range: open at its end
        LedgerRow("儿科", "open", END + H),  # after the range
        LedgerRow(None, "struck_off", START + H, START + 2 * H),
    ]
    figures = ledger_figures(items, START, END)
    assert figures["儿科"] == {"ledger_new": 2, "ledger_open": 3, "ledger_struck_off": 1}
    assert figures[""] == {"ledger_new": 1, "ledger_open": 0, "ledger_struck_off": 1}
    assert figures["*"] == {"ledger_new": 3, "ledger_open": 3, "ledger_struck_off": 2}


def test_repeat_callers_by_number_or_revisits():
    calls = [ticket(1, caller_number="138"), ticket(2, caller_number="138", category="billing"),
             ticket(3, caller_number="139", revisits=2), ticket(4, caller_number="137"), ticket(5)]
    assert repeat_callers(calls) == [
        {"caller_number": "139", "calls": 3, "tickets": [3], "categories": [""]},
        {"caller_number": "138", "calls": 2, "tickets": [1, 2], "categories": ["", "billing"]},
    ]


def test_closed_loop_totals_categories_departments_and_problems():
    ended = START + H + 5 * MIN
    calls = [
        ticket(1, answered=True, ended_at=ended, category="medical", solved_at=ended, caller_number="1"),
        ticket(2, answered=True, ended_at=ended, category="medical", department="儿科", due_at=START + 5 * H,
               solved_at=START + 4 * H, caller_number="2"),
        ticket(3, answered=True, ended_at=ended, category="complaint", department="儿科", due_at=START + 5 * H,
               caller_number="3"),
        ticket(4, category="complaint", department="儿科", status="merged", caller_number="3"),
        ticket(5, category="other", status="closed", close_reason="invalid"),
    ]
    earlier = ticket(9, arrived_at=START - 48 * H, category="billing", department="药剂科", due_at=START - H)
    figures = closed_loop(calls, {"medical": 1, "billing": 2}, [earlier], [], [], START, END,
                          kb_views={"7": 3}, kb_views_before={"7": 1}, kb_questions={"7": "如何取报告"})
    t = figures["totals"]
    assert (t["calls"], t["cases"], t["answered"], t["on_call"], t["on_time"], t["late"], t["overdue"]) == (5, 3, 3, 1, 1, 1, 2)
    assert t["on_call_rate"] == round(1 / 3, 4) and t["on_time_rate"] == 0.5
    assert [(c["category"], c["calls"], c["cases"]) for c in figures["by_category"]] == [
        ("complaint", 2, 1), ("medical", 2, 2), ("other", 1, 0)]
    assert [d["department"] for d in figures["by_department"]] == ["", "儿科", "药剂科"]
    depts = {d["department"]: d for d in figures["by_department"]}
    assert (depts["儿科"]["cases"], depts["儿科"]["on_time"], depts["儿科"]["late"], depts["儿科"]["overdue"]) == (2, 1, 1, 1)
    assert depts["药剂科"]["overdue"] == 1 and depts["药剂科"]["cases"] == 0
    problems = figures["problems"]
    assert problems["rising"] == [{"category": "complaint", "now": 2, "before": 0, "change": 2},
                                  {"category": "other", "now": 1, "before": 0, "change": 1},  # new: rose most relatively
                                  {"category": "medical", "now": 2, "before": 1, "change": 1}]
    assert problems["rising_questions"] == [{"entry_id": 7, "question": "如何取报告", "now": 3, "before": 1, "change": 2}]
    assert problems["looked_up_most"] == [{"entry_id": 7, "question": "如何取报告", "views": 3}]
    assert [o["ticket_id"] for o in problems["overdue"]] == [9, 3]
    assert problems["repeat_callers"][0]["tickets"] == [3, 4]


def test_looked_up_most_ranks_entries_by_lookups_in_the_range_not_by_their_rise():
    views = {"3": 2, "12": 9, "5": 2, "8": 0}
    questions = {"3": "怎么挂号", "12": "发烧怎么办", "5": "报告在哪取"}
    assert looked_up_most(views, questions) == [
        {"entry_id": 12, "question": "发烧怎么办", "views": 9},
        {"entry_id": 3, "question": "怎么挂号", "views": 2},  # a tie: the lower id first
        {"entry_id": 5, "question": "报告在哪取", "views": 2},
    ]
    assert looked_up_most(views, questions, top=1)[0]["entry_id"] == 12
    assert looked_up_most({"7": 1}, {}) == [{"entry_id": 7, "question": "", "views": 1}]  # an entry gone since
    assert looked_up_most({}, {}) == []
    fell = closed_loop([], {}, [], [], [], START, END, kb_views={"1": 1}, kb_views_before={"1": 5}, kb_questions={"1": "q"})
    assert fell["problems"]["rising_questions"] == [] and fell["problems"]["looked_up_most"] == [
        {"entry_id": 1, "question": "q", "views": 1}]
