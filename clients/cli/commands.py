"""What each twofold subcommand does, through the SDK only (never the daemon's code)."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TextIO

from ..sdk import Account, ApiError, Client, Code, Conflict, ConflictValue, Standing
from .output import (
    account_table,
    clean,
    code_table,
    dump_json,
    fields,
    group_code,
    label,
    short_id,
    table,
)

ID_PREFIX_MIN = 4
STDIN = "-"
"""The argument that means: read this value from standard input."""


class UserError(Exception):
    """A request the CLI itself can tell is wrong (no match, ambiguous, empty input): exit 1."""

    def __init__(self, detail: str, slug: str, status: int = 400) -> None:
        super().__init__(detail)
        self.detail = detail
        self.slug = slug
        self.status = status

    def to_json(self) -> dict[str, Any]:
        """The error as a problem detail, shaped as the daemon's are."""
        return {
            "type": f"urn:twofold:cli:{self.slug}",
            "title": self.slug.replace("-", " ").capitalize(),
            "status": self.status,
            "detail": self.detail,
        }


def no_terminal() -> TextIO | None:
    """The terminal of a run whose standard input stands for the whole terminal: none."""
    return None


@dataclass
class Context:
    """One run of the command: its arguments, home, output streams and lazy client."""

    args: argparse.Namespace
    parser: argparse.ArgumentParser
    home: Path
    json: bool
    out: TextIO
    stdin: TextIO
    err: TextIO = field(default_factory=lambda: sys.stderr)
    terminal: Callable[[], TextIO | None] = no_terminal
    """Opens the controlling terminal (None if there is none), to ask when stdin is not one."""
    _client: Client | None = field(default=None, repr=False)

    @property
    def client(self) -> Client:
        """The SDK client, made on first use so exec-only commands never open one."""
        if self._client is None:
            self._client = Client(self.home)
        return self._client

    def close(self) -> None:
        """Close the client if one was made."""
        if self._client is not None:
            self._client.close()

    def say(self, text: str) -> None:
        """Write a line of human output."""
        self.out.write(text + "\n")

    def tell(self, text: str) -> None:
        """A line a person needs while a command runs: on stdout, or on stderr under --json
        so that stdout stays one JSON document."""
        stream = self.err if self.json else self.out
        stream.write(text + "\n")
        stream.flush()


Handler = Callable[[Context], int]


def matches(query: str, account_id: str, issuer: str, name: str) -> bool:
    """QUERY names an account by issuer or name (any case) or by an ID prefix of 4+ digits."""
    q = query.casefold()
    if q in issuer.casefold() or q in name.casefold():
        return True
    return len(q) >= ID_PREFIX_MIN and account_id.startswith(q)


def _read_stdin(ctx: Context, what: str) -> str:
    """One value piped in, so a secret need not appear on the command line or in history."""
    if ctx.stdin.isatty():  # typed by hand: do not echo it to the screen either
        try:
            text = getpass.getpass(f"{what} (not echoed): ").strip()
        except EOFError:  # Ctrl-D
            text = ""
    else:
        text = ctx.stdin.read().strip()
    if not text:
        raise UserError(f"expected {what} on standard input, got nothing", "empty-input")
    return text


def _emit_account(ctx: Context, account: Account, verb: str) -> int:
    """Print the account a mutation returned: JSON object, or a line saying what happened."""
    if ctx.json:
        dump_json(account.to_json(), ctx.out)
    else:
        ctx.say(f"{verb} {label(account.issuer, account.name)} ({short_id(account.id)})")
    return 0


FIELD_OPTIONS = ("issuer", "name", "secret", "kind", "algorithm", "digits", "period", "counter")


DUPLICATE = "urn:twofold:problem:duplicate-account"


