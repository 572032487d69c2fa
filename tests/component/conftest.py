"""Fixtures of the component tests: ``env``, the adapter's call path against a scripted Asterisk
(``adapter_env.Env``), checked for what it left behind after each test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from adapter_env import ANSWER_GRACE, CUT_WINDOW, Env

import callcenter.adapter as adapter_module


@pytest.fixture
async def env(tmp_path: Path, unused_tcp_port_factory: Callable[[], int],
              monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Env]:
    """An unstarted ``Env`` (tests call ``env.start(...)``); afterwards the invariant is checked and it stops."""
    monkeypatch.setattr(adapter_module, "ANSWER_GRACE", ANSWER_GRACE)
    monkeypatch.setattr(adapter_module, "CUT_WINDOW", CUT_WINDOW)
    before = asyncio.all_tasks()
    environment = Env(tmp_path, unused_tcp_port_factory(), unused_tcp_port_factory())
    yield environment
    try:
        if environment.adapter is not None:
            await environment.check()
    finally:
        await environment.stop()
        # Rings whose Originate never got its OriginateResponse (the script said nothing) wait for it.
        leftover = [t for t in asyncio.all_tasks() - before if t is not asyncio.current_task()]
        for task in leftover:
            task.cancel()
        await asyncio.gather(*leftover, return_exceptions=True)
