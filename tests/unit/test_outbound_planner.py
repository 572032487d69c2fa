"""The outbound planner, pure: windows, pacing over days, deadlines, retry bounds, callbacks (fake clock)."""

from __future__ import annotations

import datetime as dt

import pytest

from callcenter.outbound.planner import (
    Capacity,
    ListTask,
    Operator,
    RetryRules,
    after_attempt,
    calls_per_day,
    in_windows,
    next_window_start,
    outcome_of,
    parse_windows,
    pick_callback,
    plan,
)

BJ = dt.timezone(dt.timedelta(hours=8))
WINDOWS = parse_windows(["14:30-16:30", "09:30-11:30"])


def at(day: int, hh: int, mm: int = 0) -> dt.datetime:
    return dt.datetime(2025, 3, day, hh, mm, tzinfo=BJ).astimezone(dt.UTC)


def simulate(tasks: list[ListTask], start: dt.datetime, until: dt.datetime, capacity: Capacity,
             answer=lambda task_id, attempt: "answered", rules: RetryRules = RetryRules()) -> list[tuple[dt.datetime, int, str]]:
    """Drive the planner with a fake clock; every call takes 2 minutes. (when, task, outcome) per call."""
    tasks = {t.id: t for t in tasks}
    done: set[int] = set()
    calls, starts = [], []
    now = start
    while now < until:
        pending = [t for t in tasks.values() if t.id not in done]
        decided = plan(pending, now, WINDOWS, BJ, capacity, recent_starts=starts)
        done |= set(decided.expire)
        for task_id in decided.dial:
            assert in_windows(now, WINDOWS, BJ), f"dialled outside the windows at {now}"
            task = tasks[task_id]
            outcome = answer(task_id, task.attempts + 1)
            calls.append((now, task_id, outcome))
            starts.append(now)
            step = after_attempt(outcome, task.attempts + 1, task.max_attempts, now + dt.timedelta(minutes=2), rules)
            if step.state == "pending":
                tasks[task_id] = ListTask(task.id, step.not_before, task.due_by, task.attempts + 1, task.max_attempts)
            else:
                done.add(task_id)
        if decided.wake_at is None:
            break
        assert decided.wake_at > now
        now = decided.wake_at
    return calls


def test_windows_parse_sort_and_refuse_nonsense():
    assert [str(w) for w in WINDOWS] == ["09:30-11:30", "14:30-16:30"]
    for bad in ("9-11", "25:00-07:00", "09:30"):
        with pytest.raises(ValueError, match=bad):
            parse_windows([bad])
    assert in_windows(at(10, 9, 30), WINDOWS, BJ) and not in_windows(at(10, 11, 30), WINDOWS, BJ)
    assert next_window_start(at(10, 12, 0), WINDOWS, BJ) == at(10, 14, 30)
    assert next_window_start(at(10, 17, 0), WINDOWS, BJ) == at(11, 9, 30)  # across the night
    assert next_window_start(at(10, 10, 0), WINDOWS, BJ) == at(10, 10, 0)


def test_windows_have_the_one_meaning_across_midnight_and_08_to_08_is_the_whole_day():
    """callcenter.timewindow: outbound windows read "HH:MM-HH:MM" like the IVR, the rota and duty hours.

    (They used to be refused here; a hospital whose callbacks run around the clock writes 08:00-08:00.)
    """
    whole_day = parse_windows(["08:00-08:00"])
    for hour in (0, 7, 8, 12, 23):
        assert in_windows(at(10, hour, 59), whole_day, BJ)
        assert next_window_start(at(10, hour, 59), whole_day, BJ) == at(10, hour, 59)
    assert calls_per_day(whole_day, Capacity(per_hour=30, concurrent=2)) == 24 * 30
    tasks = [ListTask(1, at(9, 0, 0)), ListTask(2, at(9, 0, 0))]
    assert plan(tasks, at(10, 3, 0), whole_day, BJ, Capacity(60, 2)).dial == (1,)  # 03:00 is inside
    assert pick_callback(tasks, at(10, 3, 0), whole_day, BJ, free=[Operator("1001", 0.0)], callers_waiting=0) == (1, "1001")

    night = parse_windows(["21:00-07:00"])
    assert [in_windows(at(10, h), night, BJ) for h in (20, 21, 23, 0, 6, 7, 12)] == [False, True, True, True, True, False, False]
    assert next_window_start(at(10, 12, 0), night, BJ) == at(10, 21, 0)
    assert next_window_start(at(11, 3, 0), night, BJ) == at(11, 3, 0)
    assert calls_per_day(night, Capacity(per_hour=60, concurrent=2)) == 10 * 60


def test_nothing_is_dialled_outside_the_windows_and_the_wake_is_the_next_window():
    tasks = [ListTask(1, at(9, 0, 0))]
    for moment in (at(10, 7, 0), at(10, 11, 30), at(10, 13, 0), at(10, 22, 0)):
        decided = plan(tasks, moment, WINDOWS, BJ, Capacity(60, 2))
        assert decided.dial == ()
        assert decided.wake_at == next_window_start(moment, WINDOWS, BJ)
    assert plan(tasks, at(10, 9, 30), WINDOWS, BJ, Capacity(60, 2)).dial == (1,)


