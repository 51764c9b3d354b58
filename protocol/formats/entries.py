"""What a reader hands back: accounts it read and entries it could not, each named for a person."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Final

from ..account import AccountDraft, visible_draft
from ..errors import InputError, UnreadableImport
from ..text import neutralise

MAX_IMPORT_BYTES: Final = 16 * 1024 * 1024
MAX_IMPORT_ENTRIES: Final = 10_000


@dataclass(frozen=True, slots=True)
class ImportedAccount:
    """One account read from a file; `source` says where, so a report can point at it."""

    draft: AccountDraft
    source: str
    trashed: bool = False


@dataclass(frozen=True, slots=True)
class FailedEntry:
    """An entry that could not become an account, and why, in words a person can act on."""

    source: str
    reason: str


@dataclass(frozen=True, slots=True)
class ParsedFile:
    """Everything one file held. `warnings` are about the file as a whole (a missing batch)
    or about an entry that was taken with a change (hidden characters taken out)."""

    format: str
    accounts: tuple[ImportedAccount, ...]
    failures: tuple[FailedEntry, ...] = ()
    warnings: tuple[str, ...] = ()


@dataclass(slots=True)
class Collector:
    """Gathers entries so that one that raises an InputError becomes a failure, not an abort."""

    format: str
    accounts: list[ImportedAccount] = field(default_factory=list)
    failures: list[FailedEntry] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def entry(
        self, source: str, read: Callable[[], AccountDraft], *, trashed: bool = False
    ) -> None:
        """Read one entry; an InputError it raises is recorded against `source`.

        Characters that hide or reorder text (protocol/text.py) are taken out of the
        entry's issuer, name and note, and a warning names them: one such character must
        not cost the person the account (its secret may live nowhere else), and what is
        left is every character they could see."""
        if len(self.accounts) + len(self.failures) >= MAX_IMPORT_ENTRIES:
            raise UnreadableImport(f"the file holds more than {MAX_IMPORT_ENTRIES} entries")
        try:
            draft, removed = visible_draft(read())
        except InputError as error:
            self.fail(source, str(error))
            return
        if removed:
            self.warnings.append(
                f"{source}: took out characters that hide or reorder text ({'; '.join(removed)})"
            )
        self.accounts.append(ImportedAccount(draft, source, trashed))

    def each(
        self,
        items: Iterable[object],
        read: Callable[[object], AccountDraft],
        *,
        issuer: str = "issuer",
        name: str = "name",
        trashed: Callable[[object], bool] | None = None,
    ) -> None:
        """Read a list of JSON-like entries, each named in the report by its `issuer` and
        `name` keys when it has them."""
        for index, raw in enumerate(items):
            fields = raw if isinstance(raw, dict) else {}
            source = describe(index, fields.get(issuer), fields.get(name))
            gone = trashed(raw) if trashed is not None else False
            self.entry(source, partial(read, raw), trashed=gone)

    def fail(self, source: str, reason: str) -> None:
        """Record an entry that is skipped for a reason of the reader's own (an unknown type)."""
        self.failures.append(FailedEntry(source, neutralise(reason)))

    def result(self) -> ParsedFile:
        return ParsedFile(
            self.format, tuple(self.accounts), tuple(self.failures), tuple(self.warnings)
        )


def check_size(data: bytes) -> None:
    """Refuse a file too large to be anyone's authenticator export before reading it."""
    if len(data) > MAX_IMPORT_BYTES:
        raise UnreadableImport(
            f"the file is {len(data)} bytes; imports are limited to {MAX_IMPORT_BYTES} bytes"
        )


def describe(index: int, issuer: object = "", name: object = "") -> str:
    """Name an entry for a report: its position (from 1) and, when readable, its label."""
    parts = [neutralise(part[:80]) for part in (issuer, name) if isinstance(part, str) and part]
    label = ": ".join(parts)
    return f"entry {index + 1} ({label})" if label else f"entry {index + 1}"
