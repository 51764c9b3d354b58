"""A lost device is remembered: last seen, last sync, address and what it lacks survive a
kill -9 of it and a restart of the survivor; and "lacks" is true within a round trip."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.eventually import eventually
from tests.integration.daemon import Daemon
from tests.integration.test_cli import twofold
from tests.integration.test_pairing import add, issuers, joined
from twofold.daemon.sync import ANTI_ENTROPY_S

WELL_BEFORE_ANTI_ENTROPY_S = 5.0
assert WELL_BEFORE_ANTI_ENTROPY_S < ANTI_ENTROPY_S / 4


@pytest.fixture
def paired(tmp_path: Path) -> Iterator[tuple[Daemon, Daemon]]:
    a = Daemon(tmp_path / "laptop", config="mdns = false\n").start()
    yield from joined(a, Daemon(tmp_path / "phone", config="mdns = false\n").start())


def peer(d: Daemon, name: str) -> dict[str, Any]:
    return next(p for p in d.request("GET", "/peers").body["peers"] if p["name"] == name)


def device(d: Daemon, name: str) -> dict[str, Any]:
    return next(x for x in d.request("GET", "/devices").body["devices"] if x["name"] == name)


def test_lacks_reaches_zero_within_a_round_trip_not_the_next_anti_entropy_round(
    paired: tuple[Daemon, Daemon],
) -> None:
    a, b = paired
    eventually(lambda: peer(a, "phone")["connected"] and peer(b, "laptop")["connected"])
    for i in range(3):
        add(a, f"made on the laptop {i}")
        add(b, f"made on the phone {i}")
        for here, there in ((a, "phone"), (b, "laptop")):
            eventually(
                lambda here=here, there=there: (
                    (p := peer(here, there))["lacks"] == 0 and p["lacks_exact"]
                ),
                timeout=WELL_BEFORE_ANTI_ENTROPY_S,
            )
    assert len(issuers(a)) == len(issuers(b)) == 6


def test_a_killed_device_is_remembered_with_an_aged_estimate_across_a_restart(
    paired: tuple[Daemon, Daemon],
) -> None:
    a, b = paired
    add(a, "GitHub")
    eventually(lambda: "GitHub" in issuers(b))
    eventually(lambda: peer(a, "phone")["lacks"] == 0, timeout=WELL_BEFORE_ANTI_ENTROPY_S)
    b.kill()  # kill -9: no goodbye
    gone = eventually(lambda: (p := peer(a, "phone"))["connected"] is False and p)
    assert gone["last_seen"] is not None
    assert gone["last_sync"] is not None
    assert str(gone["address"]).startswith("127.0.0.1")
    assert gone["found_by"] in ("pairing", "incoming")
    assert (gone["lacks"], gone["lacks_exact"]) == (0, False)
    assert gone["lacks_known_at"] is not None
    add(a, "made while the phone was gone")
    assert (peer(a, "phone")["lacks"], peer(a, "phone")["lacks_exact"]) == (1, False)
    seen = device(a, "phone")
    assert (seen["connected"], seen["last_seen"]) == (False, gone["last_seen"])

    assert a.stop() == 0
    a.start()
    after = peer(a, "phone")
    assert after["connected"] is False
    for key in ("last_seen", "last_sync", "address", "found_by", "lacks_known_at"):
        assert after[key] == gone[key], key
    assert (after["lacks"], after["lacks_exact"]) == (1, False)
    remembered = device(a, "phone")
    assert (remembered["last_seen"], remembered["last_sync"]) == (
        gone["last_seen"],
        gone["last_sync"],
    )


def test_the_cli_shows_the_lost_device_as_last_seen_with_an_estimate(
    paired: tuple[Daemon, Daemon],
) -> None:
    a, b = paired
    eventually(lambda: peer(a, "phone")["connected"])
    b.kill()
    eventually(lambda: not peer(a, "phone")["connected"])
    add(a, "while it was gone")
    assert a.stop() == 0
    a.start()
    out = twofold(a, "peers").stdout
    line = next(x for x in out.splitlines() if x.startswith("phone"))
    assert "last seen " in line
    assert "never" not in line
    assert "~1 (as of " in line
    out = twofold(a, "devices").stdout
    assert "last seen " in next(x for x in out.splitlines() if x.startswith("phone"))


def test_a_restarted_device_dials_a_member_where_it_last_reached_it(
    paired: tuple[Daemon, Daemon],
) -> None:
    """The laptop met the phone once through a static address, not through pairing. After
    a restart on a new port, which the phone cannot know, only the laptop's memory of that
    address brings them together again."""
    a, b = paired
    assert a.stop() == 0
    a.start("--peer", f"127.0.0.1:{b.peer_port}")  # a one-off, not written to config.toml
    eventually(lambda: (p := peer(a, "phone"))["connected"] and p["found_by"] == "static")
    assert a.stop() == 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        moved_to = s.getsockname()[1]
    config = a.home / "config.toml"
    lines = [x for x in config.read_text().splitlines() if not x.startswith("peer_port")]
    config.write_text("\n".join([*lines, f"peer_port = {moved_to}", ""]))
    a.start()
    assert a.peer_port == moved_to
    eventually(lambda: (p := peer(a, "phone"))["connected"] and p["found_by"] == "static")
    add(a, "after the move")
    eventually(lambda: "after the move" in issuers(b))
