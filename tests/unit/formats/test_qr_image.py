"""QR codes in pictures: single and several codes, every format, and pictures built to hurt."""

from __future__ import annotations

import contextlib
import io
import struct
import subprocess
import sys
import zlib

import pytest
import segno
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from tests.unit.formats.google_payload import HOTP, Otp, migration_uri, payload
from twofold.protocol.account import HashAlgorithm, OtpKind, base32_secret
from twofold.protocol.errors import InputError, UnreadableImport
from twofold.protocol.formats.entries import ParsedFile
from twofold.protocol.formats.qr_image import MAX_PIXELS, looks_like, parse

HELLO = base32_secret("JBSWY3DPEHPK3PXP")
GITHUB = "otpauth://totp/GitHub:octocat?secret=JBSWY3DPEHPK3PXP&issuer=GitHub"
BANK = "otpauth://hotp/Bank:me?secret=JBSWY3DPEHPK3PXP&counter=7&digits=8&algorithm=SHA256"


def qr(text: str, *, scale: int = 4, light: str | None = "white") -> Image.Image:
    buffer = io.BytesIO()
    segno.make(text, micro=False).save(buffer, kind="png", scale=scale, light=light)
    return Image.open(io.BytesIO(buffer.getvalue()))


def encode(picture: Image.Image, kind: str = "PNG", **options: object) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, kind, **options)
    return buffer.getvalue()


def grid(rows: list[list[str]], *, scale: int = 4, centred: bool = False) -> Image.Image:
    """Codes laid out as a person would screenshot them: rows, with a margin between codes."""
    codes = [[qr(text, scale=scale).convert("RGB") for text in row] for row in rows]
    cell = max(code.width for row in codes for code in row) + 40
    canvas = Image.new("RGB", (cell * max(len(row) for row in codes), cell * len(codes)), "white")
    for y, row in enumerate(codes):
        for x, code in enumerate(row):
            inset = (cell - code.width) // 2 if centred else 20
            canvas.paste(code, (x * cell + inset, y * cell + inset))
    return canvas


def png_header(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims any size, with valid checksums and no pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))
        + struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    )  # fmt: skip


def test_one_code() -> None:
    result = parse(encode(qr(GITHUB)))
    assert result.format == "qr-image"
    assert result.failures == ()
    (account,) = result.accounts
    assert account.source == "QR code 1"
    assert (account.draft.issuer, account.draft.name) == ("GitHub", "octocat")
    assert account.draft.otp.secret == HELLO
    assert account.draft.otp.kind is OtpKind.TOTP


def several(*, centred: bool = False) -> Image.Image:
    export = migration_uri(
        payload(
            Otp(issuer="Google", name="Google:me@gmail.com", secret=b"g-secret"),
            Otp(issuer=None, name="counter", type=HOTP, counter=5, secret=b"h-secret"),
        )
    )
    motp = "motp://Old:phone?secret=00ff00ff&pin=1234"
    return grid([[GITHUB, BANK], [export, motp]], centred=centred)


def check_several(result: ParsedFile) -> None:
    assert result.failures == ()
    accounts = result.accounts
    assert [a.source for a in accounts] == [
        "QR code 1",
        "QR code 2",
        "QR code 3, entry 1 (Google: me@gmail.com)",
        "QR code 3, entry 2 (counter)",
        "QR code 4",
    ]
    github, bank, google, counter, motp = (a.draft for a in accounts)
    assert (github.issuer, github.otp.secret) == ("GitHub", HELLO)
    assert (bank.otp.kind, bank.counter, bank.otp.digits, bank.otp.algorithm) == (
        OtpKind.HOTP,
        7,
        8,
        HashAlgorithm.SHA256,
    )
    assert (google.issuer, google.name, google.otp.secret) == (
        "Google",
        "me@gmail.com",
        b"g-secret",
    )
    assert (counter.otp.kind, counter.counter, counter.otp.secret) == (OtpKind.HOTP, 5, b"h-secret")
    assert (motp.otp.kind, motp.otp.secret, motp.otp.pin) == (OtpKind.MOTP, b"\0\xff\0\xff", "1234")


@pytest.mark.parametrize("centred", [False, True])
def test_several_codes_in_one_picture_in_reading_order(centred: bool) -> None:
    check_several(parse(encode(several(centred=centred))))


