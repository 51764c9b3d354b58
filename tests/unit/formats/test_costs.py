"""Limits a person would choose (issue 16, item 5): the key-derivation work one file may ask
for, JSON measured before it is built and parsed once, and Google batches read in linear time.

Nothing here runs a costly derivation or builds a costly document: each refusal is shown
to come first by counting the calls that would do the work.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.unit.formats.google_payload import Otp, migration_uri, payload
from twofold.protocol.errors import (
    UnknownFormat,
    UnreadableImport,
    UnsafeKdfParameters,
    WrongPassword,
)
from twofold.protocol.formats import (
    aegis,
    andotp,
    fields,
    google_migration,
    kdf,
    registry,
    twofas,
)
from twofold.protocol.formats.google_migration import MigrationBatches, MigrationPart

from . import test_aegis, test_andotp, test_bitwarden, test_freeotp, test_twofas

# Key-derivation work per file.


@pytest.fixture
def scrypt_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int, int]]:
    """Every scrypt the Aegis reader runs, recorded instead of run; each gives a wrong key."""
    calls: list[tuple[int, int, int]] = []

    def fake(password: bytes, salt: bytes, *, n: int, r: int, p: int) -> bytes:
        calls.append((n, r, p))
        return hashlib.sha256(salt).digest()

    monkeypatch.setattr(kdf, "scrypt", fake)
    return calls


@pytest.fixture
def no_hashlib_scrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("scrypt ran")

    monkeypatch.setattr(hashlib, "scrypt", refuse)


def slot(n: int, r: int, p: int, salt: bytes | None = None) -> dict[str, Any]:
    """A password slot with these costs; its sealed key is random (no derivation made it)."""
    return test_aegis.key_slot(0) | {
        "type": 1,
        "n": n,
        "r": r,
        "p": p,
        "salt": (salt or os.urandom(32)).hex(),
    }


def vault(*slots: dict[str, Any]) -> bytes:
    return test_aegis.dump(test_aegis.sealed_vault(test_aegis.EVERY_TYPE, list(slots)))


def test_eight_costly_aegis_slots_are_refused_before_any_derivation(
    scrypt_calls: list[tuple[int, int, int]],
) -> None:
    data = vault(*(slot(2**20, 2, 16) for _ in range(8)))
    for password in ("any password", None):
        with pytest.raises(UnsafeKdfParameters) as refused:
            aegis.parse(data, password)
        assert "this Aegis vault asks for 43x the key-derivation work of any real export" in str(
            refused.value
        )
        assert "8 derivations of scrypt N=1048576, r=2, p=16" in str(refused.value)
    assert scrypt_calls == []


def test_one_slot_over_the_budget_is_refused_naming_its_demand(
    scrypt_calls: list[tuple[int, int, int]],
) -> None:
    with pytest.raises(UnsafeKdfParameters, match=r"asks for 5\.4x the key-derivation work"):
        aegis.parse(vault(slot(2**20, 2, 16)), "any password")
    assert scrypt_calls == []


def test_a_slot_with_unusable_parameters_refuses_the_vault_before_any_slot_is_derived(
    scrypt_calls: list[tuple[int, int, int]],
) -> None:
    with pytest.raises(UnsafeKdfParameters, match="power of two"):
        aegis.parse(vault(slot(2**15, 8, 1), slot(1000, 8, 1)), "any password")
    assert scrypt_calls == []


def test_eight_slots_at_aegis_cost_are_each_tried(
    scrypt_calls: list[tuple[int, int, int]],
) -> None:
    with pytest.raises(WrongPassword):
        aegis.parse(vault(*(slot(2**15, 8, 1) for _ in range(8))), "wrong")
    assert scrypt_calls == [(2**15, 8, 1)] * 8


def test_slots_alike_in_salt_and_cost_are_derived_and_counted_once(
    scrypt_calls: list[tuple[int, int, int]],
) -> None:
    salt = os.urandom(32)
    # Alone, such a slot is under the budget; eight distinct ones would be 8 times over.
    alike = [slot(2**21 // 8, 8, 1, salt) for _ in range(8)]
    kdf.check_work([kdf.scrypt_work(n=2**21 // 8, r=8, p=1)])
    with pytest.raises(WrongPassword):
        aegis.parse(vault(*alike), "wrong")
    assert scrypt_calls == [(2**21 // 8, 8, 1)]


def test_the_costliest_real_exports_are_within_the_budget() -> None:
    real = {
        "Ente, SENSITIVE": [kdf.argon2id_work(opslimit=4, memlimit=1 << 30)],
        "Ente, halved memory": [kdf.argon2id_work(opslimit=8, memlimit=512 << 20)],
        "Twofold backup": [kdf.argon2id_work(opslimit=3, memlimit=256 << 20)],
        "Proton": [kdf.argon2id_work(opslimit=2, memlimit=19 << 20)],
        "Bitwarden PBKDF2 cap": [kdf.pbkdf2_work(iterations=kdf.PBKDF2_MAX_ITERATIONS)],
        "2FAS, reference and services": [kdf.pbkdf2_work(iterations=twofas.ITERATIONS)] * 2,
        "Aegis, eight slots": [kdf.scrypt_work(n=2**15, r=8, p=1)] * aegis.MAX_PASSWORD_SLOTS,
    }
    for derivations in real.values():
        kdf.check_work(derivations)
    assert real["Ente, SENSITIVE"][0] == kdf.COSTLIEST_EXPORT


def test_a_hair_over_the_budget_is_refused() -> None:
    ente = kdf.argon2id_work(opslimit=4, memlimit=1 << 30)
    with pytest.raises(UnsafeKdfParameters, match=r"1\.1x the key-derivation work"):
        kdf.check_work([ente, kdf.pbkdf2_work(iterations=1)], "this file")


def test_a_single_scrypt_over_the_budget_is_refused_before_it_runs(
    no_hashlib_scrypt: None,
) -> None:
    with pytest.raises(UnsafeKdfParameters, match=r"5\.4x"):
        kdf.scrypt(b"password", b"salt", n=2**20, r=2, p=16)


def test_scrypt_n_at_or_over_two_to_the_16r_is_refused_before_openssl_sees_it(
    no_hashlib_scrypt: None,
) -> None:
    """Found by the fuzzer: OpenSSL refuses N >= 2^(16 r) with a ValueError (RFC 7914)."""
    with pytest.raises(UnsafeKdfParameters, match="below 2"):
        kdf.scrypt(b"password", b"salt", n=2**16, r=1, p=1)


def test_scrypt_just_under_two_to_the_16r_runs() -> None:
    assert len(kdf.scrypt(b"password", b"salt", n=2**15, r=1, p=1)) == 32


def test_argon2id_at_entes_cost_is_admitted_and_one_pass_more_is_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ran: list[tuple[int, int]] = []

    def fake(length: int, password: bytes, salt: bytes, ops: int, mem: int, alg: int) -> bytes:
        ran.append((ops, mem))
        return bytes(length)

    monkeypatch.setattr(kdf.nacl.bindings, "crypto_pwhash_alg", fake)
    kdf.argon2id(b"password", bytes(16), opslimit=4, memlimit=1 << 30)
    with pytest.raises(UnsafeKdfParameters):
        kdf.argon2id(b"password", bytes(16), opslimit=5, memlimit=1 << 30)
    assert ran == [(4, 1 << 30)]


# JSON: depth and size measured on the bytes, before the document is built; parsed once.


@pytest.fixture
def json_parses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The length of every text json.loads is given, counted as it is parsed."""
    parsed: list[int] = []
    real = json.loads

    def counting(text: str, *args: Any, **kwargs: Any) -> Any:
        parsed.append(len(text))
        return real(text, *args, **kwargs)

    monkeypatch.setattr(json, "loads", counting)
    return parsed


