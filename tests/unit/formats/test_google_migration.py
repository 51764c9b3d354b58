"""Google Authenticator export links: real exports, every field value, batches, hostile bytes."""

from __future__ import annotations

import base64
import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.formats.google_payload import (
    EIGHT,
    FIXED32,
    FIXED64,
    HOTP,
    LENGTH,
    MD5,
    SHA1,
    SHA256,
    SHA512,
    SIX,
    TOTP,
    VARINT,
    Otp,
    bytes_field,
    key,
    migration_uri,
    number_field,
    payload,
    varint,
)
from twofold.protocol.account import AccountDraft, HashAlgorithm, OtpKind, base32_secret
from twofold.protocol.errors import InputError, UnreadableImport
from twofold.protocol.formats.entries import MAX_IMPORT_ENTRIES, Collector, ParsedFile
from twofold.protocol.formats.google_migration import (
    BrokenMigration,
    MigrationBatches,
    MigrationPart,
    parse,
    parse_migration_uri,
)

HELLO = base32_secret("JBSWY3DPEHPK3PXP")
PI_SECRET = base32_secret("7KSQL2JTUDIS5EF65KLMRQIIGY")

# dim13/otpauth README: written by Google Authenticator, decoded there to
# otpauth://totp/Example:alice@google.com?issuer=Example&secret=JBSWY3DPEHPK3PXP
DIM13 = (
    "otpauth-migration://offline?data="
    "CjEKCkhlbGxvId6tvu8SGEV4YW1wbGU6YWxpY2VAZ29vZ2xlLmNvbRoHRXhhbXBsZTAC"
)
# scito/extract_otp_secrets example_export.txt, with the URIs each link was made from.
SCITO = """\
# otpauth://totp/pi@raspberrypi?secret=7KSQL2JTUDIS5EF65KLMRQIIGY&issuer=raspberrypi
otpauth-migration://offline?data=CjUKEPqlBekzoNEukL7qlsjBCDYSDnBpQHJhc3BiZXJyeXBpGgtyYXNwYmVycnlwaSABKAEwAhABGAEgACjr4JKK%2B%2F%2F%2F%2F%2F8B

# otpauth://totp/pi@raspberrypi?secret=7KSQL2JTUDIS5EF65KLMRQIIGY&issuer=raspberrypi
# otpauth://totp/pi@raspberrypi?secret=7KSQL2JTUDIS5EF65KLMRQIIGY
otpauth-migration://offline?data=CigKEPqlBekzoNEukL7qlsjBCDYSDnBpQHJhc3BiZXJyeXBpIAEoATACCjUKEPqlBekzoNEukL7qlsjBCDYSDnBpQHJhc3BiZXJyeXBpGgtyYXNwYmVycnlwaSABKAEwAhABGAEgACiQ7OOa%2Bf%2F%2F%2F%2F8B

# otpauth://hotp/hotp%20demo?secret=7KSQL2JTUDIS5EF65KLMRQIIGY&counter=4
otpauth-migration://offline?data=CiUKEPqlBekzoNEukL7qlsjBCDYSCWhvdHAgZGVtbyABKAEwATgEEAEYASAAKNuv15j6%2F%2F%2F%2F%2FwE%3D

# Name: "encoding: ¿äÄéÉ? (demo)"
otpauth-migration://offline?data=CjYKEPqlBekzoNEukL7qlsjBCDYSHGVuY29kaW5nOiDCv8Okw4TDqcOJPyAoZGVtbykgASgBMAIQARgBIAAorfCurv%2F%2F%2F%2F%2F%2FAQ%3D%3D
"""


def read(*otps: Otp | bytes, extra: bytes = b"") -> ParsedFile:
    return parse(migration_uri(payload(*otps, extra=extra)).encode())


def only_account(result: ParsedFile) -> AccountDraft:
    assert result.failures == ()
    assert len(result.accounts) == 1
    return result.accounts[0].draft


def only_failure(result: ParsedFile) -> str:
    assert result.accounts == ()
    assert len(result.failures) == 1
    return result.failures[0].reason


def test_reads_dim13s_export_as_google_wrote_it() -> None:
    result = parse(DIM13.encode())
    assert result.format == "google-migration"
    draft = only_account(result)
    assert (draft.issuer, draft.name) == ("Example", "alice@google.com")
    assert draft.otp.secret == HELLO
    assert draft.otp.kind is OtpKind.TOTP
    assert (draft.otp.algorithm, draft.otp.digits, draft.otp.period) == (HashAlgorithm.SHA1, 6, 30)
    assert draft.counter == 0
    assert result.accounts[0].source == "entry 1 (Example: alice@google.com)"


