"""The database on a real SQLite file: a fork's second op is kept, and old files migrate."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from tests.unit.fleet import NOW, draft, fleet, forge_as
from twofold.daemon.errors import StoreUnreadable
from twofold.daemon.storage import SCHEMA_VERSION, Contact, Storage
from twofold.protocol.account_write import AccountWrite, FieldWrite
from twofold.protocol.envelope import Op, OpKind

V1_OPS = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE ops (
    author BLOB NOT NULL, seq INTEGER NOT NULL, hlc INTEGER NOT NULL,
    hash BLOB NOT NULL UNIQUE, raw BLOB NOT NULL, UNIQUE (author, seq)
);
CREATE INDEX ops_order ON ops (hlc, author, seq);
PRAGMA user_version=1;
"""


def forked_ops() -> tuple[Op, Op]:
    """Two different ops one device signed with one seq (a copied home run twice)."""
    _, b = fleet(2)
    _, first = b.create_account(draft("first"), NOW + 1)
    _, mine = b.create_account(draft("mine"), NOW + 2)
    write = AccountWrite(b"\x05" * 16, {"note": FieldWrite("theirs", ())})
    twin = forge_as(b, OpKind.ACCOUNT_WRITE, write, mine.hlc + 1, prev=first)
    assert (twin.author, twin.seq) == (mine.author, mine.seq)
    assert twin.hash != mine.hash
    return mine, twin


def test_both_ops_of_a_fork_are_stored_and_read_back(tmp_path: Path) -> None:
    async def go() -> list[bytes]:
        storage = await Storage.open(tmp_path / "twofold.db")
        try:
            mine, theirs = forked_ops()
            await storage.append([mine])
            await storage.append([theirs, mine])
            return await storage.log()
        finally:
            await storage.close()

    stored = asyncio.run(go())
    assert len(stored) == 2
    assert len(set(stored)) == 2


def test_a_version_1_database_is_migrated_with_its_ops(tmp_path: Path) -> None:
    path = tmp_path / "twofold.db"
    mine, theirs = forked_ops()
    with sqlite3.connect(path) as db:
        db.executescript(V1_OPS)
        db.execute(
            "INSERT INTO ops VALUES (?, ?, ?, ?, ?)",
            (mine.author, mine.seq, mine.hlc, mine.hash, mine.raw),
        )

    async def go() -> list[bytes]:
        storage = await Storage.open(path)
        try:
            await storage.append([theirs])
            return await storage.log()
        finally:
            await storage.close()

    assert sorted(asyncio.run(go())) == sorted([mine.raw, theirs.raw])
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


V2_PEERS = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE ops (
    author BLOB NOT NULL, seq INTEGER NOT NULL, hlc INTEGER NOT NULL,
    hash BLOB NOT NULL UNIQUE, raw BLOB NOT NULL
);
CREATE INDEX ops_order ON ops (hlc, author, seq);
CREATE TABLE peers (device BLOB PRIMARY KEY, host TEXT NOT NULL, port INTEGER NOT NULL)
    WITHOUT ROWID;
CREATE TABLE evidence (first BLOB NOT NULL, second BLOB NOT NULL, PRIMARY KEY (first, second))
    WITHOUT ROWID;
PRAGMA user_version=2;
"""


def test_a_version_2_database_migrates_its_addresses_into_remembered_contacts(
    tmp_path: Path,
) -> None:
    path = tmp_path / "twofold.db"
    mine, _ = forked_ops()
    with sqlite3.connect(path) as db:
        db.executescript(V2_PEERS)
        db.execute("INSERT INTO peers VALUES (?, ?, ?)", (b"\x07" * 32, "192.168.1.20", 7700))
        db.execute(
            "INSERT INTO ops VALUES (?, ?, ?, ?, ?)",
            (mine.author, mine.seq, mine.hlc, mine.hash, mine.raw),
        )

    async def go() -> dict[bytes, Contact]:
        storage = await Storage.open(path)
        try:
            assert await storage.log() == [mine.raw]
            assert await storage.peers() == {b"\x07" * 32: ("192.168.1.20", 7700)}
            return await storage.contacts()
        finally:
            await storage.close()

    assert asyncio.run(go()) == {
        b"\x07" * 32: Contact(host="192.168.1.20", port=7700, found_by="pairing")
    }
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,) == (3,)


def test_a_contact_is_kept_across_a_reopen_and_an_unreadable_vector_is_no_estimate(
    tmp_path: Path,
) -> None:
    path = tmp_path / "twofold.db"
    seen = Contact(
        host="10.0.0.5",
        port=None,
        found_by="incoming",
        last_seen=1_700_000_000.5,
        last_sync=1_699_999_999.0,
        holds={b"\x01" * 32: 4, b"\x02" * 32: 9},
        holds_at=1_700_000_000.5,
    )

    async def write() -> None:
        storage = await Storage.open(path)
        try:
            await storage.save_contact(b"\x09" * 32, seen)
            await storage.save_contact(b"\x08" * 32, Contact(found_by="static", holds={}))
        finally:
            await storage.close()

    async def read() -> dict[bytes, Contact]:
        storage = await Storage.open(path)
        try:
            return await storage.contacts()
        finally:
            await storage.close()

    asyncio.run(write())
    assert asyncio.run(read())[b"\x09" * 32] == seen
    with sqlite3.connect(path) as db:
        db.execute("UPDATE contacts SET holds = ? WHERE device = ?", (b"\xff\x00", b"\x09" * 32))
    damaged = asyncio.run(read())[b"\x09" * 32]
    assert (damaged.holds, damaged.holds_at, damaged.last_seen) == (None, None, seen.last_seen)


def _open_fails(path: Path) -> str:
    async def go() -> None:
        storage = await Storage.open(path)
        await storage.close()

    try:
        asyncio.run(go())
    except StoreUnreadable as exc:
        return str(exc)
    raise AssertionError("opened")


def test_a_migration_that_fails_partway_is_undone_and_said_plainly(tmp_path: Path) -> None:
    path = tmp_path / "twofold.db"
    with sqlite3.connect(path) as db:
        db.executescript(V2_PEERS)
        db.execute("CREATE TABLE contacts (device BLOB)")  # the migration's CREATE fails on it
        db.execute("INSERT INTO peers VALUES (?, ?, ?)", (b"\x07" * 32, "192.168.1.20", 7700))
    message = _open_fails(path)
    assert "schema 2" in message
    assert "left as it was" in message
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (2,)
        assert db.execute("SELECT count(*) FROM peers").fetchone() == (1,)
    # Control: without the stray table, the same file migrates.
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE contacts")

    async def reopen() -> None:
        await (await Storage.open(path)).close()

    asyncio.run(reopen())
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


def test_a_newer_file_or_one_that_is_no_database_is_refused_and_left_alone(
    tmp_path: Path,
) -> None:
    newer = tmp_path / "newer.db"
    with sqlite3.connect(newer) as db:
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    assert "newer Twofold" in _open_fails(newer)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    before = junk.read_bytes()
    assert "cannot be opened" in _open_fails(junk)
    assert junk.read_bytes() == before
