"""The outbound dialling policy (callcenter/outbound/policy.py), table-tested: which numbers, how often."""

from __future__ import annotations

import pytest

from callcenter.outbound.policy import Policy, RateLimiter, classify, normalise
from callcenter.outbound.service import policy_of
from callcenter.settings import Settings

DEFAULT = policy_of(Settings())  # the shipped settings: Beijing, caller endpoints 2001-2006 internal


@pytest.mark.parametrize(("raw", "number"), [
    ("64028401", "64028401"),
    ("6402-8401", "64028401"),
    ("010-64028401", "64028401"),          # the hospital's own area code goes
    ("(010) 6402 8401", "64028401"),
    ("+86 10 6402 8401", "64028401"),      # +86, then the area's trunk 0 comes back, then goes
    ("0086 10 64028401", "64028401"),
    ("13812345678", "13812345678"),
    ("+86 138 1234 5678", "13812345678"),
    ("013812345678", "13812345678"),       # a mobile dialled with the long-distance 0
    ("021-12345678", "02112345678"),       # another area stays national
    ("+882 1234 5678", "+88212345678"),    # another country keeps its +
    ("00900123456", "00900123456"),
    ("12a45", ""),
    ("", ""),
    ("+", ""),
    ("１３８１２３４５６７８", ""),          # fullwidth digits are not dialled
])
def test_normalise(raw, number):
    assert normalise(raw, "010") == number


@pytest.mark.parametrize(("raw", "allowed", "reason"), [
    # the hospital's local landlines and national mobiles
    ("64028401", True, None),
    ("010-6402-8401", True, None),
    ("+86 10 64028401", True, None),
    ("13812345678", True, None),
    ("+8613912345678", True, None),
    ("013812345678", True, None),
    ("19912345678", True, None),
    # emergency numbers, however written
    ("110", False, "emergency"),
    ("119", False, "emergency"),
    ("120", False, "emergency"),
    ("122", False, "emergency"),
    ("112", False, "emergency"),
    ("999", False, "emergency"),
    ("010-110", False, "emergency"),
    ("+86 10 120", False, "emergency"),
    # international, satellite, premium
    ("00900123456789", False, "international"),
    ("0044 20 7946 0000", False, "international"),
    ("+882 16 1234 5678", False, "international"),
    ("+881 6 1234 5678", False, "international"),
    ("+1 900 555 0100", False, "international"),
    ("90012345", False, "refused"),          # 900-style premium, even in the local format
    ("0900123456", False, "refused"),
    # everything else the allowed patterns do not cover
    ("12345678", False, "not_allowed"),      # local numbers do not start with 1
    ("01234567", False, "not_allowed"),
    ("021-12345678", False, "not_allowed"),  # another city's landline
    ("1381234567", False, "not_allowed"),    # 10 digits
    ("12812345678", False, "not_allowed"),   # 12x is no mobile range
    ("10086", False, "not_allowed"),
    ("95555", False, "not_allowed"),
    ("2001", True, None),                    # a caller endpoint of this Asterisk: internal
    ("2007", False, "not_allowed"),          # not one of them
    ("abc", False, "invalid"),
    ("", False, "invalid"),
])
def test_default_policy(raw, allowed, reason):
    verdict = classify(raw, DEFAULT)
    assert (verdict.allowed, verdict.reason) == (allowed, reason)
    if not allowed:
        assert verdict.problem


def test_internal_endpoints_are_not_the_trunk():
    verdict = classify("2005", DEFAULT)
    assert verdict.allowed and verdict.internal and verdict.number == "2005"
    assert not classify("13812345678", DEFAULT).internal


def test_emergency_and_refused_numbers_win_over_a_permissive_allow_list():
    anything = Policy.build(allowed=[r"\+?\d+"])
    assert classify("555", anything).allowed
    assert classify("120", anything).reason == "emergency"
    assert classify("00882123", anything).reason == "international"
    assert classify("+88212345", anything).reason == "international"


def test_another_area_code():
    shanghai = Policy.build(area_code="021")
    assert classify("021-64028401", shanghai).number == "64028401"
    assert classify("010-64028401", shanghai).reason == "not_allowed"


@pytest.mark.parametrize(("per_key", "total", "calls", "refused"), [
    # (who, at second) -> the index of the calls refused, with the reason
    (3, 0, [("a", 0), ("a", 1), ("a", 2), ("a", 3)], {3: "rate_operator"}),
    (3, 0, [("a", 0), ("a", 1), ("a", 2), ("b", 3)], {}),
    (3, 0, [("a", 0), ("a", 1), ("a", 2), ("a", 60.5)], {}),  # the first left the sliding minute
    (0, 2, [("a", 0), ("b", 1), ("c", 2)], {2: "rate_global"}),
    (2, 3, [("a", 0), ("a", 1), ("a", 2), ("b", 3), ("c", 4), ("d", 5)], {2: "rate_operator", 4: "rate_global", 5: "rate_global"}),
    (0, 0, [("a", t) for t in range(100)], {}),  # 0: no limit
])
def test_rate_limits(per_key, total, calls, refused):
    limiter = RateLimiter(per_key, total)
    got = {}
    for index, (who, at) in enumerate(calls):
        reason = limiter.take(who, float(at))
        if reason is not None:
            got[index] = reason
    assert got == refused


def test_a_refused_call_is_not_counted():
    limiter = RateLimiter(per_key=1, total=0)
    assert limiter.take("a", 0.0) is None
    for second in range(1, 50):
        assert limiter.take("a", float(second)) == "rate_operator"
    assert limiter.take("a", 60.1) is None  # the refused ones never filled the window
