"""Conflicts through the API: a second device's concurrent edits, resolved by choice.

Sync between daemons does not exist yet, so the second device's ops are
written into the home's database while the daemon is stopped, through the
same protocol code and storage a daemon uses; then the daemon starts on it.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

from tests.integration.daemon import Daemon
from twofold.daemon import keystore
from twofold.daemon.config import load
from twofold.daemon.home import Home
from twofold.daemon.storage import Storage
from twofold.daemon.vault_service import VaultService, now_ms
from twofold.protocol.certificate import device_certificate
from twofold.protocol.envelope import Op
from twofold.protocol.identity import DeviceKey, display_id
from twofold.protocol.vault import Vault

SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


async def concurrent_rename(home: Home, account: bytes) -> str:
    """A phone, added to the vault, renames the account while the daemon also does."""
    storage = await Storage.open(home.database)
    try:
        recorded = await storage.get_meta("store_key_source")
        store_key = keystore.load(home, load(home).store_key, recorded.decode())
        laptop = (await VaultService.open(storage, store_key, "x")).vault
        phone_key = DeviceKey.generate()
        add = laptop.add_device(device_certificate(phone_key), "phone", now_ms())
        phone = Vault(laptop.vault, phone_key)
        phone.receive_batch(laptop.log(), now_ms())
        mine = laptop.update_account(account, now_ms(), name="renamed on the laptop")
        theirs = phone.update_account(account, now_ms() + 5, name="renamed on the phone")
        laptop.receive(theirs.raw, now_ms())
        await storage.append([add, mine, Op(theirs.raw)])
        return display_id(phone_key.public)
    finally:
        await storage.close()


def test_a_conflict_is_listed_and_resolved_by_choice(daemon: Daemon) -> None:
    r = daemon.request("POST", "/accounts", {"issuer": "GitHub", "name": "alice", "secret": SECRET})
    aid = r.body["id"]
    assert daemon.stop() == 0
    phone = asyncio.run(concurrent_rename(Home(daemon.home), bytes.fromhex(aid)))
    daemon.start()

    account = daemon.request("GET", f"/accounts/{aid}").body
    assert (account["name"], account["conflicts"]) == ("renamed on the phone", ["name"])
    conflicts = daemon.request("GET", "/conflicts").body["conflicts"]
    assert [(c["account_id"], c["field"]) for c in conflicts] == [(aid, "name")]
    values = conflicts[0]["values"]
    assert [v["value"] for v in values] == ["renamed on the phone", "renamed on the laptop"]
    assert values[0]["device"] == phone
    assert daemon.request("GET", "/status").body["conflicts"] == 1

    bad = daemon.request("POST", f"/accounts/{aid}/conflicts/name", {"choice": "ab" * 32})
    assert (bad.status, bad.body["field"]) == (400, "choice")
    cli = subprocess.run(
        [str(Path(sys.executable).with_name("twofold")), "--home", str(daemon.home), "--json",
         "resolve", aid[:8], "name", values[1]["choice"]],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    resolved = json.loads(cli.stdout)
    assert (resolved["name"], resolved["conflicts"]) == ("renamed on the laptop", [])
    assert daemon.request("GET", "/conflicts").body == {"conflicts": []}
    assert daemon.stop() == 0
    daemon.start()
    assert daemon.request("GET", f"/accounts/{aid}").body["name"] == "renamed on the laptop"
