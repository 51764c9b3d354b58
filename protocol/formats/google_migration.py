"""Google Authenticator's export QR codes: otpauth-migration://offline?data=BASE64.

The data is percent-encoded standard base64 (padding often dropped) of a
protobuf message, decoded here by hand so no protobuf runtime is needed. The
schema is the one Aegis reads (beemdevelopment/Aegis,
app/src/main/proto/google_auth.proto; the same fields in
scito/extract_otp_secrets, src/google_auth.proto, copied from Aegis)::

    MigrationPayload:  1 otp_parameters (repeated OtpParameters)  2 version
                       3 batch_size  4 batch_index  5 batch_id   (int32 each)
    OtpParameters:     1 secret (bytes)  2 name  3 issuer (strings)
                       4 algorithm: 0 unspecified, 1 SHA1, 2 SHA256, 3 SHA512, 4 MD5
                       5 digits: 0 unspecified, 1 six, 2 eight
                       6 type: 0 unspecified, 1 HOTP, 2 TOTP
                       7 counter (int64)

Unspecified means the default: SHA1, six digits, TOTP. The period is not in
the format: it is always 30 seconds. Known answers in the tests come from
dim13/otpauth's README and scito/extract_otp_secrets' example_export.txt,
which were written by Google Authenticator itself.

Labels: the name often repeats the issuer as "Issuer:name". When the issuer is
set and the name starts with "issuer:", that prefix is dropped, as Google
Authenticator's own AccountDb.AccountIndex.getStrippedName does
(google/google-authenticator-android). When the issuer is empty and the name
holds a ':', the part before it becomes the issuer, as Aegis's
GoogleAuthInfo.parseExportUri does and as parse_uri reads a URI label. (Aegis's
GoogleAuthImporter, for the app's database, cuts at the colon whatever the
issuer; that loses text, so it is not followed.)

The wire reader is strict about what it reads and lenient about what it skips:
every length is checked against what is left, a varint longer than 64 bits or
cut short is refused, a known field with the wrong wire type is refused, and
unknown fields (newer app versions add some) are skipped by their wire type.
A singular field given twice keeps its last value, the protobuf rule.

Errors: a link that is not a migration link, or whose data is not base64 or
not a protobuf message, raises `BrokenMigration` for the whole link. The
accounts inside are each decoded within `Collector.entry`, so one whose bytes
or values are wrong fails alone. In `parse`, a file of several links records a
broken one as a failure of its line and reads the rest; if no link in the
file can be read, the file is refused with the first link's reason.

Multi-QR exports: Google splits a large export into several codes that share a
batch_id and number themselves batch_index of batch_size. `MigrationBatches`
remembers what was read, skips a code read twice, and warns about the numbers
(counted from 1, as a person counts the codes) that were never read. Its time
follows the links read, not the sizes they claim (9,999 links each claiming a
batch of 10,000 once took 8.9 s), and its report is bounded.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Final
from urllib.parse import unquote

from ..account import AccountDraft, HashAlgorithm, OtpKind, OtpParams
from ..errors import UnreadableImport
from .entries import MAX_IMPORT_ENTRIES, Collector, ParsedFile, check_size, describe
from .fields import MalformedEntry

FORMAT: Final = "google-migration"
SCHEME: Final = "otpauth-migration://"
PERIOD: Final = 30
MAX_PAYLOAD_BYTES: Final = 1 << 20
MAX_BATCH_SIZE: Final = MAX_IMPORT_ENTRIES
MAX_NOTES: Final = 20
MAX_EXPORTS_NAMED: Final = 10
MAX_RUNS_SPELLED: Final = 20

_MAX_DATA_CHARS: Final = MAX_PAYLOAD_BYTES * 4 // 3 + 4
_BASE64: Final = re.compile(r"[A-Za-z0-9+/]*")
_BOM: Final = "\ufeff"
_CONTENT_LINE: Final = re.compile(r"^[^\S\n]*([^\s#][^\n]*)", re.MULTILINE)

_VARINT: Final = 0
_FIXED64: Final = 1
_LENGTH: Final = 2
_FIXED32: Final = 5
_MAX_FIELD_NUMBER: Final = (1 << 29) - 1

_PAYLOAD_FIELDS: Final = {1: _LENGTH, 2: _VARINT, 3: _VARINT, 4: _VARINT, 5: _VARINT}
_PARAMETER_FIELDS: Final = {
    1: _LENGTH,
    2: _LENGTH,
    3: _LENGTH,
    4: _VARINT,
    5: _VARINT,
    6: _VARINT,
    7: _VARINT,
}
_ALGORITHMS: Final = {
    0: HashAlgorithm.SHA1,
    1: HashAlgorithm.SHA1,
    2: HashAlgorithm.SHA256,
    3: HashAlgorithm.SHA512,
    4: HashAlgorithm.MD5,
}
_DIGITS: Final = {0: 6, 1: 6, 2: 8}
_KINDS: Final = {0: OtpKind.TOTP, 1: OtpKind.HOTP, 2: OtpKind.TOTP}


class BrokenMigration(UnreadableImport):
    """A whole migration link cannot be read: not one, or its data is damaged or cut short."""


class _WireError(Exception):
    """The protobuf bytes are malformed; always turned into an InputError before leaving here."""


@dataclass(frozen=True, slots=True)
class MigrationPart:
    """One export QR code's place in its export, as the code itself states it."""

    batch_id: int
    batch_index: int
    batch_size: int
    version: int


