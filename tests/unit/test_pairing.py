"""The pairing handshake: known answers, both flows end to end, and every refusal.

Two handshakes are joined in memory: each message crosses as its encoded bytes,
and the bytes are kept so a test can look at everything that went over the wire.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import hmac
import logging
from collections.abc import Callable
from typing import Literal, TypeVar

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

from twofold.protocol import cbor, pairing
from twofold.protocol.certificate import device_certificate, fingerprint
from twofold.protocol.errors import UsageError
from twofold.protocol.identity import DeviceKey
from twofold.protocol.invitation import InvalidInvitation, Invitation
from twofold.protocol.pairing import (
    TRANSITIONS,
    BadCertificate,
    Decision,
    Event,
    Handshake,
    Hello,
    HelloReply,
    InvitationClosed,
    InvitationExpired,
    InvitationUsed,
    MalformedPairingMessage,
    PairingError,
    PairingStateError,
    State,
    TooManyAttempts,
    WrongDevice,
    WrongInvitation,
    WrongSecret,
    confirmation_code,
    pairing_key,
    pairing_mac,
    transcript_hash,
)

MEMBER_CERT = device_certificate(DeviceKey(bytes([1]) * 32))
NEWCOMER_CERT = device_certificate(DeviceKey(bytes([2]) * 32))
RELAY_CERT = device_certificate(DeviceKey(bytes([9]) * 32))
INVITATION_ID = bytes([3]) * 8
SECRET = bytes([4]) * 16
NONCE = bytes([5]) * 16
VAULT = bytes([6]) * 16
ADDED_OP = bytes([8]) * 32
NOW = 1_790_000_000
Flow = Literal["member shows", "newcomer shows"]
FLOWS: list[Flow] = ["member shows", "newcomer shows"]
M = TypeVar("M", Hello, HelloReply, Decision)


def invitation(flow: Flow, secret: bytes = SECRET) -> Invitation:
    member_shows = flow == "member shows"
    return Invitation(
        shower_role="member" if member_shows else "newcomer",
        fingerprint=fingerprint(MEMBER_CERT if member_shows else NEWCOMER_CERT),
        addresses=("192.0.2.1",),
        port=51234,
        invitation_id=INVITATION_ID,
        secret=secret,
        expires_at=NOW + 600,
    )


def fixed(byte: int) -> Callable[[int], bytes]:
    return lambda n: bytes([byte]) * n


def shower(flow: Flow) -> Handshake:
    if flow == "member shows":
        return Handshake.shower(invitation(flow), MEMBER_CERT, "laptop", "member", VAULT)
    return Handshake.shower(invitation(flow), NEWCOMER_CERT, "phone", "newcomer")


def scanner(flow: Flow, inv: Invitation | None = None, nonce: int = 5) -> Handshake:
    inv = inv or invitation(flow)
    if flow == "member shows":
        return Handshake.scanner(inv, NEWCOMER_CERT, "phone", "newcomer", rng=fixed(nonce))
    return Handshake.scanner(inv, MEMBER_CERT, "laptop", "member", VAULT, rng=fixed(nonce))


def shower_cert(flow: Flow) -> bytes:
    return MEMBER_CERT if flow == "member shows" else NEWCOMER_CERT


class Wire:
    """Carries messages as bytes, and keeps every one of them."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def __call__(self, message: M) -> M:
        data = message.encode()
        self.sent.append(data)
        return type(message).decode(data)


def exchange(flow: Flow, wire: Wire | None = None) -> tuple[Handshake, Handshake, str]:
    """Scanner and shower after hello and reply: (member side, newcomer side, scanner's code)."""
    wire = wire or Wire()
    a, b = scanner(flow), shower(flow)
    code = a.on_reply(wire(b.on_hello(wire(a.hello()), NOW)), shower_cert(flow))
    return (b, a, code) if flow == "member shows" else (a, b, code)


