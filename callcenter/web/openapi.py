"""The OpenAPI 3.1 document of every JSON API, built from the routes' own pydantic models.

``document(routes)`` turns the ``Route`` declarations every area registered (``callcenter.web.api``)
into paths and operations: query models into parameters, body models into request bodies, the
success model into the success responses, and every status the route can answer (its own, plus 400
for a request that is not valid, 401 without a login, 403 for a missing role, CSRF token or foreign
origin, 404 for an unknown id) with the common error body.  Schemas go into ``components``, named
after their models.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from callcenter.web import api

REF = "#/components/schemas/{model}"
COMMON = {
    400: "the request is not valid (problems names each field)",
    401: "not logged in (or the session ended)",
    403: "the role, the CSRF token (X-CSRF-Token) or the origin was refused",
}
DESCRIPTION = """\
Every API needs a login (the session cookie of `POST /login`) and every change the session's CSRF
token in the `X-CSRF-Token` header (`GET /api/me` gives it).  Errors answer
`{"error": slug, "message": ..., "problems": [{"field", "problem"}]}`: 400 for a request that is
not valid, 401 without a login, 403 for a role, token or origin refused, 404 for an unknown id,
409 for a change the current state does not allow, 422 for an unsolved ticket without a promised
reply time, 503 when Asterisk (or the IVR) is not there for it.  Ids are 1 .. 2^31-1.
"""


def document(routes: list[api.Route]) -> dict[str, Any]:
    """The OpenAPI 3.1 document describing ``routes``."""
    models = _models(routes)
    refs, defs = models_json_schema([(m, "validation") for m in models], ref_template=REF)
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))

    def schema_of(kind: Any) -> dict[str, Any]:
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            return refs[(kind, "validation")]
        return kind

    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, schema_of, schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Hotline call-centre engine: JSON APIs", "version": "2.0.0", "description": DESCRIPTION},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def _models(routes: list[api.Route]) -> list[type[BaseModel]]:
    found: dict[type[BaseModel], None] = {api.Error: None}
    for route in routes:
        for kind in (route.body, route.response):
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                found[kind] = None
    return list(found)


def _operation(route: api.Route, schema_of: Any, schemas: dict[str, Any]) -> dict[str, Any]:
    op: dict[str, Any] = {"operationId": route.operation_id, "summary": route.summary, "tags": [route.tag]}
    doc = (route.handler.__doc__ or "").strip() if route.handler is not None else ""
    if route.role:
        doc = f"{doc}\n\nNeeds the {route.role} role.".strip()
    if doc:
        op["description"] = doc
    params = _path_params(route)
    if route.query is not None:
        params += _query_params(route.query, schemas)
    if params:
        op["parameters"] = params
    if route.body is not None:
        op["requestBody"] = {"required": route.body_required,
                             "content": {route.body_media: {"schema": schema_of(route.body)}}}
    elif route.body_media != "application/json":
        op["requestBody"] = {"required": True,
                             "content": {route.body_media: {"schema": {"type": "string", "minLength": 1}}}}
    responses: dict[str, Any] = {}
    for status in route.ok:
        ok: dict[str, Any] = {"description": "OK" if status < 300 else "done"}
        if route.response is not None and status != 204:
            ok["content"] = {route.response_media: {"schema": schema_of(route.response)}}
        responses[str(status)] = ok
    errors = dict(COMMON)
    if "{" in route.path:
        errors[404] = "no such id (or name)"
    if "requestBody" in op:
        errors[413] = "the body is larger than the server takes (1 MiB)"
    errors.update(route.errors)
    error_body = {"application/json": {"schema": {"$ref": REF.format(model="Error")}}}
    for status in sorted(errors):
        responses[str(status)] = {"description": errors[status], "content": error_body}
    op["responses"] = responses
    return op


def _path_params(route: api.Route) -> list[dict[str, Any]]:
    out = []
    for name in _names(route.path):
        schema = route.path_params.get(name) or {"type": "integer", "minimum": 1, "maximum": api.ID_MAX}
        out.append({"name": name, "in": "path", "required": True, "schema": schema})
    return out


def _names(path: str) -> list[str]:
    return [part[1:-1].split(":")[0] for part in path.split("/") if part.startswith("{")]


def _query_params(model: type[BaseModel], schemas: dict[str, Any]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF)
    schemas.update(schema.get("$defs", {}))
    required = set(schema.get("required", []))
    out = []
    for name, prop in schema.get("properties", {}).items():
        prop = _not_null(prop)
        description = prop.pop("description", "")
        prop.pop("title", None)
        param: dict[str, Any] = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if description:
            param["description"] = description
        if prop.get("type") == "array" or any(k.get("type") == "array" for k in prop.get("anyOf", [])):
            param["style"], param["explode"] = "form", False
        out.append(param)
    return out


def _not_null(prop: dict[str, Any]) -> dict[str, Any]:
    """A query parameter's schema without the null an optional model field allows (absent is absent)."""
    prop = dict(prop)
    branches = [b for b in prop.get("anyOf", []) if b.get("type") != "null"]
    if "anyOf" in prop and len(branches) == 1:
        del prop["anyOf"]
        prop = {**branches[0], **prop}
    if prop.get("default", 0) is None:
        del prop["default"]
    return prop


async def openapi(request: web.Request) -> web.Response:
    """This OpenAPI 3.1 document."""
    return web.json_response(document(request.app[api.ROUTES]), dumps=lambda o: json.dumps(o, ensure_ascii=False))