@dataclass(frozen=True, slots=True)
class _Payload:
    part: MigrationPart
    entries: tuple[bytes, ...]
    digest: bytes


@dataclass(frozen=True, slots=True)
class _Parameters:
    secret: bytes
    name: bytes
    issuer: bytes
    algorithm: int
    digits: int
    kind: int
    counter: int


class MigrationBatches:
    """What was read of multi-QR exports, so a missing code is reported and a repeated one skipped.

    One instance serves one import: every link read from the file (lines of a
    text, codes in a picture) is added to it, then `warnings` says what is
    missing. Its time is linear in the links read, whatever sizes they claim,
    and its report is short: at most `MAX_NOTES` notes about single codes,
    `MAX_EXPORTS_NAMED` exports and `MAX_RUNS_SPELLED` runs of missing numbers
    are spelled out, the rest counted.
    """

    def __init__(self) -> None:
        self._read: dict[bytes, str] = {}
        self._parts: dict[int, dict[int, str]] = {}
        self._sizes: dict[int, set[int]] = {}
        self._notes: list[str] = []
        self._notes_left_out = 0

    def add(self, part: MigrationPart, digest: bytes, where: str) -> bool:
        """Note one code; False when the very same code was already read, so it is skipped."""
        first = self._read.get(digest)
        if first is not None:
            self._note(
                f"{where} holds the same Google Authenticator export code as {first}; "
                "its accounts were read once"
            )
            return False
        self._read[digest] = where
        size, index = part.batch_size, part.batch_index
        if size <= 1 and index == 0:
            return True
        if not 0 < size <= MAX_BATCH_SIZE or not 0 <= index < size:
            self._note(
                f"{where} says it is export code {index + 1} of {size}, which cannot be; "
                "check that every code of the export was read"
            )
            return True
        self._parts.setdefault(part.batch_id, {}).setdefault(index, where)
        self._sizes.setdefault(part.batch_id, set()).add(size)
        return True

    def warnings(self) -> list[str]:
        """Everything a person should check: codes never read, repeats, numbers that disagree."""
        notes = list(self._notes)
        if self._notes_left_out:
            notes.append(
                f"and {self._notes_left_out:,} more export codes were read twice or are "
                "numbered in a way that cannot be; check that every code was read once"
            )
        incomplete = 0
        for batch_id, seen in self._parts.items():
            note = _batch_note(self._sizes[batch_id], seen)
            if note is None:
                continue
            incomplete += 1
            if incomplete <= MAX_EXPORTS_NAMED:
                notes.append(note)
        if incomplete > MAX_EXPORTS_NAMED:
            notes.append(
                f"and {incomplete - MAX_EXPORTS_NAMED:,} more Google Authenticator exports "
                "are incomplete: import every code of each, or their accounts are left out"
            )
        return notes

    def _note(self, note: str) -> None:
        if len(self._notes) < MAX_NOTES:
            self._notes.append(note)
        else:
            self._notes_left_out += 1


