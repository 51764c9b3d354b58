"""twofold unlock, lock, passphrase set|change|remove, and a locked vault's word, against
the stand-in daemon: what is asked and how, what is sent, what is said, and exit codes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from twofold.clients.cli import prompts
from twofold.clients.cli.main import main

from .cli_runner import run
from .test_cli_pairing import Tty
from .test_sdk_fakedaemon import LOCKED_PROBLEM, FakeDaemon, problem_response

OLD = "old passphrase 1"
NEW = "new passphrase 2"
LOCKED_LINE = "twofold: the vault is locked: run twofold unlock\n"
FORGOTTEN = (
    "A forgotten passphrase cannot be recovered: the vault then comes back only from "
    "another device of it, or from a backup (twofold backup)."
)


def sent(fake: FakeDaemon, method: str, path: str) -> list[Any]:
    return [s.body for s in fake.seen if (s.method, s.path) == (method, "/api/v1" + path)]


class Typed:
    """getpass as a person answers it: the questions asked, and the answers in turn."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.asked: list[str] = []
        self.answers: Iterator[str] = iter(())
        monkeypatch.setattr(prompts.getpass, "getpass", self)

    def __call__(self, question: str) -> str:
        self.asked.append(question)
        return next(self.answers)

    def will(self, *answers: str) -> None:
        self.answers = iter(answers)


@pytest.fixture
def typed(monkeypatch: pytest.MonkeyPatch) -> Typed:
    return Typed(monkeypatch)


@pytest.fixture
def locked(fake: FakeDaemon) -> FakeDaemon:
    fake.passphrase, fake.locked = OLD, True
    return fake


# -- unlock, lock ---------------------------------------------------------------------------


def test_unlock_asks_once_unechoed(
    locked: FakeDaemon, capsys: pytest.CaptureFixture[str], typed: Typed
) -> None:
    typed.will(OLD)
    code, out, err = run(locked, capsys, "unlock", stdin=Tty())
    assert (code, err) == (0, "")
    assert out == (
        "Unlocked. The vault locks after 15 minutes without use, and when the daemon restarts.\n"
    )
    assert typed.asked == ["passphrase (not echoed): "]
    assert sent(locked, "POST", "/unlock") == [{"passphrase": OLD}]
    assert not locked.locked


def test_unlock_reads_one_line_of_stdin(
    locked: FakeDaemon, capsys: pytest.CaptureFixture[str], typed: Typed
) -> None:
    locked.lock_after = 0
    code, out, _ = run(locked, capsys, "unlock", "--passphrase-stdin", stdin=OLD + "\nmore\n")
    assert code == 0
    assert out == (
        "Unlocked. The vault locks when the daemon restarts, or when you run twofold lock.\n"
    )
    assert typed.asked == []
    assert sent(locked, "POST", "/unlock") == [{"passphrase": OLD}]


