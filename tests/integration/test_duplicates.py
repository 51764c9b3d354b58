"""One account, one entry: adding, importing, restoring and joining never double an account
the vault holds already (protocol/sameness.py), through real daemons."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from tests.eventually import eventually
from tests.integration.daemon import Daemon
from tests.integration.test_cli import twofold
from tests.integration.test_pairing import final, invite, join
from tests.integration.test_transfer import PASSPHRASE, SECRET, URIS, import_, shown

DUPLICATE = "urn:twofold:problem:duplicate-account"
GITHUB = URIS[0]


def post(d: Daemon, body: dict[str, Any], status: int) -> dict[str, Any]:
    r = d.request("POST", "/accounts", body)
    assert r.status == status, r.body
    return dict(r.body)


def by_issuer(d: Daemon) -> dict[str, dict[str, Any]]:
    live = d.request("GET", "/accounts").body["accounts"]
    trash = d.request("GET", "/trash").body["accounts"]
    return {a["issuer"]: a for a in live + trash}


def test_the_same_account_is_refused_with_the_one_already_there(daemon: Daemon) -> None:
    first = post(daemon, {"uri": GITHUB}, 201)
    refused = post(daemon, {"uri": GITHUB}, 409)
    assert refused["type"] == DUPLICATE
    assert refused["existing"] == {
        "id": first["id"],
        "issuer": "GitHub",
        "name": "alice@example.com",
        "trashed": False,
    }
    assert refused["detail"] == (
        f"Already in the vault as GitHub (alice@example.com), ID {first['id'][:8]}."
    )
    # the same secret however it is written, and from fields as from a URI
    spaced = " ".join(SECRET[i : i + 4] for i in range(0, len(SECRET), 4)).lower()
    fields = {"issuer": "GitHub", "name": "alice@example.com", "secret": spaced}
    assert post(daemon, fields, 409)["existing"]["id"] == first["id"]
    assert post(daemon, {"uri": GITHUB.replace(SECRET, SECRET.lower())}, 409)["type"] == DUPLICATE
    # what makes another account is let through: another name, another kind
    post(daemon, fields | {"name": "alice"}, 201)
    post(daemon, fields | {"kind": "hotp"}, 201)
    # a second copy, when asked for
    second = post(daemon, {"uri": GITHUB, "allow_duplicate": True}, 201)
    assert second["id"] != first["id"]
    listed = daemon.request("GET", "/accounts").body["accounts"]
    assert sum(a["name"] == "alice@example.com" and a["kind"] == "totp" for a in listed) == 2
    assert post(daemon, {"uri": GITHUB, "allow_duplicate": "yes"}, 400)["field"] == (
        "allow_duplicate"
    )


def test_an_hotp_account_is_itself_whatever_its_counter(daemon: Daemon) -> None:
    hotp = post(daemon, {"uri": URIS[2]}, 201)
    again = post(daemon, {"uri": URIS[2].replace("counter=7", "counter=20")}, 409)
    assert again["existing"]["id"] == hotp["id"]


def test_a_copy_of_a_trashed_account_says_so(daemon: Daemon) -> None:
    first = post(daemon, {"uri": GITHUB}, 201)
    daemon.request("DELETE", f"/accounts/{first['id']}")
    refused = post(daemon, {"uri": GITHUB}, 409)
    assert refused["existing"]["trashed"] is True
    assert refused["detail"].startswith("Already in the trash as GitHub (alice@example.com)")
    assert "Restore it from the trash" in refused["detail"]


def test_the_command_refuses_a_duplicate_and_adds_it_when_allowed(daemon: Daemon) -> None:
    assert twofold(daemon, "add", GITHUB).returncode == 0
    (first,) = daemon.request("GET", "/accounts").body["accounts"]
    r = twofold(daemon, "add", GITHUB)
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == (
        f"twofold: GitHub: alice@example.com ({first['id'][:8]}) is already in the vault; "
        "to add a second copy: --allow-duplicate\n"
    )
    r = twofold(daemon, "add", "--issuer", "GitHub", "--name", "alice@example.com",
                "--secret", SECRET.lower(), "--json")  # fmt: skip
    assert r.returncode == 1
    assert json.loads(r.stdout)["existing"]["id"] == first["id"]
    r = twofold(daemon, "add", GITHUB, "--allow-duplicate")
    assert r.returncode == 0, r.stderr
    assert len(daemon.request("GET", "/accounts").body["accounts"]) == 2


def test_an_import_skips_an_account_added_by_hand(daemon: Daemon) -> None:
    spaced = SECRET.lower()
    added = post(daemon, {"issuer": "GitHub", "name": "alice@example.com", "secret": spaced}, 201)
    report = import_(daemon, {"text": "\n".join(URIS[:2])})
    assert [a["issuer"] for a in report["added"]] == ["Bank"]
    (skipped,) = report["skipped"]
    assert (skipped["issuer"], skipped["id"]) == ("GitHub", added["id"])
    assert "already in the vault" in skipped["reason"]


def test_a_device_restored_from_a_backup_joins_without_doubling_the_vault(
    tmp_path: Path,
) -> None:
    laptop = Daemon(tmp_path / "laptop").start()
    phone = Daemon(tmp_path / "phone").start()
    try:
        added = import_(laptop, {"text": "\n".join(URIS)})["added"]
        ids = {a["issuer"]: a["id"] for a in added}
        laptop.request("DELETE", f"/accounts/{ids['Bank']}")
        made = laptop.request("POST", "/backup", {"passphrase": PASSPHRASE}).body

        # the new phone: restored from the backup, then used a while before it is paired
        restored = import_(phone, {"content": made["content"], "password": PASSPHRASE})
        assert len(restored["added"]) == len(URIS)
        mine = by_issuer(phone)
        phone.request("POST", f"/accounts/{mine['Bank']['id']}/restore")  # out of the trash here
        for _ in range(3):  # the phone counted further than the laptop
            phone.request("POST", f"/accounts/{mine['Mail']['id']}/next-code")
        post(phone, {"issuer": "Phone only", "secret": "MZXW6YTBOI"}, 201)

        join(phone, invite(laptop, accept=True)["link"])
        joined = final(phone)
        assert joined["state"] == "joined", joined
        assert joined["brought"] == {"added": 1, "already_there": 4, "in_trash": 1}
        assert "4 were in the vault already (1 of those in its trash)" in phone.stderr()

        def settled() -> bool:
            return shown(laptop) == shown(phone) and len(shown(phone)) == len(URIS) + 1

        assert eventually(settled)
        names = Counter((a[0], a[1]) for a in shown(phone))
        assert max(names.values()) == 1, names
        vault = by_issuer(laptop)
        assert vault["Bank"]["deleted"] is True, "what the vault trashed stays in its trash"
        assert vault["Mail"]["counter"] == 7 + 3, "the counter moved up to the phone's"
        assert vault["Phone only"]["deleted"] is False
    finally:
        laptop.kill()
        phone.kill()