def _batch_note(sizes: set[int], seen: dict[int, str]) -> str | None:
    """What is wrong with one export's codes, or None when every one was read."""
    if len(sizes) > 1:
        ordered = sorted(sizes)
        shown = [str(size) for size in ordered[:MAX_RUNS_SPELLED]]
        if len(ordered) > MAX_RUNS_SPELLED:
            shown.append(f"{len(ordered) - MAX_RUNS_SPELLED:,} more")
        counts = _spoken(shown)
        return (
            f"the codes of one Google Authenticator export disagree on how many there "
            f"are ({counts}); check that every code was read"
        )
    size = next(iter(sizes))
    runs, count = _missing_runs(seen, size)
    if count == 0:
        return None
    if count == 1:
        return (
            f"a Google Authenticator export of {size} QR codes is missing code "
            f"{runs[0][0]}: import it too, or its accounts are left out"
        )
    return (
        f"a Google Authenticator export of {size} QR codes is missing codes "
        f"{_spell_runs(runs, count)}: import them too, or their accounts are left out"
    )


def _missing_runs(seen: dict[int, str], size: int) -> tuple[list[tuple[int, int]], int]:
    """The numbers (from 1) of the codes never read, as runs (first, last), and how many they
    are: from the indices read, in time linear in them (after sorting), never in `size`."""
    runs: list[tuple[int, int]] = []
    count = 0
    expected = 0
    for index in [*sorted(seen), size]:
        if index > expected:
            runs.append((expected + 1, index))
            count += index - expected
        expected = index + 1
    return runs, count


def parse_migration_uri(
    uri: str,
    collector: Collector,
    *,
    uri_index: int,
    where: str | None = None,
    batches: MigrationBatches | None = None,
) -> None:
    """Add the accounts of one export link to `collector`; raise BrokenMigration if it is damaged.

    `uri_index` is the link's position among those read (from 0); `where`
    names it in reports ("line 3", "QR code 2"), and entries are named
    "{where}, entry N (Issuer: name)". With `batches`, the link's place in a
    multi-QR export is recorded and a link already read is skipped; a caller
    reading several links passes the same `MigrationBatches` to each.
    """
    payload = _decode_payload(_payload_bytes(uri))
    where_read = where or f"link {uri_index + 1}"
    if batches is not None and not batches.add(payload.part, payload.digest, where_read):
        return
    for index, raw in enumerate(payload.entries):
        label = describe(index, *_peek_labels(raw))
        collector.entry(f"{where}, {label}" if where else label, partial(_read_account, raw))


def parse(data: bytes, password: str | None = None) -> ParsedFile:
    """Read a text of export links, one per line, as copied from the export QR codes.

    Blank lines and '#' comment lines are skipped (extract_otp_secrets' input
    files carry comments). These exports are never encrypted, so `password` is
    not used.
    """
    lines = text_lines(data, "a Google Authenticator export")
    if not lines:
        raise UnreadableImport("the file holds no otpauth-migration:// link")
    collector = Collector(FORMAT)
    batches = MigrationBatches()
    several = len(lines) > 1
    decoded = 0
    first_error = ""
    for position, (number, line) in enumerate(lines):
        where = f"line {number}" if several else None
        try:
            parse_migration_uri(line, collector, uri_index=position, where=where, batches=batches)
        except BrokenMigration as error:
            if not several:
                raise
            collector.fail(f"line {number}", error.detail)
            first_error = first_error or f"line {number}: {error.detail}"
        else:
            decoded += 1
    if not decoded:
        raise UnreadableImport(f"no line holds a readable export link ({first_error})")
    collector.warnings.extend(batches.warnings())
    return collector.result()


def text_lines(data: bytes, what: str) -> list[tuple[int, str]]:
    """The non-blank, non-comment lines of a text file, each with its number (from 1).

    Shared by the readers of link lists; refuses non-UTF-8 text and more
    lines than an import may hold before any line is read.
    """
    check_size(data)
    try:
        text = data.decode("utf-8").removeprefix(_BOM)
    except UnicodeDecodeError:
        raise UnreadableImport(f"this is not {what}: it is not UTF-8 text") from None
    # Blank and comment lines are passed over inside the regular expression, not one by one
    # here: a file of 16 million empty lines costs one scan, not a list of 16 million lines.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines: list[tuple[int, str]] = []
    number = 1
    counted = 0
    for match in _CONTENT_LINE.finditer(text):
        if len(lines) >= MAX_IMPORT_ENTRIES:
            raise UnreadableImport(f"the file holds more than {MAX_IMPORT_ENTRIES} lines")
        number += text.count("\n", counted, match.start())
        counted = match.start()
        lines.append((number, match.group(1).strip()))
    return lines