# Known answers: member "laptop" (key 01..), newcomer "phone" (key 02..), id 03.., secret 04..,
# nonce 05... Member and newcomer are fixed by role, so T, mac_shower and the code are the same
# whichever side shows; T_hello differs because it leaves out the shower's name.
K = "168b7d36a19ef19a6e31881142e69a18e187f484465e6827afff769b2e5d9af8"
T = "9ebfa874caa5914fb5546ea23cfcb43fe747cb21c7f24eaf3ca78637cd14e0cf"
MAC_SHOWER = "83f476489bbbb8a50bc4f10b8a43cf9489b8ba4a2e8c3135b6d8de9b4cb5d8cf"
MAC_SCANNER = {
    "member shows": "13c4efa07eb3f6385d25ac26dd7ffd7a47f7b52724bc739604ef9caef66487ac",
    "newcomer shows": "efe6e4f112ca27a3a846e068aafc005869ef9927536bbb330ad87250000a735c",
}
CODE = "039 320"
HELLO_SHA256 = {
    "member shows": "b77d45ec4ecd30b9e3283b58e277b405138b245a72ddeacdd10b1b1480639624",
    "newcomer shows": "6278cc2e8473aef1ce982deca7302de6c93dabaf10b6b734411f4be09f354e16",
}


def known_transcript(member_name: str = "laptop", newcomer_name: str = "phone") -> bytes:
    return transcript_hash(
        INVITATION_ID,
        fingerprint(MEMBER_CERT),
        fingerprint(NEWCOMER_CERT),
        newcomer_name,
        member_name,
        NONCE,
    )


def test_known_answers() -> None:
    key = pairing_key(SECRET, INVITATION_ID)
    t = known_transcript()
    assert key.hex() == K
    assert t.hex() == T
    assert pairing_mac(key, b"shower", t).hex() == MAC_SHOWER
    assert (
        pairing_mac(key, b"scanner", known_transcript(member_name="")).hex()
        == (MAC_SCANNER["member shows"])
    )
    assert (
        pairing_mac(key, b"scanner", known_transcript(newcomer_name="")).hex()
        == (MAC_SCANNER["newcomer shows"])
    )
    assert confirmation_code(key, t) == CODE


def test_the_key_is_rfc_5869_hkdf_and_the_transcript_is_laid_out_as_specified() -> None:
    prk = hmac.digest(INVITATION_ID, SECRET, "sha256")
    assert hmac.digest(prk, b"twofold/pair/v1/key\x01", "sha256").hex() == K
    layout = (
        b"twofold/pair/v1\x00"
        + INVITATION_ID
        + fingerprint(MEMBER_CERT)
        + fingerprint(NEWCOMER_CERT)
        + b"\x00\x05phone\x00\x06laptop"
        + NONCE
    )
    assert hashlib.sha256(layout).hexdigest() == T
    confirm = hmac.digest(bytes.fromhex(K), b"confirm" + bytes.fromhex(T), "sha256")
    digits = f"{int.from_bytes(confirm[:4], 'big') % 1_000_000:06d}"
    assert f"{digits[:3]} {digits[3:]}" == CODE


@pytest.mark.parametrize("flow", FLOWS)
def test_the_handshake_sends_the_known_answers(flow: Flow) -> None:
    a, b = scanner(flow), shower(flow)
    hello = a.hello()
    reply = b.on_hello(hello, NOW)
    assert hello.mac.hex() == MAC_SCANNER[flow]
    assert reply.mac.hex() == MAC_SHOWER
    assert a.on_reply(reply, shower_cert(flow)) == b.confirmation_code == CODE
    assert hashlib.sha256(hello.encode()).hexdigest() == HELLO_SHA256[flow]


def both_decide(
    member: Handshake, newcomer: Handshake, member_says: bool, newcomer_says: bool, first: str
) -> Wire:
    """Play both people's decisions as the daemons carry them, in the order given; a side whose
    pairing already ended is not asked."""
    wire = Wire()
    for side in (first, "newcomer" if first == "member" else "member"):
        if side == "newcomer" and newcomer.state in (State.CONFIRMING, State.PEER_ACCEPTED):
            told = newcomer.decide(newcomer_says)
            assert told is not None
            assert told.added_op is None
            member.on_decision(wire(told))
        elif side == "member" and member.state in (State.CONFIRMING, State.PEER_ACCEPTED):
            told = member.decide(member_says)
            assert (told is None) == member_says
            if told is not None:
                newcomer.on_decision(wire(told))
        if member.state is State.ACCEPTED and member.added_op is None:
            newcomer.on_decision(wire(member.added(ADDED_OP)))
    return wire


