"""Device identity: one Ed25519 key per device, and the ID people compare.

The same key, converted to X25519 (RFC 7748 birational map, as libsodium
does), receives the sealed epoch keys, so a device has exactly one secret.
"""

from __future__ import annotations

import base64
import hashlib

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from .errors import UsageError

PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64
_ID_CONTEXT = b"twofold/device-id/v1\x00"


def device_id(public_key: bytes) -> bytes:
    """The 32-byte device ID: a hash of the public key, so it cannot be chosen freely."""
    if len(public_key) != PUBLIC_KEY_SIZE:
        raise UsageError("a device public key is 32 bytes")
    return hashlib.sha256(_ID_CONTEXT + public_key).digest()


def display_id(public_key: bytes, groups: int = 4) -> str:
    """The device ID for humans: base32 in groups of four, e.g. `K7QX-2MDA-...`."""
    text = base64.b32encode(device_id(public_key)).decode("ascii")
    return "-".join(text[i * 4 : i * 4 + 4] for i in range(groups))


class DeviceKey:
    """A device's Ed25519 signing key; the seed is the only secret a device holds."""

    __slots__ = ("_signing", "public")

    def __init__(self, seed: bytes) -> None:
        if len(seed) != 32:
            raise UsageError("a device seed is 32 bytes")
        self._signing = SigningKey(seed)
        self.public: bytes = bytes(self._signing.verify_key)

    @classmethod
    def generate(cls) -> DeviceKey:
        """A new random device key."""
        return cls(bytes(SigningKey.generate()))

    @property
    def seed(self) -> bytes:
        """The 32-byte seed, for the daemon to store wrapped under the local store key."""
        return bytes(self._signing)

    def sign(self, message: bytes) -> bytes:
        """A detached 64-byte Ed25519 signature."""
        return self._signing.sign(message).signature

    def x25519_private(self) -> bytes:
        """The X25519 private key that opens epoch keys sealed to this device."""
        return bytes(self._signing.to_curve25519_private_key())

    def __repr__(self) -> str:
        return f"DeviceKey({display_id(self.public)})"


def verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """True when `signature` is the key's signature of `message`."""
    try:
        VerifyKey(public_key).verify(message, signature)
    except (BadSignatureError, ValueError):
        return False
    return True


def x25519_public(public_key: bytes) -> bytes:
    """The X25519 public key that epoch keys are sealed to, from an Ed25519 key."""
    try:
        return bytes(VerifyKey(public_key).to_curve25519_public_key())
    except Exception as exc:
        raise ValueError("not a usable Ed25519 public key") from exc
