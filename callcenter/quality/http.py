"""HTTP JSON API of quality review (``/api/quality/...``) and its pages ``/quality`` and ``/quality/mine``.

Supervisors list the week's calls to review, open one (the ticket, its recording, its review) and
submit a review.  Every user sees the form; an operator reads only their own reviews (another's:
403); the recording is played through ``/api/recordings/{id}/audio``, which applies its own rules
(supervisors, and the operator who took the call).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import structlog
from aiohttp import web
from pydantic import Field

from callcenter import keys as app_keys
from callcenter.quality import keys
from callcenter.quality.exceptions import Forbidden
from callcenter.quality.score import MAX_COMMENTS
from callcenter.web import api, labels
from callcenter.web.api import Body, Day, Query, Reply, Route, limit, line, path_id, requires, text
from callcenter.web.pages import page
from callcenter.web.security import current_user
from callcenter.workorders import keys as workorder_keys

log = structlog.get_logger(__name__)
ItemKey, Agent, Comments, Limit500 = line(32, 1), line(64, 1), text(MAX_COMMENTS), limit(500)
Points = Annotated[int, Field(ge=0, le=100)]


class WeekQuery(Query):
    week: Day | None = Field(None, description="any day of the week (hospital time); default this week")


class ReviewIn(Body):
    scores: dict[ItemKey, Points] = Field(max_length=30, description="item key -> points (0..the item's max)")
    comments: Comments = ""


class ReviewsQuery(Query):
    agent: Agent | None = Field(None, description="supervisors: this operator's reviews only")
    limit: Limit500 = 200


class FormItem(Reply):
    key: str
    label_zh: str
    label_en: str
    max_points: int


class Form(Reply):
    version: str
    forbidden_phrases: list[str]
    items: list[FormItem]


class Review(Reply):
    id: int
    ticket_id: int
    agent_id: str
    reviewer: str
    scores: dict[str, int]
    total: float
    comments: str
    form_version: str
    created_at: str
    updated_at: str
    answered_at: str | None


class ReviewDetail(Review):
    recording_id: int | None


class ReviewList(Reply):
    reviews: list[Review]


class ToReview(Reply):
    ticket_id: int
    agent_id: str
    answered_at: str
    reasons: list[str]
    satisfaction: int | None
    category: str | None
    recording_id: int | None
    reviewed: bool
    total: float | None


class Week(Reply):
    week: str
    calls: list[ToReview]


class Call(Reply):
    ticket_id: int
    agent_id: str
    answered_at: str
    recording_id: int | None
    review: Review | None
    ticket: dict[str, Any]


def _today(request: web.Request) -> dt.date:
    return dt.datetime.now(request.app[app_keys.SETTINGS].hospital.zone).date()


async def form(request: web.Request) -> web.Response:
    """The review form: items and their maximum points, the forbidden phrases."""
    return web.json_response(request.app[keys.QUALITY].form())


async def week_calls(request: web.Request) -> web.Response:
    """The week's calls to review: each operator's sample, every low score and complaint."""
    q = api.query(request, WeekQuery)
    return web.json_response(await request.app[keys.QUALITY].to_review(q.week or _today(request)))


async def get_call(request: web.Request) -> web.Response:
    """One call to review: the ticket with its history, the recording, the review so far."""
    ticket_id = path_id(request, what="quality_call")
    call = await request.app[keys.QUALITY].call(ticket_id)
    call["ticket"] = await request.app[workorder_keys.WORKORDERS].get(ticket_id)
    return web.json_response(call)


async def save_review(request: web.Request) -> web.Response:
    """Score a call on the form (a second submission replaces the first)."""
    ticket_id = path_id(request, what="quality_call")
    body = await api.body(request, ReviewIn)
    review, created = await request.app[keys.QUALITY].save(ticket_id, body.scores, body.comments.strip(),
                                                           api.who(request) or "")
    return web.json_response(review, status=201 if created else 200)


async def list_reviews(request: web.Request) -> web.Response:
    """Reviews, newest call first: an operator's own; supervisors everybody's (or ``agent``'s)."""
    q = api.query(request, ReviewsQuery)
    user = current_user(request)
    agent = q.agent if user.at_least("supervisor") else (user.agent_id or "")
    if not user.at_least("supervisor") and q.agent not in (None, agent):
        log.warning("quality.refused", user=user.username, agent_id=q.agent)
        raise Forbidden("operators see only their own reviews")
    return web.json_response({"reviews": await request.app[keys.QUALITY].reviews(agent, q.limit)})


async def get_review(request: web.Request) -> web.Response:
    """One review (an operator: only of their own calls)."""
    review = await request.app[keys.QUALITY].review(path_id(request, what="quality_review"))
    user = current_user(request)
    if not user.at_least("supervisor") and (not user.agent_id or review["agent_id"] != user.agent_id):
        log.warning("quality.refused", user=user.username, review_id=review["id"])
        raise Forbidden("operators see only their own reviews")
    return web.json_response(review)


@requires("supervisor")
async def quality_page(request: web.Request) -> web.Response:
    """The supervisors' review page: the week's list, the call, the form."""
    return page(request, "quality.html", labels.text("title.quality"), mine=False)


@requires("operator")
async def my_quality_page(request: web.Request) -> web.Response:
    """An operator's own reviews (我的质检)."""
    return page(request, "quality.html", labels.text("title.my_quality"), mine=True)


Q, SUPERVISOR = "quality", "supervisor"
NO_CALL = {404: "no answered call with that id"}
ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/quality/form", form, "The review form", Q, response=Form),
    Route("GET", "/api/quality/calls", week_calls, "The week's calls to review", Q, query=WeekQuery, response=Week,
          role=SUPERVISOR),
    Route("GET", "/api/quality/calls/{id}", get_call, "One call to review with its ticket and review", Q,
          response=Call, errors=NO_CALL, role=SUPERVISOR),
    Route("POST", "/api/quality/calls/{id}/review", save_review, "Score a call (replaces an earlier review)", Q,
          body=ReviewIn, ok=(200, 201), response=Review, errors=NO_CALL, role=SUPERVISOR),
    Route("GET", "/api/quality/reviews", list_reviews, "Reviews (operators: their own)", Q, query=ReviewsQuery,
          response=ReviewList),
    Route("GET", "/api/quality/reviews/{id}", get_review, "One review (operators: their own)", Q,
          response=ReviewDetail),
)


def add_routes(app: web.Application) -> None:
    """Register ``ROUTES`` and the pages."""
    app.router.add_get("/quality", quality_page)
    app.router.add_get("/quality/mine", my_quality_page)
    api.register(app, ROUTES)
