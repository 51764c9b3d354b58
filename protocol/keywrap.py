"""Epoch keys sealed to member devices, and the vault key's public derivatives.

A wrap is libsodium's sealed box (crypto_box_seal): an ephemeral X25519 key,
then crypto_box with the nonce BLAKE2b-24(ephemeral pk || recipient pk). It is
built by hand only so that tests can fix the ephemeral key and pin the bytes;
opening uses libsodium's own crypto_box_seal_open, so the two cannot drift.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from nacl import bindings

from .identity import DeviceKey, x25519_public

EPOCH_KEY_SIZE = 32
WRAP_SIZE = 32 + 16 + EPOCH_KEY_SIZE
CHECK_SIZE = 16


def new_epoch_key() -> bytes:
    """32 random bytes: the symmetric key of one epoch."""
    return os.urandom(EPOCH_KEY_SIZE)


def seal(epoch_key: bytes, recipient: bytes, ephemeral_seed: bytes | None = None) -> bytes:
    """Seal an epoch key to a member's Ed25519 public key (converted to X25519)."""
    eph_pk, eph_sk = bindings.crypto_box_seed_keypair(ephemeral_seed or os.urandom(32))
    rpk = x25519_public(recipient)
    nonce = hashlib.blake2b(eph_pk + rpk, digest_size=24).digest()
    return eph_pk + bindings.crypto_box_easy(epoch_key, nonce, rpk, eph_sk)


def open_wrap(wrap: bytes, device: DeviceKey) -> bytes | None:
    """The epoch key inside a wrap sealed to `device`, or None if it is not ours or is forged."""
    if len(wrap) != WRAP_SIZE:
        return None
    sk = device.x25519_private()
    pk = bindings.crypto_scalarmult_base(sk)
    try:
        key = bindings.crypto_box_seal_open(wrap, pk, sk)
    except Exception:  # noqa: BLE001 - libsodium's CryptoError for any forgery
        return None
    return key if len(key) == EPOCH_KEY_SIZE else None


def key_check(epoch_key: bytes) -> bytes:
    """A commitment to an epoch key, so a device detects a wrap holding a wrong key."""
    return hmac.new(epoch_key, b"twofold/epoch-check/v1", hashlib.sha256).digest()[:CHECK_SIZE]


def vault_tag(epoch_key: bytes) -> bytes:
    """The tag mDNS announces: members recognise it, outsiders learn nothing from it."""
    return hmac.new(epoch_key, b"twofold/vault-tag/v1", hashlib.sha256).digest()[:8]
