"""The plaintext bodies of membership ops: public keys and sealed key wraps only."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import cbor
from .certificate import MAX_CERT_SIZE
from .envelope import MAX_SEQ, OpKind
from .errors import MalformedPayload
from .identity import PUBLIC_KEY_SIZE, x25519_public
from .keywrap import CHECK_SIZE, WRAP_SIZE
from .text import quoted

MAX_NAME = 64
MAX_WRAPS = 4096
MAX_HEADS = 64
HASH_SIZE = 32
SALT_SIZE = 16
_VAULT_ID_CONTEXT = b"twofold/vault-id/v1\x00"


def vault_id(founder: bytes, salt: bytes) -> bytes:
    """The vault ID commits to the founder's key: no one else can forge its genesis."""
    return hashlib.sha256(_VAULT_ID_CONTEXT + founder + salt).digest()[:16]


@dataclass(frozen=True, slots=True)
class Genesis:
    """The founder's first op: it makes the vault and its first epoch."""

    name: str
    cert: bytes
    salt: bytes
    wrap: bytes
    check: bytes


@dataclass(frozen=True, slots=True)
class DeviceAdded:
    """A member adds a device and seals every epoch key it holds to it."""

    device: bytes
    name: str
    cert: bytes
    wraps: Mapping[bytes, bytes]


@dataclass(frozen=True, slots=True)
class DeviceRemoved:
    """A member removes a device and rotates: a new epoch sealed to the rest.

    `heads` are the target's ops the remover held that no op it held follows
    (one per branch of the target's log, so one unless it forked), and
    `cutoff` the highest seq among them (0 for none): what the remover had
    seen, signed by the remover, is what keeps counting of the target.
    """

    device: bytes
    cutoff: int
    heads: tuple[bytes, ...]
    wraps: Mapping[bytes, bytes]
    check: bytes


@dataclass(frozen=True, slots=True)
class KeyRotated:
    """A new epoch key sealed to every member."""

    wraps: Mapping[bytes, bytes]
    check: bytes


@dataclass(frozen=True, slots=True)
class KeysGranted:
    """Epoch keys sealed to a member that missed them (added concurrently with a rotation)."""

    device: bytes
    wraps: Mapping[bytes, bytes]


@dataclass(frozen=True, slots=True)
class DeviceRenamed:
    """A device gives itself a new name."""

    name: str


Body = Genesis | DeviceAdded | DeviceRemoved | KeyRotated | KeysGranted | DeviceRenamed


def encode(body: Body) -> bytes:
    """The CBOR bytes of a membership body."""
    match body:
        case Genesis():
            fields: dict[str, Any] = {
                "name": body.name,
                "cert": body.cert,
                "salt": body.salt,
                "wrap": body.wrap,
                "check": body.check,
            }
        case DeviceAdded():
            fields = {
                "device": body.device,
                "name": body.name,
                "cert": body.cert,
                "wraps": dict(body.wraps),
            }
        case DeviceRemoved():
            fields = {
                "device": body.device,
                "cutoff": body.cutoff,
                "heads": list(body.heads),
                "wraps": dict(body.wraps),
                "check": body.check,
            }
        case KeyRotated():
            fields = {"wraps": dict(body.wraps), "check": body.check}
        case KeysGranted():
            fields = {"device": body.device, "wraps": dict(body.wraps)}
        case DeviceRenamed():
            fields = {"name": body.name}
    return cbor.dumps(fields)


