"""The local API of a real daemon: accounts, codes, trash, HOTP, conflicts, errors."""

from __future__ import annotations

import time

import pyotp

from tests.integration.daemon import Daemon

SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
GITHUB = f"otpauth://totp/GitHub:alice@example.com?secret={SECRET}&issuer=GitHub"


def add(d: Daemon, body: dict) -> dict:
    r = d.request("POST", "/accounts", body)
    assert r.status == 201, r.body
    assert r.headers["Location"] == f"/api/v1/accounts/{r.body['id']}"
    return r.body


def test_status_names_the_device_and_vault(daemon: Daemon) -> None:
    r = daemon.request("GET", "/status")
    assert r.status == 200
    assert r.body["members"] == 1
    assert len(r.body["vault"]["id"]) == 32
    assert len(r.body["device"]["id"]) == 19


def test_an_account_from_a_uri_gives_the_codes_pyotp_gives(daemon: Daemon) -> None:
    acc = add(daemon, {"uri": GITHUB})
    assert (acc["issuer"], acc["name"], acc["kind"], acc["digits"]) == (
        "GitHub",
        "alice@example.com",
        "totp",
        6,
    )
    before = time.time()
    code = daemon.request("GET", f"/accounts/{acc['id']}/code").body
    after = time.time()
    assert code["code"] in {pyotp.TOTP(SECRET).at(t) for t in (before, after)}
    assert 1 <= code["seconds_left"] <= 30
    assert code["valid_until"] - code["valid_from"] == 30
    codes = daemon.request("GET", "/codes").body["codes"]
    assert [c["account_id"] for c in codes] == [acc["id"]]


def test_an_account_from_fields(daemon: Daemon) -> None:
    acc = add(
        daemon,
        {
            "issuer": "Example",
            "name": "bob",
            "secret": SECRET,
            "digits": 8,
            "algorithm": "SHA256",
            "note": "work",
        },
    )
    assert (acc["digits"], acc["algorithm"], acc["note"]) == (8, "SHA256", "work")
    code = daemon.request("GET", f"/accounts/{acc['id'][:6]}/code").body["code"]
    totp = pyotp.TOTP(SECRET, digits=8, digest="sha256")
    assert code in {totp.now(), totp.at(time.time() - 1)}


def test_edit_delete_trash_restore(daemon: Daemon) -> None:
    acc = add(daemon, {"uri": GITHUB})
    r = daemon.request("PATCH", f"/accounts/{acc['id']}", {"name": "alice", "note": "2FA"})
    assert (r.status, r.body["name"], r.body["note"]) == (200, "alice", "2FA")
    r = daemon.request("DELETE", f"/accounts/{acc['id']}")
    assert (r.status, r.body["deleted"]) == (200, True)
    assert daemon.request("GET", "/accounts").body["accounts"] == []
    assert [a["id"] for a in daemon.request("GET", "/trash").body["accounts"]] == [acc["id"]]
    assert daemon.request("GET", f"/accounts/{acc['id']}").body["deleted"] is True
    r = daemon.request("POST", f"/accounts/{acc['id']}/restore")
    assert (r.status, r.body["deleted"], r.body["note"]) == (200, False, "2FA")
    assert daemon.request("GET", "/trash").body["accounts"] == []


def test_hotp_gives_each_code_once_and_the_counter_survives_a_restart(daemon: Daemon) -> None:
    acc = add(daemon, {"issuer": "Bank", "secret": SECRET, "kind": "hotp", "counter": 5})
    hotp = pyotp.HOTP(SECRET)
    r = daemon.request("GET", f"/accounts/{acc['id']}/code")
    assert (r.status, r.body["type"]) == (409, "urn:twofold:problem:no-current-code")
    first = daemon.request("POST", f"/accounts/{acc['id']}/next-code").body
    second = daemon.request("POST", f"/accounts/{acc['id']}/next-code").body
    assert (first["code"], first["counter"]) == (hotp.at(5), 5)
    assert (second["code"], second["counter"]) == (hotp.at(6), 6)
    listed = daemon.request("GET", "/codes").body["codes"][0]
    assert (listed["code"], listed["counter"]) == (None, 7)
    assert daemon.stop() == 0
    daemon.start()
    third = daemon.request("POST", f"/accounts/{acc['id']}/next-code").body
    assert (third["code"], third["counter"]) == (hotp.at(7), 7)
    r = daemon.request("PATCH", f"/accounts/{acc['id']}", {"counter": 2})
    assert (r.status, r.body["field"]) == (422, "counter")


def test_search_filters_accounts_and_codes(daemon: Daemon) -> None:
    add(daemon, {"uri": GITHUB})
    add(daemon, {"issuer": "Example", "name": "bob", "secret": SECRET})
    assert [a["issuer"] for a in daemon.request("GET", "/accounts?q=git").body["accounts"]] == [
        "GitHub"
    ]
    assert [c["name"] for c in daemon.request("GET", "/codes?q=BOB").body["codes"]] == ["bob"]


def test_no_conflicts_on_one_device(daemon: Daemon) -> None:
    acc = add(daemon, {"uri": GITHUB})
    assert daemon.request("GET", "/conflicts").body == {"conflicts": []}
    r = daemon.request("POST", f"/accounts/{acc['id']}/conflicts/name", {"choice": "00"})
    assert (r.status, r.body["field"]) == (422, "name")
    assert "no conflict" in r.body["detail"]


def test_everything_survives_a_restart(daemon: Daemon) -> None:
    ids = [add(daemon, {"uri": GITHUB, "allow_duplicate": True})["id"] for _ in range(3)]
    daemon.request("DELETE", f"/accounts/{ids[0]}")
    daemon.request("PATCH", f"/accounts/{ids[1]}", {"note": "kept"})
    before = [daemon.request("GET", f"/accounts/{i}").body for i in ids]
    status = daemon.request("GET", "/status").body
    assert daemon.stop() == 0
    assert not (daemon.home / "api.json").exists()
    daemon.start()
    assert [daemon.request("GET", f"/accounts/{i}").body for i in ids] == before
    after = daemon.request("GET", "/status").body
    assert (after["device"], after["vault"]) == (status["device"], status["vault"])
