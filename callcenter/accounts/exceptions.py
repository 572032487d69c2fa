"""Errors of the accounts area, each with a stable slug (mapped to HTTP once, in callcenter.web)."""

from __future__ import annotations

from callcenter.exceptions import CallCenterError


class AccountError(CallCenterError):
    """Something about a user account went wrong; ``slug`` says what."""


class LoginFailed(AccountError):
    """Wrong name or password (never says which)."""


class AccountLocked(AccountError):
    """Too many failed logins: the account is locked until ``until``."""

    def __init__(self, slug: str, message: str, until: object = None) -> None:
        super().__init__(slug, message)
        self.until = until
