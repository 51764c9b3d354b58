"""twofold pair and twofold join against the stand-in daemon, which plays pairing by script:
both ways round, pair/join LINK and join --show/pair LINK."""

from __future__ import annotations

import io
import json
from datetime import datetime
from typing import Any

import pytest

from twofold.clients.cli import pairing
from twofold.clients.cli.main import main

from .cli_runner import run
from .test_sdk_fakedaemon import JOINED, LINK, NOW, FakeDaemon

ASKED = "phone (PH0N-E2AA-BBCC-DDEE) wants to join. Check that it shows the code: 123 456"
INVITE = "Scan this QR code with the new device, or run there: twofold join '{link}'"
ID = f"{1:016x}"  # the stand-in's first invitation
EXPIRES = f"{datetime.fromisoformat(NOW).astimezone():%H:%M}"
CONFIRM = (
    "Joining the vault of laptop (JD3A-ZZQ3-T5K3-7EJC). "
    "Check that it shows the code: 123 456, and accept there."
)
OFFER = "On a device of the vault, run: twofold pair '{link}' (or scan this QR code)"
WAITING = f"The offer expires at {EXPIRES}. Waiting for a device of the vault..."
ADDING = "laptop (JD3A-ZZQ3-T5K3-7EJC) is adding this device. Check that it shows the code: 123 456"
PEER = {"name": "phone", "device": "PH0N-E2AA-BBCC-DDEE"}


class Tty(io.StringIO):
    """Standard input as a person at a terminal types it."""

    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pairing, "POLL_S", 0.0)


def requests(fake: FakeDaemon) -> list[tuple[str, str]]:
    """The pairing requests the stand-in saw, paths without /api/v1 and the invitation ID."""
    return [(s.method, s.path.removeprefix("/api/v1").replace(f"/{ID}", "/ID")) for s in fake.seen]


def prose(out: str) -> list[str]:
    """The lines of pair's output after its QR code."""
    lines = out.splitlines()
    assert any("█" in line for line in lines[:3]), "no QR code"
    return [line for line in lines if "█" not in line and "▀" not in line]


# -- pair -----------------------------------------------------------------------------------


def test_pair_with_yes_lets_the_daemon_accept(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(fake, capsys, "pair", "--yes", "--ttl", "300")
    invitation = fake.invitations[ID]
    assert (code, err) == (0, "")
    assert prose(out) == [
        INVITE.format(link=invitation["link"]),
        f"The invitation expires at {EXPIRES}. Waiting for the new device...",
        ASKED,
        "Added phone.",
    ]
    assert fake.seen[0].body == {"ttl": 300, "accept": True}
    assert requests(fake) == [
        ("POST", "/invitations"),
        ("GET", "/invitations/ID"),
        ("GET", "/invitations/ID"),
    ]
    assert invitation["state"] == "accepted"


def test_pair_waits_for_a_device_to_answer(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.answer_after = 3
    code, out, _ = run(fake, capsys, "pair", "--yes")
    assert code == 0
    assert out.endswith(f"{ASKED}\nAdded phone.\n")
    assert requests(fake).count(("GET", "/invitations/ID")) == 4


@pytest.mark.parametrize("typed", ["y\n", "YES\n"])
def test_pair_adds_the_device_when_the_person_says_yes(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], typed: str
) -> None:
    code, out, _ = run(fake, capsys, "pair", stdin=Tty(typed))
    assert code == 0
    assert out.endswith(f"{ASKED}\nAdd it to this vault? [y/N] Added phone.\n")
    assert fake.seen[0].body == {}
    assert requests(fake)[-1] == ("POST", "/invitations/ID/accept")
    assert fake.invitations[ID]["state"] == "accepted"


@pytest.mark.parametrize("typed", ["n\n", "\n", "whatever\n", ""])
def test_pair_declines_unless_the_person_says_yes(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], typed: str
) -> None:
    code, out, _ = run(fake, capsys, "pair", stdin=Tty(typed))
    assert code == 1
    assert "Add it to this vault? [y/N] " in out
    assert out.endswith("Declined.\n")
    assert requests(fake)[-1] == ("POST", "/invitations/ID/decline")
    assert fake.invitations[ID]["state"] == "declined"


def test_pair_without_a_terminal_declines(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(fake, capsys, "pair", stdin=io.StringIO("y\n"))
    assert code == 1
    assert out.endswith(
        f"{ASKED}\nNo terminal to ask on, so the answer is no (--yes adds it without asking).\n"
        "Declined.\n"
    )
    assert fake.invitations[ID]["state"] == "declined"


@pytest.mark.parametrize(
    ("end", "says"),
    [
        ("expired", "The invitation expired; open a new one with: twofold pair"),
        ("cancelled", "The invitation was cancelled."),
        ("failed", "Pairing with the device that answered failed; open a new invitation"),
    ],
)
def test_pair_exits_1_when_the_invitation_ends_unanswered(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], end: str, says: str
) -> None:
    fake.invitation_end = end
    code, out, err = run(fake, capsys, "pair", "--yes")
    assert code == 1
    assert err.startswith(f"twofold: {says}")
    assert ASKED not in out
    code, out, _ = run(fake, capsys, "pair", "--json")
    assert code == 1
    assert json.loads(out)["type"] == f"urn:twofold:cli:invitation-{end}"


