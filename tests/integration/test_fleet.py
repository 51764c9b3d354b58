"""Three devices on loopback: relaying, a static peer, and revoking a lost device."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.daemon import Daemon
from tests.integration.test_cli import twofold
from tests.integration.test_pairing import add, eventually, final, invite, issuers, join


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[list[Daemon]]:
    """A made the vault; B and C joined through A and, without mDNS, never meet."""
    devices = [Daemon(tmp_path / name, config="mdns = false\n").start() for name in "abc"]
    a, b, c = devices
    try:
        for newcomer in (b, c):
            join(newcomer, invite(a, accept=True)["link"])
            assert final(newcomer)["state"] == "joined"
        yield devices
    finally:
        for d in devices:
            d.kill()


def test_an_edit_on_b_reaches_c_through_a(fleet: list[Daemon]) -> None:
    a, b, c = fleet
    add(b, "from b")
    assert eventually(lambda: "from b" in issuers(c))
    peers_of_c = c.request("GET", "/peers").body["peers"]
    assert {p["name"] for p in peers_of_c} == {"a", "b"}
    assert [p["connected"] for p in peers_of_c if p["name"] == "b"] == [False]
    b_on_c = next(d for d in c.request("GET", "/devices").body["devices"] if d["name"] == "b")
    assert b_on_c["last_seen"] is None  # never met directly, yet alive through a:
    assert b_on_c["last_write"] is not None
    assert "through others" in twofold(c, "devices").stdout
    devices = a.request("GET", "/devices").body["devices"]
    assert sorted(d["name"] for d in devices) == ["a", "b", "c"]
    assert [d["this_device"] for d in devices if d["name"] == "a"] == [True]


def test_a_static_peer_keeps_two_devices_in_sync_without_the_third(
    fleet: list[Daemon],
) -> None:
    a, b, c = fleet
    assert c.stop() == 0
    c.start("--peer", f"127.0.0.1:{b.peer_port}")  # as over WireGuard: an address, no pairing
    assert a.stop() == 0  # the device that connected them is gone
    add(b, "while a is away")
    assert eventually(lambda: "while a is away" in issuers(c))
    peer_b = next(p for p in c.request("GET", "/peers").body["peers"] if p["name"] == "b")
    assert (peer_b["found_by"], peer_b["connected"]) == ("static", True)
    a.start()


def test_a_revoked_device_is_told_gets_nothing_new_and_cannot_write(
    fleet: list[Daemon],
) -> None:
    a, b, c = fleet
    add(a, "before")
    assert eventually(lambda: "before" in issuers(c))
    b_id = b.request("GET", "/status").body["device"]["id"]
    c_id = c.request("GET", "/status").body["device"]["id"]
    assert c.stop() == 0  # revoked while it is away, as a lost laptop would be
    r = b.request("POST", f"/devices/{c_id[:9]}/revoke")
    assert (r.status, r.body["revoked"]) == (200, True), r.body
    add(b, "after the revocation")
    assert eventually(lambda: "after the revocation" in issuers(a))
    c.start()  # it dials a, which tells it: the removal, signed by b, that it checks itself
    standing = eventually(
        lambda: (s := c.request("GET", "/status").body["standing"])["state"] == "removed" and s
    )
    assert (standing["removed_by"]["id"], standing["closed"]) == (b_id, False)
    assert standing["removed_by"]["name"] == "b"
    r = c.request("POST", "/accounts", {"issuer": "from the revoked device", "secret": "JBSWY3DP"})
    assert (r.status, r.body["type"]) == (409, "urn:twofold:problem:removed-from-vault")
    assert f"removed from the vault by b ({b_id})" in r.body["detail"]
    told = twofold(c, "add", "--issuer", "typed anyway", "--secret", "JBSWY3DP")
    assert told.returncode == 1
    assert f"removed from the vault by b ({b_id})" in told.stderr
    assert told.stderr.rstrip().endswith("start a new vault from it: twofold vault new")
    assert len(issuers(c)) == 1  # what it held stays readable
    add(a, "later still")
    assert eventually(lambda: "later still" in issuers(b))
    assert "after the revocation" not in issuers(c)
    assert "later still" not in issuers(c)
    devices = {d["name"]: d for d in a.request("GET", "/devices").body["devices"]}
    assert (devices["c"]["revoked"], devices["c"]["removed_by"]) == (True, b_id)
    assert a.request("GET", "/status").body["members"] == 2
    on_c = {d["name"]: d for d in c.request("GET", "/devices").body["devices"]}
    assert (on_c["c"]["this_device"], on_c["c"]["revoked"]) == (True, True)


def test_a_revoked_device_starts_a_new_vault_with_what_it_held(fleet: list[Daemon]) -> None:
    a, _, c = fleet
    add(a, "held on c")
    assert eventually(lambda: "held on c" in issuers(c))
    old_vault = c.request("GET", "/status").body["vault"]["id"]
    c_id = c.request("GET", "/status").body["device"]["id"]
    assert a.request("POST", f"/devices/{c_id[:9]}/revoke").status == 200
    eventually(lambda: c.request("GET", "/status").body["standing"]["state"] == "removed")
    made = twofold(c, "--json", "vault", "new")
    assert made.returncode == 0, made.stderr
    assert c.stop() == 0  # what a restart reads: the new vault, founded, with what c held
    c.start()
    status = c.request("GET", "/status").body
    assert status["vault"]["id"] != old_vault
    assert (status["standing"]["state"], status["members"]) == ("member", 1)
    assert issuers(c) == ["held on c"]
    add(c, "in the new vault")
    assert "in the new vault" in issuers(c)
    assert (c.home / f"twofold-left-{old_vault[:8]}.db").exists()  # the vault it was removed from


def test_revoking_needs_a_known_device(fleet: list[Daemon]) -> None:
    a, _, _ = fleet
    r = a.request("POST", "/devices/ZZZZ-ZZZZ/revoke")
    assert (r.status, r.body["type"]) == (404, "urn:twofold:problem:not-found")
    me = a.request("GET", "/status").body["device"]["id"]
    r = a.request("POST", f"/devices/{me}/revoke")
    assert r.status == 409
    assert "another device" in r.body["detail"]


def test_devices_find_each_other_by_mdns_and_sync_directly(tmp_path: Path) -> None:
    """mDNS on the loopback interface: B and C, paired through A, find each other."""
    a, b, c = (Daemon(tmp_path / name).start() for name in "abc")
    try:
        for newcomer in (b, c):
            join(newcomer, invite(a, accept=True)["link"])
            assert final(newcomer)["state"] == "joined"

        def direct() -> bool:
            peers = c.request("GET", "/peers").body["peers"]
            return any(p["name"] == "b" and p["connected"] for p in peers)

        assert eventually(direct, timeout=20)
        found = {p["name"]: p["found_by"] for p in c.request("GET", "/peers").body["peers"]}
        assert "mdns" in (
            found["b"],
            {p["name"]: p["found_by"] for p in b.request("GET", "/peers").body["peers"]}["c"],
        )
        assert a.stop() == 0
        add(b, "no a in sight")
        assert eventually(lambda: "no a in sight" in issuers(c))
    finally:
        for d in (a, b, c):
            d.kill()


def test_a_rename_shows_on_every_device(fleet: list[Daemon]) -> None:
    a, b, _ = fleet
    r = b.request("PATCH", "/devices/self", {"name": "desk"})
    assert (r.status, r.body["name"], r.body["this_device"]) == (200, "desk", True)

    def names() -> set[str]:
        return {d["name"] for d in a.request("GET", "/devices").body["devices"]}

    assert eventually(lambda: "desk" in names())
    r = b.request("PATCH", "/devices/self", {"name": ""})
    assert (r.status, r.body["field"]) == (422, "name")
