"""Unit fixtures: the in-process stand-in for the daemon that SDK and CLI tests talk to."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.test_sdk_fakedaemon import FakeDaemon, running


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeDaemon]:
    with running(tmp_path / "home") as daemon:
        yield daemon
