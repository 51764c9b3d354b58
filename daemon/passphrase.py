"""Passphrase mode: the store key sealed under a key only the person's passphrase makes.

In this mode neither the OS keyring nor a key file holds the store key. The database
holds it sealed (XChaCha20-Poly1305) under Argon2id(passphrase), with the salt and the
cost recorded beside it, so a copy of the whole home opens nothing without the
passphrase. Setting, changing or removing it puts a new store key in place
(daemon/keeper.py) and seals the device key under that; the vault stays as it is.

The cost follows one rule: 3 passes over 256 MiB on a machine with 2 GiB of memory or
more (0.75 s here, bench/RESULTS.md); on a smaller one, an eighth of its memory but at
least 64 MiB, with the passes raised so memory times passes stays at 768 MiB. An
attacker's cost per guess is then the same everywhere; only the time to unlock grows on
small machines.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Final

from nacl import bindings

from twofold.protocol import cbor
from twofold.protocol.backup import MIN_PASSPHRASE_CHARS
from twofold.protocol.errors import MalformedPayload, UnsafeKdfParameters
from twofold.protocol.formats import kdf
from twofold.protocol.text import is_text

from .errors import DaemonError

MIN_CHARS: Final = MIN_PASSPHRASE_CHARS  # one rule for the home's and a backup's
OPS: Final = 3
MEMORY: Final = 256 << 20
MIN_MEMORY: Final = 64 << 20
WORK: Final = OPS * MEMORY
MAX_OPS: Final = 12
ROOMY: Final = 2 << 30
ALG: Final = "argon2id13"
_LABEL: Final = b"twofold/store-key/v1"
_NONCE: Final = 24
_KEY: Final = 32


class WrongPassphrase(DaemonError):
    """The passphrase does not open this home's store key; `field` names the input."""

    def __init__(self, field: str = "passphrase") -> None:
        self.field = field
        super().__init__("the passphrase is wrong")


class WeakPassphrase(DaemonError):
    """Too short to hold up once a copy of the home is out of the person's hands."""

    field = "passphrase"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or f"a passphrase needs at least {MIN_CHARS} characters")


class SealDamaged(DaemonError):
    """The sealed store key or its record of cost cannot be read: the home was damaged."""


@dataclass(frozen=True)
class Cost:
    """Argon2id passes and memory (bytes)."""

    ops: int
    memory: int


def cost_for(total_memory: int | None) -> Cost:
    """The rule in the module's docstring, for a machine with this much memory (None: unknown,
    taken as roomy)."""
    if total_memory is None or total_memory >= ROOMY:
        return Cost(OPS, MEMORY)
    memory = max(MIN_MEMORY, (total_memory // 8) >> 20 << 20)
    return Cost(min(MAX_OPS, -(-WORK // memory)), memory)


def machine_memory() -> int | None:
    """Physical memory in bytes, where the OS says."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


@dataclass(frozen=True)
class SealedStoreKey:
    """What the database keeps in passphrase mode: the cost record and the sealed key."""

    record: bytes
    sealed: bytes


def check_strength(passphrase: str) -> None:
    """WeakPassphrase when shorter than MIN_CHARS characters, or when it holds a lone
    surrogate (half of a UTF-16 pair, which no keyboard types and UTF-8 cannot hold)."""
    if not is_text(passphrase):
        raise WeakPassphrase("a passphrase must be text: this one holds a lone surrogate")
    if len(passphrase) < MIN_CHARS:
        raise WeakPassphrase


def seal(store_key: bytes, passphrase: str, cost: Cost, rng: Any = os.urandom) -> SealedStoreKey:
    """The store key sealed under this passphrase at this cost, with a fresh salt."""
    check_strength(passphrase)
    if len(store_key) != _KEY:
        raise ValueError("a store key is 32 bytes")
    record = cbor.dumps(
        {"alg": ALG, "ops": cost.ops, "mem": cost.memory, "salt": rng(kdf.ARGON2_SALT_BYTES)}
    )
    kek = _derive(passphrase, record)
    nonce = rng(_NONCE)
    sealed = nonce + bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        store_key, _LABEL + record, nonce, kek
    )
    return SealedStoreKey(record, sealed)


def open_sealed(held: SealedStoreKey, passphrase: str) -> bytes:
    """The store key, or WrongPassphrase; SealDamaged for a record that cannot be read. A
    string that is not text (a lone surrogate) opens nothing: it is a wrong passphrase,
    counted as any other."""
    if not is_text(passphrase):
        raise WrongPassphrase
    kek = _derive(passphrase, held.record)
    if len(held.sealed) != _NONCE + _KEY + 16:
        raise SealDamaged("the sealed store key in the database is damaged")
    try:
        return bytes(
            bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
                held.sealed[_NONCE:], _LABEL + held.record, held.sealed[:_NONCE], kek
            )
        )
    except Exception:  # noqa: BLE001 - libsodium's CryptoError: the one way a wrong key shows
        raise WrongPassphrase from None


def cost_of(held: SealedStoreKey) -> Cost:
    """The cost a home's passphrase was sealed at."""
    fields = _read(held.record)
    return Cost(fields["ops"], fields["mem"])


def _derive(passphrase: str, record: bytes) -> bytes:
    fields = _read(record)
    try:
        return kdf.argon2id(
            kdf.passphrase_bytes(passphrase),
            fields["salt"],
            opslimit=fields["ops"],
            memlimit=fields["mem"],
        )
    except UnsafeKdfParameters as exc:  # bounded: a tampered record is no memory bomb
        raise SealDamaged(f"the passphrase's cost record is unusable: {exc}") from None


def _read(record: bytes) -> dict[str, Any]:
    try:
        fields = cbor.loads(record, "passphrase cost")
    except MalformedPayload as exc:
        raise SealDamaged(f"the passphrase's cost record is damaged: {exc}") from None
    if (
        not isinstance(fields, dict)
        or fields.get("alg") != ALG
        or type(fields.get("ops")) is not int
        or type(fields.get("mem")) is not int
        or not isinstance(fields.get("salt"), bytes)
    ):
        raise SealDamaged("the passphrase's cost record is not one this version reads")
    return fields
