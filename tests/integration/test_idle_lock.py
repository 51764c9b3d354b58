"""Locking when idle, in one process so the clock can be moved instead of slept through.

Everything is real but the clock: the home and its SQLite file, the vault service, the
peer port, the API application over loopback HTTP, Argon2id (at a small cost).
"""

from __future__ import annotations

import asyncio
import gc
import time
import weakref
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
from twofold.protocol import codes

TOKEN = "t" * 64
PASSPHRASE = "correct horse battery staple"
SECRET = "JBSWY3DPEHPK3PXP"


class Clock:
    """Seconds that move only when the test says."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


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
        assert self.session is not None
        headers = {"X-Twofold-Background": "1"} if background else {}
        async with self.session.request(method, self.base + path, json=body, headers=headers) as r:
            return r.status, await r.json()


async def open_keeper(tmp_path: Path, clock: Clock, lock_after: int = 5) -> Keeper:
    home = Home(tmp_path / "home")
    home.prepare()
    home.config.write_text(
        'device_name = "laptop"\npeer_host = "127.0.0.1"\nmdns = false\n'
        f"lock_after = {lock_after}\n"
    )
    home.config.chmod(0o600)
    events = EventBus()
    setup = Setup(home, config.load(home), Limits.from_env(), [], False, events)
    keeper = Keeper(Door(events), setup, await Storage.open(home.database), clock, CHEAP)
    await keeper.start(lambda: None)
    return keeper


async def close(keeper: Keeper) -> None:
    storage = keeper.storage
    for stop in keeper.stops():
        await stop()
    await storage.close()


def test_the_vault_locks_after_lock_after_minutes_without_use(tmp_path: Path) -> None:
    async def run() -> None:
        clock = Clock()
        keeper = await open_keeper(tmp_path, clock)
        listener = keeper.setup.events.subscribe()
        try:
            async with Api(keeper) as api:
                account = {"issuer": "Bank", "secret": SECRET}
                assert (await api.call("POST", "/accounts", account))[0] == 201
                status, body = await api.call("PUT", "/passphrase", {"passphrase": PASSPHRASE})
                assert (status, body) == (200, {"passphrase": True, "lock_after": 5})
                service = weakref.ref(keeper.door.parts().service)
                vault = weakref.ref(keeper.door.parts().service.vault)
                assert (await api.call("GET", "/codes"))[0] == 200  # a use, at 1000 s
                clock.now += 299
                assert not await keeper.lock_if_idle()
                # neither the page's own refreshes nor asking for the status are uses
                assert (await api.call("GET", "/codes", background=True))[0] == 200
                assert (await api.call("GET", "/status"))[0] == 200
                clock.now += 1
                keeper.watch_idle()  # 300 s since the last use: the watch locks at once
                for _ in range(200):
                    if not keeper.door.is_open:
                        break
                    await asyncio.sleep(0.01)
                status, body = await api.call("GET", "/codes")
                assert (status, body["type"]) == (423, "urn:twofold:problem:locked")
                status, body = await api.call("GET", "/status")
                assert (body["locked"], body["lock_after"]) == (True, 5)
                gc.collect()
                assert service() is None  # nothing holds the service or the vault any more
                assert vault() is None
                assert codes._code_for_step.cache_info().currsize == 0  # keyed by secrets
                kinds = []
                while (event := await asyncio.wait_for(listener.get(), 1)) is not None:
                    kinds.append((event.kind, event.data))
                    if event.kind == "lock" and event.data["locked"]:
                        break
                assert ("lock", {"locked": True, "reason": "idle"}) in kinds
                # unlocked again, a use keeps it open past the first 300 s
                assert (await api.call("POST", "/unlock", {"passphrase": PASSPHRASE}))[0] == 200
                clock.now += 200
                assert (await api.call("GET", "/accounts"))[0] == 200
                clock.now += 200
                assert not await keeper.lock_if_idle()
                assert keeper.door.is_open
                clock.now += 100
                assert await keeper.lock_if_idle()
        finally:
            listener.close()
            await close(keeper)

    asyncio.run(run())


def test_lock_after_zero_never_locks(tmp_path: Path) -> None:
    async def run() -> None:
        clock = Clock()
        keeper = await open_keeper(tmp_path, clock, lock_after=0)
        try:
            async with Api(keeper) as api:
                status, body = await api.call("PUT", "/passphrase", {"passphrase": PASSPHRASE})
                assert (status, body) == (200, {"passphrase": True, "lock_after": 0})
                clock.now += 365 * 24 * 3600
                assert not await keeper.lock_if_idle()
                assert (await api.call("GET", "/codes"))[0] == 200
                assert (await api.call("POST", "/lock"))[0] == 200  # asked, it still locks
                assert (await api.call("GET", "/codes"))[0] == 423
        finally:
            await close(keeper)

    asyncio.run(run())


def test_a_home_without_a_passphrase_never_locks(tmp_path: Path) -> None:
    async def run() -> None:
        clock = Clock()
        keeper = await open_keeper(tmp_path, clock)
        try:
            async with Api(keeper) as api:
                clock.now += 3600
                assert not await keeper.lock_if_idle()
                status, body = await api.call("POST", "/lock")
                assert (status, body["type"]) == (409, "urn:twofold:problem:no-passphrase")
                assert (await api.call("GET", "/codes"))[0] == 200
        finally:
            await close(keeper)

    asyncio.run(run())
