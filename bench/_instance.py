"""What the Asterisk benchmarks share: one run at a time per instance, figures as the last line."""

from __future__ import annotations

import asyncio
import fcntl
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from callcenter import logs
from callcenter import settings as cs


def run_exclusive(instance: str, root: str | None, run: Callable[[], Awaitable[dict[str, Any]]]) -> int:
    """Run ``run()`` holding ``<root>.<instance>.lock``, then print its figures as one JSON line."""
    logs.configure("console", "error")
    lock_path = Path(f"{root or cs.AsteriskSettings().root}.{instance}.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"another run holds {lock_path}", file=sys.stderr, flush=True)
            return 2
        figures = asyncio.run(run())
    print(json.dumps(figures, ensure_ascii=False), flush=True)
    return 0
