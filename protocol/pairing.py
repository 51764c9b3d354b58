"""The pairing handshake: a newcomer device and a vault member prove they saw the same QR code.

Theory of operation
-------------------

Two devices pair: a MEMBER, already in the vault, and a NEWCOMER. One of them
SHOWS an invitation (`protocol.invitation`) as a QR code or link, and the
other SCANS it and connects to the shower over TLS. In flow A the member shows
and the newcomer scans; in flow B the newcomer shows and the member scans. The
handshake below is the same in both flows: only who is member and who is
newcomer, and who is scanner and who is shower, pick the fields.

The scanner pins the shower's TLS server certificate to the invitation's
fingerprint, so no one in the middle can pose as the shower. It connects
without a client certificate and sends its own device certificate in its
hello instead. Both sides derive a key from the invitation's secret:

    K = HKDF-SHA256(ikm=secret, salt=invitation_id,
                    info="twofold/pair/v1/key", length=32)        (RFC 5869)

and hash a transcript that binds both certificates, both names and a fresh
nonce of the scanner's. Member and newcomer are fixed by role, not by who
shows, so both sides compute the same bytes (u16be is a 2-byte big-endian
length, names are UTF-8):

    T = SHA-256("twofold/pair/v1" 0x00 || invitation_id(8)
                || member_cert_fp(32) || newcomer_cert_fp(32)
                || u16be(len(newcomer_name)) || newcomer_name
                || u16be(len(member_name)) || member_name
                || scanner_nonce(16))

The scanner does not know the shower's name when it sends its hello, so its
MAC covers T_hello: T computed with the shower's name empty (a real name has
1 to 64 characters, so T_hello never equals any T). Everything else it sends
is in T_hello: its own certificate and name, the nonce and the fingerprint it
pinned. The shower's reply and the confirmation code cover the complete T:

    mac_scanner = HMAC-SHA256(K, "scanner" || T_hello)             (RFC 2104)
    mac_shower  = HMAC-SHA256(K, "shower" || T)
    code        = u32be(HMAC-SHA256(K, "confirm" || T)[0:4]) mod 1000000

shown as two groups of three digits, "012 345". The secret and K never cross
the wire; MACs are compared in constant time. Messages, each a CBOR map:

    Hello      scanner -> shower   {"id": bytes(8), "cert": DER, "name": text,
                                    "nonce": bytes(16), "mac": bytes(32),
                                    "vault": bytes(16), only if the scanner is the member}
    HelloReply shower -> scanner   {"name": text, "mac": bytes(32),
                                    "vault": bytes(16), only if the shower is the member}
    Decision   member -> newcomer  {"ok": bool, "op": bytes(32), only if ok}

The shower checks, in order: the invitation has not expired (then it is
closed for good), the hello names this invitation, "vault" is present exactly
when the scanner is the member, mac_scanner, and that the certificate is a
valid device certificate (self-signed, CA:FALSE, over the Ed25519 key inside
it) other than its own. Every refused hello counts; after 5 the invitation is
closed and later hellos are refused even with the right MAC; after one hello
succeeds every later one is refused. Names are 1 to 64 characters with no
control characters. The scanner checks the TLS certificate's
fingerprint against the invitation and then mac_shower; either failure ends
its handshake. The "vault" fields are not in T: they travel inside the TLS
channel the scanner pinned to the shower. Both people then compare the code
and the other device's name: a QR code is a bearer token, and whoever got
hold of one can complete the exchange, but the member's person then sees a
name and a code that no device in their hands shows, and declines. On
acceptance the member writes the device_added op, sends its hash in the
Decision, and the newcomer pulls the vault over mutual TLS.

States and transitions (the table `TRANSITIONS`, which both roles share):

    START --send_hello--> HELLO_SENT
    HELLO_SENT --verified_as_member--> CONFIRMING
    HELLO_SENT --verified_as_newcomer--> AWAITING_DECISION
    HELLO_SENT --reply_refused--> FAILED
    LISTENING --verified_as_member--> CONFIRMING
    LISTENING --verified_as_newcomer--> AWAITING_DECISION
    LISTENING --hello_refused--> LISTENING
    LISTENING --attempts_exhausted--> FAILED
    LISTENING --expired--> FAILED
    CONFIRMING --accept--> ACCEPTED
    CONFIRMING --decline--> DECLINED
    AWAITING_DECISION --accept_received--> ACCEPTED
    AWAITING_DECISION --decline_received--> DECLINED

A scanner starts in START, a shower in LISTENING. Only the member reaches
CONFIRMING, so only the member decides, and only after a verified exchange.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar, Self

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from . import cbor
from .certificate import MAX_CERT_SIZE, check_certificate, fingerprint
from .errors import MalformedPayload, TwofoldError, UsageError
from .invitation import INVITATION_ID_SIZE, InvalidInvitation, Invitation, Role

MAX_ATTEMPTS = 5
MAX_NAME = 64
NONCE_SIZE = 16
MAC_SIZE = 32
VAULT_ID_SIZE = 16
OP_HASH_SIZE = 32
_KEY_INFO = b"twofold/pair/v1/key"
_TRANSCRIPT_CONTEXT = b"twofold/pair/v1\x00"
_log = logging.getLogger(__name__)
_Check = tuple[Callable[[Any], bool], str, bool]  # predicate, the rule in words, optional


class PairingError(TwofoldError):
    """The other device, or someone between us, did not follow the handshake; pairing stops."""

    default = "pairing failed: open a new invitation and try again"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.default)


class MalformedPairingMessage(PairingError):
    """A handshake message that cannot be read: another version, or damaged on the way."""

    default = "the other device sent a message this Twofold cannot read: update both devices"


class WrongSecret(PairingError):
    """A MAC did not verify: the other device does not hold this invitation's secret."""

    default = "the pairing code did not match: scan the QR code again, or open a new invitation"


