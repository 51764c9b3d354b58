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
                                    "vault": bytes(16), "devs": [text],
                                    the last two only if the scanner is the member}
    HelloReply shower -> scanner   {"name": text, "mac": bytes(32),
                                    "vault": bytes(16), "devs": [text],
                                    the last two only if the shower is the member}
    Decision   either way          {"ok": bool, "op": bytes(32), only from the member,
                                    and only when both accepted}

"devs" names the vault's devices (at most 64), so the newcomer's person sees
which vault they are about to join before anything of theirs leaves.

The shower checks, in order: the invitation has not expired (then it is
closed for good), the hello names this invitation, "vault" is present exactly
when the scanner is the member, mac_scanner, and that the certificate is a
valid device certificate (self-signed, CA:FALSE, over the Ed25519 key inside
it) other than its own. Every refused hello counts; after 5 the invitation is
closed and later hellos are refused even with the right MAC; after one hello
succeeds every later one is refused. Names are 1 to 64 characters with no
control, format or other invisible characters (`protocol.text`). The scanner
checks the TLS certificate's fingerprint against the invitation and then
mac_shower; either failure ends its handshake. The "vault" and "devs" fields
are not in T: they travel inside the TLS channel the scanner pinned to the
shower.

Both people then compare the code, and both decide. A QR code is a bearer
token: whoever got hold of one can complete the exchange. If a stranger used
a member's invitation, the member's person sees a name and a code no device
in their hands shows, and declines. If a stranger used a newcomer's offer, or
showed a person an invitation of the stranger's own vault, the newcomer's
person sees a vault and a code they do not know, and declines. So each side
waits for its own person's yes AND the other side's yes: the member writes
the device_added op (which seals the vault's keys to the newcomer) only after
both, and the newcomer moves into the vault, and brings along the accounts it
held, only after its own yes and the member's acceptance with that op's hash.
A decline on either side ends both. The newcomer's Decision never carries an
op; the member's carries one exactly when it accepts, and it may only accept
after the newcomer did.

States and transitions (the table `TRANSITIONS`, which both roles share):

    START --send_hello--> HELLO_SENT
    HELLO_SENT --verified--> CONFIRMING
    HELLO_SENT --reply_refused--> FAILED
    LISTENING --verified--> CONFIRMING
    LISTENING --hello_refused--> LISTENING
    LISTENING --attempts_exhausted--> FAILED
    LISTENING --expired--> FAILED
    CONFIRMING --accept--> AWAITING_PEER
    CONFIRMING --decline--> DECLINED
    CONFIRMING --peer_accepted--> PEER_ACCEPTED
    CONFIRMING --peer_declined--> DECLINED
    AWAITING_PEER --peer_accepted--> ACCEPTED
    AWAITING_PEER --peer_declined--> DECLINED
    AWAITING_PEER --decline--> DECLINED
    PEER_ACCEPTED --accept--> ACCEPTED
    PEER_ACCEPTED --decline--> DECLINED
    PEER_ACCEPTED --peer_declined--> DECLINED

A scanner starts in START, a shower in LISTENING. Nobody decides before a
verified exchange. A member in ACCEPTED writes the device_added op and sends
`added(op)`; a newcomer reaches ACCEPTED only by that message, after its own
yes, and only then may pull the vault and send anything of its own. A person
may take back a yes while the other side has not answered (decline in
AWAITING_PEER), and a newcomer its yes after the member's person accepted but
before the op came (peer_declined in PEER_ACCEPTED, on the member): at worst
the member has just written the op, and its acceptance then finds the
newcomer DECLINED and is refused. Giving up (cancelled, timed out, the
connection lost) is `abandon`, from any state
before the last to FAILED; it is not in the table because it applies to all.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar, Self

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from . import cbor
from .certificate import (
    MAX_CERT_SIZE,
    UNREADABLE_CERT,
    check_certificate,
    fingerprint,
    load_certificate,
)
from .errors import MalformedPayload, Refused, TwofoldError, UsageError
from .invitation import INVITATION_ID_SIZE, InvalidInvitation, Invitation, Role
from .text import neutralise, quoted, strip_hidden, visible

MAX_ATTEMPTS = 5
MAX_NAME = 64
MAX_DEVICES = 64
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


class InvitationClosed(PairingError):
    """The pairing was given up on this side: cancelled, timed out, or the other side gone."""

    default = "this invitation is closed: open a new one"


class BadCertificate(PairingError):
    """The scanner's certificate is not a device certificate peers could pin."""

    default = "the other device sent a certificate Twofold cannot use: update both devices"


class WrongDevice(PairingError):
    """The device that answered is not the one whose QR code was scanned."""

    default = (
        "the device that answered is not the one that showed the QR code: someone may be "
        "in between; pair again on a network you trust"
    )


class PairingStateError(Refused):
    """The handshake was asked for a step its state does not allow: a request that came
    too late (the other side decided first), or our bug."""


class State(Enum):
    """Where a handshake stands; see the module docstring for the transitions."""

    START = "START"
    LISTENING = "LISTENING"
    HELLO_SENT = "HELLO_SENT"
    CONFIRMING = "CONFIRMING"
    AWAITING_PEER = "AWAITING_PEER"
    PEER_ACCEPTED = "PEER_ACCEPTED"
    ACCEPTED = "ACCEPTED"
    DECLINED = "DECLINED"
    FAILED = "FAILED"


FINAL = frozenset({State.ACCEPTED, State.DECLINED, State.FAILED})


class Event(Enum):
    """What happened to a handshake: the inputs of the transition table."""

    SEND_HELLO = "send_hello"
    VERIFIED = "verified"
    REPLY_REFUSED = "reply_refused"
    HELLO_REFUSED = "hello_refused"
    ATTEMPTS_EXHAUSTED = "attempts_exhausted"
    EXPIRED = "expired"
    ACCEPT = "accept"
    DECLINE = "decline"
    PEER_ACCEPTED = "peer_accepted"
    PEER_DECLINED = "peer_declined"
    ABANDON = "abandon"


_S, _E = State, Event
TRANSITIONS: dict[tuple[State, Event], State] = {
    (_S.START, _E.SEND_HELLO): _S.HELLO_SENT,
    (_S.HELLO_SENT, _E.VERIFIED): _S.CONFIRMING,
    (_S.HELLO_SENT, _E.REPLY_REFUSED): _S.FAILED,
    (_S.LISTENING, _E.VERIFIED): _S.CONFIRMING,
    (_S.LISTENING, _E.HELLO_REFUSED): _S.LISTENING,
    (_S.LISTENING, _E.ATTEMPTS_EXHAUSTED): _S.FAILED,
    (_S.LISTENING, _E.EXPIRED): _S.FAILED,
    (_S.CONFIRMING, _E.ACCEPT): _S.AWAITING_PEER,
    (_S.CONFIRMING, _E.DECLINE): _S.DECLINED,
    (_S.CONFIRMING, _E.PEER_ACCEPTED): _S.PEER_ACCEPTED,
    (_S.CONFIRMING, _E.PEER_DECLINED): _S.DECLINED,
    (_S.AWAITING_PEER, _E.PEER_ACCEPTED): _S.ACCEPTED,
    (_S.AWAITING_PEER, _E.PEER_DECLINED): _S.DECLINED,
    (_S.AWAITING_PEER, _E.DECLINE): _S.DECLINED,
    (_S.PEER_ACCEPTED, _E.ACCEPT): _S.ACCEPTED,
    (_S.PEER_ACCEPTED, _E.DECLINE): _S.DECLINED,
    (_S.PEER_ACCEPTED, _E.PEER_DECLINED): _S.DECLINED,
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
    """A device name a person will read: 1 to 64 characters, nothing hidden or reordering."""
    if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME:
        return False
    return visible(name)


def shown_name(name: str) -> str:
    """A name from older data as the handshake may carry it: hidden characters written out,
    and cut to the longest name allowed."""
    return strip_hidden(neutralise(name)[:MAX_NAME]) or "?"


def _valid_devices(names: object) -> bool:
    return isinstance(names, list) and len(names) <= MAX_DEVICES and all(map(_valid_name, names))


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
            names = ", ".join(sorted(map(quoted, unknown))[:4])
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


_NAME: _Check = (_valid_name, f"text of 1 to {MAX_NAME} visible characters", False)
_DEVICES: _Check = (_valid_devices, f"a list of at most {MAX_DEVICES} device names", True)
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
    devices: list[str] | None = None
    _wire = (
        ("invitation_id", "id", _bytes(INVITATION_ID_SIZE)),
        ("cert", "cert", _CERT),
        ("name", "name", _NAME),
        ("nonce", "nonce", _bytes(NONCE_SIZE)),
        ("mac", "mac", _bytes(MAC_SIZE)),
        ("vault", "vault", _bytes(VAULT_ID_SIZE, optional=True)),
        ("devices", "devs", _DEVICES),
    )


@dataclass(frozen=True, slots=True)
class HelloReply(_Message):
    """Shower to scanner: my name, and proof that I hold the same secret."""

    name: str
    mac: bytes
    vault: bytes | None = None
    devices: list[str] | None = None
    _wire = (
        ("name", "name", _NAME),
        ("mac", "mac", _bytes(MAC_SIZE)),
        ("vault", "vault", _bytes(VAULT_ID_SIZE, optional=True)),
        ("devices", "devs", _DEVICES),
    )


@dataclass(frozen=True, slots=True)
class Decision(_Message):
    """One side's verdict: its person accepted or declined; the member's yes names the op."""

    accepted: bool
    added_op: bytes | None = None
    _wire = (
        ("accepted", "ok", ((lambda v: type(v) is bool), "true or false", False)),
        ("added_op", "op", _bytes(OP_HASH_SIZE, optional=True)),
    )

    def __post_init__(self) -> None:
        """Only an acceptance may name the op that added the newcomer."""
        if self.added_op is not None and not self.accepted:
            raise MalformedPairingMessage("a decline carries no op")


class Handshake:
    """One side of one pairing, as scanner or shower, member or newcomer: see the module doc."""

    def __init__(
        self,
        inv: Invitation,
        cert: bytes,
        name: str,
        role: Role,
        vault: bytes | None,
        nonce: bytes,
        devices: list[str] | None = None,
    ) -> None:
        """Use `Handshake.scanner` or `Handshake.shower`; a shower passes an empty nonce."""
        if not _valid_name(name):
            raise UsageError(f"a device name is text of 1 to {MAX_NAME} visible characters")
        if (vault is not None) != (role == "member") or (vault is not None and len(vault) != 16):
            raise UsageError("the member passes its 16-byte vault ID, and only the member")
        if role == "member":
            devices = [shown_name(d) for d in (devices or [name])][:MAX_DEVICES]
        elif devices is not None:
            raise UsageError("only the member names the vault's devices")
        self._inv, self._key = inv, pairing_key(inv.secret, inv.invitation_id)
        self._cert, self._fp, self._name, self._role = cert, fingerprint(cert), name, role
        self._vault, self._devices = vault, devices
        self._nonce, self._scanner = nonce, bool(nonce)
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
        devices: list[str] | None = None,
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
        return cls(invitation, own_cert, own_name, own_role, vault, nonce, devices)

    @classmethod
    def shower(
        cls,
        invitation: Invitation,
        secret_owner_cert: bytes,
        own_name: str,
        own_role: Role,
        vault: bytes | None = None,
        devices: list[str] | None = None,
    ) -> Handshake:
        """The side that made and shows the invitation, and listens for the scanner's hello."""
        if own_role != invitation.shower_role:
            raise UsageError("the shower's role is the one its invitation announces")
        if fingerprint(secret_owner_cert) != invitation.fingerprint:
            raise UsageError("the shower's certificate is the one its invitation pins")
        return cls(invitation, secret_owner_cert, own_name, own_role, vault, b"", devices)

    @property
    def state(self) -> State:
        """Where the handshake stands."""
        return self._state

    @property
    def role(self) -> Role:
        """This side's role: member or newcomer."""
        return self._role

    @property
    def verified(self) -> bool:
        """The exchange verified: the peer, its name and the code are known."""
        return self._peer is not None

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
    def vault_devices(self) -> list[str]:
        """The names of the vault's devices, as the member sent them, once verified."""
        self._verified()
        return list(self._devices or ())

    @property
    def confirmation_code(self) -> str:
        """The code this device shows its person, once the exchange verified."""
        self._verified()
        return confirmation_code(self._key, self._transcript)

    @property
    def added_op(self) -> bytes | None:
        """The device_added op's hash once both accepted: the newcomer may pull the vault."""
        return self._added_op

    def hello(self) -> Hello:
        """Scanner: the first message, proving knowledge of the secret without sending it."""
        self._check(Event.SEND_HELLO)
        t_hello = self._t(self._inv.fingerprint, "", self._nonce, hello=True)
        mac = pairing_mac(self._key, b"scanner", t_hello)
        self._fire(Event.SEND_HELLO)
        inv_id, member = self._inv.invitation_id, self._role == "member"
        devices = self._devices if member else None
        return Hello(inv_id, self._cert, self._name, self._nonce, mac, self._vault, devices)

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
        except PairingError as exc:
            self._failures += 1
            if self._failures < MAX_ATTEMPTS:
                self._fire(Event.HELLO_REFUSED)
                raise
            self._closed = TooManyAttempts
            self._fire(Event.ATTEMPTS_EXHAUSTED)
            raise TooManyAttempts() from exc
        self._closed = InvitationUsed
        self._verify(hello.cert, hello.name, transcript, hello.vault, hello.devices)
        mac = pairing_mac(self._key, b"shower", transcript)
        if self._role == "member":
            return HelloReply(self._name, mac, self._vault, self._devices)
        return HelloReply(self._name, mac)

    def on_reply(self, reply: HelloReply, shower_cert_der: bytes) -> str:
        """Scanner: check the reply against the pinned certificate; returns the code to show."""
        self._check(Event.REPLY_REFUSED)  # that is: the state is HELLO_SENT
        transcript = self._t(fingerprint(shower_cert_der), reply.name, self._nonce, hello=False)
        try:
            if fingerprint(shower_cert_der) != self._inv.fingerprint:
                raise WrongDevice()
            _check_member_fields(reply.vault, reply.devices, self._role == "newcomer", "reply")
            if not hmac.compare_digest(reply.mac, pairing_mac(self._key, b"shower", transcript)):
                raise WrongSecret()
        except PairingError:
            self._fire(Event.REPLY_REFUSED)
            raise
        self._verify(shower_cert_der, reply.name, transcript, reply.vault, reply.devices)
        return self.confirmation_code

    def decide(self, accepted: bool) -> Decision | None:
        """This side's person compared the code and decided; what to tell the other side now.

        The newcomer always tells its verdict. The member tells a decline at
        once, but a yes only through `added`, once both accepted.
        """
        self._fire(Event.ACCEPT if accepted else Event.DECLINE)
        if self._role == "member" and accepted:
            return None
        return Decision(accepted)

    def on_decision(self, decision: Decision) -> None:
        """The other side's verdict. A member's yes must name the op and follow ours."""
        event = Event.PEER_ACCEPTED if decision.accepted else Event.PEER_DECLINED
        self._check(event)
        if decision.accepted:
            if self._role == "member" and decision.added_op is not None:
                raise MalformedPairingMessage("the new device's decision names an op")
            if self._role == "newcomer":
                if self._state is not State.AWAITING_PEER:
                    raise PairingStateError("the member accepted before this device's person did")
                if decision.added_op is None:
                    raise MalformedPairingMessage("the member's acceptance names no op")
                self._added_op = decision.added_op
        self._fire(event)

    def added(self, added_op: bytes) -> Decision:
        """Member, once both accepted: the device_added op is written; the yes to send."""
        if self._role != "member" or self._state is not State.ACCEPTED:
            raise PairingStateError(f"cannot send an acceptance in state {self._state.value}")
        if len(added_op) != OP_HASH_SIZE or self._added_op not in (None, added_op):
            raise UsageError("an acceptance names one 32-byte device_added op hash")
        self._added_op = added_op
        return Decision(True, added_op)

    def abandon(self) -> None:
        """Give up (cancelled, timed out, the other side gone): nothing more is accepted."""
        if self._state not in FINAL:
            self._closed = self._closed or InvitationClosed
            step = (self._state, Event.ABANDON, State.FAILED)
            self.transitions.append(step)
            self._state = State.FAILED

    def _check_hello(self, hello: Hello) -> bytes:
        """T for a hello that passes every check, or the PairingError that refuses it."""
        if hello.invitation_id != self._inv.invitation_id:
            raise WrongInvitation()
        _check_member_fields(hello.vault, hello.devices, self._role == "newcomer", "hello")
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

    def _verify(
        self,
        cert: bytes,
        name: str,
        transcript: bytes,
        vault: bytes | None,
        devices: list[str] | None,
    ) -> None:
        self._peer, self._transcript = (cert, name), transcript
        if self._role == "newcomer":
            self._vault, self._devices = vault, devices
        self._fire(Event.VERIFIED)

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


def _check_member_fields(
    vault: bytes | None, devices: list[str] | None, from_member: bool, what: str
) -> None:
    """The member's message names the vault and its devices; the newcomer's names neither."""
    if (vault is not None) != from_member or (devices is not None) != from_member:
        raise MalformedPairingMessage(
            f"a {what} names the vault and its devices exactly when a member sent it"
        )


def _check_device_cert(cert: bytes) -> None:
    """Refuse anything but a self-signed CA:FALSE Ed25519 certificate over its own key."""
    try:
        key = load_certificate(cert).public_key()
    except UNREADABLE_CERT:
        raise BadCertificate("the other device's certificate cannot be read") from None
    if not isinstance(key, Ed25519PublicKey):
        raise BadCertificate("the other device's certificate is not over an Ed25519 key")
    try:
        check_certificate(cert, key.public_bytes_raw())
    except MalformedPayload as exc:
        raise BadCertificate(f"the other device's {exc}") from None
