"""Two real daemons on loopback: pairing by invitation link, then live sync.

Expiry runs in one process instead, with the pairings' clock moved rather than slept through.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cbor2
import pytest

from tests.clock import Clock
from tests.eventually import eventually
from tests.integration.daemon import Daemon
from tests.integration.in_process import Api, close, open_keeper
from twofold.protocol.invitation import Invitation

SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


@pytest.fixture
def pair_of(tmp_path: Path) -> Iterator[tuple[Daemon, Daemon]]:
    a = Daemon(tmp_path / "laptop").start()
    b = Daemon(tmp_path / "desktop").start()
    try:
        yield a, b
    finally:
        a.kill()
        b.kill()


def add(d: Daemon, issuer: str) -> dict[str, Any]:
    r = d.request("POST", "/accounts", {"issuer": issuer, "secret": SECRET})
    assert r.status == 201, r.body
    return r.body


def issuers(d: Daemon) -> list[str]:
    return [a["issuer"] for a in d.request("GET", "/accounts").body["accounts"]]


def invite(d: Daemon, **body: Any) -> dict[str, Any]:
    r = d.request("POST", "/invitations", body)
    assert r.status == 201, r.body
    assert r.body["qr_svg"].lstrip().startswith("<svg")
    assert base64.b64decode(r.body["qr_png"]).startswith(b"\x89PNG")
    return r.body


def join(d: Daemon, link: str, accept: bool = True) -> dict[str, Any]:
    """Start joining; `accept` gives the joining side's yes at once, as `twofold join --yes`."""
    r = d.request("POST", "/join", {"link": link, "accept": accept})
    assert r.status == 202, r.body
    return eventually(lambda: _settled(d))


def _settled(d: Daemon) -> dict[str, Any] | None:
    state = d.request("GET", "/join").body
    return state if state["state"] not in ("connecting",) else None


def final(d: Daemon) -> dict[str, Any]:
    return eventually(
        lambda: (
            (s := d.request("GET", "/join").body)["state"] in ("joined", "declined", "failed") and s
        )
    )


def joined(a: Daemon, b: Daemon) -> Iterator[tuple[Daemon, Daemon]]:
    """Two started daemons with b joined into a's vault, for a fixture; both killed after."""
    try:
        join(b, invite(a, accept=True)["link"])
        assert final(b)["state"] == "joined"
        yield a, b
    finally:
        a.kill()
        b.kill()


def test_pair_then_edits_flow_both_ways(pair_of: tuple[Daemon, Daemon]) -> None:
    a, b = pair_of
    add(a, "GitHub")
    add(b, "Brought along")
    inv = invite(a)
    assert len(inv["link"]) < 200
    joining = join(b, inv["link"], accept=False)
    assert joining["state"] == "confirming"
    assert joining["vault"]["devices"] == ["laptop"]
    assert joining["vault"]["id"] == a.request("GET", "/status").body["vault"]["id"]
    shown = eventually(lambda: a.request("GET", f"/invitations/{inv['id']}").body["peer"])
    assert shown["code"] == joining["code"]
    assert shown["name"] == "desktop"
    assert joining["peer"]["name"] == "laptop"
    assert a.request("POST", f"/invitations/{inv['id']}/accept").body["state"] == "waiting"
    assert b.request("GET", "/join").body["state"] == "confirming"
    assert b.request("POST", "/join/accept").status == 200
    assert final(b)["state"] == "joined"
    assert a.request("GET", f"/invitations/{inv['id']}").body["state"] == "accepted"
    both = ["Brought along", "GitHub"]
    assert eventually(lambda: issuers(b) == both)
    assert eventually(lambda: issuers(a) == both)
    assert a.request("GET", "/status").body["vault"] == b.request("GET", "/status").body["vault"]

    add(a, "Made on the laptop")
    assert eventually(lambda: "Made on the laptop" in issuers(b))
    acc = add(b, "Made on the desktop")
    assert eventually(lambda: "Made on the desktop" in issuers(a))
    b.request("DELETE", f"/accounts/{acc['id']}")
    assert eventually(lambda: "Made on the desktop" not in issuers(a))


def test_a_declined_device_stays_out(pair_of: tuple[Daemon, Daemon]) -> None:
    a, b = pair_of
    add(a, "GitHub")
    inv = invite(a)
    join(b, inv["link"])
    eventually(lambda: a.request("GET", f"/invitations/{inv['id']}").body["peer"])
    a.request("POST", f"/invitations/{inv['id']}/decline")
    assert (declined := final(b))["state"] == "declined"
    assert declined["error"] == "the other device declined"
    assert issuers(b) == []
    assert a.request("GET", "/status").body["members"] == 1


def tampered(link: str, **changes: Any) -> str:
    data = link.removeprefix("twofold://pair/")
    fields = cbor2.loads(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))
    fields.update(changes)
    return "twofold://pair/" + base64.urlsafe_b64encode(cbor2.dumps(fields)).decode().rstrip("=")


def test_a_wrong_secret_fails_clearly_and_the_right_one_still_works(
    pair_of: tuple[Daemon, Daemon],
) -> None:
    a, b = pair_of
    inv = invite(a, accept=True)
    wrong = join(b, tampered(inv["link"], s=bytes(16)))
    assert wrong["state"] == "failed"
    assert "did not match" in wrong["error"]
    assert a.request("GET", f"/invitations/{inv['id']}").body["state"] == "open"
    assert a.request("GET", "/status").body["members"] == 1
    join(b, inv["link"])
    assert final(b)["state"] == "joined"


