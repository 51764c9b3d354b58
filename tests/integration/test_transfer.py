"""Imports, exports and backups through a real daemon, its API and the twofold command."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import stat
import time
from pathlib import Path
from typing import Any

import pyotp
import pytest

from tests.fuzz.targets import unframe
from tests.integration.daemon import Daemon
from tests.integration.test_cli import twofold
from twofold.daemon.keystore import StoreKey
from twofold.daemon.storage import Storage
from twofold.daemon.vault_service import VaultService, now_ms
from twofold.protocol.envelope import Op
from twofold.protocol.otpauth import parse_uri
from twofold.protocol.vault import Vault

SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
URIS = [
    f"otpauth://totp/GitHub:alice@example.com?secret={SECRET}&issuer=GitHub",
    "otpauth://totp/Bank:bob?secret=JBSWY3DPEHPK3PXP&digits=8&algorithm=SHA256&period=60",
    "otpauth://hotp/Mail:carol?secret=KRSXG5CTMVRXEZLU&counter=7",
    "otpauth://steam/Steam:gamer?secret=63BEDWCQZKTQWPESARIERL5DTTQFCJTK",
]
PASSPHRASE = "correct horse battery staple"


def import_(d: Daemon, body: dict[str, Any], status: int = 200) -> Any:
    r = d.request("POST", "/import", body)
    assert r.status == status, r.body
    return r.body


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def shown(d: Daemon) -> list[tuple[Any, ...]]:
    """Every account as the API shows it, without IDs and times: what must survive a move."""
    keep = ("issuer", "name", "note", "kind", "algorithm", "digits", "period", "counter")
    live = d.request("GET", "/accounts").body["accounts"]
    trash = d.request("GET", "/trash").body["accounts"]
    return sorted((*tuple(a[k] for k in keep), a["deleted"]) for a in live + trash)


def test_a_uri_list_is_imported_entry_by_entry_and_codes_match_pyotp(daemon: Daemon) -> None:
    text = "\n".join([URIS[0], "not a uri", URIS[1], "otpauth://totp/X?secret=!!"]) + "\n"
    dry = import_(daemon, {"text": text, "dry_run": True})
    assert (dry["format"], dry["dry_run"], len(dry["added"])) == ("otpauth", True, 2)
    assert [a["id"] for a in dry["added"]] == [None, None]
    assert daemon.request("GET", "/accounts").body["accounts"] == []

    report = import_(daemon, {"text": text})
    assert [(a["issuer"], a["entry"]) for a in report["added"]] == [
        ("GitHub", "line 1"),
        ("Bank", "line 3"),
    ]
    assert [f["entry"] for f in report["failed"]] == ["line 2", "line 4"]
    assert all(f["reason"] for f in report["failed"])
    github = report["added"][0]["id"]
    before = time.time()
    code = daemon.request("GET", f"/accounts/{github}/code").body["code"]
    assert code in {pyotp.TOTP(SECRET).at(t) for t in (before, time.time())}

    again = import_(daemon, {"text": text})
    assert again["added"] == []
    assert [s["id"] for s in again["skipped"]] == [github, report["added"][1]["id"]]
    assert "already in the vault" in again["skipped"][0]["reason"]


def test_an_aegis_export_made_to_its_documented_shape_is_imported(daemon: Daemon) -> None:
    vault = {
        "version": 1,
        "header": {"slots": None, "params": None},
        "db": {
            "version": 3,
            "entries": [
                {"type": "totp", "uuid": "a6b1c2d3-0000-4000-8000-000000000001",
                 "name": "alice", "issuer": "GitHub", "note": "work", "favorite": False,
                 "icon": None, "info": {"secret": SECRET, "algo": "SHA1", "digits": 6,
                                        "period": 30}},
                {"type": "hotp", "uuid": "a6b1c2d3-0000-4000-8000-000000000002",
                 "name": "bob", "issuer": "Bank", "note": "", "favorite": False, "icon": None,
                 "info": {"secret": "JBSWY3DPEHPK3PXP", "algo": "SHA512", "digits": 8,
                          "counter": 3}},
                {"type": "sms", "uuid": "a6b1c2d3-0000-4000-8000-000000000003", "name": "x",
                 "issuer": "Y", "note": "", "info": {"secret": SECRET}},
            ],
            "groups": [],
        },
    }  # fmt: skip
    report = import_(daemon, {"content": b64(json.dumps(vault).encode())})
    assert report["format"] == "aegis"
    assert [(a["issuer"], a["kind"]) for a in report["added"]] == [
        ("GitHub", "totp"),
        ("Bank", "hotp"),
    ]
    assert [f["entry"] for f in report["failed"]] == ["entry 3 (Y: x)"]
    assert shown(daemon) == [
        ("Bank", "bob", "", "hotp", "SHA512", 8, 30, 3, False),
        ("GitHub", "alice", "work", "totp", "SHA1", 6, 30, 0, False),
    ]


def test_export_then_import_moves_every_account_unchanged(daemon: Daemon, tmp_path: Path) -> None:
    import_(daemon, {"text": "\n".join(URIS)})
    other = Daemon(tmp_path / "other").start()
    try:
        for format in ("otpauth", "aegis"):
            export = daemon.request("POST", "/export", {"format": format})
            assert export.status == 200
            assert export.headers["Cache-Control"] == "no-store"
            assert export.body["accounts"] == len(URIS)
            report = import_(other, {"content": b64(export.body["content"].encode())})
            assert report["format"] == format
            assert len(report["added"]) == (len(URIS) if format == "otpauth" else 0)
            assert report["failed"] == []
            assert shown(other) == shown(daemon)
    finally:
        other.kill()


def test_an_otpauth_export_as_qr_codes_gives_one_svg_and_label_per_account(
    daemon: Daemon,
) -> None:
    import_(daemon, {"text": "\n".join(URIS)})
    plain = daemon.request("POST", "/export", {"format": "otpauth"}).body
    assert "qr_svg" not in plain
    assert "labels" not in plain
    export = daemon.request("POST", "/export", {"format": "otpauth", "qr": True})
    assert export.status == 200
    assert export.headers["Cache-Control"] == "no-store"
    assert export.body["content"] == plain["content"]
    uris = export.body["content"].splitlines()
    assert len(export.body["qr_svg"]) == len(uris) == export.body["accounts"] == len(URIS)
    assert all(svg.lstrip().startswith("<svg") for svg in export.body["qr_svg"])
    drafts = [parse_uri(uri) for uri in uris]
    assert export.body["labels"] == [f"{d.issuer}: {d.name}" for d in drafts]

    refused = daemon.request("POST", "/export", {"format": "aegis", "qr": True})
    assert refused.status == 400
    assert refused.body["field"] == "qr"
    wrong = daemon.request("POST", "/export", {"format": "otpauth", "qr": "yes"})
    assert (wrong.status, wrong.body["field"]) == (400, "qr")


def test_a_backup_restores_everything_on_a_fresh_home_and_merges_without_duplicates(
    daemon: Daemon, tmp_path: Path
) -> None:
    added = import_(daemon, {"text": "\n".join(URIS)})["added"]
    daemon.request("PATCH", f"/accounts/{added[0]['id']}", {"note": "backup codes in the safe"})
    daemon.request("DELETE", f"/accounts/{added[1]['id']}")
    hotp = added[2]["id"]
    daemon.request("POST", f"/accounts/{hotp}/next-code")
    file = tmp_path / "vault.tfbackup"
    r = twofold(daemon, "backup", "--to", str(file), "--password-stdin", stdin=PASSPHRASE + "\n")
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert SECRET.encode() not in file.read_bytes()
    assert b"alice" not in file.read_bytes()

    fresh = Daemon(tmp_path / "fresh").start()
    try:
        r = twofold(fresh, "restore", str(file), "--password-stdin", stdin="wrong horse\n")
        assert (r.returncode, r.stderr) == (1, "twofold: the passphrase is wrong\n")
        assert shown(fresh) == []
        r = twofold(fresh, "restore", str(file), "--password-stdin", "--json",
                    stdin=PASSPHRASE + "\n")  # fmt: skip
        assert r.returncode == 0, r.stderr
        assert len(json.loads(r.stdout)["added"]) == len(URIS)
        assert shown(fresh) == shown(daemon)
        codes = {c["issuer"]: c for c in fresh.request("GET", "/codes").body["codes"]}
        assert "Bank" not in codes, "the trashed account stays in the trash"
        again = twofold(fresh, "restore", str(file), "--password-stdin", stdin=PASSPHRASE + "\n")
        assert again.returncode == 0, again.stderr
        assert again.stdout.splitlines()[0] == "twofold-backup: added 0, skipped 4, failed 0"
        assert shown(fresh) == shown(daemon)
    finally:
        fresh.kill()


def test_a_recovery_key_backup_opens_with_the_key_alone(daemon: Daemon, tmp_path: Path) -> None:
    import_(daemon, {"text": URIS[0]})
    made = daemon.request("POST", "/backup", {"recovery_key": True}).body
    assert made["sealed_with"] == "recovery-key"
    key = made["recovery_key"]
    fresh = Daemon(tmp_path / "fresh").start()
    try:
        body = {"content": made["content"]}
        needs = fresh.request("POST", "/import", body)
        assert (needs.status, needs.body["type"]) == (422, "urn:twofold:problem:password-required")
        assert "recovery key" in needs.body["detail"]
        report = import_(fresh, body | {"password": key.lower().replace("-", " ")})
        assert [a["issuer"] for a in report["added"]] == ["GitHub"]
    finally:
        fresh.kill()


def test_hostile_files_get_a_clear_error_and_change_nothing(daemon: Daemon) -> None:
    import_(daemon, {"text": URIS[0]})
    before = shown(daemon)
    bomb = {"version": 1, "header": {"slots": [{"type": 1, "uuid": "x", "key": "00" * 48,
            "key_params": {"nonce": "00" * 12, "tag": "00" * 16}, "n": 2**30, "r": 8, "p": 1,
            "salt": "00" * 32}], "params": {"nonce": "00" * 12, "tag": "00" * 16}},
            "db": "AAAA"}  # fmt: skip
    cases = [
        ({"content": b64(json.dumps(bomb).encode()), "password": "x"}, 422, "unsafe-file"),
        ({"content": b64(b"\x00\x01garbage")}, 422, "unknown-format"),
        ({"content": b64(b'{"version": 1, "header": {"slots": null, "params": null}, "db": {'),
          "format": "aegis"}, 422, "unreadable-file"),
        ({"content": "not base64!"}, 400, "bad-request"),
        ({"text": URIS[0], "content": b64(b"x")}, 400, "bad-request"),
        ({"text": URIS[0], "format": "word"}, 400, "bad-request"),
        ({"text": "otpauth-migration://offline?data=%%%"}, 422, "unreadable-file"),
    ]  # fmt: skip
    for body, status, slug in cases:
        started = time.monotonic()
        r = daemon.request("POST", "/import", body)
        assert (r.status, r.body["type"]) == (status, f"urn:twofold:problem:{slug}"), body
        assert time.monotonic() - started < 10
    huge = b'{"content": "' + b"A" * (23 * 1024 * 1024) + b'"}'
    r = daemon.request("POST", "/import", raw=huge)
    assert (r.status, r.body["type"]) == (413, "urn:twofold:problem:too-large")
    assert shown(daemon) == before


def test_every_committed_hostile_import_is_answered_4xx_or_read_never_500(daemon: Daemon) -> None:
    """The fuzzers' regression files (issue 16) through the API, detection and all: each is
    read (entries that fail are listed) or refused with a problem of the person's to fix,
    the daemon keeps answering, and nothing changes that the file did not add."""
    corpus = Path(__file__).resolve().parents[1] / "fuzz" / "corpus"
    files = sorted(corpus.glob("read-*/*.bin"))
    assert len(files) >= 15
    for path in files:
        content, password = unframe(path.read_bytes())
        body: dict[str, Any] = {"content": b64(content)}
        if password is not None:
            body["password"] = password
        r = daemon.request("POST", "/import", body)
        assert r.status in (200, 400, 422), (path.name, r.status, r.body)
        if r.status != 200:
            assert r.body["type"] != "urn:twofold:problem:internal-error", path.name
            assert r.body["detail"], path.name
    assert daemon.request("GET", "/status").status == 200


def test_the_cli_imports_a_file_and_exports_qr_codes(daemon: Daemon, tmp_path: Path) -> None:
    export = tmp_path / "uris.txt"
    export.write_text("\n".join(URIS) + "\n")
    r = twofold(daemon, "import", str(export), "--dry-run")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].startswith("otpauth: would add 4")
    r = twofold(daemon, "import", str(export))
    assert r.returncode == 0, r.stderr
    folder = tmp_path / "qr"
    r = twofold(daemon, "export", "--format", "qr", "--out", str(folder))
    assert r.returncode == 1, "no terminal and no --yes: nothing is written"
    assert not folder.exists()
    r = twofold(daemon, "export", "--format", "qr", "--out", str(folder), "--yes")
    assert r.returncode == 0, r.stderr
    pngs = sorted(folder.iterdir())
    assert len(pngs) == len(URIS)
    assert all(stat.S_IMODE(os.stat(p).st_mode) == 0o600 for p in pngs)
    other = Daemon(tmp_path / "other").start()
    try:
        for png in pngs:
            report = import_(other, {"content": b64(png.read_bytes())})
            assert report["format"] == "qr-image"
            assert len(report["added"]) == 1
        assert shown(other) == shown(daemon)
    finally:
        other.kill()


def test_an_import_that_fails_half_way_leaves_memory_as_the_disk_is(tmp_path: Path) -> None:
    """write_batch runs the import's maker under the lock; one that raises after making some
    ops (applied in memory, never stored) must not leave the vault claiming them."""

    async def go() -> tuple[int, int, int]:
        storage = await Storage.open(tmp_path / "vault.db")
        try:
            service = await VaultService.open(storage, StoreKey(bytes(32), "file"), "laptop")
            draft = parse_uri(URIS[0])

            def make(vault: Vault) -> list[Op]:
                vault.create_account(draft, now_ms())
                raise RuntimeError("the disk is on fire")

            with pytest.raises(RuntimeError):
                await service.write_batch(make)
            in_memory = len(service.vault.state.views())
            on_disk = len(await storage.log())
            return in_memory, on_disk, len(service.vault.log())
        finally:
            await storage.close()

    in_memory, on_disk, logged = asyncio.run(go())
    assert in_memory == 0
    assert logged == on_disk
