"""Questions the CLI asks a person: yes/no, and secrets that must not be echoed or logged.

A question goes where a person can answer it: standard input when it is a terminal,
else the controlling terminal (/dev/tty), so that `twofold pair - < link.txt` still
asks; only with no terminal at all is the answer no.
"""

from __future__ import annotations

import getpass
import io
import os
from typing import TextIO

from .commands import Context, UserError

TTY = "/dev/tty"
MIN_PASSPHRASE_CHARS = 10
"""The daemon refuses a shorter passphrase, for a backup and for the home alike: say so
as soon as it is typed."""


def open_terminal() -> TextIO | None:
    """The controlling terminal, opened to read and write, or None when there is none."""
    try:
        fd = os.open(TTY, os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return None
    try:
        return io.TextIOWrapper(io.FileIO(fd, "r+"), encoding="utf-8", errors="replace")
    except OSError:
        os.close(fd)
        return None


def confirm(ctx: Context, question: str, yes_does: str = "adds it") -> bool:
    """Ask a yes/no question: on stdin if it is a terminal, else on the controlling
    terminal; no terminal, or no answer, means no."""
    if ctx.stdin.isatty():
        stream = ctx.err if ctx.json else ctx.out
        return _ask(stream, ctx.stdin, question)
    terminal = ctx.terminal()
    if terminal is None:
        ctx.tell(f"No terminal to ask on, so the answer is no (--yes {yes_does} without asking).")
        return False
    with terminal:
        return _ask(terminal, terminal, question)


def _ask(stream: TextIO, source: TextIO, question: str) -> bool:
    stream.write(question)
    stream.flush()
    answer = source.readline()
    if not answer:  # end of input
        stream.write("\n")
        stream.flush()
    return answer.strip().casefold() in ("y", "yes")


def has_terminal(ctx: Context) -> bool:
    """Whether a person can be asked: stdin is a terminal, or there is a controlling one."""
    if ctx.stdin.isatty():
        return True
    terminal = ctx.terminal()
    if terminal is None:
        return False
    terminal.close()
    return True


def read_hidden(what: str) -> str:
    """One line typed unechoed (getpass asks on the controlling terminal); Ctrl-D is no
    answer, said as such rather than as a traceback."""
    try:
        return getpass.getpass(f"{what} (not echoed): ")
    except EOFError:
        raise UserError(f"no {what} was typed", "empty-input") from None


def ask_secret(
    ctx: Context,
    what: str,
    *,
    from_stdin: bool,
    twice: bool = False,
    min_chars: int = 0,
    flag: str = "--password-stdin",
    unchanged: str = "nothing was written",
    line: str = "first",
) -> str:
    """A password from the next line of stdin (for scripts) or typed unechoed at a terminal.

    `twice` asks again and compares, for a secret that seals something: a typo
    there would lock the person out of their own file. `min_chars` refuses a
    shorter one as soon as it is typed, before asking again. `flag` is the option
    that pipes it in, named when there is no terminal; `unchanged` says what a
    mismatch left alone; `line`, which line of stdin holds it.
    """
    if from_stdin:
        text = ctx.stdin.readline().rstrip("\r\n")
        if not text:
            raise UserError(f"expected {what} on the {line} line of standard input", "empty-input")
        _check_length(what, text, min_chars)
        return text
    if not has_terminal(ctx):
        raise UserError(
            f"{what} is needed and there is no terminal to ask on: pipe it in with {flag}",
            "no-terminal",
        )
    text = read_hidden(what)
    if not text:
        raise UserError(f"no {what} was typed", "empty-input")
    _check_length(what, text, min_chars)
    if twice:
        try:
            again = getpass.getpass(f"{what} again: ")
        except EOFError:
            raise UserError(f"no {what} was typed again: {unchanged}", "empty-input") from None
        if again != text:
            raise UserError(f"the two {what}s differ: {unchanged}", "mismatch")
    return text


def _check_length(what: str, text: str, min_chars: int) -> None:
    if len(text) < min_chars:
        raise UserError(f"a {what} needs at least {min_chars} characters", "weak-passphrase")
