"""Both people confirm a pairing, and nothing of the joining device's leaves it before its own
person's yes: the attacks of a malicious invitation and of a photographed offer QR code, each
with the legitimate path beside it. Real daemons, real TLS, the real CLI."""

from __future__ import annotations

import http.client
import os
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.eventually import eventually
from tests.integration.daemon import Daemon
from tests.integration.test_pairing import add, final, invite, issuers, join

pytestmark = pytest.mark.integration
TWOFOLD = str(Path(sys.executable).with_name("twofold"))


@pytest.fixture
def stranger_and_victim(tmp_path: Path) -> Iterator[tuple[Daemon, Daemon]]:
    """A stranger's daemon with a vault of its own, and a person's device holding a secret."""
    stranger = Daemon(tmp_path / "stranger").start()
    victim = Daemon(tmp_path / "victim").start()
    try:
        add(victim, "Victim Bank")
        yield stranger, victim
    finally:
        stranger.kill()
        victim.kill()


def vault_of(d: Daemon) -> str:
    return str(d.request("GET", "/status").body["vault"]["id"])


def members(d: Daemon) -> int:
    return int(d.request("GET", "/status").body["members"])


def got_nothing(stranger: Daemon, victim: Daemon, victim_vault: str) -> None:
    """The stranger's vault holds no device and no account of the victim's, and the victim is
    still in its own vault with its accounts."""
    assert members(stranger) == 1
    assert "Victim Bank" not in issuers(stranger)
    assert vault_of(victim) == victim_vault
    assert issuers(victim) == ["Victim Bank"]


def test_a_malicious_invitation_gets_nothing_until_the_joining_person_says_yes(
    stranger_and_victim: tuple[Daemon, Daemon],
) -> None:
    stranger, victim = stranger_and_victim
    own_vault = vault_of(victim)
    shown = invite(stranger, accept=True)  # the stranger says yes to anyone
    asked = join(victim, shown["link"], accept=False)
    assert asked["state"] == "confirming"
    assert asked["vault"] == {"id": vault_of(stranger), "devices": ["stranger"]}
    assert asked["peer"]["name"] == "stranger"
    stranger_side = f"/invitations/{shown['id']}"
    assert eventually(lambda: stranger.request("GET", stranger_side).body["state"] == "waiting")
    got_nothing(stranger, victim, own_vault)

    declined = victim.request("POST", "/join/decline")
    assert declined.status == 200
    assert declined.body["state"] == "declined"
    assert declined.body["declined_by"] == "this device"
    ended = eventually(
        lambda: (s := stranger.request("GET", stranger_side).body)["state"] == "declined" and s
    )
    assert ended["error"] == "the other device declined"
    assert ended["declined_by"] == "the other device"
    got_nothing(stranger, victim, own_vault)
    again = victim.request("POST", "/join/accept")
    assert again.status == 409
    assert "declined" in again.body["detail"]


