"""The database on a real SQLite file: a fork's second op is kept, and old files migrate."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from tests.unit.fleet import NOW, draft, fleet, forge_as
from twofold.daemon.storage import SCHEMA_VERSION, Storage
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
