"""A review's score and the check of a submitted review: pure, no I/O.

A form is a sequence of items with ``key`` and ``max_points`` (``callcenter.settings.QualityItem``).
The total is the points given over the points possible, in percent, so forms with other maxima
compare.  A review stores the form's version (a hash of its keys and maxima): a review scored on an
older form keeps its total; its items are shown as they were.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Protocol

MAX_COMMENTS = 2000


class FormItem(Protocol):
    key: str
    max_points: int


def form_version(items: Sequence[FormItem]) -> str:
    """A short, stable name of the form: changes when an item's key or maximum does."""
    text = ";".join(f"{i.key}:{i.max_points}" for i in items)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def total(items: Sequence[FormItem], scores: Mapping[str, int]) -> float:
    """Points given over points possible, in percent (one decimal)."""
    possible = sum(i.max_points for i in items)
    given = sum(scores.get(i.key, 0) for i in items)
    return round(100.0 * given / possible, 1) if possible else 0.0


def problems(items: Sequence[FormItem], scores: Mapping[str, object], comments: str) -> list[dict[str, str]]:
    """What is wrong with a submitted review: every item scored 0..max (whole points), no unknown
    item, comments within ``MAX_COMMENTS`` characters.  Empty: it may be saved."""
    found = []
    known = {i.key for i in items}
    for key in scores:
        if key not in known:
            found.append({"field": f"scores.{key}", "problem": "is not an item of the form"})
    for item in items:
        value = scores.get(item.key)
        where = f"scores.{item.key}"
        if value is None:
            found.append({"field": where, "problem": "is required"})
        elif isinstance(value, bool) or not isinstance(value, int):
            found.append({"field": where, "problem": "must be a whole number of points"})
        elif not 0 <= value <= item.max_points:
            found.append({"field": where, "problem": f"must be between 0 and {item.max_points}"})
    if len(comments) > MAX_COMMENTS:
        found.append({"field": "comments", "problem": f"is {len(comments)} characters, at most {MAX_COMMENTS}"})
    return found
