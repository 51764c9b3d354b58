"""The twofold command: argument parsing, and the one place errors become exit codes."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any, TextIO

from ..sdk import (
    ApiError,
    DaemonNotRunning,
    InvalidArgument,
    Locked,
    SdkError,
    TooSoon,
    WrongPassphrase,
    resolve_home,
)
from . import browser, devices, locking, pairing, prompts, transfer
from . import commands as c
from .output import dump_json

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NO_DAEMON = 3
_NEW_VAULT_PROBLEMS = (
    "urn:twofold:problem:removed-from-vault",
    "urn:twofold:problem:vault-closed",
)  # their way out is one command
EXIT_SIGPIPE = 141  # 128 + SIGPIPE, as a shell reports a reader that stopped early

KINDS = ["totp", "hotp", "steam", "motp", "yandex"]
ALGORITHMS = ["SHA1", "SHA256", "SHA512", "MD5"]

DESCRIPTION = "Your two-factor codes on all of your own devices, end-to-end encrypted."
EPILOG = """\
The home folder is --home, else $TWOFOLD_HOME, else the platform's data folder.
Exit status: 0 ok, 1 refused or not found, 2 bad usage, 3 no daemon running.
A locked vault (see twofold passphrase) opens with: twofold unlock
--json prints the API's objects for scripts (and the problem detail on errors)."""
ADD_EPILOG = """\
Quote a URI, since it holds '&' and may hold '#':
  twofold add 'otpauth://totp/GitHub:alice?secret=JBSWY3DPEHPK3PXP&issuer=GitHub'
To keep the secret out of your shell history, pipe it in:
  twofold add - < uri.txt             (reads the URI from standard input)
  twofold add --issuer GitHub --name alice --secret -   (reads the secret)"""

PAIR_EPILOG = """\
On the new device, scan the QR code, or run the command this one prints:
  twofold join 'twofold://pair/...'
Both devices then show the same code: add the device only if it matches. Its own
person must accept too, on the new device; it is added once both said yes.
Ctrl-C cancels the invitation.
The other way round, the new device shows a link (twofold join --show); add it with:
  twofold pair 'twofold://pair/...'     (or paste it, not echoed: twofold pair -)"""
JOIN_EPILOG = """\
On a device of the vault, run: twofold pair
This device then names that device, the vault's devices and a code: join only if it
is your vault and the code is the one that device shows. Nothing of this device's
is sent before your yes, and then only once that device's person accepts too.
Keep the link out of your shell history: run twofold join - and paste it (not echoed).
The other way round, this device shows a link and QR code for a device of the vault:
  twofold join --show       (then, on that device: twofold pair 'twofold://pair/...')
Ctrl-C at the question declines; with --show, before any device answered, it cancels
the offer.
In scripts, with no terminal to ask on, only --yes joins: twofold join --yes - < link.txt"""
IMPORT_FORMATS = [
    "otpauth", "google-migration", "aegis", "2fas", "bitwarden", "andotp", "freeotp",
    "ente", "proton", "qr-image", "twofold-backup",
]  # fmt: skip
IMPORT_EPILOG = """\
Formats: otpauth URI lists (Ente, Proton Pass and others' plain text), Google
Authenticator's export QR (otpauth-migration://), Aegis (plain or encrypted), 2FAS,
Bitwarden, andOTP, FreeOTP+, Ente Auth's encrypted export, Proton Authenticator,
and QR screenshots (PNG/JPEG). Encrypted files ask for their password.
  twofold import aegis-export.json --dry-run
  twofold import 'otpauth-migration://offline?data=...'
Accounts already in the vault (same secret, issuer and name) are skipped.
Exit status 1 when any entry failed; the others are still added."""
EXPORT_EPILOG = """\
  twofold export --format aegis --out aegis.json     (then import it in Aegis)
  twofold export --format qr                         (scan each into a phone app)
Files are written readable by you only. Delete them once they have served."""
BACKUP_EPILOG = """\
  twofold backup --to vault.tfbackup                 (asks for a passphrase twice)
  twofold backup --to vault.tfbackup --recovery-key  (prints a key to write down)
The file holds every account, note and the trash, sealed with Argon2id and
XChaCha20-Poly1305 (specs/backup.md). Restore it on any device: twofold restore FILE"""
RESTORE_EPILOG = """\
twofold restore ID brings an account back from the trash.
twofold restore FILE adds a backup's accounts to this vault (a fresh home gets them
all; an existing vault skips those it already has) and asks for its passphrase
or recovery key."""
LOCKING_EPILOG = """\
With a passphrase, the daemon starts locked, and the vault locks again after some
minutes without use (lock_after in the home's config.toml: 15 by default, 0 never)
and with twofold lock. While it is locked, a command that needs the vault says so:
run twofold unlock (twofold status still answers).
  twofold passphrase set                  (asks twice, not echoed)
  twofold passphrase change               (asks the current one, then the new one twice)
  twofold passphrase remove               (asks the current one)
For scripts, --passphrase-stdin reads it from standard input instead: one line,
or for change two, the current passphrase then the new one.
A forgotten passphrase cannot be recovered: the vault then comes back only from
another device of it, or from a backup (twofold backup)."""
UNLOCK_EPILOG = """\
  twofold unlock                          (asks for the passphrase, not echoed)
  twofold unlock --passphrase-stdin < file
After wrong passphrases in a row the daemon makes you wait (1, 2, 4 ... 600 s)."""
DEVICES_EPILOG = """\
A lost or stolen device: revoke it from another one, by its ID or the start of it:
  twofold devices revoke JD3A-ZZQ3-T5K3-7EJC
It keeps what it already has, but gets nothing new; then change the secrets of important
accounts at their sites, since it held them."""


