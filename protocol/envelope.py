"""The op envelope: the exact signed bytes an op travels and is stored as.

Layout, version 1 (integers big-endian; specs/protocol.md is normative):

    version u8 | kind u8 | vault 16 | author 32 | seq u64 | prev 32 | hlc u64 |
    epoch 32 | payload_len u32 | payload | signature 64

The signature covers a context string and every byte before it. The op's
hash (SHA-256 of all its bytes, signature included) is what the author's next
op names as `prev`, so checking hashes down a chain and one signature at its
head authenticates every op in it. Encrypted payloads are a 24-byte nonce and
XChaCha20-Poly1305 ciphertext with the header as associated data.
"""

from __future__ import annotations

import hashlib
import os
import struct
from enum import IntEnum

from nacl import bindings
from nacl._sodium import ffi as _ffi
from nacl._sodium import lib as _lib

from .errors import MalformedOp, OpTooLarge, UndecryptableOp, UnsupportedVersion, UsageError
from .identity import DeviceKey, verify

VERSION = 1
HEADER = struct.Struct(">BB16s32sQ32sQ32sI")
HEADER_SIZE = HEADER.size
SIGNATURE_SIZE = 64
MAX_OP_SIZE = 64 * 1024
NONCE_SIZE = 24
TAG_SIZE = 16
ZERO_HASH = bytes(32)
VAULT_ID_SIZE = 16
SIGN_CONTEXT = b"twofold/op/v1\x00"
MAX_SEQ = (1 << 63) - 1

_xchacha_encrypt = bindings.crypto_aead_xchacha20poly1305_ietf_encrypt
_sha256 = hashlib.sha256


class OpKind(IntEnum):
    """What an op does; kinds below 16 are membership ops with plaintext bodies."""

    GENESIS = 1
    DEVICE_ADDED = 2
    DEVICE_REMOVED = 3
    KEY_ROTATED = 4
    KEYS_GRANTED = 5
    DEVICE_RENAMED = 6
    ACCOUNT_WRITE = 16

    @property
    def encrypted(self) -> bool:
        """Account ops are sealed under an epoch key; membership ops are public to members."""
        return self >= OpKind.ACCOUNT_WRITE


_KINDS = {k.value: k for k in OpKind}


class Op:
    """A parsed op: header fields as attributes, `raw` the exact bytes that were signed."""

    __slots__ = (
        "author",
        "epoch",
        "hash",
        "hlc",
        "kind",
        "payload",
        "prev",
        "raw",
        "seq",
        "signature",
        "vault",
    )

    def __init__(self, raw: bytes) -> None:
        size = len(raw)
        if size > MAX_OP_SIZE:
            raise OpTooLarge(f"op is {size} bytes; the limit is {MAX_OP_SIZE}")
        if size < HEADER_SIZE + SIGNATURE_SIZE:
            raise MalformedOp(f"op is truncated: {size} bytes is shorter than any op")
        (
            version,
            kind,
            self.vault,
            self.author,
            self.seq,
            self.prev,
            self.hlc,
            self.epoch,
            length,
        ) = HEADER.unpack_from(raw)
        if version != VERSION:
            raise UnsupportedVersion(f"op version {version} is not supported (this build: 1)")
        if HEADER_SIZE + length + SIGNATURE_SIZE != size:
            raise MalformedOp(
                f"op length does not match its header: payload_len {length}, total {size} bytes"
            )
        try:
            self.kind = _KINDS[kind]
        except KeyError:
            raise MalformedOp(f"unknown op kind {kind}") from None
        if not 1 <= self.seq <= MAX_SEQ:
            raise MalformedOp(f"seq {self.seq} is out of range")
        self.raw = raw if type(raw) is bytes else bytes(raw)
        self.payload = self.raw[HEADER_SIZE : size - SIGNATURE_SIZE]
        self.signature = self.raw[size - SIGNATURE_SIZE :]
        self.hash = _sha256(self.raw).digest()

    @property
    def header(self) -> bytes:
        """The fixed header: associated data of an encrypted payload."""
        return self.raw[:HEADER_SIZE]

    @property
    def ref(self) -> tuple[bytes, int]:
        """(author, seq): where the op sits in its author's chain."""
        return (self.author, self.seq)

    def signature_valid(self) -> bool:
        """True when the author's key signed exactly these bytes."""
        return verify(self.author, SIGN_CONTEXT + self.raw[:-SIGNATURE_SIZE], self.signature)

    def decrypt(self, epoch_key: bytes) -> bytes:
        """The plaintext payload; a payload that does not open is a forgery or corruption."""
        if len(self.payload) < NONCE_SIZE + TAG_SIZE:
            raise UndecryptableOp("encrypted payload is shorter than a nonce and a tag")
        plaintext = _xchacha_open(self.payload, self.header, epoch_key)
        if plaintext is None:
            raise UndecryptableOp("payload does not decrypt under the epoch key it names")
        return plaintext

    def __repr__(self) -> str:
        return f"Op({self.kind.name}, author={self.author[:4].hex()}, seq={self.seq})"


def _xchacha_open(payload: bytes, ad: bytes, key: bytes) -> bytes | None:
    """XChaCha20-Poly1305 open through PyNaCl's own libsodium binding.

    PyNaCl's public wrapper formats three error strings on every call, a fifth
    of the time a bulk pull spends per op; sizes are checked here instead.
    """
    if len(key) != 32 or len(payload) < NONCE_SIZE + TAG_SIZE:
        return None
    size = len(payload) - NONCE_SIZE - TAG_SIZE
    out = _ffi.new("unsigned char[]", size + 1)
    out_len = _ffi.new("unsigned long long *")
    ciphertext = payload[NONCE_SIZE:]
    rc = _lib.crypto_aead_xchacha20poly1305_ietf_decrypt(
        out, out_len, _ffi.NULL, ciphertext, len(ciphertext), ad, len(ad), payload[:NONCE_SIZE], key
    )
    return _ffi.buffer(out, out_len[0])[:] if rc == 0 else None


def seal_op(
    device: DeviceKey,
    *,
    kind: OpKind,
    vault: bytes,
    seq: int,
    prev: bytes,
    hlc: int,
    epoch: bytes,
    body: bytes,
    epoch_key: bytes | None = None,
    nonce: bytes | None = None,
) -> bytes:
    """Encode, encrypt (for account kinds) and sign an op; `nonce` is fixed only in tests."""
    if len(vault) != VAULT_ID_SIZE or len(prev) != 32 or len(epoch) != 32:
        raise UsageError("vault id is 16 bytes; prev and epoch are 32-byte hashes")
    if kind.encrypted:
        if epoch_key is None:
            raise UsageError(f"{kind.name} ops are encrypted: an epoch key is needed")
        nonce = nonce if nonce is not None else os.urandom(NONCE_SIZE)
        length = NONCE_SIZE + len(body) + TAG_SIZE
        header = HEADER.pack(VERSION, kind, vault, device.public, seq, prev, hlc, epoch, length)
        payload = nonce + _xchacha_encrypt(body, header, nonce, epoch_key)
    else:
        header = HEADER.pack(VERSION, kind, vault, device.public, seq, prev, hlc, epoch, len(body))
        payload = body
    unsigned = header + payload
    if len(unsigned) + SIGNATURE_SIZE > MAX_OP_SIZE:
        raise UsageError(f"op would be {len(unsigned) + SIGNATURE_SIZE} bytes, over the limit")
    return unsigned + device.sign(SIGN_CONTEXT + unsigned)