class WrongInvitation(PairingError):
    """The hello answers another invitation than the one this device shows."""

    default = "the other device answered an older invitation: scan the QR code shown now"


class InvitationExpired(PairingError):
    """The invitation's time ran out; it is closed for good."""

    default = "this invitation has expired: open a new one"


class InvitationUsed(PairingError):
    """One device already paired through this invitation; it is single use."""

    default = "this invitation was already used: open a new one to add another device"


class TooManyAttempts(PairingError):
    """Too many failed hellos: someone may be guessing, so the invitation is closed."""

    default = "too many failed attempts: this invitation is closed; open a new one"


class BadCertificate(PairingError):
    """The scanner's certificate is not a device certificate peers could pin."""

    default = "the other device sent a certificate Twofold cannot use: update both devices"


class WrongDevice(PairingError):
    """The device that answered is not the one whose QR code was scanned."""

    default = (
        "the device that answered is not the one that showed the QR code: someone may be "
        "in between; pair again on a network you trust"
    )


class PairingStateError(UsageError):
    """The caller asked the handshake for a step its state does not allow: our bug."""


class State(Enum):
    """Where a handshake stands; see the module docstring for the transitions."""

    START = "START"
    LISTENING = "LISTENING"
    HELLO_SENT = "HELLO_SENT"
    CONFIRMING = "CONFIRMING"
    AWAITING_DECISION = "AWAITING_DECISION"
    ACCEPTED = "ACCEPTED"
    DECLINED = "DECLINED"
    FAILED = "FAILED"


class Event(Enum):
    """What happened to a handshake: the inputs of the transition table."""

    SEND_HELLO = "send_hello"
    VERIFIED_AS_MEMBER = "verified_as_member"
    VERIFIED_AS_NEWCOMER = "verified_as_newcomer"
    REPLY_REFUSED = "reply_refused"
    HELLO_REFUSED = "hello_refused"
    ATTEMPTS_EXHAUSTED = "attempts_exhausted"
    EXPIRED = "expired"
    ACCEPT = "accept"
    DECLINE = "decline"
    ACCEPT_RECEIVED = "accept_received"
    DECLINE_RECEIVED = "decline_received"


