"""Aegis vaults built as beemdevelopment/Aegis docs/vault.md describes them, plain and sealed.

The sealed ones are made here with cryptography's Scrypt and AESGCM, the calls
Aegis's docs/decrypt.py makes, so the reader is checked against the documented
construction rather than against itself.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import re
import uuid
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from hypothesis import given
from hypothesis import strategies as st

from twofold.protocol.account import AccountDraft, HashAlgorithm, OtpKind, OtpParams
from twofold.protocol.errors import (
    PasswordRequired,
    UnreadableImport,
    UnsafeKdfParameters,
    WrongPassword,
)
from twofold.protocol.formats import aegis
from twofold.protocol.text import invisible

PASSWORD = "correct horse battery staple"
FAST_N = 2**10

TOTP_KEY = b"twofold-totp-key"  # base32 OR3W6ZTPNRSC25DPORYC223FPE
HOTP_KEY = b"hotp-key-for-tests!!"  # NBXXI4BNNNSXSLLGN5ZC25DFON2HGIJB
STEAM_KEY = b"steam-guard-key-20b!"  # ON2GKYLNFVTXKYLSMQWWWZLZFUZDAYRB
MOTP_KEY = bytes.fromhex("e3152afee62599c8")  # 4MKSV7XGEWM4Q
YANDEX_KEY = b"yandex-key-16byt"  # PFQW4ZDFPAWWWZLZFUYTMYTZOQ


def entry(type_: str, name: str, issuer: str, info: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """An entry with every field docs/vault.md lists for content version 3."""
    return {
        "type": type_,
        "uuid": str(uuid.uuid4()),
        "name": name,
        "issuer": issuer,
        "note": "",
        "favorite": False,
        "icon": None,
        "icon_mime": None,
        "icon_hash": None,
        "info": info,
        "groups": ["01234567-89ab-cdef-0123-456789abcdef"],
        **extra,
    }


def content(*entries: dict[str, Any], version: int = 3) -> dict[str, Any]:
    return {
        "version": version,
        "entries": list(entries),
        "groups": [{"uuid": "01234567-89ab-cdef-0123-456789abcdef", "name": "Personal"}],
    }


EVERY_TYPE = content(
    entry(
        "totp",
        "alice@example.com",
        "Example",
        {"secret": "OR3W6ZTPNRSC25DPORYC223FPE", "algo": "SHA256", "digits": 7, "period": 20},
        note="Main account",
        favorite=True,
    ),
    entry(
        "hotp",
        "bob",
        "Issuu",
        {
            "secret": "NBXXI4BNNNSXSLLGN5ZC25DFON2HGIJB",
            "algo": "SHA512",
            "digits": 8,
            "counter": 10300,
        },
    ),
    entry(
        "steam",
        "gaben",
        "Steam",
        {"secret": "ON2GKYLNFVTXKYLSMQWWWZLZFUZDAYRB", "algo": "SHA1", "digits": 5, "period": 30},
    ),
    entry(
        "motp",
        "carol",
        "privacyIDEA",
        {"secret": "4MKSV7XGEWM4Q", "algo": "MD5", "digits": 6, "period": 10, "pin": "1234"},
    ),
    entry(
        "yandex",
        "dave",
        "Yandex",
        {
            "secret": "PFQW4ZDFPAWWWZLZFUYTMYTZOQ",
            "algo": "SHA256",
            "digits": 8,
            "period": 30,
            "pin": "5239",
        },
    ),
)

EXPECTED = [
    AccountDraft(
        "Example",
        "alice@example.com",
        OtpParams(OtpKind.TOTP, TOTP_KEY, HashAlgorithm.SHA256, digits=7, period=20),
        note="Main account",
    ),
    AccountDraft(
        "Issuu",
        "bob",
        OtpParams(OtpKind.HOTP, HOTP_KEY, HashAlgorithm.SHA512, digits=8, period=30),
        counter=10300,
    ),
    AccountDraft("Steam", "gaben", OtpParams.create(OtpKind.STEAM, STEAM_KEY)),
    AccountDraft("privacyIDEA", "carol", OtpParams.create(OtpKind.MOTP, MOTP_KEY, pin="1234")),
    AccountDraft("Yandex", "dave", OtpParams.create(OtpKind.YANDEX, YANDEX_KEY, pin="5239")),
]


TOTP_INFO = {"secret": "OR3W6ZTPNRSC25DPORYC223FPE", "algo": "SHA1", "digits": 6, "period": 30}


def plain(db: dict[str, Any]) -> bytes:
    vault = {"version": 1, "header": {"slots": None, "params": None}, "db": db}
    return json.dumps(vault, indent=4).encode()


def password_slot(
    master: bytes, password: str, *, n: int = FAST_N, r: int = 8, p: int = 1
) -> dict[str, Any]:
    """A type 1 slot: the master key sealed under scrypt(password), as docs/vault.md shows."""
    salt = os.urandom(32)
    key = Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(password.encode())
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, master, None)
    return {
        "type": 1,
        "uuid": str(uuid.uuid4()),
        "key": sealed[:-16].hex(),
        "key_params": {"nonce": nonce.hex(), "tag": sealed[-16:].hex()},
        "n": n,
        "r": r,
        "p": p,
        "salt": salt.hex(),
        "repaired": True,
        "is_backup": False,
    }


def key_slot(type_: int) -> dict[str, Any]:
    """A raw (0) or biometric (2) slot: same shape, key held by the phone."""
    nonce = os.urandom(12)
    sealed = AESGCM(os.urandom(32)).encrypt(nonce, os.urandom(32), None)
    return {
        "type": type_,
        "uuid": str(uuid.uuid4()),
        "key": sealed[:-16].hex(),
        "key_params": {"nonce": nonce.hex(), "tag": sealed[-16:].hex()},
    }


def sealed_vault(
    db: dict[str, Any] | bytes,
    slots: list[dict[str, Any]] | None = None,
    *,
    master: bytes | None = None,
    password: str = PASSWORD,
    n: int = FAST_N,
) -> dict[str, Any]:
    """An encrypted vault: db sealed under a random master key, base64 with its tag apart."""
    master = master or os.urandom(32)
    if slots is None:
        slots = [password_slot(master, password, n=n)]
    body = db if isinstance(db, bytes) else json.dumps(db, indent=4).encode()
    nonce = os.urandom(12)
    sealed = AESGCM(master).encrypt(nonce, body, None)
    return {
        "version": 1,
        "header": {"slots": slots, "params": {"nonce": nonce.hex(), "tag": sealed[-16:].hex()}},
        "db": base64.b64encode(sealed[:-16]).decode(),
    }


def dump(vault: dict[str, Any]) -> bytes:
    return json.dumps(vault, indent=4).encode()


def drafts(data: bytes, password: str | None = None) -> list[AccountDraft]:
    parsed = aegis.parse(data, password)
    assert parsed.failures == ()
    return [account.draft for account in parsed.accounts]


@pytest.fixture
def no_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if any key is derived: refusals must come before the work."""

    def refuse(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("scrypt ran")

    monkeypatch.setattr(hashlib, "scrypt", refuse)


# Plain vaults.


def test_a_plain_vault_gives_every_type_with_every_field() -> None:
    parsed = aegis.parse(plain(EVERY_TYPE))
    assert parsed.format == "aegis"
    assert [account.draft for account in parsed.accounts] == EXPECTED
    assert [account.source for account in parsed.accounts][:2] == [
        "entry 1 (Example: alice@example.com)",
        "entry 2 (Issuu: bob)",
    ]
    assert parsed.failures == ()


def test_the_decoded_fields_are_the_ones_written() -> None:
    totp, hotp, steam, motp, yandex = drafts(plain(EVERY_TYPE))
    assert totp.otp.secret == b"twofold-totp-key"
    assert (totp.otp.algorithm, totp.otp.digits, totp.otp.period) == ("SHA256", 7, 20)
    assert totp.note == "Main account"
    assert (hotp.counter, hotp.otp.algorithm, hotp.otp.digits) == (10300, "SHA512", 8)
    assert (steam.otp.kind, steam.otp.digits, steam.otp.period) == (OtpKind.STEAM, 5, 30)
    assert (motp.otp.secret, motp.otp.pin, motp.otp.algorithm) == (MOTP_KEY, "1234", "MD5")
    assert (motp.otp.period, motp.otp.digits) == (10, 6)
    assert (yandex.otp.secret, yandex.otp.pin, yandex.otp.algorithm) == (
        YANDEX_KEY,
        "5239",
        "SHA256",
    )


@pytest.mark.parametrize("version", [1, 2, 3])
def test_content_versions_one_to_three_read_alike(version: int) -> None:
    old = copy.deepcopy(EVERY_TYPE)
    old["version"] = version
    if version < 3:
        del old["groups"]
        for item in old["entries"]:
            del item["groups"], item["note"], item["favorite"]
            item["group"] = "Work"
    expected = [AccountDraft(d.issuer, d.name, d.otp, d.counter) for d in EXPECTED]
    assert drafts(plain(old)) == (EXPECTED if version == 3 else expected)


def test_a_newer_content_version_is_refused() -> None:
    newer = {**EVERY_TYPE, "version": 4}
    with pytest.raises(UnreadableImport, match="content version 4"):
        aegis.parse(plain(newer))


def test_a_newer_file_version_is_refused() -> None:
    vault = {"version": 2, "header": {"slots": None, "params": None}, "db": EVERY_TYPE}
    with pytest.raises(UnreadableImport, match="file version 2"):
        aegis.parse(dump(vault))


def test_aegis_spellings_and_its_md5_workaround() -> None:
    """OtpInfo.java strips "Hmac" and reads MD5 as SHA1 except on motp."""
    hotp = {"secret": "OR3W6ZTPNRSC25DPORYC223FPE======", "algo": "sha256", "digits": 6}
    motp = {"secret": "4MKSV7XGEWM4Q", "algo": "SHA1", "digits": 8, "period": 60, "pin": "0000"}
    db = content(
        entry("totp", "a", "X", {**TOTP_INFO, "algo": "HmacSHA512"}),
        entry(
            "totp", "b", "X", {**TOTP_INFO, "secret": TOTP_INFO["secret"].lower(), "algo": "MD5"}
        ),
        entry("hotp", "c", "X", {**hotp, "counter": 0}),
        entry("motp", "d", "X", motp),
    )
    a, b, c, d = drafts(plain(db))
    assert a.otp.algorithm is HashAlgorithm.SHA512
    assert b.otp.algorithm is HashAlgorithm.SHA1
    assert b.otp.secret == c.otp.secret == TOTP_KEY
    assert (c.otp.algorithm, c.otp.period, c.counter) == (HashAlgorithm.SHA256, 30, 0)
    assert (d.otp.algorithm, d.otp.digits, d.otp.period) == (HashAlgorithm.MD5, 6, 10)


def test_names_are_trimmed_and_may_be_missing() -> None:
    item = entry("totp", "  alice  ", " Example ", TOTP_INFO)
    bare = {"type": "totp", "issuer": "Only", "info": item["info"]}
    first, second = drafts(plain(content(item, bare)))
    assert (first.issuer, first.name) == ("Example", "alice")
    assert (second.issuer, second.name, second.note) == ("Only", "", "")


def test_a_broken_entry_fails_alone() -> None:
    good = EVERY_TYPE["entries"][0]
    bad_secret = entry("totp", "eve", "Broken", {**TOTP_INFO, "secret": "not base32!"})
    unknown = entry("blizzard", "frank", "Battle.net", dict(good["info"]))
    no_pin = entry(
        "yandex", "gina", "Yandex", {**TOTP_INFO, "secret": "PFQW4ZDFPAWWWZLZFUYTMYTZOQ"}
    )
    few_digits = entry("totp", "hal", "Old", {**good["info"], "digits": 4})
    db = content(bad_secret, good, unknown, "not an entry", no_pin, few_digits)
    parsed = aegis.parse(plain(db))
    assert [a.draft for a in parsed.accounts] == [EXPECTED[0]]
    assert parsed.accounts[0].source == "entry 2 (Example: alice@example.com)"
    reasons = {failure.source: failure.reason for failure in parsed.failures}
    assert list(reasons) == [
        "entry 1 (Broken: eve)",
        "entry 3 (Battle.net: frank)",
        "entry 4",
        "entry 5 (Yandex: gina)",
        "entry 6 (Old: hal)",
    ]
    assert "base32" in reasons["entry 1 (Broken: eve)"]
    assert "'blizzard'" in reasons["entry 3 (Battle.net: frank)"]
    assert "pin" in reasons["entry 5 (Yandex: gina)"]
    assert "digits" in reasons["entry 6 (Old: hal)"]


@pytest.mark.parametrize(
    "data",
    [
        plain(EVERY_TYPE)[:200],
        b"",
        b"\xff\xfe not text",
        b"[]",
        b'[{"secret": "OR3W6ZTPNRSC25DPORYC223FPE", "label": "x"}]',
        b'{"version": 1}',
        b'{"version": "1", "header": {"slots": null, "params": null}, "db": {}}',
        b'{"version": 1, "header": [], "db": {}}',
        b'{"version": 1, "header": {"slots": null, "params": null}, "db": "text"}',
        b'{"version": 1, "header": {"slots": null, "params": null}, "db": {"version": 3}}',
        b'{"version": 1, "header": {"slots": [], "params": null}, "db": "AAAA"}',
        b'{"version": 1, "header": {"slots": [], "params": {}}, "db": {}}',
    ],
)
def test_a_file_that_is_not_a_readable_vault_is_refused(data: bytes) -> None:
    with pytest.raises(UnreadableImport):
        aegis.parse(data)


def test_matches_knows_the_shape_and_never_raises() -> None:
    assert aegis.matches(json.loads(plain(EVERY_TYPE)))
    assert aegis.matches(sealed_vault(EVERY_TYPE, slots=[key_slot(2)]))
    for other in (
        [],
        {},
        None,
        "aegis",
        {"version": 1, "header": None, "db": {}},
        {"version": 1, "header": {"slots": None}, "db": {}},
        {"header": {"slots": None, "params": None}, "db": {}},
        {"tokens": [], "tokenOrder": []},
    ):
        assert not aegis.matches(other)


# Sealed vaults.


def test_a_sealed_vault_opens_with_its_password() -> None:
    assert drafts(dump(sealed_vault(EVERY_TYPE)), PASSWORD) == EXPECTED


def test_a_vault_with_aegis_default_scrypt_cost_opens() -> None:
    vault = dump(sealed_vault(EVERY_TYPE, n=2**15))
    assert json.loads(vault)["header"]["slots"][0]["n"] == 32768
    assert drafts(vault, PASSWORD) == EXPECTED


def test_every_password_slot_is_tried_and_key_slots_are_skipped() -> None:
    master = os.urandom(32)
    slots = [
        key_slot(2),
        password_slot(master, "the old password"),
        key_slot(0),
        password_slot(master, "the backup password"),
    ]
    vault = dump(sealed_vault(EVERY_TYPE, slots, master=master))
    assert drafts(vault, "the old password") == EXPECTED
    assert drafts(vault, "the backup password") == EXPECTED


def test_a_wrong_password_says_only_that() -> None:
    with pytest.raises(WrongPassword) as caught:
        aegis.parse(dump(sealed_vault(EVERY_TYPE)), "incorrect horse")
    assert str(caught.value) == "password: the password is wrong"


def test_a_sealed_vault_asks_for_its_password() -> None:
    with pytest.raises(PasswordRequired):
        aegis.parse(dump(sealed_vault(EVERY_TYPE)))


def test_a_vault_with_no_password_slot_says_why(no_kdf: None) -> None:
    vault = dump(sealed_vault(EVERY_TYPE, slots=[key_slot(2), key_slot(0)]))
    for password in (None, PASSWORD):
        with pytest.raises(UnreadableImport, match="biometrics"):
            aegis.parse(vault, password)


def test_too_many_password_slots_are_refused_before_any_work(no_kdf: None) -> None:
    slots = [key_slot(0) | {"type": 1, "n": 2, "r": 1, "p": 1, "salt": "00"}] * 9
    with pytest.raises(UnreadableImport, match="9 password slots"):
        aegis.parse(dump(sealed_vault(EVERY_TYPE, slots)), PASSWORD)


@pytest.mark.parametrize(
    ("n", "r", "p"),
    [(2**30, 8, 1), (2**15, 2**20, 1), (2**15, 8, 2**20), (1000, 8, 1), (0, 8, 1), (2**20, 64, 64)],
)
def test_absurd_scrypt_costs_are_refused_without_deriving(
    no_kdf: None, n: int, r: int, p: int
) -> None:
    slot = password_slot(os.urandom(32), PASSWORD)
    slot.update(n=n, r=r, p=p)
    with pytest.raises(UnsafeKdfParameters):  # no_kdf: a derivation would fail the test
        aegis.parse(dump(sealed_vault(EVERY_TYPE, [slot])), PASSWORD)


def test_a_tampered_slot_reads_as_a_wrong_password() -> None:
    vault = sealed_vault(EVERY_TYPE)
    slot = vault["header"]["slots"][0]
    slot["key_params"]["tag"] = flip(slot["key_params"]["tag"])
    with pytest.raises(WrongPassword):
        aegis.parse(dump(vault), PASSWORD)


@pytest.mark.parametrize("part", ["db", "tag", "nonce"])
def test_tampered_contents_are_damage_not_a_wrong_password(part: str) -> None:
    vault = sealed_vault(EVERY_TYPE)
    params = vault["header"]["params"]
    if part == "db":
        sealed = bytearray(base64.b64decode(vault["db"]))
        sealed[10] ^= 1
        vault["db"] = base64.b64encode(bytes(sealed)).decode()
    else:
        params[part] = flip(params[part])
    with pytest.raises(UnreadableImport, match=r"password is right.*damaged"):
        aegis.parse(dump(vault), PASSWORD)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (json.dumps({"version": 3}).encode(), "no list of entries"),
        (json.dumps({"version": 9, "entries": []}).encode(), "content version 9"),
    ],
)
def test_contents_that_decrypt_but_are_broken_are_refused(body: bytes, words: str) -> None:
    with pytest.raises(UnreadableImport, match=words):
        aegis.parse(dump(sealed_vault(body)), PASSWORD)