@pytest.mark.parametrize("flow", FLOWS)
@pytest.mark.parametrize("first", ["member", "newcomer"])
@pytest.mark.parametrize(
    ("member_says", "newcomer_says"), [(True, True), (True, False), (False, True), (False, False)]
)
def test_a_full_handshake_ends_the_same_on_both_sides(
    flow: Flow, first: str, member_says: bool, newcomer_says: bool
) -> None:
    wire = Wire()
    member, newcomer, scanner_code = exchange(flow, wire)
    assert scanner_code == member.confirmation_code == newcomer.confirmation_code
    assert member.state is newcomer.state is State.CONFIRMING
    assert (member.peer_name, newcomer.peer_name) == ("phone", "laptop")
    assert (member.peer_cert, newcomer.peer_cert) == (NEWCOMER_CERT, MEMBER_CERT)
    assert member.peer_fingerprint == fingerprint(NEWCOMER_CERT)
    assert newcomer.peer_fingerprint == fingerprint(MEMBER_CERT)
    assert member.vault == newcomer.vault == VAULT
    assert newcomer.vault_devices == member.vault_devices == ["laptop"]
    wire.sent += both_decide(member, newcomer, member_says, newcomer_says, first).sent
    both = member_says and newcomer_says
    end = State.ACCEPTED if both else State.DECLINED
    assert member.state == newcomer.state == end
    assert newcomer.added_op == member.added_op == (ADDED_OP if both else None)
    for data in wire.sent:
        assert SECRET not in data
        assert bytes.fromhex(K) not in data


@pytest.mark.parametrize("flow", FLOWS)
def test_the_member_cannot_accept_for_a_newcomer_that_has_not(flow: Flow) -> None:
    """A member (or whoever showed a person a QR code) that sends its yes first gets nothing:
    the newcomer moves in only after its own person's yes."""
    member, newcomer, _ = exchange(flow)
    with pytest.raises(PairingStateError):
        member.added(ADDED_OP)  # only after both said yes
    assert member.decide(True) is None
    with pytest.raises(PairingStateError):
        member.added(ADDED_OP)
    with pytest.raises(PairingStateError, match="before this device's person"):
        newcomer.on_decision(Decision(True, ADDED_OP))
    assert newcomer.state is State.CONFIRMING
    assert newcomer.added_op is None
    newcomer.on_decision(Decision(False))
    assert newcomer.state is State.DECLINED
    assert newcomer.added_op is None


@pytest.mark.parametrize("flow", FLOWS)
def test_each_side_says_only_what_its_role_may(flow: Flow) -> None:
    member, newcomer, _ = exchange(flow)
    with pytest.raises(MalformedPairingMessage, match="names an op"):
        member.on_decision(Decision(True, ADDED_OP))
    assert member.state is State.CONFIRMING
    member.on_decision(newcomer.decide(True) or Decision(False))
    assert (member.state, newcomer.state) == (State.PEER_ACCEPTED, State.AWAITING_PEER)
    with pytest.raises(MalformedPairingMessage, match="names no op"):
        newcomer.on_decision(Decision(True))
    assert newcomer.state is State.AWAITING_PEER
    assert member.decide(True) is None
    with pytest.raises(UsageError):
        member.added(bytes(31))
    newcomer.on_decision(member.added(ADDED_OP))
    assert member.state is newcomer.state is State.ACCEPTED
    with pytest.raises(PairingStateError):
        newcomer.on_decision(Decision(False))


@pytest.mark.parametrize("flow", FLOWS)
def test_abandoning_ends_a_pairing_on_this_side(flow: Flow) -> None:
    member, newcomer, _ = exchange(flow)
    newcomer.abandon()
    assert newcomer.state is State.FAILED
    with pytest.raises(PairingStateError):
        newcomer.decide(True)
    with pytest.raises(PairingStateError):
        newcomer.on_decision(Decision(True, ADDED_OP))
    b = shower(flow)
    b.abandon()
    with pytest.raises(InvitationClosed):
        b.on_hello(scanner(flow).hello(), NOW)
    member.decide(False)
    member.abandon()  # a final state stays as it is
    assert member.state is State.DECLINED


