"""twofold unlock, lock and passphrase set|change|remove: the vault behind a passphrase.

With a passphrase the daemon starts locked, and locks again after some minutes
without use: while locked it answers only its status, and every other command
says to run twofold unlock. The passphrase is asked unechoed at a terminal, or
read from standard input with --passphrase-stdin, one line each.
"""

from __future__ import annotations

from ..sdk import LockState, PassphraseState, Status
from .commands import Context, UserError
from .output import dump_json
from .prompts import MIN_PASSPHRASE_CHARS, ask_secret

FLAG = "--passphrase-stdin"
UNCHANGED = "the passphrase was not changed"
LOCKED_HINT = "the vault is locked: run twofold unlock"
"""What any command that meets a locked vault says (main turns the 423 into it)."""
FORGOTTEN = (
    "A forgotten passphrase cannot be recovered: the vault then comes back only from "
    "another device of it, or from a backup (twofold backup)."
)


def minutes(count: int) -> str:
    """`15 minutes`, `1 minute`."""
    return f"{count} minute{'s' if count != 1 else ''}"


def locks_when(lock_after: int) -> str:
    """When a vault with a passphrase locks, in the words of a sentence's middle."""
    if lock_after:
        return f"locks after {minutes(lock_after)} without use, and when the daemon restarts"
    return "locks when the daemon restarts, or when you run twofold lock"


def cmd_unlock(ctx: Context) -> int:
    """Open the vault with its passphrase; nothing is asked when it is not locked."""
    status = ctx.client.status()
    if not status.locked:
        if ctx.json:
            dump_json(LockState(locked=False).to_json(), ctx.out)
        elif status.passphrase:
            ctx.say("The vault is not locked.")
        else:
            ctx.say("This home has no passphrase, so the vault never locks.")
        return 0
    passphrase = ask_secret(ctx, "passphrase", from_stdin=ctx.args.passphrase_stdin, flag=FLAG)
    done = ctx.client.unlock(passphrase)
    if ctx.json:
        dump_json(done.to_json(), ctx.out)
    else:
        ctx.say(f"Unlocked. The vault {locks_when(status.lock_after)}.")
    return 0


def cmd_lock(ctx: Context) -> int:
    """Close the vault now; it opens again with twofold unlock."""
    done = ctx.client.lock()
    if ctx.json:
        dump_json(done.to_json(), ctx.out)
    else:
        ctx.say("Locked.")
    return 0


def cmd_passphrase(ctx: Context) -> int:
    """The passphrase group has three actions; argparse requires one."""
    raise AssertionError("unreachable: `twofold passphrase` needs an action")


def _status(ctx: Context, *, has: bool) -> Status:
    """The status, refused early (before anything is typed) when the vault is locked, or
    when the home has a passphrase and the action needs none (`has` False), or the other way
    round; the daemon checks the same again."""
    status = ctx.client.status()
    if status.locked:
        raise UserError(LOCKED_HINT, "locked", 423)
    if status.passphrase and not has:
        raise UserError(
            "this home has a passphrase already: change it with twofold passphrase change",
            "has-passphrase",
            409,
        )
    if has and not status.passphrase:
        raise UserError(
            "this home has no passphrase: set one with twofold passphrase set",
            "no-passphrase",
            409,
        )
    return status


def _new(ctx: Context, what: str, line: str) -> str:
    """A new passphrase: typed twice at a terminal, or one line of stdin."""
    piped = ctx.args.passphrase_stdin
    return ask_secret(
        ctx,
        what,
        from_stdin=piped,
        twice=not piped,
        min_chars=MIN_PASSPHRASE_CHARS,
        flag=FLAG,
        unchanged=UNCHANGED,
        line=line,
    )


def _current(ctx: Context) -> str:
    return ask_secret(ctx, "current passphrase", from_stdin=ctx.args.passphrase_stdin, flag=FLAG)


def _emit(ctx: Context, state: PassphraseState, said: str) -> int:
    if ctx.json:
        dump_json(state.to_json(), ctx.out)
    else:
        ctx.say(said)
    return 0


def cmd_passphrase_set(ctx: Context) -> int:
    """Put the vault under a passphrase; from then on the daemon starts locked."""
    _status(ctx, has=False)
    ctx.tell(FORGOTTEN)
    passphrase = _new(ctx, "passphrase", "first")
    state = ctx.client.set_passphrase(passphrase)
    return _emit(
        ctx,
        state,
        f"Passphrase set. The vault now {locks_when(state.lock_after)}; "
        "unlock it with: twofold unlock",
    )


def cmd_passphrase_change(ctx: Context) -> int:
    """Change the passphrase: the current one, then the new one (twice at a terminal)."""
    _status(ctx, has=True)
    current = _current(ctx)
    passphrase = _new(ctx, "new passphrase", "second")
    state = ctx.client.set_passphrase(passphrase, current=current)
    return _emit(
        ctx,
        state,
        f"Passphrase changed. The vault {locks_when(state.lock_after)}; "
        "unlock it with the new one.",
    )


def cmd_passphrase_remove(ctx: Context) -> int:
    """Take the passphrase away: the vault then never locks, and the daemon starts open."""
    _status(ctx, has=True)
    state = ctx.client.remove_passphrase(_current(ctx))
    return _emit(
        ctx,
        state,
        "Passphrase removed. The vault no longer locks, and the daemon starts unlocked.",
    )