def cmd_add(ctx: Context) -> int:
    """Add an account from a URI (or - for stdin) or from its fields; one the vault holds
    already is refused unless --allow-duplicate."""
    try:
        return _add(ctx)
    except ApiError as exc:
        existing = exc.extra.get("existing")
        if exc.type != DUPLICATE or not isinstance(existing, dict):
            raise
        which = f"{label(existing['issuer'], existing['name'])} ({short_id(existing['id'])})"
        if existing.get("trashed"):
            exc.detail = (
                f"{which} is in the trash: bring it back with: twofold restore "
                f"{short_id(existing['id'])} (or add a second copy with --allow-duplicate)"
            )
        else:
            exc.detail = f"{which} is already in the vault; to add a second copy: --allow-duplicate"
        raise


def _add(ctx: Context) -> int:
    a = ctx.args
    given = [opt for opt in FIELD_OPTIONS if getattr(a, opt) is not None]
    if a.uri is not None and given:
        ctx.parser.error(f"give a URI or --secret with fields, not both (got --{given[0]})")
    if a.uri is None:
        if a.secret is None:
            ctx.parser.error("add needs a URI, '-' to read one from stdin, or --secret")
        secret = _read_stdin(ctx, "the secret") if a.secret == STDIN else a.secret
        account = ctx.client.create_account(
            secret=secret,
            issuer=a.issuer,
            name=a.name,
            kind=a.kind,
            algorithm=a.algorithm,
            digits=a.digits,
            period=a.period,
            counter=a.counter,
            pin=a.pin,
            note=a.note,
            allow_duplicate=a.allow_duplicate,
        )
    else:
        uri = _read_stdin(ctx, "an otpauth:// URI") if a.uri == STDIN else a.uri
        account = ctx.client.create_account_from_uri(
            uri, pin=a.pin, note=a.note, allow_duplicate=a.allow_duplicate
        )
    return _emit_account(ctx, account, f"added {account.kind} account")


def cmd_list(ctx: Context) -> int:
    """List the accounts not in the trash."""
    accounts = ctx.client.accounts(ctx.args.query)
    if ctx.json:
        dump_json({"accounts": [a.to_json() for a in accounts]}, ctx.out)
    elif not accounts:
        ctx.say("no accounts" if ctx.args.query is None else "no account matches")
    else:
        ctx.say(account_table(accounts))
        with_conflicts = sum(1 for a in accounts if a.conflicts)
        if with_conflicts:
            which = "account has" if with_conflicts == 1 else "accounts have"
            ctx.say(f"{with_conflicts} {which} conflicting edits; see: twofold conflicts")
    return 0


def _names(items: Sequence[tuple[str, str, str]]) -> str:
    """A short list of accounts for an error message."""
    return ", ".join(f"{label(i, n)} ({short_id(k)})" for k, i, n in items)


def cmd_code(ctx: Context) -> int:
    """Show the current code of the accounts QUERY names, or of all with --all."""
    query: str | None = ctx.args.query
    if ctx.args.all == (query is not None):
        ctx.parser.error("code needs a QUERY or --all (not both)")
    codes = ctx.client.codes()
    if query is not None:
        codes = [c for c in codes if matches(query, c.account_id, c.issuer, c.name)]
        if not codes:
            raise UserError(f"no account matches {query!r}; see: twofold list", "no-match", 404)
        if len(codes) == 1 and codes[0].code is None:
            c = codes[0]
            raise UserError(
                f"{label(c.issuer, c.name)} is an HOTP account; "
                f"get its next code with: twofold next {short_id(c.account_id)}",
                "hotp-account",
                409,
            )
    if query is not None and len(codes) > 1 and not ctx.json and not ctx.out.isatty():
        codes = [_one_for_a_pipe(query, codes)]
    if ctx.json:
        dump_json({"codes": [c.to_json() for c in codes]}, ctx.out)
    elif query is not None and len(codes) == 1:
        ctx.say(_code_line(ctx, codes[0]))
    elif codes:
        ctx.say(code_table(codes))
    else:
        ctx.say("no accounts")
    return 0


