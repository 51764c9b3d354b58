"""Several hosts on a LAN made of network namespaces, found by real mDNS.

Skipped, with the reason, where namespaces cannot be made (not root); CI
runs as root, so it runs these.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.eventually import eventually as _eventually
from tests.netns.hosts import IP, Host, can_make_namespaces, network

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(bool(can_make_namespaces()), reason=str(can_make_namespaces())),
]

SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


def eventually(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Across namespaces each check spawns a process: poll less often, wait longer."""
    return _eventually(check, timeout, interval=0.2)


def issuers(h: Host) -> list[str]:
    return sorted(a["issuer"] for a in h.api("GET", "/accounts")["body"]["accounts"])


def pair(inviter: Host, newcomer: Host) -> None:
    link = inviter.api("POST", "/invitations", {"accept": True})["body"]["link"]
    assert newcomer.api("POST", "/join", {"link": link, "accept": True})["status"] == 202
    eventually(lambda: newcomer.api("GET", "/join")["body"]["state"] == "joined")


def snapshot(h: Host) -> Any:
    return (h.api("GET", "/accounts")["body"], h.api("GET", "/conflicts")["body"])


def test_a_partitioned_lan_of_five_heals_into_one_state(tmp_path: Path) -> None:
    with network(tmp_path, 5) as hosts:
        for h in hosts:
            h.start()
        a, b, *others = hosts
        acc = a.api("POST", "/accounts", {"issuer": "GitHub", "secret": SECRET})["body"]
        for newcomer in hosts[1:]:
            pair(a, newcomer)
        # the others were introduced by a only; they meet each other by mDNS
        eventually(
            lambda: all(
                sum(p["connected"] for p in h.api("GET", "/peers")["body"]["peers"]) >= 3
                for h in hosts[1:]
            )
        )
        assert all(issuers(h) == ["GitHub"] for h in hosts)

        a.link(False)  # a is cut off; a and b edit the same field meanwhile
        b.api("PATCH", f"/accounts/{acc['id']}", {"name": "from b"})
        a.api("PATCH", f"/accounts/{acc['id']}", {"name": "from a"})
        a.api("POST", "/accounts", {"issuer": "Made offline", "secret": SECRET})
        for h in others:
            eventually(
                lambda h=h: h.api("GET", f"/accounts/{acc['id']}")["body"]["name"] == "from b"
            )
        a.link(True)

        eventually(lambda: len({repr(snapshot(h)) for h in hosts}) == 1, timeout=60)
        conflicts = a.api("GET", "/conflicts")["body"]["conflicts"]
        assert {v["value"] for v in conflicts[0]["values"]} == {"from a", "from b"}
        assert issuers(others[-1]) == ["GitHub", "Made offline"]


def test_relay_across_hosts_that_share_no_link_and_revoke_one_while_it_is_away(
    tmp_path: Path,
) -> None:
    with network(tmp_path, 3) as hosts:
        a, b, c = hosts
        a.isolate()
        c.isolate()  # a and c cannot reach each other; both reach b
        for h in hosts:
            h.start()
        pair(a, b)
        pair(b, c)
        a.api("POST", "/accounts", {"issuer": "from a", "secret": SECRET})
        eventually(lambda: "from a" in issuers(c))  # only through b
        c_id = c.api("GET", "/status")["body"]["device"]["id"]

        c.link(False)  # c is lost
        assert a.api("POST", f"/devices/{c_id[:9]}/revoke")["status"] == 200
        a.api("POST", "/accounts", {"issuer": "after the revocation", "secret": SECRET})
        eventually(lambda: "after the revocation" in issuers(b))
        c.link(True)  # and comes back
        c.api("POST", "/accounts", {"issuer": "from the revoked", "secret": SECRET})
        a.api("POST", "/accounts", {"issuer": "later still", "secret": SECRET})
        eventually(lambda: "later still" in issuers(b))
        eventually(lambda: c.api("GET", "/status")["body"]["standing"]["state"] == "removed")
        assert "after the revocation" not in issuers(c)
        assert "later still" not in issuers(c)
        assert "from the revoked" not in issuers(a)
        assert "from the revoked" not in issuers(b)


def peer_address(h: Host, device: str) -> tuple[str | None, bool]:
    peers = h.api("GET", "/peers")["body"]["peers"]
    (p,) = [p for p in peers if p["device"] == device]
    return p["address"], p["connected"]


def test_a_stranger_announcing_copies_of_both_records_does_not_part_two_members(
    tmp_path: Path,
) -> None:
    """mDNS records travel in the clear: a stranger can announce a member's record at its own
    address. The dialer must try that address beside the one that works, not instead of it,
    or a stranger who copies both members' records stops their sync."""
    with network(tmp_path, 3) as hosts:
        a, b, c = hosts
        a.start()
        b.start()
        pair(a, b)
        a_id = a.api("GET", "/status")["body"]["device"]["id"]
        b_id = b.api("GET", "/status")["body"]["device"]["id"]
        eventually(lambda: peer_address(a, b_id)[1] and peer_address(b, a_id)[1])

        report = tmp_path / "copied.txt"
        stranger = subprocess.Popen(
            [IP, "netns", "exec", c.ns, sys.executable, str(Path(__file__).with_name(
                "stranger.py")), c.address, str(report), "90"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            eventually(lambda: report.exists() and len(report.read_text().splitlines()) >= 2)
            for h, other in ((a, b_id), (b, a_id)):  # the copies reached both daemons
                eventually(lambda h=h, other=other: f"at {c.address}:" in h.log.read_text())
            a.api("POST", "/accounts", {"issuer": "after the copies", "secret": SECRET})
            eventually(lambda: "after the copies" in issuers(b))
            b.api("POST", "/accounts", {"issuer": "and back", "secret": SECRET})
            eventually(lambda: "and back" in issuers(a))
            assert peer_address(a, b_id)[0].startswith(f"{b.address}:")
            assert peer_address(b, a_id)[0].startswith(f"{a.address}:")
        finally:
            stranger.kill()
            stranger.wait(10)

        # The control: a member that really moved is found at its new address by mDNS.
        b.stop()
        config = b.home / "config.toml"
        text = [line for line in config.read_text().splitlines() if "peer_port" not in line]
        config.write_text("\n".join([*text, "peer_port = 47999", ""]))
        b.start()
        eventually(lambda: peer_address(a, b_id) == (f"{b.address}:47999", True), timeout=60)
