"""Plain text with one key URI per line: the plain-text export of Ente Auth, Proton Pass, Aegis,
andOTP and others, and what a person gets by pasting links into a file.

Each non-blank line is one entry, named "line N" after its line in the file.
otpauth:// and motp:// lines are read by parse_uri, which ignores parameters
it does not know (Ente adds codeDisplay=..., others add image= or icon=).
otpauth-migration:// lines (Google Authenticator's export codes) are read by
the google_migration reader into the same result, so a file mixing both
works, and a multi-QR export missing a code is warned about. A line that is
none of these fails alone; '#' lines are comments and skipped. A file in which
no line is a link at all is not this format and is refused whole.
"""

from __future__ import annotations

from functools import partial
from typing import Final

from ..errors import UnreadableImport
from ..otpauth import parse_uri
from .entries import Collector, ParsedFile
from .google_migration import SCHEME as MIGRATION_SCHEME
from .google_migration import BrokenMigration, MigrationBatches, parse_migration_uri, text_lines

FORMAT: Final = "otpauth"

_KEY_SCHEMES: Final = ("otpauth://", "motp://")
_SNIFF_PREFIXES: Final = tuple(scheme.encode() for scheme in (*_KEY_SCHEMES, MIGRATION_SCHEME))
_SNIFF_BYTES: Final = 64 * 1024
_BOM: Final = b"\xef\xbb\xbf"


def looks_like(data: bytes) -> bool:
    """Tell cheaply whether the first line that is not blank or a comment is a key link."""
    try:
        head = data[:_SNIFF_BYTES].removeprefix(_BOM)
        for line in head.splitlines():
            stripped = line.strip()
            if not stripped or stripped.startswith(b"#"):
                continue
            return stripped[:32].lower().startswith(_SNIFF_PREFIXES)
    except (TypeError, AttributeError):
        return False
    return False


def parse(data: bytes, password: str | None = None) -> ParsedFile:
    """Read every link in the file; plain-text exports are never encrypted, so no password."""
    lines = text_lines(data, "a list of otpauth:// links")
    collector = Collector(FORMAT)
    batches = MigrationBatches()
    links = 0
    for position, (number, line) in enumerate(lines):
        if read_link(line, collector, where=f"line {number}", index=position, batches=batches):
            links += 1
    if not links:
        raise UnreadableImport(
            "this is not a list of otpauth:// links: no line starts with otpauth://, "
            "motp:// or otpauth-migration://"
        )
    collector.warnings.extend(batches.warnings())
    return collector.result()


def read_link(
    text: str, collector: Collector, *, where: str, index: int, batches: MigrationBatches
) -> bool:
    """Read one link, wherever it was found (a line, a QR code); False if it is no key link at all.

    What cannot be read is recorded against `where` and the caller goes on
    with the next link; only the import's entry limit stops it.
    """
    start = text[:32].lower()
    if start.startswith(MIGRATION_SCHEME):
        try:
            parse_migration_uri(text, collector, uri_index=index, where=where, batches=batches)
        except BrokenMigration as error:
            collector.fail(where, error.detail)
        return True
    if start.startswith(_KEY_SCHEMES):
        collector.entry(where, partial(parse_uri, text, visible_only=False))
        return True
    collector.fail(where, "not an otpauth://, motp:// or otpauth-migration:// link")
    return False
