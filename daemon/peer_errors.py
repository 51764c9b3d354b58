"""Where a call to another device fails, one place says what the failure means.

Talking to a peer can fail in a dozen ways the libraries name differently (aiohttp's
client errors, OSError, ssl.SSLError, TimeoutError). Around each such call this maps
them, as httpcore's `map_exceptions` does, onto the two the rest of the daemon knows:
PeerUnreachable (no connection, no answer in time) and PeerRefused (it answered, and
said no, or something that is not the protocol). Handlers then catch TwofoldError
alone, and a bug of ours (any other exception) is not mistaken for a network fault.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterator

import aiohttp

from .errors import PeerRefused, PeerUnreachable

UNREACHABLE = (aiohttp.ClientConnectionError, OSError, TimeoutError, ssl.SSLError)


@contextlib.contextmanager
def talking_to(who: str) -> Iterator[None]:
    """Map transport failures inside the block; `who` names the device for the message."""
    try:
        yield
    except UNREACHABLE as exc:
        raise PeerUnreachable(f"cannot reach {who}: {_said(exc)}") from exc
    except aiohttp.ClientError as exc:
        raise PeerRefused(f"{who} answered with what this device cannot use: {_said(exc)}") from exc


def _said(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def someone_else_answered(exc: PeerRefused | PeerUnreachable) -> bool:
    """Whether what answered was not the device dialled: it refused the protocol, or its
    certificate is not the one pinned (which reads as unreachable to a caller)."""
    cause = exc.__cause__
    return isinstance(exc, PeerRefused) or isinstance(
        cause, aiohttp.ClientConnectorCertificateError | ssl.SSLCertVerificationError
    )
