"""Errors of the work-order side, each with a stable slug (mapped to HTTP once, in ``api.py``)."""

from __future__ import annotations

from callcenter.exceptions import CallCenterError


class WorkOrderError(CallCenterError):
    """Base of work-order errors."""


class IllegalMove(WorkOrderError):
    """A lifecycle move that the ticket's state does not allow; the message lists what is allowed."""

    def __init__(self, message: str, *, status: str, allowed: tuple[str, ...]) -> None:
        super().__init__("ticket.illegal_move", message)
        self.status = status
        self.allowed = allowed


class PromiseRequired(WorkOrderError):
    """An unsolved ticket whose call has ended must carry a promised reply time."""

    def __init__(self, message: str) -> None:
        super().__init__("ticket.promise_required", message)


class NotFound(WorkOrderError):
    """No such ticket, department, specialist, task or knowledge-base entry."""

    def __init__(self, what: str, ident: object) -> None:
        super().__init__(f"{what}.not_found", f"no {what} with id {ident}")


class Conflict(WorkOrderError):
    """The request clashes with the current state (duplicate name, escalation already running...)."""


class InvalidData(WorkOrderError):
    """Imported or submitted data that cannot be used; ``problems`` lists each field and why."""

    def __init__(self, slug: str, message: str, problems: list[dict[str, str]] | None = None) -> None:
        super().__init__(slug, message)
        self.problems = problems or []
