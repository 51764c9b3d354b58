"""twofold import, export, backup and restore FILE: files in and out, through the SDK.

Files that hold secrets are written 0600 and never over an existing file
unless --force says so: a backup must not be lost to a slip of the tab key.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from urllib.parse import unquote

import segno

from ..sdk import ApiError, ImportReport
from . import commands as c
from .commands import STDIN, Context, UserError
from .output import clean, dump_json, label
from .prompts import MIN_PASSPHRASE_CHARS, ask_secret, confirm

MAX_FILE_BYTES = 16 * 1024 * 1024
BACKUP_FORMAT = "twofold-backup"
_URI_SCHEMES = ("otpauth://", "otpauth-migration://", "motp://")
_NEEDS_PASSWORD = "urn:twofold:problem:password-required"  # noqa: S105 - a problem type
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._@+-]+")
_LABELLED = re.compile(r"(.+?) \((.*)\)", re.DOTALL)


def cmd_import(ctx: Context) -> int:
    """Add the accounts of another app's export, a URI, or a QR screenshot."""
    a = ctx.args
    if a.source == STDIN and a.password_stdin:
        raise UserError("stdin can carry the file or its password, not both", "stdin-twice")
    data = _source(ctx, a.source)
    password = ask_secret(ctx, "password", from_stdin=True) if a.password_stdin else None
    report = _import(ctx, data, a.format, password, a.dry_run, "password of the file")
    return _print_report(ctx, report)


def cmd_restore(ctx: Context) -> int:
    """restore FILE brings back a backup; restore ID brings an account back from the trash."""
    target = ctx.args.target
    if not Path(target).is_file():
        if os.sep in target or target.endswith(".tfbackup"):
            raise UserError(f"no backup file at {target}", "no-such-file")
        ctx.args.id = target
        return c.cmd_restore(ctx)
    data = _read_file(Path(target))
    password = (
        ask_secret(ctx, "passphrase or recovery key", from_stdin=True)
        if ctx.args.password_stdin
        else None
    )
    report = _import(
        ctx, data, BACKUP_FORMAT, password, ctx.args.dry_run, "passphrase or recovery key"
    )
    return _print_report(ctx, report)


def cmd_export(ctx: Context) -> int:
    """Every account with its secret, for another app: URIs, an Aegis vault, or QR codes."""
    a = ctx.args
    question = (
        "This shows every secret in plain text: anyone who sees it can make your codes. "
        "Continue? [y/N] "
    )
    if not a.yes and not confirm(ctx, question, yes_does="exports"):
        raise UserError("export cancelled: nothing was written", "cancelled")
    export = ctx.client.export("otpauth" if a.format == "qr" else a.format)
    for left in export.left_out:
        ctx.err.write(
            f"twofold: left out {clean(label(left.issuer, left.name))}: {clean(left.reason)}; "
            "export it with --format otpauth\n"
        )
    if a.format == "qr":
        return _export_qr(ctx, export.content.splitlines())
    if a.out:
        _write_private(Path(a.out), export.content.encode("utf-8"), force=a.force)
        if ctx.json:
            left_out = [left.to_json() for left in export.left_out]
            dump_json(
                {"format": a.format, "accounts": export.accounts, "file": a.out,
                 "left_out": left_out},
                ctx.out,
            )  # fmt: skip
        else:
            ctx.say(f"wrote {export.accounts} accounts to {a.out} (readable by you only)")
        return 0
    if ctx.json:
        dump_json(
            {"format": export.format, "accounts": export.accounts, "content": export.content,
             "left_out": [left.to_json() for left in export.left_out]},
            ctx.out,
        )  # fmt: skip
    else:
        ctx.out.write(export.content)
    return 0


def cmd_backup(ctx: Context) -> int:
    """The whole vault, sealed under a passphrase or a new recovery key, to one file."""
    a = ctx.args
    path = Path(a.to)
    if path.exists() and not a.force:
        raise UserError(f"{path} exists: choose another name, or --force to replace it", "exists")
    if a.recovery_key:
        made = ctx.client.backup(recovery_key=True)
    else:
        passphrase = ask_secret(
            ctx,
            "backup passphrase",
            from_stdin=a.password_stdin,
            twice=not a.password_stdin,
            min_chars=MIN_PASSPHRASE_CHARS,
        )
        made = ctx.client.backup(passphrase=passphrase)
    _write_private(path, made.content, force=a.force)
    if ctx.json:
        dump_json(
            {
                "file": str(path),
                "accounts": made.accounts,
                "sealed_with": made.sealed_with,
                "recovery_key": made.recovery_key,
            },
            ctx.out,
        )
        return 0
    ctx.say(f"wrote a backup of {made.accounts} accounts to {path}")
    if made.recovery_key:
        ctx.say("")
        ctx.say(f"  Recovery key:  {made.recovery_key}")
        ctx.say("")
        ctx.say("Write it down and keep it apart from the file. It is shown only now,")
        ctx.say("and nothing else opens the backup.")
    ctx.say(f"Bring it back on any device with: twofold restore {path}")
    return 0