@pytest.mark.parametrize(
    "change",
    [
        lambda v: v.update(db="not base64!"),
        lambda v: v.update(db={"version": 3, "entries": []}),
        lambda v: v["header"]["params"].update(nonce="abcd"),
        lambda v: v["header"]["params"].update(tag="zz" * 16),
        lambda v: v["header"].update(slots={"type": 1}),
        lambda v: v["header"]["slots"][0].update(salt=""),
        lambda v: v["header"]["slots"][0].update(n="32768"),
        lambda v: v["header"]["slots"][0].pop("key_params"),
        lambda v: v["header"]["slots"][0]["key_params"].update(nonce="00" * 16),
    ],
)
def test_a_damaged_header_is_refused_before_any_work(no_kdf: None, change: Any) -> None:
    vault = sealed_vault(EVERY_TYPE)
    change(vault)
    with pytest.raises(UnreadableImport):
        aegis.parse(dump(vault), PASSWORD)


def test_a_broken_entry_fails_alone_in_a_sealed_vault_too() -> None:
    broken = entry("totp", "x", "Broken", {**TOTP_INFO, "secret": ""})
    db = content(broken, *EVERY_TYPE["entries"])
    parsed = aegis.parse(dump(sealed_vault(db)), PASSWORD)
    assert [a.draft for a in parsed.accounts] == EXPECTED
    assert [f.source for f in parsed.failures] == ["entry 1 (Broken: x)"]


