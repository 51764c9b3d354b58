"""Two members' sync sessions joined in memory: catch-up, live push, relay, and bad peers.

Real VaultServices over real SQLite files; only the socket is replaced, by a
pair of queues, so the sync logic is tested apart from TLS and HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.unit.fleet import NOW, cert, device, draft
from tests.unit.test_held_ops import junk_op
from twofold.daemon.storage import Storage
from twofold.daemon.sync import PAGE_OPS, SyncSession
from twofold.daemon.vault_service import VaultService, now_ms
from twofold.protocol import cbor, replica
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


class Reversing(MemoryChannel):
    """A channel that, once armed with n, holds back the next n ops it is to send and then
    sends them one per message, newest first: what relays and lost pushes do to an order."""

    def __init__(self, inbox: asyncio.Queue[bytes | None], outbox: asyncio.Queue[bytes | None]):
        super().__init__(inbox, outbox)
        self.armed = 0
        self.held: list[bytes] = []

    async def send(self, data: bytes) -> None:
        message = cbor.loads(data, "test")
        if not self.armed or message["t"] != "ops":
            await super().send(data)
            return
        self.held.extend(message["ops"])
        if len(self.held) >= self.armed:
            self.armed = 0
            held, self.held = self.held, []
            for raw in reversed(held):
                await super().send(cbor.dumps({"t": "ops", "ops": [raw]}))


@contextlib.asynccontextmanager
async def linked(
    x: VaultService,
    y: VaultService,
    wrap: Callable[[MemoryChannel], MemoryChannel] = lambda c: c,
) -> AsyncIterator[tuple[SyncSession, SyncSession]]:
    left, right = pipe()
    left = wrap(left)
    sx = SyncSession(x, left, y.vault.device.public)
    sy = SyncSession(y, right, x.vault.device.public)
    tasks = [asyncio.create_task(sx.run()), asyncio.create_task(sy.run())]
    try:
        await asyncio.wait_for(asyncio.gather(sx.caught_up.wait(), sy.caught_up.wait()), 10)
        yield sx, sy
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


# -- held-back ops: bounded by bytes and by source, gone with their session --------------


async def converged(x: VaultService, y: VaultService) -> None:
    """Until y holds what x holds and waits for nothing: woken by what y publishes."""
    listener = y.events.subscribe()
    try:
        while x.vault.vector() != y.vault.vector() or y.vault.pending:
            await listener.get()  # y applied a batch (a "sync" or "accounts" event)
    finally:
        listener.close()


async def until_caught_up(channel: MemoryChannel) -> None:
    """Read what the victim sends until it answers our vector: all we sent before is in."""
    while (data := await channel.receive()) is not None:
        if cbor.loads(data, "test")["t"] == "caught-up":
            return
    raise AssertionError("the session ended")


def test_a_member_flooding_held_ops_gets_its_share_and_loses_it_when_it_hangs_up(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        a, _ = founder_and_member(1)
        victim = await service_for(tmp_path / "a.db", a)
        before = (a.vector(), len(a.by_hash))
        mine, theirs = pipe()
        session = SyncSession(victim, mine, device(2).public)
        task = asyncio.create_task(session.run())
        # Validly signed 64 KiB ops with random prevs: by throwaway keys (nobody added them),
        # then by the member's own key, twice its share of bytes.
        share = replica.MAX_HELD_BYTES_PER_PEER
        throwaway = [junk_op(a) for _ in range(64)]
        own = [junk_op(a, device(2)) for _ in range(2 * share // len(throwaway[0]))]
        flood = throwaway + own
        for start in range(0, len(flood), 30):
            await theirs.send(cbor.dumps({"t": "ops", "ops": flood[start : start + 30]}))
        await theirs.send(cbor.dumps({"t": "vector", "v": {}, "h": {}}))
        await asyncio.wait_for(until_caught_up(theirs), 30)
        assert not task.done()  # nothing the peer sent was an error: the session goes on
        assert 0 < session.held_peak <= share
        assert victim.vault.held_bytes <= share
        assert session.not_held["UnknownAuthor"] == len(throwaway)
        assert session.not_held["PendingLimit"] == len(flood) - len(throwaway) - len(
            victim.vault.pending
        )
        mine.close()  # the peer hangs up
        await asyncio.wait_for(task, 10)
        assert victim.vault.pending == {}
        assert victim.vault.held_bytes == 0
        assert victim.vault.waiting == {}
        assert (a.vector(), len(a.by_hash)) == before
        await victim.storage.close()

    run(main())


@pytest.mark.parametrize("scene", ["prev-on-the-way", "addition-after-its-devices-ops"])
def test_an_honest_peer_whose_ops_were_not_held_still_converges(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scene: str
) -> None:
    monkeypatch.setattr(replica, "MAX_HELD_OPS_PER_PEER", 1)  # every wait but one is refused

    async def main() -> None:
        a, b = founder_and_member(2)
        sa, sb = await service_for(tmp_path / "a.db", a), await service_for(tmp_path / "b.db", b)
        channels: list[Reversing] = []

        def reversing(c: MemoryChannel) -> MemoryChannel:
            channels.append(Reversing(c.inbox, c.outbox))
            return channels[0]

        async with linked(sa, sb, reversing) as (_, session):
            if scene == "prev-on-the-way":
                channels[0].armed = 5  # a's next five ops reach b newest first
                for i in range(5):
                    await sa.create_from_fields({"issuer": f"late {i}", "secret": "JBSWY3DP"})
            else:
                channels[0].armed = 4  # c's ops reach b before the op that added c
                await sa.add_device(cert(3), "c")
                c = Vault(a.vault, device(3))
                c.receive_batch(sa.vault.log(), now_ms())
                made = [c.create_account(draft(f"c{i}"), now_ms())[1] for i in range(3)]
                await sa.receive([op.raw for op in made])  # from c; a relays them to b
            await asyncio.wait_for(converged(sa, sb), 10)
            assert sb.vault.held_bytes == 0
            reason = "PendingLimit" if scene == "prev-on-the-way" else "UnknownAuthor"
            assert session.not_held[reason] >= 1  # b did drop some, and asked for them again
        assert [v.issuer for v in sa.vault.state.views()] == [
            v.issuer for v in sb.vault.state.views()
        ]
        assert set(await sb.storage.log()) == set(sa.vault.log())
        for s in (sa, sb):
            await s.storage.close()

    run(main())


def test_a_cancel_as_the_peer_hangs_up_ends_the_session_cancelled(tmp_path: Path) -> None:
    """A stop that cancels a session just as its peer closes is never swallowed.

    The cancel lands at every step of the session's ending in turn (k loop turns after the
    close): whenever it comes before run() has returned, run() ends cancelled, so a dialer
    cannot take a stop for a finished session and dial again.
    """

    async def main() -> None:
        a, _ = founder_and_member(0)
        sa = await service_for(tmp_path / "a.db", a)
        outcomes = set()
        for k in range(16):
            mine, theirs = pipe()
            task = asyncio.create_task(SyncSession(sa, mine, device(2).public).run())
            assert await theirs.receive() is not None  # its vector: the session is up
            mine.close()  # the peer hangs up...
            for _ in range(k):
                await asyncio.sleep(0)
            cancelling = task.cancel()  # ...as a stop cancels the session
            await asyncio.wait([task], timeout=5)
            assert task.done()
            if cancelling:
                assert task.cancelled(), f"cancel swallowed {k} turns after the close"
            else:
                assert task.result() is None
            outcomes.add(cancelling)
        assert outcomes == {True, False}  # the steps covered run from the close to the end
        assert not sa._feeds  # every session let go of its feed
        await sa.storage.close()

    run(main())


# -- acks: what the peer holds is known exactly while connected --------------------------


def lacks(vault: Vault, session: SyncSession) -> int:
    """What the local API's `lacks` counts: ops held here that the session's peer does not."""
    return sum(max(0, len(c) - session.holds.get(a, 0)) for a, c in vault.chains.items())


def test_the_receiver_acks_what_it_applied_so_lacks_is_exact_at_once(tmp_path: Path) -> None:
    async def main() -> None:
        a, b = founder_and_member(3)
        sa, sb = await service_for(tmp_path / "a.db", a), await service_for(tmp_path / "b.db", b)
        async with linked(sa, sb) as (on_a, on_b):
            assert lacks(sa.vault, on_a) == 0  # b acked the catch-up it applied
            for i in range(5):
                await sa.create_from_fields({"issuer": f"new {i}", "secret": "JBSWY3DPEHPK3PXP"})
            await settle(sa, sb)
            for _ in range(200):  # the acks are a round trip behind, not 60 s
                if lacks(sa.vault, on_a) == 0:
                    break
                await asyncio.sleep(0.005)
            assert lacks(sa.vault, on_a) == 0
            assert on_a.holds_at is not None
            await sb.create_from_fields({"issuer": "from b", "secret": "JBSWY3DPEHPK3PXP"})
            await settle(sa, sb)
            await asyncio.sleep(0.05)
            assert lacks(sb.vault, on_b) == 0  # b's op came from b: a holds what b sent it
        for s in (sa, sb):
            await s.storage.close()

    run(main())


def test_an_ack_names_only_the_authors_that_moved_and_none_is_sent_for_nothing(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        a, b = founder_and_member(1)
        sa = await service_for(tmp_path / "a.db", a)
        mine, theirs = pipe()
        session = SyncSession(sa, mine, device(2).public)
        task = asyncio.create_task(session.run())

        async def next_message() -> dict:  # type: ignore[type-arg]
            data = await asyncio.wait_for(theirs.receive(), 5)
            assert data is not None
            return cbor.loads(data, "test")  # type: ignore[no-any-return]

        assert (await next_message())["t"] == "vector"
        _, op = b.create_account(draft("from b"), NOW + 10)
        await theirs.send(cbor.dumps({"t": "ops", "ops": [op.raw]}))
        assert await next_message() == {"t": "ack", "v": {op.author: op.seq}}
        assert session.holds[op.author] == op.seq  # it sent it, so it holds it
        await theirs.send(cbor.dumps({"t": "ops", "ops": [op.raw]}))  # a duplicate: no ack
        await theirs.send(cbor.dumps({"t": "vector", "v": {}, "h": {}}))
        kinds = []
        while (message := await next_message())["t"] != "caught-up":
            kinds.append(message["t"])
        assert "ack" not in kinds
        assert set(kinds) == {"ops"}
        me = a.device.public
        await theirs.send(cbor.dumps({"t": "ack", "v": {me: len(sa.vault.chains[me])}}))
        await asyncio.sleep(0.05)
        assert lacks(sa.vault, session) == 0
        await theirs.send(cbor.dumps({"t": "ack", "v": {b"short": 1}}))  # not a vector
        with pytest.raises(MalformedPayload):
            await asyncio.wait_for(task, 5)
        await sa.storage.close()

    run(main())
