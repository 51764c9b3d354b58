"""Accounts in and out of the vault: imports from other apps, exports, the encrypted backup.

Reading a file (key derivation, QR decoding) runs in a worker thread, so the
API and peers stay responsive; one transfer runs at a time, so several large
key derivations cannot pile up in memory. Everything an import adds is
stored in one transaction: either every new account is saved or none is.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Final

from twofold.protocol import backup
from twofold.protocol.account import AccountDraft
from twofold.protocol.envelope import Op
from twofold.protocol.errors import InputError
from twofold.protocol.formats import aegis, registry
from twofold.protocol.formats.entries import ImportedAccount, ParsedFile
from twofold.protocol.otpauth import emit_uri
from twofold.protocol.sameness import AccountKey, account_key, index
from twofold.protocol.state import AccountView
from twofold.protocol.vault import Vault

from .vault_service import VaultService, now_ms

EXPORT_FORMATS: Final = ("otpauth", "aegis")


@dataclass
class ImportReport:
    """Per entry: added, skipped as already present, or failed, each with where and why."""

    format: str
    dry_run: bool
    added: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "dry_run": self.dry_run,
            "added": self.added,
            "skipped": self.skipped,
            "failed": self.failed,
            "warnings": self.warnings,
        }


class Transfers:
    """The import, export and backup operations of one daemon."""

    def __init__(self, service: VaultService) -> None:
        self.service = service
        self._one_at_a_time = asyncio.Lock()

    async def import_file(
        self, data: bytes, *, format: str | None, password: str | None, dry_run: bool
    ) -> ImportReport:
        """Read a file and add what it holds that the vault lacks; `dry_run` only reports."""
        async with self._one_at_a_time:
            parsed = await asyncio.to_thread(registry.read, data, format=format, password=password)
            return await self._add(parsed, dry_run)

    async def export(self, format: str) -> tuple[str, int, list[dict[str, str]]]:
        """Every account out of the trash, in plaintext: the content, how many it holds, and
        the accounts the format cannot hold with their codes intact (left out, with why)."""
        views = [view for view in self.service.views() if not view.deleted]
        if format == "otpauth":
            return "".join(emit_uri(_draft(v)) + "\n" for v in views), len(views), []
        if format != "aegis":
            raise InputError("format", f"export formats are {', '.join(EXPORT_FORMATS)}")
        kept, left_out = [], []
        for view in views:
            reason = aegis.unexportable_reason(_draft(view))
            if reason is None:
                kept.append(_draft(view))
            else:
                left_out.append(
                    {
                        "id": view.id.hex(),
                        "issuer": view.issuer,
                        "name": view.name,
                        "reason": reason,
                    }
                )
        return aegis.export_aegis(kept).decode("utf-8"), len(kept), left_out

    async def backup(
        self, *, passphrase: str | None, recovery_key: str | None
    ) -> tuple[bytes, int]:
        """The whole vault, trash and notes included, sealed; and how many accounts it holds."""
        views = self.service.views()
        entries = [backup.BackupEntry(_draft(view), view.deleted) for view in views]
        async with self._one_at_a_time:
            sealed = await asyncio.to_thread(
                lambda: backup.seal(
                    entries,
                    passphrase=passphrase,
                    recovery_key=recovery_key,
                    created_ms=now_ms(),
                )
            )
        return sealed, len(entries)

    async def _add(self, parsed: ParsedFile, dry_run: bool) -> ImportReport:
        report = ImportReport(parsed.format, dry_run, warnings=list(parsed.warnings))
        report.failed = [{"entry": f.source, "reason": f.reason} for f in parsed.failures]

        def make(vault: Vault) -> list[Op]:
            present = _present(vault)
            ops: list[Op] = []
            for item in parsed.accounts:
                key = account_key(item.draft)
                if key in present:
                    report.skipped.append(_skipped(item, present[key]))
                    continue
                present[key] = None
                if dry_run:
                    report.added.append(_added(item, None))
                    continue
                account_id, op = vault.create_account(item.draft, now_ms(), trashed=item.trashed)
                ops.append(op)
                report.added.append(_added(item, account_id))
            return ops

        if dry_run:
            make(self.service.vault)
        else:
            await self.service.write_batch(make)
        return report


def _present(vault: Vault) -> dict[AccountKey, AccountView | None]:
    """Accounts already held, trashed ones too (restoring those is one command away), by
    the one rule of what makes the same account (protocol/sameness.py). None marks one
    added earlier in the same file."""
    return dict(index(vault.state.views()))


def _draft(view: AccountView) -> AccountDraft:
    return AccountDraft(view.issuer, view.name, view.otp, view.counter, view.note)


def _summary(item: ImportedAccount) -> dict[str, Any]:
    return {
        "entry": item.source,
        "issuer": item.draft.issuer,
        "name": item.draft.name,
        "kind": item.draft.otp.kind.value,
        "trashed": item.trashed,
    }


def _added(item: ImportedAccount, account_id: bytes | None) -> dict[str, Any]:
    return _summary(item) | {"id": account_id.hex() if account_id else None}


def _skipped(item: ImportedAccount, existing: AccountView | None) -> dict[str, Any]:
    if existing is None:
        reason = "the same account appears earlier in this file"
    elif existing.deleted:
        reason = "an account of the same kind, secret, issuer and name is in the trash"
    else:
        reason = "an account of the same kind, secret, issuer and name is already in the vault"
    account_id = existing.id.hex() if existing else None
    return _summary(item) | {"id": account_id, "reason": reason}
