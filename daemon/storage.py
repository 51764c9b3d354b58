"""The database: one SQLite file holding the op log, exactly as the ops were signed.

WAL with synchronous=FULL: once `append` returns, the ops survive a crash or a
power cut, so the API acknowledges a write only after it. Each call is one
transaction: a batch of received ops lands whole or not at all.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

from twofold.protocol import cbor
from twofold.protocol.envelope import Op
from twofold.protocol.errors import MalformedPayload
from twofold.protocol.vector import VersionVector

from .errors import StoreUnreadable

SCHEMA_VERSION = 3
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;
-- A rowid table: ops are ~300-400 bytes, too large for WITHOUT ROWID to pay off.
-- An op is known by its hash: a forked author has two ops with one seq, and both are kept.
CREATE TABLE IF NOT EXISTS ops (
    author BLOB NOT NULL,
    seq    INTEGER NOT NULL,
    hlc    INTEGER NOT NULL,
    hash   BLOB NOT NULL UNIQUE,
    raw    BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS ops_order ON ops (hlc, author, seq);
CREATE TABLE IF NOT EXISTS peers (
    device BLOB PRIMARY KEY,
    host   TEXT NOT NULL,
    port   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS evidence (
    first  BLOB NOT NULL,
    second BLOB NOT NULL,
    PRIMARY KEY (first, second)
) WITHOUT ROWID;
-- What this device remembers of each other member, offline ones included (schema 3).
CREATE TABLE IF NOT EXISTS contacts (
    device    BLOB PRIMARY KEY,
    host      TEXT,     -- where it was last reached, or connected from
    port      INTEGER,  -- NULL for an address it connected from (its port was an ephemeral one)
    found_by  TEXT,     -- how that address was found: pairing, static, mdns, incoming
    last_seen REAL,     -- Unix seconds: its connection was last known alive
    last_sync REAL,     -- Unix seconds: the last exchange of ops or acknowledgements
    holds     BLOB,     -- CBOR {author: seq}: what it was last known to hold
    holds_at  REAL      -- Unix seconds: when `holds` was last known
) WITHOUT ROWID;
"""


# Schema 1 kept one op per (author, seq), so the second op of a fork was dropped: rebuild the
# table with the op's hash as its only key.
_FROM_V1 = """
BEGIN IMMEDIATE;
CREATE TABLE ops_v2 (
    author BLOB NOT NULL,
    seq    INTEGER NOT NULL,
    hlc    INTEGER NOT NULL,
    hash   BLOB NOT NULL UNIQUE,
    raw    BLOB NOT NULL
);
INSERT INTO ops_v2 (author, seq, hlc, hash, raw) SELECT author, seq, hlc, hash, raw FROM ops;
DROP TABLE ops;
ALTER TABLE ops_v2 RENAME TO ops;
PRAGMA user_version=2;
COMMIT;
"""

# Schema 3 remembers every member's last address, how it was found, when it was last seen and
# synced and what it held; the addresses schema 2 kept (saved when joining) seed it.
_FROM_V2 = """
BEGIN IMMEDIATE;
CREATE TABLE contacts (
    device    BLOB PRIMARY KEY,
    host      TEXT,
    port      INTEGER,
    found_by  TEXT,
    last_seen REAL,
    last_sync REAL,
    holds     BLOB,
    holds_at  REAL
) WITHOUT ROWID;
-- a file just migrated from schema 1 had no peers table yet
CREATE TABLE IF NOT EXISTS peers (
    device BLOB PRIMARY KEY,
    host   TEXT NOT NULL,
    port   INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO contacts (device, host, port, found_by) SELECT device, host, port, 'pairing' FROM peers;
PRAGMA user_version=3;
COMMIT;
"""


async def _upgrade(db: aiosqlite.Connection, path: Path) -> None:
    """Bring the file to this schema, one migration a transaction; a failed one is undone."""
    version = 0
    try:
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=FULL")
        await db.execute("PRAGMA busy_timeout=5000")
        await db.execute("PRAGMA secure_delete=ON")  # a replaced sealed key leaves no trace
        row = await (await db.execute("PRAGMA user_version")).fetchone()
        version = 0 if row is None else int(row[0])
        if version > SCHEMA_VERSION:
            raise StoreUnreadable(
                f"{path} was written by a newer Twofold (schema {version}, this one knows "
                f"{SCHEMA_VERSION}): run that version, or restore a backup into a new home"
            )
        if version == 1:
            await db.executescript(_FROM_V1)
            version = 2
        if version == 2:
            await db.executescript(_FROM_V2)
            version = 3
        await db.executescript(_SCHEMA)
        await db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    except sqlite3.Error as exc:
        if db.in_transaction:
            await db.rollback()
        raise StoreUnreadable(
            f"{path} cannot be opened at schema {version}: {exc}; it was left as it was"
        ) from exc


async def _close(db: aiosqlite.Connection) -> None:
    """Close, and let aiosqlite's worker thread finish: a refused file leaves no thread."""
    await db.close()
    worker = getattr(db, "_thread", None)
    if worker is not None:
        worker.join(1.0)  # it has already been told to stop: this is its last instant


@dataclass
class Contact:
    """What this device remembers of another member across restarts."""

    host: str | None = None
    port: int | None = None
    found_by: str | None = None
    last_seen: float | None = None
    last_sync: float | None = None
    holds: dict[bytes, int] | None = None
    holds_at: float | None = None