def test_the_transitions_are_logged_and_traced(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="twofold.protocol.pairing")
    member, newcomer, _ = exchange("newcomer shows")
    both_decide(member, newcomer, True, True, "member")
    assert member.transitions == [
        (State.START, Event.SEND_HELLO, State.HELLO_SENT),
        (State.HELLO_SENT, Event.VERIFIED, State.CONFIRMING),
        (State.CONFIRMING, Event.ACCEPT, State.AWAITING_PEER),
        (State.AWAITING_PEER, Event.PEER_ACCEPTED, State.ACCEPTED),
    ]
    assert newcomer.transitions == [
        (State.LISTENING, Event.VERIFIED, State.CONFIRMING),
        (State.CONFIRMING, Event.ACCEPT, State.AWAITING_PEER),
        (State.AWAITING_PEER, Event.PEER_ACCEPTED, State.ACCEPTED),
    ]
    assert "pairing member scanner: START --send_hello--> HELLO_SENT" in caplog.messages
    assert len(caplog.messages) == 7


def test_the_module_docstring_lists_every_transition_of_the_table() -> None:
    doc = pairing.__doc__ or ""
    for (start, event), end in TRANSITIONS.items():
        assert f"    {start.value} --{event.value}--> {end.value}\n" in doc
    assert doc.count("-->") == len(TRANSITIONS)


@pytest.mark.parametrize("flow", FLOWS)
def test_a_wrong_secret_is_refused_and_changes_nothing_else(flow: Flow) -> None:
    b = shower(flow)
    tampered = scanner(flow, invitation(flow, secret=bytes([44]) * 16))
    with pytest.raises(WrongSecret, match="scan the QR code again, or open a new invitation"):
        b.on_hello(tampered.hello(), NOW)
    assert b.state is State.LISTENING
    with pytest.raises(PairingStateError):
        b.peer_cert  # noqa: B018 - the property is the thing under test
    a = scanner(flow)
    a.on_reply(b.on_hello(a.hello(), NOW), shower_cert(flow))
    assert a.confirmation_code == b.confirmation_code == CODE


def test_after_five_failed_attempts_even_the_right_secret_is_refused() -> None:
    b = shower("member shows")
    for n in range(5):
        with pytest.raises(WrongSecret if n < 4 else TooManyAttempts):
            b.on_hello(
                scanner("member shows", invitation("member shows", bytes([n + 10]) * 16)).hello(),
                NOW,
            )
    assert b.state is State.FAILED
    for _ in range(2):
        with pytest.raises(TooManyAttempts, match="this invitation is closed; open a new one"):
            b.on_hello(scanner("member shows").hello(), NOW)


def test_four_failed_attempts_still_leave_room_for_the_right_one() -> None:
    b = shower("member shows")
    good = scanner("member shows").hello()
    for bad in (
        dataclasses.replace(good, mac=bytes(32)),
        dataclasses.replace(good, invitation_id=bytes(8)),
        dataclasses.replace(good, vault=VAULT),
        dataclasses.replace(good, name="phone2"),
    ):
        with pytest.raises(PairingError):
            b.on_hello(bad, NOW)
    b.on_hello(good, NOW)
    assert b.state is State.CONFIRMING


def test_every_kind_of_refused_hello_counts_as_an_attempt() -> None:
    b = shower("member shows")
    good = scanner("member shows").hello()
    refusals: list[tuple[Hello, type[PairingError]]] = [
        (dataclasses.replace(good, invitation_id=bytes(8)), WrongInvitation),
        (dataclasses.replace(good, vault=VAULT), MalformedPairingMessage),
        (forged_hello(b"not a certificate"), BadCertificate),
        (dataclasses.replace(good, nonce=bytes(16)), WrongSecret),
        (forged_hello(MEMBER_CERT), TooManyAttempts),  # the fifth: a BadCertificate
    ]
    for hello, error in refusals:
        with pytest.raises(error):
            b.on_hello(hello, NOW)
    with pytest.raises(TooManyAttempts):
        b.on_hello(good, NOW)


def test_an_expired_invitation_refuses_every_hello() -> None:
    a, b = scanner("member shows"), shower("member shows")
    hello = a.hello()
    with pytest.raises(InvitationExpired, match="expired: open a new one"):
        b.on_hello(hello, NOW + 600)
    assert b.state is State.FAILED
    with pytest.raises(InvitationExpired):
        b.on_hello(hello, NOW)
    assert shower("member shows").on_hello(hello, NOW + 599)


