"""Demo phones for the embedded default: every agent answers after a moment, one caller calls.

Without real SIP phones a new user still sees the whole path: the demo caller dials the hotline
every ``DEMO_CALL_EVERY`` seconds, an agent's phone answers after a short ring, they talk a few
seconds, the caller hangs up, and the ticket shows it.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import structlog
from sqlalchemy import Boolean, column, insert, select, table
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.demo.softphone import Softphone
from callcenter.settings import Settings, caller_password
from callcenter.store.models import UtcDateTime, utcnow

log = structlog.get_logger(__name__)

DEMO_ANSWER_AFTER = 2.0  # seconds an agent's demo phone rings before answering
DEMO_TALK = 8.0
DEMO_IVR_KEYS = 8  # greeting, language hint, recording notice, up to 2 seasonal messages, menu, and spare
DEMO_CALL_EVERY = 60.0


class DemoPhones:
    """The running demo phones and the demo caller's loop."""

    def __init__(self, phones: list[Softphone], task: asyncio.Task | None) -> None:
        self.phones = phones
        self.task = task

    def __len__(self) -> int:
        return len(self.phones)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        for phone in self.phones:
            await phone.stop()
            phone.cleanup()


async def start_demo_phones(settings: Settings) -> DemoPhones:
    """Register a phone per agent (answering after a short ring) and one demo caller."""
    host, port = settings.asterisk.sip_host, settings.asterisk.sip_port
    phones = [
        Softphone(agent.id, agent.sip_password, host, port, answer="manual", answer_after=DEMO_ANSWER_AFTER)
        for agent in settings.agents
    ]
    caller_id = settings.asterisk.caller_endpoints[0]
    caller = Softphone(caller_id, caller_password(settings, caller_id), host, port, answer="manual")
    # The demo supervisor's phone (their account's phone): answers listen/whisper/barge from the wallboard.
    bosses = [Softphone(ep, caller_password(settings, ep), host, port, answer="manual", answer_after=DEMO_ANSWER_AFTER)
              for ep in settings.supervision.phones[:1]]
    started: list[Softphone] = []
    for phone in [*phones, *bosses, caller]:
        try:
            await phone.start()
            started.append(phone)
        except Exception as err:  # a demo phone that fails must not stop the engine
            log.warning("demo.phone_failed", user=phone.user, error=str(err))
    task = asyncio.create_task(_call_loop(caller, settings.asterisk.hotline_number)) if caller in started else None
    log.info("demo.phones_started", phones=len(started))
    return DemoPhones(started, task)


async def _call_loop(caller: Softphone, number: str) -> None:
    await asyncio.sleep(3)
    while True:
        try:
            await caller.dial(number)
            await caller.wait_event("CALL_ESTABLISHED", timeout=60)
            # Through the IVR: each 0 skips a message, and in the menu 0 asks for any operator.
            await caller.send_dtmf("0" * DEMO_IVR_KEYS, gap=1.0)
            await asyncio.sleep(DEMO_TALK)
            await caller.hangup()
            log.info("demo.call_done", number=number)
        except Exception as err:
            log.warning("demo.call_failed", error=str(err))
            with contextlib.suppress(Exception):
                await caller.hangup()
        await asyncio.sleep(DEMO_CALL_EVERY)


DEMO_ACCOUNTS = (("admin", "admin", None), ("supervisor", "supervisor", "3001"), ("operator", "operator", "1001"),
                 ("specialist", "specialist", None))
# Two departments to escalate to; the demo specialist answers for the first.  Its office phone is a
# caller endpoint other than the demo caller's (a softphone registered there rings on an escalation).
DEMO_DEPARTMENTS = ("呼吸科", "儿科")
DEMO_SPECIALIST_DEPARTMENT = "呼吸科"
# The work orders' tables, named (the demo sits below work orders and does not import them).
_DEPARTMENTS = table("departments", column("id"), column("name"), column("office_phone"), column("notes"),
                     column("active", Boolean), column("updated_at", UtcDateTime))
_BOUND = table("user_departments", column("user_id"), column("department_id"), column("is_head"))


async def ensure_demo_accounts(settings: Settings) -> Path | None:
    """On a database with no web accounts, create admin, supervisor (phone: the first of
    ``supervision.phones``), operator (agent 1001) and a specialist bound to 呼吸科, with the demo
    departments (``DEMO_DEPARTMENTS``).

    Their generated passwords go to ``<state_dir>/demo-accounts.txt`` (mode 600), which is
    returned; None when accounts already exist (nothing is changed then).
    """
    import secrets

    from callcenter.accounts.service import AccountService
    from callcenter.private_file import write_private
    from callcenter.store.db import open_database, session_factory

    engine = await open_database(settings.database_url)
    try:
        accounts = AccountService(session_factory(engine))
        if await accounts.count():
            return None
        agent = settings.agents[0].id if settings.agents else None
        phones = {"operator": agent, "supervisor": settings.supervision.phones[0] if settings.supervision.phones else None}
        lines = []
        users = {}
        for name, role, agent_id in DEMO_ACCOUNTS:
            password = secrets.token_urlsafe(12)
            users[name] = (await accounts.create(name, password, role, agent_id=phones.get(role) if agent_id else None)).id
            lines.append(f"{name}\t{role}\t{password}\n")
        endpoints = settings.asterisk.caller_endpoints
        departments = await _demo_departments(engine, endpoints[-1] if endpoints else "")
        async with engine.begin() as conn:
            await conn.execute(insert(_BOUND).values(user_id=users["specialist"], is_head=False,
                                                     department_id=departments[DEMO_SPECIALIST_DEPARTMENT]))
        log.info("demo.accounts_created", accounts=len(users), departments=len(departments))
    finally:
        await engine.dispose()
    path = settings.state_path / "demo-accounts.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private(path, "".join(lines))  # passwords: mode 600 from the start
    return path


async def _demo_departments(engine: AsyncEngine, office_phone: str) -> dict[str, int]:
    """The demo departments by name (id), added where missing; the first gets ``office_phone``."""
    async with engine.begin() as conn:
        found = dict((await conn.execute(select(_DEPARTMENTS.c.name, _DEPARTMENTS.c.id))).all())
        for name in DEMO_DEPARTMENTS:
            if name not in found:
                phone = office_phone if name == DEMO_DEPARTMENTS[0] else ""
                found[name] = (await conn.execute(
                    insert(_DEPARTMENTS).values(name=name, office_phone=phone, notes="", active=True,
                                                updated_at=utcnow()).returning(_DEPARTMENTS.c.id))).scalar_one()
    return found