def test_the_encoder_writes_dim13s_bytes_exactly() -> None:
    ours = payload(
        Otp(secret=HELLO, name="Example:alice@google.com", algorithm=None, digits=None),
        version=None,
        batch_size=None,
        batch_index=None,
        batch_id=None,
    )
    assert migration_uri(ours, padded=False) == DIM13


def test_reads_scitos_example_export() -> None:
    result = parse(SCITO.encode())
    assert result.failures == ()
    assert result.warnings == ()
    got = [
        (a.source, a.draft.issuer, a.draft.name, a.draft.otp.kind, a.draft.counter)
        for a in result.accounts
    ]
    assert got == [
        ("line 2, entry 1 (raspberrypi: pi@raspberrypi)", "raspberrypi", "pi@raspberrypi",
         OtpKind.TOTP, 0),
        ("line 6, entry 1 (pi@raspberrypi)", "", "pi@raspberrypi", OtpKind.TOTP, 0),
        ("line 6, entry 2 (raspberrypi: pi@raspberrypi)", "raspberrypi", "pi@raspberrypi",
         OtpKind.TOTP, 0),
        ("line 9, entry 1 (hotp demo)", "", "hotp demo", OtpKind.HOTP, 4),
        ("line 12, entry 1 (encoding: ¿äÄéÉ? (demo))", "encoding", "¿äÄéÉ? (demo)",
         OtpKind.TOTP, 0),
    ]  # fmt: skip
    assert {a.draft.otp.secret for a in result.accounts} == {PI_SECRET}


@pytest.mark.parametrize(
    ("number", "algorithm"),
    [
        (None, HashAlgorithm.SHA1),
        (0, HashAlgorithm.SHA1),
        (SHA1, HashAlgorithm.SHA1),
        (SHA256, HashAlgorithm.SHA256),
        (SHA512, HashAlgorithm.SHA512),
        (MD5, HashAlgorithm.MD5),
    ],
)
def test_every_algorithm(number: int | None, algorithm: HashAlgorithm) -> None:
    assert only_account(read(Otp(algorithm=number))).otp.algorithm is algorithm


@pytest.mark.parametrize(("number", "digits"), [(None, 6), (0, 6), (SIX, 6), (EIGHT, 8)])
def test_both_digit_counts(number: int | None, digits: int) -> None:
    assert only_account(read(Otp(digits=number))).otp.digits == digits


@pytest.mark.parametrize("number", [None, 0, TOTP])
def test_totp_and_unspecified_read_as_totp_every_30_seconds(number: int | None) -> None:
    draft = only_account(read(Otp(type=number, counter=99)))
    assert draft.otp.kind is OtpKind.TOTP
    assert draft.otp.period == 30
    assert draft.counter == 0


@pytest.mark.parametrize("counter", [None, 0, 1, 4, 2**40, 2**63 - 1])
def test_hotp_keeps_its_counter(counter: int | None) -> None:
    draft = only_account(read(Otp(type=HOTP, counter=counter, digits=EIGHT, algorithm=SHA256)))
    assert draft.otp.kind is OtpKind.HOTP
    assert draft.counter == (counter or 0)
    assert (draft.otp.digits, draft.otp.algorithm) == (8, HashAlgorithm.SHA256)


def test_secret_bytes_are_kept_exactly() -> None:
    secret = bytes(range(256))[:64]
    assert only_account(read(Otp(secret=secret))).otp.secret == secret


@pytest.mark.parametrize(
    ("issuer", "name", "expected"),
    [
        ("Bücher & Co", "jürgen@bücher.de", ("Bücher & Co", "jürgen@bücher.de")),
        ("例え", "例え:名前@例え.jp", ("例え", "名前@例え.jp")),
        ("🔐 Vault", "🔐 Vault:me 😀", ("🔐 Vault", "me 😀")),
        ("Example", "Example:alice", ("Example", "alice")),
        ("Example", "Example: alice ", ("Example", "alice")),
        ("Example", "example:alice", ("Example", "example:alice")),
        ("Example", "Other:alice", ("Example", "Other:alice")),
        ("Example", "Example:", ("Example", "")),
        ("", "GitHub:octocat", ("GitHub", "octocat")),
        (None, "a:b:c", ("a", "b:c")),
        (" Padded ", " name ", ("Padded", "name")),
        ("Issuer only", None, ("Issuer only", "")),
    ],
)
def test_labels(issuer: str | None, name: str | None, expected: tuple[str, str]) -> None:
    draft = only_account(read(Otp(issuer=issuer, name=name)))
    assert (draft.issuer, draft.name) == expected


