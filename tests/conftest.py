"""Shared fixtures: the real Asterisk (test instance, session-wide), baresip phones, a database URL.

The ``asterisk`` fixture provisions the cached Debian unstable root (debootstrapping it when it
is missing), builds the IVR's prompt audio into the root's sounds dir and starts a test instance of
Asterisk on non-default ports, so a running demo does not clash.  When that is impossible (not
root, or the archive cannot serve Asterisk) every test using it is skipped with the reason; with
``CI=true`` a skipped e2e or browser test fails instead (see ``pytest_runtest_makereport``).

Skip reasons are always listed in the summary (``-rs``).  ``--reverse`` runs the collected tests
in reverse order (tests must not depend on the order they run in).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable, Iterator

import pytest

# Every table in the metadata, as the running app has them (callcenter/schema.py says why).
import callcenter.schema  # noqa: F401
from callcenter import asterisk as embedded
from callcenter.demo.softphone import Softphone
from callcenter.exceptions import AsteriskError
from callcenter.settings import Settings, caller_password
from harness.controller import Controller
from harness.env import make_test_settings

PhoneFactory = Callable[..., Awaitable[Softphone]]

REAL_TIERS = ("e2e", "web")  # tests/<tier>: a skip there means the real thing was not tested


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--reverse", action="store_true", default=False,
                     help="run the collected tests in reverse order (proves they do not depend on order)")


def pytest_configure(config: pytest.Config) -> None:
    chars = config.option.reportchars or ""
    if "s" not in chars and "a" not in chars and "A" not in chars:
        config.option.reportchars = chars + "s"  # every skip with its reason in the summary


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--reverse"):
        items.reverse()


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def _real_tier(node: pytest.Item | pytest.Collector) -> str | None:
    """``"e2e"`` or ``"web"`` when the test lives in tests/e2e or tests/web or is marked e2e."""
    try:
        parts = Path(str(node.path)).resolve().relative_to(Path(__file__).resolve().parent).parts
    except ValueError:
        parts = ()
    if parts and parts[0] in REAL_TIERS:
        return parts[0]
    return "e2e" if isinstance(node, pytest.Item) and node.get_closest_marker("e2e") else None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """With CI=true a skipped e2e or browser test is a failure, with the skip's reason."""
    outcome = yield
    _skip_is_failure_in_ci(outcome.get_result(), item)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    """The same for a whole module skipped at import (``pytest.importorskip`` at module level)."""
    outcome = yield
    _skip_is_failure_in_ci(outcome.get_result(), collector)


def _skip_is_failure_in_ci(report: pytest.TestReport | pytest.CollectReport, node: pytest.Item | pytest.Collector) -> None:
    if not report.skipped or hasattr(report, "wasxfail") or not _in_ci():
        return
    tier = _real_tier(node)
    if tier is None:
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = (
        f"CI=true: this {tier} test was skipped, which CI does not allow: {reason}\n"
        "(the CI machine must be able to run it: root, the Asterisk root, baresip, chromium; unset CI to allow skips)"
    )


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
        _build_prompt_audio(settings)
        embedded.start(settings)
        try:
            yield settings
        finally:
            embedded.stop(settings)


@pytest.fixture(autouse=True)
def _empty_queue_log(request: pytest.FixtureRequest) -> None:
    """Each test on the test Asterisk starts with an empty queue_log.

    Every controller reconciles queue_log at start (tickets for the fallback queue's calls, and
    callback tasks for its abandoned ones).  Left to grow, the session's file would hand each test the
    fallback calls of the tests before it: extra tickets in its figures, automatic callbacks ringing
    its operators.  Asterisk appends (O_APPEND), so truncating in place is safe while it runs; the
    reconciler starts over on a truncated file.
    """
    if "asterisk" not in request.fixturenames:
        return
    settings: Settings = request.getfixturevalue("asterisk")
    with contextlib.suppress(FileNotFoundError):
        os.truncate(settings.queue_log_path, 0)


def _build_prompt_audio(settings: Settings) -> None:
    """The IVR's prompts into the root's sounds dir: the IVR and outbound-list tests play them.

    ``embedded.start`` builds them only when ``[ivr] enabled`` (the test settings switch the IVR off
    and its tests switch it on per controller), so a fresh machine would have none.  Unchanged
    prompts take milliseconds; a build beside a running demo is safe (files are renamed into place).
    """
    from callcenter.ivr.exceptions import IvrError
    from callcenter.ivr.plugin import build

    try:
        report = build(settings)
    except IvrError as err:
        pytest.fail(f"cannot build the IVR prompt audio into {settings.sounds_path}: {err}", pytrace=False)
    if report is not None and report.built:
        print(f"\nIVR prompts: {report} in {settings.sounds_path}")


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

    async def start(*, ivr: dict[str, object] | None = None, workorders: dict[str, object] | None = None,
                    lists: dict[str, object] | None = None, outbound: dict[str, object] | None = None,
                    **acd: object) -> Controller:
        """Start a controller; keyword arguments override ``[acd]`` settings (e.g. sla_guard_after=1), and
        ``ivr``, ``workorders``, ``lists``, ``outbound`` the keys they name of those sections
        (e.g. ``ivr={"enabled": False}``)."""
        sections = {"ivr": ivr, "workorders": workorders, "lists": lists, "outbound": outbound, "acd": acd}
        changed = {name: dataclasses.replace(getattr(settings, name), **overrides)
                   for name, overrides in sections.items() if overrides}
        chosen = dataclasses.replace(settings, **changed) if changed else settings
        controller = await Controller(chosen).start()
        started.append(controller)
        return controller

    yield start
    for controller in started:
        await controller.stop()
