"""Passphrase mode with real daemons: a copy of the home opens nothing, and the person's
path through set, lock, unlock, change and remove keeps the vault whole."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.eventually import eventually
from tests.integration.daemon import Daemon
from tests.integration.test_at_rest import forms, held_keys
from tests.integration.test_cli import twofold
from tests.integration.test_pairing import add, issuers, joined
from tests.integration.thief import open_home
from twofold.daemon import keystore
from twofold.daemon.home import Home
from twofold.daemon.keystore import StoreKey, StoreKeyUnavailable
from twofold.daemon.vault_service import _SEED_LABEL

PASSPHRASE = "correct horse battery staple"
SECRETS = [bytes([i + 7]) * 3 + b"locked-away-%d" % i for i in range(4)]


def fill(d: Daemon) -> dict[str, dict[str, Any]]:
    """Accounts with secrets, names, issuers and notes to look for; their IDs."""
    made = {}
    for i, secret in enumerate(SECRETS):
        body = {
            "issuer": f"Issuer-{i}-Quokka",
            "name": f"person{i}@wombat.example",
            "secret": base64.b32encode(secret).decode().rstrip("="),
            "note": f"the spare codes are under the vase {i}",
        }
        r = d.request("POST", "/accounts", body)
        assert r.status == 201, r.body
        made[r.body["id"]] = body
    return made


def codes(d: Daemon) -> dict[str, str]:
    r = d.request("GET", "/codes")
    assert r.status == 200, r.body
    return {c["account_id"]: c["code"] for c in r.body["codes"]}


def set_passphrase(d: Daemon, passphrase: str = PASSPHRASE, **more: str) -> None:
    r = d.request("PUT", "/passphrase", {"passphrase": passphrase, **more})
    assert r.status == 200, r.body
    assert r.body == {"passphrase": True, "lock_after": 15}


def unlock(d: Daemon, passphrase: str = PASSPHRASE) -> None:
    r = d.request("POST", "/unlock", {"passphrase": passphrase})
    assert r.status == 200, r.body


def assert_locked(d: Daemon) -> None:
    status = d.request("GET", "/status").body
    assert status["locked"] is True
    assert set(status) == {"version", "locked", "passphrase", "lock_after", "device", "started_at"}
    for path in ("/codes", "/accounts", "/devices", "/trash"):
        r = d.request("GET", path)
        assert r.status == 423, (path, r.body)
        assert r.body["type"] == "urn:twofold:problem:locked"
    r = d.request("POST", "/invitations", {})  # pairing needs the inviting device unlocked
    assert r.status == 423, r.body


@pytest.fixture
def locked_home(tmp_path: Path) -> Iterator[tuple[Daemon, dict[str, dict[str, Any]], list[bytes]]]:
    """A daemon whose vault holds accounts and then got a passphrase; the keys it holds."""
    d = Daemon(tmp_path / "laptop").start()
    try:
        made = fill(d)
        assert d.stop() == 0
        seed, epoch_keys = asyncio.run(held_keys(Home(d.home)))
        d.start()
        set_passphrase(d)
        yield d, made, [seed, *epoch_keys]
    finally:
        d.kill()


def every_form(made: dict[str, dict[str, Any]], keys: list[bytes]) -> set[bytes]:
    needles = {f for s in SECRETS for f in forms(s)} | {f for k in keys for f in forms(k)}
    for body in made.values():
        needles |= {body[k].encode() for k in ("issuer", "name", "note")}
    return needles


def search(folder: Path, needles: set[bytes]) -> None:
    for path in (p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        for needle in needles:
            assert needle not in data, f"{needle!r} is in {path.relative_to(folder)}"


def no_window_opens_the_seed(folder: Path) -> None:
    """No 32 bytes anywhere in the copy, at any offset, open the sealed device key: the
    store key is in no file, not in the clear and not as any window of any file."""
    with sqlite3.connect(folder / "twofold.db") as db:
        sealed = bytes(db.execute("SELECT value FROM meta WHERE key='device_seed'").fetchone()[0])
    tried = 0
    for path in (p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        for at in range(max(0, len(data) - 31)):
            tried += 1
            try:
                StoreKey(data[at : at + 32], "file").open(sealed, _SEED_LABEL)
            except StoreKeyUnavailable:
                continue
            raise AssertionError(f"{path.name} holds the store key at offset {at}")
    assert tried > 10_000  # the database at least was searched


def test_a_copy_of_a_locked_home_opens_nothing(
    locked_home: tuple[Daemon, dict[str, dict[str, Any]], list[bytes]], tmp_path: Path
) -> None:
    d, made, keys = locked_home
    live = tmp_path / "copy-live"
    shutil.copytree(d.home, live)  # while it runs, unlocked: the WAL and the TLS key too
    assert d.request("POST", "/lock").status == 200
    locked = tmp_path / "copy-locked"
    shutil.copytree(d.home, locked)
    assert d.stop() == 0
    stopped = tmp_path / "copy-stopped"
    shutil.copytree(d.home, stopped)
    needles = every_form(made, keys)
    for copy in (live, locked, stopped):
        assert not (copy / "store.key").exists()
        search(copy, needles)
        no_window_opens_the_seed(copy)
        with pytest.raises(StoreKeyUnavailable):
            open_home(copy)  # the thief's way in, which works on a home without a passphrase
    assert not (locked / "tls" / "device.key").exists()
    thief = Daemon(stopped).start()  # the copy, run by someone without the passphrase
    try:
        assert_locked(thief)
        assert thief.request("GET", "/status").body["device"] == {"name": "laptop"}
        assert json.loads((stopped / "api.json").read_text())["peer_port"] == d.peer_port
    finally:
        thief.kill()


def test_unlock_after_a_restart_gives_every_code(
    locked_home: tuple[Daemon, dict[str, dict[str, Any]], list[bytes]],
) -> None:
    d, made, _ = locked_home
    before = codes(d)
    assert set(before) == set(made)
    assert (d.home / "tls" / "device.key").exists()
    assert d.stop() == 0
    assert not (d.home / "tls" / "device.key").exists()  # its password went with the daemon
    d.start()
    assert_locked(d)
    assert "the vault is locked" in d.stderr()
    unlock(d)
    assert set(codes(d)) == set(made)
    accounts = {a["id"]: a for a in d.request("GET", "/accounts").body["accounts"]}
    for account_id, body in made.items():
        assert accounts[account_id]["issuer"] == body["issuer"]
        assert accounts[account_id]["note"] == body["note"]
    status = d.request("GET", "/status").body
    assert (status["locked"], status["passphrase"], status["accounts"]) == (False, True, 4)
    peer_port = json.loads((d.home / "api.json").read_text())["peer_port"]
    assert peer_port == d.peer_port  # the same port as before the restart, now listening


def test_a_wrong_passphrase_is_refused_with_a_growing_wait(
    locked_home: tuple[Daemon, dict[str, dict[str, Any]], list[bytes]],
) -> None:
    d, _, _ = locked_home
    assert d.request("POST", "/lock").status == 200
    waits = []
    for _ in range(2):
        r = d.request("POST", "/unlock", {"passphrase": "not the passphrase"})
        assert r.status == 422, r.body
        assert (r.body["type"], r.body["field"]) == (
            "urn:twofold:problem:wrong-passphrase",
            "passphrase",
        )
        r = d.request("POST", "/unlock", {"passphrase": PASSPHRASE})  # even the right one waits
        assert r.status == 429, r.body
        assert r.body["type"] == "urn:twofold:problem:too-soon"
        assert r.headers["Retry-After"] == str(r.body["retry_after"])
        waits.append(r.body["retry_after"])
        ready = time.monotonic() + r.body["retry_after"]
        eventually(lambda ready=ready: time.monotonic() >= ready, timeout=5)
    assert waits == [1, 2]
    assert_locked(d)
    unlock(d)
    assert len(codes(d)) == len(SECRETS)
    r = d.request("POST", "/lock")
    assert r.status == 200
    r = d.request("POST", "/unlock", {"passphrase": "still wrong, once"})
    assert r.status == 422  # the right one cleared the count: no wait first
    assert "wrong passphrase" in d.stderr()


def test_set_change_and_remove_keep_the_vault_and_move_the_key(
    locked_home: tuple[Daemon, dict[str, dict[str, Any]], list[bytes]],
) -> None:
    d, made, _ = locked_home
    home = Home(d.home)
    before = codes(d)
    with sqlite3.connect(d.home / "twofold.db") as db:
        first = dict(db.execute("SELECT key, value FROM meta").fetchall())
    assert first["store_key_source"] == b"passphrase"
    r = d.request("PUT", "/passphrase", {"passphrase": "a second passphrase"})
    assert r.status == 400, r.body
    assert r.body["field"] == "current", r.body
    r = d.request("PUT", "/passphrase", {"passphrase": "short", "current": PASSPHRASE})
    assert r.status == 422
    assert r.body["type"] == "urn:twofold:problem:weak-passphrase"
    r = d.request("PUT", "/passphrase", {"passphrase": "a second one!", "current": "wrong one!!"})
    assert r.status == 422, r.body
    assert r.body["field"] == "current", r.body
    change = {"passphrase": "a second passphrase", "current": PASSPHRASE}
    r = eventually(  # past the wait the wrong one started
        lambda: (got := d.request("PUT", "/passphrase", change)).status != 429 and got, timeout=5
    )
    assert r.status == 200, r.body
    assert r.body == {"passphrase": True, "lock_after": 15}, r.body
    with sqlite3.connect(d.home / "twofold.db") as db:
        second = dict(db.execute("SELECT key, value FROM meta").fetchall())
    assert second["device_seed"] != first["device_seed"]  # a new store key, sealed anew
    assert second["store_key_sealed"] != first["store_key_sealed"]
    assert d.request("POST", "/lock").status == 200
    assert d.request("POST", "/unlock", {"passphrase": PASSPHRASE}).status == 422
    assert d.stop() == 0
    d.start()
    unlock(d, "a second passphrase")
    assert set(codes(d)) == set(before)
    r = d.request("POST", "/passphrase/remove", {"current": "a second passphrase"})
    assert r.status == 200, r.body
    assert r.body == {"passphrase": False, "lock_after": 0}, r.body
    assert (d.home / "store.key").exists()  # tests keep the store key in a file
    with sqlite3.connect(d.home / "twofold.db") as db:
        third = dict(db.execute("SELECT key, value FROM meta").fetchall())
    assert third["store_key_source"] == b"file"
    assert "store_key_sealed" not in third
    assert "store_key_cost" not in third
    r = d.request("POST", "/lock")
    assert r.status == 409
    assert r.body["type"] == "urn:twofold:problem:no-passphrase"
    assert d.stop() == 0
    d.start()
    status = d.request("GET", "/status").body
    assert (status["locked"], status["passphrase"], status["lock_after"]) == (False, False, 0)
    assert set(codes(d)) == set(made)
    key = keystore.load(home, "file", "file")
    assert key.open(third["device_seed"], _SEED_LABEL)  # the file's key opens the device key


def test_a_locked_device_catches_up_on_what_others_wrote(tmp_path: Path) -> None:
    pair = joined(Daemon(tmp_path / "laptop").start(), Daemon(tmp_path / "desktop").start())
    a, b = next(pair)
    try:
        add(a, "Before")
        eventually(lambda: issuers(b) == ["Before"])
        set_passphrase(b)
        assert b.request("POST", "/lock").status == 200
        add(a, "While locked")
        a.request("DELETE", f"/accounts/{a.request('GET', '/accounts').body['accounts'][0]['id']}")
        assert_locked(b)
        assert b.stop() == 0
        b.start()
        assert_locked(b)
        add(a, "While stopped and locked")
        unlock(b)
        eventually(lambda: sorted(issuers(b)) == ["While locked", "While stopped and locked"])
        add(b, "After")  # and it writes for the others again
        eventually(lambda: "After" in issuers(a))
    finally:
        pair.close()


def test_the_cli_walks_the_whole_path(daemon: Daemon, tmp_path: Path) -> None:
    add(daemon, "GitHub")
    r = twofold(daemon, "passphrase", "set", "--passphrase-stdin", stdin=PASSPHRASE + "\n")
    assert r.returncode == 0, r.stderr
    assert "cannot be recovered" in r.stdout + r.stderr
    assert "locks after 15 minutes" in r.stdout
    r = twofold(daemon, "lock")
    assert (r.returncode, r.stdout.strip()) == (0, "Locked.")
    copy = tmp_path / "copy"
    shutil.copytree(daemon.home, copy)
    for d in (daemon, Daemon(copy)):
        if d is not daemon:
            d.start()
        try:
            r = twofold(d, "code", "GitHub")
            assert r.returncode == 1
            assert r.stdout == ""
            assert r.stderr.strip().endswith("the vault is locked: run twofold unlock")
            r = twofold(d, "status")
            assert "Locked" in r.stdout, r.stdout
        finally:
            if d is not daemon:
                d.kill()
    r = twofold(daemon, "unlock", "--passphrase-stdin", stdin="not it at all\n")
    assert r.returncode == 1
    assert "the passphrase is wrong" in r.stderr
    r = eventually(  # the wait after a wrong one: tests/unit/test_cli_locking.py says it
        lambda: (
            (
                got := twofold(daemon, "unlock", "--passphrase-stdin", stdin=PASSPHRASE + "\n")
            ).returncode
            == 0
            and got
        ),
        timeout=15,
    )
    assert r.stdout.startswith("Unlocked.")
    assert twofold(daemon, "code", "GitHub").stdout.strip().isdigit()
    new = "a different passphrase"
    both = f"{PASSPHRASE}\n{new}\n"
    r = twofold(daemon, "passphrase", "change", "--passphrase-stdin", stdin=both)
    assert r.returncode == 0, r.stderr
    r = twofold(daemon, "passphrase", "remove", "--passphrase-stdin", stdin=new + "\n")
    assert r.returncode == 0, r.stderr
    r = twofold(daemon, "lock")
    assert r.returncode == 1
    assert "no passphrase" in r.stderr
    assert twofold(daemon, "code", "GitHub").stdout.strip().isdigit()


def test_a_device_with_a_passphrase_keeps_it_when_it_joins_a_vault(tmp_path: Path) -> None:
    a = Daemon(tmp_path / "laptop").start()
    b = Daemon(tmp_path / "desktop").start()
    add(b, "Brought along")
    set_passphrase(b)
    pair = joined(a, b)  # b's database is set aside for the vault it joins
    next(pair)
    try:
        add(a, "From the vault")
        eventually(lambda: sorted(issuers(b)) == ["Brought along", "From the vault"])
        assert list(b.home.glob("twofold-left-*.db"))
        with sqlite3.connect(b.home / "twofold.db") as db:
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        assert meta["store_key_source"] == b"passphrase"
        assert not (b.home / "store.key").exists()
        assert b.request("POST", "/lock").status == 200
        unlock(b)
        assert b.stop() == 0
        b.start()
        assert_locked(b)
        unlock(b)
        eventually(lambda: sorted(issuers(b)) == ["Brought along", "From the vault"])
    finally:
        pair.close()


def rss_mib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return next(int(line.split()[1]) >> 10 for line in status.splitlines() if "VmRSS" in line)


def test_a_stop_during_an_unlock_leaves_no_api_file_and_a_locked_home(
    locked_home: tuple[Daemon, dict[str, dict[str, Any]], list[bytes]],
) -> None:
    d, made, _ = locked_home
    assert d.stop() == 0
    d.start()
    process = d.process
    assert process is not None

    def ask_to_unlock() -> None:
        with contextlib.suppress(OSError):  # the answer may never come
            d.request("POST", "/unlock", {"passphrase": PASSPHRASE})

    unlocking = threading.Thread(target=ask_to_unlock)
    calm = rss_mib(process.pid)
    unlocking.start()
    eventually(  # Argon2id's 256 MiB are taken: it runs (or it has run)
        lambda: rss_mib(process.pid) > calm + 128 or "the vault was unlocked" in d.stderr()
    )
    assert d.stop() == 0  # during Argon2id, or just after: either way a clean stop
    unlocking.join(15)
    assert not (d.home / "api.json").exists()
    d.start()
    assert_locked(d)
    unlock(d)
    assert set(codes(d)) == set(made)
