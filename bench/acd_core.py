"""The pure ACD core under load: 500 agents, about 1,000 waiting calls, ~100,000 timed events.

    .venv/bin/python bench/acd_core.py [--events N] [--agents N] [--waiting N] [--profile]

A discrete-event simulation on a virtual clock feeds ``callcenter.acd.Acd.handle`` the events a
busy contact centre produces and reacts to the commands it returns, as the adapter would:

- calls arrive (``CallWaiting``); the queue is filled to ``--waiting`` calls first and each call
  that leaves is replaced, so about that many wait all the time;
- each ``Offer`` rings 50 ms later (``RingStarted``): the agent answers after 0.5-8 s (``AgentAnswered``) or, one time in ten,
  lets it ring out (``RingFailed`` at the ring timeout); ``StopRinging`` cancels the ring;
- answered calls end after an exponential talk time (mean 180 s, ``CallEnded``); waiting callers
  give up after an exponential patience (mean 900 s, ``CallEnded``);
- agents log out and back in now and then; an agent the core pauses (missed calls) is resumed
  after 30 s (``AgentResumed`` when the core has it, else log out and in);
- ``WakeAt`` commands are answered with ``Tick`` events at that time (wrap-up, SLA guard).

The core is built with the production defaults of ``[acd]`` (``callcenter.settings.AcdSettings``)
for every keyword its constructor takes.  Each ``handle`` call is timed with
``time.perf_counter_ns``; the filling of the queue before the timed part is not counted.  The last
line is one JSON object: ``{"events": ..., "p50_us": ..., "p99_us": ...}``.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import gc
import heapq
import inspect
import io
import itertools
import json
import pstats
import random
import sys
import time
from collections import Counter, defaultdict
from typing import Any

from callcenter import acd as core
from callcenter.settings import AcdSettings

TARGET_P99_US = 100.0


def make_core(overrides: dict[str, Any] | None = None) -> tuple[core.Acd, dict[str, Any]]:
    """The core with the production defaults it accepts (ring timeout = two rings), or ``overrides``."""
    defaults = AcdSettings()
    wanted: dict[str, Any] = {}
    for f in dataclasses.fields(AcdSettings):
        wanted[f.name] = getattr(defaults, f.name)
    wanted.update(overrides or {})
    params = inspect.signature(core.Acd).parameters
    kwargs: dict[str, Any] = {}
    for name in params:
        if name == "ring_timeout":
            continue
        if name in wanted:
            value = wanted[name]
            if name == "sla_guard_after" and not value:
                value = None
            if name == "strategy" and hasattr(core, "Strategy"):
                value = core.Strategy(value)
            kwargs[name] = value
    return core.Acd(ring_timeout=defaults.ring_timeout, **kwargs), {"ring_timeout": defaults.ring_timeout, **kwargs}


class Sim:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        self.acd, self.config = make_core(dict(args.set))
        self.ring_timeout = self.config["ring_timeout"]
        self.now = 0.0
        self.heap: list[tuple[float, int, tuple]] = []
        self.seq = itertools.count()
        self.ids = itertools.count(1)
        self.rings: set[tuple[str, str]] = set()  # (call, agent) ringing now
        self.connected: dict[str, str] = {}  # call -> agent
        self.live_calls: set[str] = set()
        self.logged_out: set[str] = set()
        self.paused: set[str] = set()
        self.ticks: set[float] = set()
        self.timings: list[int] = []
        self.by_type: dict[str, list[int]] = defaultdict(list)
        self.illegal: Counter[str] = Counter()
        self.commands: Counter[str] = Counter()
        self.timing = False
        self.has = {name: hasattr(core, name) for name in ("Tick", "AgentResumed", "WakeAt", "AgentStateChanged")}

    # -- plumbing ---------------------------------------------------------------------------------

    def at(self, when: float, *what: Any) -> None:
        heapq.heappush(self.heap, (when, next(self.seq), what))

    def feed(self, event: Any) -> None:
        if self.timing:
            t0 = time.perf_counter_ns()
            try:
                commands = self.acd.handle(event)
            except core.IllegalTransition as err:
                self.illegal[f"{type(event).__name__}: {str(err).split(':')[-1].strip()}"] += 1
                return
            elapsed = time.perf_counter_ns() - t0
            self.timings.append(elapsed)
            self.by_type[type(event).__name__].append(elapsed)
        else:
            try:
                commands = self.acd.handle(event)
            except core.IllegalTransition as err:
                self.illegal[f"{type(event).__name__}: {str(err).split(':')[-1].strip()}"] += 1
                return
        for command in commands:
            self.react(command)

    def react(self, command: Any) -> None:
        name = type(command).__name__
        self.commands[name] += 1
        rng = self.rng
        if name == "Offer":
            key = (command.call_id, command.agent_id)
            self.rings.add(key)
            if hasattr(core, "RingStarted"):  # the phone rings 50 ms after the offer
                self.at(self.now + 0.05, "rang", *key)
            if rng.random() < 0.10:
                self.at(self.now + command.timeout, "ring_failed", *key)
            else:
                self.at(self.now + rng.uniform(0.5, 8.0), "answer", *key)
        elif name == "StopRinging":
            self.rings.discard((command.call_id, command.agent_id))
        elif name == "WakeAt":
            if command.at not in self.ticks:
                self.ticks.add(command.at)
                self.at(max(command.at, self.now), "tick", command.at)
        elif name == "AgentStateChanged":
            agent, state = command.agent_id, str(command.state)
            if state == "paused" and agent not in self.paused and agent not in self.logged_out:
                self.paused.add(agent)
                self.at(self.now + 30.0, "resume", agent)

    # -- the scenario -----------------------------------------------------------------------------

    def agent_ids(self) -> list[str]:
        return [f"a{n:03d}" for n in range(self.args.agents)]

    def new_call(self) -> None:
        call = f"c{next(self.ids)}"
        self.live_calls.add(call)
        self.feed(core.CallWaiting(call, self.now))
        self.at(self.now + self.rng.expovariate(1 / 900.0), "abandon", call)

    def step(self) -> None:
        when, _, what = heapq.heappop(self.heap)
        self.now = max(self.now, when)
        kind, *rest = what
        if kind == "arrival":
            self.new_call()
        elif kind == "answer":
            call, agent = rest
            if (call, agent) in self.rings:
                self.rings.discard((call, agent))
                self.feed(core.AgentAnswered(call, agent, self.now))
                if call in self.live_calls and self.connected.get(call) is None:
                    self.connected[call] = agent
                    self.at(self.now + self.rng.expovariate(1 / 180.0), "end", call)
        elif kind == "rang":
            if tuple(rest) in self.rings:
                self.feed(core.RingStarted(*rest, self.now))
        elif kind == "ring_failed":
            call, agent = rest
            if (call, agent) in self.rings:
                self.rings.discard((call, agent))
                self.feed(core.RingFailed(call, agent, self.now))
        elif kind in ("end", "abandon"):
            (call,) = rest
            if call not in self.live_calls or (kind == "abandon" and call in self.connected):
                return
            self.live_calls.discard(call)
            self.connected.pop(call, None)
            self.rings = {r for r in self.rings if r[0] != call}
            self.feed(core.CallEnded(call, self.now))
            self.at(self.now + self.rng.expovariate(5.0), "arrival")  # the queue stays full
        elif kind == "tick":
            self.ticks.discard(rest[0])
            self.feed(core.Tick(self.now))
        elif kind == "resume":
            (agent,) = rest
            self.paused.discard(agent)
            if agent in self.logged_out:
                return
            if self.has["AgentResumed"]:
                self.feed(core.AgentResumed(agent, self.now))
            else:
                self.feed(core.AgentLoggedOut(agent, self.now))
                self.feed(core.AgentLoggedIn(agent, self.now))
        elif kind == "churn":
            agent = self.rng.choice(self.agent_ids())
            if agent in self.logged_out:
                self.logged_out.discard(agent)
                self.feed(core.AgentLoggedIn(agent, self.now))
            elif agent not in self.paused:
                self.logged_out.add(agent)
                self.feed(core.AgentLoggedOut(agent, self.now))
                self.at(self.now + 60.0, "login", agent)
            self.at(self.now + self.rng.expovariate(0.2), "churn")
        elif kind == "login":
            (agent,) = rest
            if agent in self.logged_out:
                self.logged_out.discard(agent)
                self.feed(core.AgentLoggedIn(agent, self.now))

    def run(self) -> None:
        for agent in self.agent_ids():
            self.feed(core.AgentLoggedIn(agent, self.now))
        for _ in range(self.args.waiting + self.args.agents):  # every agent rings, the rest wait
            self.new_call()
        self.at(self.now + 1.0, "churn")
        # Settle into the steady state (rings answered, ring-outs, first ends) before timing.
        while self.now < 60.0:
            self.step()
        gc.collect()
        self.timing = True
        while len(self.timings) < self.args.events:
            self.step()
        self.timing = False


def pct(sorted_ns: list[int], p: float) -> float:
    if not sorted_ns:
        return float("nan")
    k = min(len(sorted_ns) - 1, max(0, round((len(sorted_ns) - 1) * p / 100)))
    return sorted_ns[k] / 1000.0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="the pure ACD core under load")
    p.add_argument("--events", type=int, default=100_000, help="timed events")
    p.add_argument("--agents", type=int, default=500)
    p.add_argument("--waiting", type=int, default=1000, help="calls kept waiting")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a core keyword instead of the [acd] default, e.g. sla_guard_after=0 or wrap_up=0")
    p.add_argument("--profile", action="store_true", help="always print a profile (it is printed anyway when p99 misses the target)")
    args = p.parse_args(argv)
    args.set = [(k, float(v) if v.replace(".", "", 1).isdigit() else v) for k, v in (i.split("=", 1) for i in args.set)]

    sim = Sim(args)
    started = time.monotonic()
    sim.run()
    wall = time.monotonic() - started
    timings = sorted(sim.timings)
    p50, p99 = pct(timings, 50), pct(timings, 99)
    waiting = len(sim.acd.waiting())
    print(f"core: Acd({', '.join(f'{k}={v!r}' for k, v in sim.config.items())})")
    print(f"{len(timings)} events timed over {sim.now:,.0f} s of simulated time ({wall:.1f} s wall); "
          f"{args.agents} agents, {waiting} calls waiting at the end, {len(sim.acd.calls)} calls in the core")
    print(f"{'event':<18}{'count':>9}{'p50 us':>9}{'p99 us':>9}{'max us':>10}")
    for name, values in sorted(sim.by_type.items(), key=lambda kv: -len(kv[1])):
        values.sort()
        print(f"{name:<18}{len(values):>9}{pct(values, 50):>9.1f}{pct(values, 99):>9.1f}{values[-1] / 1000:>10.1f}")
    print(f"{'all':<18}{len(timings):>9}{p50:>9.1f}{p99:>9.1f}{timings[-1] / 1000:>10.1f}")
    print("commands: " + ", ".join(f"{k} {v}" for k, v in sim.commands.most_common()))
    if sim.illegal:
        print("events the core refused (IllegalTransition): " + "; ".join(f"{k} x{v}" for k, v in sim.illegal.most_common(5)))
    verdict = "meets" if p99 <= TARGET_P99_US else "MISSES"
    print(f"p99 {p99:.1f} us {verdict} the target of {TARGET_P99_US:g} us")
    if args.profile or p99 > TARGET_P99_US:
        profile(args)
    print(json.dumps({"events": len(timings), "p50_us": round(p50, 1), "p99_us": round(p99, 1)}))
    return 0


def profile(args: argparse.Namespace) -> None:
    """Where the time goes: cProfile over a shorter run of the same simulation (handle only)."""
    short = argparse.Namespace(**{**vars(args), "events": min(args.events, 20_000)})
    sim = Sim(short)
    profiler = cProfile.Profile()
    original = sim.acd.handle

    def handle(event: Any) -> Any:
        profiler.enable()
        try:
            return original(event)
        finally:
            profiler.disable()

    sim.acd.handle = handle  # type: ignore[method-assign]
    sim.run()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(18)
    print(f"profile of handle() over {short.events} events (cumulative):")
    print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:6000])


if __name__ == "__main__":
    sys.exit(main())
