"""What a caller on hold hears about where they stand (pure: no I/O).

Every ``[acd] announce_every`` seconds of waiting, a caller who is not at the head of the queue hears
their place ("two callers are ahead of you") and, when the core's estimate is meaningful, the wait
rounded up to a step a person can use ("about five minutes").  The caller at the head hears nothing
of that: they are next, and an announcement would only delay the answer.  A caller who may keep their
place and be called back (``[acd] callback_offer_after``) is told they can press 1, the one at the head
too (every operator may be busy for minutes; an answer cuts the sentence short).

The sentences are whole prompts (``queue_*`` in ``prompts/<language>.toml``), so each language says
them in its own word order; this module only picks their names.
"""

from __future__ import annotations

import math

AHEAD_PROMPTS = 9  # queue_ahead_1 .. queue_ahead_9, then queue_ahead_many
WAIT_STEPS = (1, 2, 3, 5, 10, 15, 20, 30)  # minutes: queue_wait_<n>m; longer: queue_wait_long
MEANINGFUL_WAIT = 30.0  # seconds: a shorter estimate is not worth a sentence


def announcement(position: int | None, estimate: float | None, offer_callback: bool = False) -> tuple[str, ...]:
    """Prompt names for a waiting caller now; () when there is nothing to say.

    ``position``: 1 for the head of the queue (None: not waiting); ``estimate``: seconds, or None
    when the core cannot tell.
    """
    if position is None or position < 1:
        return ()
    if position == 1:
        return ("queue_callback_offer",) if offer_callback else ()
    ahead = position - 1
    names = [f"queue_ahead_{ahead}" if ahead <= AHEAD_PROMPTS else "queue_ahead_many"]
    if estimate is not None and estimate >= MEANINGFUL_WAIT:
        minutes = math.ceil(estimate / 60)
        step = next((s for s in WAIT_STEPS if minutes <= s), None)
        names.append(f"queue_wait_{step}m" if step is not None else "queue_wait_long")
    if offer_callback:
        names.append("queue_callback_offer")
    return tuple(names)


def prompt_names() -> tuple[str, ...]:
    """Every prompt this module may name (each language's file must have them)."""
    return (
        *(f"queue_ahead_{n}" for n in range(1, AHEAD_PROMPTS + 1)),
        "queue_ahead_many",
        *(f"queue_wait_{s}m" for s in WAIT_STEPS),
        "queue_wait_long",
        "queue_callback_offer",
        "queue_callback_confirm",
    )
