"""The ledger item's lifecycle as a pure state machine: every move, every refusal, overdue."""

from __future__ import annotations

import datetime as dt

import pytest

from callcenter.ledger import lifecycle as lc
from callcenter.ledger.exceptions import IllegalMove

T0 = dt.datetime(2025, 3, 10, 9, 0, tzinfo=dt.UTC)
READY = lc.ItemState(measure="调整候诊叫号", owner="门诊部 王主任", deadline=T0 + dt.timedelta(days=7))


def test_the_whole_way_open_rectifying_verified_struck_off():
    state = lc.apply(READY, "rectify", T0, "spec1")
    assert state.status == lc.Status.RECTIFYING
    state = lc.apply(state, "verify", T0, "boss")
    assert state.status == lc.Status.VERIFIED and state.verified_by == "boss"
    state = lc.apply(state, "strike_off", T0 + dt.timedelta(hours=1), "boss")
    assert state.status == lc.Status.STRUCK_OFF and state.struck_off_at == T0 + dt.timedelta(hours=1)


@pytest.mark.parametrize("missing", ["measure", "owner", "deadline"])
def test_rectifying_needs_measure_owner_and_deadline(missing):
    state = lc.ItemState(**{**READY.__dict__, missing: "" if missing != "deadline" else None})
    with pytest.raises(IllegalMove) as err:
        lc.apply(state, "rectify", T0, "spec1")
    assert err.value.missing == (missing,) and missing in str(err.value)
    assert err.value.http_fields()["problems"] == [{"field": missing, "problem": "is required to start rectifying"}]


@pytest.mark.parametrize("status", [lc.Status.OPEN, lc.Status.RECTIFYING, lc.Status.STRUCK_OFF])
def test_only_a_verified_item_is_struck_off(status):
    with pytest.raises(IllegalMove) as err:
        lc.apply(lc.ItemState(status=status), "strike_off", T0, "boss")
    assert err.value.allowed == lc.allowed_moves(status)
    assert "strike_off" not in err.value.allowed


def test_every_refusal_names_what_is_allowed():
    for status in lc.Status:
        allowed = set(lc.allowed_moves(status))
        for move in lc.MOVE_NAMES:
            state = lc.ItemState(**{**READY.__dict__, "status": status})
            if move in allowed:
                assert lc.apply(state, move, T0, "x").status != status
            else:
                with pytest.raises(IllegalMove) as err:
                    lc.apply(state, move, T0, "x")
                assert set(err.value.allowed) == allowed and err.value.status == status.value


def test_reopen_from_verified_or_struck_off_clears_the_strike_off():
    struck = lc.ItemState(status=lc.Status.STRUCK_OFF, struck_off_at=T0, verified_by="boss", measure="m")
    state = lc.apply(struck, "reopen", T0, "boss")
    assert state.status == lc.Status.OPEN and state.struck_off_at is None and state.verified_by is None
    assert state.measure == "m"  # the measure stays: the next round starts from it
    assert lc.apply(lc.ItemState(status=lc.Status.VERIFIED), "reopen", T0, "boss").status == lc.Status.OPEN
    with pytest.raises(IllegalMove):
        lc.apply(lc.ItemState(status=lc.Status.OPEN), "reopen", T0, "boss")


def test_unknown_move_and_naive_time_are_refused():
    with pytest.raises(IllegalMove, match="unknown move"):
        lc.apply(READY, "delete", T0, "x")
    with pytest.raises(ValueError, match="naive"):
        lc.apply(READY, "rectify", T0.replace(tzinfo=None), "x")


def test_classification_until_struck_off_and_overdue_until_struck_off():
    assert all(lc.may_classify(lc.ItemState(status=s)) for s in lc.Status if s != lc.Status.STRUCK_OFF)
    assert not lc.may_classify(lc.ItemState(status=lc.Status.STRUCK_OFF))
    late = T0 + dt.timedelta(days=8)
    assert not lc.overdue(READY, T0)
    assert lc.overdue(READY, late)
    assert lc.overdue(lc.ItemState(**{**READY.__dict__, "status": lc.Status.VERIFIED}), late)
    assert not lc.overdue(lc.ItemState(**{**READY.__dict__, "status": lc.Status.STRUCK_OFF}), late)
    assert not lc.overdue(lc.ItemState(), late)  # no deadline yet
    assert lc.SUPERVISOR_MOVES == {"verify", "strike_off", "reopen"}