def test_unlock_json(locked: FakeDaemon, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(locked, capsys, "unlock", "--passphrase-stdin", "--json", stdin=OLD)
    assert (code, json.loads(out)) == (0, {"locked": False})


def test_a_wrong_passphrase_says_so_and_exits_1(
    locked: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(locked, capsys, "unlock", "--passphrase-stdin", stdin="not it at all\n")
    assert (code, out, err) == (1, "", "twofold: the passphrase is wrong\n")
    assert locked.locked


def test_a_wrong_passphrase_with_json_prints_the_daemons_problem(
    locked: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(locked, capsys, "unlock", "--passphrase-stdin", "--json", stdin="no\n")
    assert (code, err) == (1, "twofold: the passphrase is wrong\n")
    assert json.loads(out)["type"] == "urn:twofold:problem:wrong-passphrase"


def test_too_soon_says_how_long_to_wait(
    locked: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    locked.wait = 8
    code, out, err = run(locked, capsys, "unlock", "--passphrase-stdin", stdin=OLD + "\n")
    assert (code, out) == (1, "")
    assert err == "twofold: too many wrong passphrases: try again in 8 s\n"
    assert locked.locked


def test_unlock_asks_nothing_when_not_locked(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], typed: Typed
) -> None:
    code, out, _ = run(fake, capsys, "unlock", stdin=Tty())
    assert (code, out) == (0, "This home has no passphrase, so the vault never locks.\n")
    fake.passphrase = OLD
    code, out, _ = run(fake, capsys, "unlock", stdin=Tty())
    assert (code, out) == (0, "The vault is not locked.\n")
    assert typed.asked == []
    assert sent(fake, "POST", "/unlock") == []


def test_unlock_without_a_terminal_says_to_pipe_it(
    locked: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(locked, capsys, "unlock")
    assert code == 1
    assert err == (
        "twofold: passphrase is needed and there is no terminal to ask on: "
        "pipe it in with --passphrase-stdin\n"
    )


def test_an_empty_line_unlocks_nothing(
    locked: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(locked, capsys, "unlock", "--passphrase-stdin", stdin="\n")
    assert (code, err) == (1, "twofold: expected passphrase on the first line of standard input\n")
    assert sent(locked, "POST", "/unlock") == []


def test_lock(fake: FakeDaemon, capsys: pytest.CaptureFixture[str]) -> None:
    fake.passphrase = OLD
    code, out, err = run(fake, capsys, "lock")
    assert (code, out, err) == (0, "Locked.\n", "")
    assert fake.locked
    code, out, _ = run(fake, capsys, "lock", "--json")
    assert (code, json.loads(out)) == (0, {"locked": True})


def test_lock_without_a_passphrase_says_how_to_set_one(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(fake, capsys, "lock")
    assert (code, out) == (1, "")
    assert err == "twofold: this home has no passphrase: set one with twofold passphrase set\n"
    assert not fake.locked


# -- a locked vault -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["list"],
        ["code", "--all"],
        ["next", "bank"],
        ["add", "otpauth://totp/A:b?secret=JBSWY3DP"],
        ["rm", "abcd"],
        ["trash"],
        ["conflicts"],
        ["devices"],
        ["peers"],
        ["export", "--yes"],
        ["backup", "--to", "x.tfbackup", "--recovery-key"],
        ["import", "otpauth://totp/A:b?secret=JBSWY3DP"],
        ["pair", "--yes"],
        ["vault", "new"],
    ],
)
def test_a_command_that_needs_the_vault_says_to_unlock(
    locked: FakeDaemon, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    code, out, err = run(locked, capsys, *argv)
    assert (code, out, err) == (1, "", LOCKED_LINE)


def test_locked_with_json_prints_the_daemons_problem(
    locked: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(locked, capsys, "list", "--json")
    assert (code, err) == (1, LOCKED_LINE)
    assert json.loads(out) == LOCKED_PROBLEM


def test_a_locked_status_shows_only_that(
    locked: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(locked, capsys, "status")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[2:] == [
        "device      laptop",
        "vault       Locked (unlock it with: twofold unlock)",
        "passphrase  on",
        "locking     Locks after 15 minutes without use",
    ]
    assert not any(word in out for word in ("accounts", "members", "conflicts", "JD3A"))
    code, out, _ = run(locked, capsys, "status", "--json")
    assert json.loads(out) == {
        "version": "0.1.0",
        "locked": True,
        "passphrase": True,
        "lock_after": 15,
        "device": {"name": "laptop"},
        "started_at": "2024-05-01T12:00:00Z",
    }


def test_an_unlocked_status_says_how_it_locks(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = run(fake, capsys, "status")
    assert "passphrase  off: the vault never locks (set one: twofold passphrase set)" in out
    assert "locking" not in out
    fake.passphrase, fake.lock_after = OLD, 1
    _, out, _ = run(fake, capsys, "status")
    assert out.splitlines()[-2:] == [
        "passphrase  on",
        "locking     Locks after 1 minute without use",
    ]
    assert "laptop (JD3A-ZZQ3-T5K3-7EJC)" in out
    fake.lock_after = 0
    _, out, _ = run(fake, capsys, "status")
    assert out.splitlines()[-1] == (
        "locking     Locks only when the daemon restarts or on twofold lock"
    )
    _, out, _ = run(fake, capsys, "status", "--json")
    assert {k: json.loads(out)[k] for k in ("locked", "passphrase", "lock_after")} == {
        "locked": False,
        "passphrase": True,
        "lock_after": 0,
    }


# -- passphrase set -------------------------------------------------------------------------


def test_set_warns_then_asks_twice(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], typed: Typed
) -> None:
    typed.will(NEW, NEW)
    code, out, err = run(fake, capsys, "passphrase", "set", stdin=Tty())
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        FORGOTTEN,
        "Passphrase set. The vault now locks after 15 minutes without use, and when the "
        "daemon restarts; unlock it with: twofold unlock",
    ]
    assert typed.asked == ["passphrase (not echoed): ", "passphrase again: "]
    assert sent(fake, "PUT", "/passphrase") == [{"passphrase": NEW}]
    assert fake.passphrase == NEW


def test_set_reads_one_line_of_stdin(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], typed: Typed
) -> None:
    code, out, err = run(
        fake, capsys, "passphrase", "set", "--passphrase-stdin", "--json", stdin=NEW + "\n"
    )
    assert code == 0
    assert json.loads(out) == {"passphrase": True, "lock_after": 15}
    assert err == FORGOTTEN + "\n", "under --json the warning goes to stderr"
    assert typed.asked == []
    assert fake.passphrase == NEW


def test_set_passphrases_that_differ_change_nothing(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], typed: Typed
) -> None:
    typed.will(NEW, NEW + "x")
    code, _, err = run(fake, capsys, "passphrase", "set", stdin=Tty())
    assert (code, err) == (
        1,
        "twofold: the two passphrases differ: the passphrase was not changed\n",
    )
    assert sent(fake, "PUT", "/passphrase") == []
    assert fake.passphrase is None


@pytest.mark.parametrize("how", ["terminal", "stdin"])
def test_a_short_passphrase_is_refused_at_once(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], typed: Typed, how: str
) -> None:
    typed.will("too short")
    if how == "terminal":
        code, _, err = run(fake, capsys, "passphrase", "set", stdin=Tty())
        assert typed.asked == ["passphrase (not echoed): "]
    else:
        code, _, err = run(
            fake, capsys, "passphrase", "set", "--passphrase-stdin", stdin="too short\n"
        )
    assert (code, err) == (1, "twofold: a passphrase needs at least 10 characters\n")
    assert sent(fake, "PUT", "/passphrase") == []


def test_set_when_there_is_one_says_to_change_it(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], typed: Typed
) -> None:
    fake.passphrase = OLD
    code, out, err = run(fake, capsys, "passphrase", "set", stdin=Tty())
    assert (code, out) == (1, "")
    assert err == (
        "twofold: this home has a passphrase already: change it with twofold passphrase change\n"
    )
    assert typed.asked == []


@pytest.mark.parametrize("action", ["set", "change", "remove"])
def test_passphrase_actions_while_locked_say_to_unlock_first(
    locked: FakeDaemon, capsys: pytest.CaptureFixture[str], typed: Typed, action: str
) -> None:
    code, out, err = run(locked, capsys, "passphrase", action, stdin=Tty())
    assert (code, out, err) == (1, "", LOCKED_LINE)
    assert typed.asked == []


def test_a_vault_that_locked_meanwhile_still_says_to_unlock(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.passphrase = OLD
    fake.canned["PUT", "/api/v1/passphrase"] = problem_response(423, LOCKED_PROBLEM)
    argv = ["passphrase", "change", "--passphrase-stdin"]
    code, _, err = run(fake, capsys, *argv, stdin=f"{OLD}\n{NEW}\n")
    assert (code, err) == (1, LOCKED_LINE)


# -- passphrase change, remove --------------------------------------------------------------


def test_change_asks_the_current_one_then_the_new_one_twice(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], typed: Typed
) -> None:
    fake.passphrase = OLD
    typed.will(OLD, NEW, NEW)
    code, out, _ = run(fake, capsys, "passphrase", "change", stdin=Tty())
    assert code == 0
    assert out == (
        "Passphrase changed. The vault locks after 15 minutes without use, and when the "
        "daemon restarts; unlock it with the new one.\n"
    )
    assert typed.asked == [
        "current passphrase (not echoed): ",
        "new passphrase (not echoed): ",
        "new passphrase again: ",
    ]
    assert sent(fake, "PUT", "/passphrase") == [{"passphrase": NEW, "current": OLD}]
    assert fake.passphrase == NEW


def test_change_reads_two_lines_of_stdin(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], typed: Typed
) -> None:
    fake.passphrase = OLD
    argv = ["passphrase", "change", "--passphrase-stdin", "--json"]
    code, out, _ = run(fake, capsys, *argv, stdin=f"{OLD}\n{NEW}\n")
    assert (code, json.loads(out)) == (0, {"passphrase": True, "lock_after": 15})
    assert sent(fake, "PUT", "/passphrase") == [{"passphrase": NEW, "current": OLD}]
    assert typed.asked == []


def test_change_without_the_second_line_changes_nothing(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.passphrase = OLD
    code, _, err = run(fake, capsys, "passphrase", "change", "--passphrase-stdin", stdin=f"{OLD}\n")
    assert (code, err) == (
        1,
        "twofold: expected new passphrase on the second line of standard input\n",
    )
    assert sent(fake, "PUT", "/passphrase") == []


@pytest.mark.parametrize(
    ("argv", "stdin"),
    [
        (["passphrase", "change"], f"not the one!\n{NEW}\n"),
        (["passphrase", "remove"], "not the one!\n"),
    ],
)
def test_a_wrong_current_passphrase_says_so(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], argv: list[str], stdin: str
) -> None:
    fake.passphrase = OLD
    code, out, err = run(fake, capsys, *argv, "--passphrase-stdin", stdin=stdin)
    assert (code, out, err) == (1, "", "twofold: the current passphrase is wrong\n")
    assert fake.passphrase == OLD


@pytest.mark.parametrize(
    ("argv", "stdin"),
    [
        (["passphrase", "change"], f"{OLD}\n{NEW}\n"),
        (["passphrase", "remove"], f"{OLD}\n"),
    ],
)
def test_a_change_too_soon_says_how_long_to_wait(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], argv: list[str], stdin: str
) -> None:
    fake.passphrase, fake.wait = OLD, 600
    code, _, err = run(fake, capsys, *argv, "--passphrase-stdin", stdin=stdin)
    assert (code, err) == (1, "twofold: too many wrong passphrases: try again in 600 s\n")
    assert fake.passphrase == OLD


