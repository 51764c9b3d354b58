"""QR codes in a picture: a screenshot of an app's export screen, a photo of printed codes.

Every QR code found is one link, handled as a line of a link list would be
(otpauth://, motp://, or a Google Authenticator otpauth-migration:// code) and
named "QR code N", counted in reading order: top to bottom, then left to
right. A code that holds anything else fails alone; a picture none of whose
codes is a key link is refused whole, as is one with no QR code at all.

The picture's size is read from its own header before any decoder runs, and
one over MAX_PIXELS is refused: a few hundred bytes of PNG can claim a
picture that takes gigabytes to decode. This also keeps Pillow's global
decompression-bomb limit (and the warning it raises) out of the way without
changing it. Pillow and zxing-cpp are imported only when a picture is read, so
importing the protocol package stays light.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Final

from ..errors import InputError, UnreadableImport
from .entries import Collector, ParsedFile, check_size
from .google_migration import MigrationBatches
from .uri_list import read_link

if TYPE_CHECKING:
    from PIL.Image import Image
    from zxingcpp import Barcode

FORMAT: Final = "qr-image"
MAX_PIXELS: Final = 40_000_000

_PNG: Final = b"\x89PNG\r\n\x1a\n"
_JPEG: Final = b"\xff\xd8\xff"
_GIFS: Final = (b"GIF87a", b"GIF89a")
_JPEG_FRAMES: Final = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_STANDALONE: Final = frozenset({0x01, *range(0xD0, 0xD8)})


def looks_like(data: bytes) -> bool:
    """Tell by the first bytes whether this is a picture format this reader opens."""
    try:
        return _kind(data) is not None
    except (TypeError, AttributeError):
        return False


def parse(data: bytes, password: str | None = None) -> ParsedFile:
    """Read the key links of every QR code in the picture; pictures carry no password."""
    check_size(data)
    texts = _scan(data)
    if not texts:
        raise UnreadableImport("no QR code found in the image")
    collector = Collector(FORMAT)
    batches = MigrationBatches()
    links = 0
    for index, text in enumerate(texts):
        where = f"QR code {index + 1}"
        if read_link(text, collector, where=where, index=index, batches=batches):
            links += 1
    if not links:
        what = "the QR code" if len(texts) == 1 else f"none of the {len(texts)} QR codes"
        verb = "is not" if len(texts) == 1 else "is"
        raise UnreadableImport(
            f"{what} in the image {verb} an authenticator code "
            "(otpauth://, motp:// or otpauth-migration://)"
        )
    collector.warnings.extend(batches.warnings())
    return collector.result()


def read_texts(data: bytes) -> list[str]:
    """The text of every QR code in a picture, in reading order; [] when it shows none (a
    camera frame usually does not). A picture that cannot be read is UnreadableImport."""
    check_size(data)
    return _scan(data)


def _scan(data: bytes) -> list[str]:
    """The text of every QR code in the picture, in reading order."""
    kind = _kind(data)
    if kind is None:
        raise UnreadableImport("this is not a PNG, JPEG, GIF, WebP or BMP picture")
    size = _dimensions(data, kind)
    if size is None:
        raise UnreadableImport(
            f"the {kind} picture is damaged or cut short: its size is unreadable"
        )
    _check_pixels(*size)
    import zxingcpp

    qr_only = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
    try:
        gray = _grayscale(data, kind)
        codes = zxingcpp.read_barcodes(gray, formats=qr_only)
    except InputError:
        raise
    # Pillow's decoders raise a zoo of types on a damaged file (OSError, SyntaxError,
    # ValueError, EOFError, struct.error, zlib.error, ...): each means the same to a person.
    except Exception:  # noqa: BLE001
        raise UnreadableImport(f"the {kind} picture is damaged or cut short") from None
    return [_code_text(code.bytes, code.text) for code in _in_reading_order(codes)]


def _in_reading_order(codes: list[Barcode]) -> list[Barcode]:
    """Rows top to bottom, each left to right; a code joins a row when it overlaps all of it."""
    boxes = []
    for code in codes:
        corners = code.position
        points = (corners.top_left, corners.top_right, corners.bottom_left, corners.bottom_right)
        ys = [point.y for point in points]
        boxes.append((min(ys), max(ys), min(point.x for point in points), code))
    boxes.sort(key=lambda box: box[0])
    rows: list[list[tuple[int, int, int, Barcode]]] = []
    row_bottom = 0
    for box in boxes:
        if rows and box[0] < row_bottom:
            rows[-1].append(box)
            row_bottom = min(row_bottom, box[1])
        else:
            rows.append([box])
            row_bottom = box[1]
    return [box[3] for row in rows for box in sorted(row, key=lambda box: box[2])]


def _grayscale(data: bytes, kind: str) -> Image:
    """The picture as zxing reads it best; a transparent background counts as white, not black."""
    from PIL import Image

    with Image.open(io.BytesIO(data), formats=[kind]) as picture:
        _check_pixels(picture.width, picture.height)
        if picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info:
            rgba = picture.convert("RGBA")
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            white.alpha_composite(rgba)
            return white.convert("L")
        return picture.convert("L")


def _check_pixels(width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise UnreadableImport("the picture claims to be empty: it is damaged")
    if width * height > MAX_PIXELS:
        raise UnreadableImport(
            f"the picture is {width} x {height} pixels; pictures are limited to "
            f"{MAX_PIXELS // 1_000_000} million pixels"
        )


def _code_text(raw: bytes, text: str) -> str:
    """The code's text: its bytes as UTF-8 when they are, else what zxing made of them."""
    try:
        return raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        return text.strip()


