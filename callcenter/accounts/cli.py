"""``callcenter user add|list|passwd|unlock``: accounts from the command line (the first admin, say)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from sqlalchemy import column, insert, select, table
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.accounts.exceptions import AccountError
from callcenter.accounts.models import ROLES
from callcenter.accounts.service import AccountService
from callcenter.settings import Settings
from callcenter.store.db import open_database, session_factory


def add_parser(sub: argparse._SubParsersAction) -> None:
    """The ``user`` subcommand and its arguments."""
    user = sub.add_parser("user", help="web accounts: add the first admin, list, reset a password, unlock")
    user.add_argument("action", choices=["add", "list", "passwd", "unlock"])
    user.add_argument("name", nargs="?", help="user name (add, passwd, unlock)")
    user.add_argument("--role", choices=ROLES, default="operator")
    user.add_argument("--agent", help="the account's phone: an operator's agent id (e.g. 1001), or a supervisor's phone for listening in (e.g. 3001)")
    user.add_argument("--display-name", default="")
    user.add_argument("--department", action="append", default=[], metavar="NAME",
                      help="a specialist's department (repeat for several; NAME* makes them its head)")
    user.add_argument("--password-stdin", action="store_true", help="read the password from standard input")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Carry out one ``user`` action; 0 on success."""
    try:
        return asyncio.run(_run(args, settings))
    except AccountError as err:
        print(f"callcenter: {err} [{err.slug}]", file=sys.stderr)
        return 2


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise AccountError("account.password_mismatch", "the two passwords differ")
    return first


# The work orders' tables, named (accounts sit below work orders and do not import them).
_DEPARTMENTS = table("departments", column("id"), column("name"))
_BOUND = table("user_departments", column("user_id"), column("department_id"), column("is_head"))


async def _departments(engine: AsyncEngine, names: list[str]) -> list[tuple[int, bool]]:
    """(department id, is head) of ``names`` ("NAME*": head); AccountError naming the unknown ones."""
    wanted = {name.strip().removesuffix("*").strip(): name.strip().endswith("*") for name in names}
    async with engine.connect() as conn:
        found = dict((await conn.execute(select(_DEPARTMENTS.c.name, _DEPARTMENTS.c.id)
                                          .where(_DEPARTMENTS.c.name.in_(sorted(wanted))))).all())
    missing = sorted(set(wanted) - set(found))
    if missing:
        raise AccountError("account.unknown_department", f"no department named {', '.join(missing)}")
    return [(found[name], head) for name, head in wanted.items()]


async def _bind(engine: AsyncEngine, user_id: int, departments: list[tuple[int, bool]]) -> None:
    if departments:
        async with engine.begin() as conn:
            await conn.execute(insert(_BOUND), [{"user_id": user_id, "department_id": d, "is_head": head}
                                                for d, head in departments])


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.action != "list" and not args.name:
        raise AccountError("account.bad_username", f"user {args.action} needs a user name")
    engine = await open_database(settings.database_url)
    try:
        accounts = AccountService(session_factory(engine))
        if args.action == "list":
            for user in await accounts.list():
                print(f"{user.username}\t{user.role}\t{user.agent_id or '-'}\t{'active' if user.active else 'disabled'}")
            return 0
        if args.action == "add":
            if args.agent and settings.agent(args.agent) is None:
                raise AccountError("account.unknown_agent", f"no agent {args.agent} in the settings' [[agents]]")
            if args.department and args.role != "specialist":
                raise AccountError("account.not_a_specialist", "--department is for --role specialist")
            departments = await _departments(engine, args.department)
            user = await accounts.create(
                args.name, _password(args), args.role, display_name=args.display_name, agent_id=args.agent
            )
            await _bind(engine, user.id, departments)
            print(f"user {user.username} ({user.role}) created" + (f", departments {', '.join(args.department)}"
                                                                   if departments else ""))
            return 0
        user = await accounts.by_name(args.name)
        if user is None:
            raise AccountError("account.unknown", f"no user {args.name!r}")
        if args.action == "passwd":
            await accounts.set_password(user.id, _password(args))
            print(f"password of {user.username} changed; their sessions ended")
        else:
            await accounts.unlock(user.id)
            print(f"{user.username} unlocked")
        return 0
    finally:
        await engine.dispose()
