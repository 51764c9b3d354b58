"""Where a device's home is, and how a client finds its running daemon there."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from .errors import DaemonNotRunning, SdkError

API_JSON = "api.json"
"""The daemon's address, written while it runs and removed when it stops."""
API_TOKEN = "api.token"  # noqa: S105 - a file name, not a secret
"""The bearer token of the local API (one line of hex, mode 0600)."""
HOME_ENV = "TWOFOLD_HOME"


def default_home() -> Path:
    """The platform's user data folder, the home when none is named."""
    return Path(platformdirs.user_data_dir("twofold", appauthor=False))


def resolve_home(explicit: str | Path | None) -> Path:
    """The home: --home, else $TWOFOLD_HOME, else the platform default (as DESIGN.md says)."""
    if explicit is not None and str(explicit) != "":
        return Path(explicit).expanduser().absolute()
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser().absolute()
    return default_home()


def start_command(home: Path) -> str:
    """The command that starts a daemon for this home, short when the home is the default."""
    if home == default_home():
        return "twofold daemon"
    return f"twofold daemon --home {home}"


def not_running(home: Path) -> DaemonNotRunning:
    """The one-line error for a home whose daemon is gone."""
    return DaemonNotRunning(str(home), start_command(home))


@dataclass(frozen=True)
class Endpoint:
    """How to reach one running daemon: its address, its token and who it says it is."""

    host: str
    port: int
    pid: int
    version: str
    token: str


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists, so a stale api.json is not trusted."""
    if os.name == "nt":  # os.kill would terminate the process there; the connect tells us
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists but belongs to someone else
        return True
    except OverflowError:
        return False
    return True


def load_endpoint(home: Path) -> Endpoint:
    """Read api.json and api.token from the home, or explain why no daemon is there."""
    try:
        raw = (home / API_JSON).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise not_running(home) from None
    except OSError as exc:
        raise SdkError(f"cannot read {home / API_JSON}: {exc.strerror}") from exc
    try:
        info = json.loads(raw)
        host, port, pid = info["host"], info["port"], info["pid"]
        version = info.get("version", "")
    except (ValueError, KeyError, TypeError) as exc:
        raise SdkError(
            f"{home / API_JSON} is malformed ({exc!r}); restart the daemon to rewrite it"
        ) from exc
    if not (isinstance(host, str) and _is_int(port) and _is_int(pid) and isinstance(version, str)):
        raise SdkError(f"{home / API_JSON} is malformed; restart the daemon to rewrite it")
    if not pid_alive(pid):
        raise not_running(home)
    try:
        token = (home / API_TOKEN).read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise not_running(home) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SdkError(
            f"cannot read the API token {home / API_TOKEN} ({exc}); "
            "run as the user who owns the home"
        ) from exc
    return Endpoint(host=host, port=port, pid=pid, version=version, token=token)


def _is_int(value: object) -> bool:
    """A JSON integer, and not a boolean (which Python counts as an int)."""
    return isinstance(value, int) and not isinstance(value, bool)