_S, _E = State, Event
TRANSITIONS: dict[tuple[State, Event], State] = {
    (_S.START, _E.SEND_HELLO): _S.HELLO_SENT,
    (_S.HELLO_SENT, _E.VERIFIED_AS_MEMBER): _S.CONFIRMING,
    (_S.HELLO_SENT, _E.VERIFIED_AS_NEWCOMER): _S.AWAITING_DECISION,
    (_S.HELLO_SENT, _E.REPLY_REFUSED): _S.FAILED,
    (_S.LISTENING, _E.VERIFIED_AS_MEMBER): _S.CONFIRMING,
    (_S.LISTENING, _E.VERIFIED_AS_NEWCOMER): _S.AWAITING_DECISION,
    (_S.LISTENING, _E.HELLO_REFUSED): _S.LISTENING,
    (_S.LISTENING, _E.ATTEMPTS_EXHAUSTED): _S.FAILED,
    (_S.LISTENING, _E.EXPIRED): _S.FAILED,
    (_S.CONFIRMING, _E.ACCEPT): _S.ACCEPTED,
    (_S.CONFIRMING, _E.DECLINE): _S.DECLINED,
    (_S.AWAITING_DECISION, _E.ACCEPT_RECEIVED): _S.ACCEPTED,
    (_S.AWAITING_DECISION, _E.DECLINE_RECEIVED): _S.DECLINED,
}
del _S, _E


