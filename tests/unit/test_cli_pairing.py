"""twofold pair and twofold join against the stand-in daemon, which plays pairing by script:
both ways round, pair/join LINK and join --show/pair LINK, with both people deciding."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from twofold.clients.cli import pairing
from twofold.clients.cli.main import main

from .cli_runner import run
from .test_sdk_fakedaemon import JOINED, LINK, NOW, OTHER_DECLINED, VAULT, FakeDaemon

ASKED = "phone (PH0N-E2AA-BBCC-DDEE) wants to join. Check that it shows the code: 123 456"
QUESTION = "Add it to this vault? [y/N] "
WAITING_PHONE = "Waiting for phone to confirm on its side..."
INVITE = "Scan this QR code with the new device, or run there: twofold join '{link}'"
ID = f"{1:016x}"  # the stand-in's first invitation
EXPIRES = f"{datetime.fromisoformat(NOW).astimezone():%H:%M}"
JOINING = "Joining the vault of laptop (JD3A-ZZQ3-T5K3-7EJC), whose devices are laptop, phone."
CHECK = "Check that laptop shows the code: 123 456."
JOIN_2 = "Join this vault? This device's 2 accounts go along. [y/N] "
WAITING_LAPTOP = "Waiting for laptop to add this device..."
COPYING = "Accepted. Copying the vault..."
BROUGHT = {"added": 2, "already_there": 3, "in_trash": 1}  # the stand-in's join brought
JOINED_LINE = (
    "Joined. 2 accounts are on this device now; 3 of this device's were already in the vault "
    "(1 in its trash: see twofold trash)."
)
NO_TERMINAL = "No terminal to ask on, so the answer is no (--yes joins without asking)."
OFFER = "On a device of the vault, run: twofold pair '{link}' (or scan this QR code)"
WAITING = f"The offer expires at {EXPIRES}. Waiting for a device of the vault..."
ADDING = (
    "laptop (JD3A-ZZQ3-T5K3-7EJC) is adding this device to its vault, whose devices are "
    "laptop, phone. Check that it shows the code: 123 456"
)
PEER = {"name": "phone", "device": "PH0N-E2AA-BBCC-DDEE"}
EXHAUSTED = "too many failed attempts: this invitation is closed; open a new one"
REFUSED = "laptop declined: this device did not join, and nothing was sent."


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


def interrupt_at(call: int) -> Callable[[float], None]:
    """A time.sleep that a Ctrl-C interrupts on its `call`-th call."""
    calls = []

    def sleep(seconds: float) -> None:
        calls.append(seconds)
        if len(calls) == call:
            raise KeyboardInterrupt

    return sleep


def two_accounts(fake: FakeDaemon) -> None:
    fake.add("GitHub", "alice")
    fake.add("Bank", "bob")


# -- pair -----------------------------------------------------------------------------------


def test_pair_with_yes_says_yes_and_waits_for_the_new_device(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(fake, capsys, "pair", "--yes", "--ttl", "300")
    invitation = fake.invitations[ID]
    assert (code, err) == (0, "")
    assert prose(out) == [
        INVITE.format(link=invitation["link"]),
        f"The invitation expires at {EXPIRES}. Waiting for the new device...",
        ASKED,
        WAITING_PHONE,
        "Added phone.",
    ]
    assert fake.seen[0].body == {"ttl": 300, "accept": True}
    assert requests(fake) == [
        ("POST", "/invitations"),
        ("GET", "/invitations/ID"),  # confirming
        ("GET", "/invitations/ID"),  # waiting: the daemon said this side's yes
        ("GET", "/invitations/ID"),  # accepted: so did the new device's person
    ]
    assert invitation["state"] == "accepted"


def test_pair_waits_for_a_device_to_answer(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.answer_after = 3
    code, out, _ = run(fake, capsys, "pair", "--yes")
    assert code == 0
    assert out.endswith(f"{ASKED}\n{WAITING_PHONE}\nAdded phone.\n")
    assert requests(fake).count(("GET", "/invitations/ID")) == 5


@pytest.mark.parametrize("typed", ["y\n", "YES\n"])
def test_pair_adds_the_device_once_both_people_say_yes(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], typed: str
) -> None:
    code, out, _ = run(fake, capsys, "pair", stdin=Tty(typed))
    assert code == 0
    assert out.endswith(f"{ASKED}\n{QUESTION}{WAITING_PHONE}\nAdded phone.\n")
    assert out.count(WAITING_PHONE) == 1
    assert fake.seen[0].body == {}
    assert requests(fake)[-2:] == [
        ("POST", "/invitations/ID/accept"),  # waiting
        ("GET", "/invitations/ID"),  # accepted
    ]
    assert fake.invitations[ID]["state"] == "accepted"


def test_pair_shows_waiting_for_as_long_as_the_new_device_takes(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = []
    decide = fake.other_decides

    def slowly(invitation: dict[str, Any]) -> None:
        reads.append(invitation["state"])
        if len(reads) == 3:
            decide(invitation)

    monkeypatch.setattr(fake, "other_decides", slowly)
    code, out, _ = run(fake, capsys, "pair", stdin=Tty("y\n"))
    assert code == 0
    assert out.endswith(f"{QUESTION}{WAITING_PHONE}\nAdded phone.\n")
    assert requests(fake).count(("GET", "/invitations/ID")) == 4


@pytest.mark.parametrize("typed", ["n\n", "\n", "whatever\n", ""])
def test_pair_declines_unless_the_person_says_yes(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], typed: str
) -> None:
    code, out, _ = run(fake, capsys, "pair", stdin=Tty(typed))
    assert code == 1
    assert QUESTION in out
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


@pytest.mark.parametrize("argv", [[], ["--yes"]])
def test_pair_exits_1_when_the_new_device_declines(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    fake.other_side = "declined"
    code, out, err = run(fake, capsys, "pair", *argv, stdin=Tty("y\n"))
    assert (code, err) == (1, "twofold: phone declined to join.\n")
    assert out.endswith(f"{WAITING_PHONE}\n")
    assert fake.invitations[ID] | {"link": ""} == {
        "id": ID,
        "link": "",
        "expires_at": NOW,
        "state": "declined",
        "peer": fake.peer,
        "error": OTHER_DECLINED,
        "declined_by": "the other device",
    }
    code, out, _ = run(fake, capsys, "pair", "--json", *argv, stdin=Tty("y\n"))
    assert code == 1
    assert json.loads(out) == {
        "type": "urn:twofold:cli:invitation-declined",
        "title": "Invitation declined",
        "status": 409,
        "detail": "phone declined to join.",
    }


def test_pair_says_why_it_failed_after_both_said_yes(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.other_side, fake.other_error = "failed", "nobody decided in time: pair again"
    code, out, err = run(fake, capsys, "pair", "--yes")
    assert (code, err) == (1, "twofold: nobody decided in time: pair again\n")
    assert out.endswith(f"{ASKED}\n{WAITING_PHONE}\n")


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


def test_an_invitation_exhausted_by_guesses_reads_failed_with_its_error(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.invitation_end, fake.invitation_error = "failed", EXHAUSTED
    code, out, err = run(fake, capsys, "pair")
    assert (code, err) == (1, f"twofold: {EXHAUSTED}\n")
    assert prose(out)[-1].startswith("The invitation expires at")
    assert (fake.invitations[ID]["state"], fake.invitations[ID]["error"]) == ("failed", EXHAUSTED)
    code, out, _ = run(fake, capsys, "pair", "--json")
    assert code == 1
    assert json.loads(out) == {
        "type": "urn:twofold:cli:invitation-failed",
        "title": "Invitation failed",
        "status": 502,
        "detail": EXHAUSTED,
    }


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
    monkeypatch.setattr(pairing.time, "sleep", interrupt_at(1))
    fake.answer_after = 100
    code, out, _ = run(fake, capsys, "pair")
    assert code == 130
    assert out.endswith("\nCancelled the invitation.\n")
    assert requests(fake)[-1] == ("DELETE", "/invitations/ID")
    assert fake.invitations[ID]["state"] == "cancelled"


def test_ctrl_c_while_waiting_for_the_new_device_cancels_the_invitation(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pairing.time, "sleep", interrupt_at(2))
    code, out, _ = run(fake, capsys, "pair", stdin=Tty("y\n"))
    assert code == 130
    assert out.endswith(f"{QUESTION}{WAITING_PHONE}\n\nCancelled the invitation.\n")
    assert requests(fake)[-2:] == [
        ("POST", "/invitations/ID/accept"),
        ("DELETE", "/invitations/ID"),
    ]
    assert fake.invitations[ID]["state"] == "cancelled"


def test_pair_json_prints_the_final_invitation_and_keeps_the_prose_off_stdout(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(fake, capsys, "pair", "--yes", "--json")
    assert code == 0
    body = json.loads(out)
    assert body == fake.invitations[ID]
    assert (body["state"], body["peer"]["code"], body["error"]) == ("accepted", "123456", None)
    assert "qr_svg" not in body
    assert "█" not in out + err
    assert err.splitlines()[0] == f"On the new device, run: twofold join '{body['link']}'"
    assert err.splitlines()[-2:] == [ASKED, WAITING_PHONE]


def test_pair_json_asks_on_stderr(fake: FakeDaemon, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(fake, capsys, "pair", "--json", stdin=Tty("n\n"))
    assert code == 1
    assert json.loads(out)["state"] == "declined"
    assert err.endswith(f"{ASKED}\n{QUESTION}")


def test_pair_refused_by_the_daemon_exits_1(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(fake, capsys, "pair", "--ttl", "5")
    assert (code, err) == (1, "twofold: ttl must be between 60 and 3600 seconds\n")


# -- join -----------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["y\n", "yes\n"])
def test_join_asks_and_joins_when_the_person_says_yes(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], typed: str
) -> None:
    two_accounts(fake)
    code, out, err = run(fake, capsys, "join", LINK, stdin=Tty(typed))
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        JOINING,
        CHECK,
        f"{JOIN_2}{WAITING_LAPTOP}",
        COPYING,
        JOINED_LINE,
    ]
    assert fake.seen[0].body == {"link": LINK}
    assert requests(fake) == [
        ("POST", "/join"),
        ("GET", "/join"),  # confirming: the vault and the code to check
        ("GET", "/accounts"),  # how many go along
        ("GET", "/trash"),  # and how many of those from the trash
        ("POST", "/join/accept"),  # waiting for the member's person
        ("GET", "/join"),  # syncing
        ("GET", "/join"),  # joined
        ("GET", "/accounts"),
    ]


def test_join_without_a_terminal_declines_and_sends_nothing(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    two_accounts(fake)
    code, out, err = run(fake, capsys, "join", LINK, stdin=io.StringIO("y\n"))
    assert (code, err) == (1, "twofold: Declined: nothing was sent.\n")
    assert out.splitlines() == [JOINING, CHECK, NO_TERMINAL]
    assert ("POST", "/join/decline") in requests(fake)
    assert ("POST", "/join/accept") not in requests(fake)
    assert fake.joining is not None
    assert fake.joining["state"] == "declined"


@pytest.mark.parametrize("typed", ["n\n", "\n", "whatever\n", ""])
def test_join_declines_unless_the_person_says_yes(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], typed: str
) -> None:
    two_accounts(fake)
    code, out, err = run(fake, capsys, "join", LINK, stdin=Tty(typed))
    assert (code, err) == (1, "twofold: Declined: nothing was sent.\n")
    assert out.startswith(f"{JOINING}\n{CHECK}\n{JOIN_2}")
    assert requests(fake)[-1] == ("POST", "/join/decline")
    assert ("POST", "/join/accept") not in requests(fake)
    code, out, _ = run(fake, capsys, "join", LINK, "--json", stdin=Tty(typed))
    assert code == 1
    assert json.loads(out) == {
        "type": "urn:twofold:cli:join-declined",
        "title": "Join declined",
        "status": 409,
        "detail": "Declined: nothing was sent.",
    }


@pytest.mark.parametrize(
    ("accounts", "trashed", "question"),
    [
        (0, 0, "Join this vault? This device has no accounts to bring along. [y/N] "),
        (1, 0, "Join this vault? This device's 1 account goes along. [y/N] "),
        (3, 0, "Join this vault? This device's 3 accounts go along. [y/N] "),
        (0, 1, "Join this vault? This device's 1 account goes along (it is in its trash). [y/N] "),
        (
            2,
            1,
            "Join this vault? This device's 3 accounts go along (1 of them in its trash). [y/N] ",
        ),
    ],
)
def test_join_says_how_many_accounts_go_along_counting_the_trash_as_the_report_does(
    fake: FakeDaemon,
    capsys: pytest.CaptureFixture[str],
    accounts: int,
    trashed: int,
    question: str,
) -> None:
    for n in range(accounts):
        fake.add("Site", f"user{n}")
    for n in range(trashed):
        fake.add("Old", f"gone{n}", deleted=True)
    code, out, _ = run(fake, capsys, "join", LINK, stdin=Tty("n\n"))
    assert code == 1
    assert out.splitlines()[2] == question


def test_join_with_yes_says_yes_without_asking(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    two_accounts(fake)
    code, out, err = run(fake, capsys, "join", LINK, "--yes", stdin=Tty("n\n"))
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        JOINING,
        CHECK,
        WAITING_LAPTOP,
        COPYING,
        JOINED_LINE,
    ]
    assert fake.seen[0].body == {"link": LINK, "accept": True}
    assert requests(fake) == [("POST", "/join"), *[("GET", "/join")] * 4, ("GET", "/accounts")]


def test_join_with_yes_names_the_vault_even_when_it_joined_between_two_reads(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.join_steps = [JOINED[0] | {"state": "joined"}]
    code, out, _ = run(fake, capsys, "join", LINK, "--yes")
    assert code == 0
    assert out.splitlines() == [JOINING, CHECK, "Joined. 0 accounts are on this device now."]


def test_join_reads_the_link_from_stdin(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.add("GitHub", "alice")
    code, out, _ = run(fake, capsys, "join", "-", "--yes", stdin=io.StringIO(f" {LINK}\n"))
    assert code == 0
    assert "\nJoined. 1 account is on this device now; 3 of this device's were" in out
    assert fake.seen[0].body == {"link": LINK, "accept": True}


@pytest.mark.parametrize(
    ("brought", "line"),
    [
        (None, "Joined. 1 account is on this device now."),
        (
            {"added": 1, "already_there": 0, "in_trash": 0},
            "Joined. 1 account is on this device now.",
        ),
        (
            {"added": 0, "already_there": 1, "in_trash": 0},
            "Joined. 1 account is on this device now; 1 of this device's was already in the vault.",
        ),
    ],
)
def test_join_says_how_many_of_its_accounts_the_vault_had_already(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], brought: Any, line: str
) -> None:
    fake.add("GitHub", "alice")
    fake.join_steps = [JOINED[0] | {"state": "joined", "brought": brought}]
    code, out, _ = run(fake, capsys, "join", LINK, "--yes")
    assert code == 0
    assert out.splitlines()[-1] == line


def test_join_json_prints_the_final_joining(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(fake, capsys, "join", LINK, "--json", stdin=Tty("y\n"))
    assert code == 0
    assert json.loads(out) == {
        "state": "joined",
        "code": "123456",
        "peer": {"name": "laptop", "device": "JD3A-ZZQ3-T5K3-7EJC"},
        "vault": VAULT,
        "error": None,
        "declined_by": None,
        "brought": BROUGHT,
    }
    assert err.splitlines() == [
        JOINING,
        CHECK,
        "Join this vault? This device has no accounts to bring along. [y/N] " + WAITING_LAPTOP,
        COPYING,
    ]


def test_join_names_a_vault_of_one_device(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.join_steps[0] = JOINED[0] | {"vault": {"id": "0f" * 16, "devices": ["laptop"]}}
    code, out, _ = run(fake, capsys, "join", LINK, "--yes")
    assert code == 0
    assert out.splitlines()[0] == (
        "Joining the vault of laptop (JD3A-ZZQ3-T5K3-7EJC), whose only device is laptop."
    )


@pytest.mark.parametrize("argv", [[], ["--yes"]])
def test_join_exits_1_when_the_member_declines(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    fake.join_steps = [
        *JOINED[:2],
        {"state": "declined", "error": OTHER_DECLINED, "declined_by": "the other device"},
    ]
    code, out, err = run(fake, capsys, "join", LINK, *argv, stdin=Tty("y\n"))
    assert (code, err) == (1, f"twofold: {REFUSED}\n")
    assert out.endswith(f"{WAITING_LAPTOP}\n")
    code, out, _ = run(fake, capsys, "join", LINK, "--json", *argv, stdin=Tty("y\n"))
    assert code == 1
    assert json.loads(out)["type"] == "urn:twofold:cli:join-refused"


def test_join_exits_1_when_it_fails(fake: FakeDaemon, capsys: pytest.CaptureFixture[str]) -> None:
    fake.join_steps = [*JOINED[:2], {"state": "failed", "error": "the vault could not be copied"}]
    code, out, err = run(fake, capsys, "join", LINK, "--yes")
    assert (code, out, err) == (
        1,
        f"{JOINING}\n{CHECK}\n{WAITING_LAPTOP}\n",
        "twofold: the vault could not be copied\n",
    )
    code, out, _ = run(fake, capsys, "join", LINK, "--json", "--yes")
    assert code == 1
    assert json.loads(out)["type"] == "urn:twofold:cli:join-failed"


def test_join_that_fails_before_the_code_says_why(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.join_steps = [{"state": "failed", "error": "cannot reach the inviting device"}]
    code, out, err = run(fake, capsys, "join", LINK)
    assert (code, out, err) == (1, "", "twofold: cannot reach the inviting device\n")


def test_join_reports_the_end_when_the_member_declined_before_the_answer(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def member_declines_first(ctx: Any, question: str, yes_does: str) -> bool:
        assert fake.joining is not None
        fake.joining.update(state="declined", error=OTHER_DECLINED, declined_by="the other device")
        return True

    monkeypatch.setattr(pairing, "confirm", member_declines_first)
    code, _, err = run(fake, capsys, "join", LINK)
    assert (code, err) == (1, f"twofold: {REFUSED}\n")
    assert requests(fake)[-2:] == [("POST", "/join/accept"), ("GET", "/join")]


def test_join_gives_up_in_time(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pairing, "JOIN_TIMEOUT_S", 0.0)
    fake.join_steps = []
    code, out, err = run(fake, capsys, "join", LINK)
    assert (code, out) == (1, "")
    assert err == "twofold: Gave up after 0 minutes: the other device did not decide.\n"


def test_ctrl_c_at_the_question_declines_the_join(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupt(ctx: Any, question: str, yes_does: str) -> bool:
        raise KeyboardInterrupt

    monkeypatch.setattr(pairing, "confirm", interrupt)
    code, out, _ = run(fake, capsys, "join", LINK)
    assert code == 130
    assert out.endswith("\nDeclined: nothing was sent.\n")
    assert requests(fake)[-1] == ("POST", "/join/decline")
    assert ("POST", "/join/accept") not in requests(fake)


def test_ctrl_c_after_the_yes_takes_it_back(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pairing.time, "sleep", interrupt_at(2))
    code, out, _ = run(fake, capsys, "join", LINK, stdin=Tty("y\n"))
    assert code == 130
    assert out.endswith(f"{WAITING_LAPTOP}\n\nDeclined: nothing was sent.\n")
    assert requests(fake)[-2:] == [("POST", "/join/accept"), ("POST", "/join/decline")]


def test_ctrl_c_while_connecting_stops_joining(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pairing.time, "sleep", interrupt_at(1))
    fake.join_steps = []  # the other device never answers
    code, out, _ = run(fake, capsys, "join", LINK)
    assert code == 130
    assert out.endswith("\nStopped joining: nothing was sent.\n")
    assert requests(fake)[-1] == ("DELETE", "/join")


def test_join_of_a_bad_link_exits_1(fake: FakeDaemon, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(fake, capsys, "join", "https://example.com")
    assert (code, err) == (1, "twofold: that is not a twofold://pair/ link\n")
    assert run(fake, capsys, "join")[0] == 2


# -- join --show: the new device shows an offer -------------------------------------------


def test_join_show_asks_and_joins_when_the_person_says_yes(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    two_accounts(fake)
    code, out, err = run(fake, capsys, "join", "--show", "--ttl", "300", stdin=Tty("y\n"))
    assert (code, err) == (0, "")
    assert prose(out) == [
        OFFER.format(link=fake.invitations[ID]["link"]),
        WAITING,
        ADDING,
        f"{JOIN_2}{WAITING_LAPTOP}",
        COPYING,
        JOINED_LINE,
    ]
    assert fake.seen[0].body == {"ttl": 300}
    assert requests(fake) == [
        ("POST", "/offers"),
        ("GET", "/join"),
        ("GET", "/accounts"),
        ("GET", "/trash"),
        ("POST", "/join/accept"),
        *[("GET", "/join")] * 2,
        ("GET", "/accounts"),
    ]


def test_join_show_without_a_terminal_declines_and_sends_nothing(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(fake, capsys, "join", "--show")
    assert (code, err) == (1, "twofold: Declined: nothing was sent.\n")
    assert prose(out)[1:] == [WAITING, ADDING, NO_TERMINAL]
    assert requests(fake)[-1] == ("POST", "/join/decline")
    assert ("POST", "/join/accept") not in requests(fake)


def test_join_show_with_yes_says_yes_without_asking(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(fake, capsys, "join", "--show", "--yes", "--json")
    assert code == 0
    assert json.loads(out) == {
        "state": "joined",
        "code": "123456",
        "peer": {"name": "laptop", "device": "JD3A-ZZQ3-T5K3-7EJC"},
        "vault": VAULT,
        "error": None,
        "declined_by": None,
        "brought": BROUGHT,
    }
    assert fake.seen[0].body == {"accept": True}
    assert "█" not in out + err
    link = fake.invitations[ID]["link"]
    assert err.splitlines() == [
        f"On a device of the vault, run: twofold pair '{link}'",
        WAITING,
        ADDING,
        WAITING_LAPTOP,
        COPYING,
    ]
    assert ("POST", "/join/accept") not in requests(fake)


@pytest.mark.parametrize(
    ("steps", "says", "slug"),
    [
        (
            [{"state": "declined", "error": OTHER_DECLINED, "declined_by": "the other device"}],
            REFUSED,
            "join-refused",
        ),
        (
            [{"state": "failed", "error": "the vault could not be copied"}],
            "the vault could not be copied",
            "join-failed",
        ),
        (
            [{"state": "expired"}],
            "The offer expired; show a new one with: twofold join --show",
            "offer-expired",
        ),
    ],
)
def test_join_show_exits_1_when_it_ends_without_joining(
    fake: FakeDaemon,
    capsys: pytest.CaptureFixture[str],
    steps: list[dict[str, Any]],
    says: str,
    slug: str,
) -> None:
    fake.join_steps = [*JOINED[:2], *steps]
    code, out, err = run(fake, capsys, "join", "--show", "--yes")
    assert (code, err) == (1, f"twofold: {says}\n")
    assert prose(out)[1:] == [WAITING, ADDING, WAITING_LAPTOP]
    code, out, _ = run(fake, capsys, "join", "--show", "--yes", "--json")
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
    monkeypatch.setattr(pairing.time, "sleep", interrupt_at(1))
    code, out, _ = run(fake, capsys, "join", "--show")
    assert code == 130
    assert out.endswith("\nCancelled the offer.\n")
    assert requests(fake) == [("POST", "/offers"), ("DELETE", "/invitations/ID")]


def test_ctrl_c_at_the_question_of_an_offer_declines(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupt(ctx: Any, question: str, yes_does: str) -> bool:
        raise KeyboardInterrupt

    monkeypatch.setattr(pairing, "confirm", interrupt)
    code, out, _ = run(fake, capsys, "join", "--show")
    assert code == 130
    assert out.endswith(f"{ADDING}\n\nDeclined: nothing was sent.\n")
    assert requests(fake)[-1] == ("POST", "/join/decline")


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


def test_pair_link_with_yes_says_yes_and_waits_for_the_new_device(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(fake, capsys, "pair", LINK, "--yes")
    assert (code, err) == (0, "")
    assert out.splitlines() == [ASKED, WAITING_PHONE, "Added phone."]
    assert fake.seen[0].body == {"link": LINK, "accept": True}
    assert requests(fake) == [("POST", "/pair"), ("GET", "/pair")]
    assert fake.scanning is not None
    assert fake.scanning["state"] == "accepted"


def test_pair_link_polls_until_the_device_answers(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.scan_steps = [
        {"state": "connecting"},
        {"state": "confirming", "code": "123456", "peer": PEER},
        {"state": "waiting"},
        {"state": "waiting"},
        {"state": "accepted"},
    ]
    code, out, _ = run(fake, capsys, "pair", LINK, "--yes")
    assert (code, out) == (0, f"{ASKED}\n{WAITING_PHONE}\nAdded phone.\n")
    assert requests(fake) == [("POST", "/pair"), *[("GET", "/pair")] * 5]


@pytest.mark.parametrize("typed", ["y\n", "YES\n"])
def test_pair_link_adds_the_device_once_both_people_say_yes(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], typed: str
) -> None:
    code, out, _ = run(fake, capsys, "pair", LINK, stdin=Tty(typed))
    assert code == 0
    assert out == f"{ASKED}\n{QUESTION}{WAITING_PHONE}\nAdded phone.\n"
    assert fake.seen[0].body == {"link": LINK}
    assert requests(fake) == [("POST", "/pair"), ("POST", "/pair/accept"), ("GET", "/pair")]


@pytest.mark.parametrize("typed", ["n\n", "\n", ""])
def test_pair_link_declines_unless_the_person_says_yes(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], typed: str
) -> None:
    code, out, _ = run(fake, capsys, "pair", LINK, stdin=Tty(typed))
    assert code == 1
    assert out.startswith(f"{ASKED}\n{QUESTION}")
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


def test_pair_link_exits_1_when_the_new_device_declines(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.other_side = "declined"
    code, out, err = run(fake, capsys, "pair", LINK, stdin=Tty("y\n"))
    assert (code, err) == (1, "twofold: phone declined to join.\n")
    assert out == f"{ASKED}\n{QUESTION}{WAITING_PHONE}\n"
    code, out, _ = run(fake, capsys, "pair", LINK, "--yes", "--json")
    assert code == 1
    assert json.loads(out)["type"] == "urn:twofold:cli:pair-declined"


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
    assert json.loads(out) == {
        "state": "accepted",
        "code": "123456",
        "peer": PEER,
        "vault": None,
        "error": None,
        "declined_by": None,
        "brought": None,
    }
    assert err == f"{ASKED}\n{WAITING_PHONE}\n"
    code, out, err = run(fake, capsys, "pair", LINK, "--json", stdin=Tty("n\n"))
    assert code == 1
    assert json.loads(out)["state"] == "declined"
    assert err == f"{ASKED}\n{QUESTION}"


def test_pair_link_reads_the_link_from_stdin(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(fake, capsys, "pair", "-", "--yes", stdin=io.StringIO(f" {LINK}\n"))
    assert (code, out) == (0, f"{ASKED}\n{WAITING_PHONE}\nAdded phone.\n")
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
    out = " ".join(capsys.readouterr().out.split())
    assert (
        "--yes join without asking (for scripts): the code and the vault go unchecked on this "
        "side" in out
    )
    assert "--show show a link and QR code for a device of the vault to scan" in out
    assert "twofold join --show" in out
    assert "Nothing of this device's is sent before your yes" in out
    assert main(["pair", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "the link a new device shows (twofold join --show)" in out
    assert "it is added once both said yes" in out
    assert "twofold pair -" in out