def _one_for_a_pipe(query: str, codes: list[Code]) -> Code:
    """A pipe gets one bare code, never a table: the account whose issuer or label is the
    query exactly (as ykman picks), else an error that names the candidates."""
    wanted = query.casefold()
    exact = [c for c in codes if wanted in (c.issuer.casefold(), c.name.casefold())]
    if len(exact) == 1:
        return exact[0]
    names = ", ".join(f"{label(c.issuer, c.name)} ({short_id(c.account_id)})" for c in codes)
    raise UserError(
        f"{len(codes)} accounts match {query!r}: {names}; name one (an ID prefix works)",
        "ambiguous",
        409,
    )


def _code_line(ctx: Context, code: Code) -> str:
    """One code for a person at a terminal: grouped digits, then how long it lasts and whose
    it is; for a pipe (twofold code github | xclip), the bare code, as ykman's -s prints."""
    if not ctx.out.isatty():
        return clean(code.code)
    if code.seconds_left is not None:
        when = f"{code.seconds_left} s left"
    else:
        when = f"counter {code.counter}"
    return f"{group_code(clean(code.code))}  ({when}, {label(code.issuer, code.name)})"


def cmd_next(ctx: Context) -> int:
    """Advance the counter of the one HOTP account QUERY names and show its code."""
    query: str = ctx.args.query
    found = [a for a in ctx.client.accounts() if matches(query, a.id, a.issuer, a.name)]
    hotp = [a for a in found if a.kind == "hotp"]
    if not hotp:
        if found:
            raise UserError(
                f"{query!r} matches no HOTP account, only time-based ones; "
                f"see their codes with: twofold code {query}",
                "not-hotp",
                409,
            )
        raise UserError(f"no account matches {query!r}; see: twofold list", "no-match", 404)
    if len(hotp) > 1:
        names = _names([(a.id, a.issuer, a.name) for a in hotp])
        raise UserError(
            f"{query!r} matches {len(hotp)} HOTP accounts: {names}; give an ID prefix",
            "ambiguous",
            409,
        )
    code = ctx.client.next_code(hotp[0].id)
    if ctx.json:
        dump_json(code.to_json(), ctx.out)
    else:
        ctx.say(_code_line(ctx, code))
    return 0


def cmd_edit(ctx: Context) -> int:
    """Change an account's issuer, name, note or HOTP counter."""
    a = ctx.args
    changes = {k: getattr(a, k) for k in ("issuer", "name", "note", "counter")}
    if all(v is None for v in changes.values()):
        ctx.parser.error("edit needs at least one of --issuer, --name, --note, --counter")
    account = ctx.client.update_account(
        a.id, issuer=a.issuer, name=a.name, note=a.note, counter=a.counter
    )
    return _emit_account(ctx, account, "updated")


def cmd_rm(ctx: Context) -> int:
    """Move an account to the trash."""
    account = ctx.client.delete_account(ctx.args.id)
    if ctx.json:
        return _emit_account(ctx, account, "deleted")
    ctx.say(
        f"moved {label(account.issuer, account.name)} to the trash; "
        f"undo with: twofold restore {short_id(account.id)}"
    )
    return 0


def cmd_restore(ctx: Context) -> int:
    """Bring an account back from the trash."""
    return _emit_account(ctx, ctx.client.restore_account(ctx.args.id), "restored")


def cmd_trash(ctx: Context) -> int:
    """List the accounts in the trash."""
    accounts = ctx.client.trash()
    if ctx.json:
        dump_json({"accounts": [a.to_json() for a in accounts]}, ctx.out)
    elif accounts:
        ctx.say(account_table(accounts))
    else:
        ctx.say("the trash is empty")
    return 0


