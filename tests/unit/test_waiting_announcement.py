"""What a caller on hold is told: place and estimated wait (callcenter.ivr.waiting)."""

from __future__ import annotations

import pytest

from callcenter.ivr.prompts import load_locales
from callcenter.ivr.waiting import announcement, prompt_names


@pytest.mark.parametrize(
    ("position", "estimate", "offer_callback", "names"),
    [
        (None, 120.0, False, ()),  # not waiting (ringing, or gone)
        (1, 300.0, False, ()),  # next in line: nothing delays the answer
        (1, 300.0, True, ("queue_callback_offer",)),  # ... but they may keep their place (an answer cuts it short)
        (2, None, False, ("queue_ahead_1",)),  # no meaningful estimate: the place only
        (2, 29.0, False, ("queue_ahead_1",)),  # under half a minute is not worth a sentence
        (3, 30.0, False, ("queue_ahead_2", "queue_wait_1m")),
        (3, 61.0, False, ("queue_ahead_2", "queue_wait_2m")),  # rounded up: never promise less
        (5, 240.0, False, ("queue_ahead_4", "queue_wait_5m")),  # 4 min -> the next step, 5
        (10, 1800.0, False, ("queue_ahead_9", "queue_wait_30m")),
        (11, 1801.0, False, ("queue_ahead_many", "queue_wait_long")),
        (4, 90.0, True, ("queue_ahead_3", "queue_wait_2m", "queue_callback_offer")),
    ],
)
def test_announcement(position, estimate, offer_callback, names):
    assert announcement(position, estimate, offer_callback) == names


def test_every_language_has_every_hold_prompt():
    for language, locale in load_locales().items():
        missing = [name for name in prompt_names() if name not in locale.prompts]
        assert not missing, f"{language} lacks {missing}"


def test_every_prompt_named_is_listed():
    listed = set(prompt_names())
    for position in range(1, 40):
        for estimate in (None, 10.0, 45.0, 100.0, 400.0, 5000.0):
            assert set(announcement(position, estimate, True)) <= listed
