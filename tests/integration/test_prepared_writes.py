"""A write is prepared, stored, then applied: when the disk refuses it, memory is left as the
disk is, with no reload, and the next write takes the place the refused one would have."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from tests.integration.test_transfer import URIS
from twofold.daemon.errors import StorageFailed
from twofold.daemon.keystore import StoreKey
from twofold.daemon.storage import Storage
from twofold.daemon.vault_service import VaultService, now_ms
from twofold.protocol.envelope import Op
from twofold.protocol.otpauth import parse_uri
from twofold.protocol.vault import Vault


def seen(v: Vault) -> object:
    views = [(x.id, x.issuer, x.name, x.note, x.counter, x.deleted) for x in v.state.views()]
    return views, v.log(), v.clock.last, v.vector(), sorted(v.membership.members)


def refuse_writes(path: Path, refuse: bool) -> None:
    """Another program makes the ops table refuse inserts: a real SQLite error, raised inside
    the daemon's transaction, as a full disk or a read-only file would."""
    db = sqlite3.connect(path)
    try:
        if refuse:
            db.execute(
                "CREATE TRIGGER refuse BEFORE INSERT ON ops "
                "BEGIN SELECT RAISE(ABORT, 'the disk is full'); END"
            )
        else:
            db.execute("DROP TRIGGER refuse")
        db.commit()
    finally:
        db.close()


def test_a_write_the_disk_refuses_changes_nothing_in_memory(tmp_path: Path) -> None:
    path = tmp_path / "vault.db"

    async def go() -> None:
        storage = await Storage.open(path)
        try:
            service = await VaultService.open(storage, StoreKey(bytes(32), "file"), "laptop")
            first = await service.create_from_uri(URIS[0], None, None)
            feed = service.feed()
            before = seen(service.vault)
            logged = len(service.vault.log())
            vault = service.vault

            refuse_writes(path, True)
            with pytest.raises(StorageFailed):
                await service.update(first.id.hex(), {"note": "lost"})
            with pytest.raises(StorageFailed):
                await service.create_from_uri(URIS[1], None, None)

            def batch(v: Vault) -> list[Op]:
                return [
                    v.create_account(parse_uri(URIS[2]), now_ms())[1],
                    v.create_account(parse_uri(URIS[3]), now_ms(), trashed=True)[1],
                ]

            with pytest.raises(StorageFailed):
                await service.write_batch(batch)
            assert service.vault is vault, "memory was never rebuilt"
            assert seen(service.vault) == before

            refuse_writes(path, False)
            await service.update(first.id.hex(), {"note": "kept"})
            added = await service.write_batch(batch)
            pushed = await feed.get()
            assert pushed[0].seq == logged + 1, "the refused writes took no place"
            assert [op.raw for op in pushed[1:]] == [op.raw for op in added]

            on_disk = await storage.log()
            restored, report = Vault.restore(vault.vault, vault.device, on_disk)
            assert not report.refused
            assert seen(restored)[:2] == seen(service.vault)[:2]
            assert restored.graph.forks == {}
            mine = restored.chains[vault.device.public]
            assert [op.seq for op in mine] == list(range(1, len(mine) + 1))
            assert [v.note for v in service.vault.accounts() if v.id == first.id] == ["kept"]
            assert len(service.vault.trash()) == 1
        finally:
            await storage.close()

    asyncio.run(go())