def test_unpadded_and_space_for_plus_data_still_reads() -> None:
    data = payload(Otp(secret=b"\xfb\xff\xfe" * 7))
    text = base64.b64encode(data).decode()
    assert "+" in text or "/" in text
    uri = "otpauth-migration://offline?data=" + text.rstrip("=").replace("+", " ")
    assert only_account(parse(uri.encode())).otp.secret == b"\xfb\xff\xfe" * 7


def test_scheme_and_host_in_any_case_and_extra_parameters() -> None:
    uri = migration_uri(payload(Otp())).replace("otpauth-migration://offline?", "")
    text = f"OTPAUTH-MIGRATION://Offline?foo=bar&{uri}&x"
    assert only_account(parse(text.encode())).issuer == "Example"


def unknown_fields(first: int) -> bytes:
    """One unknown field of every wire type a current encoder can write, from field `first` up."""
    return (
        number_field(first, 12345)
        + bytes_field(first + 1, b"\x00\xff nested bytes")
        + key(first + 2, FIXED32) + b"\x01\x02\x03\x04"
        + key(first + 3, FIXED64) + b"\x01" * 8
        + number_field((1 << 29) - 1, 2**64 - 1)
    )  # fmt: skip


def test_unknown_fields_are_skipped_in_both_messages() -> None:
    otp = Otp(secret=b"secret-bytes", counter=7, type=HOTP, extra=unknown_fields(8))
    draft = only_account(read(otp, extra=unknown_fields(6)))
    assert draft.otp.secret == b"secret-bytes"
    assert (draft.issuer, draft.name, draft.counter) == ("Example", "alice@example.com", 7)


def test_a_field_given_twice_keeps_its_last_value() -> None:
    otp = Otp(secret=b"first", extra=bytes_field(1, b"second") + number_field(5, EIGHT))
    draft = only_account(read(otp))
    assert (draft.otp.secret, draft.otp.digits) == (b"second", 8)


def test_several_entries_in_one_code_each_named() -> None:
    result = read(
        Otp(issuer="GitHub", name="octocat", secret=b"one"),
        Otp(issuer=None, name="bare", secret=b"two", type=HOTP, counter=3),
        Otp(issuer="Bank", name=None, secret=b"three", digits=EIGHT),
    )
    assert [a.source for a in result.accounts] == [
        "entry 1 (GitHub: octocat)",
        "entry 2 (bare)",
        "entry 3 (Bank)",
    ]
    assert [a.draft.otp.secret for a in result.accounts] == [b"one", b"two", b"three"]
    assert result.accounts[1].draft.counter == 3
    assert result.accounts[2].draft.otp.digits == 8


@pytest.mark.parametrize(
    ("otp", "reason"),
    [
        (Otp(secret=None), "secret is empty"),
        (Otp(secret=b""), "secret is empty"),
        (Otp(secret=b"x" * 1025), "secret must be at most 1024 bytes"),
        (Otp(algorithm=5), "algorithm number 5 is not SHA1, SHA256, SHA512 or MD5"),
        (Otp(digits=3), "digit count number 3 is unknown"),
        (Otp(type=3), "type number 3 is neither TOTP nor HOTP"),
        (Otp(type=HOTP, counter=-1), "counter must be between 0 and"),
        (Otp(issuer=None, name=None), "give the account a name or an issuer"),
        (Otp(issuer="", name=":"), "give the account a name or an issuer"),
        (Otp(name="tab\there"), "name must not hold control characters"),
        (Otp(issuer="x" * 257), "issuer must be at most 256 characters"),
        (Otp(extra=bytes_field(2, b"\xff\xfe")), "name is not valid UTF-8"),
        (Otp(extra=key(4, LENGTH) + varint(1) + b"x"), "field 4 has wire type 2, not 0"),
        (Otp(extra=key(1, VARINT) + varint(5)), "field 1 has wire type 0, not 2"),
        (Otp(extra=key(7, VARINT) + b"\x80\x80"), "a number is cut short"),
        (Otp(extra=key(2, LENGTH) + varint(500) + b"short"), "claims 500 bytes but only 5"),
        (Otp(extra=key(10, 3)), "wire type 3, which this format never uses"),
    ],
)
def test_a_bad_entry_fails_alone_with_a_reason(otp: Otp, reason: str) -> None:
    result = read(Otp(issuer="Good", secret=b"fine"), otp, Otp(issuer="Also good"))
    assert [a.draft.issuer for a in result.accounts] == ["Good", "Also good"]
    assert len(result.failures) == 1
    assert result.failures[0].source.startswith("entry 2")
    assert reason in result.failures[0].reason


