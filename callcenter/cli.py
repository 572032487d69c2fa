"""Command line: ``callcenter serve|up|asterisk|migrate|prompts``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

import structlog

import callcenter.schema  # noqa: F401  (every table known before the first write)
from callcenter import logs
from callcenter.exceptions import CallCenterError
from callcenter.settings import Settings, load

log = structlog.get_logger(__name__)

CONFIG_HELP = "TOML settings file (see callcenter.example.toml)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="callcenter", description="Hotline call-centre controller beside Asterisk")
    parser.add_argument("--config", "-c", help=CONFIG_HELP)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the controller against a running Asterisk")
    sub.add_parser("up", help="embedded default: provision and start Asterisk, demo phones, then serve")
    sub.add_parser("migrate", help="create or upgrade the database schema")
    prompts = sub.add_parser("prompts", help="the IVR's prompt audio (built by 'up' and 'asterisk start' too)")
    prompts.add_argument("action", choices=["build"])
    from callcenter.accounts import cli as accounts_cli

    accounts_cli.add_parser(sub)
    ast = sub.add_parser("asterisk", help="manage the embedded Asterisk")
    ast.add_argument("action", choices=["provision", "start", "stop", "status", "config"])
    _config_after_subcommands(sub)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)  # SIGTERM stops as cleanly as Ctrl-C
    try:
        settings = load(args.config)
        logs.configure(settings.log_format, settings.log_level)
        for note in settings.notes:  # deprecated keys in the file: said once logging is set up
            log.warning("config.deprecated_key", detail=note)
        return _run(args, settings)
    except CallCenterError as err:
        print(f"callcenter: {err} [{err.slug}]", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0


def _config_after_subcommands(sub: argparse._SubParsersAction) -> None:
    """``--config`` also after the subcommand (``callcenter serve --config FILE``), at every level.

    SUPPRESS as default: a subcommand without it leaves the value given before the subcommand alone.
    """
    for subparser in set(sub.choices.values()):
        subparser.add_argument("--config", "-c", default=argparse.SUPPRESS, help=CONFIG_HELP)
        for action in subparser._actions:
            if isinstance(action, argparse._SubParsersAction):
                _config_after_subcommands(action)


def _terminate(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from callcenter.asterisk import provision

    if args.command == "serve":
        from callcenter.app import run

        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run(settings))
        return 0
    if args.command == "up":
        return _up(settings)
    if args.command == "user":
        from callcenter.accounts.cli import run as user_command

        return user_command(args, settings)
    if args.command == "migrate":
        from callcenter.store.db import open_database

        async def migrate() -> None:
            engine = await open_database(settings.database_url)
            await engine.dispose()

        asyncio.run(migrate())
        print(f"database ready: {settings.database_url}")
        return 0
    if args.command == "prompts":
        from callcenter.ivr.plugin import build

        report = build(settings)
        print(f"prompts: {report} in {settings.sounds_path}" if report else "prompts: set [ivr] sounds_dir first")
        return 0 if report else 2
    action = args.action
    if action == "provision":
        print(provision.ensure_root(settings))
    elif action == "start":
        provision.start(settings)
        print(f"Asterisk running (AMI {settings.ami.host}:{settings.ami.port}, SIP {settings.asterisk.sip_host}:{settings.asterisk.sip_port})")
    elif action == "stop":
        provision.stop(settings)
    elif action == "status":
        running = provision.is_running(settings)
        print("running" if running else "stopped")
        return 0 if running else 1
    elif action == "config":
        print(provision.write_config(settings))
    return 0


def _up(settings: Settings) -> int:
    """The embedded default: everything a new user needs on one machine."""
    from callcenter.app import run
    from callcenter.asterisk import provision

    if settings.asterisk.mode == "embedded":
        provision.ensure_root(settings)
        provision.start(settings)  # also builds the IVR's prompt audio
    elif settings.ivr.enabled and settings.ivr.sounds_dir:
        from callcenter.ivr.plugin import build

        build(settings)

    async def main() -> None:
        phones = None
        if settings.demo.phones and settings.asterisk.mode == "embedded":
            from callcenter.demo.phones import start_demo_phones

            phones = await start_demo_phones(settings)
        from callcenter.demo.phones import ensure_demo_accounts

        created = await ensure_demo_accounts(settings)
        accounts = settings.state_path / "demo-accounts.txt"
        base = f"http://{settings.web.host}:{settings.web.port}"
        print(
            f"\n  Hotline controller is up.\n"
            f"    web:           {base}/  (operator desk /agent, wallboard /wallboard, reports /reports)\n"
            f"    logins:        {accounts if created or accounts.exists() else 'callcenter user add NAME --role admin'}"
            f"{'  (just created)' if created else ''}\n"
            f"    health:        {base}/health\n"
            f"    hotline:       dial {settings.asterisk.hotline_number} on SIP {settings.asterisk.sip_host}:{settings.asterisk.sip_port}\n"
            f"    agents:        {', '.join(a.id for a in settings.agents)} (SIP passwords in {settings.state_path / 'secrets.toml'})\n"
            f"    demo phones:   {len(phones) if phones else 0} running\n"
            f"    database:      {settings.database_url}\n"
            f"  Ctrl-C stops everything.\n",
            flush=True,
        )
        try:
            await run(settings)
        finally:
            if phones:
                await phones.stop()

    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(main())
    finally:
        if settings.asterisk.mode == "embedded":
            provision.stop(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