def _client_version() -> str:
    """The installed distribution's version, for --version."""
    try:
        return version("twofold")
    except PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    """The parser; --home and --json are accepted before or after the subcommand."""
    parser = argparse.ArgumentParser(
        prog="twofold",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"twofold {_client_version()}")
    parser.add_argument("--home", metavar="DIR", help="the device's home folder")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    # The subcommands' copies default to SUPPRESS so they never undo the global ones.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home", metavar="DIR", default=argparse.SUPPRESS, help="home folder")
    common.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print JSON for scripts"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, handler: c.Handler, help: str, **kw: str) -> argparse.ArgumentParser:
        p = sub.add_parser(
            name,
            parents=[common],
            help=help,
            description=help,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            **kw,  # type: ignore[arg-type]  # only epilog, a str
        )
        p.set_defaults(handler=handler, subparser=p)
        return p

    p = add("add", c.cmd_add, "add an account from an otpauth URI or its fields", epilog=ADD_EPILOG)
    p.add_argument("uri", nargs="?", metavar="URI", help="otpauth:// or motp:// URI; - reads stdin")
    p.add_argument("--issuer")
    p.add_argument("--name")
    p.add_argument("--secret", help="base32 (hex for motp); - reads it from stdin")
    p.add_argument("--kind", choices=KINDS)
    p.add_argument("--digits", type=int, metavar="N")
    p.add_argument("--period", type=int, metavar="N", help="seconds a code lasts")
    p.add_argument("--algorithm", type=str.upper, choices=ALGORITHMS)
    p.add_argument("--counter", type=int, metavar="N", help="HOTP counter")
    p.add_argument("--pin", metavar="P", help="motp and yandex PIN")
    p.add_argument("--note", metavar="T")
    p.add_argument(
        "--allow-duplicate",
        action="store_true",
        help="add it even if the vault holds the same account (same secret, issuer and name)",
    )

    p = add("list", c.cmd_list, "list the accounts (issuer, name, kind, ID)")
    p.add_argument("query", nargs="?", metavar="QUERY", help="keep those whose issuer/name has it")

    p = add("code", c.cmd_code, "show current codes of the accounts QUERY names")
    p.add_argument("query", nargs="?", metavar="QUERY", help="part of issuer or name, or ID prefix")
    p.add_argument("--all", action="store_true", help="every current code")

    p = add("next", c.cmd_next, "advance an HOTP account and show its next code")
    p.add_argument("query", metavar="QUERY", help="part of issuer or name, or ID prefix")

    p = add("edit", c.cmd_edit, "change an account's issuer, name, note or counter")
    p.add_argument("id", metavar="ID", help="account ID or a prefix of 4+ hex digits")
    p.add_argument("--issuer")
    p.add_argument("--name")
    p.add_argument("--note", metavar="T")
    p.add_argument("--counter", type=int, metavar="N", help="HOTP only; it only moves forward")

    p = add("rm", c.cmd_rm, "move an account to the trash")
    p.add_argument("id", metavar="ID", help="account ID or a prefix of 4+ hex digits")
    add("trash", c.cmd_trash, "list the accounts in the trash")
    p = add(
        "restore",
        transfer.cmd_restore,
        "bring an account back from the trash, or a backup FILE back into the vault",
        epilog=RESTORE_EPILOG,
    )
    p.add_argument("target", metavar="ID|FILE", help="account ID (4+ hex digits) or backup file")
    p.add_argument("--dry-run", action="store_true", help="FILE: say what would be added, only")
    p.add_argument(
        "--password-stdin", action="store_true", help="FILE: read its passphrase from stdin"
    )

    p = add(
        "import",
        transfer.cmd_import,
        "add the accounts of another authenticator's export, a URI, or a QR screenshot",
        epilog=IMPORT_EPILOG,
    )
    p.add_argument("source", metavar="FILE|URI", help="the export file, a URI, or - for stdin")
    p.add_argument("--format", choices=IMPORT_FORMATS, help="the file's format (default: detect)")
    p.add_argument("--dry-run", action="store_true", help="say what would be added, change nothing")
    p.add_argument(
        "--password-stdin", action="store_true", help="read the file's password from stdin"
    )

    p = add(
        "export",
        transfer.cmd_export,
        "write every account with its secret, for another app (asks first)",
        epilog=EXPORT_EPILOG,
    )
    p.add_argument("--format", choices=["otpauth", "aegis", "qr"], default="otpauth")
    p.add_argument("--out", metavar="PATH", help="file to write (qr: a folder of PNGs)")
    p.add_argument("--force", action="store_true", help="replace existing files")
    p.add_argument("--yes", action="store_true", help="do not ask before writing secrets")

    p = add(
        "backup",
        transfer.cmd_backup,
        "seal the whole vault into one file, for when every device is gone",
        epilog=BACKUP_EPILOG,
    )
    p.add_argument("--to", required=True, metavar="FILE", help="the backup file to write")
    p.add_argument(
        "--recovery-key",
        action="store_true",
        help="seal it under a new printed recovery key instead of a passphrase",
    )
    p.add_argument("--password-stdin", action="store_true", help="read the passphrase from stdin")
    p.add_argument("--force", action="store_true", help="replace FILE if it exists")

    add("conflicts", c.cmd_conflicts, "list fields edited concurrently, each value numbered")
    p = add("resolve", c.cmd_resolve, "end a conflict by keeping one value")
    p.add_argument("id", metavar="ID", help="account ID or a prefix of 4+ hex digits")
    p.add_argument("field", metavar="FIELD", help="issuer, name, note or otp")
    p.add_argument(
        "choice",
        metavar="CHOICE",
        help="the value's # in twofold conflicts, the value itself, or (the start of) its CHOICE",
    )

    p = add(
        "pair",
        pairing.cmd_pair,
        "invite a device into this vault, or add one showing a LINK",
        epilog=PAIR_EPILOG,
    )
    p.add_argument(
        "link",
        nargs="?",
        metavar="LINK",
        help="the link a new device shows (twofold join --show); - reads stdin",
    )
    p.add_argument(
        "--ttl",
        type=int,
        metavar="SECONDS",
        help="without LINK: how long the invitation stays open (60-3600)",
    )
    p.add_argument(
        "--yes",
        action="store_true",
        help="this side's yes without asking (the device's own person still decides)",
    )
    p = add(
        "join",
        pairing.cmd_join,
        "join the vault of a device showing an invitation, or --show one",
        epilog=JOIN_EPILOG,
    )
    p.add_argument(
        "link", nargs="?", metavar="LINK", help="the twofold://pair/ link; - reads it from stdin"
    )
    p.add_argument(
        "--show",
        action="store_true",
        help="show a link and QR code for a device of the vault to scan",
    )
    p.add_argument(
        "--ttl", type=int, metavar="SECONDS", help="with --show: how long it stays open (5-3600)"
    )
    p.add_argument(
        "--yes",
        action="store_true",
        help="join without asking (for scripts): the code and the vault go unchecked on this side",
    )

    p = add(
        "devices",
        devices.cmd_devices,
        "list the vault's devices; devices revoke ID removes a lost one",
        epilog=DEVICES_EPILOG,
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    revoke_help = "revoke a lost device: it gets nothing new, and the vault key is rotated"
    p = actions.add_parser(
        "revoke",
        parents=[common],
        help=revoke_help,
        description=revoke_help,
        epilog=DEVICES_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(handler=devices.cmd_revoke, subparser=p)
    p.add_argument("id", metavar="ID", help="device ID as shown, or its first 4+ characters")
    p.add_argument("--yes", action="store_true", help="revoke it without asking")
    rename_help = "give this device a new name, which every device of the vault shows"
    p = actions.add_parser("rename", parents=[common], help=rename_help, description=rename_help)
    p.set_defaults(handler=devices.cmd_rename, subparser=p)
    p.add_argument("name", metavar="NAME", help="1 to 64 characters")
    add("peers", devices.cmd_peers, "list the other devices: address, state, last sync")
    p = add("vault", devices.cmd_vault, "vault new: start a new vault after this device's ended")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    new_help = (
        "for a device removed from its vault, or whose vault closed: start a new vault here "
        "with every account this device shows, then pair the other devices into it"
    )
    p = actions.add_parser("new", parents=[common], help=new_help, description=new_help)
    p.set_defaults(handler=devices.cmd_new_vault, subparser=p)

    p = add("open", browser.cmd_open, "open the web page in your browser, signed in")
    p.add_argument(
        "--print",
        action="store_true",
        help="print a one-time link instead of opening the browser (whoever sees the terminal "
        "can use it until it is spent)",
    )
    add("status", c.cmd_status, "show the daemon, this device and the vault (or that it is locked)")
    p = add(
        "unlock",
        locking.cmd_unlock,
        "open the locked vault with its passphrase",
        epilog=UNLOCK_EPILOG,
    )
    p.add_argument("--passphrase-stdin", action="store_true", help="read the passphrase from stdin")
    add("lock", locking.cmd_lock, "lock the vault now (it needs a passphrase to open again)")
    p = add(
        "passphrase",
        locking.cmd_passphrase,
        "put the vault under a passphrase, change it, or remove it",
        epilog=LOCKING_EPILOG,
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, handler, text, stdin_help in (
        (
            "set",
            locking.cmd_passphrase_set,
            "set a passphrase: the daemon then starts locked and locks after some idle minutes",
            "read the passphrase from stdin (one line)",
        ),
        (
            "change",
            locking.cmd_passphrase_change,
            "change the passphrase (asks the current one first)",
            "read the current passphrase, then the new one, from stdin (two lines)",
        ),
        (
            "remove",
            locking.cmd_passphrase_remove,
            "remove the passphrase: the vault then never locks",
            "read the current passphrase from stdin (one line)",
        ),
    ):
        p = actions.add_parser(
            action,
            parents=[common],
            help=text,
            description=text,
            epilog=LOCKING_EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.set_defaults(handler=handler, subparser=p)
        p.add_argument("--passphrase-stdin", action="store_true", help=stdin_help)
    p = add("daemon", c.cmd_daemon, "run the daemon of this home in the foreground")
    p.add_argument("--port", type=int, metavar="N", help="API port (default: any free one)")
    p.add_argument(
        "--peer",
        action="append",
        default=[],
        metavar="HOST:PORT",
        help="keep in sync with the device at this address (e.g. over WireGuard); repeatable",
    )
    p.add_argument(
        "--no-mdns", action="store_true", help="do not announce or look for devices on the LAN"
    )
    p = add("service", c.cmd_service, "manage the background service that runs the daemon")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, text in (
        (
            "install",
            "run the daemon in the background now and at every login (a systemd user unit on "
            "Linux, a launchd agent on macOS); says where the unit and the logs are",
        ),
        ("uninstall", "stop the background daemon and remove the unit, so it no longer starts"),
        ("status", "what the service manager says of the background daemon"),
    ):
        p = actions.add_parser(action, parents=[common], help=text, description=text)
        p.set_defaults(handler=c.cmd_service, subparser=p)
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    terminal: Callable[[], TextIO | None] | None = None,
) -> int:
    """Run the twofold command and return its exit status (0, 1, 2 usage, 3 no daemon).

    Questions go to stdin when it is a terminal, else to `terminal()`: the controlling
    terminal by default, but none when `stdin` is given and `terminal` is not, since a
    caller's stdin then stands for the whole terminal (a test never waits on a real one)."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    ctx = c.Context(
        args=args,
        parser=args.subparser,
        home=resolve_home(args.home),
        json=args.json,
        out=out,
        stdin=stdin or sys.stdin,
        err=err,
        terminal=terminal or (prompts.open_terminal if stdin is None else c.no_terminal),
    )
    try:
        return int(args.handler(ctx))
    except SystemExit as exc:  # a usage error found after parsing (parser.error)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    except DaemonNotRunning as exc:
        problem = _problem("daemon-not-running", "No daemon is running", 503, str(exc))
        return _fail(ctx, err, str(exc), problem, EXIT_NO_DAEMON)
    except (ApiError, c.UserError) as exc:
        return _fail(ctx, err, _said(exc), exc.to_json(), EXIT_ERROR)
    except InvalidArgument as exc:  # a malformed ID or field name: wrong usage, as argparse's
        problem = _problem("invalid-argument", "Invalid argument", 400, str(exc))
        return _fail(ctx, err, str(exc), problem, EXIT_USAGE)
    except SdkError as exc:
        problem = _problem(type(exc).__name__, type(exc).__name__, 502, str(exc))
        return _fail(ctx, err, str(exc), problem, EXIT_ERROR)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `twofold export | head`: the reader had enough, and that is fine
        if out is sys.stdout:  # so the interpreter's last flush does not fail again
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_SIGPIPE
    finally:
        ctx.close()


def _said(exc: ApiError | c.UserError) -> str:
    """The line a person reads for a refusal: the daemon's detail, or the CLI's own words
    where it knows the way out (twofold unlock, twofold vault new)."""
    if isinstance(exc, Locked):
        return locking.LOCKED_HINT
    if isinstance(exc, TooSoon):
        return f"too many wrong passphrases: try again in {exc.retry_after} s"
    if isinstance(exc, WrongPassphrase):
        return (
            "the current passphrase is wrong"
            if exc.field == "current"
            else "the passphrase is wrong"
        )
    if isinstance(exc, ApiError) and exc.type in _NEW_VAULT_PROBLEMS:
        return exc.detail + ": twofold vault new"
    return exc.detail


def _problem(slug: str, title: str, status: int, detail: str) -> dict[str, Any]:
    """A problem detail for an error the CLI met itself, shaped as the daemon's are."""
    return {"type": f"urn:twofold:cli:{slug}", "title": title, "status": status, "detail": detail}


def _fail(ctx: c.Context, err: TextIO, detail: str, problem: dict[str, Any], code: int) -> int:
    """Report an error: one line on stderr, and the problem detail on stdout with --json."""
    err.write(f"twofold: {detail}\n")
    if ctx.json:
        dump_json(problem, ctx.out)
    return code


if __name__ == "__main__":
    sys.exit(main())
