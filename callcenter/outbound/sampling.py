"""Which closed tickets a satisfaction campaign calls back: a seeded random sample per department (pure).

Theory of operation
-------------------
The tickets closed in the campaign's period are grouped by department (tickets with none form
their own group).  Each group is put in ticket-id order and shuffled by its own random generator,
seeded by the campaign's seed and the group, so the same request draws the same sample whatever
order the store returned the tickets in, and one department's sample does not move when another
department gains a ticket.  The first ``per_department`` tickets of each shuffled group are taken
(or ``ceil(share * size)`` of them), skipping a number already drawn: a patient is called at most
once per campaign, whichever of their tickets was drawn first (groups in department-id order, the
group without a department last).  A group with too few distinct numbers gives what it has.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass

SEED_MAX = 2**31 - 1  # seeds fit a 32-bit signed column


@dataclass(frozen=True)
class Closed:
    """A closed ticket that may be drawn."""

    ticket_id: int
    department_id: int | None
    number: str


def group_size(size: int, per_department: int | None, share: float | None) -> int:
    """How many of a group of ``size`` tickets to draw: ``per_department``, or ``share`` of them rounded up."""
    if per_department is not None:
        return min(size, per_department)
    if share is not None:
        return min(size, math.ceil(share * size - 1e-9))
    raise ValueError("give per_department or share")


def draw(tickets: Iterable[Closed], seed: int, *, per_department: int | None = None,
         share: float | None = None) -> list[Closed]:
    """The sample (see the module's rules), grouped by department in department-id order."""
    groups: dict[int | None, list[Closed]] = {}
    for ticket in tickets:
        if ticket.number:
            groups.setdefault(ticket.department_id, []).append(ticket)
    taken: set[str] = set()
    sample: list[Closed] = []
    for department in sorted(groups, key=lambda d: (d is None, d or 0)):
        group = sorted(groups[department], key=lambda t: t.ticket_id)
        random.Random(f"{seed}:{department}").shuffle(group)
        want, got = group_size(len(group), per_department, share), 0
        for ticket in group:
            if got >= want:
                break
            if ticket.number in taken:
                continue
            taken.add(ticket.number)
            sample.append(ticket)
            got += 1
    return sample


def new_seed(rng: random.Random | None = None) -> int:
    """A seed for a campaign that was given none (recorded with it, so the draw can be repeated)."""
    return (rng or random.SystemRandom()).randint(1, SEED_MAX)