def _import(
    ctx: Context, data: bytes | str, format: str | None, password: str | None, dry: bool, ask: str
) -> ImportReport:
    try:
        return ctx.client.import_file(data, format=format, password=password, dry_run=dry)
    except ApiError as error:
        if error.type != _NEEDS_PASSWORD or password is not None:
            raise
        ctx.tell(error.detail)
        typed = ask_secret(ctx, ask, from_stdin=False)
        return ctx.client.import_file(data, format=format, password=typed, dry_run=dry)


def _source(ctx: Context, source: str) -> bytes | str:
    if source == STDIN:
        buffer = getattr(ctx.stdin, "buffer", None)
        raw = buffer.read(MAX_FILE_BYTES + 1) if buffer is not None else ctx.stdin.read()
        data = raw.encode("utf-8") if isinstance(raw, str) else raw
        if len(data) > MAX_FILE_BYTES:
            raise UserError(f"standard input holds more than {MAX_FILE_BYTES} bytes", "too-large")
        if not data.strip():
            raise UserError("expected a file on standard input, got nothing", "empty-input")
        return data
    if source.strip().lower().startswith(_URI_SCHEMES):
        return source.strip()
    return _read_file(Path(source))


def _read_file(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise UserError(f"no such file: {path}", "no-such-file") from None
    except IsADirectoryError:
        raise UserError(f"{path} is a folder, not a file", "not-a-file") from None
    except PermissionError:
        raise UserError(f"cannot read {path}: permission denied", "unreadable") from None
    if len(data) > MAX_FILE_BYTES:
        raise UserError(f"{path} is larger than {MAX_FILE_BYTES} bytes", "too-large")
    return data


def _write_private(path: Path, data: bytes, *, force: bool) -> None:
    """0600 from the first byte: made with that mode, not chmod-ed after writing."""
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    flags |= os.O_TRUNC if force else os.O_EXCL
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise UserError(
            f"{path} exists: choose another name, or --force to replace it", "exists"
        ) from None
    except OSError as error:
        raise UserError(f"cannot write {path}: {error.strerror}", "unwritable") from None
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(data)


def _export_qr(ctx: Context, uris: list[str]) -> int:
    a = ctx.args
    if not a.out:
        for uri in uris:
            ctx.say(clean(_uri_label(uri)))
            segno.make(uri, error="m").terminal(out=ctx.out, compact=True)
        return 0
    folder = Path(a.out)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    written = []
    for index, uri in enumerate(uris, start=1):
        name = _UNSAFE_NAME.sub("-", _uri_label(uri)).strip("-")[:60] or "account"
        path = folder / f"{index:03d}-{name}.png"
        buffer = _png(uri)
        _write_private(path, buffer, force=a.force)
        written.append(str(path))
    if ctx.json:
        dump_json({"format": "qr", "accounts": len(uris), "files": written}, ctx.out)
    else:
        ctx.say(f"wrote {len(uris)} QR codes to {folder} (readable by you only)")
    return 0


def _png(uri: str) -> bytes:
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="png", scale=8, border=4)
    return buffer.getvalue()


def _uri_label(uri: str) -> str:
    path = uri.split("?", 1)[0]
    return unquote(path.rsplit("/", 1)[-1]) or "account"


def _where(entry: str, shown: str) -> str:
    """Where in the file an account was, in the parentheses after its label: "entry 1",
    not "entry 1 (GitHub: alice)" again, nor "(entry 1 (alice))" inside parentheses."""
    where = clean(entry)
    found = _LABELLED.fullmatch(where)
    if found is None:
        return where
    return found[1] if found[2] == shown else f"{found[1]}: {found[2]}"


def _print_report(ctx: Context, report: ImportReport) -> int:
    status = 1 if report.failed else 0
    if ctx.json:
        dump_json(report.to_json(), ctx.out)
        return status
    verb = "would add" if report.dry_run else "added"
    ctx.say(
        f"{report.format}: {verb} {len(report.added)}, skipped {len(report.skipped)}, "
        f"failed {len(report.failed)}"
        + (" (dry run: nothing was changed)" if report.dry_run else "")
    )
    for item in report.added:
        shown = label(item.issuer, item.name)
        ctx.say(f"  {verb:9} {shown}  ({_where(item.entry, shown)})")
    for skipped in report.skipped:
        shown = label(skipped.issuer, skipped.name)
        ctx.say(f"  skipped   {shown}  ({_where(skipped.entry, shown)}): {clean(skipped.reason)}")
    for failed in report.failed:
        ctx.say(f"  failed    {clean(failed.entry)}: {clean(failed.reason)}")
    for warning in report.warnings:
        ctx.say(f"warning: {clean(warning)}")
    return status
