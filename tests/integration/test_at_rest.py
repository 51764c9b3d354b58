"""Nothing secret is plaintext on disk: every file of the home, the database's raw bytes too."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

from tests.integration.daemon import Daemon
from twofold.daemon import keystore
from twofold.daemon.config import load
from twofold.daemon.home import Home
from twofold.daemon.storage import Storage
from twofold.daemon.vault_service import VaultService

SECRETS = [bytes([i]) * 3 + b"twofold-secret-%d" % i for i in range(5)]


def forms(secret: bytes) -> list[bytes]:
    """Every way a secret could appear in a file."""
    b32 = base64.b32encode(secret).rstrip(b"=")
    return [secret, b32, b32.lower(), secret.hex().encode(), base64.b64encode(secret)]


async def held_keys(home: Home) -> tuple[bytes, list[bytes]]:
    """The device seed and the epoch keys, opened the way the daemon opens them."""
    storage = await Storage.open(home.database)
    try:
        recorded = await storage.get_meta("store_key_source")
        store_key = keystore.load(home, load(home).store_key, recorded.decode())
        service = await VaultService.open(storage, store_key, "x")
        return service.vault.device.seed, list(service.vault.epoch_keys.values())
    finally:
        await storage.close()


def test_no_secret_or_key_is_plaintext_in_the_home(daemon: Daemon) -> None:
    for i, secret in enumerate(SECRETS):
        b32 = base64.b32encode(secret).decode().rstrip("=")
        body = {"issuer": f"Bank {i}", "secret": b32, "note": "recovery codes in the drawer"}
        if i == 4:
            body.update(kind="yandex", pin="4321", secret=base64.b32encode(secret[:16]).decode())
        assert daemon.request("POST", "/accounts", body).status == 201, body
    files_live = sorted(p for p in daemon.home.rglob("*") if p.is_file())
    assert daemon.stop() == 0
    home = Home(daemon.home)
    seed, epoch_keys = asyncio.run(held_keys(home))
    assert len(epoch_keys) == 1
    files = sorted(p for p in daemon.home.rglob("*") if p.is_file())
    assert any(p.name == "twofold.db" for p in files)
    needles = {b"recovery codes in the drawer", b"4321"}
    needles |= {f for s in SECRETS for f in forms(s)} | {
        f for k in [seed, *epoch_keys] for f in forms(k)
    }
    for path in set(files) | {p for p in files_live if p.exists()}:
        data = path.read_bytes()
        for needle in needles:
            assert needle not in data, f"{needle!r} is in {path.name}"


def test_private_files_are_private(daemon: Daemon) -> None:
    assert daemon.home.stat().st_mode & 0o777 == 0o700
    for path in Path(daemon.home).iterdir():
        assert path.stat().st_mode & 0o077 == 0, path.name
