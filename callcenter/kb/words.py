"""Words of knowledge-base text: segmentation with the hospital's dictionary, stop words, pinyin.

Chinese is written without spaces, so entries and queries are cut into words by rjieba (the Rust
port of jieba: a manylinux wheel, its dictionary inside, ready in about 0.1 s and about 20 times
faster than jieba in pure Python).  The segmenter is made once per set of extra words (the shipped
``data/kb_dictionary.txt`` plus the supervisors' terms) and shared by the whole process; it is never
changed after it is made, so threads may use it at once.  Nothing here touches the database.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import rjieba
from pypinyin import lazy_pinyin

DATA = Path(__file__).resolve().parents[2] / "data"
DICTIONARY_FILE = DATA / "kb_dictionary.txt"
STOPWORDS_FILE = DATA / "kb_stopwords.txt"
SYNONYMS_FILE = DATA / "kb_synonyms.csv"

TERM_MAX = 16  # characters of one dictionary term or synonym
USER_FREQ = 200_000  # above jieba's own words, so a hospital term is kept whole
_HAN = re.compile(r"[\u3400-\u9fff]+")
_LATIN = re.compile(r"[a-z]+")
_lock = threading.Lock()


def read_lines(path: Path) -> list[str]:
    """Non-empty lines of a UTF-8 data file, without ``#`` comments."""
    out = []
    for line in path.read_text(encoding="utf-8-sig").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            out.append(line)
    return out


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """The shipped stop words (怎么, 吗, 了, 请问...): never a reason to find an entry."""
    return frozenset(w for line in read_lines(STOPWORDS_FILE) for w in line.split())


@lru_cache(maxsize=1)
def shipped_terms() -> tuple[str, ...]:
    """The hospital's own terms shipped in ``data/kb_dictionary.txt`` (one a line, the first column)."""
    return tuple(line.split()[0] for line in read_lines(DICTIONARY_FILE))


def shipped_synonyms() -> list[list[str]]:
    """The default synonym groups of ``data/kb_synonyms.csv`` (one group a line, comma-separated)."""
    groups = []
    for line in read_lines(SYNONYMS_FILE):
        terms = clean_group(line.replace("，", ",").split(","))
        if len(terms) >= 2:
            groups.append(terms)
    return groups


def term_problem(term: str) -> str | None:
    """Why ``term`` cannot be a dictionary word or synonym, or None."""
    if not term or not term.strip():
        return "must not be empty"
    if len(term) > TERM_MAX:
        return f"is {len(term)} characters, at most {TERM_MAX}"
    if any(unicodedata.category(c)[0] in "CZ" for c in term):
        return "must not contain spaces or control characters"
    if not any(c.isalnum() for c in term):
        return "must contain a letter or a Chinese character"
    return None


def clean_group(terms: Iterable[str]) -> list[str]:
    """Stripped, lower-cased, deduplicated terms in their order."""
    out: list[str] = []
    for term in terms:
        term = term.strip().lower()
        if term and term not in out:
            out.append(term)
    return out


class _Segmenter:
    """rjieba with extra words; immutable once made."""

    def __init__(self, extra: frozenset[str]) -> None:
        self._jieba = rjieba.Jieba()
        for word in sorted(extra):
            self._jieba.add_word(word.lower(), USER_FREQ, None)  # text is cut in lower case (CT, B超)

    def cut(self, text: str) -> list[str]:
        return self._jieba.cut(text, False)

    def cut_for_search(self, text: str) -> list[str]:
        return self._jieba.cut_for_search(text, False)


_segmenters: dict[frozenset[str], _Segmenter] = {}


def segmenter(extra: Iterable[str] = ()) -> _Segmenter:
    """The process's segmenter for these extra words (made on first use; the last four are kept)."""
    key = frozenset(extra)
    found = _segmenters.get(key)
    if found is not None:
        return found
    with _lock:
        if key not in _segmenters:
            while len(_segmenters) >= 4:
                _segmenters.pop(next(iter(_segmenters)))
            _segmenters[key] = _Segmenter(key)
        return _segmenters[key]


def clean(text: str) -> str:
    """Text a segmenter may take: lower case, no control characters or lone surrogates."""
    text = text.encode("utf-8", "replace").decode("utf-8").lower()
    return "".join(c if c.isprintable() else " " for c in text)


def _is_word(token: str) -> bool:
    return any(c.isalnum() for c in token)


def index_words(text: str, seg: _Segmenter) -> list[str]:
    """Words of an entry's text for the index: search mode (a long word and the words inside it)."""
    stop = stopwords()
    return [t for t in (t.strip() for t in seg.cut_for_search(clean(text))) if _is_word(t) and t not in stop]


def query_words(text: str, seg: _Segmenter) -> list[str]:
    """The words of a query, in order, without stop words, punctuation or repeats."""
    stop = stopwords()
    out: list[str] = []
    for token in seg.cut(clean(text)):
        token = token.strip()
        if _is_word(token) and token not in stop and token not in out:
            out.append(token)
    return out


def sub_words(word: str, seg: _Segmenter) -> list[str]:
    """Shorter words inside ``word`` (检查报告 -> 检查, 报告), without stop words."""
    stop = stopwords()
    return [w for w in seg.cut_for_search(word) if w != word and len(w) >= 2 and w not in stop]


def is_latin(word: str) -> bool:
    """A word of Latin letters only: maybe pinyin (guahao) or initials (gh)."""
    return bool(_LATIN.fullmatch(word))


def is_han(word: str) -> bool:
    return bool(_HAN.fullmatch(word))


@lru_cache(maxsize=200_000)
def pinyin_keys(word: str) -> tuple[str, str]:
    """Full pinyin without tones and the initials of a Chinese word: 挂号 -> ("guahao", "gh")."""
    syllables = lazy_pinyin(word, errors="ignore")
    return "".join(syllables), "".join(s[0] for s in syllables if s)


def pinyin_map(words: dict[str, int]) -> dict[str, list[str]]:
    """Full pinyin and initials -> the Chinese words (2-4 characters) they spell, most frequent first."""
    found: dict[str, list[str]] = {}
    for word in words:
        if 2 <= len(word) <= 4 and is_han(word):
            full, initials = pinyin_keys(word)
            for key in {full, initials}:
                found.setdefault(key, []).append(word)
    for key, spelled in found.items():
        spelled.sort(key=lambda w: (-words[w], w))
    return found
