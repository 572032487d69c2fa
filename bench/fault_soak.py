"""Fault soak: the busy-hour load on ten operator phones, with a fault every few seconds.

    .venv/bin/python bench/fault_soak.py [--quick] [--minutes M] [--every S] [--rate R] [--root DIR]

Runs as root (the embedded Asterisk is chrooted).  It starts its own Asterisk instance
(``callcenter-bench``: SIP 5080, AMI 5041, FastAGI 4576, web 8091, the same instance and lock as
bench/acd_vs_app_queue.py, so the two never run at once) from the cached root.  The controller
runs as ``python -m callcenter --config FILE serve`` (so it can be SIGKILLed) and reaches AMI
through a relay this script can cut.  Ten operator phones (nine take calls, one is on a break all
along) and thirty caller phones, all baresip.

Callers arrive as in the busy hour of acd_vs_app_queue.py (Poisson, ``--rate`` a second, talk
5-20 s, caller or operator hangs up), with the real ring cadence (two rings = 10 s) and no wrap-up;
every operator answers within 0.5-4 s.  Every ``--every`` seconds one fault, in turn:
(a) the AMI connection cut for 10 s, (b) ``core restart now``, (c) the controller SIGKILLed and
started again 5 s later, (d) the database locked for 10 s (``BEGIN EXCLUSIVE``).

At the end the calls drain and the whole history, as the phones saw it, is checked against the
tickets, the controller's agent states and queue_log (tests/harness/checker.py: the same check
as tests/e2e/test_faults.py).  The last line printed is one JSON object:
``{"calls", "faults", "stranded_callers", "stuck_operators", "tickets_missing",
"tickets_wrong_outcome", "max_recovery_s"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the shared harness

from _instance import run_exclusive
from acd_vs_app_queue import AGENTS, CALLERS, INSTANCE, PORTS
from harness.faults import FAULTS, RECOVERY_WINDOW, FaultRig, Site, write_settings
from harness.traffic import Load

from callcenter import asterisk as embedded
from callcenter import settings as cs

# The busy hour of acd_vs_app_queue.py: real cadence, no wrap-up, other [acd] settings default.
ACD = {"ring_on": 1.0, "ring_off": 4.0, "rings": 2, "wrap_up": 0.0}
HOW = {"ami_cut": {"seconds": 10.0}, "asterisk_restart": {}, "controller_kill": {"down": 5.0}, "db_lock": {"seconds": 10.0}}
LETTER = dict(zip(FAULTS, "abcd"))


def say(*parts: object) -> None:
    print(*parts, flush=True)


async def soak(args: argparse.Namespace) -> dict[str, Any]:
    root = args.root or cs.AsteriskSettings().root
    site = Site(root, INSTANCE, PORTS, "pbx-bench", operators=AGENTS, callers=CALLERS, acd=ACD)
    state = Path(tempfile.mkdtemp(prefix="callcenter-soak-"))
    notes: list[str] = []
    _, asterisk_side = write_settings(site, state, "asterisk-side", notes=notes)
    say(f"Asterisk instance {INSTANCE}: SIP {PORTS['sip']}, AMI {PORTS['ami']} (controller via a relay), "
        f"FastAGI {PORTS['agi']}, web {PORTS['web']}; state in {state}")
    await asyncio.to_thread(embedded.stop, asterisk_side)  # a leftover of an interrupted run
    with contextlib.suppress(FileNotFoundError):
        asterisk_side.queue_log_path.unlink()
    await asyncio.to_thread(embedded.start, asterisk_side)
    load = Load(rate=args.rate, burst=10, talk=(5.0, 20.0), answer_after=(0.5, 4.0), patience=60.0, seed=args.seed)
    rig = FaultRig(site, state / "rig", secrets_from=state, mode="subprocess", load=load, log_level="info")
    t0 = time.monotonic()
    try:
        await rig.start()
        say(f"controller up, {len(AGENTS)} operators ({', '.join(f'{o} {w}' for o, w in rig.choices.items())}), "
            f"{len(CALLERS)} callers registered ({time.monotonic() - t0:.0f} s)")
        rig.traffic.start_arrivals()
        start = time.monotonic()
        stop = start + args.minutes * 60
        k = 0
        while True:
            at = start + (k + 1) * args.every
            kind = FAULTS[k % len(FAULTS)]
            if at + 15.0 + RECOVERY_WINDOW > stop:
                break
            await rig.flow_until(at)
            fault = await rig.inject(kind, **HOW[kind])
            say(f"  ({LETTER[kind]}) {kind:<17} at {fault.start - start:6.1f} s for {fault.end - fault.start:4.1f} s, "
                f"{fault.in_flight:2d} calls in flight, {fault.note}")
            k += 1
        await rig.flow_until(stop)
        say(f"traffic stopped after {time.monotonic() - start:.0f} s; draining calls and checking")
        report = await rig.finish()
    finally:
        await rig.close()
        await asyncio.to_thread(embedded.stop, asterisk_side)
        if args.keep:
            say(f"kept {state} (controller logs in {state / 'rig' / 'logs'})")
        else:
            shutil.rmtree(state, ignore_errors=True)
    print_report(report, notes, time.monotonic() - t0)
    return report.summary()


def print_report(report: Any, notes: list[str], elapsed: float) -> None:
    say("")
    say(f"{'#':>3}  {'fault':<18}{'lasted s':>9}{'in flight':>10}{'operators right after s':>25}")
    for n, (fault, recovery) in enumerate(zip(report.faults, report.recovery), 1):
        rec = f"{recovery:.1f}"
        say(f"{n:>3}  ({LETTER.get(fault.kind, '?')}) {fault.kind:<14}{fault.end - fault.start:>9.1f}{fault.in_flight:>10}{rec:>25}")
    stats = report.stats
    say("")
    say(f"calls dialled {stats['dialled']}, answered by Asterisk {stats['answered_by_asterisk']}, talked to an operator "
        f"{stats['talked_to_operator']}, through the fallback queue {stats['fallback_queue']}, "
        f"most in flight {stats['max_in_flight']}, arrivals with no free phone {stats['skipped_no_free_phone']}")
    for title, items in (("stranded callers", report.stranded), ("stuck operators", report.stuck),
                         ("tickets missing", report.missing), ("tickets with the wrong outcome", report.wrong),
                         ("controller invariant", report.violations)):
        say(f"{title:<32}{len(items):>6}")
        for item in items[:8]:
            say(f"    {item}")
        if len(items) > 8:
            say(f"    ... and {len(items) - 8} more")
    for note in [*notes, *report.notes][:15]:
        say(f"note: {note}")
    say(f"total {elapsed:.0f} s")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=None, help="minutes of traffic (default 10)")
    p.add_argument("--quick", action="store_true", help="3 minutes, a fault every 35 s (each kind once)")
    p.add_argument("--every", type=float, default=None, help="seconds between faults (default 60, quick 35)")
    p.add_argument("--rate", type=float, default=0.6, help="callers arriving per second (Poisson)")
    p.add_argument("--seed", type=int, default=7, help="arrivals, talk times and answer delays")
    p.add_argument("--keep", action="store_true", help="keep the state directory (controller logs, database)")
    p.add_argument("--root", help="the cached Asterisk root (default: the settings' default)")
    args = p.parse_args(argv)
    args.minutes = args.minutes or (3.0 if args.quick else 10.0)
    args.every = args.every or (35.0 if args.quick else 60.0)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    return run_exclusive(INSTANCE, args.root, lambda: soak(args))


if __name__ == "__main__":
    sys.exit(main())