def pairing_key(secret: bytes, invitation_id: bytes) -> bytes:
    """K: the invitation's secret stretched into a MAC key that never leaves the device."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=invitation_id, info=_KEY_INFO)
    return hkdf.derive(secret)


def transcript_hash(
    invitation_id: bytes,
    member_fp: bytes,
    newcomer_fp: bytes,
    newcomer_name: str,
    member_name: str,
    nonce: bytes,
) -> bytes:
    """T: one hash of everything both sides must agree on, in an order fixed by role."""
    newcomer, member = newcomer_name.encode(), member_name.encode()
    head = _TRANSCRIPT_CONTEXT + invitation_id + member_fp + newcomer_fp
    names = _u16(len(newcomer)) + newcomer + _u16(len(member)) + member
    return hashlib.sha256(head + names + nonce).digest()


def pairing_mac(key: bytes, label: bytes, transcript: bytes) -> bytes:
    """mac_scanner (label b"scanner", over T_hello) or mac_shower (b"shower", over T)."""
    return hmac.digest(key, label + transcript, "sha256")


def confirmation_code(key: bytes, transcript: bytes) -> str:
    """The six digits both people compare, as "123 456"; they differ if anyone is in between."""
    mac = hmac.digest(key, b"confirm" + transcript, "sha256")
    digits = f"{int.from_bytes(mac[:4], 'big') % 1_000_000:06d}"
    return f"{digits[:3]} {digits[3:]}"


def _u16(n: int) -> bytes:
    return n.to_bytes(2, "big")


def _valid_name(name: object) -> bool:
    """A device name a person will read: 1 to 64 characters, no control characters."""
    if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME:
        return False
    return not any(unicodedata.category(c) in ("Cc", "Cs") for c in name)


class _Message:
    """A handshake message: a CBOR map whose keys, checks and optional fields `_wire` lists."""

    __slots__ = ()
    _wire: ClassVar[tuple[tuple[str, str, _Check], ...]]

    def encode(self) -> bytes:
        """The CBOR bytes to send; a None field is left out."""
        values = {key: getattr(self, attr) for attr, key, _ in self._wire}
        return cbor.dumps({key: value for key, value in values.items() if value is not None})

    @classmethod
    def decode(cls, data: bytes) -> Self:
        """Read a message from the network; anything out of shape is MalformedPairingMessage."""
        what = cls.__name__
        try:
            fields = cbor.loads(data, what)
        except MalformedPayload as exc:
            raise MalformedPairingMessage(f"{MalformedPairingMessage.default} ({exc})") from None
        if not isinstance(fields, dict):
            raise MalformedPairingMessage(f"the {what} is not a CBOR map")
        unknown = set(fields) - {key for _, key, _ in cls._wire}
        if unknown:
            names = ", ".join(sorted(map(repr, unknown))[:4])
            raise MalformedPairingMessage(f"the {what} has unknown fields: {names}")
        values: list[Any] = []
        for _, key, (check, rule, optional) in cls._wire:
            value = fields.get(key)
            if value is None and optional:
                values.append(None)
            elif not check(value):
                raise MalformedPairingMessage(f"{what} {key!r} must be {rule}")
            else:
                values.append(value)
        return cls(*values)


def _bytes(size: int, optional: bool = False) -> _Check:
    return (lambda v: type(v) is bytes and len(v) == size), f"{size} bytes", optional


_NAME: _Check = (_valid_name, f"text of 1 to {MAX_NAME} characters", False)
_CERT: _Check = (
    lambda v: type(v) is bytes and 0 < len(v) <= MAX_CERT_SIZE,
    f"a DER certificate of at most {MAX_CERT_SIZE} bytes",
    False,
)


@dataclass(frozen=True, slots=True)
class Hello(_Message):
    """Scanner to shower: who I am, and proof that I scanned the QR code."""

    invitation_id: bytes
    cert: bytes
    name: str
    nonce: bytes
    mac: bytes
    vault: bytes | None = None
    _wire = (
        ("invitation_id", "id", _bytes(INVITATION_ID_SIZE)),
        ("cert", "cert", _CERT),
        ("name", "name", _NAME),
        ("nonce", "nonce", _bytes(NONCE_SIZE)),
        ("mac", "mac", _bytes(MAC_SIZE)),
        ("vault", "vault", _bytes(VAULT_ID_SIZE, optional=True)),
    )


@dataclass(frozen=True, slots=True)
class HelloReply(_Message):
    """Shower to scanner: my name, and proof that I hold the same secret."""

    name: str
    mac: bytes
    vault: bytes | None = None
    _wire = (
        ("name", "name", _NAME),
        ("mac", "mac", _bytes(MAC_SIZE)),
        ("vault", "vault", _bytes(VAULT_ID_SIZE, optional=True)),
    )


@dataclass(frozen=True, slots=True)
class Decision(_Message):
    """Member to newcomer: its person accepted (here is the device_added op's hash) or declined."""

    accepted: bool
    added_op: bytes | None = None
    _wire = (
        ("accepted", "ok", ((lambda v: type(v) is bool), "true or false", False)),
        ("added_op", "op", _bytes(OP_HASH_SIZE, optional=True)),
    )

    def __post_init__(self) -> None:
        """An acceptance names the op that added the newcomer; a refusal names none."""
        if self.accepted != (self.added_op is not None):
            raise MalformedPairingMessage("a decision carries an op exactly when it accepts")


class Handshake:
    """One side of one pairing, as scanner or shower, member or newcomer: see the module doc."""

    def __init__(
        self, inv: Invitation, cert: bytes, name: str, role: Role, vault: bytes | None, nonce: bytes
    ) -> None:
        """Use `Handshake.scanner` or `Handshake.shower`; a shower passes an empty nonce."""
        if not _valid_name(name):
            raise UsageError(f"a device name is text of 1 to {MAX_NAME} characters")
        if (vault is not None) != (role == "member") or (vault is not None and len(vault) != 16):
            raise UsageError("the member passes its 16-byte vault ID, and only the member")
        self._inv, self._key = inv, pairing_key(inv.secret, inv.invitation_id)
        self._cert, self._fp, self._name, self._role = cert, fingerprint(cert), name, role
        self._vault, self._nonce, self._scanner = vault, nonce, bool(nonce)
        self._state = State.START if self._scanner else State.LISTENING
        self._failures = 0
        self._closed: type[PairingError] | None = None  # what a later hello is refused with
        self._peer: tuple[bytes, str] | None = None
        self._transcript = b""
        self._added_op: bytes | None = None
        self.transitions: list[tuple[State, Event, State]] = []

    @classmethod
    def scanner(
        cls,
        invitation: Invitation,
        own_cert: bytes,
        own_name: str,
        own_role: Role,
        vault: bytes | None = None,
        rng: Callable[[int], bytes] = os.urandom,
    ) -> Handshake:
        """The side that scanned the invitation and connects to the shower."""
        if own_role == invitation.shower_role:
            raise InvalidInvitation(
                "shower_role",
                "this link invites a new device: open it on the device you want to add"
                if own_role == "member"
                else "this link comes from a device not in a vault yet: scan it from a member",
            )
        if fingerprint(own_cert) == invitation.fingerprint:
            raise InvalidInvitation("fingerprint", "this device made the link: scan it elsewhere")
        nonce = rng(NONCE_SIZE)
        if len(nonce) != NONCE_SIZE:
            raise UsageError(f"the scanner's nonce is {NONCE_SIZE} random bytes")
        return cls(invitation, own_cert, own_name, own_role, vault, nonce)

    @classmethod
    def shower(
        cls,
        invitation: Invitation,
        secret_owner_cert: bytes,
        own_name: str,
        own_role: Role,
        vault: bytes | None = None,
    ) -> Handshake:
        """The side that made and shows the invitation, and listens for the scanner's hello."""
        if own_role != invitation.shower_role:
            raise UsageError("the shower's role is the one its invitation announces")
        if fingerprint(secret_owner_cert) != invitation.fingerprint:
            raise UsageError("the shower's certificate is the one its invitation pins")
        return cls(invitation, secret_owner_cert, own_name, own_role, vault, b"")

    @property
    def state(self) -> State:
        """Where the handshake stands."""
        return self._state

    @property
    def peer_cert(self) -> bytes:
        """The other device's certificate (DER), once the exchange verified."""
        return self._verified()[0]

    @property
    def peer_fingerprint(self) -> bytes:
        """SHA-256 of the other device's certificate, once the exchange verified."""
        return fingerprint(self._verified()[0])

    @property
    def peer_name(self) -> str:
        """The other device's name, to show beside the code, once the exchange verified."""
        return self._verified()[1]

    @property
    def vault(self) -> bytes:
        """The vault ID being joined: the member's own, or the one the member sent."""
        self._verified()
        return self._vault or b""

    @property
    def confirmation_code(self) -> str:
        """The code this device shows its person, once the exchange verified."""
        self._verified()
        return confirmation_code(self._key, self._transcript)

    @property
    def added_op(self) -> bytes | None:
        """The device_added op's hash once the member accepted: the newcomer may pull the vault."""
        return self._added_op

    def hello(self) -> Hello:
        """Scanner: the first message, proving knowledge of the secret without sending it."""
        self._check(Event.SEND_HELLO)
        t_hello = self._t(self._inv.fingerprint, "", self._nonce, hello=True)
        mac = pairing_mac(self._key, b"scanner", t_hello)
        self._fire(Event.SEND_HELLO)
        return Hello(self._inv.invitation_id, self._cert, self._name, self._nonce, mac, self._vault)

    def on_hello(self, hello: Hello, now: int) -> HelloReply:
        """Shower: check a scanner's hello and answer it; a refused hello counts as an attempt."""
        if self._state is not State.LISTENING:
            if self._closed is None:
                raise PairingStateError(f"a hello is not expected in state {self._state.value}")
            raise self._closed()
        if self._inv.expired(now):
            self._closed = InvitationExpired
            self._fire(Event.EXPIRED)
            raise InvitationExpired()
        try:
            transcript = self._check_hello(hello)
        except PairingError:
            self._failures += 1
            if self._failures >= MAX_ATTEMPTS:
                self._closed = TooManyAttempts
            self._fire(Event.ATTEMPTS_EXHAUSTED if self._closed else Event.HELLO_REFUSED)
            raise
        self._closed = InvitationUsed
        self._verify(hello.cert, hello.name, transcript, hello.vault)
        mac = pairing_mac(self._key, b"shower", transcript)
        return HelloReply(self._name, mac, self._vault if self._role == "member" else None)

    def on_reply(self, reply: HelloReply, shower_cert_der: bytes) -> str:
        """Scanner: check the reply against the pinned certificate; returns the code to show."""
        self._check(Event.REPLY_REFUSED)  # that is: the state is HELLO_SENT
        transcript = self._t(fingerprint(shower_cert_der), reply.name, self._nonce, hello=False)
        try:
            if fingerprint(shower_cert_der) != self._inv.fingerprint:
                raise WrongDevice()
            if (reply.vault is not None) != (self._role == "newcomer"):
                raise MalformedPairingMessage(
                    "a reply names the vault exactly when a member sent it"
                )
            if not hmac.compare_digest(reply.mac, pairing_mac(self._key, b"shower", transcript)):
                raise WrongSecret()
        except PairingError:
            self._fire(Event.REPLY_REFUSED)
            raise
        self._verify(shower_cert_der, reply.name, transcript, reply.vault)
        return self.confirmation_code

    def decide(self, accepted: bool, added_op: bytes | None = None) -> Decision:
        """Member: its person compared the codes; accepting needs the device_added op's hash."""
        self._check(Event.ACCEPT)  # that is: the state is CONFIRMING, which only a member reaches
        wanted = OP_HASH_SIZE if accepted else None
        if (None if added_op is None else len(added_op)) != wanted:
            raise UsageError("accepting needs the 32-byte device_added op hash; declining none")
        self._added_op = added_op
        self._fire(Event.ACCEPT if accepted else Event.DECLINE)
        return Decision(accepted, added_op)

    def on_decision(self, decision: Decision) -> None:
        """Newcomer: the member's person accepted (the newcomer may now pull the vault) or not."""
        self._check(Event.ACCEPT_RECEIVED)  # that is: the state is AWAITING_DECISION
        self._added_op = decision.added_op
        self._fire(Event.ACCEPT_RECEIVED if decision.accepted else Event.DECLINE_RECEIVED)

    def _check_hello(self, hello: Hello) -> bytes:
        """T for a hello that passes every check, or the PairingError that refuses it."""
        if hello.invitation_id != self._inv.invitation_id:
            raise WrongInvitation()
        if (hello.vault is not None) != (self._role == "newcomer"):
            raise MalformedPairingMessage("a hello names the vault exactly when a member sent it")
        peer_fp = fingerprint(hello.cert)
        t_hello = self._t(peer_fp, hello.name, hello.nonce, hello=True)
        if not hmac.compare_digest(hello.mac, pairing_mac(self._key, b"scanner", t_hello)):
            raise WrongSecret()
        _check_device_cert(hello.cert)
        if peer_fp == self._fp:
            raise BadCertificate("the other device sent this device's own certificate")
        return self._t(peer_fp, hello.name, hello.nonce, hello=False)

    def _t(self, peer_fp: bytes, peer_name: str, nonce: bytes, *, hello: bool) -> bytes:
        """T from this side's point of view; T_hello when `hello`, with the shower's name empty."""
        own = (self._fp, "" if hello and not self._scanner else self._name)
        peer = (peer_fp, "" if hello and self._scanner else peer_name)
        (m_fp, m_name), (n_fp, n_name) = (own, peer) if self._role == "member" else (peer, own)
        return transcript_hash(self._inv.invitation_id, m_fp, n_fp, n_name, m_name, nonce)

    def _verify(self, cert: bytes, name: str, transcript: bytes, vault: bytes | None) -> None:
        self._peer, self._transcript = (cert, name), transcript
        if self._role == "newcomer":
            self._vault = vault
        member = self._role == "member"
        self._fire(Event.VERIFIED_AS_MEMBER if member else Event.VERIFIED_AS_NEWCOMER)

    def _verified(self) -> tuple[bytes, str]:
        if self._peer is None:
            raise PairingStateError(f"nothing is verified yet in state {self._state.value}")
        return self._peer

    def _check(self, event: Event) -> None:
        """Refuse a step the current state does not allow, before doing any of its work."""
        if (self._state, event) not in TRANSITIONS:
            raise PairingStateError(f"cannot {event.value} in state {self._state.value}")

    def _fire(self, event: Event) -> None:
        self._check(event)
        step = (self._state, event, TRANSITIONS[(self._state, event)])
        self.transitions.append(step)
        side = "scanner" if self._scanner else "shower"
        _log.debug("pairing %s %s: %s --%s--> %s", self._role, side, *(x.value for x in step))
        self._state = step[2]


def _check_device_cert(cert: bytes) -> None:
    """Refuse anything but a self-signed CA:FALSE Ed25519 certificate over its own key."""
    try:
        key = x509.load_der_x509_certificate(cert).public_key()
    except (ValueError, UnsupportedAlgorithm):
        raise BadCertificate("the other device's certificate cannot be read") from None
    if not isinstance(key, Ed25519PublicKey):
        raise BadCertificate("the other device's certificate is not over an Ed25519 key")
    try:
        check_certificate(cert, key.public_bytes_raw())
    except MalformedPayload as exc:
        raise BadCertificate(f"the other device's {exc}") from None
