"""Pure helpers of knowledge-base search: a query's plan, an entry's score, FTS5 phrases, highlighting.

A query is cut into words (``callcenter.kb.words``); each word becomes a *group* of alternatives:
the word itself, its synonyms, the shorter words inside it, or, for Latin letters, the Chinese
words they spell in pinyin or initials.  The database finds candidates (every entry with some
alternative, in its word index or as a substring); ``score`` then orders them the same way on
every backend: each group counts once, by its best alternative, weighted by where it is found
(question > keywords > answer), by what kind of alternative it is (the word itself > a synonym)
and by how rare the word is; a query found verbatim in the question ranks first; views of the
last 30 days break near-ties.  Highlighting is done here, on HTML-escaped text, so an entry can
never inject markup into the operator's page.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

MAX_QUERY_LEN = 200  # characters of a query considered (the rest is ignored)
MAX_GROUPS = 8  # words of a query considered
MAX_ALTS = 6  # alternatives of one word
MARK_OPEN, MARK_CLOSE = "<mark>", "</mark>"

# Weights of an alternative: the word itself > its pinyin reading > a synonym > a word inside it.
SELF, PINYIN, SYNONYM, PART = 1.0, 0.9, 0.6, 0.5
FIELDS = (3.0, 2.0, 1.0)  # found in the question, the keywords, the answer
ALSO = 0.25  # for each other field that holds it too
PHRASE = 1000.0  # the whole query (two words or more) verbatim in the question: first
POPULARITY = 0.05  # x log(1 + views): at most a few percent, to break near-ties

_NOT_WORD = re.compile(r"[\W_]+")
_LATIN = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class Alt:
    """One way a query word may be written in an entry, and how much finding it counts."""

    text: str
    weight: float


@dataclass(frozen=True)
class Group:
    """A word of the query and its alternatives (the word itself first)."""

    word: str
    alts: tuple[Alt, ...]


@dataclass(frozen=True)
class Plan:
    """What a query looks for: its phrase (letters and characters only) and its words' groups."""

    phrase: str
    groups: tuple[Group, ...]

    @property
    def terms(self) -> tuple[str, ...]:
        """Every alternative once, the words themselves first (for the index and highlighting)."""
        seen = dict.fromkeys(g.word for g in self.groups)
        for g in self.groups:
            seen.update(dict.fromkeys(a.text for a in g.alts))
        return tuple(seen)

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(g.word for g in self.groups)

    def __bool__(self) -> bool:
        return bool(self.groups)


def phrase_of(text: str) -> str:
    """``text`` in lower case without spaces, punctuation or control characters."""
    return _NOT_WORD.sub("", (text or "")[:MAX_QUERY_LEN].lower())


def plan_query(
    text: str,
    words: Sequence[str],
    *,
    synonyms: Mapping[str, Sequence[str]],
    parts: Callable[[str], Sequence[str]],
    spelled: Callable[[str], Sequence[str]],
) -> Plan:
    """The plan of a query already cut into ``words`` (lower case, stop words removed).

    ``synonyms`` maps a word to its group's other terms; ``parts`` gives the shorter words inside a
    word; ``spelled`` gives the Chinese words a Latin-letter string spells (full pinyin or
    initials), most frequent first.  Adjacent Latin words are tried together first (gua hao).
    """
    merged: list[str] = []
    latin_run: list[str] = []
    for word in [*words[: MAX_GROUPS * 2], ""]:
        if word and _LATIN.fullmatch(word):
            latin_run.append(word)
            continue
        while latin_run:  # the longest run of Latin words that spells something
            for end in range(len(latin_run), 0, -1):
                joined = "".join(latin_run[:end])
                if end == 1 or spelled(joined):
                    merged.append(joined)
                    latin_run = latin_run[end:]
                    break
        if word:
            merged.append(word)
    split: list[str] = []
    for word in merged:  # yuyueguahao: two words' pinyin run together
        split += _pinyin_words(word, spelled) if _LATIN.fullmatch(word) and not spelled(word) else [word]
    groups: list[Group] = []
    for word in split[:MAX_GROUPS]:
        alts: dict[str, float] = {word: SELF}
        if _LATIN.fullmatch(word):
            for found in spelled(word)[:3]:
                alts.setdefault(found, PINYIN)
        for found in (word, *(w for w in alts if w != word)):
            for other in synonyms.get(found, ()):
                alts.setdefault(other, SYNONYM if found == word else SYNONYM * PINYIN)
        for part in parts(word):
            alts.setdefault(part, PART)
        kept = tuple(Alt(t, w) for t, w in list(alts.items())[:MAX_ALTS])
        groups.append(Group(word, kept))
    return Plan(phrase_of(text), tuple(groups))


