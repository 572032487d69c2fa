"""The controller's aiohttp application, run in the test's event loop (no subprocess)."""

from __future__ import annotations

from callcenter.settings import Settings


class Controller:
    """The controller's aiohttp application running in the test's event loop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app = None
        self.runner = None

    async def start(self) -> "Controller":
        from aiohttp import web

        from callcenter import keys
        from callcenter.app import create_app

        self.app = create_app(self.settings)
        self.runner = web.AppRunner(self.app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, self.settings.web.host, self.settings.web.port).start()
        ami = self.app[keys.AMI]
        assert await ami.wait_connected(10), f"controller could not log in to AMI: {ami.last_error}"
        return self

    async def stop(self, check: bool = True) -> None:
        """Stop it; first the invariant: nothing the core or the adapter holds is untrue (``check``)."""
        if self.runner is not None and check:
            await self.check_invariant()
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    async def check_invariant(self, settle: float = 3.0) -> None:
        """``Adapter.violations()`` is empty (events in flight get ``settle`` seconds to land)."""
        import asyncio
        import time

        from callcenter import keys

        adapter = self.app[keys.ADAPTER]
        deadline = time.monotonic() + settle
        while (found := adapter.violations()) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert not found, f"invariant broken: {found}"

    @property
    def url(self) -> str:
        return f"http://{self.settings.web.host}:{self.settings.web.port}"

    def __getitem__(self, key):
        return self.app[key]