def test_a_broken_entry_is_still_named_when_its_labels_are_readable() -> None:
    result = read(Otp(issuer="Bank", name="me", algorithm=9))
    assert result.failures[0].source == "entry 1 (Bank: me)"
    assert "algorithm" in only_failure(result)


def test_a_structurally_broken_entry_is_named_by_position() -> None:
    result = read(Otp(issuer="Bank", extra=b"\x80"))
    assert result.failures[0].source == "entry 1"
    assert "damaged" in only_failure(result)


def batch(index: int, size: int, issuer: str, batch_id: int = 77) -> str:
    return migration_uri(
        payload(Otp(issuer=issuer), batch_index=index, batch_size=size, batch_id=batch_id)
    )


def test_a_whole_multi_code_export_reads_without_warning() -> None:
    text = "\n".join(batch(index, 3, f"I{index}") for index in (2, 0, 1))
    result = parse(text.encode())
    assert [a.draft.issuer for a in result.accounts] == ["I2", "I0", "I1"]
    assert result.warnings == ()


def test_a_missing_code_of_a_batch_is_named_from_one() -> None:
    text = f"{batch(0, 3, 'first')}\n\n{batch(2, 3, 'third')}\n"
    result = parse(text.encode())
    assert [a.draft.issuer for a in result.accounts] == ["first", "third"]
    assert [a.source for a in result.accounts] == [
        "line 1, entry 1 (first: alice@example.com)",
        "line 3, entry 1 (third: alice@example.com)",
    ]
    assert result.warnings == (
        "a Google Authenticator export of 3 QR codes is missing code 2: import it too, "
        "or its accounts are left out",
    )


@pytest.mark.parametrize(
    ("read_indices", "spelled"),
    [
        ((0, 4, 8), "codes 2 to 4 and 6 to 8: import them too"),
        ((0, 2, 3, 5, 6), "codes 2, 5, 8 and 9: import them too"),
        ((1, 2, 3, 4, 5, 6, 7, 8), "code 1: import it too"),
    ],
)
def test_several_missing_codes_and_runs_are_spelled_out(
    read_indices: tuple[int, ...], spelled: str
) -> None:
    text = "\n".join(batch(index, 9, f"i{index}") for index in read_indices)
    (warning,) = parse(text.encode()).warnings
    assert f"export of 9 QR codes is missing {spelled}" in warning


def test_a_lone_code_of_a_batch_warns_about_the_rest() -> None:
    (warning,) = parse(batch(1, 2, "second").encode()).warnings
    assert "of 2 QR codes is missing code 1:" in warning


def test_two_exports_are_tracked_apart() -> None:
    text = "\n".join([batch(0, 2, "a", batch_id=1), batch(1, 2, "b", batch_id=2)])
    warnings = parse(text.encode()).warnings
    assert sorted(w.split(" is missing ")[1][:6] for w in warnings) == ["code 1", "code 2"]


def test_the_same_code_twice_is_read_once_with_a_warning() -> None:
    text = "\n".join([batch(0, 2, "a"), batch(1, 2, "b"), batch(0, 2, "a")])
    result = parse(text.encode())
    assert [a.draft.issuer for a in result.accounts] == ["a", "b"]
    assert result.warnings == (
        "line 3 holds the same Google Authenticator export code as line 1; "
        "its accounts were read once",
    )


def test_batch_numbers_that_cannot_be_are_warned_about() -> None:
    result = parse(batch(5, 3, "odd").encode())
    assert only_account(result).issuer == "odd"
    assert result.warnings == (
        "link 1 says it is export code 6 of 3, which cannot be; "
        "check that every code of the export was read",
    )


def test_codes_that_disagree_on_the_batch_size_are_warned_about() -> None:
    text = "\n".join([batch(0, 2, "a"), batch(1, 3, "b")])
    (warning,) = parse(text.encode()).warnings
    assert "disagree on how many there are (2 and 3)" in warning


