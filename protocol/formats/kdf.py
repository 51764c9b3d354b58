"""Password key derivation with the cost taken from a file, bounded so no file is a memory
bomb and no wrong password a long wait.

Each derivation's parameters are bounded on their own, admitting every setting
the apps we read are known to write, with room to spare, and refusing the rest
before any memory is spent:

- Argon2id (Ente, Proton, Bitwarden, Twofold backups): Ente starts at
  libsodium's SENSITIVE limits (1 GiB, 4 passes) and, on a device that cannot
  spare the memory, halves the memory and doubles the passes, keeping their
  product. So memory is capped at 1 GiB and memory x passes at 4 GiB.
- scrypt (Aegis writes N=2^15, r=8, p=1): N a power of two up to 2^20, memory
  (128 N r bytes) up to 256 MiB, work N r p up to 2^25.
- PBKDF2-HMAC-SHA256 (2FAS writes 10,000 iterations, Bitwarden 600,000 by
  default): up to 2,000,000.

Then the work of all the derivations one file asks for, summed (an Aegis vault
has a derivation per password slot, each tried with the same password), is
held to that of the costliest real export: Ente's Argon2id over 1 GiB x 4,
3.4 s on the reference laptop (the one that measured issue 16's figures; a
faster machine keeps the three KDFs' ratios). `check_work` refuses a file
over it before the first derivation, naming how many times over it is. Work is
estimated from what each KDF's cost grows with, at rates measured on that
laptop: Argon2id 0.8 ns per byte of memory per pass (1 GiB x 4 in 3.4 s),
scrypt 0.55 us per unit of N r p (N=2^20, r=2, p=16 in 17.7 s), PBKDF2 0.45 us
per iteration. The costliest real exports of the others sit far below: Aegis's
2^15 x 8 per slot is 0.14 s (Aegis writes one password slot, two with a
separate backup password; eight, the most Aegis's reader tries, are 1.2 s),
PBKDF2 at Bitwarden's default 0.27 s and at its 2,000,000 cap 0.9 s, Twofold's
backups (256 MiB x 3) 0.64 s. What the budget refuses is what no app writes:
one scrypt slot of N r p over about 2^22.6, or 8 slots of N=2^20, r=2, p=16
(139 s for each wrong password before this bound, 43x over it).
"""

from __future__ import annotations

import hashlib
import math
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import nacl.bindings
import nacl.exceptions

from ..errors import UnsafeKdfParameters
from .password import password_bytes

ARGON2_MAX_MEMORY: Final = 1 << 30
ARGON2_MAX_WORK: Final = 4 << 30
ARGON2_MAX_OPS: Final = 256
ARGON2_SALT_BYTES: Final = 16
SCRYPT_MAX_N: Final = 1 << 20
SCRYPT_MAX_MEMORY: Final = 256 << 20
SCRYPT_MAX_WORK: Final = 1 << 25
PBKDF2_MAX_ITERATIONS: Final = 2_000_000

# Picoseconds of the reference laptop per unit of each KDF's work (the module's docstring).
ARGON2_PS_PER_BYTE_PASS: Final = 800
SCRYPT_PS_PER_NRP: Final = 550_000
PBKDF2_PS_PER_ITERATION: Final = 450_000


@dataclass(frozen=True, slots=True)
class Derivation:
    """One key derivation a file asks for: its parameters, and its work in picoseconds of
    the reference laptop."""

    name: str
    picoseconds: int


def argon2id_work(*, opslimit: int, memlimit: int) -> Derivation:
    """The work of one Argon2id derivation; UnsafeKdfParameters if it is out of bounds."""
    if not _whole(opslimit) or not _whole(memlimit):
        raise UnsafeKdfParameters("the Argon2 parameters must be whole numbers")
    if not 8192 <= memlimit <= ARGON2_MAX_MEMORY:
        raise UnsafeKdfParameters(
            f"Argon2 memory of {memlimit} bytes is outside 8 KiB to {ARGON2_MAX_MEMORY >> 20} MiB"
        )
    if not 1 <= opslimit <= ARGON2_MAX_OPS or memlimit * opslimit > ARGON2_MAX_WORK:
        raise UnsafeKdfParameters(f"Argon2 with {opslimit} passes over that memory is too costly")
    return Derivation(
        f"Argon2id over {_size(memlimit)} x {opslimit} passes",
        memlimit * opslimit * ARGON2_PS_PER_BYTE_PASS,
    )


