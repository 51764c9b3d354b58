"""What a thief does with a stolen, stopped device: sign ops with its key, any clock it likes.

It opens the home as the daemon would (the key file, since tests keep the store key in a
file), rebuilds the vault from the stored log, signs an op that Twofold's own software
would never write, and appends it to the database. Started again, the daemon pushes it to
every peer like any other op of its log.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from tests.unit.fleet import forge_as, removal_body
from twofold.daemon import keystore
from twofold.daemon.home import Home
from twofold.daemon.vault_service import _SEED_LABEL
from twofold.protocol.envelope import Op, OpKind
from twofold.protocol.identity import DeviceKey, display_id
from twofold.protocol.membership_bodies import Body
from twofold.protocol.vault import Vault


def open_home(home: Path) -> Vault:
    """The vault of a stopped daemon's home, as its daemon would load it."""
    with sqlite3.connect(home / "twofold.db") as db:
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        log = [bytes(r[0]) for r in db.execute("SELECT raw FROM ops ORDER BY hlc, author, seq")]
    store_key = keystore.load(Home(home), "file", meta["store_key_source"].decode())
    device = DeviceKey(store_key.open(meta["device_seed"], _SEED_LABEL))
    vault, report = Vault.restore(meta["vault_id"], device, log)
    assert not report.refused
    return vault


def append(home: Path, op: Op) -> None:
    """Store an op in the home's log, as its daemon stores the ops it writes."""
    with sqlite3.connect(home / "twofold.db") as db:
        db.execute(
            "INSERT INTO ops (author, seq, hlc, hash, raw) VALUES (?, ?, ?, ?, ?)",
            (op.author, op.seq, op.hlc, op.hash, op.raw),
        )


def key_of(vault: Vault, device_id: str) -> bytes:
    """A device's public key from its ID as the API shows it."""
    return next(k for k in vault.membership.added if display_id(k) == device_id)


def sign_backdated(home: Path, kind: OpKind, make: Callable[[Vault], Body]) -> Op:
    """Sign an op with a clock just after the device's own last op, which sorts it before
    anything the device's owner did since: the earliest clock its chain allows."""
    vault = open_home(home)
    last = vault.chains[vault.device.public][-1]
    op = forge_as(vault, kind, make(vault), last.hlc + 1)
    append(home, op)
    return op


def backdated_removal(home: Path, target_id: str) -> Op:
    """The stolen device removes `target_id`, naming what it holds of it, backdated."""
    return sign_backdated(
        home, OpKind.DEVICE_REMOVED, lambda v: removal_body(v, key_of(v, target_id))
    )
