"""Which numbers the controller may dial, and how often: the outbound dialling policy (pure).

Every outside number the controller turns into a dial string (callbacks, escalations to offices and
specialists' mobiles, list calls) goes through ``classify`` first and, when allowed, through the
``RateLimiter``.  Nothing here does I/O or reads a clock: callers pass ``now``.

The rules, in order (``[outbound]`` in the settings):

1. **Normalise**: spaces, dashes, dots and brackets go; ``+86`` / ``0086`` (China) is dropped (a
   mobile stays a mobile, anything else gets its trunk ``0`` back: ``+86 10 6402 8401`` is
   ``01064028401``); a mobile dialled with a leading ``0`` loses it; the hospital's own area code
   (``area_code``, Beijing ``010``) is dropped from a landline, so ``010-6402-8401`` is the local
   ``64028401``.  Anything but digits (and one leading ``+``) is not a number.
2. **Internal endpoints** (``asterisk.caller_endpoints``: phones on this Asterisk, not the trunk)
   are allowed as they are and not rate limited.
3. **Emergency numbers** (``emergency_numbers``: 110, 119, 120, 122, 112, 999, 911) are refused,
   whatever else the settings allow: the hotline never ties up an emergency line.
4. **Refused patterns** (``refused_numbers``: international ``00...`` and ``+...`` other than
   China, satellite ``+881`` / ``+882``, premium ``900...``) are refused before anything is allowed.
5. **Allowed patterns** (``allowed_numbers``, default: Beijing local numbers, 8 digits not starting
   with 0 or 1, and national mobiles ``1[3-9]`` + 9 digits): everything else is refused.
6. **Rate limits**: at most ``operator_per_minute`` outside calls per requester (the operator or
   supervisor who asked, or ``auto`` / ``lists`` for the controller's own calls) and
   ``global_per_minute`` in all, in any sliding minute; 0 switches a limit off.

Patterns are Python regular expressions matched against the whole normalised number.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

WINDOW = 60.0  # seconds: the rate limits count calls in any sliding minute

DEFAULT_ALLOWED = (r"[2-9]\d{7}", r"1[3-9]\d{9}")
DEFAULT_REFUSED = (r"00\d*", r"\+\d*", r"0?900\d*")
DEFAULT_EMERGENCY = ("110", "119", "120", "122", "112", "999", "911")

_PUNCTUATION = re.compile(r"[\s\-().]")
_MOBILE = re.compile(r"1[3-9]\d{9}")

# Why a number was refused (the ``reason`` of ``outbound.dial_refused`` and of the API's error).
REASONS = {
    "invalid": "not a phone number",
    "emergency": "an emergency number",
    "international": "an international number",
    "refused": "a refused number (premium rate or another refused range)",
    "not_allowed": "not a number the hotline may call (local landlines and national mobiles only)",
    "rate_operator": "too many outside calls by this user in the last minute",
    "rate_global": "too many outside calls in the last minute",
}


@dataclass(frozen=True)
class Policy:
    """The dialling rules from the settings (see the module's docstring)."""

    allowed: tuple[re.Pattern[str], ...] = ()
    refused: tuple[re.Pattern[str], ...] = ()
    emergency: frozenset[str] = frozenset(DEFAULT_EMERGENCY)
    internal: frozenset[str] = frozenset()
    area_code: str = "010"
    operator_per_minute: int = 0
    global_per_minute: int = 0

    @classmethod
    def build(cls, *, allowed: Iterable[str] = DEFAULT_ALLOWED, refused: Iterable[str] = DEFAULT_REFUSED,
              emergency: Iterable[str] = DEFAULT_EMERGENCY, internal: Iterable[str] = (), area_code: str = "010",
              operator_per_minute: int = 0, global_per_minute: int = 0) -> Policy:
        """A policy from pattern texts; ``re.error`` for a pattern that does not compile."""
        return cls(
            allowed=tuple(re.compile(p) for p in allowed),
            refused=tuple(re.compile(p) for p in refused),
            emergency=frozenset(str(n).strip() for n in emergency if str(n).strip()),
            internal=frozenset(str(n).strip() for n in internal if str(n).strip()),
            area_code=str(area_code).strip(),
            operator_per_minute=max(0, int(operator_per_minute)),
            global_per_minute=max(0, int(global_per_minute)),
        )


@dataclass(frozen=True)
class Verdict:
    """What ``classify`` decided about one number."""

    allowed: bool
    number: str  # the normalised number (what is dialled when allowed)
    internal: bool = False  # an endpoint on this Asterisk, not the trunk
    reason: str | None = None  # a key of REASONS when refused

    @property
    def problem(self) -> str:
        return REASONS.get(self.reason or "", "")


def normalise(raw: str, area_code: str = "010") -> str:
    """The number as the policy sees it: digits (a leading ``+`` for a foreign country); "" if none."""
    text = _PUNCTUATION.sub("", str(raw or ""))
    plus = text.startswith("+")
    digits = text[1:] if plus else text
    if not digits or not digits.isascii() or not digits.isdigit():
        return ""
    if plus and not digits.startswith("86"):
        return "+" + digits  # another country
    china = 2 if plus else 4 if digits.startswith("0086") else 0
    if china:
        digits = digits[china:]
        if not digits:
            return ""
        if not _MOBILE.fullmatch(digits):
            digits = "0" + digits  # a landline: its area code's trunk 0 comes back
    if digits.startswith("0") and _MOBILE.fullmatch(digits[1:]):
        return digits[1:]  # a mobile dialled with the long-distance 0
    area = area_code if area_code.startswith("0") else "0" + area_code
    if len(area) > 1 and digits.startswith(area) and len(digits) > len(area):
        return digits[len(area):]  # the hospital's own area: a local number
    return digits


def policy_for(outbound: Any, internal: Iterable[str]) -> Policy:
    """The policy of the ``[outbound]`` settings (``OutboundSettings``); ``internal``: the caller endpoints."""
    return Policy.build(allowed=outbound.allowed_numbers, refused=outbound.refused_numbers,
                        emergency=outbound.emergency_numbers, internal=internal, area_code=outbound.area_code,
                        operator_per_minute=outbound.operator_per_minute, global_per_minute=outbound.global_per_minute)


def dialable(policy: Policy) -> Callable[[str], tuple[str, str | None]]:
    """A check of typed-in numbers (the directory's): raw -> (the number, None), or ("", why it may not be dialled)."""

    def check(raw: str) -> tuple[str, str | None]:
        verdict = classify(raw, policy)
        return (verdict.number, None) if verdict.allowed else ("", f"{raw!r} is {verdict.problem}")

    return check


def classify(raw: str, policy: Policy) -> Verdict:
    """Allowed or refused (with the reason), by number only; rate limits are the limiter's."""
    stripped = _PUNCTUATION.sub("", str(raw or ""))
    if stripped in policy.internal:
        return Verdict(True, stripped, internal=True)
    number = normalise(raw, policy.area_code)
    if not number:
        return Verdict(False, "", reason="invalid")
    if number in policy.emergency or stripped.lstrip("+") in policy.emergency:
        return Verdict(False, number, reason="emergency")
    if any(p.fullmatch(number) for p in policy.refused):
        international = number.startswith(("+", "00"))
        return Verdict(False, number, reason="international" if international else "refused")
    if not any(p.fullmatch(number) for p in policy.allowed):
        return Verdict(False, number, reason="international" if number.startswith(("+", "00")) else "not_allowed")
    return Verdict(True, number)


@dataclass
class RateLimiter:
    """Outside calls per requester and in all, in any sliding ``WINDOW`` (times are the caller's clock)."""

    per_key: int = 0  # 0: no limit
    total: int = 0  # 0: no limit
    window: float = WINDOW
    _keys: dict[str, deque[float]] = field(default_factory=dict)
    _all: deque[float] = field(default_factory=deque)

    def _trim(self, times: deque[float], now: float) -> deque[float]:
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def check(self, key: str, now: float) -> str | None:
        """The reason one more call now would be refused ("rate_operator", "rate_global"), or None."""
        if self.per_key and len(self._trim(self._keys.get(key, deque()), now)) >= self.per_key:
            return "rate_operator"
        if self.total and len(self._trim(self._all, now)) >= self.total:
            return "rate_global"
        return None

    def take(self, key: str, now: float) -> str | None:
        """Count one call now if the limits allow it; otherwise the reason, and nothing is counted."""
        reason = self.check(key, now)
        if reason is None:
            self._keys.setdefault(key, deque()).append(now)
            self._all.append(now)
            if len(self._keys) > 1000:  # forget requesters with nothing in the window
                self._keys = {k: t for k, t in self._keys.items() if self._trim(t, now)}
        return reason
