"""The committed regression corpus: the crashes issue 16 lists, one input each.

Small cases are files in corpus/<target>/ (written by `python -m tests.fuzz.corpus`, and
committed); cases too large to commit are built here in code (`generated`). Both are
replayed by the quick profile (test_fuzz_quick.py) and by the driver. `LIMITS` names the
cases that are about cost rather than exceptions: their own time (key derivation aside) is
held to the fuzzers' 2 s, and their key derivation to what a wrong password may cost.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cbor2

from tests.fuzz import seeds as s
from tests.fuzz.targets import frame, world
from tests.unit.fleet import device
from tests.unit.formats.google_payload import Otp, migration_uri, payload
from twofold.protocol.certificate import device_certificate
from twofold.protocol.envelope import OpKind
from twofold.protocol.pairing import Hello

HERE = Path(__file__).parent / "corpus"
HUGE_KEY = cbor2.dumps({10**4300: 0})
ED25519_OID = bytes.fromhex("06032b6570")  # 1.3.101.112
V3 = bytes.fromhex("a003020102")  # [0] EXPLICIT INTEGER 2: X.509 v3
UNKNOWN_OID = bytes.fromhex("06032b657f")  # 1.3.101.127: no key algorithm
MEMBERSHIP_KINDS = tuple(kind for kind in OpKind if not kind.encrypted)


@dataclass(frozen=True)
class Limit:
    """What a cost case may take: seconds outside key derivation, seconds of key derivation,
    and growth of peak memory."""

    own_seconds: float = 2.0
    kdf_seconds: float = 5.0
    rss_mib: float = 500.0


LIMITS: dict[str, Limit] = {
    "aegis-8-heavy-scrypt-slots": Limit(),
    "aegis-sibling-900-deep-arrays": Limit(),
    "detect-sibling-900-deep-arrays": Limit(),
    "google-9999-links-of-batches-of-10000": Limit(),
    "aegis-16-mib-of-900-deep-arrays": Limit(),
    "detect-16-mib-of-900-deep-arrays": Limit(),
}


def _json(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def _bitwarden_login(name: str, username: str) -> bytes:
    item = {
        "type": 1,
        "name": name,
        "login": {"username": username, "totp": f"otpauth://totp/?secret={s.HELLO}"},
    }
    return _json({"encrypted": False, "folders": [], "items": [item]})


def unknown_algorithm_cert() -> bytes:
    """Device 4's certificate with its key's algorithm renamed to an OID nobody knows."""
    der = device_certificate(device(4))
    first = der.index(ED25519_OID)  # the TBS signature algorithm
    second = der.index(ED25519_OID, first + 1)  # the subject public key's algorithm
    return der[:second] + UNKNOWN_OID + der[second + len(ED25519_OID) :]


def invalid_version_cert(n: int = 4) -> bytes:
    """Device n's certificate claiming X.509 version 6 (the INTEGER 5): cryptography raises
    InvalidVersion, which is not a ValueError."""
    der = device_certificate(device(n))
    at = der.index(V3)
    return der[:at] + bytes.fromhex("a003020105") + der[at + len(V3) :]


def _with_cert(kind: OpKind, cert_der: bytes) -> bytes:
    body = cbor2.loads(world().bodies[kind][0])
    body["cert"] = cert_der
    return bytes(cbor2.dumps(body, canonical=True))


def _hello_with_cert(cert_der: bytes) -> bytes:
    """A newcomer's hello carrying `cert_der`; its nonce's last byte is odd, so the target
    signs it with the right MAC and the shower gets as far as reading the certificate."""
    hello = Hello(bytes([3]) * 8, cert_der, "New phone", bytes([5]) * 16, bytes(32))
    return hello.encode()


def _with_huge_key(body: bytes) -> bytes:
    """A valid body with one more field, keyed by an integer of 4,301 digits."""
    fields = cbor2.loads(body)
    fields[10**4300] = 0
    return bytes(cbor2.dumps(fields))


def _aegis_heavy_slots(count: int = 8) -> bytes:
    """An Aegis vault of `count` password slots at scrypt N=2^20, r=2, p=16, each salt its own."""
    vault = json.loads(s.seal_aegis(b"{}", s.PASSWORD))
    slot = vault["header"]["slots"][0]
    slots = []
    for i in range(count):
        heavy = dict(slot, n=1 << 20, r=2, p=16, salt=s.fixed(32, f"heavy {i}").hex())
        slots.append(heavy)
    vault["header"]["slots"] = slots
    return _json(vault)


def _sibling_deep_arrays(siblings: int = 10, depth: int = 900) -> bytes:
    nest = "[" * depth + "]" * depth
    return ("[" + ",".join([nest] * siblings) + "]").encode()


def _aegis_deep() -> bytes:
    nest = "[" * 900 + "]" * 900
    return (
        '{"version":1,"header":{"slots":null,"params":null},"db":{"version":3,"entries":['
        + ",".join([nest] * 10)
        + "]}}"
    ).encode()


def files() -> dict[str, dict[str, bytes]]:
    """target -> {case name: input} for every committed case."""
    cases: dict[str, dict[str, bytes]] = {}

    def add(target: str, name: str, data: bytes) -> None:
        cases.setdefault(target, {})[name] = data

    # 1. A password holding a lone surrogate, in every reader that takes one.
    for target, sealer, password in (
        ("read-2fas-encrypted", "2fas", s.PASSWORD),
        ("read-bitwarden-pbkdf2", "bitwarden-pbkdf2", s.PASSWORD),
        ("read-ente", "ente", s.PASSWORD),
        ("read-proton-encrypted", "proton", s.PASSWORD),
        ("read-backup-passphrase", "backup-passphrase", s.PASSWORD),
        ("read-backup-recovery", "backup-recovery", s.RECOVERY_KEY),
        ("read-aegis-encrypted", "aegis", s.PASSWORD),
    ):
        sealer_ = s.SEALERS[sealer]
        add(
            target,
            "lone-surrogate-password",
            frame(sealer_.seal(sealer_.plaintexts()[0], password), "\ud800"),
        )
    # 2. A lone surrogate inside a hostile file, no password needed.
    doc = json.loads(s.seal_bitwarden_pbkdf2(_json(s.bitwarden_doc()), s.PASSWORD))
    add(
        "read-bitwarden-pbkdf2",
        "salt-lone-surrogate",
        frame(_json(dict(doc, salt="\ud800")), s.PASSWORD),
    )
    add(
        "read-bitwarden",
        "item-name-lone-surrogate-unlabelled-uri",
        frame(_bitwarden_login("\ud800", "lee"), None),
    )
    add(
        "read-bitwarden",
        "username-lone-surrogate-unlabelled-uri",
        frame(_bitwarden_login("Labelless", "\ud800"), None),
    )
    proton_entry = {
        "id": "0f8c3e2a-1b2c-4d5e-8f90-123456789abc",
        "content": {
            "uri": f"otpauth://totp/?secret={s.HELLO}",
            "entry_type": "Totp",
            "name": "\ud800",
        },
        "note": None,
    }
    add(
        "read-proton",
        "content-name-lone-surrogate-unlabelled-uri",
        frame(_json({"version": 1, "entries": [proton_entry]}), None),
    )
    # 3. A CBOR integer key of more than 4,300 digits: alone (a pairing message), beside a
    # valid body's fields (membership bodies), and as the field an account write sets.
    for target in ("pairing-hello", "pairing-hello-reply", "pairing-decision", "cbor-loads"):
        add(target, "int-key-4301-digits", HUGE_KEY)
    for kind in MEMBERSHIP_KINDS:
        body = _with_huge_key(world().bodies[kind][0])
        add(f"receive-signed-{kind.name.lower()}", "int-key-4301-digits", body)
        add(
            "membership-decode",
            f"int-key-4301-digits-{kind.name.lower()}",
            bytes([list(OpKind).index(kind)]) + body,
        )
    write = cbor2.loads(world().bodies[OpKind.ACCOUNT_WRITE][0])
    write["set"] = {10**4300: {"v": "x", "r": []}}
    for target in ("account-write-decode", "receive-signed-account_write"):
        add(target, "int-key-4301-digits", bytes(cbor2.dumps(write)))
    # 4. A member-signed device_added whose certificate names an unknown key algorithm.
    add(
        "receive-signed-device_added",
        "cert-unknown-key-algorithm",
        _with_cert(OpKind.DEVICE_ADDED, unknown_algorithm_cert()),
    )
    add(
        "pairing-on-hello", "cert-unknown-key-algorithm", _hello_with_cert(unknown_algorithm_cert())
    )
    # Found by this fuzzer: a certificate of X.509 version 6 raises cryptography's
    # InvalidVersion (an Exception, not a ValueError) wherever a certificate is read.
    add(
        "receive-signed-device_added",
        "cert-invalid-version",
        _with_cert(OpKind.DEVICE_ADDED, invalid_version_cert(4)),
    )
    add(
        "receive-signed-genesis",
        "cert-invalid-version",
        _with_cert(OpKind.GENESIS, invalid_version_cert(1)),
    )
    add("pairing-on-hello", "cert-invalid-version", _hello_with_cert(invalid_version_cert(2)))
    # 5. Costs within the old limits but beyond what a person should wait for.
    add(
        "read-aegis-encrypted",
        "aegis-8-heavy-scrypt-slots",
        frame(_aegis_heavy_slots(), "any password"),
    )
    add("read-aegis", "aegis-sibling-900-deep-arrays", frame(_aegis_deep(), None))
    add("read-detect", "detect-sibling-900-deep-arrays", frame(_sibling_deep_arrays(), None))
    # Found by this fuzzer: scrypt N=2^16 with r=1, which OpenSSL refuses with a ValueError.
    vault = json.loads(s.seal_aegis(b"{}", s.PASSWORD))
    vault["header"]["slots"][0].update(n=1 << 16, r=1, p=1)
    add("read-aegis-encrypted", "scrypt-n-65536-r-1", frame(_json(vault), s.PASSWORD))
    return cases


def _google_batches() -> bytes:
    """9,999 links, each the first of its own batch of 10,000."""
    links = (
        migration_uri(payload(Otp(issuer=f"I{i}"), batch_index=0, batch_size=10_000, batch_id=i))
        for i in range(9_999)
    )
    return "\n".join(links).encode()


def _aegis_16_mib_of_deep_arrays() -> bytes:
    """An Aegis vault of 16 MiB less a little, all sibling 900-deep arrays."""
    nest = "[" * 900 + "]" * 900
    head = '{"version":1,"header":{"slots":null,"params":null},"db":{"version":3,"entries":['
    count = (16 * 1024 * 1024 - 1024) // (len(nest) + 1)
    return (head + ",".join([nest] * count) + "]}}").encode()


def generated() -> dict[str, dict[str, Callable[[], bytes]]]:
    """target -> {case name: builder} for cases too large to commit."""
    return {
        "read-google-migration": {
            "google-9999-links-of-batches-of-10000": lambda: frame(_google_batches(), None)
        },
        "read-aegis": {
            "aegis-16-mib-of-900-deep-arrays": lambda: frame(_aegis_16_mib_of_deep_arrays(), None)
        },
        "read-detect": {
            "detect-16-mib-of-900-deep-arrays": lambda: frame(_aegis_16_mib_of_deep_arrays(), None)
        },
    }


def write() -> list[Path]:
    """Write every committed case to corpus/<target>/<case>.bin."""
    written = []
    for target, cases in files().items():
        folder = HERE / target
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in cases.items():
            path = folder / f"{name}.bin"
            path.write_bytes(data)
            written.append(path)
    return written


if __name__ == "__main__":
    for path in write():
        print(path.relative_to(HERE.parent.parent.parent), path.stat().st_size)