def test_pair_gives_up_and_cancels_past_the_expiry(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pairing, "PAIR_GRACE_S", -1.0)
    fake.answer_after = 100
    code, _, err = run(fake, capsys, "pair")
    assert code == 1
    assert "Gave up waiting" in err
    assert fake.invitations[ID]["state"] == "cancelled"


def test_ctrl_c_cancels_the_invitation(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(pairing.time, "sleep", interrupt)
    fake.answer_after = 100
    code, out, _ = run(fake, capsys, "pair")
    assert code == 130
    assert out.endswith("\nCancelled the invitation.\n")
    assert requests(fake)[-1] == ("DELETE", "/invitations/ID")
    assert fake.invitations[ID]["state"] == "cancelled"


def test_pair_json_prints_the_final_invitation_and_keeps_the_prose_off_stdout(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(fake, capsys, "pair", "--yes", "--json")
    assert code == 0
    body = json.loads(out)
    assert body == fake.invitations[ID]
    assert (body["state"], body["peer"]["code"]) == ("accepted", "123456")
    assert "qr_svg" not in body
    assert "█" not in out + err
    assert err.splitlines()[0] == f"On the new device, run: twofold join '{body['link']}'"
    assert ASKED in err


def test_pair_json_asks_on_stderr(fake: FakeDaemon, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(fake, capsys, "pair", "--json", stdin=Tty("n\n"))
    assert code == 1
    assert json.loads(out)["state"] == "declined"
    assert err.endswith(f"{ASKED}\nAdd it to this vault? [y/N] ")


def test_pair_refused_by_the_daemon_exits_1(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(fake, capsys, "pair", "--ttl", "5")
    assert (code, err) == (1, "twofold: ttl must be between 60 and 3600 seconds\n")


# -- join -----------------------------------------------------------------------------------


def test_join_waits_until_joined(fake: FakeDaemon, capsys: pytest.CaptureFixture[str]) -> None:
    fake.add("GitHub", "alice")
    fake.add("Bank", "bob")
    code, out, err = run(fake, capsys, "join", LINK, "--yes")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        CONFIRM,
        "Accepted. Copying the vault...",
        "Joined. 2 accounts are on this device now.",
    ]
    assert fake.seen[0].body == {"link": LINK}
    assert [s.method + " " + s.path for s in fake.seen] == [
        "POST /api/v1/join",
        *["GET /api/v1/join"] * 4,
        "GET /api/v1/accounts",
    ]


def test_join_reads_the_link_from_stdin(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.add("GitHub", "alice")
    code, out, _ = run(fake, capsys, "join", "-", stdin=io.StringIO(f" {LINK}\n"))
    assert code == 0
    assert out.endswith("Joined. 1 account is on this device now.\n")
    assert fake.seen[0].body == {"link": LINK}


def test_join_json_prints_the_final_joining(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(fake, capsys, "join", LINK, "--json")
    assert code == 0
    assert json.loads(out) == {
        "state": "joined",
        "code": "123456",
        "peer": {"name": "laptop", "device": "JD3A-ZZQ3-T5K3-7EJC"},
        "error": None,
    }
    assert err.splitlines() == [CONFIRM, "Accepted. Copying the vault..."]


@pytest.mark.parametrize(
    ("steps", "says", "slug"),
    [
        ([{"state": "declined"}], "The other device declined.", "join-declined"),
        (
            [{"state": "failed", "error": "could not reach the other device"}],
            "could not reach the other device",
            "join-failed",
        ),
    ],
)
def test_join_exits_1_when_declined_or_failed(
    fake: FakeDaemon,
    capsys: pytest.CaptureFixture[str],
    steps: list[dict[str, Any]],
    says: str,
    slug: str,
) -> None:
    fake.join_steps = [JOINED[0], *steps]
    code, out, err = run(fake, capsys, "join", LINK)
    assert (code, out, err) == (1, f"{CONFIRM}\n", f"twofold: {says}\n")
    code, out, _ = run(fake, capsys, "join", LINK, "--json")
    assert code == 1
    assert json.loads(out)["type"] == f"urn:twofold:cli:{slug}"


def test_join_gives_up_in_time(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pairing, "JOIN_TIMEOUT_S", 0.0)
    fake.join_steps = []
    code, out, err = run(fake, capsys, "join", LINK)
    assert (code, out) == (1, "")
    assert err == "twofold: Gave up after 0 minutes: the other device did not decide.\n"


def test_join_of_a_bad_link_exits_1(fake: FakeDaemon, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(fake, capsys, "join", "https://example.com")
    assert (code, err) == (1, "twofold: that is not a twofold://pair/ link\n")
    assert run(fake, capsys, "join")[0] == 2


# -- join --show: the new device shows an offer -------------------------------------------


def test_join_show_waits_until_a_member_added_this_device(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.add("GitHub", "alice")
    fake.add("Bank", "bob")
    code, out, err = run(fake, capsys, "join", "--show", "--ttl", "300")
    assert (code, err) == (0, "")
    assert prose(out) == [
        OFFER.format(link=fake.invitations[ID]["link"]),
        WAITING,
        ADDING,
        "Accepted. Copying the vault...",
        "Joined. 2 accounts are on this device now.",
    ]
    assert fake.seen[0].body == {"ttl": 300}
    assert requests(fake) == [
        ("POST", "/offers"),
        *[("GET", "/join")] * 4,
        ("GET", "/accounts"),
    ]


def test_join_show_json_prints_the_final_joining(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(fake, capsys, "join", "--show", "--json")
    assert code == 0
    assert json.loads(out) == {
        "state": "joined",
        "code": "123456",
        "peer": {"name": "laptop", "device": "JD3A-ZZQ3-T5K3-7EJC"},
        "error": None,
    }
    assert fake.seen[0].body == {}
    assert "█" not in out + err
    link = fake.invitations[ID]["link"]
    assert err.splitlines() == [
        f"On a device of the vault, run: twofold pair '{link}'",
        WAITING,
        ADDING,
        "Accepted. Copying the vault...",
    ]


@pytest.mark.parametrize(
    ("steps", "says", "slug"),
    [
        ([{"state": "declined"}], "The other device declined.", "join-declined"),
        (
            [{"state": "failed", "error": "the vault could not be copied"}],
            "the vault could not be copied",
            "join-failed",
        ),
    ],
)
def test_join_show_exits_1_when_declined_or_failed(
    fake: FakeDaemon,
    capsys: pytest.CaptureFixture[str],
    steps: list[dict[str, Any]],
    says: str,
    slug: str,
) -> None:
    fake.join_steps = [JOINED[0], *steps]
    code, out, err = run(fake, capsys, "join", "--show")
    assert (code, err) == (1, f"twofold: {says}\n")
    assert prose(out)[1:] == [WAITING, ADDING]
    code, out, _ = run(fake, capsys, "join", "--show", "--json")
    assert code == 1
    assert json.loads(out)["type"] == f"urn:twofold:cli:{slug}"


def test_join_show_gives_up_and_cancels_past_the_expiry(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pairing, "PAIR_GRACE_S", -1.0)
    fake.join_steps = []
    code, _, err = run(fake, capsys, "join", "--show")
    assert code == 1
    assert err.startswith("twofold: Gave up waiting: the offer should have ended by now")
    assert requests(fake)[-1] == ("DELETE", "/invitations/ID")
    assert fake.invitations[ID]["state"] == "cancelled"


def test_ctrl_c_cancels_the_offer(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(pairing.time, "sleep", interrupt)
    code, out, _ = run(fake, capsys, "join", "--show")
    assert code == 130
    assert out.endswith("\nCancelled the offer.\n")
    assert requests(fake) == [("POST", "/offers"), ("DELETE", "/invitations/ID")]


def test_join_show_refused_by_the_daemon_exits_1(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(fake, capsys, "join", "--show", "--ttl", "1")
    assert (code, err) == (1, "twofold: ttl must be between 5 and 3600 seconds\n")


@pytest.mark.parametrize(
    "argv", [["join", LINK, "--show"], ["join", LINK, "--ttl", "60"], ["join", "--ttl", "60"]]
)
def test_join_takes_a_link_or_show(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    assert run(fake, capsys, *argv)[0] == 2
    assert fake.seen == []


# -- pair LINK: a member adds the device of an offer ----------------------------------------


def test_pair_link_with_yes_lets_the_daemon_accept(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(fake, capsys, "pair", LINK, "--yes")
    assert (code, err) == (0, "")
    assert out.splitlines() == [ASKED, "Added phone."]
    assert fake.seen[0].body == {"link": LINK, "accept": True}
    assert requests(fake) == [("POST", "/pair")]
    assert fake.scanning is not None
    assert fake.scanning["state"] == "accepted"


def test_pair_link_polls_until_the_device_answers(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.scan_steps = [
        {"state": "connecting"},
        {"state": "confirming", "code": "123456", "peer": PEER},
        {"state": "confirming"},
        {"state": "accepted"},
    ]
    code, out, _ = run(fake, capsys, "pair", LINK, "--yes")
    assert (code, out) == (0, f"{ASKED}\nAdded phone.\n")
    assert requests(fake) == [("POST", "/pair"), *[("GET", "/pair")] * 4]


@pytest.mark.parametrize("typed", ["y\n", "YES\n"])
def test_pair_link_adds_the_device_when_the_person_says_yes(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], typed: str
) -> None:
    code, out, _ = run(fake, capsys, "pair", LINK, stdin=Tty(typed))
    assert code == 0
    assert out == f"{ASKED}\nAdd it to this vault? [y/N] Added phone.\n"
    assert fake.seen[0].body == {"link": LINK}
    assert requests(fake) == [("POST", "/pair"), ("POST", "/pair/accept")]


@pytest.mark.parametrize("typed", ["n\n", "\n", ""])
def test_pair_link_declines_unless_the_person_says_yes(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], typed: str
) -> None:
    code, out, _ = run(fake, capsys, "pair", LINK, stdin=Tty(typed))
    assert code == 1
    assert out.startswith(f"{ASKED}\nAdd it to this vault? [y/N] ")
    assert out.endswith("Declined.\n")
    assert requests(fake) == [("POST", "/pair"), ("POST", "/pair/decline")]
    assert fake.scanning is not None
    assert fake.scanning["state"] == "declined"


def test_pair_link_without_a_terminal_declines(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(fake, capsys, "pair", LINK, stdin=io.StringIO("y\n"))
    assert code == 1
    assert out.endswith(
        "No terminal to ask on, so the answer is no (--yes adds it without asking).\nDeclined.\n"
    )
    assert requests(fake)[-1] == ("POST", "/pair/decline")


def test_pair_link_exits_1_when_it_fails(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.scan_steps = [{"state": "failed", "error": "could not reach the new device"}]
    code, out, err = run(fake, capsys, "pair", LINK, "--yes")
    assert (code, out, err) == (1, "", "twofold: could not reach the new device\n")
    code, out, _ = run(fake, capsys, "pair", LINK, "--json")
    assert code == 1
    assert json.loads(out) == {
        "type": "urn:twofold:cli:pair-failed",
        "title": "Pair failed",
        "status": 502,
        "detail": "could not reach the new device",
    }


def test_pair_link_json_prints_the_final_pairing(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(fake, capsys, "pair", LINK, "--yes", "--json")
    assert code == 0
    assert json.loads(out) == {"state": "accepted", "code": "123456", "peer": PEER, "error": None}
    assert err == f"{ASKED}\n"
    code, out, err = run(fake, capsys, "pair", LINK, "--json", stdin=Tty("n\n"))
    assert code == 1
    assert json.loads(out)["state"] == "declined"
    assert err == f"{ASKED}\nAdd it to this vault? [y/N] "


def test_pair_link_reads_the_link_from_stdin(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(fake, capsys, "pair", "-", "--yes", stdin=io.StringIO(f" {LINK}\n"))
    assert (code, out) == (0, f"{ASKED}\nAdded phone.\n")
    assert fake.seen[0].body == {"link": LINK, "accept": True}


def test_pair_link_warns_when_the_device_may_not_know(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.scan_steps = [
        {"state": "confirming", "code": "123456", "peer": PEER},
        {"state": "accepted", "error": "the new device could not be told: timeout"},
    ]
    code, out, _ = run(fake, capsys, "pair", LINK, "--yes")
    assert code == 0
    assert out.endswith("Warning: the new device could not be told: timeout\nAdded phone.\n")


def test_pair_link_of_a_bad_link_or_with_ttl(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(fake, capsys, "pair", "https://example.com")
    assert (code, err) == (1, "twofold: that is not a twofold://pair/ link\n")
    assert run(fake, capsys, "pair", LINK, "--ttl", "300")[0] == 2
    assert len(fake.seen) == 1


def test_ctrl_c_at_the_question_declines_the_device(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupt(ctx: Any, question: str) -> bool:
        raise KeyboardInterrupt

    monkeypatch.setattr(pairing, "confirm", interrupt)
    code, out, _ = run(fake, capsys, "pair", LINK)
    assert code == 130
    assert out.endswith("\nDeclined the device.\n")
    assert requests(fake) == [("POST", "/pair"), ("POST", "/pair/decline")]


def test_help_lists_pair_and_join(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "pair      invite a device into this vault, or add one showing a LINK" in out
    assert "join      join the vault of a device showing an invitation, or --show one" in out
    assert main(["join", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--yes          nothing to confirm on this side" in out
    assert "--show         show a link and QR code for a device of the vault to scan" in out
    assert "twofold join --show" in out
    assert main(["pair", "--help"]) == 0
    out = capsys.readouterr().out
    assert "the link a new device shows (twofold join --show)" in out
    assert "twofold pair - < link.txt" in out
