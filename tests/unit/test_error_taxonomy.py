"""One error taxonomy: each family becomes its HTTP status, and transport failures become
the two the daemon knows, while a bug of ours is never mistaken for the network."""

from __future__ import annotations

import json
import ssl

import aiohttp
import pytest

from twofold.daemon.errors import PeerRefused, PeerUnreachable
from twofold.daemon.peer_errors import talking_to
from twofold.daemon.problems import from_error
from twofold.protocol.errors import (
    InvalidAccount,
    MalformedPayload,
    Refused,
    RemovedFromVault,
    UsageError,
)
from twofold.protocol.pairing import PairingStateError


@pytest.mark.parametrize(
    ("error", "status", "slug"),
    [
        (InvalidAccount("issuer", "too long"), 422, "invalid-account"),
        (Refused("a device cannot remove itself"), 409, "not-allowed"),
        (PairingStateError("a hello is not expected now"), 409, "not-allowed"),
        (RemovedFromVault("laptop", 0), 409, "removed-from-vault"),
        (PeerRefused("the inviting device refused"), 502, "peer-refused"),
        (PeerUnreachable("cannot reach the inviting device"), 504, "peer-unreachable"),
        (UsageError("hlc out of range"), 500, "internal"),
        (MalformedPayload("not CBOR"), 500, "internal"),  # an op's fault never reaches the API
        (KeyError("x"), 500, "internal"),
    ],
)
def test_each_family_has_its_status(error: Exception, status: int, slug: str) -> None:
    answer = from_error(error)
    body = json.loads(answer.text or "")
    assert (answer.status, body["type"]) == (status, f"urn:twofold:problem:{slug}")
    if status == 500:
        assert str(error) not in body["detail"]  # a bug's text stays in the log


@pytest.mark.parametrize(
    ("raised", "becomes"),
    [
        (aiohttp.ClientConnectionError("refused"), PeerUnreachable),
        (aiohttp.ServerDisconnectedError(), PeerUnreachable),
        (ConnectionResetError("reset"), PeerUnreachable),
        (TimeoutError(), PeerUnreachable),
        (ssl.SSLError("bad handshake"), PeerUnreachable),
        (aiohttp.ClientPayloadError("truncated"), PeerRefused),
        (aiohttp.InvalidURL("https://[::1"), PeerRefused),
    ],
)
def test_transport_failures_become_the_peers_refusal_or_absence(
    raised: Exception, becomes: type[Exception]
) -> None:
    with pytest.raises(becomes) as caught, talking_to("laptop"):
        raise raised
    assert "laptop" in str(caught.value)
    assert caught.value.__cause__ is raised


@pytest.mark.parametrize("raised", [ValueError("our bug"), UsageError("ours too"), Refused("no")])
def test_what_is_not_the_network_passes_through(raised: Exception) -> None:
    with pytest.raises(type(raised)) as caught, talking_to("laptop"):
        raise raised
    assert caught.value is raised