def _payload_bytes(uri: str) -> bytes:
    """The protobuf bytes of a link, or a reason a person can act on."""
    if not isinstance(uri, str):
        raise BrokenMigration("the export link must be text")
    text = uri.strip()
    if text[:10].lower() == "otpauth://" or text[:7].lower() == "motp://":
        raise BrokenMigration(
            "this is a single-account link, not a Google Authenticator export link: "
            "import it as format otpauth, which reads both"
        )
    if text[: len(SCHEME)].lower() != SCHEME:
        raise BrokenMigration(
            "this is not a Google Authenticator export link: it must start with "
            "otpauth-migration://"
        )
    host, _, query = text[len(SCHEME) :].partition("?")
    if host.rstrip("/").lower() != "offline":
        raise BrokenMigration("the export link must read otpauth-migration://offline?data=...")
    pieces = (piece.partition("=") for piece in query.split("&"))
    values = {value for key, _, value in pieces if key.strip().lower() == "data"}
    if not values:
        raise BrokenMigration("the export link has no data: scan its QR code again")
    if len(values) > 1:
        raise BrokenMigration("the export link gives its data twice, differently")
    raw = values.pop()
    if len(raw) > 3 * _MAX_DATA_CHARS:
        raise BrokenMigration(f"the export link's data is over {MAX_PAYLOAD_BYTES} bytes")
    try:
        decoded = unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise BrokenMigration("the export link's data is not base64: it is damaged") from None
    # '+' read as a space by a form decoder, and the URL-safe alphabet, are restored: neither
    # can be mistaken for anything else in base64.
    cleaned = decoded.strip().replace(" ", "+").replace("-", "+").replace("_", "/").rstrip("=")
    if not cleaned:
        raise BrokenMigration("the export link's data is empty: scan its QR code again")
    if len(cleaned) > _MAX_DATA_CHARS:
        raise BrokenMigration(f"the export link's data is over {MAX_PAYLOAD_BYTES} bytes")
    if not _BASE64.fullmatch(cleaned) or len(cleaned) % 4 == 1:
        raise BrokenMigration("the export link's data is not base64: it is damaged or cut short")
    try:
        return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
    except binascii.Error:
        raise BrokenMigration("the export link's data is not base64: it is damaged") from None


def _decode_payload(data: bytes) -> _Payload:
    entries: list[bytes] = []
    numbers = {2: 0, 3: 0, 4: 0, 5: 0}
    try:
        for number, value in _fields(data, _PAYLOAD_FIELDS):
            if isinstance(value, bytes):
                entries.append(value)
            else:
                numbers[number] = _int32(value)
    except _WireError as error:
        raise BrokenMigration(
            f"the export link's data is not a Google Authenticator export: {error}"
        ) from None
    if not entries:
        raise BrokenMigration("the export link holds no accounts")
    part = MigrationPart(
        version=numbers[2], batch_size=numbers[3], batch_index=numbers[4], batch_id=numbers[5]
    )
    return _Payload(part, tuple(entries), hashlib.sha256(data).digest())


def _decode_parameters(raw: bytes) -> _Parameters:
    texts = {1: b"", 2: b"", 3: b""}
    numbers = {4: 0, 5: 0, 6: 0, 7: 0}
    try:
        for number, value in _fields(raw, _PARAMETER_FIELDS):
            if isinstance(value, bytes):
                texts[number] = value
            else:
                numbers[number] = value
    except _WireError as error:
        raise MalformedEntry(None, f"the account's data is damaged: {error}") from None
    return _Parameters(
        secret=texts[1],
        name=texts[2],
        issuer=texts[3],
        algorithm=numbers[4],
        digits=numbers[5],
        kind=numbers[6],
        counter=_int64(numbers[7]),
    )