def _kind(data: bytes) -> str | None:
    """The Pillow format name for the picture's magic bytes."""
    if data.startswith(_PNG):
        return "PNG"
    if data.startswith(_JPEG):
        return "JPEG"
    if data.startswith(_GIFS):
        return "GIF"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data.startswith(b"BM") and len(data) >= 26:
        return "BMP"
    return None


def _dimensions(data: bytes, kind: str) -> tuple[int, int] | None:
    """Width and height from the header alone, before a decoder is trusted with the file."""
    if kind == "PNG":
        if data[12:16] != b"IHDR" or len(data) < 24:
            return None
        return _be(data, 16, 4), _be(data, 20, 4)
    if kind == "GIF":
        return _gif_dimensions(data)
    if kind == "BMP":
        return _bmp_dimensions(data)
    if kind == "WEBP":
        return _webp_dimensions(data)
    return _jpeg_dimensions(data)


def _gif_dimensions(data: bytes) -> tuple[int, int] | None:
    """The screen size, grown to the first frame's extent as Pillow grows it on opening."""
    if len(data) < 13:
        return None
    width, height = _le(data, 6, 2), _le(data, 8, 2)
    position = 13 + (3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0)
    while position < len(data):
        block = data[position]
        if block == 0x2C:
            if position + 9 > len(data):
                return None
            left, top = _le(data, position + 1, 2), _le(data, position + 3, 2)
            right, bottom = left + _le(data, position + 5, 2), top + _le(data, position + 7, 2)
            return max(width, right), max(height, bottom)
        if block != 0x21:
            return width, height
        position += 2
        while position < len(data) and data[position]:
            position += data[position] + 1
        position += 1
    return width, height


def _bmp_dimensions(data: bytes) -> tuple[int, int] | None:
    header = _le(data, 14, 4)
    if header == 12:
        return _le(data, 18, 2), _le(data, 20, 2)
    width = int.from_bytes(data[18:22], "little", signed=True)
    height = int.from_bytes(data[22:26], "little", signed=True)
    return abs(width), abs(height)


def _webp_dimensions(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 " and len(data) >= 30 and data[23:26] == b"\x9d\x01\x2a":
        return _le(data, 26, 2) & 0x3FFF, _le(data, 28, 2) & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25 and data[20] == 0x2F:
        bits = _le(data, 21, 4)
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(data) >= 30:
        return _le(data, 24, 3) + 1, _le(data, 27, 3) + 1
    return None


def _jpeg_dimensions(data: bytes) -> tuple[int, int] | None:
    """The size in the first frame header; segments are skipped by length, so none is misread."""
    position = 2
    end = len(data)
    while position < end:
        if data[position] != 0xFF:
            return None
        while position < end and data[position] == 0xFF:
            position += 1
        if position >= end:
            return None
        marker = data[position]
        position += 1
        if marker in _JPEG_STANDALONE:
            continue
        if marker in (0xD9, 0xDA) or position + 2 > end:
            return None
        length = _be(data, position, 2)
        if length < 2:
            return None
        if marker in _JPEG_FRAMES:
            if length < 7 or position + 7 > end:
                return None
            return _be(data, position + 5, 2), _be(data, position + 3, 2)
        position += length
    return None


def _be(data: bytes, offset: int, width: int) -> int:
    return int.from_bytes(data[offset : offset + width], "big")


def _le(data: bytes, offset: int, width: int) -> int:
    return int.from_bytes(data[offset : offset + width], "little")
