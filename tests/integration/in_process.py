"""A daemon's parts in the test's own process, for tests that move a clock instead of
sleeping: the real home and SQLite file, vault service, peer port on loopback, and the
API application served over loopback HTTP; only the clocks are the test's."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from tests.unit.test_passphrase import CHEAP
from twofold.daemon import config
from twofold.daemon.api_app import make_app
from twofold.daemon.assembly import Setup
from twofold.daemon.door import Door
from twofold.daemon.events import EventBus
from twofold.daemon.home import Home
from twofold.daemon.keeper import Keeper
from twofold.daemon.limits import Limits
from twofold.daemon.storage import Storage

TOKEN = "t" * 64


async def open_keeper(
    home_dir: Path,
    *,
    clock: Callable[[], float] = time.monotonic,
    wall_clock: Callable[[], float] = time.time,
    config_lines: str = "",
) -> Keeper:
    """A device named after its home folder, opened (keys in a file), with its parts built;
    `clock` times the idle lock and unlock waits, `wall_clock` the invitations."""
    home = Home(home_dir)
    home.prepare()
    home.config.write_text(
        f'device_name = "{home_dir.name}"\npeer_host = "127.0.0.1"\n'
        'advertise = ["127.0.0.1"]\nmdns = false\n' + config_lines
    )
    home.config.chmod(0o600)
    events = EventBus()
    setup = Setup(home, config.load(home), Limits.from_env(), [], False, events, wall_clock)
    keeper = Keeper(Door(events), setup, await Storage.open(home.database), clock, CHEAP)
    await keeper.start(lambda: None)
    return keeper


async def close(keeper: Keeper) -> None:
    """Stop the parts and close the database, as the daemon's stop does."""
    storage = keeper.storage
    for stop in keeper.stops():
        await stop()
    await storage.close()


class Api:
    """The daemon's API application on a loopback port, and a client with its token."""

    def __init__(self, keeper: Keeper) -> None:
        self.runner = web.AppRunner(make_app(keeper, TOKEN, time.time()))
        self.base = ""
        self.session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Api:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"http://127.0.0.1:{port}/api/v1"
        self.session = aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"})
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self.session is not None
        await self.session.close()
        await self.runner.cleanup()

    async def call(
        self, method: str, path: str, body: Any = None, background: bool = False
    ) -> tuple[int, Any]:
        """One request; its status and JSON answer."""
        assert self.session is not None
        headers = {"X-Twofold-Background": "1"} if background else {}
        async with self.session.request(method, self.base + path, json=body, headers=headers) as r:
            return r.status, await r.json()
