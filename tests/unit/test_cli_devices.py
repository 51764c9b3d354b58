"""twofold devices, devices revoke and peers against the stand-in daemon's devices."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from twofold.clients.cli.main import main

from .cli_runner import run
from .test_cli_pairing import Tty
from .test_sdk_fakedaemon import (
    DEVICES,
    GONE_ID,
    LAPTOP_ID,
    LATER,
    NOW,
    PEERS,
    PHONE_ID,
    TABLET_ID,
    WATCH_ID,
    FakeDaemon,
)

ADDED = f"{datetime.fromisoformat(NOW).astimezone():%Y-%m-%d}"
ADDED_LATER = f"{datetime.fromisoformat(LATER).astimezone():%Y-%m-%d}"
SEEN = f"{datetime.fromisoformat(LATER).astimezone():%Y-%m-%d %H:%M}"
REMOVED_AT = f"{datetime.fromisoformat(NOW).astimezone():%Y-%m-%d %H:%M}"
QUESTION = f"Revoke watch ({WATCH_ID})? It keeps what it already has, but gets nothing new. [y/N] "
REVOKED = (
    "Revoked watch. The vault key is rotated: change the secrets of important accounts at their "
    "sites, since it held them.\n"
)


def run_json(fake: FakeDaemon, capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code, out, err = run(fake, capsys, *argv, "--json")
    assert (code, err) == (0, "")
    return json.loads(out)


def revoked(fake: FakeDaemon) -> list[str]:
    return [d["name"] for d in fake.devices if d["revoked"]]


# -- devices --------------------------------------------------------------------------------


def test_devices_is_a_table_naming_who_added_each(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(fake, capsys, "devices")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "NAME    ID                   ADDED BY             ADDED       STATE",
        f"laptop  {LAPTOP_ID}  —                    {ADDED}  this device",
        f"phone   {PHONE_ID}  laptop               {ADDED}  connected",
        f"tablet  {TABLET_ID}  laptop                           removed by laptop at {REMOVED_AT}",
        f"watch   {WATCH_ID}  {GONE_ID}  {ADDED_LATER}  last seen {SEEN}",  # adder unlisted
    ]


def test_a_device_never_heard_from_is_not_seen(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.devices[3]["last_seen"] = None
    assert run(fake, capsys, "devices")[1].splitlines()[4].endswith("  not seen")


def test_a_device_met_only_through_others_shows_when_it_wrote(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    """A device that syncs through a relay is alive, though this one never reached it."""
    fake.devices[3]["last_seen"] = None
    fake.devices[3]["last_write"] = fake.devices[3]["added_at"]
    row = run(fake, capsys, "devices")[1].splitlines()[4]
    assert row.endswith(f"  wrote {SEEN}, through others")


def test_devices_json_mirrors_the_api(fake: FakeDaemon, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_json(fake, capsys, "devices") == {"devices": DEVICES}


# -- devices revoke -------------------------------------------------------------------------


def test_revoke_with_yes_does_not_ask(fake: FakeDaemon, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(fake, capsys, "devices", "revoke", "wa5c", "--yes")
    assert (code, out, err) == (0, REVOKED, "")
    assert [(s.method, s.path) for s in fake.seen] == [
        ("POST", "/api/v1/devices/wa5c/revoke"),
    ]
    assert revoked(fake) == ["tablet", "watch"]


@pytest.mark.parametrize("typed", ["y\n", "Yes\n"])
def test_revoke_asks_and_revokes_when_the_person_says_yes(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], typed: str
) -> None:
    code, out, err = run(fake, capsys, "devices", "revoke", WATCH_ID, stdin=Tty(typed))
    assert (code, out, err) == (0, QUESTION + REVOKED, "")
    assert [(s.method, s.path) for s in fake.seen] == [
        ("GET", "/api/v1/devices"),
        ("POST", f"/api/v1/devices/{WATCH_ID}/revoke"),
    ]
    assert revoked(fake) == ["tablet", "watch"]


@pytest.mark.parametrize("typed", ["n\n", "\n", ""])
def test_revoke_keeps_the_device_unless_the_person_says_yes(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], typed: str
) -> None:
    code, out, err = run(fake, capsys, "devices", "revoke", "WA5C-H3", stdin=Tty(typed))
    assert (code, out.replace(QUESTION, "").strip(), err) == (1, "Not revoked.", "")
    assert out.startswith(QUESTION)
    assert [s.method for s in fake.seen] == ["GET"]
    assert revoked(fake) == ["tablet"]


def test_revoke_without_a_terminal_is_a_no(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(fake, capsys, "devices", "revoke", "WA5C", stdin=io.StringIO("y\n"))
    assert code == 1
    assert out.splitlines() == [
        "No terminal to ask on, so the answer is no (--yes revokes it without asking).",
        "Not revoked.",
    ]
    assert revoked(fake) == ["tablet"]


def test_revoke_json_gives_the_device(fake: FakeDaemon, capsys: pytest.CaptureFixture[str]) -> None:
    body = run_json(fake, capsys, "devices", "revoke", "WA5C", "--yes")
    removed = {"revoked": True, "removed_by": LAPTOP_ID, "removed_at": NOW}
    assert body == DEVICES[3] | removed
    code, out, err = run(fake, capsys, "--json", "devices", "revoke", "PH0N", stdin=Tty("y\n"))
    assert (code, err) == (0, QUESTION.replace("watch", "phone").replace(WATCH_ID, PHONE_ID))
    assert json.loads(out) == DEVICES[1] | removed | {"connected": False}


@pytest.mark.parametrize("yes", [["--yes"], []])
@pytest.mark.parametrize(
    ("device", "detail"),
    [
        ("ZZZZ-ZZZZ", "no device has an ID starting with ZZZZ-ZZZZ"),
        ("TB7Q", f"device {TABLET_ID} is not a member"),
    ],
)
def test_an_unknown_or_revoked_device_exits_1_with_the_daemons_detail(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], device: str, detail: str, yes: list[str]
) -> None:
    code, out, err = run(fake, capsys, "devices", "revoke", device, *yes, stdin=Tty("y\n"))
    assert (code, out, err) == (1, "", f"twofold: {detail}\n")
    assert revoked(fake) == ["tablet"]
    code, out, _ = run(fake, capsys, "--json", "devices", "revoke", device, *yes)
    assert (code, json.loads(out)["detail"]) == (1, detail)


def test_an_id_that_cannot_be_a_device_is_refused_before_sending(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(fake, capsys, "devices", "revoke", "../x", "--yes")
    assert code == 2, "a malformed ID is wrong usage"
    assert "'../x' is not a device ID" in err
    assert fake.seen == []


def test_revoke_needs_an_id(fake: FakeDaemon, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(fake, capsys, "devices", "revoke")
    assert code == 2
    assert "usage: twofold devices revoke" in err


# -- peers ----------------------------------------------------------------------------------


def test_peers_is_a_table(fake: FakeDaemon, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(fake, capsys, "peers")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "NAME   DEVICE               ADDRESS            FOUND BY  STATE      LAST SYNC"
        "         LACKS",
        f"phone  {PHONE_ID}  192.168.1.20:7700  pairing   connected  {SEEN}  0",
        f"watch  {WATCH_ID}                               not seen   never",
    ]


def test_an_offline_peer_shows_when_it_was_last_seen_and_an_aged_estimate(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    known_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    fake.peers[1] |= {
        "address": "192.168.1.31:7700",
        "found_by": "mdns",
        "last_seen": LATER,
        "last_sync": NOW,
        "lacks": 3,
        "lacks_exact": False,
        "lacks_known_at": known_at.isoformat().replace("+00:00", "Z"),
    }
    local = known_at.astimezone()
    today = local.date() == datetime.now().astimezone().date()  # 5 minutes ago: yesterday at 0:03
    as_of = f"{local:%H:%M}" if today else f"{local:%Y-%m-%d %H:%M}"
    line = run(fake, capsys, "peers")[1].splitlines()[2].split()
    assert line[2:4] == ["192.168.1.31:7700", "mdns"]
    assert " ".join(line[4:]) == f"last seen {SEEN} {REMOVED_AT} ~3 (as of {as_of})"
    fake.peers[1]["lacks_known_at"] = NOW  # another day: the date too
    assert run(fake, capsys, "peers")[1].splitlines()[2].endswith(f"~3 (as of {REMOVED_AT})")
    fake.peers[1] |= {"lacks": 0, "lacks_exact": True, "connected": True}
    assert run(fake, capsys, "peers")[1].splitlines()[2].endswith(f"connected  {REMOVED_AT}  0")


def test_peers_json_mirrors_the_api(fake: FakeDaemon, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_json(fake, capsys, "peers") == {"peers": PEERS}


def test_no_peers(fake: FakeDaemon, capsys: pytest.CaptureFixture[str]) -> None:
    fake.peers = []
    assert run(fake, capsys, "peers")[1] == (
        "no other devices in this vault; add one with: twofold pair\n"
    )


def test_help_lists_the_device_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "devices revoke ID removes a lost one" in out
    assert "\n    peers " in out
    assert main(["devices", "--help"]) == 0
    assert "twofold devices revoke JD3A-ZZQ3-T5K3-7EJC" in capsys.readouterr().out


def test_status_says_who_removed_this_device_and_what_to_do(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.standing = {
        "state": "removed",
        "closed": False,
        "removed_by": {"id": PHONE_ID, "name": "phone"},
        "removed_at": NOW,
        "forked": [],
    }
    code, out, _ = run(fake, capsys, "status")
    assert code == 0
    line = next(x for x in out.splitlines() if x.startswith("standing"))
    assert f"removed from the vault by phone ({PHONE_ID}) at {REMOVED_AT}" in line
    assert line.endswith("twofold vault new")
    assert run_json(fake, capsys, "status")["standing"]["removed_by"]["name"] == "phone"


def test_status_of_a_member_says_nothing_of_standing_unless_a_device_forked(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = run(fake, capsys, "status")
    assert "standing" not in out
    fake.standing["forked"] = [WATCH_ID]
    _, out, _ = run(fake, capsys, "status")
    assert f"the log of {WATCH_ID} forked" in out


def test_a_forked_device_is_flagged_with_the_advice_to_revoke_it(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.devices[3]["forked"] = True
    _, out, _ = run(fake, capsys, "devices")
    assert out.splitlines()[4].endswith("FORKED: its log was copied or tampered with; revoke it")


def test_vault_new_starts_a_vault_and_says_how_to_bring_the_others(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(fake, capsys, "vault", "new")
    assert (code, err) == (0, "")
    assert out.startswith(f"Started vault {'1e' * 16} on this device with 0 accounts.")
    assert "twofold pair" in out
    assert [r.path for r in fake.seen[-2:]] == ["/api/v1/vault/new", "/api/v1/status"]
    assert run_json(fake, capsys, "vault", "new") == {"vault": {"id": "1e" * 16}, "accounts": 0}


def test_vault_new_counts_the_trash_apart_as_status_does(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.add("Kept", "me")
    fake.add("Old", "gone", deleted=True)
    code, out, _ = run(fake, capsys, "vault", "new")
    assert code == 0
    assert "on this device with 1 account (and 1 in the trash)." in out
