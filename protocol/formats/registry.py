"""Which reader takes a file: named by the caller, or told from the bytes.

Detection looks at the cheapest evidence first: a magic number (Twofold
backups, images), then the first line of text (URIs), then the shape of the
JSON, which every JSON export has its own of. It never guesses between two
JSON shapes: each reader's `matches` looks for keys only that app writes.
`read` parses a JSON file once: the document detection built is the one the
reader gets (fields.parsed_once), and JSON beyond fields.py's bounds on depth
and size is refused before it is built, whether detected or named.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from .. import backup
from ..errors import UnknownFormat
from . import (
    aegis,
    andotp,
    bitwarden,
    ente,
    freeotp,
    google_migration,
    proton,
    qr_image,
    twofas,
    uri_list,
)
from .entries import ParsedFile, check_size
from .fields import json_or_none, parsed_once

Reader = Callable[[bytes, str | None], ParsedFile]

READERS: Final[dict[str, Reader]] = {
    uri_list.FORMAT: uri_list.parse,
    google_migration.FORMAT: google_migration.parse,
    aegis.FORMAT: aegis.parse,
    twofas.FORMAT: twofas.parse,
    bitwarden.FORMAT: bitwarden.parse,
    andotp.FORMAT: andotp.parse,
    freeotp.FORMAT: freeotp.parse,
    ente.FORMAT: ente.parse,
    proton.FORMAT: proton.parse,
    qr_image.FORMAT: qr_image.parse,
    backup.FORMAT: backup.parse,
}
FORMATS: Final[tuple[str, ...]] = tuple(READERS)

_JSON_SHAPES: Final[tuple[tuple[str, Callable[[Any], bool]], ...]] = (
    (aegis.FORMAT, aegis.matches),
    (twofas.FORMAT, twofas.matches),
    (bitwarden.FORMAT, bitwarden.matches),
    (ente.FORMAT, ente.matches),
    (proton.FORMAT, proton.matches),
    (freeotp.FORMAT, freeotp.matches),
    (andotp.FORMAT, andotp.matches),
)
_MIGRATION: Final = b"otpauth-migration://"


def read(data: bytes, *, format: str | None = None, password: str | None = None) -> ParsedFile:
    """Read an import file in the named format, or the one its bytes show."""
    check_size(data)
    with parsed_once(data):
        name = format or detect(data)
        reader = READERS.get(name)
        if reader is None:
            raise UnknownFormat(f"unknown format {name[:40]!r}: use one of {', '.join(FORMATS)}")
        return reader(data, password)


def detect(data: bytes) -> str:
    """Name the format of a file, or raise UnknownFormat saying how to name it instead."""
    if backup.looks_like(data):
        return backup.FORMAT
    if qr_image.looks_like(data):
        return qr_image.FORMAT
    if uri_list.looks_like(data):
        return google_migration.FORMAT if _only_migration_links(data) else uri_list.FORMAT
    doc = json_or_none(data)
    if doc is not None:
        for name, matches in _JSON_SHAPES:
            if matches(doc):
                return name
    raise UnknownFormat(
        f"the file's format was not recognised: name it with --format (one of {', '.join(FORMATS)})"
    )


def _only_migration_links(data: bytes) -> bool:
    """A Google export pasted as text names its own format; a mix is a URI list."""
    lines = (line.strip().lower() for line in data.lstrip(b"\xef\xbb\xbf").splitlines())
    links = [line for line in lines if line and not line.startswith(b"#")]
    return bool(links) and all(line.startswith(_MIGRATION) for line in links)