def test_batches_record_parts_for_callers_that_read_links_themselves() -> None:
    batches = MigrationBatches()
    collector = Collector("test")
    for index in (0, 3):
        parse_migration_uri(
            batch(index, 4, f"p{index}"),
            collector,
            uri_index=index,
            where=f"QR code {index + 1}",
            batches=batches,
        )
    assert [a.source for a in collector.accounts] == [
        "QR code 1, entry 1 (p0: alice@example.com)",
        "QR code 4, entry 1 (p3: alice@example.com)",
    ]
    assert "missing codes 2 and 3" in batches.warnings()[0]
    part = MigrationPart(batch_id=1, batch_index=0, batch_size=1, version=1)
    assert batches.add(part, b"digest", "here") is True
    assert batches.add(part, b"digest", "there") is False


def test_without_batches_every_link_is_read() -> None:
    collector = Collector("test")
    for index in range(2):
        parse_migration_uri(batch(0, 2, "same"), collector, uri_index=index)
    assert [a.source for a in collector.accounts] == ["entry 1 (same: alice@example.com)"] * 2


def link(data: bytes) -> str:
    return migration_uri(data)


HOSTILE_LINKS = [
    pytest.param(link(payload(Otp()) + key(2, VARINT) + b"\x80"), "a number is cut short",
                 id="truncated-varint"),
    pytest.param(link(key(1, LENGTH) + varint(50) + b"abc"), "claims 50 bytes but only 3",
                 id="length-beyond-end"),
    pytest.param(link(key(1, LENGTH) + varint(2**63)), "claims 9223372036854775808 bytes",
                 id="huge-length"),
    pytest.param(link(key(1, VARINT) + varint(5)), "field 1 has wire type 0, not 2",
                 id="entries-as-a-number"),
    pytest.param(link(payload(Otp()) + bytes_field(3, b"x")), "field 3 has wire type 2, not 0",
                 id="batch-size-as-bytes"),
    pytest.param(link(payload(Otp()) + key(2, VARINT) + b"\xff" * 9 + b"\x02"),
                 "longer than 64 bits", id="varint-over-64-bits"),
    pytest.param(link(payload(Otp()) + key(2, VARINT) + b"\xff" * 10 + b"\x01"),
                 "longer than 64 bits", id="varint-eleven-bytes"),
    pytest.param(link(payload(Otp()) + key(12, 3)), "wire type 3", id="start-group"),
    pytest.param(link(payload(Otp()) + key(12, 7)), "wire type 7", id="invalid-wire-type"),
    pytest.param(link(payload(Otp()) + b"\x02\x00"), "field number 0", id="field-zero"),
    pytest.param(link(payload(Otp()) + key(9, FIXED64) + b"\x00" * 3), "field 9 is cut short",
                 id="fixed64-cut-short"),
    pytest.param(link(payload(Otp()) + key(9, FIXED32) + b"\x00"), "field 9 is cut short",
                 id="fixed32-cut-short"),
    pytest.param(link(payload(Otp(), batch_size=2**40)), "does not fit the 32-bit field",
                 id="int32-overflow"),
    pytest.param(link(payload(version=1)), "holds no accounts", id="no-entries"),
    pytest.param(link(b"\x00"), "field number 0", id="one-zero-byte"),
    pytest.param("otpauth-migration://offline?data=!!!not*base64", "not base64",
                 id="garbage-base64"),
    pytest.param("otpauth-migration://offline?data=QUJDRA%3D%3D%3D%3D=x", "not base64",
                 id="padding-in-the-middle"),
    pytest.param("otpauth-migration://offline?data=A", "not base64", id="base64-bad-length"),
    pytest.param("otpauth-migration://offline?data=%FF%FE", "not base64", id="percent-not-utf8"),
    pytest.param("otpauth-migration://offline?data=", "data is empty", id="empty-data"),
    pytest.param("otpauth-migration://offline?data=%3D%3D", "data is empty", id="only-padding"),
    pytest.param("otpauth-migration://offline", "has no data", id="no-query"),
    pytest.param("otpauth-migration://offline?other=1", "has no data", id="no-data-parameter"),
    pytest.param("otpauth-migration://offline?data=QUJD&data=REVG", "gives its data twice",
                 id="data-twice"),
    pytest.param("otpauth-migration://online?data=QUJD", "must read otpauth-migration://offline",
                 id="wrong-host"),
    pytest.param("https://example.com/?data=QUJD", "must start with otpauth-migration://",
                 id="not-a-migration-link"),
    pytest.param("otpauth://totp/A:b?secret=JBSWY3DPEHPK3PXP", "import it as format otpauth",
                 id="single-account-link"),
    pytest.param("otpauth-migration://offline?data=" + "A" * 1_500_000, "over 1048576 bytes",
                 id="too-large"),
]  # fmt: skip