def _pinyin_words(word: str, spelled: Callable[[str], Sequence[str]]) -> list[str]:
    """``word`` cut in two where both halves spell something, the longer first half preferred."""
    for cut in range(len(word) - 2, 1, -1):
        if spelled(word[:cut]) and spelled(word[cut:]):
            return [word[:cut], word[cut:]]
    return [word]


def idf(df: int, total: int) -> float:
    """How much a word tells: rare words more (BM25's idf, never below a small floor)."""
    return max(0.1, math.log(1 + (total - df + 0.5) / (df + 0.5)))


def score(fields: tuple[str, str, str], plan: Plan, weights: Mapping[str, float], views: int = 0) -> float:
    """Relevance of an entry (question, keywords, answer in lower case) to ``plan``; 0: unrelated.

    ``weights`` gives each group word's idf.  A group counts by its best alternative; the share of
    groups found scales the sum, so an entry with every word beats one with the rarest word alone.
    """
    total, found = 0.0, 0
    covered = 0
    question = fields[0]
    for group in plan.groups:
        best, best_len = 0.0, 0
        for alt in group.alts:
            where = [w for w, text in zip(FIELDS, fields) if alt.text in text]
            if where:  # the best field counts, each other field holding it a little
                value = (where[0] + ALSO * (len(where) - 1)) * alt.weight
                if value > best:
                    best, best_len = value, (len(alt.text) if where[0] == FIELDS[0] else 0)
        if best:
            found += 1
            covered += best_len
            total += best * weights.get(group.word, 1.0)
    if not found:
        return 0.0
    total *= found / len(plan.groups)
    total += min(1.0, covered / max(1, len(question)))  # a short question that is mostly the query
    if len(plan.groups) > 1 and plan.phrase in question.replace(" ", ""):
        total += PHRASE
    elif len(plan.groups) > 1 and (plan.phrase in fields[1] or plan.phrase in fields[2]):
        total += 1.0
    return total * (1 + POPULARITY * math.log1p(max(0, views)))


def fts_phrase(term: str) -> str:
    """``term`` as one FTS5 phrase (quotes doubled inside)."""
    return '"' + term.replace('"', '""') + '"'


def like_pattern(term: str) -> str:
    """``%term%`` with LIKE's wildcards escaped (use with ``ESCAPE '\\'``)."""
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _spans(text: str, terms: tuple[str, ...]) -> list[tuple[int, int]]:
    """Non-overlapping (start, end) of every occurrence of any term, case-insensitive."""
    lowered = text.lower()
    found: list[tuple[int, int]] = []
    for term in terms:
        needle = term.lower()
        start = lowered.find(needle)
        while needle and start >= 0:
            found.append((start, start + len(needle)))
            start = lowered.find(needle, start + 1)
    found.sort()
    merged: list[tuple[int, int]] = []
    for start, end in found:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def highlight(text: str, terms: tuple[str, ...]) -> str:
    """``text`` HTML-escaped with every term wrapped in ``<mark>``."""
    out, pos = [], 0
    for start, end in _spans(text, terms):
        out += [html.escape(text[pos:start]), MARK_OPEN, html.escape(text[start:end]), MARK_CLOSE]
        pos = end
    out.append(html.escape(text[pos:]))
    return "".join(out)


def snippet(text: str, terms: tuple[str, ...], width: int = 80) -> str:
    """About ``width`` characters of ``text`` around its first match, escaped and highlighted."""
    spans = _spans(text, terms)
    if len(text) <= width:
        return highlight(text, terms)
    first = spans[0][0] if spans else 0
    start = max(0, min(first - width // 4, len(text) - width))
    end = start + width
    piece = text[start:end]
    return ("…" if start > 0 else "") + highlight(piece, terms) + ("…" if end < len(text) else "")
