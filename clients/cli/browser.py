"""twofold open: the web page, signed in, in the person's browser; the token stays here."""

from __future__ import annotations

import webbrowser

from .commands import Context
from .output import dump_json


def cmd_open(ctx: Context) -> int:
    """Ask the daemon for a one-time sign-in link and open it (or print it with --print)."""
    link = ctx.client.sign_in_link()
    if ctx.json:
        dump_json({"url": link.url, "expires_at": link.expires_at.isoformat()}, ctx.out)
        return 0
    if ctx.args.print or not webbrowser.open(link.url):
        ctx.say(link.url)
        until = f"{link.expires_at.astimezone():%H:%M:%S}"
        ctx.tell(f"Open it within a minute (until {until}); it works once.")
        return 0
    ctx.tell("Opened Twofold in your browser.")
    return 0