def nested(depth: int, inner: bytes = b"") -> bytes:
    return b"[" * depth + inner + b"]" * depth


def plain_aegis(db: bytes) -> bytes:
    return b'{"version": 1, "header": {"slots": null, "params": null}, "db": ' + db + b"}"


def test_sibling_deep_arrays_are_refused_naming_the_depth_before_any_is_built(
    json_parses: list[int],
) -> None:
    db = b"[" + b",".join([nested(900)] * 200) + b"]"
    for format in (None, "aegis"):
        with pytest.raises(UnreadableImport, match="nests 902 or more levels deep") as refused:
            registry.read(plain_aegis(db), format=format)
        assert "no export nests more than 32" in str(refused.value)
        assert not isinstance(refused.value, UnknownFormat)
    assert json_parses == []


def test_every_json_reader_refuses_depth_beyond_the_bound(json_parses: list[int]) -> None:
    too_deep = b'{"a": ' + nested(fields.MAX_JSON_DEPTH) + b"}"
    for format in ("aegis", "2fas", "bitwarden", "ente", "proton", "andotp", "freeotp"):
        with pytest.raises(UnreadableImport, match="nests 33 or more levels deep"):
            registry.read(too_deep, format=format)
    assert json_parses == []


def test_nesting_up_to_the_bound_is_read() -> None:
    doc = fields.load_json(nested(fields.MAX_JSON_DEPTH, b'"deep"'), "a test file")
    for _ in range(fields.MAX_JSON_DEPTH - 1):
        (doc,) = doc
    assert doc == ["deep"]


