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

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    @property
    def url(self) -> str:
        return f"http://{self.settings.web.host}:{self.settings.web.port}"

    def __getitem__(self, key):
        return self.app[key]
