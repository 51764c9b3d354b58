"""What import, export and backup answer, parsed as strictly as the other API objects."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Self

from .models import JsonObject, _Fields, _mismatch


@dataclass(frozen=True)
class ImportedEntry:
    """An entry of the file that was added (or, in a dry run, would be); id is None then."""

    entry: str
    issuer: str
    name: str
    kind: str
    trashed: bool
    id: str | None

    @classmethod
    def from_json(cls, obj: object) -> Self:
        f = _Fields("an imported entry", obj)
        return cls(
            entry=f.text("entry"),
            issuer=f.text("issuer"),
            name=f.text("name"),
            kind=f.text("kind"),
            trashed=f.boolean("trashed"),
            id=f.opt_text("id"),
        )

    def to_json(self) -> JsonObject:
        return {
            "entry": self.entry,
            "issuer": self.issuer,
            "name": self.name,
            "kind": self.kind,
            "trashed": self.trashed,
            "id": self.id,
        }


@dataclass(frozen=True)
class SkippedEntry:
    """An entry already in the vault (id is the account holding it) or repeated in the file."""

    entry: str
    issuer: str
    name: str
    kind: str
    trashed: bool
    id: str | None
    reason: str

    @classmethod
    def from_json(cls, obj: object) -> Self:
        f = _Fields("a skipped entry", obj)
        return cls(
            entry=f.text("entry"),
            issuer=f.text("issuer"),
            name=f.text("name"),
            kind=f.text("kind"),
            trashed=f.boolean("trashed"),
            id=f.opt_text("id"),
            reason=f.text("reason"),
        )

    def to_json(self) -> JsonObject:
        return {
            "entry": self.entry,
            "issuer": self.issuer,
            "name": self.name,
            "kind": self.kind,
            "trashed": self.trashed,
            "id": self.id,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class FailedEntry:
    """An entry that could not become an account; the others were still imported."""

    entry: str
    reason: str

    @classmethod
    def from_json(cls, obj: object) -> Self:
        f = _Fields("a failed entry", obj)
        return cls(entry=f.text("entry"), reason=f.text("reason"))

    def to_json(self) -> JsonObject:
        return {"entry": self.entry, "reason": self.reason}


@dataclass(frozen=True)
class ImportReport:
    """What one import did (or would do, with dry_run), entry by entry."""

    format: str
    dry_run: bool
    added: tuple[ImportedEntry, ...]
    skipped: tuple[SkippedEntry, ...]
    failed: tuple[FailedEntry, ...]
    warnings: tuple[str, ...]

    @classmethod
    def from_json(cls, obj: object) -> Self:
        f = _Fields("an import report", obj)
        return cls(
            format=f.text("format"),
            dry_run=f.boolean("dry_run"),
            added=tuple(ImportedEntry.from_json(item) for item in f.array("added")),
            skipped=tuple(SkippedEntry.from_json(item) for item in f.array("skipped")),
            failed=tuple(FailedEntry.from_json(item) for item in f.array("failed")),
            warnings=f.texts("warnings"),
        )

    def to_json(self) -> JsonObject:
        return {
            "format": self.format,
            "dry_run": self.dry_run,
            "added": [item.to_json() for item in self.added],
            "skipped": [item.to_json() for item in self.skipped],
            "failed": [item.to_json() for item in self.failed],
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class Export:
    """Every account out of the trash, secrets in plaintext, in another app's format."""

    format: str
    accounts: int
    content: str = field(repr=False)
    left_out: tuple[LeftOut, ...]

    @classmethod
    def from_json(cls, obj: object) -> Self:
        f = _Fields("an export", obj)
        return cls(
            format=f.text("format"),
            accounts=f.integer("accounts"),
            content=f.text("content"),
            left_out=tuple(LeftOut.from_json(item) for item in f.array("left_out")),
        )


@dataclass(frozen=True)
class LeftOut:
    """An account an export's format cannot hold with its codes intact, and why."""

    id: str
    issuer: str
    name: str
    reason: str

    @classmethod
    def from_json(cls, obj: object) -> Self:
        f = _Fields("an account left out of an export", obj)
        return cls(
            id=f.text("id"), issuer=f.text("issuer"), name=f.text("name"), reason=f.text("reason")
        )

    def to_json(self) -> JsonObject:
        return {"id": self.id, "issuer": self.issuer, "name": self.name, "reason": self.reason}


@dataclass(frozen=True)
class Backup:
    """A sealed backup file; recovery_key is set when the daemon made one to seal it."""

    content: bytes = field(repr=False)
    accounts: int
    sealed_with: str
    recovery_key: str | None = field(repr=False)

    @classmethod
    def from_json(cls, obj: object) -> Self:
        f = _Fields("a backup", obj)
        try:
            content = base64.b64decode(f.text("content"), validate=True)
        except (binascii.Error, ValueError):
            raise _mismatch("the daemon sent a backup whose content is not base64") from None
        return cls(
            content=content,
            accounts=f.integer("accounts"),
            sealed_with=f.text("sealed_with"),
            recovery_key=f.maybe_text("recovery_key"),
        )
