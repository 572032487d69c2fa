"""rising(): what rose most against the previous period, in a stable order."""

import math

from hypothesis import given
from hypothesis import strategies as st

from callcenter.workorders.rising import Rise, rising


def keys(rows: list[Rise]) -> list[str]:
    return [r.key for r in rows]


def test_absolute_rise_first_then_relative_then_name() -> None:
    now = {"a": 30, "b": 12, "c": 7, "d": 5, "e": 5}
    before = {"a": 20, "b": 2, "c": 2, "d": 0, "e": 0}
    # a +10 (0.5x), b +10 (5x), c +5 (2.5x), d +5 (new), e +5 (new)
    assert keys(rising(now, before)) == ["b", "a", "d", "e", "c"]


def test_rows_carry_counts_and_change() -> None:
    [row] = rising({"reports": 9}, {"reports": 4})
    assert row == Rise("reports", 9, 4, 5)
    assert row.ratio == 1.25


def test_new_items_count_and_have_infinite_ratio() -> None:
    [row] = rising({"parking": 3}, {})
    assert (row.now, row.before, row.change) == (3, 0, 3)
    assert row.ratio == math.inf


def test_falling_steady_and_vanished_items_are_left_out() -> None:
    assert rising({"a": 3, "b": 5}, {"a": 3, "b": 9, "c": 4}) == []


def test_top_limits_the_rows() -> None:
    now = {str(i): i for i in range(1, 21)}
    assert keys(rising(now, {}, top=3)) == ["20", "19", "18"]
    assert rising(now, {}, top=0) == []


counts = st.dictionaries(st.text(min_size=1, max_size=3), st.integers(0, 50), max_size=15)


@given(counts, counts, st.integers(1, 20))
def test_every_row_rose_and_none_ranked_above_a_bigger_rise(now: dict, before: dict, top: int) -> None:
    rows = rising(now, before, top)
    assert len(rows) <= top
    for r in rows:
        assert r.change == now.get(r.key, 0) - before.get(r.key, 0) > 0
    assert [r.change for r in rows] == sorted((r.change for r in rows), reverse=True)
    left_out = [k for k in now if now[k] - before.get(k, 0) > 0 and k not in keys(rows)]
    if left_out:
        assert len(rows) == top
        assert all(now[k] - before.get(k, 0) <= rows[-1].change for k in left_out)
