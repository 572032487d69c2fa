"""Shared fixtures: the real Asterisk (test instance, session-wide), baresip phones, a database URL.

The ``asterisk`` fixture provisions the cached Debian unstable root (debootstrapping it when it
is missing) and starts a test instance of Asterisk on non-default ports, so a running demo does
not clash.  When that is impossible (not root, or the archive cannot serve Asterisk) every test
using it is skipped with the reason.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable, Iterator

import pytest

from callcenter import asterisk as embedded
from callcenter.exceptions import AsteriskError
from callcenter.settings import Settings, caller_password
from callcenter.softphone import Softphone
from harness.controller import Controller
from harness.env import make_test_settings

PhoneFactory = Callable[..., Awaitable[Softphone]]


@pytest.fixture(scope="session")
def asterisk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings of a running test Asterisk (SIP 5070, AMI 5039, AGI 4574, agents 1001-1004)."""
    if os.geteuid() != 0:
        pytest.skip("the embedded Asterisk needs root (chroot and bind mounts)")
    settings = make_test_settings(tmp_path_factory.mktemp("state"))
    try:
        embedded.ensure_root(settings)
    except AsteriskError as err:
        print(f"\nAsterisk unavailable: {err}")
        pytest.skip(f"cannot provision Asterisk: {err}")
    with _exclusive(Path(f"{settings.asterisk.root}.{settings.asterisk.instance}.lock"), timeout=900):
        # A throw-away instance: stop a leftover of an interrupted run, start with an empty queue_log.
        embedded.stop(settings)
        with contextlib.suppress(FileNotFoundError):
            settings.queue_log_path.unlink()
        embedded.start(settings)
        try:
            yield settings
        finally:
            embedded.stop(settings)


@contextlib.contextmanager
def _exclusive(path: Path, timeout: float) -> Iterator[None]:
    """One pytest session at a time owns the test Asterisk (same ports and directories)."""
    with open(path, "a") as fh:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.skip(f"another test session holds {path} for more than {timeout:.0f} s")
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@pytest.fixture
async def phone_factory(asterisk: Settings) -> AsyncIterator[PhoneFactory]:
    """``await make("1001", answer="manual", answer_after=None)``: a registered phone, stopped at test end.

    Agents (ids in settings.agents) and callers (asterisk.caller_endpoints) both work; any other
    Softphone keyword (record_to, chroot, ...) is passed through.
    """
    phones: list[Softphone] = []

    async def make(user: str, **kwargs: object) -> Softphone:
        agent = asterisk.agent(user)
        if agent is not None:
            password = agent.sip_password
        elif user in asterisk.asterisk.caller_endpoints:
            password = caller_password(asterisk, user)
        else:
            raise ValueError(f"{user} is neither an agent nor a caller endpoint in the test settings")
        phone = Softphone(
            user, password, asterisk.asterisk.sip_host, asterisk.asterisk.sip_port, **kwargs  # type: ignore[arg-type]
        )
        phones.append(phone)
        await phone.start()
        return phone

    yield make
    for phone in phones:
        await phone.stop()
        phone.cleanup()


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """A throw-away SQLite database URL (the file does not exist yet)."""
    return f"sqlite+aiosqlite:///{tmp_path / 'callcenter.db'}"


@pytest.fixture
async def controller_factory(asterisk: Settings, db_url: str) -> AsyncIterator[Callable[..., Awaitable[Controller]]]:
    """``await start()``: a controller on the test Asterisk with a throw-away database; stopped at test end."""
    import dataclasses

    from callcenter.settings import DatabaseSettings

    settings = dataclasses.replace(asterisk, database=DatabaseSettings(url=db_url))
    started: list[Controller] = []

    async def start(**acd: object) -> Controller:
        """Start a controller; keyword arguments override ``[acd]`` settings (e.g. sla_guard_after=1)."""
        chosen = dataclasses.replace(settings, acd=dataclasses.replace(settings.acd, **acd)) if acd else settings
        controller = await Controller(chosen).start()
        started.append(controller)
        return controller

    yield start
    for controller in started:
        await controller.stop()
