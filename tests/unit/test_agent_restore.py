"""restore_events: the core events that bring a fresh core back to the states operators chose."""

from __future__ import annotations

import datetime as dt

import pytest

from callcenter.acd import Acd, AgentLoggedIn, AgentPaused, AgentState
from callcenter.agents.states import ChosenState, restore_events

T = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
SKILLS = {"1001": frozenset({"medical"}), "1002": frozenset({"reports", "medical"})}


def chosen(state: str, reason: str | None = None, by: str = "phone") -> ChosenState:
    return ChosenState(state, reason, T, by)


@pytest.mark.parametrize("auto_login", [True, False])
@pytest.mark.parametrize(
    ("row", "logged_in_without_auto_login"),
    [(None, False), (chosen("available"), True), (chosen("logged_out"), False), (chosen("paused", "meal"), True)],
)
def test_each_choice_with_and_without_auto_login(row, logged_in_without_auto_login, auto_login) -> None:
    events = restore_events({"1001": row} if row else {}, {"1001"}, auto_login, 50.0, SKILLS)
    login = [AgentLoggedIn("1001", 50.0, frozenset({"medical"}))]
    if row is not None and row.state == "logged_out":
        assert events == []  # logged out stays logged out, auto_login or not
    elif row is not None and row.state == "paused":
        assert events == login + [AgentPaused("1001", 50.0, "meal")]
    elif auto_login or logged_in_without_auto_login:
        assert events == login
    else:
        assert events == []


def test_only_registered_phones_come_back_in_a_stable_order() -> None:
    rows = {"1003": chosen("available"), "1002": chosen("paused", "missed_calls", "core"), "1009": chosen("available")}
    events = restore_events(rows, {"1003", "1002", "1001"}, True, 7.0, SKILLS)
    assert events == [
        AgentLoggedIn("1001", 7.0, frozenset({"medical"})),
        AgentLoggedIn("1002", 7.0, frozenset({"reports", "medical"})),
        AgentPaused("1002", 7.0, "missed_calls"),  # the core's own pause is kept too
        AgentLoggedIn("1003", 7.0, frozenset()),  # no skills known: none
    ]


def test_a_pause_without_reason_and_an_unknown_state() -> None:
    rows = {"1001": chosen("paused"), "1002": chosen("on_call")}
    assert restore_events(rows, {"1001", "1002"}, False, 1.0, {}) == [
        AgentLoggedIn("1001", 1.0), AgentPaused("1001", 1.0),  # the core's default reason
    ]
    assert restore_events(rows, {"1002"}, True, 1.0, {}) == [AgentLoggedIn("1002", 1.0)]  # treated as no row


def test_a_fresh_core_ends_in_the_chosen_states() -> None:
    rows = {"1001": chosen("paused", "training"), "1002": chosen("logged_out"), "1003": chosen("available")}
    acd = Acd(ring_timeout=15.0)
    for event in restore_events(rows, {"1001", "1002", "1003", "1004"}, True, 100.0, SKILLS):
        acd.handle(event)
    states = {a: (acd.agents[a].state, acd.agents[a].pause_reason) for a in acd.agents}
    assert states == {
        "1001": (AgentState.PAUSED, "training"),
        "1003": (AgentState.AVAILABLE, None),
        "1004": (AgentState.AVAILABLE, None),
    }
    assert "1002" not in acd.agents or acd.agents["1002"].state == AgentState.LOGGED_OUT
