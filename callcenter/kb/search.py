"""Pure helpers of knowledge-base search: split a query into terms, build FTS5 phrases, highlight.

Chinese has no spaces between words, so a query is matched as substrings: each run of text
between spaces or punctuation is one *term*, and an entry matches when it contains every term
(in its question, keywords or answer).  On SQLite, terms of 3+ characters go through the FTS5
trigram index (``MATCH``); shorter ones (most two-character Chinese words: 发烧, 挂号) cannot use
trigrams and are matched with ``LIKE`` on the entries table.  Highlighting is done here, on
HTML-escaped text, so an entry can never inject markup into the operator's page.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

MAX_TERMS = 6
MAX_TERM_LEN = 40
MAX_QUERY_LEN = 200
TRIGRAM_MIN = 3  # the trigram tokenizer needs 3 characters to use its index
MARK_OPEN, MARK_CLOSE = "<mark>", "</mark>"

# Control characters split too: a NUL in a MATCH phrase is an FTS5 syntax error.
_SPLIT = re.compile(r"[\s\x00-\x1f\x7f,.;:!?，。；：！？、/\\|()\[\]{}（）【】《》“”\"'‘’+*^~`<>=&%$#@-]+")


@dataclass(frozen=True)
class Query:
    """A parsed query: ``long`` terms use the trigram index, ``short`` ones need LIKE."""

    terms: tuple[str, ...]

    @property
    def long(self) -> tuple[str, ...]:
        return tuple(t for t in self.terms if len(t) >= TRIGRAM_MIN)

    @property
    def short(self) -> tuple[str, ...]:
        return tuple(t for t in self.terms if len(t) < TRIGRAM_MIN)

    def __bool__(self) -> bool:
        return bool(self.terms)


def parse_query(text: str) -> Query:
    """Terms of ``text``: split on spaces and punctuation, deduplicated, longest kept when nested."""
    text = (text or "")[:MAX_QUERY_LEN]
    terms: list[str] = []
    for raw in _SPLIT.split(text):
        term = raw.strip()[:MAX_TERM_LEN]
        if term and term.lower() not in (t.lower() for t in terms):
            terms.append(term)
    # "发烧 发烧39度" asks nothing the longer term does not: drop terms inside another.
    kept = [t for t in terms if not any(t != o and t.lower() in o.lower() for o in terms)]
    return Query(tuple(kept[:MAX_TERMS]))


def fts_match(terms: tuple[str, ...]) -> str:
    """An FTS5 MATCH expression requiring every term as a phrase (quotes doubled inside)."""
    return " AND ".join('"' + t.replace('"', '""') + '"' for t in terms)


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
