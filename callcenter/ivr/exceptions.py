"""Errors of the IVR: a bad schedule rule, a prompt that cannot be built."""

from __future__ import annotations

from callcenter.exceptions import CallCenterError


class IvrError(CallCenterError):
    """Base of the IVR's errors (``slug`` starts with ``ivr.``)."""


class ScheduleError(IvrError):
    """A schedule rule (file, database or web API) is not valid; the message names rule and field."""


class PromptError(IvrError):
    """Prompt texts are invalid, or audio could not be generated or converted."""
