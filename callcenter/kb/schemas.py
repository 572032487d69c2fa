"""Requests and answers of the lookup counter and the 未诉先办 API as pydantic models."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from callcenter.timewindow import WINDOW_PATTERN
from callcenter.web.api import Body, Day, Id, Query, Reply, limit, line, text
from callcenter.workorders.lifecycle import CATEGORIES

SPOKEN_MAX = 240  # characters of one language's text: about a minute of Mandarin, under a minute of English
Spoken = text(SPOKEN_MAX, 1)
Top = limit(50)
Times = line(11, 11, WINDOW_PATTERN)
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Category = Literal[tuple(CATEGORIES)]  # type: ignore[valid-type]


class SuggestionsQuery(Query):
    ticket_id: Id = Field(description="the ticket on the desk (the call's, from the screen-pop)")
    limit: Top = 8


class Reason(Reply):
    kind: Literal["message", "menu", "last_ticket"] = Field(
        description="message: a hotline message the caller heard (made from the entry); menu: the IVR choice; "
                    "last_ticket: the category of the caller's last ticket")
    value: str = Field(description="the message's words, the menu choice, or the ticket category")


class Suggested(Reply):
    id: int
    question: str
    answer: str
    category: str
    department: str
    views: int = Field(description="lookups in the last 30 days")
    reasons: list[Reason]


class Suggestions(Reply):
    ticket_id: int
    signals: list[Reason]
    entries: list[Suggested]


class ViewIn(Body):
    ticket_id: Id | None = Field(None, description="the ticket on the desk when the entry was opened")


class View(Reply):
    id: int
    entry_id: int
    ticket_id: int | None
    by: str
    at: str


class ReportQuery(Query):
    from_: Day | None = Field(None, alias="from", description="first day (hospital time); default Monday of this week")
    to: Day | None = Field(None, description="last day, included; default today")
    top: Top = 10


class Texts(Body):
    zh: Spoken = Field(description=f"Mandarin, read aloud (at most {SPOKEN_MAX} characters)")
    en: Spoken = Field(description=f"English, read aloud (at most {SPOKEN_MAX} characters)")


class MessageIn(Body):
    """Step one (the texts) and step two (when it plays) of a message made from an entry."""

    entry_id: Id
    texts: Texts
    first_day: Day
    last_day: Day
    weekdays: list[Weekday] | None = Field(None, min_length=1, max_length=7)
    times: Times | None = Field(None, description="HH:MM-HH:MM, hospital time; may run across midnight")
    category: Category | None = Field(None, description="the ticket category it answers (default: from the entry's)")
    priority: int = Field(40, ge=-1000, le=1000)


class Rising(Reply):
    now: int
    before: int
    change: int


class CategoryRise(Rising):
    category: str


class EntryRise(Rising):
    entry_id: int
    question: str
    category: str


class Effect(Reply):
    before_from: str
    after_to: str
    before: int
    after: int
    change: int


class Message(Reply):
    id: int
    rule: str
    entry_id: int | None
    category: str
    texts: dict[str, str]
    from_: str = Field(alias="from")
    to: str
    starts_at: str
    created_by: str
    effect: Effect


class Span(Reply):
    from_: str = Field(alias="from")
    to: str


class Report(Reply):
    period: Span
    before: Span
    categories: list[CategoryRise]
    entries: list[EntryRise]
    messages: list[Message]


# -- the words search uses (callcenter/kb/dictionary.py) ------------------------------------------

Term = line(16, 1)  # words.TERM_MAX; spaces and other rules checked by the service


class TermIn(Body):
    word: Term = Field(description="a word of the hospital's own (department, test, drug, disease), kept whole")


class TermOut(Reply):
    id: int
    word: str
    created_by: str
    created_at: str


class SynonymsIn(Body):
    terms: list[Term] = Field(min_length=2, max_length=12, description="words meaning the same thing to a caller")


class SynonymsOut(Reply):
    id: int
    terms: list[str]
    updated_by: str
    updated_at: str


class Words(Reply):
    terms: list[TermOut] = Field(description="the supervisors' dictionary terms")
    shipped_terms: int = Field(description="terms shipped in data/kb_dictionary.txt")
    synonyms: list[SynonymsOut]
