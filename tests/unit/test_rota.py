"""The rota: who is on duty, across midnight and weekdays, and clear errors for bad shifts."""

from datetime import datetime

import pytest

from callcenter.agents.rota import on_duty, parse_shift
from callcenter.exceptions import ConfigError
from callcenter.settings import load

AGENTS = {"a", "b", "c", "n"}
DAY = parse_shift({"name": "day", "start": "08:00", "end": "16:00", "agents": ["a", "b"], "days": [1, 2, 3, 4, 5]}, AGENTS)
EVENING = parse_shift({"name": "evening", "start": "16:00", "end": "00:00", "agents": ["c"]}, AGENTS)
NIGHT = parse_shift({"name": "night", "start": "22:00", "end": "08:00", "agents": ["n"], "days": [5]}, AGENTS)
ROTA = (DAY, EVENING, NIGHT)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        ("2026-11-23T08:00", {"a": "day", "b": "day"}),  # Monday, start is inclusive
        ("2026-11-23T15:59", {"a": "day", "b": "day"}),
        ("2026-11-23T16:00", {"c": "evening"}),  # end is exclusive
        ("2026-11-23T23:59", {"c": "evening"}),
        ("2026-11-24T00:00", {}),  # evening ended at midnight
        ("2026-11-28T08:00", {}),  # Saturday: no day shift
        ("2026-11-27T23:00", {"c": "evening", "n": "night"}),  # Friday night starts
        ("2026-11-28T07:59", {"n": "night"}),  # ... and runs into Saturday morning
        ("2026-11-29T03:00", {}),  # Sunday 03:00: Saturday has no night shift
    ],
)
def test_on_duty(moment, expected):
    assert on_duty(ROTA, datetime.fromisoformat(moment)) == expected


@pytest.mark.parametrize(
    ("moment", "on"),
    [
        ("2026-11-23T08:00", True),  # Monday: the 24-hour shift starts at 08:00...
        ("2026-11-23T23:00", True),
        ("2026-11-24T07:59", True),  # ...and runs until Tuesday 08:00
        ("2026-11-24T08:00", False),  # handed over; Tuesday has no such shift
        ("2026-11-23T07:59", False),  # still Sunday's (none)
    ],
)
def test_a_shift_from_08_00_to_08_00_lasts_24_hours(moment, on):
    """Start == end is the whole day (callcenter.timewindow), counted from the start on the shift's days."""
    duty = parse_shift({"name": "24h", "start": "08:00", "end": "08:00", "agents": ["a"], "days": [1]}, AGENTS)
    assert duty.covers(datetime.fromisoformat(moment)) is on
    assert duty.overnight and not parse_shift({"name": "z", "start": "00:00", "end": "00:00"}, AGENTS).overnight


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ({"name": "x", "start": "25:00", "end": "08:00"}, "HH:MM"),
        ({"name": "x", "start": "08:00", "end": "8h"}, "'8h'"),
        ({"name": "x", "start": "08:00"}, "'end'"),
        ({"name": "x", "start": "08:00", "end": "09:00", "days": [0]}, "weekdays"),
        ({"name": "x", "start": "08:00", "end": "09:00", "agents": ["ghost"]}, "ghost"),
    ],
)
def test_bad_shifts_are_clear_errors(raw, words):
    with pytest.raises(ConfigError, match=words):
        parse_shift(raw, AGENTS)


def test_shifts_load_from_settings(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[[agents]]\nid = "1001"\n[[shifts]]\nname = "夜班"\nstart = "22:00"\nend = "08:00"\nagents = ["1001"]\n')
    settings = load(cfg, env={"CALLCENTER_STATE_DIR": str(tmp_path)})
    assert on_duty(settings.shifts, datetime(2026, 11, 23, 2, 0)) == {"1001": "夜班"}