def test_too_many_containers_are_refused_before_any_is_built(
    json_parses: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fields, "MAX_JSON_CONTAINERS", 100)
    assert fields.load_json(b"[" + b",".join([b"{}"] * 99) + b"]", "x") == [{}] * 99
    with pytest.raises(UnreadableImport, match="more than 100 objects and lists"):
        fields.load_json(b"[" + b",".join([b"{}"] * 100) + b"]", "x")
    assert len(json_parses) == 1


def test_a_file_of_small_containers_beyond_the_real_bound_is_refused(
    json_parses: list[int],
) -> None:
    data = b"[" + b"[]," * fields.MAX_JSON_CONTAINERS + b"[]]"
    with pytest.raises(UnreadableImport, match="more than 1,000,000 objects and lists"):
        registry.read(data)
    assert json_parses == []


@pytest.mark.parametrize(
    "text",
    [
        '["[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", "{{{{"]',
        '{"a\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[": "\\\\", "b": ["\\\\\\"]]]]"]}',
        '["' + "[" * 70_000 + '", ' + "[" * 31 + "]" * 31 + "]",
        '["\\\\' + "x" * 70_000 + '", "' + "{" * 40 + '"]',
    ],
    ids=["brackets-in-strings", "escapes", "string-across-chunks", "escape-then-long-string"],
)
def test_brackets_inside_strings_do_not_count(text: str) -> None:
    assert fields.load_json(text.encode(), "x") == json.loads(text)


def test_depth_after_a_long_string_is_still_seen() -> None:
    text = '["' + "[" * 70_000 + '", ' + "[" * 32 + "]" * 32 + "]"
    with pytest.raises(UnreadableImport, match="nests 33 or more levels deep"):
        fields.load_json(text.encode(), "x")


@pytest.mark.parametrize("data", [b"[[[]]", b"[]]", b"]["])
def test_unbalanced_brackets_are_broken_json(data: bytes, json_parses: list[int]) -> None:
    with pytest.raises(UnreadableImport, match="this is not x: the JSON is broken"):
        fields.load_json(data, "x")
    assert json_parses == []


PLAIN_JSON = [
    ("aegis", test_aegis.plain(test_aegis.EVERY_TYPE)),
    ("2fas", test_twofas.backup(test_twofas.SERVICES)),
    ("bitwarden", test_bitwarden.encode(test_bitwarden.export(test_bitwarden.ITEMS))),
    ("andotp", test_andotp.dump(test_andotp.BACKUP)),
    ("freeotp", test_freeotp.dump(test_freeotp.EXPORT)),
]


@pytest.mark.parametrize(("format", "data"), PLAIN_JSON, ids=[s[0] for s in PLAIN_JSON])
def test_a_detected_file_is_parsed_once(format: str, data: bytes, json_parses: list[int]) -> None:
    parsed = registry.read(data)
    assert parsed.format == format
    assert parsed.accounts
    assert json_parses == [len(data.decode())]


def test_the_parsed_document_is_kept_only_for_that_read(json_parses: list[int]) -> None:
    data = test_andotp.dump(test_andotp.BACKUP)
    registry.read(data)
    registry.read(data)
    andotp.parse(data)
    assert len(json_parses) == 3
    with fields.parsed_once(data):
        registry.detect(data)
        andotp.parse(bytes(bytearray(data)))  # equal bytes, another object: parsed again
        fields.load_json(data, "x")
    assert len(json_parses) == 5


