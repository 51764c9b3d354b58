"""One device's home folder: where it is, what it holds, and that it stays private.

Everything a device holds lives here: config.toml, the database, the local
API's address (api.json) and token (api.token), and the store key file when no
OS keyring is available. Several daemons on one machine are several homes.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from .errors import HomeUnsafe


def resolve_home(explicit: str | os.PathLike[str] | None = None) -> Path:
    """--home, else $TWOFOLD_HOME, else the platform's user data folder."""
    if explicit:
        return Path(explicit).expanduser().absolute()
    env = os.environ.get("TWOFOLD_HOME")
    if env:
        return Path(env).expanduser().absolute()
    return Path(platformdirs.user_data_dir("twofold", appauthor=False))


@dataclass(frozen=True)
class Home:
    """The paths inside a home; creating it makes it private to the user."""

    path: Path

    @property
    def config(self) -> Path:
        """Settings a person may edit."""
        return self.path / "config.toml"

    @property
    def database(self) -> Path:
        """The op log (SQLite)."""
        return self.path / "twofold.db"

    @property
    def token(self) -> Path:
        """The local API's bearer token (0600)."""
        return self.path / "api.token"

    @property
    def api(self) -> Path:
        """Where the running daemon listens; removed when it stops."""
        return self.path / "api.json"

    @property
    def store_key(self) -> Path:
        """The local store key, when no OS keyring works (0600)."""
        return self.path / "store.key"

    @property
    def lock(self) -> Path:
        """Held (flock) by the one daemon running on this home."""
        return self.path / "daemon.lock"

    def prepare(self) -> None:
        """Create the home, readable by its owner only."""
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.path, 0o700)


def write_private(path: Path, data: bytes) -> None:
    """Write a file only its owner can read, atomically (a crash leaves the old or the new)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def read_private(path: Path) -> bytes:
    """Read a file that must be private; refuse it if others can read it, as ssh does."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        info = os.fstat(fd)
        if info.st_uid != os.getuid():
            raise HomeUnsafe(f"{path} belongs to another user; it must be yours")
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise HomeUnsafe(f"{path} can be read by other users; run: chmod 600 {path}")
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def write_api_file(home: Home, host: str, port: int, version: str, peer_port: int | None) -> None:
    """Tell clients where this daemon listens (`peer_port` None: locked, never opened)."""
    data = {
        "host": host,
        "port": port,
        "pid": os.getpid(),
        "version": version,
        "peer_port": peer_port,
    }
    write_private(home.api, json.dumps(data).encode() + b"\n")
