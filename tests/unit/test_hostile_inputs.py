"""Hostile input answered with the project's own errors, never a library's (issue 16, 1-4).

Each case is one a fuzzer found: a password or a field holding a lone surrogate, a CBOR
integer too long to print, a certificate naming an unknown key algorithm.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from typing import Any

import cbor2
import pytest

from tests.unit.fleet import NOW, cert, device, fleet
from tests.unit.formats.keys import HELLO
from tests.unit.formats.test_aegis import EVERY_TYPE, dump, sealed_vault
from twofold.protocol import account_write, backup, cbor, membership_bodies
from twofold.protocol.account import AccountDraft, OtpParams, check_label
from twofold.protocol.certificate import check_certificate
from twofold.protocol.envelope import ZERO_HASH, OpKind, seal_op
from twofold.protocol.errors import (
    InputError,
    InvalidAccount,
    MalformedPayload,
    TwofoldError,
    UnreadableImport,
    WrongPassword,
)
from twofold.protocol.formats import (
    aegis,
    andotp,
    bitwarden,
    ente,
    freeotp,
    kdf,
    proton,
    registry,
    twofas,
)
from twofold.protocol.formats.password import password_bytes
from twofold.protocol.invitation import PREFIX, InvalidInvitation, Invitation
from twofold.protocol.keywrap import seal
from twofold.protocol.membership_bodies import DeviceAdded
from twofold.protocol.otpauth import with_label
from twofold.protocol.pairing import (
    BadCertificate,
    Decision,
    Hello,
    HelloReply,
    MalformedPairingMessage,
    _check_device_cert,
)
from twofold.protocol.sync import SyncMachine
from twofold.protocol.text import is_text, quoted
from twofold.protocol.vault import Vault

LONE = "\ud800"  # half of a UTF-16 pair: JSON carries it as "\ud800", UTF-8 cannot
HUGE = 10**4300  # one digit more than Python turns into a string by default
_B64 = base64.b64encode


def _b64(n: int) -> str:
    return _B64(bytes(n)).decode()


def _json(doc: object) -> bytes:
    return json.dumps(doc).encode()


# -- 1. A password holding a lone surrogate ------------------------------------------------

_ENC = f"2.{_b64(16)}|{_b64(16)}|{_b64(32)}"

# Files whose shape is right: each reader gets as far as the password. Their KDF costs
# are the costliest each allows, so a test that ran the KDF would be slow: the password
# is refused before any key derivation.
ENCRYPTED = {
    "2fas": {
        "schemaVersion": 4,
        "servicesEncrypted": f"{_b64(32)}:{_b64(32)}:{_b64(12)}",
        "reference": f"{_b64(32)}:{_b64(32)}:{_b64(12)}",
    },
    "bitwarden": {
        "encrypted": True,
        "passwordProtected": True,
        "salt": "salt",
        "kdfType": 1,
        "kdfIterations": 4,
        "kdfMemory": 1024,
        "kdfParallelism": 4,
        "encKeyValidation_DO_NOT_EDIT": _ENC,
        "data": _ENC,
    },
    "ente": {
        "version": 1,
        "kdfParams": {"memLimit": 1 << 30, "opsLimit": 4, "salt": _b64(16)},
        "encryptedData": _b64(64),
        "encryptionNonce": _b64(24),
    },
    "proton": {"version": 1, "salt": _b64(16), "content": _b64(64)},
}
READERS = {"2fas": twofas, "bitwarden": bitwarden, "ente": ente, "proton": proton}


@pytest.mark.parametrize("password", [LONE, f"correct{LONE}horse", "\udfff"])
@pytest.mark.parametrize("format", sorted(ENCRYPTED))
def test_a_password_that_is_not_text_is_a_wrong_password(format: str, password: str) -> None:
    data = _json(ENCRYPTED[format])
    with pytest.raises(WrongPassword):
        READERS[format].parse(data, password)
    with pytest.raises(WrongPassword):
        registry.read(data, password=password)


def test_aegis_answers_such_a_password_the_same_way() -> None:
    data = dump(sealed_vault(EVERY_TYPE))
    with pytest.raises(WrongPassword):
        aegis.parse(data, LONE)


def test_the_one_helper_says_wrong_password_and_passphrases_go_through_it() -> None:
    assert password_bytes("pässword") == "pässword".encode()
    assert is_text("pässword")
    assert not is_text(f"a{LONE}")
    with pytest.raises(WrongPassword):
        password_bytes(LONE)
    with pytest.raises(WrongPassword):
        kdf.passphrase_bytes(f"ten characters {LONE}")


CHEAP = {"opslimit": 1, "memlimit": 8192}


def test_a_backup_opened_with_such_a_passphrase_is_a_wrong_passphrase() -> None:
    sealed = backup.seal([], passphrase="a good long passphrase", created_ms=NOW, **CHEAP)
    with pytest.raises(backup.WrongPassphrase, match="passphrase is wrong"):
        backup.parse(sealed, f"a good long passphrase{LONE}")


def test_a_backup_is_never_sealed_under_such_a_passphrase() -> None:
    with pytest.raises(InputError, match="lone surrogate") as caught:
        backup.seal([], passphrase=f"a good long passphrase{LONE}", created_ms=NOW, **CHEAP)
    assert not isinstance(caught.value, WrongPassword)
    assert caught.value.field == "passphrase"


def test_a_recovery_key_that_is_not_text_is_a_bad_recovery_key() -> None:
    sealed = backup.seal([], recovery_key=backup.new_recovery_key(), created_ms=NOW)
    with pytest.raises(backup.BadRecoveryKey):
        backup.parse(sealed, LONE * 32)


# -- 2. A lone surrogate inside a file ------------------------------------------------------


def test_a_bitwarden_salt_holding_a_lone_surrogate_is_an_unreadable_file() -> None:
    doc = {**ENCRYPTED["bitwarden"], "salt": LONE}
    for password in (None, "anything"):
        with pytest.raises(UnreadableImport, match="salt"):
            bitwarden.parse(_json(doc), password)


def _bitwarden_item(name: str, username: str, totp: str) -> dict[str, Any]:
    return {"type": 1, "name": name, "login": {"username": username, "totp": totp}}


@pytest.mark.parametrize(
    ("name", "username"), [(LONE, "alice"), ("Example", LONE), ("Ex" + LONE, "al" + LONE)]
)
def test_a_bitwarden_label_holding_a_lone_surrogate_fails_alone(name: str, username: str) -> None:
    unlabelled = f"otpauth://totp/?secret={HELLO}"
    doc = {
        "encrypted": False,
        "items": [
            _bitwarden_item(name, username, unlabelled),
            _bitwarden_item("Fine", "bob", unlabelled),
        ],
    }
    parsed = bitwarden.parse(_json(doc))
    assert [(a.draft.issuer, a.draft.name) for a in parsed.accounts] == [("Fine", "bob")]
    (failure,) = parsed.failures
    assert "lone surrogate" in failure.reason
    assert failure.source.startswith("entry 1")
    assert is_text(failure.source)
    assert is_text(failure.reason)


def test_a_proton_name_holding_a_lone_surrogate_fails_alone() -> None:
    def entry(name: str) -> dict[str, Any]:
        uri = f"otpauth://totp/?secret={HELLO}&issuer=Example"
        return {"id": "x", "content": {"uri": uri, "entry_type": "Totp", "name": name}}

    doc = {"version": 1, "entries": [entry(f"alice{LONE}"), entry("bob")]}
    parsed = proton.parse(_json(doc))
    assert [a.draft.name for a in parsed.accounts] == ["bob"]
    (failure,) = parsed.failures
    assert "lone surrogate" in failure.reason
    assert is_text(failure.source)
    assert is_text(failure.reason)


def test_with_label_refuses_what_no_uri_can_carry() -> None:
    with pytest.raises(InvalidAccount, match="name holds a lone surrogate"):
        with_label(f"otpauth://totp/?secret={HELLO}", "Example", LONE)
    labelled = with_label(f"otpauth://totp/?secret={HELLO}", "Ex:ample", "al ice")
    assert labelled == f"otpauth://totp/Ex%3Aample:al%20ice?secret={HELLO}"


def test_a_label_with_a_lone_surrogate_is_named_as_such() -> None:
    with pytest.raises(InvalidAccount, match=r"issuer must not hold .* lone surrogates"):
        check_label(f"a{LONE}", "issuer")
    with pytest.raises(InvalidAccount, match="name must not hold control characters"):
        check_label("a\tb", "name")


PLAIN: dict[Any, Any] = {
    twofas: {
        "schemaVersion": 4,
        "services": [
            {
                "name": "Example",
                "secret": HELLO,
                "otp": {
                    "account": "alice",
                    "label": "label",
                    "issuer": "issuer",
                    "digits": 6,
                    "period": 30,
                    "algorithm": "SHA1",
                    "counter": 1,
                    "tokenType": "HOTP",
                },
            }
        ],
    },
    bitwarden: {
        "encrypted": False,
        "items": [
            {**_bitwarden_item("n", "u", f"otpauth://totp/?secret={HELLO}"), "notes": "x"},
            _bitwarden_item("n", "u", HELLO),
            _bitwarden_item("n", "u", f"steam://{HELLO}"),
        ],
    },
    proton: {
        "version": 1,
        "entries": [
            {
                "id": "x",
                "content": {
                    "uri": f"otpauth://totp/?secret={HELLO}&issuer=I",
                    "entry_type": "Totp",
                    "name": "n",
                },
                "note": "x",
            },
            {"id": "y", "content": {"uri": "steam://AAAA", "entry_type": "Steam", "name": "s"}},
        ],
    },
    andotp: [
        {
            "secret": HELLO,
            "label": "a - b",
            "issuer": "i",
            "type": "HOTP",
            "digits": 6,
            "algorithm": "SHA1",
            "counter": 0,
        },
        {"secret": HELLO, "label": "a - b", "type": "TOTP", "period": 30},
    ],
    freeotp: {
        "tokenOrder": ["a"],
        "tokens": [
            {
                "type": "HOTP",
                "secret": list(range(10)),
                "issuerExt": "I",
                "issuerAlt": "A",
                "label": "L",
                "labelAlt": "LA",
                "algo": "SHA1",
                "digits": 6,
                "period": 30,
                "counter": 0,
            }
        ],
    },
    aegis: {"version": 1, "header": {"slots": None, "params": None}, "db": EVERY_TYPE},
}
SWEEP = [*PLAIN.items(), *((READERS[name], doc) for name, doc in ENCRYPTED.items())]


def _paths(doc: object, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    children = (
        doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    )
    for key, value in children:
        yield from _paths(value, (*path, key))


def _with(doc: object, path: tuple[Any, ...], value: object) -> object:
    if not path:
        return value
    changed = copy.deepcopy(doc)
    target: Any = changed
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return changed


@pytest.mark.parametrize(("reader", "doc"), SWEEP, ids=[r.FORMAT for r, _ in SWEEP])
def test_a_lone_surrogate_anywhere_in_a_file_is_answered_by_our_own_errors(
    reader: Any, doc: object
) -> None:
    """Every field of a file, in turn, replaced by text holding a lone surrogate."""
    for path in _paths(doc):
        data = _json(_with(doc, path, f"x{LONE}"))
        for password in (None, "password"):
            try:
                parsed = reader.parse(data, password)
            except TwofoldError:
                continue
            for failure in parsed.failures:
                assert is_text(failure.source + failure.reason), path
            for account in parsed.accounts:
                assert is_text(account.draft.issuer + account.draft.name + account.draft.note)


# -- 3. CBOR integers too long to print, and other things no Twofold message holds ----------


@pytest.mark.parametrize("message", [Hello, HelloReply, Decision])
@pytest.mark.parametrize(
    "body",
    [{HUGE: 0}, {-HUGE: 0}, {"name": HUGE}, {(HUGE,): 0}],
    ids=["key", "negative-key", "value", "key-in-array"],
)
def test_a_pairing_message_with_a_huge_integer_is_malformed(message: Any, body: object) -> None:
    with pytest.raises(MalformedPairingMessage):
        message.decode(cbor2.dumps(body))


def test_an_unknown_pairing_field_is_named_briefly() -> None:
    with pytest.raises(MalformedPairingMessage) as caught:
        Hello.decode(cbor2.dumps({"x" * 5000: 0, 2**64 - 1: 1}))
    assert len(str(caught.value)) < 300


@pytest.mark.parametrize(
    "value",
    [
        HUGE,
        2**64,
        -(2**64) - 1,
        cbor2.CBORTag(1, 0),  # a date
        cbor2.CBORTag(35, "(a+)+$"),  # a regular expression
        cbor2.CBORTag(258, [1, 2]),  # a set
        cbor2.CBORTag(9999, 1),  # a tag nobody knows
        {"k": cbor2.undefined},
        [cbor2.CBORSimpleValue(99)],
    ],
    ids=["huge", "2^64", "-2^64-1", "date", "regex", "set", "unknown-tag", "undefined", "simple"],
)
def test_cbor_that_twofold_never_writes_is_refused(value: object) -> None:
    with pytest.raises(MalformedPayload):
        cbor.loads(cbor2.dumps(value), "a message")


def test_cbor_within_what_twofold_writes_is_read() -> None:
    value = {"a": [2**64 - 1, -(2**64), 1.5, None, True, False, b"\xc2\xd8", "t"]}
    assert cbor.loads(cbor.dumps(value), "a message") == value
    assert cbor.loads(b"\x9f\x01\x7f\x61a\xff\xff", "indefinite") == [1, "a"]
    with pytest.raises(cbor.TrailingBytes):
        cbor.loads(b"\x01\x02", "a message")
    shared = bytes.fromhex("d81c81d81d00")  # a list holding itself, by shared reference
    with pytest.raises(MalformedPayload):
        cbor.loads(shared, "a message")


@pytest.mark.parametrize("kind", [k for k in OpKind if not k.encrypted])
def test_a_membership_body_with_a_huge_key_is_malformed(kind: OpKind) -> None:
    with pytest.raises(MalformedPayload):
        membership_bodies.decode(kind, cbor2.dumps({HUGE: 0}))


def test_unknown_membership_fields_are_named_briefly() -> None:
    body = cbor2.dumps({"name": "x", 2**64 - 1: 0, "y" * 3000: 0})
    with pytest.raises(MalformedPayload) as caught:
        membership_bodies.decode(OpKind.DEVICE_RENAMED, body)
    assert len(str(caught.value)) < 300


@pytest.mark.parametrize(
    "body",
    [
        {"account": bytes(16), "set": {HUGE: {"v": "x", "r": []}}},
        {"account": bytes(16), "set": {2**64 - 1: {"v": "x", "r": []}}},
        {"account": bytes(16), "counter": HUGE},
    ],
    ids=["huge-field", "long-field", "huge-counter"],
)
def test_an_account_write_with_a_huge_integer_is_malformed(body: object) -> None:
    with pytest.raises(MalformedPayload) as caught:
        account_write.decode(cbor2.dumps(body))
    assert len(str(caught.value)) < 300


def _signed_by(author: Vault, kind: OpKind, body: bytes) -> bytes:
    """An op the author signs with any body at all: what a stolen member device can send."""
    tip = author.chains[author.device.public][-1]
    epoch, key = ZERO_HASH, None
    if kind.encrypted:
        epoch = next(e for e in reversed(author.membership.epochs) if e in author.epoch_keys)
        key = author.epoch_keys[epoch]
    return seal_op(
        author.device,
        kind=kind,
        vault=author.vault,
        seq=tip.seq + 1,
        prev=tip.hash,
        hlc=tip.hlc + 1,
        epoch=epoch,
        body=body,
        epoch_key=key,
    )


@pytest.mark.parametrize("kind", [OpKind.DEVICE_ADDED, OpKind.DEVICE_RENAMED, OpKind.ACCOUNT_WRITE])
def test_a_member_signed_op_with_a_huge_key_is_refused_as_malformed(kind: OpKind) -> None:
    a, b = fleet(2)
    raw = _signed_by(a, kind, cbor2.dumps({HUGE: 0}))
    with pytest.raises(MalformedPayload, match="CBOR tag"):
        b.receive(raw, NOW)


@pytest.mark.parametrize(
    "data",
    [
        b"\xa2\x61a\x00\x61a\x01",  # {"a": 0, "a": 1}
        b"\xbf\x61a\x00\x61a\x01\xff",  # the same, of indefinite length
        b"\xa2\x01\x00\x18\x01\x00",  # 1 written in two widths
        b"\xa2\x01\x00\xf9\x3c\x00\x00",  # 1 and 1.0
        b"\xa2\x01\x00\xf5\x00",  # 1 and true, one key to a Python dict
        b"\x81\xa1\x61k\xa2\x61x\x00\x61x\x00",  # [{"k": {"x": 0, "x": 0}}]
    ],
    ids=["text", "indefinite", "widths", "int-float", "int-true", "nested"],
)
def test_a_map_naming_one_key_twice_is_malformed(data: bytes) -> None:
    """RFC 8949 calls such a map invalid: one reader keeps the first value, another the last,
    so a signed body could mean two things. The decoder's own equality decides."""
    with pytest.raises(MalformedPayload, match="names one key twice"):
        cbor.loads(data, "a message")


