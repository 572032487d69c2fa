"""Errors of the work-order side, each with a stable slug and the HTTP status it answers (``http_status``)."""

from __future__ import annotations

from typing import Any

from callcenter.exceptions import CallCenterError


class WorkOrderError(CallCenterError):
    """Base of work-order errors."""

    http_status = 400


class IllegalMove(WorkOrderError):
    """A lifecycle move that the ticket's state does not allow; the message lists what is allowed."""

    http_status = 409

    def __init__(self, message: str, *, status: str, allowed: tuple[str, ...]) -> None:
        super().__init__("ticket.illegal_move", message)
        self.status = status
        self.allowed = allowed

    def http_fields(self) -> dict[str, Any]:
        return {"status": self.status, "allowed": list(self.allowed)}


class PromiseRequired(WorkOrderError):
    """An unsolved ticket whose call has ended must carry a promised reply time."""

    http_status = 422

    def __init__(self, message: str) -> None:
        super().__init__("ticket.promise_required", message)

    def http_fields(self) -> dict[str, Any]:
        return {"problems": [{"field": "promised_reply_at", "problem": "is required"}]}


class NotFound(WorkOrderError):
    """No such ticket, department, specialist, task or knowledge-base entry."""

    http_status = 404

    def __init__(self, what: str, ident: object) -> None:
        super().__init__(f"{what}.not_found", f"no {what} with id {ident}")


class Conflict(WorkOrderError):
    """The request clashes with the current state (duplicate name, escalation already running...)."""

    http_status = 409


class InvalidData(WorkOrderError):
    """Imported or submitted data that cannot be used; ``problems`` lists each field and why."""

    def __init__(self, slug: str, message: str, problems: list[dict[str, str]] | None = None) -> None:
        super().__init__(slug, message)
        self.problems = problems or []

    def http_fields(self) -> dict[str, Any]:
        return {"problems": self.problems}


class NotYourDepartment(WorkOrderError):
    """A desk user asked for a ticket of a department that is not theirs."""

    http_status = 403

    def __init__(self, message: str) -> None:
        super().__init__("desk.not_your_department", message)