def test_several_codes_in_a_jpeg() -> None:
    data = encode(several(), "JPEG", quality=80)
    assert looks_like(data)
    check_several(parse(data))


@pytest.mark.parametrize(("kind", "mode"), [("GIF", "P"), ("BMP", "RGB"), ("WEBP", "RGB")])
def test_other_picture_formats(kind: str, mode: str) -> None:
    options = {"lossless": True} if kind == "WEBP" else {}
    data = encode(qr(GITHUB).convert(mode), kind, **options)
    assert looks_like(data)
    assert [a.draft.issuer for a in parse(data).accounts] == ["GitHub"]


def test_a_transparent_background_counts_as_white() -> None:
    # Transparent pixels here are transparent black: read without their alpha, the picture
    # would be black on black.
    modules = qr(GITHUB).convert("L").point(lambda value: 255 - value)
    picture = Image.new("RGBA", modules.size, (0, 0, 0, 0))
    picture.putalpha(modules)
    assert picture.convert("L").getextrema() == (0, 0)
    assert [a.draft.name for a in parse(encode(picture)).accounts] == ["octocat"]


def test_a_palette_picture_with_a_transparent_colour() -> None:
    picture = qr(GITHUB, light=None)
    assert "transparency" in picture.info
    assert [a.draft.name for a in parse(encode(picture)).accounts] == ["octocat"]


def test_a_google_export_code_with_a_missing_batch() -> None:
    part = migration_uri(payload(Otp(issuer="Dropbox"), batch_size=2, batch_index=1, batch_id=4))
    result = parse(encode(qr(part)))
    assert [a.draft.issuer for a in result.accounts] == ["Dropbox"]
    assert result.accounts[0].source == "QR code 1, entry 1 (Dropbox: alice@example.com)"
    (warning,) = result.warnings
    assert "export of 2 QR codes is missing code 1" in warning


def test_a_code_that_is_no_key_fails_alone() -> None:
    data = encode(grid([["https://example.com/wifi", GITHUB, "otpauth://totp/x?secret=1"]]))
    result = parse(data)
    assert [a.source for a in result.accounts] == ["QR code 2"]
    assert [(f.source, f.reason) for f in result.failures] == [
        ("QR code 1", "not an otpauth://, motp:// or otpauth-migration:// link"),
        ("QR code 3", "secret: secret is not valid base32 (letters A-Z and digits 2-7)"),
    ]


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        ([["WIFI:S:home;T:WPA;P:hunter2;;"]], "the QR code in the image is not an authenticator"),
        ([["hello", "world"]], "none of the 2 QR codes in the image is an authenticator"),
    ],
)
def test_codes_none_of_which_is_a_key_refuse_the_picture(
    texts: list[list[str]], message: str
) -> None:
    with pytest.raises(UnreadableImport, match=message) as caught:
        parse(encode(grid(texts)))
    assert "hunter2" not in str(caught.value)


def test_a_picture_without_a_code() -> None:
    with pytest.raises(UnreadableImport, match="no QR code found in the image"):
        parse(encode(Image.new("RGB", (200, 120), "white")))


@pytest.mark.parametrize("cut", [30, 200, -40])
def test_a_truncated_png(cut: int) -> None:
    data = encode(qr(GITHUB))
    with pytest.raises(UnreadableImport, match="damaged or cut short"):
        parse(data[:cut])