def flip(hex_text: str) -> str:
    raw = bytearray(bytes.fromhex(hex_text))
    raw[0] ^= 0x80
    return raw.hex()


# Writing.


UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def test_the_export_is_a_plain_vault_as_aegis_writes_it() -> None:
    written = json.loads(aegis.export_aegis(EXPECTED, uuid_seed=b"seed"))
    assert written["version"] == 1
    assert written["header"] == {"slots": None, "params": None}
    db = written["db"]
    assert (db["version"], db["groups"]) == (3, [])
    totp, hotp, steam, motp, yandex = db["entries"]
    assert all(UUID4.fullmatch(item["uuid"]) for item in db["entries"])
    assert len({item["uuid"] for item in db["entries"]}) == 5
    assert {key: totp[key] for key in ("type", "name", "issuer", "note", "icon")} == {
        "type": "totp",
        "name": "alice@example.com",
        "issuer": "Example",
        "note": "Main account",
        "icon": None,
    }
    assert totp["info"] == {
        "secret": "OR3W6ZTPNRSC25DPORYC223FPE",
        "algo": "SHA256",
        "digits": 7,
        "period": 20,
    }
    assert hotp["info"]["counter"] == 10300
    assert (steam["type"], steam["info"]["digits"], steam["info"]["algo"]) == ("steam", 5, "SHA1")
    assert motp["info"] == {
        "secret": "4MKSV7XGEWM4Q",
        "algo": "MD5",
        "digits": 6,
        "period": 10,
        "pin": "1234",
    }
    assert (yandex["type"], yandex["info"]["pin"], yandex["info"]["digits"]) == (
        "yandex",
        "5239",
        8,
    )