def scrypt_work(*, n: int, r: int, p: int) -> Derivation:
    """The work of one scrypt derivation; UnsafeKdfParameters if it is out of bounds."""
    if not all(_whole(value) for value in (n, r, p)):
        raise UnsafeKdfParameters("the scrypt parameters must be whole numbers")
    if not 2 <= n <= SCRYPT_MAX_N or n & (n - 1):
        raise UnsafeKdfParameters(f"scrypt N={n} must be a power of two up to {SCRYPT_MAX_N}")
    if not 1 <= r <= 64 or not 1 <= p <= 64:
        raise UnsafeKdfParameters(f"scrypt r={r}, p={p} are out of range")
    if n >= 1 << (16 * r):  # RFC 7914 section 2: N < 2^(128 r / 8)
        raise UnsafeKdfParameters(f"scrypt N={n} must be below 2^{16 * r} when r={r}")
    if 128 * n * r > SCRYPT_MAX_MEMORY or n * r * p > SCRYPT_MAX_WORK:
        raise UnsafeKdfParameters(f"scrypt N={n}, r={r}, p={p} is too costly")
    return Derivation(f"scrypt N={n}, r={r}, p={p}", n * r * p * SCRYPT_PS_PER_NRP)


def pbkdf2_work(*, iterations: int) -> Derivation:
    """The work of one PBKDF2-HMAC-SHA256 derivation; UnsafeKdfParameters if out of bounds."""
    if not _whole(iterations) or not 1 <= iterations <= PBKDF2_MAX_ITERATIONS:
        raise UnsafeKdfParameters(f"PBKDF2 with {iterations} iterations is out of range")
    return Derivation(f"PBKDF2 with {iterations} iterations", iterations * PBKDF2_PS_PER_ITERATION)


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _size(memory: int) -> str:
    return f"{memory >> 20} MiB" if memory % (1 << 20) == 0 else f"{memory >> 10} KiB"


COSTLIEST_EXPORT: Final = argon2id_work(opslimit=4, memlimit=1 << 30)
FILE_WORK_BUDGET: Final = COSTLIEST_EXPORT.picoseconds


def check_work(derivations: Iterable[Derivation], what: str = "this file") -> None:
    """Refuse, before any of them runs, derivations whose summed work is more than a file
    may ask for (`FILE_WORK_BUDGET`): a wrong password must cost seconds, not minutes."""
    asked = list(derivations)
    total = sum(derivation.picoseconds for derivation in asked)
    if total <= FILE_WORK_BUDGET:
        return
    times = math.ceil(total * 10 / COSTLIEST_EXPORT.picoseconds) / 10
    counts = Counter(derivation.name for derivation in asked)
    spelled = "; ".join(
        name if count == 1 else f"{count} derivations of {name}"
        for name, count in counts.most_common(3)
    )
    if len(counts) > 3:
        spelled += f"; and {len(counts) - 3} more kinds"
    raise UnsafeKdfParameters(
        f"{what} asks for {times:g}x the key-derivation work of any real export "
        f"({spelled}: about {_seconds(total)} for each password tried); Twofold derives at "
        f"most what the costliest real export asks ({COSTLIEST_EXPORT.name}, about "
        f"{_seconds(FILE_WORK_BUDGET)} on a laptop)"
    )


def passphrase_bytes(passphrase: str) -> bytes:
    """NFC, so a passphrase typed on another keyboard or OS still opens what it sealed;
    WrongPassword for one holding a lone surrogate (password.py says why)."""
    return password_bytes(unicodedata.normalize("NFC", passphrase))


def argon2id(
    password: bytes, salt: bytes, *, opslimit: int, memlimit: int, length: int = 32
) -> bytes:
    """libsodium's crypto_pwhash with ALG_ARGON2ID13; memlimit in bytes, as libsodium counts it."""
    work = argon2id_work(opslimit=opslimit, memlimit=memlimit)
    if len(salt) != ARGON2_SALT_BYTES:
        raise UnsafeKdfParameters(f"the Argon2 salt must be {ARGON2_SALT_BYTES} bytes")
    check_work([work])
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
    """One scrypt derivation; a file asking for several sums them in `check_work` first."""
    check_work([scrypt_work(n=n, r=r, p=p)])
    if not salt or len(salt) > 1024:
        raise UnsafeKdfParameters("the scrypt salt must be 1 to 1024 bytes")
    memory = 128 * n * r
    try:
        return hashlib.scrypt(
            password, salt=salt, n=n, r=r, p=p, maxmem=memory + (1 << 20), dklen=length
        )
    except ValueError as error:  # OpenSSL's own refusal of what the checks above let by
        raise UnsafeKdfParameters(f"scrypt refused its parameters: {error}") from None


def pbkdf2_sha256(password: bytes, salt: bytes, *, iterations: int, length: int = 32) -> bytes:
    check_work([pbkdf2_work(iterations=iterations)])
    return hashlib.pbkdf2_hmac("sha256", password, salt, iterations, dklen=length)


def _seconds(picoseconds: int) -> str:
    seconds = picoseconds / 1e12
    return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:,.0f} s"