class Storage:
    """The op log and a little metadata, behind aiosqlite's worker thread."""

    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self._db = db
        self.path = path

    @classmethod
    async def open(cls, path: Path) -> Storage:
        """Open (or create) the database with the durability the API promises."""
        db = await aiosqlite.connect(path, isolation_level=None)
        try:
            await _upgrade(db, path)
        except BaseException:
            await _close(db)
            raise
        return cls(db, path)

    async def close(self) -> None:
        """Checkpoint and close, and let aiosqlite's worker thread finish."""
        await _close(self._db)

    async def set_aside(self, aside: Path) -> Storage:
        """Close this file, move it (and nothing of its WAL: closing checkpointed it) to
        `aside`, and open a new, empty database where it was; the new one."""
        await self.close()
        self.path.rename(aside)
        for suffix in ("-wal", "-shm"):
            self.path.with_name(self.path.name + suffix).unlink(missing_ok=True)
        return await Storage.open(self.path)

    async def get_meta(self, key: str) -> bytes | None:
        """One metadata value."""
        row = await (
            await self._db.execute("SELECT value FROM meta WHERE key=?", (key,))
        ).fetchone()
        return None if row is None else bytes(row[0])

    async def initialise(self, meta: dict[str, bytes], ops: Iterable[Op]) -> None:
        """A new vault: its metadata and first ops in one transaction."""
        async with self._transaction():
            await self._db.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)", list(meta.items())
            )
            await self._insert(ops)

    async def append(self, ops: Iterable[Op]) -> None:
        """Store ops durably; ops already stored are skipped."""
        async with self._transaction():
            await self._insert(ops)

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[None]:
        """One write transaction: committed (and fsynced) on success, rolled back otherwise."""
        await self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            await self._db.execute("ROLLBACK")
            raise
        await self._db.execute("COMMIT")

    async def _insert(self, ops: Iterable[Op]) -> None:
        await self._db.executemany(
            "INSERT OR IGNORE INTO ops (author, seq, hlc, hash, raw) VALUES (?, ?, ?, ?, ?)",
            [(op.author, op.seq, op.hlc, op.hash, op.raw) for op in ops],
        )

    async def log(self) -> list[bytes]:
        """Every stored op, dependencies first."""
        cursor = await self._db.execute("SELECT raw FROM ops ORDER BY hlc, author, seq")
        return [bytes(row[0]) for row in await cursor.fetchall()]

    async def set_meta(self, key: str, value: bytes) -> None:
        """Set one metadata value."""
        await self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    async def replace_meta(self, values: dict[str, bytes], remove: tuple[str, ...] = ()) -> None:
        """Set and remove metadata in one transaction, then leave no old copy in the WAL.

        For sealed keys: secure_delete zeroes the replaced values in their pages, and the
        checkpoint copies the new pages into the file and truncates the WAL, which held the
        old ones too.
        """
        async with self._transaction():
            await self._db.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                list(values.items()),
            )
            await self._db.executemany("DELETE FROM meta WHERE key = ?", [(k,) for k in remove])
        await self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    async def save_peer(self, device: bytes, host: str, port: int) -> None:
        """Remember where a member was last reached."""
        await self._db.execute(
            "INSERT INTO peers (device, host, port) VALUES (?, ?, ?) "
            "ON CONFLICT (device) DO UPDATE SET host = excluded.host, port = excluded.port",
            (device, host, port),
        )

    async def peers(self) -> dict[bytes, tuple[str, int]]:
        """Every member address remembered."""
        rows = await (await self._db.execute("SELECT device, host, port FROM peers")).fetchall()
        return {bytes(d): (str(h), int(p)) for d, h, p in rows}

    async def add_evidence(self, first: bytes, second: bytes) -> None:
        """Keep both ops of a fork, for the person to see."""
        await self._db.execute(
            "INSERT OR IGNORE INTO evidence (first, second) VALUES (?, ?)", (first, second)
        )

    async def save_contact(self, device: bytes, contact: Contact) -> None:
        """Remember what this device knows of a member now (one small autocommitted row)."""
        holds = None if contact.holds is None else cbor.dumps(contact.holds)
        await self._db.execute(
            "INSERT OR REPLACE INTO contacts "
            "(device, host, port, found_by, last_seen, last_sync, holds, holds_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                device,
                contact.host,
                contact.port,
                contact.found_by,
                contact.last_seen,
                contact.last_sync,
                holds,
                contact.holds_at,
            ),
        )

    async def contacts(self) -> dict[bytes, Contact]:
        """Every member remembered; a row that cannot be read is remembered as nothing."""
        rows = await (
            await self._db.execute(
                "SELECT device, host, port, found_by, last_seen, last_sync, holds, holds_at "
                "FROM contacts"
            )
        ).fetchall()
        out: dict[bytes, Contact] = {}
        for device, host, port, found_by, seen, synced, holds, holds_at in rows:
            vector: dict[bytes, int] | None = None
            if holds is not None:
                with contextlib.suppress(MalformedPayload):
                    vector = dict(VersionVector.from_wire(cbor.loads(bytes(holds), "contact")))
            out[bytes(device)] = Contact(
                host=host,
                port=port,
                found_by=found_by,
                last_seen=seen,
                last_sync=synced,
                holds=vector,
                holds_at=holds_at if vector is not None else None,
            )
        return out
