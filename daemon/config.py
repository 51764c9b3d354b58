"""config.toml: the few settings a person may change, with their defaults written out."""

from __future__ import annotations

import socket
import tomllib
from dataclasses import asdict, dataclass
from typing import Any

import tomli_w

from .errors import DaemonError
from .home import Home, write_private

STORE_KEY_MODES = ("auto", "keyring", "file")


@dataclass(frozen=True)
class Config:
    """Daemon settings; unknown keys are refused so a typo is not silently ignored."""

    device_name: str
    api_port: int = 0
    store_key: str = "auto"


class ConfigError(DaemonError):
    """config.toml cannot be used; the message names the key."""


def load(home: Home) -> Config:
    """Read config.toml, writing one with the defaults on first start."""
    if not home.config.exists():
        config = Config(device_name=socket.gethostname()[:64] or "device")
        write_private(home.config, tomli_w.dumps(asdict(config)).encode())
        return config
    try:
        raw: dict[str, Any] = tomllib.loads(home.config.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{home.config} is not valid TOML: {exc}") from None
    unknown = set(raw) - {"device_name", "api_port", "store_key"}
    if unknown:
        raise ConfigError(f"{home.config}: unknown settings {sorted(unknown)}")
    config = Config(**{"device_name": socket.gethostname()[:64] or "device", **raw})
    if not isinstance(config.device_name, str) or not 0 < len(config.device_name) <= 64:
        raise ConfigError(f"{home.config}: device_name must be text of 1 to 64 characters")
    if type(config.api_port) is not int or not 0 <= config.api_port <= 65535:
        raise ConfigError(f"{home.config}: api_port must be a port number (0 picks a free one)")
    if config.store_key not in STORE_KEY_MODES:
        raise ConfigError(f"{home.config}: store_key must be one of {', '.join(STORE_KEY_MODES)}")
    return config