@pytest.mark.parametrize("data", [b"\xa1\xfa", b"\xa3\xfb", b"\xa1\xf9\x3c"])
def test_a_float_key_cut_short_is_malformed(data: bytes) -> None:
    """Found by the fuzzer: the key check must not read past the end before cbor2 does."""
    with pytest.raises(MalformedPayload, match="not valid CBOR"):
        cbor.loads(data, "a message")


def test_a_map_keyed_by_a_container_is_malformed_and_distinct_keys_are_read() -> None:
    with pytest.raises(MalformedPayload, match="keyed by a container"):
        cbor.loads(b"\xa1\x81\x00\x00", "a message")  # {[0]: 0}
    keys = {1: 0, -2: 0, b"a": 0, "a": 0, "b": {"a": 1}}
    assert cbor.loads(cbor.dumps(keys), "a message") == keys
    assert cbor.loads(cbor.dumps([{"a": 1}, {"a": 2}]), "a message") == [{"a": 1}, {"a": 2}]


def test_a_member_signed_account_write_naming_a_field_twice_is_refused() -> None:
    """A stolen device's write that one implementation would read as one value and another
    as the other: every device refuses it, and holds nothing of it."""
    a, b = fleet(2)
    body = b"\xa2" + cbor2.dumps("account") + cbor2.dumps(bytes(16))
    body += cbor2.dumps("account") + cbor2.dumps(b"\x01" * 16)
    raw = _signed_by(a, OpKind.ACCOUNT_WRITE, body)
    with pytest.raises(MalformedPayload, match="names one key twice"):
        b.receive(raw, NOW)
    assert b.state.views() == []