def test_without_a_terminal_twofold_join_declines_and_sends_nothing(
    stranger_and_victim: tuple[Daemon, Daemon],
) -> None:
    stranger, victim = stranger_and_victim
    own_vault = vault_of(victim)
    shown = invite(stranger, accept=True)
    run = subprocess.run(
        [TWOFOLD, "--home", str(victim.home), "join", shown["link"]],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode != 0, run.stdout
    said = run.stdout + run.stderr
    assert "No terminal to ask on" in said
    assert "Joined" not in said
    assert victim.request("GET", "/join").body["state"] == "declined"
    assert eventually(
        lambda: stranger.request("GET", f"/invitations/{shown['id']}").body["state"] == "declined"
    )
    got_nothing(stranger, victim, own_vault)


def test_a_photographed_offer_used_by_a_stranger_gets_nothing(
    stranger_and_victim: tuple[Daemon, Daemon],
) -> None:
    stranger, victim = stranger_and_victim
    own_vault = vault_of(victim)
    offer = victim.request("POST", "/offers", {})
    assert offer.status == 201, offer.body
    scanned = stranger.request("POST", "/pair", {"link": offer.body["link"], "accept": True})
    assert scanned.status == 202, scanned.body
    asked = eventually(lambda: (s := victim.request("GET", "/join").body)["vault"] and s)
    assert asked["state"] == "confirming"
    assert asked["vault"]["devices"] == ["stranger"]
    assert eventually(lambda: stranger.request("GET", "/pair").body["state"] == "waiting")
    got_nothing(stranger, victim, own_vault)

    assert victim.request("POST", "/join/decline").body["state"] == "declined"
    assert eventually(lambda: stranger.request("GET", "/pair").body["state"] == "declined")
    assert victim.request("GET", f"/invitations/{offer.body['id']}").body["state"] == "declined"
    got_nothing(stranger, victim, own_vault)


def test_the_offer_shown_by_twofold_join_show_without_a_terminal_sends_nothing(
    stranger_and_victim: tuple[Daemon, Daemon],
) -> None:
    stranger, victim = stranger_and_victim
    own_vault = vault_of(victim)
    show = subprocess.Popen(
        [TWOFOLD, "--home", str(victim.home), "--json", "join", "--show"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        offer = eventually(lambda: victim.request("GET", "/invitations").body["invitations"])
        link = offer[0]["link"]
        assert stranger.request("POST", "/pair", {"link": link, "accept": True}).status == 202
        out, err = show.communicate(timeout=60)
        assert show.returncode != 0, out
        assert "No terminal to ask on" in err
    finally:
        if show.poll() is None:
            show.kill()
            show.communicate()
    assert eventually(lambda: stranger.request("GET", "/pair").body["state"] == "declined")
    got_nothing(stranger, victim, own_vault)


@pytest.mark.parametrize("first", ["newcomer", "member"])
def test_both_yeses_in_either_order_join_and_bring_the_accounts_along(
    stranger_and_victim: tuple[Daemon, Daemon], first: str
) -> None:
    """The control: a member and a newcomer whose people both confirm."""
    member, newcomer = stranger_and_victim
    add(member, "GitHub")
    shown = invite(member)
    join(newcomer, shown["link"], accept=False)
    accept_member = f"/invitations/{shown['id']}/accept"
    if first == "newcomer":
        assert newcomer.request("POST", "/join/accept").body["state"] == "waiting"
        assert members(member) == 1
        assert member.request("POST", accept_member).body["state"] == "accepted"
    else:
        assert member.request("POST", accept_member).body["state"] == "waiting"
        assert members(member) == 1
        assert newcomer.request("POST", "/join/accept").status == 200
    assert final(newcomer)["state"] == "joined"
    both = ["GitHub", "Victim Bank"]
    assert eventually(lambda: issuers(member) == both)
    assert eventually(lambda: issuers(newcomer) == both)


def test_a_member_that_declines_after_the_newcomer_said_yes_gets_nothing(
    stranger_and_victim: tuple[Daemon, Daemon],
) -> None:
    member, newcomer = stranger_and_victim
    own_vault = vault_of(newcomer)
    shown = invite(member)
    join(newcomer, shown["link"], accept=False)
    assert newcomer.request("POST", "/join/accept").body["state"] == "waiting"
    member.request("POST", f"/invitations/{shown['id']}/decline")
    assert (ended := final(newcomer))["state"] == "declined"
    assert ended["error"] == "the other device declined"
    got_nothing(member, newcomer, own_vault)


def _peer_post(d: Daemon, path: str, body: bytes) -> tuple[int, bytes]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # a stranger on the LAN trusts nothing, and is not trusted
    conn = http.client.HTTPSConnection("127.0.0.1", d.peer_port, context=ctx, timeout=10)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/cbor"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


GARBAGE: list[bytes] = [
    b"",
    b"\xff\xfe not cbor",
    b"\x1f",  # a truncated CBOR head
    b"\xa1\x61i\x41\x00",  # {"i": h'00'} without "m"
    b"\x83\x01\x02\x03",  # an array, not a map
    b"\xbf" * 2000,  # nested indefinite maps
    os.urandom(70_000),  # larger than a pairing message may be
]


@pytest.mark.parametrize("path", ["hello", "await", "decide"])
def test_malformed_pairing_messages_get_a_4xx_and_no_traceback(tmp_path: Path, path: str) -> None:
    d = Daemon(tmp_path / "d").start()
    try:
        invite(d)
        for body in GARBAGE:
            try:
                status, answer = _peer_post(d, f"/peer/v1/pair/{path}", body)
            except (ConnectionError, http.client.RemoteDisconnected):
                # Refused before it was read: the client may see the reset, not the 413.
                assert len(body) > 65536
                continue
            assert 400 <= status < 500, (body[:20], status, answer[:200])
        assert d.request("GET", "/status").status == 200
        log = d.log.read_text()
        assert "Traceback" not in log
        assert "Error handling request" not in log
    finally:
        d.kill()


def test_a_yes_taken_back_before_the_member_answered_sends_nothing(
    stranger_and_victim: tuple[Daemon, Daemon],
) -> None:
    member, newcomer = stranger_and_victim
    own_vault = vault_of(newcomer)
    shown = invite(member)
    join(newcomer, shown["link"], accept=False)
    assert newcomer.request("POST", "/join/accept").body["state"] == "waiting"
    stopped = newcomer.request("DELETE", "/join")
    assert stopped.status == 200
    assert (stopped.body["state"], stopped.body["declined_by"]) == ("declined", "this device")
    side = f"/invitations/{shown['id']}"
    assert eventually(lambda: member.request("GET", side).body["state"] == "declined")
    late = member.request("POST", f"{side}/accept")
    assert late.status == 409
    got_nothing(member, newcomer, own_vault)


def test_stopping_a_join_still_connecting_cancels_it(tmp_path: Path) -> None:
    newcomer = Daemon(tmp_path / "newcomer").start()
    try:
        offer = newcomer.request("POST", "/offers", {})
        assert offer.status == 201
        stopped = newcomer.request("DELETE", "/join")
        assert stopped.body["state"] == "cancelled"
        shown = newcomer.request("GET", f"/invitations/{offer.body['id']}").body
        assert shown["state"] == "cancelled"
    finally:
        newcomer.kill()
