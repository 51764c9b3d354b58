"""The twofold command in-process against the stand-in daemon of test_sdk_fakedaemon."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from twofold.clients.cli.main import main

from .cli_runner import run
from .test_sdk_fakedaemon import LAPTOP_ID, PHONE_ID, FakeDaemon

URI = "otpauth://totp/GitHub:alice@example.com?secret=JBSWY3DPEHPK3PXP&issuer=GitHub"


@pytest.fixture
def vault(fake: FakeDaemon) -> dict[str, str]:
    """GitHub (two accounts), an HOTP bank account, and one in the trash."""
    ids = {
        "alice": fake.add("GitHub", "alice")["id"],
        "work": fake.add("GitHub", "alice-work")["id"],
        "bank": fake.add("Bank", "bob", "hotp", counter=4)["id"],
        "old": fake.add("Old", "carol", deleted=True)["id"],
    }
    return ids


def run_json(fake: FakeDaemon, capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code, out, err = run(fake, capsys, *argv, "--json")
    assert (code, err) == (0, "")
    assert out.endswith("\n")
    return json.loads(out)


# -- add ------------------------------------------------------------------------------------


def test_add_from_a_uri(fake: FakeDaemon, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(fake, capsys, "add", URI, "--note", "work")
    (account,) = fake.accounts.values()
    assert code == 0
    assert out == f"added totp account GitHub: alice@example.com ({account['id'][:8]})\n"
    assert fake.seen[-1].body == {"uri": URI, "note": "work"}


def test_add_from_fields(fake: FakeDaemon, capsys: pytest.CaptureFixture[str]) -> None:
    body = run_json(
        fake, capsys, "add", "--issuer", "Bank", "--name", "bob", "--secret", "JBSW",
        "--kind", "hotp", "--counter", "3", "--algorithm", "sha256", "--digits", "8",
    )  # fmt: skip
    assert fake.seen[-1].body == {
        "issuer": "Bank",
        "name": "bob",
        "secret": "JBSW",
        "kind": "hotp",
        "algorithm": "SHA256",
        "digits": 8,
        "counter": 3,
    }
    assert (body["kind"], body["counter"], body["digits"]) == ("hotp", 3, 8)


def test_add_reads_the_uri_or_the_secret_from_stdin(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(fake, capsys, "add", "-", stdin=URI + "\n")[0] == 0
    assert fake.seen[-1].body == {"uri": URI}
    assert run(fake, capsys, "add", "--issuer", "X", "--secret", "-", stdin=" JBSW \n")[0] == 0
    assert fake.seen[-1].body == {"issuer": "X", "secret": "JBSW"}
    code, _, err = run(fake, capsys, "add", "-", stdin="")
    assert (code, err) == (
        1,
        "twofold: expected an otpauth:// URI on standard input, got nothing\n",
    )


@pytest.mark.parametrize(
    "argv",
    [["add"], ["add", URI, "--secret", "JBSW"], ["add", "--kind", "nope", "--secret", "A"]],
)
def test_add_usage_errors_exit_2(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    code, out, err = run(fake, capsys, *argv)
    assert (code, out) == (2, "")
    assert "usage: twofold add" in err
    assert fake.seen == []


def test_a_refused_uri_exits_1_with_the_detail_and_the_problem_in_json(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(fake, capsys, "add", "https://example.com")
    assert (code, out, err) == (1, "", "twofold: that is not an otpauth:// URI\n")
    code, out, err = run(fake, capsys, "--json", "add", "https://example.com")
    assert (code, err) == (1, "twofold: that is not an otpauth:// URI\n")
    assert json.loads(out) == {
        "type": "urn:twofold:problem:invalid-uri",
        "title": "Invalid uri",
        "status": 400,
        "detail": "that is not an otpauth:// URI",
        "field": "uri",
    }


# -- list, and the global options -------------------------------------------------------------


def test_list_is_an_aligned_table(
    fake: FakeDaemon, vault: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(fake, capsys, "list")
    assert code == 0
    assert out.splitlines() == [
        "ISSUER  NAME        KIND  ID",
        f"Bank    bob         hotp  {vault['bank'][:8]}",
        f"GitHub  alice       totp  {vault['alice'][:8]}",
        f"GitHub  alice-work  totp  {vault['work'][:8]}",
    ]


def test_list_json_mirrors_the_api(
    fake: FakeDaemon, vault: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    body = run_json(fake, capsys, "list")
    assert list(body) == ["accounts"]
    assert body["accounts"][0] == fake.accounts[vault["bank"]]


@pytest.mark.parametrize(
    "argv",
    [
        ["--home", "{home}", "--json", "list"],
        ["list", "--home", "{home}", "--json"],
        ["--json", "list", "--home", "{home}"],
        ["--home", "{elsewhere}", "list", "--home", "{home}", "--json"],
    ],
)
def test_global_options_go_before_or_after_the_command(
    fake: FakeDaemon, vault: dict[str, str], capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    elsewhere = fake.home.parent / "elsewhere"
    code = main([a.format(home=fake.home, elsewhere=elsewhere) for a in argv])
    out, _ = capsys.readouterr()
    assert code == 0
    assert len(json.loads(out)["accounts"]) == 3


def test_twofold_home_from_the_environment(
    fake: FakeDaemon,
    vault: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TWOFOLD_HOME", str(fake.home))
    assert main(["trash"]) == 0
    assert "Old" in capsys.readouterr().out


# -- code and next --------------------------------------------------------------------------


class Screen(io.StringIO):
    """Standard output that is a terminal."""

    def isatty(self) -> bool:
        return True


def test_code_for_one_match_shows_the_grouped_code_and_seconds_left(
    fake: FakeDaemon, vault: dict[str, str]
) -> None:
    screen = Screen()
    code = main(["--home", str(fake.home), "code", "ALICE-W"], stdout=screen)
    raw = fake.code_of(fake.accounts[vault["work"]])
    assert code == 0
    assert screen.getvalue().startswith(f"{raw['code'][:3]} {raw['code'][3:]}  (")
    assert screen.getvalue().endswith(" s left, GitHub: alice-work)\n")


def test_code_for_one_match_into_a_pipe_is_the_bare_code(
    fake: FakeDaemon, vault: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(fake, capsys, "code", "ALICE-W")
    assert (code, out) == (0, fake.code_of(fake.accounts[vault["work"]])["code"] + "\n")


def test_code_json_gives_the_raw_code(
    fake: FakeDaemon, vault: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    body = run_json(fake, capsys, "code", vault["alice"][:6])
    (only,) = body["codes"]
    assert only["account_id"] == vault["alice"]
    assert only["code"] == fake.code_of(fake.accounts[vault["alice"]])["code"]


def test_code_for_several_matches_is_a_table_on_a_terminal(
    fake: FakeDaemon, vault: dict[str, str]
) -> None:
    screen = Screen()
    code = main(["--home", str(fake.home), "code", "github"], stdout=screen)
    lines = screen.getvalue().splitlines()
    assert code == 0
    assert lines[0].split() == ["ISSUER", "NAME", "CODE", "LEFT", "ID"]
    assert [line.split()[1] for line in lines[1:]] == ["alice", "alice-work"]


def test_a_pipe_gets_one_bare_code_or_an_error_never_a_table(
    fake: FakeDaemon, vault: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(fake, capsys, "code", "github")
    assert (code, out) == (1, "")
    assert "2 accounts match 'github': GitHub: alice (" in err
    assert "GitHub: alice-work (" in err
    code, out, _ = run(fake, capsys, "code", "ALICE")  # both match; one is named exactly so
    assert (code, out) == (0, fake.code_of(fake.accounts[vault["alice"]])["code"] + "\n")
    body = run_json(fake, capsys, "code", "github")  # --json still lists every match
    assert len(body["codes"]) == 2


def test_code_all_includes_hotp_without_a_code(
    fake: FakeDaemon, vault: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(fake, capsys, "code", "--all")
    assert code == 0
    assert "(hotp: use next)" in out.splitlines()[1]
    body = run_json(fake, capsys, "code", "--all")
    assert [c["code"] is None for c in body["codes"]] == [True, False, False]


def test_code_with_no_match_exits_1(
    fake: FakeDaemon, vault: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(fake, capsys, "code", "gitlab")
    assert (code, out) == (1, "")
    assert err == "twofold: no account matches 'gitlab'; see: twofold list\n"
    code, out, _ = run(fake, capsys, "code", "gitlab", "--json")
    assert json.loads(out)["type"] == "urn:twofold:cli:no-match"


def test_code_of_an_hotp_account_points_to_next(
    fake: FakeDaemon, vault: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(fake, capsys, "code", "bank")
    assert code == 1
    assert f"twofold next {vault['bank'][:8]}" in err


def test_code_needs_a_query_or_all(fake: FakeDaemon, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(fake, capsys, "code")[0] == 2
    assert run(fake, capsys, "code", "x", "--all")[0] == 2


def test_next_advances_the_one_hotp_match(
    fake: FakeDaemon, vault: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    body = run_json(fake, capsys, "next", "bob")
    assert (body["counter"], fake.accounts[vault["bank"]]["counter"]) == (5, 5)
    assert fake.seen[-1].path == f"/api/v1/accounts/{vault['bank']}/next-code"
    code, out, _ = run(fake, capsys, "next", "bank")
    assert (code, out.strip().isdigit()) == (0, True), "into a pipe, the bare code"
    screen = Screen()
    assert main(["--home", str(fake.home), "next", "bank"], stdout=screen) == 0
    assert "(counter 7, Bank: bob)" in screen.getvalue()


def test_next_refuses_ambiguous_and_time_based_matches(
    fake: FakeDaemon, vault: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    fake.add("Bank", "bob-2", "hotp")
    code, _, err = run(fake, capsys, "next", "bank")
    assert code == 1
    assert "matches 2 HOTP accounts" in err
    code, _, err = run(fake, capsys, "next", "github")
    assert code == 1
    assert "matches no HOTP account" in err


# -- edit, rm, trash, restore, conflicts, resolve, status -------------------------------------


def test_edit_rm_trash_restore(
    fake: FakeDaemon, vault: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    short = vault["alice"][:8]
    assert run(fake, capsys, "edit", short, "--note", "main", "--counter", "2")[0] == 0
    assert fake.seen[-1].body == {"note": "main", "counter": 2}
    assert run(fake, capsys, "edit", short)[0] == 2
    code, out, _ = run(fake, capsys, "rm", short)
    assert (code, out) == (
        0,
        f"moved GitHub: alice to the trash; undo with: twofold restore {short}\n",
    )
    assert {a["id"] for a in run_json(fake, capsys, "trash")["accounts"]} == {
        vault["alice"],
        vault["old"],
    }
    assert run_json(fake, capsys, "restore", short)["deleted"] is False


def test_an_unknown_or_malformed_id_exits_1(
    fake: FakeDaemon, vault: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(fake, capsys, "rm", "ffff")
    assert (code, err) == (1, "twofold: no account has an ID starting with ffff\n")
    code, _, err = run(fake, capsys, "rm", "nope")
    assert code == 2, "a malformed ID is wrong usage"
    assert "'nope' is not an account ID" in err
    code, out, _ = run(fake, capsys, "edit", "../x", "--name", "y", "--json")
    assert code == 2
    assert json.loads(out)["type"] == "urn:twofold:cli:invalid-argument"
    assert run(fake, capsys, "resolve", "abcd", "no-such field", "1")[0] == 2


def test_conflicts_and_resolve(
    fake: FakeDaemon, vault: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    conflict = fake.add_conflict(fake.accounts[vault["alice"]], "note", ["home", "office"])
    conflict["values"][0]["device"] = LAPTOP_ID
    conflict["values"][1] |= {"device": PHONE_ID, "choice": "ab" * 32}
    code, out, _ = run(fake, capsys, "conflicts")
    lines = out.splitlines()
    assert code == 0
    assert lines[0].split() == [
        "ID", "ACCOUNT", "FIELD", "#", "SHOWN", "VALUE", "DEVICE", "WRITTEN", "CHOICE",
    ]  # fmt: skip
    assert lines[1].split()[3:8] == ["note", "1", "*", "home", "laptop"]
    assert lines[2].split()[3:7] == ["note", "2", "office", "phone"]
    assert lines[2].endswith(" " + "ab" * 6), "the start of the choice, enough to name it"
    assert (
        lines[3] == "keep one value with: twofold resolve ID FIELD # (or its VALUE, or its CHOICE)"
    )
    assert run_json(fake, capsys, "conflicts")["conflicts"] == fake.conflicts
    body = run_json(fake, capsys, "resolve", vault["alice"][:4], "note", "2")
    assert (body["note"], body["conflicts"]) == ("office", [])
    assert [s.body for s in fake.seen if s.method == "POST"] == [{"choice": "ab" * 32}]
    assert run(fake, capsys, "conflicts")[1] == "no conflicts\n"


@pytest.mark.parametrize("given", ["2", "abab", "ab" * 32, "AB" * 32, "office"])
def test_resolve_takes_the_index_a_choice_prefix_or_the_value(
    fake: FakeDaemon, vault: dict[str, str], capsys: pytest.CaptureFixture[str], given: str
) -> None:
    conflict = fake.add_conflict(fake.accounts[vault["alice"]], "note", ["home", "office"])
    conflict["values"][1] |= {"device": PHONE_ID, "choice": "ab" * 32}
    code, out, err = run(fake, capsys, "resolve", vault["alice"][:6], "note", given)
    assert (code, err) == (0, "")
    assert out == (
        f"kept 'office' (written by phone) as the note of GitHub: alice ({vault['alice'][:8]})\n"
    )
    assert [s.body for s in fake.seen if s.method == "POST"] == [{"choice": "ab" * 32}]


@pytest.mark.parametrize(
    ("given", "complaint"),
    [
        ("3", "'3' is none of the 2 values of the note of GitHub: alice: give its # (1 to 2)"),
        ("work", "'work' is none of the 2 values"),
        ("c", "'c' is none of the 2 values"),
    ],
)
def test_resolve_of_a_value_the_conflict_lacks_sends_nothing(
    fake: FakeDaemon, vault: dict[str, str], capsys: pytest.CaptureFixture[str], given: str,
    complaint: str,
) -> None:  # fmt: skip
    fake.add_conflict(fake.accounts[vault["alice"]], "note", ["home", "office"])
    code, _, err = run(fake, capsys, "resolve", vault["alice"][:6], "note", given)
    assert code == 1
    assert err.startswith("twofold: " + complaint)
    assert all(s.method == "GET" for s in fake.seen)


def test_status(
    fake: FakeDaemon, vault: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(fake, capsys, "status")
    assert code == 0
    assert "laptop (JD3A-ZZQ3-T5K3-7EJC)" in out
    assert "3 (1 in the trash)" in out
    assert run_json(fake, capsys, "status")["members"] == 2


# -- no daemon, usage, exec -------------------------------------------------------------------


def test_no_daemon_exits_3_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["list", "--home", str(tmp_path)])
    out, err = capsys.readouterr()
    assert (code, out) == (3, "")
    assert err == (
        f"twofold: no Twofold daemon is running for {tmp_path}; "
        f"start one with: twofold daemon --home {tmp_path}\n"
    )


def test_an_unknown_command_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["frobnicate"]) == 2
    assert "invalid choice" in capsys.readouterr().err
    assert main([]) == 2


def test_help_mentions_reading_from_stdin(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["add", "--help"]) == 0
    assert "twofold add - < uri.txt" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("action", "words"),
    [("install", "at every login"), ("uninstall", "no longer starts"), ("status", "manager")],
)
def test_each_service_action_has_its_own_help(
    capsys: pytest.CaptureFixture[str], action: str, words: str
) -> None:
    assert main(["service", action, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: twofold service {action}")
    assert words in " ".join(out.split())


class Exec(Exception):
    """os.execv, caught instead of replacing the test process."""


@pytest.mark.parametrize(
    ("argv", "tail"),
    [
        (["daemon"], ["run", "--home", "{home}"]),
        (["daemon", "--port", "5000"], ["run", "--home", "{home}", "--port", "5000"]),
        (["service", "install"], ["service", "install", "--home", "{home}"]),
        (["service", "status"], ["service", "status", "--home", "{home}"]),
    ],
)
def test_daemon_and_service_exec_the_daemon_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str], tail: list[str]
) -> None:
    def fake_execv(path: str, args: list[str]) -> None:
        raise Exec(path, args)

    monkeypatch.setattr(os, "execv", fake_execv)
    with pytest.raises(Exec) as caught:
        main([*argv, "--home", str(tmp_path)])
    path, args = caught.value.args
    assert path == sys.executable
    assert args == [
        sys.executable,
        "-m",
        "twofold.daemon",
        *(t.format(home=tmp_path) for t in tail),
    ]


def test_the_cli_and_sdk_never_load_the_daemon() -> None:
    probe = (
        "import sys, twofold.clients.cli.main, twofold.clients.sdk; "
        "sys.exit(any(m.startswith('twofold.daemon') for m in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", probe], check=False).returncode == 0


def test_add_refuses_the_same_account_twice_unless_allowed(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(fake, capsys, "add", URI)[0] == 0
    (first,) = fake.accounts
    code, out, err = run(fake, capsys, "add", URI)
    assert (code, out) == (1, "")
    assert err == (
        f"twofold: GitHub: alice@example.com ({first[:8]}) is already in the vault; "
        "to add a second copy: --allow-duplicate\n"
    )
    assert len(fake.accounts) == 1
    code, out, _ = run(fake, capsys, "add", URI, "--json")
    problem = json.loads(out)
    assert code == 1
    assert problem["type"] == "urn:twofold:problem:duplicate-account"
    assert problem["existing"]["id"] == first
    fake.accounts[first]["deleted"] = True
    code, _, err = run(fake, capsys, "add", URI)
    assert code == 1
    assert f"is in the trash: bring it back with: twofold restore {first[:8]}" in err
    code, out, _ = run(fake, capsys, "add", URI, "--allow-duplicate")
    assert code == 0
    assert fake.seen[-1].body == {"uri": URI, "allow_duplicate": True}
    assert len(fake.accounts) == 2


class PipeGone(io.StringIO):
    """Standard output whose reader stopped reading (`twofold list | head -1`)."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_reader_that_stops_early_ends_the_command_quietly(
    fake: FakeDaemon, vault: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    err = io.StringIO()
    code = main(["--home", str(fake.home), "list"], stdout=PipeGone(), stderr=err)
    assert (code, err.getvalue()) == (141, "")
