"""config.toml: lock_after, the one setting of passphrase mode, read and refused as it should."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from twofold.daemon import config
from twofold.daemon.home import Home


def home_with(tmp_path: Path, text: str | None) -> Home:
    home = Home(tmp_path / "home")
    home.prepare()
    if text is not None:
        home.config.write_text('device_name = "laptop"\n' + text)
        home.config.chmod(0o600)
    return home


def test_a_first_start_writes_lock_after_out(tmp_path: Path) -> None:
    home = home_with(tmp_path, None)
    assert config.load(home).lock_after == 15
    assert tomllib.loads(home.config.read_text())["lock_after"] == 15


@pytest.mark.parametrize(
    ("line", "minutes"), [("", 15), ("lock_after = 0", 0), ("lock_after = 90", 90)]
)
def test_lock_after_is_read(tmp_path: Path, line: str, minutes: int) -> None:
    assert config.load(home_with(tmp_path, line + "\n")).lock_after == minutes


@pytest.mark.parametrize("value", ["-1", "10081", "1.5", '"15"', "true"])
def test_a_lock_after_that_is_not_minutes_is_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(config.ConfigError, match="lock_after must be minutes"):
        config.load(home_with(tmp_path, f"lock_after = {value}\n"))
