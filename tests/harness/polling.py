"""Wait for a condition instead of sleeping: tests poll, and fail with what they last saw."""

from __future__ import annotations

import asyncio
import time
from typing import Awaitable, Callable, TypeVar

T = TypeVar("T")


async def eventually(
    probe: Callable[[], T | Awaitable[T]],
    timeout: float = 10.0,
    interval: float = 0.05,
    message: str = "condition",
) -> T:
    """Call ``probe`` until it returns something truthy; return that value or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        last = probe()
        if asyncio.iscoroutine(last) or isinstance(last, asyncio.Future):
            last = await last
        if last:
            return last  # type: ignore[return-value]
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} not met within {timeout} s (last value: {last!r})")
        await asyncio.sleep(interval)
