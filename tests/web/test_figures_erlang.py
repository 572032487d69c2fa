"""Pure parts of the web side: the hotline's figures and Erlang C staffing."""

from __future__ import annotations

import datetime as dt
import math
from zoneinfo import ZoneInfo

import pytest

from callcenter.web import figures
from callcenter.web.erlang import agents_needed, erlang_c, service_level

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = dt.datetime(2025, 7, 1, 1, 30, tzinfo=dt.UTC)  # 09:30 in Beijing


def row(minutes: float = 0, *, answered: bool = True, two_rings: bool | None = True, wait: float = 3.0,
        agent: str | None = "1001", category: str | None = None, talk: float = 60.0) -> figures.CallRow:
    arrived = T0 + dt.timedelta(minutes=minutes)
    return figures.CallRow(
        arrived_at=arrived,
        call_status="completed" if answered else "abandoned",
        agent_id=agent,
        answered_at=arrived + dt.timedelta(seconds=wait) if answered else None,
        ended_at=arrived + dt.timedelta(seconds=wait + talk),
        wait_seconds=wait,
        talk_seconds=talk if answered else 0.0,
        within_two_rings=two_rings if answered else False,
        category=category,
    )


def test_service_level_counts_every_call_that_rang_an_operator():
    rows = [row(0), row(1), row(2, two_rings=False, wait=14), row(3, answered=False, wait=20), row(4, answered=False, agent=None, wait=5)]
    s = figures.summarise(rows)
    assert (s["offered"], s["answered"], s["abandoned"], s["offered_to_agent"]) == (5, 3, 2, 4)
    assert s["within_two_rings"] == 2 and s["service_level"] == 0.5  # 2 of the 4 that rang an operator
    assert s["max_wait"] == 20 and s["avg_wait"] == pytest.approx((3 + 3 + 14 + 20 + 5) / 5, abs=0.1)
    assert s["abandon_rate"] == 0.4


def test_an_empty_period_has_no_rates_rather_than_zero_rates():
    s = figures.summarise([])
    assert s["offered"] == 0 and s["service_level"] is None and s["avg_wait"] is None


def test_hours_and_days_are_local_time():
    late = figures.CallRow(arrived_at=dt.datetime(2025, 7, 1, 16, 30, tzinfo=dt.UTC), call_status="abandoned")  # 00:30 on 2 July
    hours = figures.by_hour([row(0), late], SHANGHAI)
    assert len(hours) == 24 and hours[9]["offered"] == 1 and hours[0]["offered"] == 1
    assert [d["day"] for d in figures.by_day([row(0), late], SHANGHAI)] == ["2025-07-01", "2025-07-02"]
    start, end = figures.local_day_bounds(dt.date(2025, 7, 1), SHANGHAI)
    assert start == dt.datetime(2025, 6, 30, 16, tzinfo=dt.UTC) and end - start == dt.timedelta(days=1)


def test_agents_and_categories():
    rows = [row(0, agent="1001", category="medical"), row(1, agent="1002", category="medical"), row(2, agent="1002", category="billing")]
    assert [(a["agent_id"], a["answered"]) for a in figures.by_agent(rows)] == [("1001", 1), ("1002", 2)]
    assert figures.top_categories(rows) == [{"category": "medical", "calls": 2}, {"category": "billing", "calls": 1}]


def erlang_c_by_formula(n: int, a: float) -> float:
    """The textbook closed form, for a cross-check of the recursion."""
    top = a**n / math.factorial(n) * n / (n - a)
    return top / (sum(a**k / math.factorial(k) for k in range(n)) + top)


@pytest.mark.parametrize(("n", "a"), [(2, 1.0), (5, 3.2), (10, 8.5), (30, 25.0)])
def test_erlang_c_matches_the_closed_form(n, a):
    assert erlang_c(n, a) == pytest.approx(erlang_c_by_formula(n, a), rel=1e-9)


def test_erlang_c_edges_and_staffing():
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert erlang_c(3, 3.0) == 1.0 and erlang_c(3, 0) == 0.0
    # 100 calls an hour of 3 minutes = 5 erlangs; 90% within 10 s needs more than 5 operators
    need = agents_needed(100, 180, 10, 0.9)
    assert need.agents > 5 and need.service_level >= 0.9
    assert service_level(need.agents - 1, 100, 180, 10) < 0.9 or (5 / (need.agents - 1)) > 0.85  # the fewest that do
    assert agents_needed(0, 180, 10, 0.9).agents == 0