def test_a_sync_message_with_a_huge_seq_is_malformed() -> None:
    machine = SyncMachine(device(2).public)
    machine.start()
    message = cbor2.dumps({"t": "vector", "v": {bytes(32): HUGE}, "h": {}})
    with pytest.raises(MalformedPayload):
        machine.receive(message, 0.0)


def _link(fields: object) -> str:
    return PREFIX + base64.urlsafe_b64encode(cbor2.dumps(fields)).decode().rstrip("=")


def test_an_invitation_link_with_a_bignum_or_tag_is_damaged_not_cut_or_trailing() -> None:
    for fields in ({2**70: 0}, {"p": cbor2.CBORTag(1, 0)}):
        with pytest.raises(InvalidInvitation, match="damaged"):
            Invitation.from_link(_link(fields))


def test_quoted_never_writes_out_an_integer_too_long_to_print() -> None:
    assert quoted(HUGE) == f"<a {HUGE.bit_length()}-bit number>"
    assert "too large" in quoted((HUGE, 1))
    assert len(quoted("x" * 1000)) == 40
    assert quoted("\u202e") == "'\\u202e'"


# -- 4. A certificate naming an unknown key algorithm -----------------------------------------

_ED25519_OID = bytes.fromhex("06032b6570")


def _unknown_algorithm_cert() -> bytes:
    """Device 3's certificate with its key's algorithm renamed to an OID nobody knows
    (the OID's second of three places: the first and last name the signature's)."""
    der = cert(3)
    first = der.index(_ED25519_OID)
    at = der.index(_ED25519_OID, first + 1)
    return der[:at] + bytes.fromhex("06032b657f") + der[at + len(_ED25519_OID) :]


