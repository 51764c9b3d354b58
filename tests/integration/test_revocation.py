"""A lost or stolen device, races, and key grants, with real daemons on loopback.

The thief works on a stopped device's home as a thief with the disk would: it signs ops
with the device's key and any clock its chain allows (tests/integration/thief.py), and
the daemon, started again, pushes them like any other op. Who meets whom is set by
stopping daemons and naming static peers, so every order is the one the scenario needs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.eventually import eventually
from tests.integration import thief
from tests.integration.daemon import Daemon
from tests.integration.test_pairing import add, final, invite, issuers, join
from tests.unit.fleet import removal_body
from twofold.protocol.envelope import OpKind

CONFIG = 'mdns = false\nstore_key = "file"\n'


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[dict[str, Daemon]]:
    """a made the vault; b and c joined through a, and each holds the others' accounts."""
    devices = {name: Daemon(tmp_path / name, config=CONFIG).start() for name in "abc"}
    try:
        for newcomer in ("b", "c"):
            join(devices[newcomer], invite(devices["a"], accept=True)["link"])
            assert final(devices[newcomer])["state"] == "joined"
        for name, d in devices.items():
            add(d, f"typed on {name}")
        for d in devices.values():
            assert eventually(lambda d=d: len(issuers(d)) == 3)
        yield devices
    finally:
        for d in devices.values():
            d.kill()


def device_id(d: Daemon) -> str:
    return str(d.request("GET", "/status").body["device"]["id"])


def standing(d: Daemon) -> dict[str, Any]:
    return dict(d.request("GET", "/status").body["standing"])


def members(d: Daemon) -> set[str]:
    devices = d.request("GET", "/devices").body["devices"]
    return {x["name"] for x in devices if not x["revoked"]}


def restart(d: Daemon, *extra: str) -> None:
    assert d.stop() == 0
    d.start(*extra)


@pytest.mark.parametrize(
    ("revoker", "stolen", "bystander"),
    [("a", "c", "b"), ("b", "c", "a"), ("b", "a", "c")],
    ids=["the-founder-revokes", "another-device-revokes", "the-stolen-device-is-the-founder"],
)
def test_a_backdated_removal_never_brings_a_revoked_device_back(
    fleet: dict[str, Daemon], revoker: str, stolen: str, bystander: str
) -> None:
    r, t, y = fleet[revoker], fleet[stolen], fleet[bystander]
    ids = {name: device_id(d) for name, d in fleet.items()}
    assert t.stop() == 0  # lost, with everything on it
    assert y.stop() == 0  # away: it will meet the thief first
    revoked = r.request("POST", f"/devices/{ids[stolen]}/revoke")
    assert (revoked.status, revoked.body["revoked"]) == (200, True), revoked.body
    assert r.stop() == 0
    # The thief, holding the stopped device, removes its revoker and the bystander with the
    # earliest clock its chain allows: before anything the revoker did.
    thief.backdated_removal(t.home, ids[revoker])
    thief.backdated_removal(t.home, ids[bystander])

    t.start()
    y.start("--peer", f"127.0.0.1:{t.peer_port}")
    # The bystander hears the thief first: for now, the thief's removals count there.
    assert eventually(lambda: standing(y)["state"] == "removed", timeout=15)
    assert add_refused(y) == "urn:twofold:problem:removed-from-vault"
    assert t.stop() == 0

    r.start("--peer", f"127.0.0.1:{y.peer_port}")  # then it hears the revoker
    assert eventually(lambda: standing(y)["state"] == "member", timeout=15)
    assert eventually(lambda: standing(r)["state"] == "removed", timeout=15)
    # Both removals were made without having seen the other: a cycle, so both leave; the
    # thief's removal of the bystander, which never removed it, never counts.
    for d in (r, y):
        assert members(d) == {bystander}
    assert standing(r)["removed_by"]["id"] == ids[stolen]
    devices = {x["name"]: x for x in y.request("GET", "/devices").body["devices"]}
    assert devices[stolen]["removed_by"] == ids[revoker]

    # Every daemon starts again, the thief's too, and the two honest ones say the same.
    t.start()
    for d in (r, y, t):
        restart(d, *([] if d is y else ["--peer", f"127.0.0.1:{y.peer_port}"]))
    assert t.stop() == 0
    assert members(y) == {bystander}
    assert members(r) == {bystander}

    # The vault goes on with the bystander, under a key neither device that left holds.
    add(y, "after")
    t.start()
    assert "after" not in issuers(t)
    assert "after" not in issuers(r)
    for d in (r, y, t):
        assert d.stop() == 0


