"""How much the daemon lets strangers hold: deadlines, connection caps, and the open-file limit.

The peer port listens on the LAN, where anyone may connect. What a connection may hold
before it proves anything is bounded in time (a TLS handshake deadline, then a deadline
for each request's headers and body) and in number (a cap on connections that have not
authenticated, in total and per source address, and a cap per member device). The caps
are fitted below the process's open-file limit with a reserve kept for the local API,
the database and discovery, so a flood of the peer port cannot starve them.

The defaults are the values in force. Tests and benchmarks shorten them through the
environment (`TWOFOLD_LIMITS="handshake_s=1,headers_s=1"`); whoever can set a daemon's
environment already controls it, so this opens nothing.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import DaemonError

ENV = "TWOFOLD_LIMITS"
TARGET_NOFILE = 65536
"""The soft open-file limit the daemon asks for at start (never above the hard limit)."""


class LimitsError(DaemonError):
    """$TWOFOLD_LIMITS names an unknown limit or a value that is not a positive number."""


@dataclass(frozen=True)
class Limits:
    """Deadlines in seconds and caps in connections; see specs/protocol.md for the why."""

    handshake_s: float = 5.0  # TCP accepted -> TLS handshake done (peer port)
    headers_s: float = 10.0  # connection ready -> first request's headers complete
    idle_s: float = 20.0  # a response -> the next request's headers complete (keep-alive)
    body_s: float = 30.0  # headers complete -> request body complete
    unauthenticated: int = 64  # peer-port connections not (yet) known as a member's
    per_address: int = 8  # of those, from one IPv4 address or one IPv6 /64
    per_member: int = 8  # peer-port connections of one member device (its certificate)
    connections: int = 512  # every peer-port connection, members' included
    fd_reserve: int = 256  # open files kept for the local API, the database and discovery
    log_interval_s: float = 10.0  # at most one line per interval about refusals and errors

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Limits:
        """The defaults, with any `name=value` pairs of $TWOFOLD_LIMITS applied."""
        text = (os.environ if environ is None else environ).get(ENV, "").strip()
        if not text:
            return cls()
        fields = {f.name: f for f in dataclasses.fields(cls)}
        changes: dict[str, Any] = {}
        for item in text.split(","):
            name, _, raw = item.partition("=")
            name = name.strip()
            if name not in fields:
                raise LimitsError(f"{ENV}: unknown limit {name!r}; known: {', '.join(fields)}")
            kind = float if name.endswith("_s") else int
            try:
                value = kind(raw.strip())
            except ValueError:
                raise LimitsError(f"{ENV}: {name} must be a number, not {raw!r}") from None
            if not value > 0:
                raise LimitsError(f"{ENV}: {name} must be above zero")
            changes[name] = value
        return dataclasses.replace(cls(), **changes)

    def fitted(self, nofile: int) -> Limits:
        """These limits with the peer-port caps lowered to leave `fd_reserve` files free."""
        room = max(16, nofile - self.fd_reserve)
        connections = min(self.connections, room)
        unauthenticated = max(4, min(self.unauthenticated, connections // 2))
        return dataclasses.replace(
            self,
            connections=connections,
            unauthenticated=unauthenticated,
            per_address=min(self.per_address, unauthenticated),
        )


def raise_open_file_limit(target: int = TARGET_NOFILE) -> int:
    """Raise the soft RLIMIT_NOFILE towards the hard limit; the soft limit now in force.

    A service manager's default (1024) is what let 1,100 connections stop the local API.
    Where the hard limit is unlimited the kernel may still refuse a large value (macOS caps
    it at kern.maxfilesperproc), so smaller steps are tried before giving up.
    """
    try:
        import resource
    except ImportError:  # Windows: no such limit to raise
        return target
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    ceiling = target if hard == resource.RLIM_INFINITY else min(hard, target)
    for wanted in (ceiling, 10240, 4096):
        if soft != resource.RLIM_INFINITY and soft < wanted <= ceiling:
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            except (ValueError, OSError):
                continue
            return wanted
    return int(soft) if soft != resource.RLIM_INFINITY else target