def _value_text(value: object) -> str:
    """A conflict value on one line: text as is, the otp parameters as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def _device_names(ctx: Context) -> dict[str, str]:
    """Device ID to name, to say who wrote a value; a name two devices share keeps its ID."""
    devices = ctx.client.devices()
    counts: dict[str, int] = {}
    for d in devices:
        counts[d.name] = counts.get(d.name, 0) + 1
    return {d.id: d.name if counts[d.name] == 1 else f"{d.name} ({d.id})" for d in devices}


def cmd_conflicts(ctx: Context) -> int:
    """List the fields holding concurrent values, each with the index that keeps it."""
    conflicts = ctx.client.conflicts()
    if ctx.json:
        dump_json({"conflicts": [c.to_json() for c in conflicts]}, ctx.out)
        return 0
    if not conflicts:
        ctx.say("no conflicts")
        return 0
    names = _device_names(ctx)
    rows = []
    for c in conflicts:
        for i, v in enumerate(c.values):
            written = v.written_at.astimezone().strftime("%Y-%m-%d %H:%M")
            rows.append(
                (
                    short_id(c.account_id),
                    label(c.issuer, c.name),
                    c.field,
                    str(i + 1),
                    "*" if i == 0 else "",
                    _value_text(v.value),
                    names.get(v.device, v.device),
                    written,
                    v.choice[:SHORT_CHOICE],
                )
            )
    headers = ["ID", "ACCOUNT", "FIELD", "#", "SHOWN", "VALUE", "DEVICE", "WRITTEN", "CHOICE"]
    ctx.say(table(headers, rows))
    ctx.say("keep one value with: twofold resolve ID FIELD # (or its VALUE, or its CHOICE)")
    return 0


SHORT_CHOICE = 12
"""The hex digits of a choice the conflicts table shows; resolve takes any unique start."""


def _pick(conflict: Conflict, given: str) -> ConflictValue:
    """The value GIVEN names: its whole choice, its index (from 1), a unique start of its
    choice, or the value itself as the table shows it."""
    values = conflict.values
    text = given.strip()
    exact = [v for v in values if v.choice == text.lower() or v.choice == text]
    if exact:
        return exact[0]
    if text.isdigit() and 1 <= int(text) <= len(values):
        return values[int(text) - 1]
    started = [
        v for v in values if len(text) >= ID_PREFIX_MIN and v.choice.startswith(text.lower())
    ]
    if len(started) == 1:
        return started[0]
    same = [v for v in values if _value_text(v.value) == given]
    if same and all(v.value == same[0].value for v in same):
        return same[0]
    what = f"the {conflict.field} of {label(conflict.issuer, conflict.name)}"
    if len(started) > 1 or len(same) > 1:
        raise UserError(f"{given!r} names several values of {what}: give its #", "ambiguous", 409)
    raise UserError(
        f"{given!r} is none of the {len(values)} values of {what}: give its # (1 to "
        f"{len(values)}), its value, or the start of its choice; see: twofold conflicts",
        "no-such-choice",
    )


def cmd_resolve(ctx: Context) -> int:
    """End a conflict by keeping one of its values, named by index, value or choice."""
    a = ctx.args
    key = a.id.strip().lower()
    found = [
        c for c in ctx.client.conflicts() if c.account_id.startswith(key) and c.field == a.field
    ]
    if len(found) != 1:  # none, or an ambiguous ID: the daemon says which, as it checks
        account = ctx.client.resolve_conflict(a.id, a.field, a.choice)
        return _emit_account(ctx, account, f"kept {a.choice} as the {a.field} of")
    kept = _pick(found[0], a.choice)
    account = ctx.client.resolve_conflict(found[0].account_id, a.field, kept.choice)
    if ctx.json:
        return _emit_account(ctx, account, "")
    who = _device_names(ctx).get(kept.device, kept.device)
    ctx.say(
        f"kept {clean(_value_text(kept.value))!r} (written by {clean(who)}) as the {a.field} "
        f"of {label(account.issuer, account.name)} ({short_id(account.id)})"
    )
    return 0


def cmd_status(ctx: Context) -> int:
    """Show the daemon, this device and the vault at a glance; a locked vault shows only
    that it is locked, since the rest is behind its passphrase."""
    s = ctx.client.status()
    if ctx.json:
        dump_json(s.to_json(), ctx.out)
        return 0
    daemon = ("daemon", f"{s.version}, up since {s.started_at.astimezone():%Y-%m-%d %H:%M}")
    if s.locked:
        rows = [
            ("home", str(ctx.home)),
            daemon,
            ("device", s.device.name),
            ("vault", "Locked (unlock it with: twofold unlock)"),
            ("passphrase", "on"),
            ("locking", lock_line(s.lock_after)),
        ]
        ctx.say(fields(rows))
        return 0
    conflicts = f"{s.conflicts} (see: twofold conflicts)" if s.conflicts else "none"
    rows = [
        ("home", str(ctx.home)),
        daemon,
        ("device", f"{s.device.name} ({s.device.id})"),
        ("vault", s.vault_id or ""),
        ("members", f"{s.members} device{'s' if s.members != 1 else ''}"),
        ("accounts", f"{s.accounts} ({s.trash} in the trash)"),
        ("conflicts", conflicts),
    ]
    if s.passphrase:
        rows += [("passphrase", "on"), ("locking", lock_line(s.lock_after))]
    else:
        rows.append(("passphrase", "off: the vault never locks (set one: twofold passphrase set)"))
    standing = None if s.standing is None else standing_line(s.standing)
    if standing:
        rows.insert(4, ("standing", standing))
    ctx.say(fields(rows))
    return 0


def lock_line(lock_after: int) -> str:
    """When a vault with a passphrase locks, for the status."""
    if lock_after:
        return f"Locks after {lock_after} minute{'s' if lock_after != 1 else ''} without use"
    return "Locks only when the daemon restarts or on twofold lock"


def standing_line(standing: Standing) -> str | None:
    """What a person must know when this device is not simply a member of a live vault."""
    if standing.state == "removed":
        by = standing.removed_by
        who = "another device" if by is None else f"{clean(by.name)} ({by.id})"
        when = (
            ""
            if standing.removed_at is None
            else f" at {standing.removed_at.astimezone():%Y-%m-%d %H:%M}"
        )
        closed = " The vault is closed: every device in it was removed." if standing.closed else ""
        return (
            f"removed from the vault by {who}{when}.{closed} What it writes counts nowhere; its "
            "accounts stay readable here. Start a new vault with them: twofold vault new"
        )
    if standing.closed:
        return (
            "the vault is closed: every device in it was removed. Start a new one: "
            "twofold vault new"
        )
    if standing.state == "waiting":
        return "joined; waiting for the device that added it"
    if standing.forked:
        return (
            f"the log of {', '.join(standing.forked)} forked (a copied home, or tampering): "
            "revoke it with twofold devices revoke ID"
        )
    return None


def _exec_daemon(ctx: Context, argv: list[str]) -> NoReturn:
    """Replace this process with the daemon's own entry point (the CLI never imports it)."""
    cmd = [sys.executable, "-m", "twofold.daemon", *argv]
    ctx.out.flush()
    os.execv(sys.executable, cmd)  # noqa: S606 - our own interpreter, with no shell


def cmd_daemon(ctx: Context) -> int:
    """Run the daemon of this home in the foreground."""
    argv = ["run", "--home", str(ctx.home)]
    if ctx.args.port is not None:
        argv += ["--port", str(ctx.args.port)]
    for peer in ctx.args.peer:
        argv += ["--peer", peer]
    if ctx.args.no_mdns:
        argv.append("--no-mdns")
    _exec_daemon(ctx, argv)


def cmd_service(ctx: Context) -> int:
    """Install, uninstall or query the background service that runs the daemon."""
    _exec_daemon(ctx, ["service", ctx.args.action, "--home", str(ctx.home)])
