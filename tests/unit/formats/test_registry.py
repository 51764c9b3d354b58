"""Format detection: each app's file, plain and sealed, is told from its bytes alone."""

from __future__ import annotations

import contextlib
import io
import json

import pytest
import segno
from hypothesis import given, settings
from hypothesis import strategies as st

from twofold.protocol import backup
from twofold.protocol.errors import InputError, UnknownFormat, UnreadableImport
from twofold.protocol.formats import registry

from . import (
    test_aegis,
    test_andotp,
    test_bitwarden,
    test_ente,
    test_freeotp,
    test_proton,
    test_twofas,
)
from .test_google_migration import SCITO

URI = "otpauth://totp/GitHub:octocat?secret=JBSWY3DPEHPK3PXP&issuer=GitHub"


def png(text: str) -> bytes:
    buffer = io.BytesIO()
    segno.make(text).save(buffer, kind="png", scale=4)
    return buffer.getvalue()


SAMPLES = [
    ("otpauth", (URI + "\n").encode()),
    ("otpauth", ("# comment\n" + URI + "\n" + SCITO.splitlines()[-1] + "\n").encode()),
    ("google-migration", SCITO.encode()),
    ("aegis", test_aegis.plain(test_aegis.EVERY_TYPE)),
    ("aegis", test_aegis.dump(test_aegis.sealed_vault(test_aegis.EVERY_TYPE))),
    ("2fas", test_twofas.backup(test_twofas.SERVICES)),
    ("2fas", test_twofas.encrypted_backup(test_twofas.SERVICES)),
    ("bitwarden", test_bitwarden.encode(test_bitwarden.export(test_bitwarden.ITEMS))),
    ("bitwarden", test_bitwarden.encode(
        test_bitwarden.protected(test_bitwarden.export(test_bitwarden.ITEMS)))),
    ("ente", test_ente.encode(test_ente.sealed("\n".join(test_ente.CODES)))),
    ("proton", test_proton.encode(test_proton.export(test_proton.ENTRIES))),
    ("proton", test_proton.encode(
        test_proton.protected(test_proton.export(test_proton.ENTRIES)))),
    ("andotp", test_andotp.dump(test_andotp.BACKUP)),
    ("freeotp", test_freeotp.dump(test_freeotp.EXPORT)),
    ("qr-image", png(URI)),
    ("twofold-backup", backup.seal([], recovery_key=backup.new_recovery_key(), created_ms=1)),
]  # fmt: skip


@pytest.mark.parametrize(("format", "data"), SAMPLES, ids=[s[0] for s in SAMPLES])
def test_each_format_is_detected(format: str, data: bytes) -> None:
    assert registry.detect(data) == format


def test_every_reader_has_a_sample() -> None:
    assert {s[0] for s in SAMPLES} == set(registry.FORMATS)


def test_a_detected_plain_file_is_read_by_its_reader() -> None:
    parsed = registry.read(test_andotp.dump(test_andotp.BACKUP))
    assert parsed.format == "andotp"
    assert len(parsed.accounts) == len(test_andotp.BACKUP)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello",
        b"{}",
        b"[]",
        b'{"version": 1}',
        json.dumps({"items": 3}).encode(),
        b"\xff\xfe",
    ],
)
def test_what_no_app_writes_says_how_to_name_the_format(data: bytes) -> None:
    with pytest.raises(UnknownFormat, match="--format"):
        registry.read(data)


def test_a_named_format_is_used_even_when_the_bytes_say_otherwise() -> None:
    with pytest.raises(UnreadableImport):
        registry.read((URI + "\n").encode(), format="aegis")


def test_an_unknown_format_name_is_refused() -> None:
    with pytest.raises(UnknownFormat, match="use one of"):
        registry.read(b"x", format="authy")


def test_a_file_over_the_limit_is_refused_before_reading() -> None:
    with pytest.raises(UnreadableImport, match="limited to"):
        registry.read(b"[" * (16 * 1024 * 1024 + 1))


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=400), st.text(max_size=400).map(str.encode)))
def test_random_bytes_raise_nothing_but_input_errors(data: bytes) -> None:
    for format in (None, *registry.FORMATS):
        with contextlib.suppress(InputError):
            registry.read(data, format=format, password="password")


@settings(max_examples=150, deadline=None)
@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["version", "header", "db", "slots", "params", "entries", "services",
                         "items", "tokens", "schemaVersion", "encrypted", "content", "kdfParams",
                         "login", "totp", "secret", "type", "info", "otp", "uri", "name"]),
        inner, max_size=5),
    max_leaves=20,
))  # fmt: skip
def test_json_of_any_shape_raises_nothing_but_input_errors(doc: object) -> None:
    data = json.dumps(doc).encode()
    for format in (None, *registry.FORMATS):
        with contextlib.suppress(InputError):
            registry.read(data, format=format)