def test_the_export_reads_back_to_the_same_accounts() -> None:
    assert drafts(aegis.export_aegis(EXPECTED)) == EXPECTED


def test_a_seeded_export_is_reproducible_and_an_unseeded_one_is_not() -> None:
    assert aegis.export_aegis(EXPECTED, uuid_seed=b"a") == aegis.export_aegis(
        EXPECTED, uuid_seed=b"a"
    )
    assert aegis.export_aegis(EXPECTED, uuid_seed=b"a") != aegis.export_aegis(
        EXPECTED, uuid_seed=b"b"
    )
    assert aegis.export_aegis(EXPECTED) != aegis.export_aegis(EXPECTED)


def test_md5_outside_motp_is_not_exported_because_aegis_would_read_sha1() -> None:
    md5 = AccountDraft("Old", "x", OtpParams(OtpKind.TOTP, TOTP_KEY, HashAlgorithm.MD5))
    assert aegis.unexportable_reason(md5) is not None
    assert aegis.unexportable_reason(EXPECTED[3]) is None
    with pytest.raises(aegis.UnexportableAccount, match=r"entry 2 \(Old: x\).*MD5"):
        aegis.export_aegis([EXPECTED[0], md5])


# Nothing that hides or reorders text: an import takes such characters out (test_text.py).
SHOWN = st.characters(blacklist_categories=("Cc", "Cs")).filter(lambda c: not invisible(c))
LABELS = st.text(SHOWN, max_size=20).map(lambda text: text.strip())
PINS = st.text(alphabet="0123456789", min_size=4, max_size=16)