def decode(kind: OpKind, data: bytes) -> Body:
    """Decode and check a membership body; anything out of shape is MalformedPayload."""
    fields = cbor.loads(data, f"{kind.name.lower()} body")
    if not isinstance(fields, dict):
        raise MalformedPayload(f"{kind.name.lower()} body is not a map")
    r = _Reader(kind, fields)
    if kind is OpKind.GENESIS:
        body: Body = Genesis(
            r.name(),
            r.cert(),
            r.bytes_("salt", SALT_SIZE),
            r.bytes_("wrap", WRAP_SIZE),
            r.bytes_("check", CHECK_SIZE),
        )
    elif kind is OpKind.DEVICE_ADDED:
        body = DeviceAdded(r.device(), r.name(), r.cert(), r.wraps(32))
    elif kind is OpKind.DEVICE_REMOVED:
        body = DeviceRemoved(
            r.device(),
            r.cutoff(),
            r.heads(),
            r.wraps(PUBLIC_KEY_SIZE),
            r.bytes_("check", CHECK_SIZE),
        )
    elif kind is OpKind.KEY_ROTATED:
        body = KeyRotated(r.wraps(PUBLIC_KEY_SIZE), r.bytes_("check", CHECK_SIZE))
    elif kind is OpKind.KEYS_GRANTED:
        body = KeysGranted(r.device(), r.wraps(32))
    elif kind is OpKind.DEVICE_RENAMED:
        body = DeviceRenamed(r.name())
    else:
        raise MalformedPayload(f"{kind.name} is not a membership op")
    r.finish()
    return body


class _Reader:
    def __init__(self, kind: OpKind, fields: dict[Any, Any]) -> None:
        self.what = kind.name.lower()
        self.fields = fields
        self.used: set[str] = set()

    def get(self, key: str) -> Any:
        self.used.add(key)
        if key not in self.fields:
            raise MalformedPayload(f"{self.what} body has no {key!r}")
        return self.fields[key]

    def bytes_(self, key: str, size: int) -> bytes:
        value = self.get(key)
        if not isinstance(value, bytes) or len(value) != size:
            raise MalformedPayload(f"{self.what} {key!r} must be {size} bytes")
        return value

    def name(self) -> str:
        value = self.get("name")
        if not isinstance(value, str) or not 0 < len(value) <= MAX_NAME:
            raise MalformedPayload(f"{self.what} name must be text of 1 to {MAX_NAME} characters")
        return value

    def cert(self) -> bytes:
        value = self.get("cert")
        if not isinstance(value, bytes) or not 0 < len(value) <= MAX_CERT_SIZE:
            raise MalformedPayload(f"{self.what} cert must be a DER certificate")
        return value

    def device(self) -> bytes:
        value = self.bytes_("device", PUBLIC_KEY_SIZE)
        try:
            x25519_public(value)
        except ValueError:
            raise MalformedPayload(f"{self.what} device is not a usable public key") from None
        return value

    def cutoff(self) -> int:
        value = self.get("cutoff")
        if type(value) is not int or not 0 <= value <= MAX_SEQ:
            raise MalformedPayload(f"{self.what} cutoff must be a seq number")
        return value

    def heads(self) -> tuple[bytes, ...]:
        value = self.get("heads")
        if not isinstance(value, list) or len(value) > MAX_HEADS:
            raise MalformedPayload(f"{self.what} heads must be a list of at most {MAX_HEADS}")
        if not all(isinstance(h, bytes) and len(h) == HASH_SIZE for h in value):
            raise MalformedPayload(f"{self.what} heads must be {HASH_SIZE}-byte op hashes")
        if len(set(value)) != len(value):
            raise MalformedPayload(f"{self.what} heads must not repeat")
        return tuple(value)

    def wraps(self, key_size: int) -> dict[bytes, bytes]:
        value = self.get("wraps")
        if not isinstance(value, dict) or len(value) > MAX_WRAPS:
            raise MalformedPayload(f"{self.what} wraps must be a map of at most {MAX_WRAPS}")
        for k, v in value.items():
            if not isinstance(k, bytes) or len(k) != key_size:
                raise MalformedPayload(f"{self.what} wraps: a key is not {key_size} bytes")
            if not isinstance(v, bytes) or len(v) != WRAP_SIZE:
                raise MalformedPayload(f"{self.what} wraps: a wrap is not {WRAP_SIZE} bytes")
        return value

    def finish(self) -> None:
        extra = set(self.fields) - self.used
        if extra:
            names = ", ".join(sorted(map(quoted, extra))[:4])
            raise MalformedPayload(f"{self.what} body has unknown fields: {names}")
