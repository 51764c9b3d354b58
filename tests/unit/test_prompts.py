"""Where the CLI asks its questions: stdin if it is a terminal, else the controlling terminal
(/dev/tty), else nowhere (the answer is no); and how a secret's prompt ends."""

from __future__ import annotations

import argparse
import io
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import TextIO

import pytest

from twofold.clients.cli import prompts
from twofold.clients.cli.commands import Context, UserError

from .test_cli_pairing import JOIN_2, NO_TERMINAL, Tty, requests, two_accounts
from .test_sdk_fakedaemon import LINK, FakeDaemon

QUESTION = "Go on? [y/N] "


class Terminal(io.StringIO):
    """A controlling terminal: what the person types, and what was written to it."""

    def __init__(self, typed: str) -> None:
        super().__init__(typed)
        self.shown = ""

    def write(self, text: str) -> int:
        self.shown += text
        return len(text)

    def close(self) -> None:  # kept readable for the assertions
        pass


def context(stdin: TextIO, terminal: Terminal | None = None) -> Context:
    return Context(
        args=argparse.Namespace(),
        parser=argparse.ArgumentParser(),
        home=Path("/nonexistent"),
        json=False,
        out=io.StringIO(),
        stdin=stdin,
        err=io.StringIO(),
        terminal=lambda: terminal,
    )


def said(ctx: Context) -> str:
    assert isinstance(ctx.out, io.StringIO)
    return ctx.out.getvalue()


def test_stdin_that_is_a_terminal_is_asked_first() -> None:
    terminal = Terminal("n\n")
    ctx = context(Tty("y\n"), terminal)
    assert prompts.confirm(ctx, QUESTION) is True
    assert said(ctx) == QUESTION
    assert terminal.shown == ""


@pytest.mark.parametrize(("typed", "answer"), [("y\n", True), ("yes\n", True), ("n\n", False),
                                               ("", False)])  # fmt: skip
def test_with_stdin_a_file_the_controlling_terminal_is_asked(typed: str, answer: bool) -> None:
    terminal = Terminal(typed)
    ctx = context(io.StringIO("y\n"), terminal)
    assert prompts.confirm(ctx, QUESTION) is answer
    assert terminal.shown == QUESTION + ("" if typed else "\n")
    assert said(ctx) == ""
    assert ctx.stdin.read() == "y\n", "stdin, the file, is left alone"


def test_with_no_terminal_at_all_the_answer_is_no() -> None:
    ctx = context(io.StringIO("y\n"), None)
    assert prompts.confirm(ctx, QUESTION, "joins") is False
    assert said(ctx) == NO_TERMINAL + "\n"


def test_a_secret_is_asked_on_the_controlling_terminal_when_stdin_is_a_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(prompts.getpass, "getpass", lambda q: "correct horse battery")
    assert prompts.ask_secret(context(io.StringIO(), Terminal("")), "password",
                              from_stdin=False) == "correct horse battery"  # fmt: skip
    with pytest.raises(UserError, match="no terminal to ask on"):
        prompts.ask_secret(context(io.StringIO(), None), "password", from_stdin=False)


def eof(question: str) -> str:
    raise EOFError


def test_ctrl_d_at_a_passphrase_prompt_is_a_clean_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prompts.getpass, "getpass", eof)
    with pytest.raises(UserError) as caught:
        prompts.ask_secret(context(Tty()), "backup passphrase", from_stdin=False, twice=True)
    assert (caught.value.detail, caught.value.slug) == (
        "no backup passphrase was typed",
        "empty-input",
    )


def test_a_short_passphrase_is_refused_before_it_is_asked_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[str] = []
    monkeypatch.setattr(prompts.getpass, "getpass", lambda q: asked.append(q) or "short")
    with pytest.raises(UserError, match="at least 10 characters"):
        prompts.ask_secret(
            context(Tty()), "backup passphrase", from_stdin=False, twice=True, min_chars=10
        )
    assert asked == ["backup passphrase (not echoed): "]


# -- a real process, its stdin a file and its controlling terminal a pty ------------------

LAUNCH = (
    "import os, sys\n"
    "if sys.argv[1]:\n"
    "    os.close(os.open(sys.argv[1], os.O_RDWR))  # a session leader's first tty: its own\n"
    "from twofold.clients.cli.main import main\n"
    "sys.exit(main(sys.argv[2:]))\n"
)


def launch(fake: FakeDaemon, tty: str, stdin: TextIO, *argv: str) -> subprocess.Popen[str]:
    """twofold in a new session (no controlling terminal), which takes `tty` as its own."""
    return subprocess.Popen(
        [sys.executable, "-c", LAUNCH, tty, "--home", str(fake.home), *argv],
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def read_until(fd: int, wanted: str, timeout: float = 20.0) -> str:
    seen = b""
    deadline = time.monotonic() + timeout
    while wanted.encode() not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"the terminal never showed {wanted!r}; it showed {seen!r}"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                seen += os.read(fd, 1024)
            except OSError:  # the process closed the terminal
                break
    return seen.decode()


def test_join_of_a_link_on_stdin_asks_on_the_controlling_terminal(
    fake: FakeDaemon, tmp_path: Path
) -> None:
    two_accounts(fake)
    link = tmp_path / "link.txt"
    link.write_text(LINK + "\n")
    master, slave = pty.openpty()
    try:
        with link.open() as stdin:
            process = launch(fake, os.ttyname(slave), stdin, "join", "-")
        try:
            assert JOIN_2 in read_until(master, JOIN_2)
            os.write(master, b"y\n")
            out, err = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    finally:
        os.close(master)
        os.close(slave)
    assert (process.returncode, err) == (0, ""), err
    assert JOIN_2 not in out, "the question went to the terminal"
    assert "Joined. 2 accounts are on this device now" in out
    assert fake.seen[0].body == {"link": LINK}
    assert ("POST", "/join/accept") in requests(fake)


def test_join_with_no_controlling_terminal_declines(fake: FakeDaemon, tmp_path: Path) -> None:
    link = tmp_path / "link.txt"
    link.write_text(LINK + "\n")
    with link.open() as stdin:
        process = launch(fake, "", stdin, "join", "-")
    out, err = process.communicate(timeout=30)
    assert (process.returncode, err) == (1, "twofold: Declined: nothing was sent.\n")
    assert out.splitlines()[-1] == NO_TERMINAL
    assert ("POST", "/join/accept") not in requests(fake)
