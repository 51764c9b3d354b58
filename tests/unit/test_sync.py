"""Two members' sync sessions joined in memory: catch-up, live push, relay, and bad peers.

Real VaultServices over real SQLite files; only the socket is replaced, by a
pair of queues, so the sync logic is tested apart from TLS and HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.unit.fleet import NOW, cert, device, draft
from twofold.daemon.storage import Storage
from twofold.daemon.sync import PAGE_OPS, SyncSession
from twofold.daemon.vault_service import VaultService, now_ms
from twofold.protocol import cbor
from twofold.protocol.envelope import Op
from twofold.protocol.errors import MalformedPayload
from twofold.protocol.vault import Vault


class MemoryChannel:
    """One end of an in-memory pipe."""

    def __init__(self, inbox: asyncio.Queue[bytes | None], outbox: asyncio.Queue[bytes | None]):
        self.inbox, self.outbox = inbox, outbox
        self.sent = 0

    async def send(self, data: bytes) -> None:
        self.sent += 1
        await self.outbox.put(data)

    async def receive(self) -> bytes | None:
        return await self.inbox.get()

    def close(self) -> None:
        self.inbox.put_nowait(None)


def pipe() -> tuple[MemoryChannel, MemoryChannel]:
    a: asyncio.Queue[bytes | None] = asyncio.Queue()
    b: asyncio.Queue[bytes | None] = asyncio.Queue()
    return MemoryChannel(a, b), MemoryChannel(b, a)


async def service_for(path: Path, vault: Vault) -> VaultService:
    storage = await Storage.open(path)
    await storage.initialise(
        {"device_seed": b"-", "vault_id": vault.vault, "device_name": b"x"},
        [Op(raw) for raw in vault.log()],
    )
    return VaultService(vault, storage, "x")


@contextlib.asynccontextmanager
async def linked(x: VaultService, y: VaultService) -> AsyncIterator[None]:
    left, right = pipe()
    sx = SyncSession(x, left, y.vault.device.public)
    sy = SyncSession(y, right, x.vault.device.public)
    tasks = [asyncio.create_task(sx.run()), asyncio.create_task(sy.run())]
    try:
        await asyncio.wait_for(asyncio.gather(sx.caught_up.wait(), sy.caught_up.wait()), 10)
        yield
    finally:
        left.close()
        right.close()
        await asyncio.gather(*tasks, return_exceptions=True)


async def settle(*services: VaultService) -> None:
    for _ in range(200):
        if len({s.vault.vector() for s in services}) == 1:
            return
        await asyncio.sleep(0.005)
    raise AssertionError("did not converge")


def founder_and_member(n_accounts: int) -> tuple[Vault, Vault]:
    a = Vault.found(device(1), "a", NOW, salt=bytes(16))
    a.add_device(cert(2), "b", NOW)
    for i in range(n_accounts):
        a.create_account(draft(f"acct {i}"), NOW + i)
    b = Vault(a.vault, device(2))
    b.receive_batch([raw for raw in a.log() if Op(raw).kind.value < 16], NOW)  # membership only
    return a, b


def run(coro) -> None:  # type: ignore[no-untyped-def]
    asyncio.run(coro)


def test_catch_up_in_pages_then_live_push(tmp_path: Path) -> None:
    async def main() -> None:
        a, b = founder_and_member(PAGE_OPS + 20)
        sa, sb = await service_for(tmp_path / "a.db", a), await service_for(tmp_path / "b.db", b)
        async with linked(sa, sb):
            assert len(sb.vault.accounts()) == PAGE_OPS + 20
            await sb.create_from_fields({"issuer": "from b", "secret": "JBSWY3DPEHPK3PXP"})
            await sa.delete(sa.vault.accounts()[0].id.hex())
            await settle(sa, sb)
            assert [v.issuer for v in sa.vault.state.views()] == [
                v.issuer for v in sb.vault.state.views()
            ]
        assert set(await sb.storage.log()) == set(a.log())  # stored, not just in memory
        await sa.storage.close()
        await sb.storage.close()

    run(main())


def test_edits_made_apart_merge_with_a_conflict_both_show(tmp_path: Path) -> None:
    async def main() -> None:
        a, b = founder_and_member(1)
        sa, sb = await service_for(tmp_path / "a.db", a), await service_for(tmp_path / "b.db", b)
        async with linked(sa, sb):
            pass
        aid = sa.vault.accounts()[0].id.hex()
        await sa.update(aid, {"name": "on a"})
        await sb.update(aid, {"name": "on b"})
        async with linked(sa, sb):
            await settle(sa, sb)
        va, vb = sa.vault.account(bytes.fromhex(aid)), sb.vault.account(bytes.fromhex(aid))
        assert va.name == vb.name
        assert va.conflicts.keys() == vb.conflicts.keys() == {"name"}
        assert [h.value for h in va.conflicts["name"]] == [h.value for h in vb.conflicts["name"]]
        await sa.storage.close()
        await sb.storage.close()

    run(main())


def test_a_peer_sending_garbage_ends_the_session(tmp_path: Path) -> None:
    async def main() -> None:
        a, _ = founder_and_member(0)
        sa = await service_for(tmp_path / "a.db", a)
        mine, theirs = pipe()
        session = SyncSession(sa, mine, device(2).public)
        task = asyncio.create_task(session.run())
        await theirs.send(cbor.dumps({"t": "launch-missiles"}))
        with pytest.raises(MalformedPayload):
            await asyncio.wait_for(task, 5)
        before = sa.vault.vector()
        mine2, theirs2 = pipe()
        task = asyncio.create_task(SyncSession(sa, mine2, device(2).public).run())
        forged = bytearray(a.log()[-1])
        forged[-1] ^= 1
        await theirs2.send(cbor.dumps({"t": "ops", "ops": [bytes(forged)]}))
        await asyncio.sleep(0.05)
        mine2.close()
        await asyncio.wait_for(task, 5)
        assert sa.vault.vector() == before
        await sa.storage.close()

    run(main())


def test_a_removed_peer_hands_over_its_ops_and_hears_only_why_it_is_out(tmp_path: Path) -> None:
    async def go() -> None:
        member = Vault.found(device(1), "a", NOW, salt=bytes(16))
        member.add_device(cert(2), "b", NOW)
        member.add_device(cert(3), "c", NOW)
        removed = Vault(member.vault, device(3))
        removed.receive_batch(member.log(), NOW)
        _, unseen = removed.create_account(draft("written unaware"), NOW + 1)
        member.remove_device(device(3).public, NOW + 2)
        _, secret = member.create_account(draft("after the removal"), NOW + 3)
        a = await service_for(tmp_path / "a.db", member)
        c = await service_for(tmp_path / "c.db", removed)
        left, right = pipe()
        restricted = SyncSession(a, left, device(3).public, restricted=True)
        once = SyncSession(c, right, device(1).public, once=True)
        tasks = [asyncio.create_task(restricted.run()), asyncio.create_task(once.run())]
        await asyncio.wait_for(tasks[1], 10)  # it hangs up once it has heard everything
        left.close()
        await asyncio.gather(*tasks, return_exceptions=True)
        assert unseen.hash in a.vault.by_hash  # taken, stored...
        assert not a.vault.membership.counts(unseen)  # ...and counting for nothing
        assert c.vault.removal_of_me() is not None  # told, by ops it checked itself
        assert secret.hash not in c.vault.by_hash  # and sent nothing else
        for s in (a, c):
            await s.storage.close()

    asyncio.run(go())


def test_a_write_after_a_removal_cycle_rotates_first(tmp_path: Path) -> None:
    async def go() -> None:
        a = Vault.found(device(1), "a", NOW, salt=bytes(16))
        a.add_device(cert(2), "b", NOW)
        a.add_device(cert(3), "c", NOW)
        b, c = Vault(a.vault, device(2)), Vault(a.vault, device(3))
        for v in (b, c):
            v.receive_batch(a.log(), NOW)
        mutual = [
            a.remove_device(device(3).public, NOW + 1),
            c.remove_device(device(1).public, NOW),
        ]
        b.receive_batch([o.raw for o in mutual], NOW)
        assert b.needs_rotation()  # every key is known to a device that left
        service = await service_for(tmp_path / "b.db", b)
        try:
            made = await service.write_batch(
                lambda v: [v.create_account(draft("imported"), now_ms())[1]]
            )
            assert not service.vault.needs_rotation()
            assert made[0].epoch == service.vault.membership.current_epoch
            assert len(await service.storage.log()) == len(service.vault.log())
        finally:
            await service.storage.close()

    asyncio.run(go())