def test_a_certificate_of_an_unknown_key_algorithm_is_malformed() -> None:
    with pytest.raises(MalformedPayload, match="cannot be read"):
        check_certificate(_unknown_algorithm_cert(), device(3).public)
    with pytest.raises(BadCertificate):
        _check_device_cert(_unknown_algorithm_cert())


def _with_version(der: bytes, version: int) -> bytes:
    """The certificate's [0] version field (v3 is written as 2) set to another number."""
    return der.replace(bytes.fromhex("a003020102"), bytes.fromhex(f"a0030201{version:02x}"), 1)


def _with_serial(der: bytes) -> bytes:
    """The certificate with the top bit of its serial set, which makes the INTEGER negative
    (the signature no longer matches, but the serial is read first)."""
    at = der.index(bytes.fromhex("a003020102")) + 5
    assert der[at] == 0x02  # INTEGER: the serial, its length, then its first byte
    first = at + 2
    return der[:first] + bytes([der[first] | 0x80]) + der[first + 1 :]


@pytest.mark.parametrize(
    "make",
    [lambda d: _with_version(d, 5), _with_serial],
    ids=["version-5", "negative-serial"],
)
def test_a_certificate_cryptography_refuses_or_warns_of_is_malformed(make: Any) -> None:
    """Found by the fuzzer: InvalidVersion is no ValueError; a serial that is not positive
    is only a deprecation warning today (an exception under a strict warnings filter)."""
    bad = make(cert(4))
    with pytest.raises(MalformedPayload, match="cannot be read"):
        check_certificate(bad, device(4).public)
    with pytest.raises(BadCertificate):
        _check_device_cert(bad)
    (a,) = fleet(1)
    with pytest.raises(InvalidAccount):
        a.add_device(bad, "device-4", NOW)


def test_adding_a_device_by_such_a_certificate_is_invalid_input() -> None:
    (a,) = fleet(1)
    with pytest.raises(InvalidAccount, match="not a device certificate"):
        a.add_device(_unknown_algorithm_cert(), "device-3", NOW)
    assert device(3).public not in a.membership.added


def test_a_member_signed_addition_with_such_a_certificate_is_refused() -> None:
    a, b = fleet(2)
    newcomer = device(3).public
    wraps = {epoch: seal(key, newcomer) for epoch, key in a.epoch_keys.items()}
    body = DeviceAdded(newcomer, "device-3", _unknown_algorithm_cert(), wraps)
    raw = _signed_by(a, OpKind.DEVICE_ADDED, membership_bodies.encode(body))
    with pytest.raises(MalformedPayload, match="certificate"):
        b.receive(raw, NOW)
    assert newcomer not in b.membership.added


def test_a_well_formed_draft_still_reads() -> None:
    """The helpers above build what the readers accept when nothing in them is hostile."""
    parsed = bitwarden.parse(_json(PLAIN[bitwarden]))
    assert not parsed.failures
    assert len(parsed.accounts) == 3
    assert AccountDraft("I", "n", OtpParams.create("totp", b"k"))
