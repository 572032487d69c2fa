"""Suggestions before typing: which entries the desk shows for a caller, and why.  Pure: no I/O, no clock.

Theory of operation: a call brings up to three *signals*, strongest first: the hotline message the
caller just heard (made from one entry: 未诉先办), the menu choice (this call's purpose), and the
category of the caller's last ticket (what they called about before).  Each signal points at
entries directly or at knowledge-base categories, closest first (``MENU_CATEGORIES``,
``TICKET_CATEGORIES``).  An entry is ranked by the strongest signal naming it and how close it is
in that signal; entries the same signals name equally are ordered by lookups in the last
``POPULAR_DAYS`` days (popular first), then by id (the curated entries first).  Each entry comes
once, with every signal that named it as its reasons, strongest first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

POPULAR_DAYS = 30
MAX_LIMIT = 50

# The IVR's menu choice -> knowledge-base categories worth suggesting first.
MENU_CATEGORIES: dict[str, tuple[str, ...]] = {
    "registration": ("registration", "guidance"),
    "reports": ("reports",),
    "guidance": ("guidance", "medical", "inpatient", "vaccination"),
    "urgent": ("urgent", "medical"),
    "complaints": ("service", "billing"),
    "operator": (),
}
# A ticket's category -> knowledge-base categories.
TICKET_CATEGORIES: dict[str, tuple[str, ...]] = {
    "registration": ("registration",),
    "reports": ("reports",),
    "guidance": ("guidance", "inpatient"),
    "medical": ("medical", "vaccination"),
    "urgent": ("urgent", "medical"),
    "complaint": ("service",),
    "suggestion": ("service",),
    "lost_property": ("service",),
    "billing": ("billing",),
    "hotline_12345": ("service", "billing", "registration"),
}

MESSAGE, MENU, LAST_TICKET = "message", "menu", "last_ticket"
KINDS = (MESSAGE, MENU, LAST_TICKET)  # strongest first


@dataclass(frozen=True)
class Signal:
    """One thing known about the caller: ``kind`` (one of ``KINDS``) and ``value``, what the desk names
    (the menu choice, the message's words, the last ticket's category); what it points at."""

    kind: str
    value: str
    entries: tuple[int, ...] = ()
    categories: tuple[str, ...] = ()  # closest first

    def closeness(self, entry_id: int, category: str) -> int | None:
        """0 for an entry named directly, 1.. for its category's place; None when it does not point at it."""
        if entry_id in self.entries:
            return 0
        return self.categories.index(category) + 1 if category in self.categories else None


@dataclass(frozen=True)
class Candidate:
    """An active entry one of the signals may point at."""

    id: int
    category: str


@dataclass(frozen=True)
class Suggestion:
    entry_id: int
    reasons: tuple[Signal, ...]  # strongest first
    views: int


def signals(menu_choice: str | None, heard: Iterable[tuple[int, str]], last_category: str | None) -> tuple[Signal, ...]:
    """The signals of a call, strongest first: each message heard (its entry, its words), the menu choice,
    the last ticket's category.  A choice or category that points nowhere ("operator") gives none."""
    out = [Signal(MESSAGE, words, entries=(entry_id,)) for entry_id, words in heard]
    if menu_choice and MENU_CATEGORIES.get(menu_choice):
        out.append(Signal(MENU, menu_choice, categories=MENU_CATEGORIES[menu_choice]))
    if last_category and TICKET_CATEGORIES.get(last_category):
        out.append(Signal(LAST_TICKET, last_category, categories=TICKET_CATEGORIES[last_category]))
    return tuple(out)


def wanted(found: Iterable[Signal]) -> tuple[set[int], set[str]]:
    """The entries and categories the store should read candidates from."""
    ids: set[int] = set()
    categories: set[str] = set()
    for signal in found:
        ids.update(signal.entries)
        categories.update(signal.categories)
    return ids, categories


def suggest(found: tuple[Signal, ...], candidates: Iterable[Candidate], views: Mapping[int, int],
            limit: int) -> list[Suggestion]:
    """At most ``limit`` entries, best first: by the strongest signal naming each and how closely, then the
    number of signals naming it, then ``views`` (lookups in the last ``POPULAR_DAYS`` days), then id."""
    ranked: list[tuple[tuple[int, int, int, int, int], Suggestion]] = []
    seen: set[int] = set()
    for entry in candidates:
        if entry.id in seen:
            continue
        seen.add(entry.id)
        matches = [(n, c) for n, signal in enumerate(found) if (c := signal.closeness(entry.id, entry.category)) is not None]
        if not matches:
            continue
        best = min(matches)
        count = views.get(entry.id, 0)
        reasons = tuple(found[n] for n, _ in sorted(matches))
        ranked.append(((best[0], best[1], -len(matches), -count, entry.id), Suggestion(entry.id, reasons, count)))
    ranked.sort(key=lambda pair: pair[0])
    return [s for _, s in ranked[: max(0, min(limit, MAX_LIMIT))]]
