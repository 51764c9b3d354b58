"""Running the twofold command in-process against the stand-in daemon."""

from __future__ import annotations

import io
from typing import TextIO

import pytest

from twofold.clients.cli.main import main

from .test_sdk_fakedaemon import FakeDaemon


def run(
    fake: FakeDaemon,
    capsys: pytest.CaptureFixture[str],
    *argv: str,
    stdin: str | TextIO = "",
) -> tuple[int, str, str]:
    """Run twofold with --home set to the stand-in's home; return (status, stdout, stderr)."""
    source = io.StringIO(stdin) if isinstance(stdin, str) else stdin
    code = main(["--home", str(fake.home), *argv], stdin=source)
    out, err = capsys.readouterr()
    return code, out, err