@pytest.mark.parametrize("flow", FLOWS)
@pytest.mark.parametrize("accepted", [None, True, False])
def test_an_invitation_is_used_once(flow: Flow, accepted: bool | None) -> None:
    member, newcomer, _ = exchange(flow)
    if accepted is not None:
        both_decide(member, newcomer, accepted, True, "newcomer")
    b = member if flow == "member shows" else newcomer
    state = b.state
    with pytest.raises(InvitationUsed, match="already used"):
        b.on_hello(scanner(flow, nonce=6).hello(), NOW)
    assert b.state is state


def device_cert(subject: int, signer: int, ca: bool = False) -> bytes:
    subject_key = Ed25519PrivateKey.from_private_bytes(bytes([subject]) * 32)
    signer_key = Ed25519PrivateKey.from_private_bytes(bytes([signer]) * 32)
    return certificate(subject_key.public_key(), signer_key, ca, None)


def certificate(public: object, signer: object, ca: bool, algorithm: object) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "twofold test")])
    when = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)  # type: ignore[arg-type]  # any key type, on purpose
        .serial_number(1)
        .not_valid_before(when)
        .not_valid_after(when.replace(year=9999))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(signer, algorithm)  # type: ignore[arg-type]  # any key type, on purpose
        .public_bytes(serialization.Encoding.DER)
    )


def ec_cert() -> bytes:
    key = ec.derive_private_key(12345, ec.SECP256R1())
    return certificate(key.public_key(), key, False, hashes.SHA256())


def forged_hello(cert: bytes, name: str = "phone") -> Hello:
    """A hello with a right MAC over any certificate: what a scanner holding the secret sends."""
    key = pairing_key(SECRET, INVITATION_ID)
    t_hello = transcript_hash(
        INVITATION_ID, fingerprint(MEMBER_CERT), fingerprint(cert), name, "", NONCE
    )
    return Hello(INVITATION_ID, cert, name, NONCE, pairing_mac(key, b"scanner", t_hello))


@pytest.mark.parametrize(
    ("cert", "words"),
    [
        (device_cert(2, 2), None),
        (device_cert(2, 3), "not signed by its own key"),
        (device_cert(2, 2, ca=True), "CA:FALSE"),
        (ec_cert(), "not over an Ed25519 key"),
        (b"\x30\x03\x02\x01\x00", "cannot be read"),
        (MEMBER_CERT, "this device's own certificate"),
    ],
)
def test_the_scanner_certificate_must_be_a_device_certificate(
    cert: bytes, words: str | None
) -> None:
    b = shower("member shows")
    if words is None:
        b.on_hello(forged_hello(cert), NOW)
        assert b.peer_cert == cert
        return
    with pytest.raises(BadCertificate, match=words):
        b.on_hello(forged_hello(cert), NOW)
    assert b.state is State.LISTENING


@pytest.mark.parametrize("flow", FLOWS)
def test_a_relay_posing_as_the_shower_is_caught_by_the_pinned_fingerprint(flow: Flow) -> None:
    a, b = scanner(flow), shower(flow)
    reply = b.on_hello(a.hello(), NOW)
    with pytest.raises(WrongDevice, match="someone may be in between"):
        a.on_reply(reply, RELAY_CERT)
    assert a.state is State.FAILED
    with pytest.raises(PairingStateError):
        a.on_reply(reply, shower_cert(flow))


@pytest.mark.parametrize("flow", FLOWS)
@pytest.mark.parametrize("change", [{"cert": RELAY_CERT}, {"name": "relay"}, {"nonce": bytes(16)}])
def test_a_relay_that_changes_the_hello_is_caught_by_the_mac(
    flow: Flow, change: dict[str, object]
) -> None:
    b = shower(flow)
    with pytest.raises(WrongSecret):
        b.on_hello(dataclasses.replace(scanner(flow).hello(), **change), NOW)  # type: ignore[arg-type]


@pytest.mark.parametrize("flow", FLOWS)
def test_a_changed_reply_is_caught_by_the_mac(flow: Flow) -> None:
    a, b = scanner(flow), shower(flow)
    reply = b.on_hello(a.hello(), NOW)
    with pytest.raises(WrongSecret):
        a.on_reply(dataclasses.replace(reply, name="someone else"), shower_cert(flow))
    assert a.state is State.FAILED


