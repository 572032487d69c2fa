"""The demo's first start on a real database (SQLite, and PostgreSQL when configured): an empty
database gets the demo accounts, the two demo departments and a specialist bound to 呼吸科 whose
office phone is a caller endpoint; a database with accounts gets nothing new."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from harness.postgres import store_url  # noqa: F401  (fixture: SQLite, and PostgreSQL when configured)
from sqlalchemy import func, select

from callcenter.accounts.service import AccountService
from callcenter.demo.phones import ensure_demo_accounts
from callcenter.settings import DatabaseSettings, Settings
from callcenter.store import open_database, session_factory
from callcenter.workorders.models import Department, UserDepartment


def settings_for(url: str, tmp_path: Path) -> Settings:
    return dataclasses.replace(Settings(), state_dir=str(tmp_path / "var"), database=DatabaseSettings(url=url))


async def test_an_empty_database_gets_the_demo_departments_and_a_bound_specialist(store_url, tmp_path):
    settings = settings_for(store_url, tmp_path)
    path = await ensure_demo_accounts(settings)
    assert path is not None and path.stat().st_mode & 0o777 == 0o600
    passwords = {name: (role, pw) for name, role, pw in (ln.split("\t") for ln in path.read_text().splitlines())}
    assert set(passwords) == {"admin", "supervisor", "operator", "specialist"}
    engine = await open_database(store_url)
    try:
        sessions = session_factory(engine)
        user = await AccountService(sessions).authenticate("specialist", passwords["specialist"][1])
        assert user is not None and user.role == "specialist"
        boss = await AccountService(sessions).authenticate("supervisor", passwords["supervisor"][1])
        assert boss is not None and boss.agent_id == settings.supervision.phones[0]  # their phone: listen, whisper, barge
        async with sessions() as session:
            deps = {d.name: d for d in await session.scalars(select(Department))}
            bound = (await session.scalars(select(UserDepartment.department_id)
                                           .where(UserDepartment.user_id == user.id))).all()
        assert set(deps) == {"呼吸科", "儿科"}
        assert deps["呼吸科"].office_phone in settings.asterisk.caller_endpoints
        assert deps["呼吸科"].office_phone != settings.asterisk.caller_endpoints[0]  # not the demo caller's
        assert bound == [deps["呼吸科"].id]
    finally:
        await engine.dispose()


async def test_a_database_with_accounts_gets_nothing_new(store_url, tmp_path):
    settings = settings_for(store_url, tmp_path)
    engine = await open_database(store_url)
    try:
        await AccountService(session_factory(engine)).create("root", "correct horse battery", "admin")
        assert await ensure_demo_accounts(settings) is None
        async with session_factory(engine)() as session:
            assert await session.scalar(select(func.count()).select_from(Department)) == 0
    finally:
        await engine.dispose()
    assert not (settings.state_path / "demo-accounts.txt").exists()
