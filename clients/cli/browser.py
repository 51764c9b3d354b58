"""twofold open: the web page, signed in, in the person's browser; the ticket stays private.

The daemon's one-time sign-in ticket must never reach another process's arguments or
environment: /proc/<pid>/cmdline (and, on some systems, more) is readable by every local
user, and whoever redeemed the ticket first would hold a session. So the browser is opened
on a redirect file, as Jupyter does: the file lives in the home (mode 0600, in a 0700
folder), its file:// URL holds no secret, and its form POSTs the ticket to the daemon in
the request body, so the ticket appears in no URL, no history and no argv. The ticket works
once, within a minute: after that the file is useless, and the next `twofold open` deletes
it. `--print` and `--json` hand the person the link itself (the ticket in its fragment);
whoever can read that terminal can use it until it is spent.
"""

from __future__ import annotations

import contextlib
import html
import os
import re
import secrets
import stat
import time
import webbrowser
from datetime import datetime
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from ..sdk import SignInLink
from .commands import Context, UserError
from .output import dump_json

SIGN_IN_DIR: Final = "sign-in"
"""The folder in the home that holds redirect files while they are good."""
STALE_S: Final = 120.0
"""A redirect file older than this holds a spent or expired ticket (tickets last 60 s)."""
_TICKET: Final = re.compile(r"[A-Za-z0-9_-]{1,256}")


def cmd_open(ctx: Context) -> int:
    """Ask the daemon for a one-time sign-in ticket and open the page signed in (or print the
    link with --print)."""
    link = ctx.client.sign_in_link()
    if ctx.json:
        dump_json({"url": link.url, "expires_at": link.expires_at.isoformat()}, ctx.out)
        return 0
    if ctx.args.print:
        _print_link(ctx, link)
        return 0
    action, ticket = split_link(link.url)
    page = write_redirect_file(ctx.home, action, ticket, link.expires_at)
    if not webbrowser.open(page.as_uri()):
        page.unlink(missing_ok=True)
        ctx.tell("No web browser could be started here; open this link in one instead:")
        _print_link(ctx, link)
        return 0
    ctx.tell("Opened Twofold in your browser.")
    ctx.err.write(
        f"(If the browser cannot read {page}, as a sandboxed snap or flatpak browser may not, "
        "run: twofold open --print)\n"
    )
    return 0


def _print_link(ctx: Context, link: SignInLink) -> None:
    ctx.say(link.url)
    until = f"{link.expires_at.astimezone():%H:%M:%S}"
    ctx.tell(
        f"Open it within a minute (until {until}); it works once. "
        "Whoever can read this terminal can use it until then."
    )


def split_link(url: str) -> tuple[str, str]:
    """The form's target and the ticket, from the daemon's http://<host>/login#ticket=<t>."""
    parts = urlsplit(url)
    ticket = parts.fragment.removeprefix("ticket=")
    if (
        parts.scheme != "http"
        or not parts.netloc
        or parts.path != "/login"
        or parts.query
        or not parts.fragment.startswith("ticket=")
        or not _TICKET.fullmatch(ticket)
    ):
        raise UserError(
            "the daemon sent a sign-in link this twofold cannot use; "
            "run the same version of the daemon and the command",
            "bad-sign-in-link",
            502,
        )
    return f"http://{parts.netloc}/login", ticket


def redirect_html(action: str, ticket: str, expires_at: datetime) -> str:
    """A page that POSTs the ticket to the daemon at once (or at a click, without scripts)."""
    until = f"{expires_at.astimezone():%H:%M:%S}"
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex, nofollow">
<title>Twofold: signing in</title>
</head>
<body>
<form id="sign-in" method="post" action="{html.escape(action)}">
<input type="hidden" name="ticket" value="{html.escape(ticket)}">
<p>Signing in to Twofold… <button type="submit">Continue</button></p>
<p><small>This page works once, until {until}. After that, run
<code>twofold open</code> again.</small></p>
</form>
<script>document.getElementById("sign-in").submit();</script>
</body>
</html>
"""


def write_redirect_file(home: Path, action: str, ticket: str, expires_at: datetime) -> Path:
    """Write the redirect file (0600, new, under a random name) in the home's sign-in
    folder (0700), after deleting the ones whose tickets can no longer work."""
    folder = _private_folder(home / SIGN_IN_DIR)
    _delete_stale(folder)
    path = folder / f"{secrets.token_hex(8)}.html"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, 0o600)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)
        os.write(fd, redirect_html(action, ticket, expires_at).encode())
    finally:
        os.close(fd)
    return path


def _private_folder(folder: Path) -> Path:
    """The folder, made if missing; refused unless it is a real folder of this user's, and
    made private (0700) if it is not."""
    with contextlib.suppress(FileExistsError):
        folder.mkdir(mode=0o700)
    info = os.lstat(folder)
    mine = not hasattr(os, "getuid") or info.st_uid == os.getuid()
    if not stat.S_ISDIR(info.st_mode) or not mine:
        raise UserError(
            f"{folder} is not a folder of yours; remove it and run twofold open again",
            "home-unsafe",
            500,
        )
    if info.st_mode & 0o077:
        os.chmod(folder, 0o700)
    return folder


def _delete_stale(folder: Path) -> None:
    now = time.time()
    for old in folder.glob("*.html"):
        try:
            if now - old.lstat().st_mtime > STALE_S:
                old.unlink()
        except FileNotFoundError:
            pass