@pytest.mark.parametrize("flow", FLOWS)
@pytest.mark.parametrize("field", ["vault", "devices"])
def test_a_reply_names_the_vault_exactly_when_the_member_sent_it(flow: Flow, field: str) -> None:
    a, b = scanner(flow), shower(flow)
    reply = b.on_hello(a.hello(), NOW)
    wrong = dataclasses.replace(
        reply, **{field: None if getattr(reply, field) else {"vault": VAULT, "devices": []}[field]}
    )
    with pytest.raises(MalformedPairingMessage):
        a.on_reply(wrong, shower_cert(flow))


def test_the_newcomer_sees_the_vaults_devices_and_hidden_characters_are_shown() -> None:
    inv = invitation("member shows")
    names = ["laptop", "Zoë's phone", "evil\u202egnp.exe"]
    b = Handshake.shower(inv, MEMBER_CERT, "laptop", "member", VAULT, devices=names)
    a = scanner("member shows")
    a.on_reply(b.on_hello(a.hello(), NOW), MEMBER_CERT)
    shown = a.vault_devices
    assert shown[:2] == names[:2]
    assert "\u202e" not in shown[2]
    assert shown[2].startswith("evil")
    with pytest.raises(UsageError):
        Handshake.shower(inv, MEMBER_CERT, "lap\u202etop", "member", VAULT)


@pytest.mark.parametrize("flow", FLOWS)
def test_nobody_decides_before_a_verified_exchange(flow: Flow) -> None:
    early_scanner, early_shower = scanner(flow), shower(flow)
    for early in (early_scanner, early_shower):
        for accept in (True, False):
            with pytest.raises(PairingStateError):
                early.decide(accept)
        with pytest.raises(PairingStateError):
            early.on_decision(Decision(False))
        with pytest.raises(PairingStateError):
            early.confirmation_code  # noqa: B018 - the property is the thing under test
    member, newcomer, _ = exchange(flow)
    decision = member.decide(False)
    assert decision == Decision(False)
    with pytest.raises(PairingStateError):
        member.decide(True)
    newcomer.on_decision(decision)
    with pytest.raises(PairingStateError):
        newcomer.on_decision(decision)


def test_each_side_refuses_the_steps_of_the_other() -> None:
    a, b = scanner("member shows"), shower("member shows")
    with pytest.raises(PairingStateError):
        b.hello()
    with pytest.raises(PairingStateError):
        b.on_reply(HelloReply("x", bytes(32)), MEMBER_CERT)
    hello = a.hello()
    with pytest.raises(PairingStateError):
        a.hello()
    with pytest.raises(PairingStateError):
        a.on_hello(hello, NOW)


@pytest.mark.parametrize(
    ("flow", "own_role", "words"),
    [
        ("member shows", "member", "open it on the device you want to add"),
        ("newcomer shows", "newcomer", "scan it from a member"),
    ],
)
def test_scanning_a_link_meant_for_the_other_kind_of_device(
    flow: Flow, own_role: Literal["member", "newcomer"], words: str
) -> None:
    vault = VAULT if own_role == "member" else None
    with pytest.raises(InvalidInvitation, match=words):
        Handshake.scanner(invitation(flow), RELAY_CERT, "tablet", own_role, vault)


def test_a_device_cannot_scan_its_own_link() -> None:
    with pytest.raises(InvalidInvitation, match="this device made the link"):
        Handshake.scanner(invitation("newcomer shows"), NEWCOMER_CERT, "phone", "member", VAULT)


@pytest.mark.parametrize(
    ("cert", "name", "role", "vault"),
    [
        (RELAY_CERT, "laptop", "member", VAULT),
        (MEMBER_CERT, "laptop", "newcomer", None),
        (MEMBER_CERT, "laptop", "member", None),
        (MEMBER_CERT, "laptop", "member", bytes(15)),
        (MEMBER_CERT, "", "member", VAULT),
        (MEMBER_CERT, "x" * 65, "member", VAULT),
        (MEMBER_CERT, "line\nbreak", "member", VAULT),
    ],
)
def test_the_shower_refuses_arguments_that_break_the_rules(
    cert: bytes, name: str, role: Literal["member", "newcomer"], vault: bytes | None
) -> None:
    with pytest.raises(UsageError):
        Handshake.shower(invitation("member shows"), cert, name, role, vault)


