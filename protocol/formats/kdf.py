"""Password key derivation with the cost taken from a file, bounded so no file is a memory bomb.

The bounds admit every setting the apps we read are known to write, with
room to spare, and refuse the rest before any memory is spent:

- Argon2id (Ente, Twofold backups): Ente starts at libsodium's SENSITIVE
  limits (1 GiB, 4 passes) and, on a device that cannot spare the memory,
  halves the memory and doubles the passes, keeping their product. So memory
  is capped at 1 GiB and memory x passes at 4 GiB.
- scrypt (Aegis writes N=2^15, r=8, p=1): N a power of two up to 2^20, memory
  (128 N r bytes) up to 256 MiB, work N r p up to 2^25.
- PBKDF2-HMAC-SHA256 (2FAS writes 10,000 iterations): up to 2,000,000.
"""

from __future__ import annotations

import hashlib
import unicodedata
from typing import Final

import nacl.bindings
import nacl.exceptions

from ..errors import UnsafeKdfParameters

ARGON2_MAX_MEMORY: Final = 1 << 30
ARGON2_MAX_WORK: Final = 4 << 30
ARGON2_MAX_OPS: Final = 256
ARGON2_SALT_BYTES: Final = 16
SCRYPT_MAX_N: Final = 1 << 20
SCRYPT_MAX_MEMORY: Final = 256 << 20
SCRYPT_MAX_WORK: Final = 1 << 25
PBKDF2_MAX_ITERATIONS: Final = 2_000_000


def passphrase_bytes(passphrase: str) -> bytes:
    """NFC, so a passphrase typed on another keyboard or OS still opens what it sealed."""
    return unicodedata.normalize("NFC", passphrase).encode("utf-8")


def argon2id(
    password: bytes, salt: bytes, *, opslimit: int, memlimit: int, length: int = 32
) -> bytes:
    """libsodium's crypto_pwhash with ALG_ARGON2ID13; memlimit in bytes, as libsodium counts it."""
    if not isinstance(opslimit, int) or not isinstance(memlimit, int):
        raise UnsafeKdfParameters("the Argon2 parameters must be whole numbers")
    if len(salt) != ARGON2_SALT_BYTES:
        raise UnsafeKdfParameters(f"the Argon2 salt must be {ARGON2_SALT_BYTES} bytes")
    if not 8192 <= memlimit <= ARGON2_MAX_MEMORY:
        raise UnsafeKdfParameters(
            f"Argon2 memory of {memlimit} bytes is outside 8 KiB to {ARGON2_MAX_MEMORY >> 20} MiB"
        )
    if not 1 <= opslimit <= ARGON2_MAX_OPS or memlimit * opslimit > ARGON2_MAX_WORK:
        raise UnsafeKdfParameters(f"Argon2 with {opslimit} passes over that memory is too costly")
    try:
        return bytes(
            nacl.bindings.crypto_pwhash_alg(
                length,
                password,
                salt,
                opslimit,
                memlimit,
                nacl.bindings.crypto_pwhash_ALG_ARGON2ID13,
            )
        )
    except (nacl.exceptions.RuntimeError, nacl.exceptions.ValueError) as error:
        raise UnsafeKdfParameters(f"Argon2 refused its parameters: {error}") from None


def scrypt(password: bytes, salt: bytes, *, n: int, r: int, p: int, length: int = 32) -> bytes:
    if not all(isinstance(value, int) and not isinstance(value, bool) for value in (n, r, p)):
        raise UnsafeKdfParameters("the scrypt parameters must be whole numbers")
    if not 2 <= n <= SCRYPT_MAX_N or n & (n - 1):
        raise UnsafeKdfParameters(f"scrypt N={n} must be a power of two up to {SCRYPT_MAX_N}")
    if not 1 <= r <= 64 or not 1 <= p <= 64:
        raise UnsafeKdfParameters(f"scrypt r={r}, p={p} are out of range")
    memory = 128 * n * r
    if memory > SCRYPT_MAX_MEMORY or n * r * p > SCRYPT_MAX_WORK:
        raise UnsafeKdfParameters(f"scrypt N={n}, r={r}, p={p} is too costly")
    if not salt or len(salt) > 1024:
        raise UnsafeKdfParameters("the scrypt salt must be 1 to 1024 bytes")
    return hashlib.scrypt(
        password, salt=salt, n=n, r=r, p=p, maxmem=memory + (1 << 20), dklen=length
    )


def pbkdf2_sha256(password: bytes, salt: bytes, *, iterations: int, length: int = 32) -> bytes:
    if not isinstance(iterations, int) or not 1 <= iterations <= PBKDF2_MAX_ITERATIONS:
        raise UnsafeKdfParameters(f"PBKDF2 with {iterations} iterations is out of range")
    return hashlib.pbkdf2_hmac("sha256", password, salt, iterations, dklen=length)
