"""Quality review's pure decisions: the week's sample, a review's total, the check of a submitted
review, and the [quality] settings' validation."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pytest

from callcenter.exceptions import ConfigError
from callcenter.quality.sample import Call, pick, week_start
from callcenter.quality.score import MAX_COMMENTS, form_version, problems, total
from callcenter.settings import QUALITY_ITEMS, QualityItem, load

MONDAY = dt.date(2026, 11, 23)
T0 = dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC)


def calls(agent: str, n: int, start: int = 1, recorded: bool = True) -> list[Call]:
    return [Call(start + i, agent, T0 + dt.timedelta(minutes=start + i), recorded) for i in range(n)]


def ids(picks) -> list[int]:
    return [p.call.ticket_id for p in picks]


def test_week_start_is_monday():
    assert week_start(dt.date(2026, 11, 29)) == MONDAY  # a Sunday
    assert week_start(MONDAY) == MONDAY


def test_sample_is_fixed_for_a_seed_and_week_whatever_the_order():
    week = calls("1001", 40) + calls("1002", 40, start=100)
    first = pick(week, per_operator=3, seed="s", week=MONDAY)
    shuffled = week[:]
    random.Random(7).shuffle(shuffled)
    assert ids(pick(shuffled, per_operator=3, seed="s", week=MONDAY)) == ids(first)
    assert len(first) == 6 and {p.call.agent_id for p in first} == {"1001", "1002"}
    assert all(p.reasons == ("sample",) for p in first)
    # another seed or another week draws other calls (40 choose 3: a collision is all but impossible)
    assert ids(pick(week, per_operator=3, seed="t", week=MONDAY)) != ids(first)
    assert ids(pick(week, per_operator=3, seed="s", week=MONDAY + dt.timedelta(days=7))) != ids(first)


def test_sample_draws_per_operator_and_not_more_than_they_have():
    picks = pick(calls("1001", 10) + calls("1002", 2, start=50), per_operator=4, seed="s", week=MONDAY)
    per = {a: sum(p.call.agent_id == a for p in picks) for a in ("1001", "1002")}
    assert per == {"1001": 4, "1002": 2}


def test_calls_without_recording_are_never_drawn():
    week = calls("1001", 5, recorded=False) + calls("1001", 2, start=20)
    assert sorted(ids(pick(week, per_operator=5, seed="s", week=MONDAY))) == [20, 21]


def test_every_low_score_and_complaint_is_listed_recorded_or_not():
    week = calls("1001", 30)
    flagged = [Call(200, "1001", T0, False, satisfaction=1), Call(201, "1001", T0, True, satisfaction=2),
               Call(202, "1002", T0, False, category="complaint"), Call(203, "1002", T0, True, satisfaction=1,
                                                                         category="complaint"),
               Call(204, "1002", T0, True, satisfaction=3, category="medical")]
    picks = {p.call.ticket_id: p.reasons for p in pick(week + flagged, per_operator=2, seed="s", week=MONDAY)}
    assert picks[200] == ("low_score",) and picks[201] == ("low_score",)
    assert picks[202] == ("complaint",) and picks[203] == ("low_score", "complaint")
    assert 204 in picks and picks[204] == ("sample",)  # 1002's only ordinary recorded call: drawn
    assert sum(r == ("sample",) for r in picks.values()) == 3  # 2 of 1001's, 1 of 1002's; flagged ones are extra
    # with no sample at all the flagged calls are still there
    none = pick(week + flagged, per_operator=0, seed="s", week=MONDAY)
    assert sorted(ids(none)) == [200, 201, 202, 203]


def test_reviewed_calls_stay_in_the_sample_and_count_towards_it():
    week = calls("1001", 20)
    drawn = set(ids(pick(week, per_operator=2, seed="s", week=MONDAY)))
    other = next(c.ticket_id for c in week if c.ticket_id not in drawn)
    again = ids(pick(week, per_operator=2, seed="s", week=MONDAY, reviewed=[other]))
    assert other in again and len(again) == 2


def test_a_later_call_displaces_at_most_one_drawn_call():
    week = calls("1001", 30)
    before = set(ids(pick(week, per_operator=3, seed="s", week=MONDAY)))
    after = set(ids(pick(week + calls("1001", 1, start=99), per_operator=3, seed="s", week=MONDAY)))
    assert len(before & after) >= 2


ITEMS = (QualityItem("greeting", "问候", "Greeting", 10), QualityItem("accuracy", "准确", "Accuracy", 30))


def test_total_is_percent_of_points_possible():
    assert total(ITEMS, {"greeting": 10, "accuracy": 30}) == 100.0
    assert total(ITEMS, {"greeting": 5, "accuracy": 15}) == 50.0
    assert total(ITEMS, {"greeting": 0, "accuracy": 10}) == 25.0
    assert total(QUALITY_ITEMS, {i.key: i.max_points for i in QUALITY_ITEMS}) == 100.0


def test_problems_name_each_bad_field():
    assert problems(ITEMS, {"greeting": 10, "accuracy": 0}, "") == []
    found = problems(ITEMS, {"greeting": 11, "speed": 3, "accuracy": True}, "x" * (MAX_COMMENTS + 1))
    assert {p["field"]: p["problem"] for p in found} == {
        "scores.speed": "is not an item of the form",
        "scores.greeting": "must be between 0 and 10",
        "scores.accuracy": "must be a whole number of points",
        "comments": f"is {MAX_COMMENTS + 1} characters, at most {MAX_COMMENTS}",
    }
    assert problems(ITEMS, {"greeting": -1}, "") == [
        {"field": "scores.greeting", "problem": "must be between 0 and 10"},
        {"field": "scores.accuracy", "problem": "is required"}]


def test_form_version_follows_keys_and_maxima_only():
    assert form_version(ITEMS) == form_version((QualityItem("greeting", "x", "y", 10), QualityItem("accuracy", "", "", 30)))
    assert form_version(ITEMS) != form_version((ITEMS[0], QualityItem("accuracy", "准确", "Accuracy", 20)))


def test_default_form_holds_the_issue_items():
    assert [i.key for i in QUALITY_ITEMS] == ["greeting", "listening", "accuracy", "reply_time", "no_forbidden", "closing"]


@pytest.mark.parametrize(("text", "message"), [
    ("[quality]\nsample_per_week = -1\n", "quality.sample_per_week"),
    ('[[quality.items]]\nkey = "Greeting"\nlabel_zh = "问候"\nlabel_en = "Greeting"\n', "quality.items[0].key"),
    ('[[quality.items]]\nkey = "a"\nlabel_zh = "甲"\nlabel_en = "A"\n[[quality.items]]\nkey = "a"\nlabel_zh = "乙"\nlabel_en = "B"\n',
     "appears twice"),
    ('[[quality.items]]\nkey = "a"\nlabel_zh = ""\nlabel_en = "A"\n', "quality.items[0].label_zh"),
    ('[[quality.items]]\nkey = "a"\nlabel_zh = "甲"\nlabel_en = "A"\nmax_points = 0\n', "quality.items[0].max_points"),
    ('[[quality.items]]\nkey = "a"\nlabel_zh = "甲"\nlabel_en = "A"\nweight = 2\n', "unknown key(s) in [quality.items[0]]"),
    ("[quality]\nitems = 3\n", "[[quality.items]] must be an array of tables"),
])
def test_bad_quality_settings_are_refused_naming_the_key(tmp_path: Path, text: str, message: str):
    path = tmp_path / "q.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load(path, env={})
    assert message in str(err.value)


def test_a_form_in_the_file_replaces_the_default(tmp_path: Path):
    path = tmp_path / "q.toml"
    path.write_text('[quality]\nsample_per_week = 5\n[[quality.items]]\nkey = "greeting"\nlabel_zh = "问候"\n'
                    'label_en = "Greeting"\nmax_points = 4\n', encoding="utf-8")
    quality = load(path, env={}).quality
    assert quality.sample_per_week == 5 and quality.items == (QualityItem("greeting", "问候", "Greeting", 4),)