@st.composite
def exportable_drafts(draw: st.DrawFn) -> AccountDraft:
    kind = draw(st.sampled_from(OtpKind))
    secret = draw(st.binary(min_size=1, max_size=64))
    if kind in (OtpKind.TOTP, OtpKind.HOTP):
        otp = OtpParams(
            kind,
            secret,
            draw(st.sampled_from([HashAlgorithm.SHA1, HashAlgorithm.SHA256, HashAlgorithm.SHA512])),
            digits=draw(st.integers(6, 10)),
            period=draw(st.integers(1, 86400)),
        )
    elif kind is OtpKind.STEAM:
        otp = OtpParams.create(kind, secret)
    elif kind is OtpKind.MOTP:
        otp = OtpParams.create(kind, secret, pin=draw(PINS)[:4])
    else:
        otp = OtpParams.create(kind, draw(st.binary(min_size=16, max_size=16)), pin=draw(PINS))
    issuer = draw(LABELS)
    name = draw(LABELS if issuer else LABELS.filter(bool))
    counter = draw(st.integers(0, 2**63 - 1)) if kind is OtpKind.HOTP else 0
    note = draw(st.text(st.one_of(SHOWN, st.sampled_from("\t\n\r")), max_size=40))
    return AccountDraft(issuer, name, otp, counter, note)


@given(st.lists(exportable_drafts(), max_size=5))
def test_export_then_parse_is_identity(accounts: list[AccountDraft]) -> None:
    assert drafts(aegis.export_aegis(accounts)) == accounts
