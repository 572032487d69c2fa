"""What Asterisk's FastAGI sessions are doing, from AMI: wait for a prompt to be playing, not a sleep.

Asterisk publishes ``AGIExecStart`` (Command, Uniqueid, Channel) when it starts to carry out an AGI
command, just before it runs it.  Our manager.conf lets through only the events the controller uses;
the test settings (``harness.env``) add this one (``[ami] extra_events``, read class ``agi``).  With
another configuration ``watch`` adds a filter for it to the controller's AMI session (AMI ``Filter``,
which needs the write class ``system`` the controller's account does not have).  A test that presses a key "during the message" waits for the
``STREAM FILE`` (or ``GET DATA``) of that message to have started, then presses: a key that reaches
Asterisk between two AGI commands is read and thrown away by res_agi, so pressing after a fixed sleep
races with however long the controller took to get there.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from dataclasses import dataclass

from callcenter.ami.client import AmiClient
from callcenter.exceptions import AmiError


@dataclass(frozen=True)
class AgiCommand:
    command: str
    uniqueid: str
    channel: str
    at: float  # time.monotonic() when the event arrived


class AgiCommands:
    """Every AGI command started on the test Asterisk, as a stream read with a cursor.

    ``await commands.next(r"STREAM FILE \\S+/hotline/zh/greeting ")`` returns the first matching
    command started after the one the previous ``next`` returned (or one already logged), so waiting
    twice for the menu waits for it to be read a second time.
    """

    def __init__(self, ami: AmiClient) -> None:
        self.log: list[AgiCommand] = []
        self._cursor = 0  # index after the last command returned by next()
        self._changed = asyncio.Event()
        self._ami = ami
        ami.on("AGIExecStart", self._on_start)

    @classmethod
    async def watch(cls, ami: AmiClient) -> AgiCommands:
        """Start logging the AGI commands Asterisk runs (from now on)."""
        commands = cls(ami)
        with contextlib.suppress(AmiError):  # refused without write "system": the config lets it through
            await ami.action({"Action": "Filter", "Operation": "Add",
                              "MatchCriteria": "action(include),name(AGIExecStart)", "Filter": ""})
        return commands

    def close(self) -> None:
        handlers = self._ami.handlers.get("agiexecstart", [])
        if self._on_start in handlers:
            handlers.remove(self._on_start)

    def _on_start(self, event) -> None:
        self.log.append(AgiCommand(str(event.get("Command", "")), str(event.get("Uniqueid", "")),
                                   str(event.get("Channel", "")), time.monotonic()))
        self._changed.set()

    async def next(self, pattern: str, *, channel: str | None = None, timeout: float = 20.0) -> AgiCommand:
        """The next command matching ``pattern`` (``re.search``), optionally on a channel name prefix."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            for index in range(self._cursor, len(self.log)):
                cmd = self.log[index]
                if regex.search(cmd.command) and (channel is None or cmd.channel.startswith(channel)):
                    self._cursor = index + 1
                    return cmd
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                seen = [c.command for c in self.log[self._cursor:]][-10:]
                raise AssertionError(f"no AGI command matching {pattern!r} within {timeout} s (since: {seen})")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                pass

    async def prompt(self, language: str, name: str, *, channel: str | None = None, timeout: float = 20.0) -> AgiCommand:
        """The next ``STREAM FILE`` of our prompt ``hotline/<language>/<name>`` has started."""
        return await self.next(rf"^STREAM FILE \S*/hotline/{re.escape(language)}/{re.escape(name)}(\s|$)",
                               channel=channel, timeout=timeout)
