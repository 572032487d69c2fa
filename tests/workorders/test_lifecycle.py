"""The ticket lifecycle as a pure state machine: allowed moves, refusals, promises, surveys, overdue."""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo

import pytest

from callcenter.workorders.exceptions import IllegalMove, PromiseRequired
from callcenter.workorders.lifecycle import (
    MOVES,
    Status,
    WorkState,
    after_survey,
    allowed_targets,
    check_promise,
    end_of_local_day,
    move,
    overdue,
)

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
T0 = dt.datetime(2025, 3, 10, 2, 0, tzinfo=dt.UTC)  # 10:00 in Beijing
PROMISE = T0 + dt.timedelta(hours=24)


def at(hours: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


def test_the_whole_closed_loop():
    s = WorkState(call_ended=True, promised_reply_at=PROMISE)
    s = move(s, "in_progress", at(0))
    s = move(s, "escalated", at(1))
    s = move(s, "in_progress", at(5))  # the department replied
    s = move(s, "solved", at(6))
    assert s.callback_by == at(6) + dt.timedelta(hours=48)
    s = move(s, "callback_due", at(7))
    s = after_survey(s, 4, at(8))
    assert s.status == Status.CLOSED and s.close_reason == "satisfied" and s.satisfaction == 4


def test_an_unsatisfied_callback_reopens_the_ticket():
    s = WorkState(status=Status.CALLBACK_DUE, call_ended=True, callback_by=at(10))
    s = after_survey(s, 2, at(1))
    assert s.status == Status.IN_PROGRESS
    assert s.satisfaction == 2 and s.callback_by is None


def test_a_survey_on_an_unsolved_ticket_only_records_the_score():
    s = after_survey(WorkState(status=Status.IN_PROGRESS), 5, at(0))
    assert s.status == Status.IN_PROGRESS and s.satisfaction == 5
    with pytest.raises(ValueError):
        after_survey(s, 6, at(0))


@pytest.mark.parametrize(
    ("status", "target"),
    [
        (Status.NEW, Status.CALLBACK_DUE),
        (Status.SOLVED, Status.ESCALATED),
        (Status.CLOSED, Status.SOLVED),
        (Status.MERGED, Status.SOLVED),
        (Status.ESCALATED, Status.NEW),
    ],
)
def test_illegal_moves_are_refused_with_what_is_allowed(status, target):
    state = WorkState(status=status, promised_reply_at=PROMISE)
    with pytest.raises(IllegalMove) as caught:
        move(state, target, at(0))
    err = caught.value
    assert err.slug == "ticket.illegal_move"
    assert f"cannot become {target.value}" in str(err)
    assert err.allowed == allowed_targets(status)
    for allowed in err.allowed:
        assert allowed in str(err)


def test_every_pair_of_statuses_is_either_a_table_move_or_refused():
    edges = {(s, m.target) for m in MOVES for s in m.sources}
    for source, target in itertools.product(Status, Status):
        state = WorkState(
            status=source,
            promised_reply_at=PROMISE,
            satisfaction=5,
            parent_id=1,
            callback_attempts_exhausted=True,
        )
        reason = "satisfied" if source in (Status.SOLVED, Status.CALLBACK_DUE) else "invalid"
        if (source, target) in edges:
            assert move(state, target, at(0), reason=reason, parent_id=7).status == target
        else:
            with pytest.raises(IllegalMove):
                move(state, target, at(0), reason=reason, parent_id=7)


def test_unknown_status_and_same_status_are_refused_clearly():
    with pytest.raises(IllegalMove, match="unknown status 'done'"):
        move(WorkState(), "done", at(0))
    with pytest.raises(IllegalMove, match="already new"):
        move(WorkState(), "new", at(0))


def test_an_unsolved_call_cannot_end_without_a_promised_reply_time():
    ended = WorkState(status=Status.IN_PROGRESS, call_ended=True)
    with pytest.raises(PromiseRequired) as caught:
        check_promise(ended)
    assert caught.value.slug == "ticket.promise_required"
    assert "promised_reply_at" in str(caught.value)
    check_promise(WorkState(status=Status.IN_PROGRESS, call_ended=False))  # still talking: fine
    check_promise(WorkState(status=Status.IN_PROGRESS, call_ended=True, promised_reply_at=PROMISE))
    check_promise(WorkState(status=Status.SOLVED, call_ended=True))  # solved needs no promise


def test_escalating_needs_a_promise():
    with pytest.raises(PromiseRequired):
        move(WorkState(status=Status.IN_PROGRESS), "escalated", at(0))


def test_closing_needs_a_fitting_reason():
    waiting = WorkState(status=Status.CALLBACK_DUE, satisfaction=None)
    with pytest.raises(IllegalMove, match="needs a reason"):
        move(waiting, "closed", at(0))
    with pytest.raises(IllegalMove, match="satisfaction score"):
        move(waiting, "closed", at(0), reason="satisfied")
    with pytest.raises(IllegalMove, match="every attempt failed"):
        move(waiting, "closed", at(0), reason="unreachable")
    done = move(waiting.__class__(status=Status.CALLBACK_DUE, callback_attempts_exhausted=True), "closed", at(0),
                reason="unreachable")
    assert done.close_reason == "unreachable"
    with pytest.raises(IllegalMove, match="invalid"):
        move(WorkState(status=Status.SOLVED), "closed", at(0), reason="invalid")
    assert move(WorkState(), "closed", at(0), reason="invalid").status == Status.CLOSED


def test_merge_needs_a_parent_and_unmerge_forgets_it():
    with pytest.raises(IllegalMove, match="parent_id"):
        move(WorkState(), "merged", at(0))
    merged = move(WorkState(), "merged", at(0), parent_id=42)
    assert merged.parent_id == 42
    assert move(merged, "new", at(0)).parent_id is None


def test_overdue_counts_calendar_days_in_the_hospital_zone():
    # Promised for 23:30 Beijing time on 10 March (15:30 UTC).
    promise = dt.datetime(2025, 3, 10, 23, 30, tzinfo=SHANGHAI)
    state = WorkState(status=Status.ESCALATED, promised_reply_at=promise)
    assert overdue(state, promise.astimezone(dt.UTC), SHANGHAI) is None  # exactly on time
    # 40 minutes later it is 00:10 on 11 March in Beijing, still 10 March in UTC: one day late.
    late = overdue(state, (promise + dt.timedelta(minutes=40)).astimezone(dt.UTC), SHANGHAI)
    assert late is not None and late.days == 1 and late.late == dt.timedelta(minutes=40)
    # Same day in Beijing: late, but 0 days.
    early = dt.datetime(2025, 3, 10, 9, 0, tzinfo=SHANGHAI)
    same_day = overdue(WorkState(status=Status.NEW, promised_reply_at=early),
                       dt.datetime(2025, 3, 10, 22, 0, tzinfo=SHANGHAI), SHANGHAI)
    assert same_day is not None and same_day.days == 0
    # Across a month end, three local days.
    across = overdue(WorkState(status=Status.NEW, promised_reply_at=dt.datetime(2025, 2, 27, 18, 0, tzinfo=SHANGHAI)),
                     dt.datetime(2025, 3, 2, 8, 0, tzinfo=SHANGHAI), SHANGHAI)
    assert across is not None and across.days == 3


def test_overdue_follows_the_callback_deadline_once_solved_and_nothing_when_closed():
    s = move(WorkState(status=Status.IN_PROGRESS, promised_reply_at=at(1)), "solved", at(2),
             callback_within=dt.timedelta(hours=24))
    assert overdue(s, at(20), SHANGHAI) is None  # promise passed, but solved: the callback deadline counts
    assert overdue(s, at(27), SHANGHAI) is not None
    assert overdue(WorkState(status=Status.CLOSED, promised_reply_at=at(0)), at(99), SHANGHAI) is None
    assert overdue(WorkState(status=Status.NEW), at(99), SHANGHAI) is None  # no promise: nothing to miss


def test_end_of_local_day():
    moment = dt.datetime(2025, 3, 10, 17, 0, tzinfo=dt.UTC)  # 01:00 on 11 March in Beijing
    assert end_of_local_day(moment, SHANGHAI) == dt.datetime(2025, 3, 11, 23, 59, 59, tzinfo=SHANGHAI)
    assert end_of_local_day(moment, SHANGHAI, 1) == dt.datetime(2025, 3, 12, 23, 59, 59, tzinfo=SHANGHAI)


def test_naive_times_are_refused():
    with pytest.raises(ValueError, match="naive"):
        move(WorkState(), "in_progress", dt.datetime(2025, 1, 1))
