"""Locking when idle, in one process so the clock can be moved instead of slept through.

Everything is real but the clock: the home and its SQLite file, the vault service, the
peer port, the API application over loopback HTTP, Argon2id (at a small cost).
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from pathlib import Path

from tests.clock import Clock
from tests.integration.in_process import Api, close, open_keeper
from twofold.daemon.keeper import Keeper
from twofold.protocol import codes

PASSPHRASE = "correct horse battery staple"
SECRET = "JBSWY3DPEHPK3PXP"


async def idle_keeper(tmp_path: Path, clock: Clock, lock_after: int = 5) -> Keeper:
    return await open_keeper(
        tmp_path / "laptop", clock=clock, config_lines=f"lock_after = {lock_after}\n"
    )


def test_the_vault_locks_after_lock_after_minutes_without_use(tmp_path: Path) -> None:
    async def run() -> None:
        clock = Clock()
        keeper = await idle_keeper(tmp_path, clock)
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
        keeper = await idle_keeper(tmp_path, clock, lock_after=0)
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
        keeper = await idle_keeper(tmp_path, clock)
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