def add_refused(d: Daemon) -> str:
    r = d.request("POST", "/accounts", {"issuer": "refused", "secret": "JBSWY3DPEHPK3PXP"})
    assert r.status == 409, r.body
    return str(r.body["type"])


def test_an_honest_race_never_stops_a_daemon_from_starting(fleet: dict[str, Daemon]) -> None:
    p, q, lost = fleet["a"], fleet["b"], fleet["c"]
    lost_id = device_id(lost)
    assert q.stop() == 0
    assert lost.stop() == 0
    assert p.request("POST", f"/devices/{lost_id}/revoke").status == 200
    assert p.stop() == 0
    lost.start()  # not told yet: it writes on
    add(lost, "typed on the lost one")
    q.start("--peer", f"127.0.0.1:{lost.peer_port}")  # q meets it first
    assert eventually(lambda: "typed on the lost one" in issuers(q), timeout=15)
    assert lost.stop() == 0
    restart(q)
    assert "typed on the lost one" in issuers(q)
    p.start("--peer", f"127.0.0.1:{q.peer_port}")  # then p, with the revocation
    assert eventually(lambda: "typed on the lost one" not in issuers(q), timeout=15)
    assert members(q) == {"a", "b"}
    for d in (p, q):
        restart(d)
        assert "typed on the lost one" not in issuers(d)
        assert members(d) == {"a", "b"}


def test_a_members_backdated_removal_of_a_third_device_never_stops_a_start(
    fleet: dict[str, Daemon],
) -> None:
    a, b, c = fleet["a"], fleet["b"], fleet["c"]
    c_id = device_id(c)
    assert a.stop() == 0
    thief.sign_backdated(
        a.home,
        OpKind.DEVICE_REMOVED,
        lambda v: removal_body(v, thief.key_of(v, c_id), heads=[]),
    )
    a.start()
    assert eventually(lambda: members(b) == {"a", "b"}, timeout=15)
    restart(b)
    assert members(b) == {"a", "b"}
    assert "typed on c" not in issuers(b)  # it cut c off below everything c wrote
    assert eventually(lambda: standing(c)["state"] == "removed", timeout=15)


def test_a_device_added_while_another_revokes_reads_everything_with_no_one_acting(
    fleet: dict[str, Daemon], tmp_path: Path
) -> None:
    a, b, c = fleet["a"], fleet["b"], fleet["c"]
    c_id = device_id(c)
    assert c.stop() == 0  # lost
    assert b.stop() == 0  # b and a do not meet while each changes the membership
    d = Daemon(tmp_path / "d", config=CONFIG).start()
    try:
        join(d, invite(a, accept=True)["link"])
        assert final(d)["state"] == "joined"
        assert eventually(lambda: len(issuers(d)) == 3)
        assert a.stop() == 0
        b.start()
        assert b.request("POST", f"/devices/{c_id}/revoke").status == 200  # a key d never got
        add(b, "under the new key")
        a.start("--peer", f"127.0.0.1:{b.peer_port}")
        # d hears the op through a; the key it lacks is granted by a member's daemon.
        assert eventually(lambda: "under the new key" in issuers(d), timeout=15)
        assert members(d) == {"a", "b", "d"}
        add(d, "from d")
        assert eventually(lambda: "from d" in issuers(b), timeout=15)
    finally:
        d.kill()