def test_five_failures_close_the_invitation(pair_of: tuple[Daemon, Daemon]) -> None:
    a, b = pair_of
    inv = invite(a, accept=True)
    for i in range(5):
        assert join(b, tampered(inv["link"], s=bytes([i]) * 16))["state"] == "failed"
    closed = a.request("GET", f"/invitations/{inv['id']}").body
    assert closed["state"] == "failed"
    assert "too many failed attempts" in closed["error"]
    listed = a.request("GET", "/invitations").body["invitations"]
    assert [i["state"] for i in listed] == ["failed"]
    sixth = join(b, inv["link"])
    assert sixth["state"] == "failed"
    assert "too many failed attempts" in sixth["error"]
    assert a.request("GET", "/status").body["members"] == 1


def test_an_invitation_is_single_use(tmp_path: Path, pair_of: tuple[Daemon, Daemon]) -> None:
    a, b = pair_of
    inv = invite(a, accept=True)
    join(b, inv["link"])
    assert final(b)["state"] == "joined"
    c = Daemon(tmp_path / "third").start()
    try:
        again = join(c, inv["link"])
        assert again["state"] == "failed"
        assert "not open" in again["error"] or "used" in again["error"]
        assert a.request("GET", "/status").body["members"] == 2
    finally:
        c.kill()


def test_an_expired_invitation_is_refused(tmp_path: Path) -> None:
    """In one process, both devices' invitations on one moved clock: nothing sleeps
    through the TTL."""
    clock = Clock(1_790_000_000.0)

    async def run() -> None:
        a = await open_keeper(tmp_path / "laptop", wall_clock=clock)
        b = await open_keeper(tmp_path / "desktop", wall_clock=clock)
        try:
            async with Api(a) as laptop, Api(b) as desktop:
                status, inv = await laptop.call("POST", "/invitations", {"accept": True, "ttl": 5})
                assert status == 201, inv
                shown = f"/invitations/{inv['id']}"
                pairing = a.door.parts().pairing
                clock.now += 4.9
                pairing.expire_due()  # as its timer would: not yet
                assert (await laptop.call("GET", shown))[1]["state"] == "open"
                clock.now += 0.1
                status, body = await desktop.call("POST", "/join", {"link": inv["link"]})
                assert (status, body["field"]) == (400, "link")
                assert "expired" in body["detail"]
                assert b.door.parts().pairing.joining is None  # it never began
                pairing.expire_due()
                assert (await laptop.call("GET", shown))[1]["state"] == "expired"
        finally:
            await close(a)
            await close(b)

    asyncio.run(run())


def test_the_reverse_flow_the_new_device_shows_the_code(pair_of: tuple[Daemon, Daemon]) -> None:
    member, newcomer = pair_of
    add(member, "GitHub")
    add(newcomer, "Brought along")
    r = newcomer.request("POST", "/offers", {})
    assert r.status == 201, r.body
    offer = r.body
    assert newcomer.request("GET", "/join").body["state"] == "showing"
    r = member.request("POST", "/pair", {"link": offer["link"]})
    assert r.status == 202, r.body
    scanned = eventually(
        lambda: (s := member.request("GET", "/pair").body)["state"] != "connecting" and s
    )
    assert scanned["state"] == "confirming", scanned
    shown = eventually(lambda: (s := newcomer.request("GET", "/join").body)["code"] and s)
    assert shown["code"] == scanned["code"]
    assert (shown["peer"]["name"], scanned["peer"]["name"]) == ("laptop", "desktop")
    assert shown["vault"]["devices"] == ["laptop"]
    assert scanned["vault"] is None
    assert member.request("POST", "/pair/accept").body["state"] == "waiting"
    assert newcomer.request("GET", "/join").body["state"] == "confirming"
    assert newcomer.request("POST", "/join/accept").status == 200
    assert final(newcomer)["state"] == "joined"
    assert member.request("GET", "/pair").body["state"] == "accepted"
    both = ["Brought along", "GitHub"]
    assert eventually(lambda: issuers(newcomer) == both)
    assert eventually(lambda: issuers(member) == both)
    add(member, "Live")
    assert eventually(lambda: "Live" in issuers(newcomer))


def test_a_member_link_scanned_the_wrong_way_says_what_to_do(
    pair_of: tuple[Daemon, Daemon],
) -> None:
    a, b = pair_of
    link = invite(a)["link"]
    r = b.request("POST", "/pair", {"link": link})
    assert (r.status, r.body["field"]) == (400, "link")
    assert "twofold join" in r.body["detail"]
    offer = b.request("POST", "/offers", {}).body["link"]
    r = a.request("POST", "/join", {"link": offer})
    assert (r.status, r.body["field"]) == (400, "link")
    assert "twofold pair" in r.body["detail"]


def test_a_link_pointing_at_another_device_is_refused_as_an_impostor(tmp_path: Path) -> None:
    """Someone rewrites a shown link's port to their own device: the pinned hello finds a
    certificate other than the one the code pins, and the join says so and sends nothing."""
    a = Daemon(tmp_path / "laptop").start()
    mallory = Daemon(tmp_path / "mallory").start()
    b = Daemon(tmp_path / "desktop").start()
    try:
        shown = Invitation.from_link(invite(a, accept=True)["link"])
        forged = dataclasses.replace(shown, port=mallory.peer_port).to_link()
        joined = join(b, forged)
        assert joined["state"] == "failed", joined
        assert "not the one that showed the QR code" in joined["error"]
        assert a.request("GET", "/status").body["members"] == 1
        assert mallory.request("GET", "/status").body["members"] == 1
    finally:
        for d in (a, mallory, b):
            d.kill()
