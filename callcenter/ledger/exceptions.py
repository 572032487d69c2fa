"""Errors of the feedback ledger, each with a stable slug and the HTTP status it answers."""

from __future__ import annotations

from typing import Any

from callcenter.exceptions import CallCenterError


class LedgerError(CallCenterError):
    """Base of ledger errors."""

    http_status = 400


class IllegalMove(LedgerError):
    """A move the item's status does not allow (or whose fields are missing); names what is allowed."""

    http_status = 409

    def __init__(self, message: str, *, status: str, allowed: tuple[str, ...], missing: tuple[str, ...] = ()) -> None:
        super().__init__("ledger.illegal_move", message)
        self.status, self.allowed, self.missing = status, allowed, missing

    def http_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"status": self.status, "allowed": list(self.allowed)}
        if self.missing:
            fields["problems"] = [{"field": name, "problem": "is required to start rectifying"} for name in self.missing]
        return fields


class NotFound(LedgerError):
    """No such item, department or catalogue item."""

    http_status = 404

    def __init__(self, what: str, ident: object) -> None:
        super().__init__(f"{what}.not_found", f"no {what} with id {ident}")


class Forbidden(LedgerError):
    """The user may not do this to this item (a specialist of another department, a specialist verifying)."""

    http_status = 403

    def __init__(self, message: str) -> None:
        super().__init__("ledger.forbidden", message)


class InvalidData(LedgerError):
    """Submitted or imported data that cannot be used; ``problems`` lists each field and why."""

    def __init__(self, slug: str, message: str, problems: list[dict[str, str]] | None = None) -> None:
        super().__init__(slug, message)
        self.problems = problems or []

    def http_fields(self) -> dict[str, Any]:
        return {"problems": self.problems}