@pytest.mark.parametrize(
    "message",
    [
        Hello(INVITATION_ID, MEMBER_CERT, "laptop", NONCE, bytes(32), VAULT),
        Hello(INVITATION_ID, NEWCOMER_CERT, "phone ☎", NONCE, bytes(32)),
        HelloReply("laptop", bytes(32), VAULT),
        HelloReply("phone", bytes(32)),
        Decision(True, ADDED_OP),
        Decision(True),
        Decision(False),
    ],
)
def test_messages_round_trip(message: Hello | HelloReply | Decision) -> None:
    assert type(message).decode(message.encode()) == message


GOOD_HELLO = {
    "id": INVITATION_ID,
    "cert": MEMBER_CERT,
    "name": "x",
    "nonce": NONCE,
    "mac": NONCE * 2,
}


@pytest.mark.parametrize(
    ("kind", "fields", "words"),
    [
        (Hello, GOOD_HELLO | {"extra": 1}, "unknown fields: 'extra'"),
        (Hello, {k: v for k, v in GOOD_HELLO.items() if k != "mac"}, "'mac' must be 32 bytes"),
        (Hello, GOOD_HELLO | {"id": bytes(9)}, "'id' must be 8 bytes"),
        (Hello, GOOD_HELLO | {"cert": b""}, "'cert' must be a DER certificate"),
        (Hello, GOOD_HELLO | {"cert": bytes(1025)}, "'cert' must be a DER certificate"),
        (Hello, GOOD_HELLO | {"name": ""}, "'name' must be text of 1 to 64"),
        (Hello, GOOD_HELLO | {"name": "a\x00b"}, "'name' must be text"),
        (Hello, GOOD_HELLO | {"vault": "v" * 16}, "'vault' must be 16 bytes"),
        (HelloReply, {"name": "x", "mac": "m" * 32}, "'mac' must be 32 bytes"),
        (HelloReply, ["x", bytes(32)], "not a CBOR map"),
        (Decision, {"ok": 1}, "'ok' must be true or false"),
        (Decision, {"ok": False, "op": ADDED_OP}, "a decline carries no op"),
    ],
)
def test_a_malformed_message_is_refused_in_words(
    kind: type[Hello | HelloReply | Decision], fields: object, words: str
) -> None:
    with pytest.raises(MalformedPairingMessage, match=words):
        kind.decode(cbor.dumps(fields))


def test_undecodable_bytes_are_a_malformed_message() -> None:
    with pytest.raises(MalformedPairingMessage, match="cannot read: update both devices"):
        Hello.decode(b"\xa1")


values = st.one_of(
    st.integers(), st.binary(max_size=40), st.text(max_size=70), st.none(), st.booleans()
)
keys = st.sampled_from(["id", "cert", "name", "nonce", "mac", "vault", "ok", "op"])


@given(
    st.sampled_from([Hello, HelloReply, Decision]),
    st.one_of(st.binary(), st.dictionaries(keys | st.text(max_size=3), values).map(cbor.dumps)),
)
def test_any_bytes_are_a_message_or_a_malformed_message(
    kind: type[Hello | HelloReply | Decision], data: bytes
) -> None:
    try:
        message = kind.decode(data)
    except MalformedPairingMessage:
        return
    assert kind.decode(message.encode()) == message


@pytest.mark.parametrize("flow", FLOWS)
@pytest.mark.parametrize("who", ["member", "newcomer"])
def test_a_yes_can_be_taken_back_until_the_other_side_answers(flow: Flow, who: str) -> None:
    member, newcomer, _ = exchange(flow)
    first, other = (member, newcomer) if who == "member" else (newcomer, member)
    told = first.decide(True)
    if told is not None:  # the newcomer's yes travels at once
        other.on_decision(told)
    withdrawn = first.decide(False)
    assert withdrawn == Decision(False)
    other.on_decision(withdrawn)
    assert member.state is newcomer.state is State.DECLINED
    assert member.added_op is newcomer.added_op is None
