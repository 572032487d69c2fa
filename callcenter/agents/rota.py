"""The rota: which operators are scheduled at a given moment (pure, no I/O).

A hotline runs 24/7 on rotating shifts.  Each shift has a start and end time of day, read as a
``callcenter.timewindow.TimeWindow`` (an end before the start runs past midnight; an end equal to the
start is a 24-hour shift), the ISO weekdays it starts on (1 = Monday), and its agents.  Supervisors
see who is scheduled beside who is logged in; staffing advice compares the two.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

from callcenter.exceptions import ConfigError
from callcenter.timewindow import TimeWindow, TimeWindowError


@dataclass(frozen=True)
class Shift:
    name: str
    start: time
    end: time
    agents: tuple[str, ...]
    days: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7)

    @property
    def window(self) -> TimeWindow:
        return TimeWindow(self.start, self.end)

    @property
    def overnight(self) -> bool:
        return self.window.overnight

    def covers(self, at: datetime) -> bool:
        """True if this shift is on at ``at`` (local wall-clock time): inside a window started on one of its days."""
        started = self.window.started_on(at.replace(tzinfo=None))
        return started is not None and started.isoweekday() in self.days


def parse_shift(raw: dict, known_agents: set[str]) -> Shift:
    """A shift from its settings table; clear errors for bad times, days or unknown agents."""
    try:
        name = str(raw["name"])
        window = TimeWindow.of(raw["start"], raw["end"])
    except KeyError as err:
        raise ConfigError("config.value", f"[[shifts]] needs {err.args[0]!r}") from err
    except TimeWindowError as err:
        raise ConfigError("config.value", f"[[shifts]] {raw.get('name')}: times are HH:MM ({err})") from err
    days = tuple(int(d) for d in raw.get("days", (1, 2, 3, 4, 5, 6, 7)))
    if not days or any(d < 1 or d > 7 for d in days):
        raise ConfigError("config.value", f"[[shifts]] {name}: days are ISO weekdays 1-7")
    agents = tuple(str(a) for a in raw.get("agents", ()))
    unknown = sorted(set(agents) - known_agents)
    if unknown:
        raise ConfigError("config.value", f"[[shifts]] {name}: unknown agent(s) {', '.join(unknown)}")
    return Shift(name, window.start, window.end, agents, days)


def on_duty(shifts: tuple[Shift, ...], at: datetime) -> dict[str, str]:
    """Agent id -> name of the shift that has them on duty at ``at``."""
    duty: dict[str, str] = {}
    for shift in shifts:
        if shift.covers(at):
            for agent in shift.agents:
                duty.setdefault(agent, shift.name)
    return duty
