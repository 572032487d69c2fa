"""Errors of quality review, each with a stable slug and the HTTP status it answers."""

from __future__ import annotations

from typing import Any

from callcenter.exceptions import CallCenterError


class QualityError(CallCenterError):
    """Base of quality-review errors."""

    http_status = 400


class NotFound(QualityError):
    """No such call (an answered call with an operator) or review."""

    http_status = 404

    def __init__(self, what: str, ident: object) -> None:
        super().__init__(f"{what}.not_found", f"no {what.replace('_', ' ')} with id {ident}")


class Forbidden(QualityError):
    """An operator asking for another operator's review."""

    http_status = 403

    def __init__(self, message: str) -> None:
        super().__init__("quality.forbidden", message)


class InvalidReview(QualityError):
    """A review that does not fit the form; ``problems`` lists each field and why."""

    def __init__(self, problems: list[dict[str, str]]) -> None:
        summary = "; ".join(f"{p['field']} {p['problem']}" for p in problems[:3])
        super().__init__("quality.invalid_review", f"the review is not valid: {summary}")
        self.problems = problems

    def http_fields(self) -> dict[str, Any]:
        return {"problems": self.problems}
