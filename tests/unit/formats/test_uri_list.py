"""Plain-text link lists: what apps export, lines that fail alone, and files that are no list."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.formats.google_payload import HOTP, Otp, migration_uri, payload
from twofold.protocol.account import AccountDraft, HashAlgorithm, OtpKind, OtpParams, base32_secret
from twofold.protocol.errors import InputError, UnreadableImport
from twofold.protocol.formats.entries import MAX_IMPORT_ENTRIES, ParsedFile
from twofold.protocol.formats.uri_list import looks_like, parse
from twofold.protocol.otpauth import emit_uri

HELLO = base32_secret("JBSWY3DPEHPK3PXP")
TOTP_LINE = "otpauth://totp/GitHub:octocat?secret=JBSWY3DPEHPK3PXP&issuer=GitHub"

# Ente Auth's plain-text export as another app's importer tests carry it: parameters in any
# order, a padded secret, lower-case algorithm, and Ente's own codeDisplay JSON.
ENTE = """\
otpauth://totp/MyLabel256_8_15?secret=JVMVGRKDKJCVI%3D%3D%3D&issuer=MyIssuer&algorithm=SHA256&digits=8&period=15&codeDisplay=%7B%22pinned%22%3Afalse%2C%22trashed%22%3Afalse%2C%22lastUsedAt%22%3A0%2C%22tapCount%22%3A0%2C%22tags%22%3A%5B%5D%2C%22note%22%3A%22%22%2C%22position%22%3A0%2C%22iconSrc%22%3A%22%22%2C%22iconID%22%3A%22%22%7D
otpauth://totp/MyIssuer:MyLabelDefault?algorithm=sha1&digits=6&issuer=MyIssuer&period=30&secret=JVMVGRKDKJCVI%3D%3D%3D&codeDisplay=%7B%22pinned%22%3Afalse%2C%22trashed%22%3Afalse%2C%22lastUsedAt%22%3A0%2C%22tapCount%22%3A0%2C%22tags%22%3A%5B%5D%2C%22note%22%3A%22a+note%22%2C%22position%22%3A0%2C%22iconSrc%22%3A%22customIcon%22%2C%22iconID%22%3A%22proton%22%7D
"""


def drafts(result: ParsedFile) -> list[AccountDraft]:
    return [account.draft for account in result.accounts]


@pytest.mark.parametrize(
    "data",
    [
        TOTP_LINE.encode(),
        b"OTPAUTH://TOTP/x?secret=A",
        b"motp://x?secret=00",
        b"otpauth-migration://offline?data=x",
        b"\n\n   \r\n" + TOTP_LINE.encode(),
        b"\xef\xbb\xbf" + TOTP_LINE.encode(),
        b"# exported by some app\n\n" + TOTP_LINE.encode(),
        TOTP_LINE.encode() + b"\nnot a link\n\xff\xfe",
    ],
)
def test_looks_like_a_list(data: bytes) -> None:
    assert looks_like(data) is True


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\n  \n",
        b'{"otpauth": "otpauth://totp/x"}',
        b"https://example.com\n" + TOTP_LINE.encode(),
        b"\x89PNG\r\n\x1a\n\x00\x00",
        b"otpauth:/totp/missing-slash",
        b"\xff\xfe\x00o\x00t",
        b" " * 70_000 + TOTP_LINE.encode(),
    ],
)
def test_does_not_look_like_a_list(data: bytes) -> None:
    assert looks_like(data) is False


@given(st.binary(max_size=200))
def test_looks_like_never_raises(data: bytes) -> None:
    assert looks_like(data) in (True, False)


def test_reads_ente_plain_text_and_ignores_its_code_display_parameter() -> None:
    result = parse(ENTE.encode())
    assert result.format == "otpauth"
    assert result.failures == ()
    first, second = drafts(result)
    assert (first.issuer, first.name) == ("MyIssuer", "MyLabel256_8_15")
    assert first.otp == OtpParams.create(
        "totp", b"MYSECRET", algorithm=HashAlgorithm.SHA256, digits=8, period=15
    )
    assert (second.issuer, second.name) == ("MyIssuer", "MyLabelDefault")
    assert second.otp == OtpParams.create("totp", b"MYSECRET")
    assert second.note == ""
    assert [a.source for a in result.accounts] == ["line 1", "line 2"]


def test_every_kind_and_blank_lines_keep_their_line_numbers() -> None:
    text = (
        f"{TOTP_LINE}\n"
        "\n"
        "otpauth://hotp/Bank:me?secret=JBSWY3DPEHPK3PXP&counter=42&digits=8\r\n"
        "   otpauth://steam/Steam:gamer?secret=JBSWY3DPEHPK3PXP   \n"
        "motp://Old:phone?secret=0123456789abcdef&pin=1234\n"
        "otpauth://yaotp/Yandex:me?secret=JBSWY3DPEHPK3PXPJBSWY3DPEH&pin=5678\n"
    )
    result = parse(text.encode())
    assert [a.source for a in result.accounts] == ["line 1", "line 3", "line 4", "line 5", "line 6"]
    totp, hotp, steam, motp, yandex = drafts(result)
    assert (totp.issuer, totp.name, totp.otp.secret) == ("GitHub", "octocat", HELLO)
    assert (hotp.otp.kind, hotp.counter, hotp.otp.digits) == (OtpKind.HOTP, 42, 8)
    assert (steam.otp.kind, steam.otp.digits, steam.name) == (OtpKind.STEAM, 5, "gamer")
    assert (motp.otp.kind, motp.otp.secret, motp.otp.pin) == (
        OtpKind.MOTP,
        bytes.fromhex("0123456789abcdef"),
        "1234",
    )
    assert (yandex.otp.kind, yandex.otp.pin) == (OtpKind.YANDEX, "5678")
    assert result.failures == ()


def test_what_emit_uri_writes_reads_back_unchanged() -> None:
    originals = [
        AccountDraft("Bücher & Co", "jürgen:ü@x", OtpParams.create("totp", b"k" * 20, digits=8)),
        AccountDraft("", "bare", OtpParams.create("hotp", b"\x00\xff", algorithm="SHA512"), 9),
        AccountDraft("Steam", "me", OtpParams.create("steam", HELLO)),
        AccountDraft("M", "d", OtpParams.create("motp", b"\x01" * 8, pin="0000")),
    ]
    text = "\n".join(emit_uri(draft) for draft in originals)
    assert drafts(parse(text.encode())) == originals


def test_lines_that_cannot_be_read_fail_alone_with_their_reason() -> None:
    text = (
        f"{TOTP_LINE}\n"
        "just some words\n"
        "otpauth://totp/Bad:key?secret=not-base32!\n"
        "motp://NoPin:x?secret=00ff\n"
        "otpauth-migration://offline?data=%%%\n"
        "https://example.com/otpauth://totp/x\n"
    )
    result = parse(text.encode())
    assert [a.source for a in result.accounts] == ["line 1"]
    assert [(f.source, f.reason) for f in result.failures] == [
        ("line 2", "not an otpauth://, motp:// or otpauth-migration:// link"),
        ("line 3", "secret: secret is not valid base32 (letters A-Z and digits 2-7)"),
        ("line 4", "pin: motp needs a PIN and the uri carries none: ask for it"),
        ("line 5", "the export link's data is not base64: it is damaged or cut short"),
        ("line 6", "not an otpauth://, motp:// or otpauth-migration:// link"),
    ]


def test_comment_lines_are_skipped() -> None:
    result = parse(f"# my codes\n{TOTP_LINE}\n  # another\n".encode())
    assert [a.source for a in result.accounts] == ["line 2"]
    assert result.failures == ()


def test_migration_lines_mix_with_key_links() -> None:
    export = migration_uri(
        payload(
            Otp(issuer="Google", name="Google:me@gmail.com", secret=b"g-secret"),
            Otp(issuer=None, name="counter", type=HOTP, counter=5, secret=b"h-secret"),
            batch_size=2,
            batch_index=0,
            batch_id=9,
        )
    )
    result = parse(f"{TOTP_LINE}\n{export}\n".encode())
    assert [a.source for a in result.accounts] == [
        "line 1",
        "line 2, entry 1 (Google: me@gmail.com)",
        "line 2, entry 2 (counter)",
    ]
    google, hotp = drafts(result)[1:]
    assert (google.issuer, google.name, google.otp.secret) == (
        "Google",
        "me@gmail.com",
        b"g-secret",
    )
    assert (hotp.otp.kind, hotp.counter, hotp.otp.secret) == (OtpKind.HOTP, 5, b"h-secret")
    (warning,) = result.warnings
    assert "export of 2 QR codes is missing code 2" in warning


def test_a_migration_line_with_a_bad_entry_keeps_the_rest() -> None:
    export = migration_uri(payload(Otp(secret=b""), Otp(issuer="Fine", secret=b"ok")))
    result = parse(export.encode())
    assert [a.draft.issuer for a in result.accounts] == ["Fine"]
    assert [(f.source, f.reason) for f in result.failures] == [
        ("line 1, entry 1 (Example: alice@example.com)", "secret: secret is empty")
    ]


def test_a_file_of_only_broken_links_is_still_this_format() -> None:
    result = parse(b"otpauth://totp/x?secret=\n")
    assert result.accounts == ()
    assert [f.source for f in result.failures] == ["line 1"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "no line starts with otpauth://"),
        (b"\n\n# nothing\n", "no line starts with otpauth://"),
        (b"hello\nworld\n", "no line starts with otpauth://"),
        (b'{"entries": []}', "no line starts with otpauth://"),
        (TOTP_LINE.encode() + b"\n\xff\xfe\n", "not UTF-8 text"),
        (b"x" * (16 * 1024 * 1024 + 1), "imports are limited to"),
        (
            (TOTP_LINE + "\n").encode() * (MAX_IMPORT_ENTRIES + 1),
            f"more than {MAX_IMPORT_ENTRIES} lines",
        ),
    ],
)
def test_files_that_are_no_list(data: bytes, message: str) -> None:
    with pytest.raises(UnreadableImport, match=message):
        parse(data)


def test_the_password_is_ignored() -> None:
    assert drafts(parse(TOTP_LINE.encode(), "secret"))[0].issuer == "GitHub"


@given(st.text(max_size=300))
def test_random_text_raises_only_input_errors(text: str) -> None:
    with contextlib.suppress(InputError):
        parse(text.encode("utf-8", "surrogatepass"))


@given(st.lists(st.sampled_from(["otpauth://", "motp://", "otpauth-migration://", "x"])), st.text())
def test_random_links_raise_only_input_errors(heads: list[str], tail: str) -> None:
    text = "\n".join(head + tail for head in heads)
    with contextlib.suppress(InputError):
        parse(text.encode("utf-8", "surrogatepass"))
