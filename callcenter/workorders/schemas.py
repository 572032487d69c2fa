"""JSON schemas of the work-order API, and the small validator that enforces them.

The same dictionaries are the OpenAPI document's schemas and the validation of each request, so
the document cannot drift from what the server accepts.  The validator covers the JSON Schema
subset used here (type, enum, properties, required, additionalProperties, minProperties, items,
min/maxLength, minimum/maximum, format date-time) and reports every problem with its field path.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from callcenter.workorders.lifecycle import CATEGORIES, CLOSE_REASONS, PRIORITIES, Status

DATETIME = {"type": "string", "format": "date-time", "description": "ISO 8601 with offset, e.g. 2025-03-10T17:00:00+08:00"}
NULLABLE_DATETIME = {**DATETIME, "type": ["string", "null"]}

TICKET_PATCH = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {
        "category": {"type": ["string", "null"], "enum": [*CATEGORIES, None],
                     "description": "; ".join(f"{k}: {v}" for k, v in CATEGORIES.items())},
        "priority": {"type": "string", "enum": list(PRIORITIES)},
        "notes": {"type": "string", "maxLength": 4000},
        "status": {"type": "string", "enum": [s.value for s in Status],
                   "description": "target status; the lifecycle allows one move at a time (see allowed_status)"},
        "close_reason": {"type": "string", "enum": list(CLOSE_REASONS), "description": "needed when status is closed"},
        "promised_reply_at": NULLABLE_DATETIME,
        "assigned_agent": {"type": ["string", "null"], "maxLength": 64},
        "department_id": {"type": ["integer", "null"], "minimum": 1},
    },
}
NOTE = {
    "type": "object", "additionalProperties": False, "required": ["text"],
    "properties": {"text": {"type": "string", "minLength": 1, "maxLength": 4000}},
}
ESCALATE = {
    "type": "object", "additionalProperties": False, "required": ["department_id"],
    "properties": {
        "department_id": {"type": "integer", "minimum": 1},
        "promised_reply_at": DATETIME,
        "reason": {"type": "string", "maxLength": 1000},
        "call": {"type": "boolean", "description": "ring the department now (default true)"},
    },
}
CALLBACK = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "agent_id": {"type": "string", "maxLength": 64, "description": "operator whose phone rings first (default: the logged-in user's agent)"},
        "number": {"type": "string", "maxLength": 32, "description": "number to call (default: the ticket's caller)"},
        "survey": {"type": "boolean", "description": "after the operator hangs up, the caller hears the satisfaction survey"},
        "task_id": {"type": "integer", "minimum": 1, "description": "the callback task this call works off"},
        "at": {**DATETIME, "description": "schedule instead of calling now: a pending callback task due at this "
                                          "time (for agent_id, default the logged-in operator)"},
    },
}
SURVEY = {
    "type": "object", "additionalProperties": False, "required": ["score"],
    "properties": {"score": {"type": "integer", "minimum": 1, "maximum": 5}},
}
KB_ENTRY = {
    "type": "object", "additionalProperties": False, "required": ["question", "answer"],
    "properties": {
        "question": {"type": "string", "minLength": 1, "maxLength": 500},
        "answer": {"type": "string", "minLength": 1, "maxLength": 5000},
        "keywords": {"type": "string", "maxLength": 500},
        "category": {"type": "string", "maxLength": 32},
        "department": {"type": "string", "maxLength": 64},
    },
}
KB_ENTRY_PATCH = {**KB_ENTRY, "required": [], "minProperties": 1}
DEPARTMENT = {
    "type": "object", "additionalProperties": False, "required": ["name"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 64},
        "office_phone": {"type": "string", "maxLength": 32},
        "notes": {"type": "string", "maxLength": 2000},
        "active": {"type": "boolean"},
    },
}
DEPARTMENT_PATCH = {**DEPARTMENT, "required": [], "minProperties": 1}
DUTY = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "weekdays": {"type": "array", "items": {"type": "string", "enum": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}},
        "times": {"type": "string", "description": "HH:MM-HH:MM in the hospital's time; may run across midnight"},
    },
}
SPECIALIST = {
    "type": "object", "additionalProperties": False, "required": ["name", "mobile"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 64},
        "title": {"type": "string", "maxLength": 64},
        "mobile": {"type": "string", "minLength": 1, "maxLength": 32},
        "duty": DUTY,
        "rank": {"type": "integer", "minimum": 0, "maximum": 1000},
        "active": {"type": "boolean"},
    },
}
SPECIALIST_PATCH = {**SPECIALIST, "required": [], "minProperties": 1}

ERROR = {
    "type": "object",
    "properties": {
        "error": {"type": "string", "description": "stable slug, e.g. request.invalid, ticket.illegal_move"},
        "message": {"type": "string"},
        "problems": {"type": "array", "items": {"type": "object", "properties": {
            "field": {"type": "string"}, "problem": {"type": "string"}}}},
        "allowed": {"type": "array", "items": {"type": "string"}, "description": "statuses allowed next (illegal moves)"},
    },
}
CONTACT = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"}, "kind": {"type": "string", "enum": ["inbound", "callback", "escalation", "note", "survey", "status", "outbound"]},
        "at": DATETIME, "agent_id": {"type": ["string", "null"]}, "number": {"type": ["string", "null"]},
        "outcome": {"type": ["string", "null"]}, "reached": {"type": ["string", "null"]},
        "call_ticket_id": {"type": ["integer", "null"]}, "text": {"type": "string"}, "details": {"type": "object"},
    },
}
TASK = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"}, "ticket_id": {"type": ["integer", "null"]},
        "kind": {"type": "string", "enum": ["callback", "abandoned", "followup_day7", "appointment_reminder"]},
        "number": {"type": "string"}, "state": {"type": "string", "enum": ["pending", "dialing", "done", "failed", "cancelled"]},
        "attempts": {"type": "integer"}, "max_attempts": {"type": "integer"}, "not_before": DATETIME,
        "result": {"type": ["string", "null"]},
    },
}
TICKET = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "work_ticket_id": {"type": "integer", "description": "the ticket to work on: the parent when this call was merged"},
        "caller_number": {"type": "string"}, "caller_name": {"type": "string"},
        "call_status": {"type": "string", "enum": ["new", "ringing", "answered", "abandoned", "completed"]},
        "source": {"type": "string", "description": "controller, fallback_queue or 12345"},
        "arrived_at": DATETIME, "answered_at": NULLABLE_DATETIME, "ended_at": NULLABLE_DATETIME,
        "agent_id": {"type": ["string", "null"]}, "menu_choice": {"type": ["string", "null"]},
        "status": {"type": "string", "enum": [s.value for s in Status]},
        "allowed_status": {"type": "array", "items": {"type": "string"}},
        "category": {"type": ["string", "null"]}, "priority": {"type": "string", "enum": list(PRIORITIES)},
        "notes": {"type": "string"}, "promised_reply_at": NULLABLE_DATETIME, "callback_by": NULLABLE_DATETIME,
        "satisfaction": {"type": ["integer", "null"]}, "close_reason": {"type": ["string", "null"]},
        "parent_id": {"type": ["integer", "null"]}, "revisits": {"type": "integer"},
        "department_id": {"type": ["integer", "null"]}, "external_ref": {"type": ["string", "null"]},
        "needs_promise": {"type": "boolean", "description": "the call ended unsolved without a promised reply time"},
        "overdue": {"type": ["object", "null"], "properties": {
            "deadline": DATETIME, "late_seconds": {"type": "integer"}, "days": {"type": "integer"}}},
    },
}
TICKET_DETAIL = {
    "allOf": [TICKET, {"type": "object", "properties": {
        "contacts": {"type": "array", "items": CONTACT},
        "tasks": {"type": "array", "items": TASK},
        "linked_calls": {"type": "array", "items": {"type": "integer"}},
        "parent": {"type": ["object", "null"]},
        "department": {"type": ["object", "null"]},
        "ivr": {"type": ["object", "null"], "description": "what the caller did in the IVR"},
    }}],
}
SEARCH_RESULT = {
    "type": "object",
    "properties": {
        "query": {"type": "string"}, "terms": {"type": "array", "items": {"type": "string"}},
        "took_ms": {"type": "number"},
        "results": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "integer"}, "question": {"type": "string"},
            "question_html": {"type": "string", "description": "HTML-escaped, terms in <mark>"},
            "snippet_html": {"type": "string", "description": "about 80 characters of the answer around the first match"},
            "keywords_html": {"type": "string"}, "answer": {"type": "string"},
            "category": {"type": "string"}, "department": {"type": "string"}}}},
    },
}

_TYPES = {
    "object": dict, "array": list, "string": str, "boolean": bool, "null": type(None),
}


def validate(schema: dict[str, Any], value: Any, path: str = "") -> list[dict[str, str]]:
    """Every problem of ``value`` against ``schema``: [{"field": "a.b", "problem": "..."}]."""
    where = path or "body"
    types = schema.get("type")
    if types is not None:
        allowed = types if isinstance(types, list) else [types]
        if not any(_is(value, t) for t in allowed):
            return [{"field": where, "problem": f"must be {' or '.join(allowed)}, not {_name(value)}"}]
    problems: list[dict[str, str]] = []
    if "enum" in schema and value not in schema["enum"]:
        shown = ", ".join("null" if v is None else str(v) for v in schema["enum"])
        return [{"field": where, "problem": f"must be one of {shown} (got {value!r})"}]
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            problems.append({"field": where, "problem": "must not be empty" if schema["minLength"] == 1
                             else f"must be at least {schema['minLength']} characters"})
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            problems.append({"field": where, "problem": f"is {len(value)} characters, at most {schema['maxLength']}"})
        if schema.get("format") == "date-time" and parse_datetime(value) is None:
            problems.append({"field": where, "problem": f"{value!r} is not an ISO datetime with offset "
                                                        "(e.g. 2025-03-10T17:00:00+08:00)"})
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            problems.append({"field": where, "problem": f"must be at least {schema['minimum']}"})
        if "maximum" in schema and value > schema["maximum"]:
            problems.append({"field": where, "problem": f"must be at most {schema['maximum']}"})
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                problems.append({"field": _join(path, name), "problem": "is required"})
        if schema.get("additionalProperties") is False:
            for name in value:
                if name not in props:
                    problems.append({"field": _join(path, name),
                                     "problem": f"is not a known field (known: {', '.join(props)})"})
        if len(value) < schema.get("minProperties", 0):
            problems.append({"field": where, "problem": f"give at least one of: {', '.join(props)}"})
        for name, sub in props.items():
            if name in value:
                problems += validate(sub, value[name], _join(path, name))
    if isinstance(value, list) and "items" in schema:
        for n, item in enumerate(value):
            problems += validate(schema["items"], item, f"{where}[{n}]")
    return problems


def parse_datetime(text: str) -> dt.datetime | None:
    """An aware datetime from ISO text (``Z`` accepted); None when invalid or without offset."""
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _is(value: Any, type_name: str) -> bool:
    if type_name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if type_name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, _TYPES[type_name])


def _name(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}.get(
        type(value), type(value).__name__
    )


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
