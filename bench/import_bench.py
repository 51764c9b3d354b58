"""Benchmark: importing a 1,000-entry Aegis file and restoring a 1,000-account backup.

Not a test. Run by hand on an idle machine and record the output in
bench/RESULTS.md:

    .venv/bin/python bench/import_bench.py [--entries 1000] [--rounds 3]

Target (issue 7): each under 2 s through a real daemon's API, not counting
the deliberate key derivation (scrypt for an encrypted Aegis vault, Argon2id
for a backup), which is timed on its own with the file's parameters and
reported beside.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import http.client
import json
import os
import platform
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from daemon_bench import start

from twofold.protocol import backup
from twofold.protocol.formats import kdf

AEGIS_SCRYPT = {"n": 2**15, "r": 8, "p": 1}
PASSWORD = "bench password"


def aegis_entries(count: int) -> list[dict[str, Any]]:
    rng = random.Random(7)
    kinds = ["totp", "totp", "totp", "hotp", "steam"]
    entries = []
    for i in range(count):
        kind = kinds[i % len(kinds)]
        secret = base64.b32encode(rng.randbytes(20)).decode().rstrip("=")
        info: dict[str, Any] = {"secret": secret, "algo": "SHA1", "digits": 6, "period": 30}
        if kind == "hotp":
            info = {"secret": secret, "algo": "SHA256", "digits": 8, "counter": i}
        elif kind == "steam":
            info = {"secret": secret, "algo": "SHA1", "digits": 5, "period": 30}
        entries.append(
            {"type": kind, "uuid": str(uuid.UUID(int=i, version=4)), "name": f"user{i}",
             "issuer": f"Service {i}", "note": f"note {i}" if i % 3 == 0 else "",
             "favorite": False, "icon": None, "info": info}
        )  # fmt: skip
    return entries


def aegis_plain(count: int) -> bytes:
    db = {"version": 3, "entries": aegis_entries(count), "groups": []}
    return json.dumps({"version": 1, "header": {"slots": None, "params": None}, "db": db}).encode()


def aegis_encrypted(count: int) -> bytes:
    """Sealed as Aegis docs/vault.md documents: a password slot (scrypt, AES-GCM key wrap),
    then the db under the master key with AES-GCM."""
    master, salt = os.urandom(32), os.urandom(32)
    slot_key = hashlib.scrypt(
        PASSWORD.encode(), salt=salt, **AEGIS_SCRYPT, maxmem=64 << 20, dklen=32
    )
    key_nonce, db_nonce = os.urandom(12), os.urandom(12)
    wrapped = AESGCM(slot_key).encrypt(key_nonce, master, None)
    db = json.dumps({"version": 3, "entries": aegis_entries(count), "groups": []}).encode()
    sealed = AESGCM(master).encrypt(db_nonce, db, None)
    slot = {
        "type": 1, "uuid": str(uuid.uuid4()), "key": wrapped[:-16].hex(),
        "key_params": {"nonce": key_nonce.hex(), "tag": wrapped[-16:].hex()},
        "n": AEGIS_SCRYPT["n"], "r": AEGIS_SCRYPT["r"], "p": AEGIS_SCRYPT["p"],
        "salt": salt.hex(), "repaired": True, "is_backup": False,
    }  # fmt: skip
    header = {"slots": [slot], "params": {"nonce": db_nonce.hex(), "tag": sealed[-16:].hex()}}
    body = base64.b64encode(sealed[:-16]).decode()
    return json.dumps({"version": 1, "header": header, "db": body}).encode()


def post(port: int, token: str, path: str, body: dict[str, Any]) -> tuple[float, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    data = json.dumps(body).encode()
    started = time.perf_counter()
    conn.request("POST", "/api/v1" + path, body=data, headers=headers)
    response = conn.getresponse()
    answer = json.loads(response.read())
    elapsed = time.perf_counter() - started
    conn.close()
    if response.status != 200:
        raise SystemExit(f"{path}: HTTP {response.status} {answer}")
    return elapsed, answer


def timed_import(file: bytes, password: str | None, expect: int) -> float:
    """Seconds for POST /import of `file` into a fresh daemon, which must add `expect`."""
    with tempfile.TemporaryDirectory() as tmp:
        proc, _, port, token = start(Path(tmp) / "home")
        try:
            body: dict[str, Any] = {"content": base64.b64encode(file).decode()}
            if password is not None:
                body["password"] = password
            elapsed, report = post(port, token, "/import", body)
            if len(report["added"]) != expect or report["failed"]:
                raise SystemExit(f"import added {len(report['added'])}: {report['failed'][:3]}")
            return elapsed
        finally:
            proc.terminate()
            proc.wait(10)


def made_backup(count: int) -> tuple[bytes, float]:
    """A backup of a daemon holding `count` accounts, through the API; and how long it took."""
    with tempfile.TemporaryDirectory() as tmp:
        proc, _, port, token = start(Path(tmp) / "home")
        try:
            post(port, token, "/import", {"content": base64.b64encode(aegis_plain(count)).decode()})
            elapsed, made = post(port, token, "/backup", {"passphrase": PASSWORD})
            if made["accounts"] != count:
                raise SystemExit(f"the backup holds {made['accounts']} accounts")
            return base64.b64decode(made["content"]), elapsed
        finally:
            proc.terminate()
            proc.wait(10)


def median_of(rounds: int, run: Any) -> float:
    return statistics.median(run() for _ in range(rounds))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    n, rounds = args.entries, args.rounds
    print(f"{platform.node()} {platform.machine()} {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, {time.strftime('%Y-%m-%d')}")  # fmt: skip

    plain, sealed = aegis_plain(n), aegis_encrypted(n)
    salt = os.urandom(32)
    scrypt_s = median_of(rounds, lambda: _time(lambda: kdf.scrypt(b"x", salt, **AEGIS_SCRYPT)))
    plain_s = median_of(rounds, lambda: timed_import(plain, None, n))
    sealed_s = median_of(rounds, lambda: timed_import(sealed, PASSWORD, n))
    print(f"Aegis plain, {n} entries ({len(plain) // 1024} KiB): import {plain_s * 1000:.0f} ms")
    print(
        f"Aegis encrypted, {n} entries: import {sealed_s * 1000:.0f} ms, of which scrypt "
        f"(N=2^15, r=8, p=1) {scrypt_s * 1000:.0f} ms: {(sealed_s - scrypt_s) * 1000:.0f} ms "
        "without it"
    )

    file, backup_s = made_backup(n)
    argon_salt = os.urandom(16)
    argon_s = median_of(
        rounds,
        lambda: _time(
            lambda: kdf.argon2id(
                b"x",
                argon_salt,
                opslimit=backup.DEFAULT_OPSLIMIT,
                memlimit=backup.DEFAULT_MEMLIMIT,
            )
        ),
    )
    restore_s = median_of(rounds, lambda: timed_import(file, PASSWORD, n))
    print(
        f"backup of {n} accounts ({len(file) // 1024} KiB): made in {backup_s * 1000:.0f} ms; "
        f"restored into a fresh home in {restore_s * 1000:.0f} ms, of which Argon2id "
        f"({backup.DEFAULT_MEMLIMIT >> 20} MiB, {backup.DEFAULT_OPSLIMIT} passes) "
        f"{argon_s * 1000:.0f} ms: {(restore_s - argon_s) * 1000:.0f} ms without it"
    )


def _time(run: Any) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
