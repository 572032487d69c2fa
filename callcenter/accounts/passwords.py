"""Password hashing with argon2id (argon2-cffi's defaults, RFC 9106 low-memory profile)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from callcenter.accounts.exceptions import AccountError

MIN_LENGTH = 10
_hasher = PasswordHasher()
# Verified when the user does not exist, so a wrong name costs as long as a wrong password.
_DUMMY = _hasher.hash("no such user: constant time")


def check_strength(password: str) -> None:
    """Refuse passwords that are too short or blank."""
    if len(password.strip()) < MIN_LENGTH:
        raise AccountError("account.weak_password", f"a password needs at least {MIN_LENGTH} characters")


def hash_password(password: str) -> str:
    """The encoded argon2id hash of ``password``."""
    return _hasher.hash(password)


def verify_password(encoded: str | None, password: str) -> bool:
    """True when ``password`` matches ``encoded`` (None: compare against a dummy, return False)."""
    try:
        return _hasher.verify(encoded or _DUMMY, password) and encoded is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(encoded: str) -> bool:
    """True when the hash was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(encoded)
