"""The one HTTP helper module of every area: routes declared with their role and pydantic models,
JSON bodies parsed strictly, errors answered in one shape.

Theory of operation
-------------------
- Every route declares who may call it: ``Route.role`` (any logged-in user is "operator"), or
  ``@requires(role)`` / ``@public`` on a handler registered by hand (pages, login, websockets).
  The access middleware (``callcenter.web.security``) reads that declaration and nothing else;
  ``tests/web/test_route_roles.py`` checks that every route of the app carries one.
- Every JSON route of every area is a ``Route``: method, path, handler, the pydantic models of its
  query and body, the statuses it answers on success and the errors it can answer.  ``register``
  adds an area's routes to the application and keeps them for the OpenAPI document
  (``callcenter.web.openapi``): what the server accepts and what the document describes are the
  same models, so they cannot drift apart.
- Handlers read their input through ``body``, ``query`` and ``path_id``; anything that does not fit
  raises ``RequestInvalid``, answered 400 ``{"error": "request.invalid", "message", "problems":
  [{"field", "problem"}]}`` naming every field and why.  Path ids are ASCII digits within the
  database's range (1 .. 2^31-1): ``²`` or a fullwidth ``１`` is refused, a number beyond the range
  is an unknown id (404).
- Strings carry no control characters (single-line ones none at all, texts keep tab and line
  breaks); integers, lengths, lists and dates all have bounds.
- Errors: an area's ``CallCenterError`` declares its HTTP status (``http_status``, ``http_fields``)
  and ``register`` answers it ``{"error": slug, "message", ...}`` (``error_json``); an area may pass
  an ``ErrorMap`` for errors that are not its own (``asterisk_unreachable``).
- ``unhandled_errors`` (the outermost middleware) turns any exception a handler did not expect into
  a logged 500 with an error id (``web.unhandled``), never a traceback; on ``/api/`` the framework's
  own refusals (404 for an unknown path, 405) answer JSON like every other error.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

import structlog
from aiohttp import web
from sqlalchemy import exc as sa_exc
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from callcenter import keys
from callcenter.accounts.models import ROLE_RANK
from callcenter.exceptions import AmiError, CallCenterError
from callcenter.web.exceptions import WebError

log = structlog.get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ErrorMap = Callable[[Exception], web.Response | None]
M = TypeVar("M", bound=BaseModel)

# The ids' range: the keys are PostgreSQL ``integer`` columns (int4; SQLite would take 2^63-1), and a
# larger number in a PostgreSQL query is a driver error, not an empty answer.
ID_MAX = 2**31 - 1
ROUTES: web.AppKey[list[Route]] = web.AppKey("api_routes", list)
_DIGITS = re.compile(r"[0-9]+", re.ASCII)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_BUT_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
YEARS = (2000, 2100)  # dates outside are typing mistakes (a promised reply in the year 143)


# -- field types ------------------------------------------------------------------------------------


def _one_line(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must be one line without control characters")
    return value


def _text(value: str) -> str:
    if _CONTROL_BUT_LINES.search(value):
        raise ValueError("must not contain control characters")
    return value


def line(max_length: int, min_length: int = 0, pattern: str | None = None) -> Any:
    """A single-line string of ``min_length``..``max_length`` characters (no control characters)."""
    return Annotated[str, Field(min_length=min_length, max_length=max_length,
                                json_schema_extra={"pattern": pattern or r"^[^\x00-\x1f\x7f]*$"}),
                     AfterValidator(_one_line), *([AfterValidator(_matches(pattern))] if pattern else [])]


def text(max_length: int, min_length: int = 0) -> Any:
    """A text of ``min_length``..``max_length`` characters; tabs and line breaks allowed."""
    return Annotated[str, Field(min_length=min_length, max_length=max_length,
                                json_schema_extra={"pattern": r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"}),
                     AfterValidator(_text)]


def _matches(pattern: str) -> Callable[[str], str]:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.search(value):
            raise ValueError(f"must match {pattern}")
        return value

    return check


def _sane_moment(value: dt.datetime) -> dt.datetime:
    if not YEARS[0] <= value.year <= YEARS[1]:
        raise ValueError(f"must lie between the years {YEARS[0]} and {YEARS[1]}")
    return value.astimezone(dt.UTC)


def within_years(value: Any) -> Any:
    """A date or datetime in the years ``YEARS`` (others are typing mistakes or overflow UTC arithmetic)."""
    if not YEARS[0] <= value.year <= YEARS[1]:
        raise ValueError(f"must lie between the years {YEARS[0]} and {YEARS[1]}")
    return value


def _promise(value: dt.datetime, info: ValidationInfo) -> dt.datetime:
    """A promised time between now (a few minutes' slack) and ``promise_days`` ahead."""
    context = info.context or {}
    if value == context.get("keep"):
        return value  # the ticket's own promise sent back unchanged (an overdue one included)
    now = context.get("now") or dt.datetime.now(dt.UTC)
    days = context.get("promise_days", 365.0)
    if value < now - PROMISE_SLACK:
        raise ValueError("must not lie in the past")
    if value > now + dt.timedelta(days=days):
        raise ValueError(f"must lie within {days:g} days from now")
    return value


PROMISE_SLACK = dt.timedelta(minutes=10)
Id = Annotated[int, Field(ge=1, le=ID_MAX, description="an id (1 .. 2^31-1)")]
Count = Annotated[int, Field(ge=0, le=1_000_000)]
Moment = Annotated[AwareDatetime, AfterValidator(_sane_moment),
                   Field(description=f"ISO 8601 with offset, e.g. 2025-03-10T17:00:00+08:00 (years {YEARS[0]}-{YEARS[1]})")]
Day = Annotated[dt.date, AfterValidator(within_years), Field(description=f"ISO date, e.g. 2025-03-10 (years {YEARS[0]}-{YEARS[1]})")]
Promise = Annotated[AwareDatetime, AfterValidator(_sane_moment), AfterValidator(_promise),
                    Field(description="ISO 8601 with offset, between now and workorders.promise_max_days ahead "
                                      "(default a year)")]


def limit(maximum: int) -> Any:
    """A page size of 1..``maximum``."""
    return Annotated[int, Field(ge=1, le=maximum)]


class Body(BaseModel):
    """A JSON request body: exact types, no unknown fields."""

    model_config = ConfigDict(extra="forbid", strict=True)


def _patch_schema(schema: dict[str, Any]) -> None:
    for prop in schema.get("properties", {}).values():
        prop.pop("default", None)  # a patch changes only what it names: no defaults
    schema["minProperties"] = 1


class Patch(Body):
    """A JSON change: only the fields it names are changed, and it names at least one."""

    model_config = ConfigDict(json_schema_extra=_patch_schema)

    @model_validator(mode="after")
    def _some(self) -> Patch:
        if not self.model_fields_set:
            raise ValueError(f"give at least one of: {', '.join(type(self).model_fields)}")
        return self

    def changes(self) -> dict[str, Any]:
        """The fields the request named, with their values."""
        return self.model_dump(exclude_unset=True)


class Query(BaseModel):
    """Query parameters: converted from text, no unknown parameters."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Reply(BaseModel):
    """A response body as the document describes it (fields beyond those listed may appear)."""

    model_config = ConfigDict(extra="allow")


class Problem(BaseModel):
    field: str
    problem: str


class Error(Reply):
    """Every refused request answers this."""

    error: str = Field(description="stable slug, e.g. request.invalid, ticket.illegal_move, web.forbidden")
    message: str
    problems: list[Problem] | None = Field(None, description="each field that is not valid, and why")
    allowed: list[str] | None = Field(None, description="statuses allowed next (illegal moves)")
    error_id: str | None = Field(None, description="500 only: quote it to whoever reads the logs")


# -- errors -------------------------------------------------------------------------------------------


class RequestInvalid(WebError):
    """A request that does not fit its declaration; ``problems`` names each field."""

    def __init__(self, message: str, problems: list[dict[str, str]], slug: str = "request.invalid",
                 status: int = 400) -> None:
        super().__init__(status, slug, message)
        self.problems = problems

    def http_fields(self) -> dict[str, Any]:
        return {"problems": self.problems}


def error_json(http_status: int, slug: str, message: str, **extra: Any) -> web.Response:
    """The JSON body every refused request answers with: ``{"error": slug, "message", ...extra}``."""
    return web.json_response({"error": slug, "message": message, **extra}, status=http_status)


def error_of(err: CallCenterError) -> web.Response | None:
    """The answer an error declares (``http_status``, ``http_fields``); None when it declares none."""
    if err.http_status is None:
        return None
    return error_json(err.http_status, err.slug, str(err), **err.http_fields())


def asterisk_unreachable(err: Exception) -> web.Response | None:
    """``ErrorMap`` of routes that place calls: an AMI failure answers 503."""
    if isinstance(err, AmiError):
        return error_json(503, err.slug, f"Asterisk is not reachable for the call: {err}")
    return None


def invalid(problems: list[dict[str, str]], what: str = "request") -> RequestInvalid:
    """A 400 listing ``problems``, the first three in the message."""
    summary = "; ".join(f"{p['field']} {p['problem']}" for p in problems[:3])
    return RequestInvalid(f"the {what} is not valid: {summary}", problems)


_TYPES = {"string_type": "string", "int_type": "integer", "int_from_float": "integer", "bool_type": "boolean",
          "float_type": "number", "dict_type": "object", "model_type": "object", "list_type": "array",
          "model_attributes_type": "object", "int_parsing": "integer", "bool_parsing": "true or false",
          "date_type": "a date like 2025-03-10", "date_parsing": "a date like 2025-03-10",
          "date_from_datetime_parsing": "a date like 2025-03-10"}
_DATETIME = "is not an ISO datetime with offset (e.g. 2025-03-10T17:00:00+08:00)"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}.get(
        type(value), type(value).__name__)


def _problem(item: Any, where: str) -> str:
    """One pydantic error in the words the API has always used."""
    kind, ctx = item["type"], item.get("ctx") or {}
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a known " + ("parameter" if where == "query" else "field")
    if kind == "json_invalid":
        return "is not valid JSON"
    if kind in ("literal_error", "enum"):
        return f"must be one of {ctx.get('expected', '').replace(chr(39), '')} (got {item['input']!r})"
    if kind.startswith("datetime") or kind.startswith("timezone"):
        return _DATETIME
    if kind in _TYPES:
        value = item["input"]
        return f"must be {_TYPES[kind]}, not {value!r}" if isinstance(value, str) else \
            f"must be {_TYPES[kind]}, not {_json_type(value)}"
    if kind in ("string_too_short", "too_short"):
        return "must not be empty" if ctx.get("min_length") == 1 else f"must have at least {ctx.get('min_length')}"
    if kind == "string_too_long":
        return f"is {len(item['input'])} characters, at most {ctx.get('max_length')}"
    if kind == "too_long":
        return f"has more than {ctx.get('max_length')} items"
    if kind in ("greater_than_equal", "greater_than"):
        return f"must be at least {ctx.get('ge', ctx.get('gt'))}"
    if kind in ("less_than_equal", "less_than"):
        return f"must be at most {ctx.get('le', ctx.get('lt'))}"
    if kind == "value_error":
        return str(ctx.get("error", item["msg"]))
    return item["msg"][0].lower() + item["msg"][1:]


def _problems(err: ValidationError, where: str) -> list[dict[str, str]]:
    problems = [{"field": ".".join(str(p) for p in item["loc"]) or where, "problem": _problem(item, where)}
                for item in err.errors(include_url=False)]
    return sorted(problems, key=lambda p: not p["problem"].startswith("is not a known"))  # unknown names first


# -- reading a request ------------------------------------------------------------------------------


async def body(request: web.Request, model: type[M], *, context: Mapping[str, Any] | None = None,
               optional: bool = False) -> M:
    """The JSON body as ``model``; RequestInvalid naming every problem.  ``optional``: no body is ``{}``."""
    raw = await request.read()
    if optional and not raw.strip():
        raw = b"{}"
    try:
        return model.model_validate_json(raw, context={**_context(request), **(context or {})})
    except ValidationError as err:
        raise invalid(_problems(err, "body")) from None


def _context(request: web.Request) -> dict[str, Any]:
    settings = request.app.get(keys.SETTINGS)
    days = settings.workorders.promise_max_days if settings is not None else 365.0
    return {"now": dt.datetime.now(dt.UTC), "promise_days": days}


def query(request: web.Request, model: type[M]) -> M:
    """The query parameters as ``model`` (lists comma-separated; repeated: the last); RequestInvalid otherwise."""
    lists = _list_parameters(model)
    data: dict[str, Any] = {}
    for name in dict.fromkeys(request.query):
        values = request.query.getall(name)
        if name in lists:
            data[name] = [part for value in values for part in value.split(",")]
        else:
            data[name] = values[-1]
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise invalid(_problems(err, "query"), "query") from None


@functools.cache
def _list_parameters(model: type[BaseModel]) -> frozenset[str]:
    """The query parameters of ``model`` that are lists (sent comma-separated)."""
    properties = model.model_json_schema()["properties"]
    return frozenset(name for name, prop in properties.items()
                     if any(kind.get("type") == "array" for kind in (prop, *prop.get("anyOf", []))))


def path_id(request: web.Request, name: str = "id", what: str = "") -> int:
    """The path's id: ASCII digits only (400 otherwise); beyond 1..2^31-1 no such id (404)."""
    raw = request.match_info[name]
    if not _DIGITS.fullmatch(raw):
        raise RequestInvalid(f"{name} must be a number", [{"field": name, "problem": f"{raw[:40]!r} is not a number"}])
    if len(raw) > 10 or not 1 <= int(raw) <= ID_MAX:
        raise WebError(404, f"{what or 'request'}.not_found", f"no {what or 'item'} with id {raw[:40]}")
    return int(raw)


def path_text(request: web.Request, name: str, max_length: int = 64) -> str:
    """A text path parameter: one line, at most ``max_length`` characters."""
    raw = request.match_info[name]
    if not raw or len(raw) > max_length or _CONTROL.search(raw):
        raise RequestInvalid(f"{name} is not valid", [{"field": name, "problem": f"must be 1-{max_length} characters, one line"}])
    return raw


async def peek_json(request: web.Request) -> Any:
    """The JSON body for a middleware to look at (None when it is not JSON); the handler reads it again."""
    try:
        return await request.json()  # aiohttp keeps the body
    except ValueError:
        return None


async def text_body(request: web.Request, what: str = "file") -> bytes:
    """A non-empty raw body (CSV imports); RequestInvalid when empty."""
    data = await request.read()
    if not data.strip():
        raise RequestInvalid(f"the {what} is empty", [{"field": "body", "problem": f"is empty: send the {what}"}])
    return data


# -- who is calling, and who may --------------------------------------------------------------------

PUBLIC = "public"  # a route anybody may call without logging in (login, health)


def requires(role: str) -> Callable[[Handler], Handler]:
    """Declare that a handler needs ``role`` (or a higher one); ``PUBLIC``: no login at all."""
    if role not in ROLE_RANK and role != PUBLIC:
        raise ValueError(f"unknown role {role!r}")

    def mark(handler: Handler) -> Handler:
        handler.min_role = role  # type: ignore[attr-defined]
        return handler

    return mark


public = requires(PUBLIC)


def role_of(handler: object) -> str | None:
    """The role a handler declares (``PUBLIC`` for a public one); None when it declares none."""
    return getattr(handler, "min_role", None)


def _user(request: web.Request) -> object:
    """The logged-in user the web pages' access middleware put on the request (or a plain "user")."""
    user = request.get(keys.USER)
    return user if user is not None else request.get("user")


def who(request: web.Request) -> str | None:
    """The logged-in user's name (None without the web pages' auth)."""
    user = _user(request)
    if user is None:
        return None
    if isinstance(user, dict):
        return user.get("username") or user.get("name")
    return getattr(user, "username", None) or getattr(user, "name", None)


def agent_of(request: web.Request) -> str | None:
    """The logged-in operator's agent id (their phone), if any."""
    user = _user(request)
    if isinstance(user, dict):
        return user.get("agent_id")
    return getattr(user, "agent_id", None)


# -- routes -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """One JSON route: its handler, what it takes, what it answers; registered and described once."""

    method: str
    path: str
    handler: Handler | None  # None: registered elsewhere (described here only)
    summary: str
    tag: str
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    body_media: str = "application/json"  # text/csv: a raw file
    body_required: bool = True
    path_params: Mapping[str, Any] = field(default_factory=dict)  # name -> JSON schema ({id}: an Id)
    response: Any = None  # model (or JSON schema) of the success body
    response_media: str = "application/json"
    ok: tuple[int, ...] = (200,)
    errors: Mapping[int, str] = field(default_factory=dict)  # status -> when, beyond 400/401/403/404
    role: str = "operator"  # needs this role or higher ("operator": any logged-in user; PUBLIC: anybody)

    @property
    def operation_id(self) -> str:
        return self.method.lower() + re.sub(r"[^a-z0-9]+", "_", self.path.lower()).rstrip("_")


def register(app: web.Application, routes: tuple[Route, ...], errors: ErrorMap | None = None) -> None:
    """Add ``routes`` to ``app`` (errors mapped by ``errors``, then as they declare) and to its OpenAPI document."""
    if ROUTES not in app:
        app[ROUTES] = []
    for route in routes:
        app[ROUTES].append(route)
        if route.handler is None:
            continue
        handler = requires(role_of(route.handler) or route.role)(_wrap(route.handler, errors))
        if route.method == "GET":
            app.router.add_get(route.path, handler)  # and HEAD
        else:
            app.router.add_route(route.method, route.path, handler)


def _wrap(inner: Handler, errors: ErrorMap | None) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            return await inner(request)
        except web.HTTPException:
            raise
        except Exception as err:
            mapped = errors(err) if errors is not None else None
            if mapped is None and isinstance(err, CallCenterError):
                mapped = error_of(err)
            if mapped is None:
                raise
            return mapped

    handle.__name__ = inner.__name__
    handle.__doc__ = inner.__doc__
    return handle


# -- the last resort ----------------------------------------------------------------------------------

_SLUGS = {400: "request.invalid", 401: "web.login_required", 403: "web.forbidden", 404: "request.not_found",
          405: "request.method_not_allowed", 413: "request.too_large", 415: "request.media_type"}


@web.middleware
async def unhandled_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Unexpected exceptions become a logged 500 with an error id; framework refusals on /api/ answer JSON."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or not request.path.startswith("/api/") or exc.content_type == "application/json":
            raise
        slug = _SLUGS.get(exc.status, f"http.{exc.status}")
        headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "www-authenticate")}
        response = error_json(exc.status, slug, exc.reason)
        response.headers.update(headers)
        return response
    except (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError, ConnectionError) as err:
        # The database is locked past its busy timeout, full, or unreachable (asyncpg's refused connect
        # comes through SQLAlchemy unwrapped, as a ConnectionError): nothing the client did,
        # and nothing was half-written (the transaction rolled back); say so and when to try again.
        log.warning("web.database_unavailable", method=request.method, path=request.path,
                    error=str(getattr(err, "orig", err) or type(err).__name__)[:200])
        message = "the database is busy or unreachable; nothing was saved, try again in a moment"
        if request.path.startswith("/api/"):
            response = error_json(503, "database.unavailable", message)
        else:
            response = web.Response(text=f"数据库繁忙或不可达，请稍后再试。/ {message}", status=503)
        response.headers["Retry-After"] = "2"
        return response
    except Exception:
        error_id = secrets.token_hex(6)
        log.exception("web.unhandled", error_id=error_id, method=request.method, path=request.path)
        message = f"an unexpected error; error id {error_id}"
        headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
        if request.path.startswith("/api/"):
            return web.Response(text=json.dumps({"error": "server.error", "message": message, "error_id": error_id}),
                                status=500, content_type="application/json", headers=headers)
        return web.Response(text=message, status=500, headers=headers)
