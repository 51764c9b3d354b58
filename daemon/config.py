"""config.toml: the few settings a person may change, with their defaults written out."""

from __future__ import annotations

import ipaddress
import re
import socket
import tomllib
from dataclasses import asdict, dataclass
from typing import Any

import tomli_w

from twofold.protocol.text import neutralise, visible

from .errors import DaemonError
from .home import Home, write_private

STORE_KEY_MODES = ("auto", "keyring", "file")
DEFAULT_LOCK_AFTER = 15  # minutes without use before a vault with a passphrase locks
LONGEST_LOCK_AFTER = 7 * 24 * 60


@dataclass(frozen=True)
class Config:
    """Daemon settings; unknown keys are refused so a typo is not silently ignored."""

    device_name: str
    api_port: int = 0
    store_key: str = "auto"
    peer_host: str = "0.0.0.0"  # noqa: S104 - peers on the LAN must reach it; mTLS guards it
    peer_port: int = 0
    advertise: tuple[str, ...] = ()
    peers: tuple[str, ...] = ()
    mdns: bool = True
    mdns_interfaces: tuple[str, ...] = ()
    lock_after: int = DEFAULT_LOCK_AFTER


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
    unknown = set(raw) - set(Config.__dataclass_fields__)
    if unknown:
        raise ConfigError(f"{home.config}: unknown settings {sorted(unknown)}")
    if "advertise" in raw:
        if not isinstance(raw["advertise"], list) or not all(_is_ip(a) for a in raw["advertise"]):
            raise ConfigError(f"{home.config}: advertise must be a list of IP addresses")
        raw["advertise"] = tuple(raw["advertise"])
    if "mdns_interfaces" in raw:
        if not isinstance(raw["mdns_interfaces"], list) or not all(
            _is_ip(a) for a in raw["mdns_interfaces"]
        ):
            raise ConfigError(f"{home.config}: mdns_interfaces must be a list of IP addresses")
        raw["mdns_interfaces"] = tuple(raw["mdns_interfaces"])
    if "mdns" in raw and type(raw["mdns"]) is not bool:
        raise ConfigError(f"{home.config}: mdns must be true or false")
    if "peers" in raw:
        if not isinstance(raw["peers"], list) or not all(
            isinstance(p, str) and parse_peer(p) for p in raw["peers"]
        ):
            raise ConfigError(f'{home.config}: peers must be a list of "host:port" texts')
        raw["peers"] = tuple(raw["peers"])
    config = Config(**{"device_name": socket.gethostname()[:64] or "device", **raw})
    if not isinstance(config.device_name, str) or not 0 < len(config.device_name) <= 64:
        raise ConfigError(f"{home.config}: device_name must be text of 1 to 64 characters")
    if not visible(config.device_name):
        raise ConfigError(
            f"{home.config}: device_name holds a character that hides or reorders text "
            f"(shown here as {neutralise(config.device_name)!r}): remove it"
        )
    if type(config.api_port) is not int or not 0 <= config.api_port <= 65535:
        raise ConfigError(f"{home.config}: api_port must be a port number (0 picks a free one)")
    if type(config.peer_port) is not int or not 0 <= config.peer_port <= 65535:
        raise ConfigError(f"{home.config}: peer_port must be a port number (0 picks a free one)")
    if not isinstance(config.peer_host, str) or not _is_ip(config.peer_host):
        raise ConfigError(f"{home.config}: peer_host must be an IP address to listen on")
    if type(config.lock_after) is not int or not 0 <= config.lock_after <= LONGEST_LOCK_AFTER:
        raise ConfigError(
            f"{home.config}: lock_after must be minutes without use before the vault locks, "
            f"0 (never) to {LONGEST_LOCK_AFTER}"
        )
    if config.store_key not in STORE_KEY_MODES:
        raise ConfigError(f"{home.config}: store_key must be one of {', '.join(STORE_KEY_MODES)}")
    return config


def save(home: Home, **changes: Any) -> None:
    """Write settings back into config.toml, atomically and 0600, keeping the rest of the
    file (comments, order) as the person wrote it; a setting not there yet is added."""
    text = home.config.read_text() if home.config.exists() else ""
    try:
        raw: dict[str, Any] = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{home.config} is not valid TOML: {exc}") from None
    edited = text
    for key, value in changes.items():
        line = tomli_w.dumps({key: value}).strip()
        pattern = re.compile(rf"^[ \t]*{re.escape(key)}[ \t]*=.*$", re.MULTILINE)
        found = pattern.search(edited)
        if found is not None:
            edited = edited[: found.start()] + line + edited[found.end() :]
        else:
            edited += ("" if not edited or edited.endswith("\n") else "\n") + line + "\n"
    wanted = raw | changes
    try:
        kept = tomllib.loads(edited) == wanted
    except tomllib.TOMLDecodeError:
        kept = False
    if not kept:  # a value over several lines, say: write the settings out afresh
        edited = tomli_w.dumps(wanted)
    write_private(home.config, edited.encode())


def keep_peer_port(home: Home, settings: Config, bound: int) -> None:
    """Write the peer port the daemon picked into config.toml, so it stays the same across
    restarts (other devices and --peer addresses name it) and a person can see it there.
    The caller writes only over no port or the one it wrote last time: if that one is taken
    at a start, the daemon picks another and writes that."""
    if bound and bound != settings.peer_port:
        save(home, peer_port=bound)


def _is_ip(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def advertised(config: Config) -> list[str]:
    """The addresses an invitation names: the configured ones, else this host's own."""
    if config.advertise:
        return list(config.advertise)
    found: list[str] = []
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, proto=socket.IPPROTO_TCP)
    except OSError:
        infos = []
    for info in infos:
        address = str(info[4][0])
        if not ipaddress.ip_address(address).is_loopback and address not in found:
            found.append(address)
    return found[:3] or ["127.0.0.1"]


def parse_peer(text: str) -> tuple[str, int] | None:
    """("host", port) from "host:port" or "[v6]:port"; None if it is not one."""
    host, sep, port = text.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    return host, int(port)