def test_a_truncated_jpeg() -> None:
    data = encode(several(), "JPEG")
    with pytest.raises(UnreadableImport, match=r"damaged or cut short|no QR code found"):
        parse(data[: len(data) // 3])


def test_a_png_with_a_corrupt_body() -> None:
    data = bytearray(encode(qr(GITHUB)))
    data[60:90] = b"\x00" * 30
    with pytest.raises(UnreadableImport, match="damaged or cut short"):
        parse(bytes(data))


@pytest.mark.parametrize(
    ("data", "size"),
    [
        # Over Pillow's own limits, which would warn (10,000^2) or raise (20,000^2).
        (png_header(10_000, 10_000), "10000 x 10000"),
        (png_header(20_000, 20_000), "20000 x 20000"),
        (png_header(2**31 - 1, 2**31 - 1), "2147483647 x 2147483647"),
        (png_header(MAX_PIXELS + 1, 1), f"{MAX_PIXELS + 1} x 1"),
        (b"GIF89a" + struct.pack("<HH", 65535, 65535) + b"\x00" * 8, "65535 x 65535"),
        (b"GIF89a" + struct.pack("<HHBBB", 10, 10, 0, 0, 0)
         + b"!\xf9\x04\x00\x00\x00\x00\x00"
         + b"," + struct.pack("<HHHHB", 100, 0, 12_000, 12_000, 0) + b"\x02\x02\x44\x01\x00;",
         "12100 x 12000"),
        (b"BM" + b"\x00" * 12 + struct.pack("<Iii", 40, 50_000, -50_000) + b"\x00" * 30,
         "50000 x 50000"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8X" + b"\x00" * 8 + b"\xff" * 6 + b"\x00" * 4,
         "16777216 x 16777216"),
        (b"\xff\xd8\xff\xe0\x00\x04ab\xff\xc0\x00\x11\x08\xff\xff\xff\xff" + b"\x00" * 20,
         "65535 x 65535"),
    ],
)  # fmt: skip
def test_a_decompression_bomb_is_refused_from_its_header(data: bytes, size: str) -> None:
    assert looks_like(data)
    with pytest.raises(
        UnreadableImport, match=f"the picture is {size} pixels; pictures are limited"
    ):
        parse(data)


def test_the_pixel_limit_admits_a_large_screenshot() -> None:
    picture = Image.new("L", (4000, 3000), 255)
    picture.paste(qr(GITHUB, scale=8).convert("L"), (1800, 1200))
    assert [a.draft.issuer for a in parse(encode(picture)).accounts] == ["GitHub"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not a PNG, JPEG, GIF, WebP or BMP picture"),
        (b"hello, this is text", "not a PNG, JPEG, GIF, WebP or BMP picture"),
        (b"%PDF-1.7\n", "not a PNG, JPEG, GIF, WebP or BMP picture"),
        (png_header(0, 10), "claims to be empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR", "size is unreadable"),
        (b"\xff\xd8\xff\xda\x00\x02", "size is unreadable"),
        (b"\xff\xd8\xff\xe0\x00\x01", "size is unreadable"),
        (b"\xff\xd8\xff\xe0\xff\xff", "size is unreadable"),
        (b"RIFF\x00\x00\x00\x00WEBPXXXX", "size is unreadable"),
        (b"GIF89a\x01", "size is unreadable"),
        (b"x" * (16 * 1024 * 1024 + 1), "imports are limited to"),
    ],
)
def test_what_is_no_picture_or_has_no_size(data: bytes, message: str) -> None:
    with pytest.raises(UnreadableImport, match=message):
        parse(data)


@pytest.mark.parametrize(
    "data",
    [b"", b"otpauth://totp/x", b'{"a": 1}', b"\x89PN", b"GIF8", b"RIFF\0\0\0\0WAVE", b"BM"],
)
def test_looks_like_refuses_what_is_no_picture(data: bytes) -> None:
    assert looks_like(data) is False


@given(st.binary(max_size=400))
def test_random_bytes_raise_only_input_errors(data: bytes) -> None:
    assert looks_like(data) in (True, False)
    with contextlib.suppress(InputError):
        parse(data)


@settings(max_examples=40)
@given(
    st.sampled_from([b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a", b"BM", b"RIFF\0\0\0\0WEBP"]),
    st.binary(max_size=400),
)
def test_random_bytes_behind_a_magic_number_raise_only_input_errors(
    magic: bytes, body: bytes
) -> None:
    with contextlib.suppress(InputError):
        parse(magic + body)


@settings(max_examples=30)
@given(st.integers(0, 10_000), st.integers(0, 255))
def test_a_damaged_byte_in_a_real_png_raises_only_input_errors(offset: int, value: int) -> None:
    data = bytearray(PNG_SAMPLE)
    data[offset % len(data)] = value
    with contextlib.suppress(InputError):
        parse(bytes(data))


PNG_SAMPLE = encode(qr(GITHUB, scale=2))


def test_importing_the_reader_loads_neither_pillow_nor_zxing() -> None:
    code = (
        "import sys, twofold.protocol.formats.qr_image\n"
        "print(sorted(m for m in ('PIL', 'zxingcpp') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
