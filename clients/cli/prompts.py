"""Questions the CLI asks a person: yes/no, and secrets that must not be echoed or logged."""

from __future__ import annotations

import getpass

from .commands import Context, UserError


def confirm(ctx: Context, question: str, yes_does: str = "adds it") -> bool:
    """Ask a yes/no question on the terminal; no terminal, or no answer, means no."""
    if not ctx.stdin.isatty():
        ctx.tell(f"No terminal to ask on, so the answer is no (--yes {yes_does} without asking).")
        return False
    stream = ctx.err if ctx.json else ctx.out
    stream.write(question)
    stream.flush()
    answer = ctx.stdin.readline()
    if not answer:  # end of input
        stream.write("\n")
    return answer.strip().casefold() in ("y", "yes")


def ask_secret(ctx: Context, what: str, *, from_stdin: bool, twice: bool = False) -> str:
    """A password from the first line of stdin (for scripts) or typed unechoed at a terminal.

    `twice` asks again and compares, for a secret that seals something: a typo
    there would lock the person out of their own file.
    """
    if from_stdin:
        text = ctx.stdin.readline().rstrip("\r\n")
        if not text:
            raise UserError(f"expected {what} on the first line of standard input", "empty-input")
        return text
    if not ctx.stdin.isatty():
        raise UserError(
            f"{what} is needed and there is no terminal to ask on: pipe it in with "
            "--password-stdin",
            "no-terminal",
        )
    text = getpass.getpass(f"{what} (not echoed): ")
    if not text:
        raise UserError(f"no {what} was typed", "empty-input")
    if twice and getpass.getpass(f"{what} again: ") != text:
        raise UserError(f"the two {what}s differ: nothing was written", "mismatch")
    return text