def test_a_long_list_is_spread_evenly_over_the_windows_of_several_days():
    # 4 hours of windows a day at 30 calls an hour: 120 calls a day; 300 tasks take three days.
    tasks = [ListTask(n, at(10, 0, 0), due_by=at(20, 0, 0)) for n in range(1, 301)]
    capacity = Capacity(per_hour=30, concurrent=2)
    assert calls_per_day(WINDOWS, capacity) == 120
    calls = simulate(tasks, at(10, 8, 0), at(14, 0, 0), capacity)
    assert sorted(task for _, task, _ in calls) == list(range(1, 301))  # each once
    per_day = {}
    for when, _, _ in calls:
        day = when.astimezone(BJ).date().day
        per_day[day] = per_day.get(day, 0) + 1
    assert per_day == {10: 120, 11: 120, 12: 60}
    gaps = {(b - a) for (a, _, _), (b, _, _) in zip(calls, calls[1:]) if (b - a) < dt.timedelta(hours=1)}
    assert gaps == {dt.timedelta(minutes=2)}  # paced: one every 3600/30 s inside a window, never a burst
    hours = {}
    for when, _, _ in calls:
        key = when.astimezone(BJ).replace(minute=0, second=0)
        hours[key] = hours.get(key, 0) + 1
    assert max(hours.values()) <= 30


def test_concurrency_and_the_hourly_bound_hold_even_when_pacing_would_allow_more():
    tasks = [ListTask(n, at(10, 0, 0)) for n in range(1, 5)]
    now = at(10, 10, 0)
    assert plan(tasks, now, WINDOWS, BJ, Capacity(3600, 2), in_flight=frozenset({1, 2})).dial == ()
    starts = [now - dt.timedelta(minutes=m) for m in (50, 40, 30)]
    full = plan(tasks, now, WINDOWS, BJ, Capacity(3, 5), recent_starts=starts)
    assert full.dial == () and full.wake_at is not None
    assert plan(tasks, now, WINDOWS, BJ, Capacity(3600, 2), in_flight=frozenset({1})).dial == (2,)


def test_earliest_deadline_first_and_not_before_respected():
    followup = ListTask(1, at(10, 0, 0), due_by=at(13, 0, 0))
    reminder = ListTask(2, at(10, 0, 0), due_by=at(11, 0, 0))
    later = ListTask(3, at(10, 15, 0), due_by=at(10, 23, 0))
    decided = plan([followup, reminder, later], at(10, 9, 45), WINDOWS, BJ, Capacity(60, 2))
    assert decided.dial == (2,)
    decided = plan([later], at(10, 9, 45), WINDOWS, BJ, Capacity(60, 2))
    assert decided.dial == () and decided.wake_at == at(10, 15, 0)


def test_tasks_past_their_deadline_expire_and_one_that_cannot_make_it_wakes_the_planner_at_its_deadline():
    gone = ListTask(1, at(9, 0, 0), due_by=at(10, 0, 0))
    late = ListTask(2, at(10, 12, 0), due_by=at(10, 13, 0))  # due after the morning window, gone before the next
    decided = plan([gone, late], at(10, 12, 0), WINDOWS, BJ, Capacity(60, 2))
    assert decided.expire == (1,) and decided.dial == () and decided.wake_at == at(10, 13, 0)
    assert plan([late], at(10, 13, 0), WINDOWS, BJ, Capacity(60, 2)).expire == (2,)


def test_no_answer_is_retried_after_its_delay_inside_windows_and_stops_at_the_bound():
    rules = RetryRules(no_answer=60, busy=15, failed=30)
    tasks = [ListTask(1, at(10, 0, 0), due_by=at(20, 0, 0), max_attempts=3)]
    calls = simulate(tasks, at(10, 11, 0), at(20, 0, 0), Capacity(60, 2),
                     answer=lambda task_id, attempt: "no_answer", rules=rules)
    assert [c[2] for c in calls] == ["no_answer"] * 3  # the bound: three attempts, then nothing more
    assert [when for when, _, _ in calls] == [at(10, 11, 0), at(10, 14, 30), at(10, 15, 32)]  # 11:02 + 60 min falls outside

    assert after_attempt("busy", 1, 3, at(10, 10), rules).not_before == at(10, 10, 15)
    assert after_attempt("failed", 1, 3, at(10, 10), rules).not_before == at(10, 10, 30)
    assert after_attempt("answered", 1, 3, at(10, 10), rules).state == "done"
    assert after_attempt("busy", 3, 3, at(10, 10), rules).state == "failed"
    assert [outcome_of(r) for r in ("answered", "no_answer", "busy", "failed", "hung_up", "congestion", "unavailable")] == \
        ["answered", "no_answer", "busy", "failed", "no_answer", "failed", "failed"]


def test_a_task_out_of_attempts_expires_instead_of_being_dialled():
    decided = plan([ListTask(1, at(10, 0, 0), attempts=3, max_attempts=3)], at(10, 10, 0), WINDOWS, BJ, Capacity(60, 2))
    assert decided.dial == () and decided.expire == (1,)


def test_callbacks_only_when_nobody_waits_and_an_operator_is_free_to_the_longest_idle():
    windows = parse_windows(["08:00-21:00"])
    tasks = [ListTask(7, at(10, 9, 0)), ListTask(5, at(10, 9, 5)), ListTask(9, at(10, 12, 0))]
    free = [Operator("1002", idle_since=200.0), Operator("1001", idle_since=100.0)]
    now = at(10, 10, 0)
    assert pick_callback(tasks, now, windows, BJ, free=free, callers_waiting=0) == (7, "1001")
    assert pick_callback(tasks, now, windows, BJ, free=free, callers_waiting=1) is None
    assert pick_callback(tasks, now, windows, BJ, free=[], callers_waiting=0) is None
    assert pick_callback(tasks, at(10, 22, 0), windows, BJ, free=free, callers_waiting=0) is None
    assert pick_callback(tasks, now, windows, BJ, free=free, callers_waiting=0, in_flight=frozenset({7})) == (5, "1001")