@pytest.mark.parametrize("action", ["change", "remove"])
def test_change_or_remove_without_a_passphrase_says_to_set_one(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], typed: Typed, action: str
) -> None:
    code, _, err = run(fake, capsys, "passphrase", action, stdin=Tty())
    assert (code, err) == (
        1,
        "twofold: this home has no passphrase: set one with twofold passphrase set\n",
    )
    assert typed.asked == []


def test_remove_asks_the_current_one(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], typed: Typed
) -> None:
    fake.passphrase = OLD
    typed.will(OLD)
    code, out, _ = run(fake, capsys, "passphrase", "remove", stdin=Tty())
    assert code == 0
    assert out == "Passphrase removed. The vault no longer locks, and the daemon starts unlocked.\n"
    assert typed.asked == ["current passphrase (not echoed): "]
    assert sent(fake, "POST", "/passphrase/remove") == [{"current": OLD}]
    assert fake.passphrase is None


def test_remove_reads_one_line_of_stdin(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.passphrase = OLD
    argv = ["passphrase", "remove", "--passphrase-stdin", "--json"]
    code, out, _ = run(fake, capsys, *argv, stdin=OLD + "\n")
    assert (code, json.loads(out)) == (0, {"passphrase": False, "lock_after": 0})
    assert fake.passphrase is None


def test_remove_without_a_terminal_says_to_pipe_it(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.passphrase = OLD
    code, _, err = run(fake, capsys, "passphrase", "remove")
    assert code == 1
    assert err.endswith("pipe it in with --passphrase-stdin\n")


# -- help -----------------------------------------------------------------------------------


def test_help_tells_of_the_passphrase_and_its_risk(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["passphrase", "--help"]) == 0
    out = capsys.readouterr().out
    assert "cannot be recovered" in out
    assert "--passphrase-stdin" in out
    for action in ("set", "change", "remove"):
        assert main(["passphrase", action, "--help"]) == 0
        assert "--passphrase-stdin" in capsys.readouterr().out
    assert main(["unlock", "--help"]) == 0
    assert "--passphrase-stdin" in capsys.readouterr().out
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(word in out for word in ("unlock", "lock", "passphrase"))
    assert main(["passphrase"]) == 2, "an action is needed"
