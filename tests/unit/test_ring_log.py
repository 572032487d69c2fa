"""Which rings of operators' phones the ticket gets, from the events the real ACD core accepted."""

from __future__ import annotations

from callcenter.acd import (
    Acd,
    AgentAnswered,
    AgentLoggedIn,
    CallEnded,
    CallWaiting,
    Event,
    LinkDown,
    OfferWithdrawn,
    RingFailed,
    RingStarted,
    Tick,
)
from callcenter.tickets.rings import RingFact, RingLog

RING = 10.0


class Room:
    """The core and the ring log, fed the same events as the adapter feeds them (only accepted ones)."""

    def __init__(self, *agents: str, **options: float) -> None:
        self.acd = Acd(ring_timeout=RING, **options)
        self.log = RingLog()
        self.facts: list[RingFact] = []
        for n, agent in enumerate(agents):
            self.send(AgentLoggedIn(agent, float(n)))

    def send(self, event: Event) -> None:
        self.acd.handle(event)
        self.facts += self.log.observe(event, self.acd)

    def ended(self) -> list[tuple[str, float, float | None, str | None]]:
        return [(f.agent_id, f.started_at, f.ended_at, f.outcome) for f in self.facts if f.outcome is not None]


def test_a_ring_starts_once_and_ends_answered():
    room = Room("A")
    room.send(CallWaiting("c1", 10.0))
    room.send(RingStarted("c1", "A", 10.5))
    room.send(RingStarted("c1", "A", 10.7))  # Newstate Ringing, then Up: the ring started at the first
    room.send(AgentAnswered("c1", "A", 12.0))
    assert room.facts == [RingFact("c1", "A", 10.5), RingFact("c1", "A", 10.5, 12.0, "answered")]


def test_a_missed_ring_then_another_operator_answers():
    room = Room("A", "B")
    room.send(CallWaiting("c1", 10.0))  # A has been idle longest: rung first
    room.send(RingStarted("c1", "A", 10.2))
    room.send(RingFailed("c1", "A", 20.2))  # rang out
    room.send(RingStarted("c1", "B", 20.4))
    room.send(AgentAnswered("c1", "B", 21.0))
    assert room.ended() == [("A", 10.2, 20.2, "missed"), ("B", 20.4, 21.0, "answered")]


def test_a_ring_past_its_deadline_is_a_miss_even_if_asterisk_never_says():
    room = Room("A", "B", ring_grace=1.0)
    room.send(CallWaiting("c1", 10.0))
    room.send(RingStarted("c1", "A", 10.0))
    room.send(Tick(21.0))
    assert room.ended() == [("A", 10.0, 21.0, "missed")]


def test_the_guard_pair_the_other_answered_first_is_not_a_miss():
    room = Room("A", "B", sla_guard_after=6.0)
    room.send(CallWaiting("c1", 10.0))
    room.send(RingStarted("c1", "A", 10.0))
    room.send(Tick(16.0))  # the guard rings B as well
    room.send(RingStarted("c1", "B", 16.2))
    room.send(AgentAnswered("c1", "B", 17.0))
    assert sorted(room.ended()) == [("A", 10.0, 17.0, "answered_elsewhere"), ("B", 16.2, 17.0, "answered")]


def test_the_caller_hanging_up_while_it_rings():
    room = Room("A")
    room.send(CallWaiting("c1", 10.0))
    room.send(RingStarted("c1", "A", 10.3))
    room.send(CallEnded("c1", 13.0))
    assert room.ended() == [("A", 10.3, 13.0, "caller_left")]
    assert room.log.live == {}


def test_a_withdrawn_ring_and_an_offer_that_never_rang():
    room = Room("A", "B", retry_after=2.0)
    room.send(CallWaiting("c1", 10.0))
    room.send(RingStarted("c1", "A", 10.1))
    room.send(OfferWithdrawn("c1", "A", 11.0, "leg gone after outage"))  # nobody's miss
    room.send(OfferWithdrawn("c1", "B", 11.5))  # B's offer never reached the phone: no ring at all
    assert room.ended() == [("A", 10.1, 11.0, "withdrawn")]
    assert [f.agent_id for f in room.facts] == ["A", "A"]


def test_a_ring_cut_by_the_deadline_while_the_link_is_down_is_withdrawn():
    room = Room("A", ring_grace=1.0)
    room.send(CallWaiting("c1", 10.0))
    room.send(RingStarted("c1", "A", 10.0))
    room.send(LinkDown(12.0))
    room.send(Tick(21.0))
    assert room.ended() == [("A", 10.0, 21.0, "withdrawn")]


def test_an_answer_with_no_ring_seen_is_still_a_ring_of_that_operator():
    room = Room("A")
    room.send(CallWaiting("c1", 10.0))
    room.send(AgentAnswered("c1", "A", 10.4))  # the Newstate was lost
    assert room.facts == [RingFact("c1", "A", 10.4, 10.4, "answered")]


def test_rung_twice_at_the_same_operator_is_two_rings():
    room = Room("A")
    room.send(CallWaiting("c1", 10.0))
    room.send(RingStarted("c1", "A", 10.0))
    room.send(RingFailed("c1", "A", 20.0))  # the only operator: offered again at once
    room.send(RingStarted("c1", "A", 20.3))
    room.send(AgentAnswered("c1", "A", 21.0))
    assert room.ended() == [("A", 10.0, 20.0, "missed"), ("A", 20.3, 21.0, "answered")]