@pytest.mark.parametrize(("uri", "message"), HOSTILE_LINKS)
def test_a_hostile_link_alone_refuses_the_file(uri: str, message: str) -> None:
    with pytest.raises(BrokenMigration) as caught:
        parse(uri.encode())
    assert message in str(caught.value)
    assert caught.value.field == "file"


@pytest.mark.parametrize(("uri", "message"), HOSTILE_LINKS)
def test_a_hostile_link_among_others_fails_alone(uri: str, message: str) -> None:
    text = f"{uri}\n{DIM13}\n"
    result = parse(text.encode())
    assert only_account_of(result).issuer == "Example"
    assert [f.source for f in result.failures] == ["line 1"]
    assert message in result.failures[0].reason


def only_account_of(result: ParsedFile) -> AccountDraft:
    assert len(result.accounts) == 1
    return result.accounts[0].draft


def test_when_no_line_reads_the_file_is_refused_naming_the_first() -> None:
    text = "otpauth-migration://offline?data=\nnot a link at all\n"
    with pytest.raises(UnreadableImport, match=r"no line holds .*\(line 1: .*data is empty"):
        parse(text.encode())


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "holds no otpauth-migration:// link"),
        (b"\n  \n# only a comment\n", "holds no otpauth-migration:// link"),
        (b"\xff\xfeo\x00t\x00", "not UTF-8 text"),
        (b"x" * (16 * 1024 * 1024 + 1), "imports are limited to"),
    ],
)
def test_files_that_are_no_export_at_all(data: bytes, message: str) -> None:
    with pytest.raises(UnreadableImport, match=message):
        parse(data)


def test_a_bom_and_windows_line_ends_are_read() -> None:
    text = f"\ufeff{DIM13}\r\n\r\n{batch(0, 1, 'other')}\r\n"
    result = parse(text.encode())
    assert [a.draft.issuer for a in result.accounts] == ["Example", "other"]
    assert result.accounts[1].source.startswith("line 3, ")


def test_the_entry_limit_stops_the_import_even_among_other_lines() -> None:
    many = payload(*[Otp(secret=b"k", issuer="I", name=None)] * (MAX_IMPORT_ENTRIES + 1))
    text = f"{DIM13}\n{migration_uri(many)}\n"
    with pytest.raises(UnreadableImport, match=f"more than {MAX_IMPORT_ENTRIES} entries"):
        parse(text.encode())


def test_the_password_is_ignored() -> None:
    assert only_account(parse(DIM13.encode(), "any")).issuer == "Example"


def _fields_strategy() -> st.SearchStrategy[bytes]:
    """Random well-keyed fields, so decoding reaches the entries and their values, not just keys."""
    field = st.one_of(
        st.tuples(st.integers(1, 9), st.integers(0, 2**64 - 1)).map(
            lambda pair: number_field(*pair)
        ),
        st.tuples(st.integers(1, 9), st.binary(max_size=24)).map(lambda pair: bytes_field(*pair)),
        st.binary(max_size=4),
    )
    return st.lists(field, max_size=8).map(b"".join)


@given(st.binary(max_size=300))
def test_random_payload_bytes_raise_only_input_errors(data: bytes) -> None:
    with contextlib.suppress(InputError):
        parse(migration_uri(data).encode())


@given(st.lists(_fields_strategy(), max_size=4), _fields_strategy())
def test_random_fields_and_entries_raise_only_input_errors(
    entries: list[bytes], tail: bytes
) -> None:
    data = b"".join(bytes_field(1, entry) for entry in entries) + tail
    try:
        result = parse(migration_uri(data).encode())
    except InputError:
        return
    for account in result.accounts:
        assert account.draft.otp.period == 30


@given(st.text(max_size=200))
def test_random_link_text_raises_only_input_errors(text: str) -> None:
    with contextlib.suppress(InputError):
        parse(("otpauth-migration://offline?data=" + text).encode())
