"""May this user listen to, whisper to or barge in on this operator now?  Pure: no I/O, no clock.

``decide`` answers a ``Spy`` (the ChanSpy target and options for dialplans/supervision.conf) or a
``Refusal`` with a stable slug, the HTTP status it maps to and a message for the supervisor.  The
service (``callcenter.web.supervision``) gathers the facts and does what the answer says.
"""

from __future__ import annotations

from dataclasses import dataclass

# ChanSpy options (dialplans/supervision.conf): q quiet, E end with the spied channel, S end when
# there is nothing to spy on; w whisper (only the spied channel hears us), B barge (both sides hear).
BASE_OPTIONS = "qES"
MODES = {"listen": "", "whisper": "w", "barge": "B"}
SUPERVISING_ROLES = ("supervisor", "admin")


@dataclass(frozen=True)
class Spy:
    """Ring ``phone``; answered, it runs ChanSpy(``target``, ``options``)."""

    phone: str
    agent_id: str
    call_id: str
    mode: str
    target: str
    options: str


@dataclass(frozen=True)
class Refusal:
    slug: str
    status: int
    message: str
    field: str = ""


@dataclass(frozen=True)
class Facts:
    """What the service knows when a supervisor asks."""

    role: str
    username: str
    phone: str | None  # the account's phone (users.agent_id)
    phones: tuple[str, ...]  # supervision.phones: the endpoints a supervisor's phone may be
    agent_id: str
    known_agent: bool
    agent_state: str | None  # acd.AgentState value; None: not logged in
    call_id: str | None  # the operator's call, when on one
    phone_busy: bool = False  # that phone is in a session already


def options(mode: str) -> str:
    """ChanSpy's options for a mode (KeyError for an unknown mode)."""
    return BASE_OPTIONS + MODES[mode]


def check_mode(mode: str) -> Refusal | None:
    if mode not in MODES:
        return Refusal("supervision.bad_mode", 400, f"mode must be one of {', '.join(MODES)}", "mode")
    return None


def decide(facts: Facts, mode: str) -> Spy | Refusal:
    """The ChanSpy to run, or why not (checked in the order a supervisor can act on)."""
    if facts.role not in SUPERVISING_ROLES:
        return Refusal("supervision.forbidden", 403, "only supervisors may listen to operators' calls")
    if (bad := check_mode(mode)) is not None:
        return bad
    if not facts.known_agent:
        return Refusal("supervision.unknown_operator", 404, f"no operator {facts.agent_id}", "agent_id")
    if not facts.phone or facts.phone not in facts.phones:
        return Refusal("supervision.no_phone", 409,
                       f"{facts.username} has no supervisor's phone: an admin sets the account's phone "
                       f"to one of {', '.join(facts.phones) or '(none configured)'}")
    if facts.phone == facts.agent_id:
        return Refusal("supervision.own_call", 409, "a supervisor cannot listen to their own phone's call")
    if facts.agent_state != "on_call" or not facts.call_id:
        return Refusal("supervision.not_on_call", 409, f"operator {facts.agent_id} is not on a call now", "agent_id")
    if facts.phone_busy:
        return Refusal("supervision.phone_busy", 409, f"phone {facts.phone} is already in a session: end it first")
    return Spy(facts.phone, facts.agent_id, facts.call_id, mode, f"PJSIP/{facts.agent_id}-", options(mode))