def _read_account(raw: bytes) -> AccountDraft:
    params = _decode_parameters(raw)
    algorithm = _ALGORITHMS.get(params.algorithm)
    if algorithm is None:
        raise MalformedEntry(
            "algorithm", f"algorithm number {params.algorithm} is not SHA1, SHA256, SHA512 or MD5"
        )
    digits = _DIGITS.get(params.digits)
    if digits is None:
        raise MalformedEntry(
            "digits", f"digit count number {params.digits} is unknown: exports hold 6 or 8"
        )
    kind = _KINDS.get(params.kind)
    if kind is None:
        raise MalformedEntry("type", f"type number {params.kind} is neither TOTP nor HOTP")
    issuer, name = _labels(_text(params.issuer, "issuer"), _text(params.name, "name"))
    otp = OtpParams.create(kind, params.secret, algorithm=algorithm, digits=digits, period=PERIOD)
    counter = params.counter if kind is OtpKind.HOTP else 0
    return AccountDraft(issuer=issuer, name=name, otp=otp, counter=counter)


def _peek_labels(raw: bytes) -> tuple[str, str]:
    """Issuer and name for naming an entry in a report, even when the entry itself is broken."""
    try:
        params = _decode_parameters(raw)
    except MalformedEntry:
        return "", ""
    return _labels(
        params.issuer.decode("utf-8", errors="replace"),
        params.name.decode("utf-8", errors="replace"),
    )


def _labels(issuer: str, name: str) -> tuple[str, str]:
    issuer, name = issuer.strip(), name.strip()
    if issuer and name.startswith(issuer + ":"):
        return issuer, name[len(issuer) + 1 :].strip()
    if not issuer and ":" in name:
        prefix, _, rest = name.partition(":")
        return prefix.strip(), rest.strip()
    return issuer, name


def _text(value: bytes, field: str) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedEntry(field, f"{field} is not valid UTF-8 text") from None


def _fields(data: bytes, known: dict[int, int]) -> Iterator[tuple[int, int | bytes]]:
    """Yield the known fields of one message in order; unknown ones are skipped by wire type."""
    position = 0
    end = len(data)
    while position < end:
        key, position = _varint(data, position)
        number, wire = key >> 3, key & 7
        if not 1 <= number <= _MAX_FIELD_NUMBER:
            raise _WireError(f"field number {number} is not valid protobuf")
        expected = known.get(number)
        if expected is not None and wire != expected:
            raise _WireError(f"field {number} has wire type {wire}, not {expected}")
        if wire == _VARINT:
            value, position = _varint(data, position)
            if expected is not None:
                yield number, value
        elif wire == _LENGTH:
            length, position = _varint(data, position)
            if length > end - position:
                raise _WireError(
                    f"field {number} claims {length} bytes but only {end - position} are left"
                )
            if expected is not None:
                yield number, data[position : position + length]
            position += length
        elif wire in (_FIXED64, _FIXED32):
            width = 8 if wire == _FIXED64 else 4
            if width > end - position:
                raise _WireError(f"field {number} is cut short")
            position += width
        else:
            raise _WireError(f"field {number} has wire type {wire}, which this format never uses")


def _varint(data: bytes, position: int) -> tuple[int, int]:
    result = 0
    for shift in range(0, 64, 7):
        if position >= len(data):
            raise _WireError("a number is cut short")
        byte = data[position]
        position += 1
        if shift == 63 and byte > 1:
            raise _WireError("a number is longer than 64 bits")
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, position
    raise _WireError("a number is longer than 64 bits")


def _int64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _int32(value: int) -> int:
    signed = _int64(value)
    if not -(1 << 31) <= signed < 1 << 31:
        raise _WireError(f"{signed} does not fit the 32-bit field that holds it")
    return signed


def _spell_runs(runs: list[tuple[int, int]], count: int) -> str:
    """Spell 2; 2 and 3; 2, 4 and 7 to 9: runs collapse so that a long list stays readable,
    and past `MAX_RUNS_SPELLED` runs the numbers left are counted, not spelled."""
    spelled: list[str] = []
    told = 0
    for first, last in runs:
        if len(spelled) >= MAX_RUNS_SPELLED:
            break
        if last - first >= 2:
            spelled.append(f"{first} to {last}")
        else:
            spelled.extend(str(number) for number in range(first, last + 1))
        told += last - first + 1
    if told < count:
        spelled.append(f"{count - told:,} more")
    return _spoken(spelled)


def _spoken(words: list[str]) -> str:
    """a; a and b; a, b and c."""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
