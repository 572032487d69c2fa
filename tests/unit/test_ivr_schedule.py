"""The schedule's rules engine: which seasonal messages play at a moment (pure, no clock, no I/O)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcenter.ivr.exceptions import ScheduleError
from callcenter.ivr.schedule import Rule, parse_rule, parse_schedule, select

SHIPPED = Path(__file__).resolve().parents[2] / "prompts" / "schedule.toml"
TZ = dt.timezone(dt.timedelta(hours=8))  # Beijing


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=TZ)


@pytest.fixture(scope="module")
def shipped() -> list[Rule]:
    return parse_schedule(SHIPPED.read_text(encoding="utf-8"), str(SHIPPED))


def messages(rules: list[Rule], moment: str, limit: int | None = 2) -> list[str]:
    return [r.message for r in select(rules, at(moment), limit)]


# -- the shipped schedule ------------------------------------------------------------------------


def test_a_july_day_picks_heatstroke(shipped):
    assert messages(shipped, "2025-07-15T10:00") == ["heatstroke"]


def test_a_january_night_picks_night_guidance_then_flu(shipped):
    assert messages(shipped, "2025-01-20T23:30") == ["night", "flu"]
    assert messages(shipped, "2025-01-21T06:59") == ["night", "flu"]  # night runs past midnight to 07:00
    assert messages(shipped, "2025-01-21T07:00") == ["flu"]


def test_flu_season_runs_across_the_new_year(shipped):
    for day in ("2024-11-01", "2024-12-31", "2025-01-01", "2025-03-31"):
        assert messages(shipped, f"{day}T12:00") == ["flu"], day
    assert messages(shipped, "2025-10-31T12:00") == ["default"]
    assert messages(shipped, "2025-04-01T12:00") == ["default"]


def test_heatstroke_season_edges(shipped):
    assert messages(shipped, "2025-06-01T00:00") == ["night", "heatstroke"]
    assert messages(shipped, "2025-09-30T21:59") == ["heatstroke"]
    assert messages(shipped, "2025-05-31T12:00") == ["default"]
    assert messages(shipped, "2025-10-01T08:00") == ["holiday"]  # National Day, not summer any more


def test_a_holiday_date(shipped):
    assert messages(shipped, "2026-02-17T10:00") == ["holiday", "flu"]  # Spring Festival in flu season
    assert messages(shipped, "2026-02-17T23:00") == ["night", "holiday"]  # two at most, by priority
    assert messages(shipped, "2026-02-17T23:00", limit=None) == ["night", "holiday", "flu"]
    assert messages(shipped, "2026-02-24T10:00") == ["flu"]  # the day after


def test_default_only_when_nothing_else_applies(shipped):
    assert messages(shipped, "2025-05-10T12:00") == ["default"]
    assert "default" not in messages(shipped, "2025-05-10T23:00", limit=None)


def test_shipped_rules_name_shipped_prompts(shipped):
    import tomllib

    for locale in ("zh-CN", "en"):
        texts = tomllib.loads((SHIPPED.parent / f"{locale}.toml").read_text(encoding="utf-8"))["prompts"]
        assert {r.message for r in shipped} <= set(texts), locale


# -- rule conditions -----------------------------------------------------------------------------


def test_weekdays_and_times_combine():
    rule = parse_rule({"name": "weekend-evening", "message": "m", "weekdays": ["sat", "Sunday"], "times": "18:00-22:00"})
    assert rule.applies(at("2025-07-19T18:00"))  # a Saturday
    assert not rule.applies(at("2025-07-19T22:00"))  # the end is excluded
    assert not rule.applies(at("2025-07-18T19:00"))  # a Friday


def test_dates_as_days_ranges_and_toml_dates():
    [rule] = parse_schedule('[[rule]]\nname = "h"\nmessage = "holiday"\ndates = [2025-05-01, "2025-10-01..2025-10-08"]\n')
    assert [rule.applies(at(f"{d}T09:00")) for d in ("2025-05-01", "2025-05-02", "2025-10-08", "2025-10-09")] == [
        True, False, True, False,
    ]


def test_disabled_rules_and_priority_ties():
    rules = [
        Rule("b", "mb", priority=5),
        Rule("a", "ma", priority=5),
        Rule("off", "mo", priority=9, enabled=False),
    ]
    assert [r.name for r in select(rules, at("2025-01-01T00:00"))] == ["a", "b"]


def test_equal_times_mean_all_day():
    assert parse_rule({"name": "x", "message": "m", "times": "00:00-00:00"}).applies(at("2025-01-01T13:00"))


@pytest.mark.parametrize("moment", ["2025-01-01T08:00", "2025-01-01T07:59", "2025-01-01T00:00", "2025-01-01T23:59"])
def test_a_24_hour_window_08_to_08_is_the_whole_day(moment):
    """The one meaning of start == end (callcenter.timewindow): the whole day, as for the rota, duty and lists."""
    rule = parse_rule({"name": "x", "message": "m", "times": "08:00-08:00"})
    assert rule.applies(at(moment))
    assert rule.to_spec()["times"] == "08:00-08:00"


@given(st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1)))
def test_a_wrapping_range_is_the_complement_of_its_inside(moment):
    across = parse_rule({"name": "x", "message": "m", "from": "11-01", "to": "03-31"})
    inside = parse_rule({"name": "y", "message": "m", "from": "04-01", "to": "10-31"})
    assert across.applies(moment) != inside.applies(moment)


@given(st.times(), st.times(), st.times())
def test_times_wrap_like_a_clock(start, end, now):
    rule = parse_rule({"name": "x", "message": "m", "times": f"{start:%H:%M}-{end:%H:%M}"})
    s, e, n = start.replace(second=0, microsecond=0), end.replace(second=0, microsecond=0), now
    if s == e:
        return
    expected = (s <= n < e) if s < e else (n >= s or n < e)
    assert rule.applies(dt.datetime.combine(dt.date(2025, 1, 1), now)) == expected


def test_spec_round_trips(shipped):
    for rule in shipped:
        assert parse_rule(rule.to_spec()) == rule


# -- bad input is refused with the reason -------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ({"message": "m"}, "'name'"),
        ({"name": "x"}, "'message'"),
        ({"name": "x", "message": "m", "from": "06-01"}, "go together"),
        ({"name": "x", "message": "m", "from": "13-01", "to": "01-01"}, "month-day"),
        ({"name": "x", "message": "m", "from": "02-30", "to": "03-01"}, "month-day"),
        ({"name": "x", "message": "m", "times": "22h-7h"}, "times"),
        ({"name": "x", "message": "m", "weekdays": ["funday"]}, "weekday"),
        ({"name": "x", "message": "m", "dates": ["2025-10-08..2025-10-01"]}, "ends before"),
        ({"name": "x", "message": "m", "priority": "high"}, "integer"),
        ({"name": "x", "message": "m", "colour": "red"}, "unknown key"),
        ({"name": "x y", "message": "m"}, "letters"),
        ({"name": "x", "message": "../etc/passwd"}, "letters"),
    ],
)
def test_bad_rules_are_refused(spec, needle):
    with pytest.raises(ScheduleError) as err:
        parse_rule(spec)
    assert needle in str(err.value)


def test_duplicate_names_and_syntax_errors_are_refused():
    with pytest.raises(ScheduleError, match="used twice"):
        parse_schedule('[[rule]]\nname = "a"\nmessage = "m"\n[[rule]]\nname = "a"\nmessage = "n"\n')
    with pytest.raises(ScheduleError) as err:
        parse_schedule("[[rule]\n")
    assert err.value.slug == "ivr.schedule_syntax"