def test_detection_that_finds_no_json_shape_parses_once_and_says_so(
    json_parses: list[int],
) -> None:
    with pytest.raises(UnknownFormat, match="not recognised"):
        registry.read(b'{"some": "other app"}')
    assert len(json_parses) == 1


# Google Authenticator batches: linear in the links read, and a bounded report.


class CountingDict(dict[int, str]):
    """A batch's codes read, counting each key looked up or walked over."""

    touched = 0

    def __contains__(self, key: object) -> bool:
        CountingDict.touched += 1
        return super().__contains__(key)

    def __iter__(self) -> Iterator[int]:
        for key in super().__iter__():
            CountingDict.touched += 1
            yield key


def part(batch_id: int, index: int, size: int) -> MigrationPart:
    return MigrationPart(batch_id=batch_id, batch_index=index, batch_size=size, version=1)


def batches_of(parts: list[MigrationPart]) -> MigrationBatches:
    batches = MigrationBatches()
    for number, part in enumerate(parts):
        assert batches.add(part, number.to_bytes(4, "big"), f"line {number + 1}")
    return batches


def test_many_links_each_claiming_a_huge_batch_cost_what_was_read() -> None:
    size = google_migration.MAX_BATCH_SIZE
    parts = [part(k, 0, size) for k in range(9_999)]
    batches = batches_of(parts)
    batches._parts = {key: CountingDict(seen) for key, seen in batches._parts.items()}
    CountingDict.touched = 0
    warnings = batches.warnings()
    assert CountingDict.touched == 9_999  # one look at each code read, none at the codes claimed
    assert len(warnings) == google_migration.MAX_EXPORTS_NAMED + 1
    assert warnings[0] == (
        f"a Google Authenticator export of {size} QR codes is missing codes 2 to {size}: "
        "import them too, or their accounts are left out"
    )
    assert warnings[-1].startswith("and 9,989 more Google Authenticator exports are incomplete")


def test_a_batch_with_many_gaps_is_spelled_briefly() -> None:
    parts = [part(1, i, 10_000) for i in range(0, 10_000, 2)]
    (warning,) = batches_of(parts).warnings()
    limit = google_migration.MAX_RUNS_SPELLED
    spelled = ", ".join(str(number) for number in range(2, 2 * limit + 1, 2))
    assert f"missing codes {spelled} and {5_000 - limit:,} more: import them too" in warning


def test_the_missing_runs_are_spelled_as_before() -> None:
    parts = [part(1, i, 9) for i in (0, 2, 3, 5, 6)]
    (warning,) = batches_of(parts).warnings()
    assert "missing codes 2, 5, 8 and 9: import them too" in warning


def test_notes_about_single_codes_are_bounded() -> None:
    batches = MigrationBatches()
    lone = part(1, 0, 1)
    assert batches.add(lone, b"same", "line 1")
    for number in range(2, 102):
        assert not batches.add(lone, b"same", f"line {number}")
    warnings = batches.warnings()
    assert len(warnings) == google_migration.MAX_NOTES + 1
    assert warnings[-1].startswith(f"and {100 - google_migration.MAX_NOTES} more export codes")


def test_sizes_that_disagree_are_listed_briefly() -> None:
    parts = [part(1, 0, size) for size in range(2, 102)]
    (warning,) = batches_of(parts).warnings()
    assert "(2, 3, 4" in warning
    assert f"and {100 - google_migration.MAX_RUNS_SPELLED} more); check" in warning


def test_a_file_of_links_claiming_huge_batches_reads_with_a_short_report() -> None:
    lines = [
        migration_uri(payload(Otp(issuer=f"i{k}"), batch_index=0, batch_size=10_000, batch_id=k))
        for k in range(50)
    ]
    parsed = google_migration.parse("\n".join(lines).encode())
    assert len(parsed.accounts) == 50
    assert len(parsed.warnings) == google_migration.MAX_EXPORTS_NAMED + 1


def test_blank_and_comment_lines_are_passed_over_with_their_numbers_kept() -> None:
    link = migration_uri(payload(Otp(issuer="Kept")))
    text = "\ufeff" + "\n" * 1000 + " \t\r\n# comment\r" + f"  {link}  \r\n\n#{link}\n{link}"
    lines = google_migration.text_lines(text.encode(), "a test file")
    assert lines == [(1003, link), (1006, link)]
