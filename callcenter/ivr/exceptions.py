"""Errors of the IVR: a bad schedule rule, a prompt that cannot be built."""

from __future__ import annotations

from callcenter.exceptions import CallCenterError


class IvrError(CallCenterError):
    """Base of the IVR's errors (``slug`` starts with ``ivr.``)."""


class ScheduleError(IvrError):
    """A schedule rule (file, database or web API) is not valid; the message names rule and field."""


class PromptError(IvrError):
    """Prompt texts are invalid, or audio could not be generated or converted."""


class MessageRefused(IvrError):
    """A hotline message made on the web cannot be used (its rule or texts); answers 400."""

    http_status = 400

    def __init__(self, slug: str, message: str, field: str) -> None:
        super().__init__(slug, message)
        self.field = field

    def http_fields(self) -> dict[str, object]:
        return {"problems": [{"field": self.field, "problem": str(self)}]}


class MessageNotBuilt(IvrError):
    """The audio of a hotline message could not be made (no sounds folder, espeak-ng or sox failed); 503."""

    http_status = 503
