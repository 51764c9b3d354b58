"""twofold pair and twofold join: adding a device to a vault, from either side, by polling."""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime

import segno

from ..sdk import Invitation, InvitationPeer, Joining, SdkError
from .commands import STDIN, Context, UserError, _read_stdin
from .output import clean, dump_json, group_code

POLL_S = 0.2
"""Seconds between two reads of an invitation or a join."""
PAIR_GRACE_S = 60.0
"""How long after its expiry an invitation may still be undecided before pair gives up."""
JOIN_TIMEOUT_S = 11 * 60.0
"""How long join waits for the other device's person (the daemon waits 10 minutes)."""

INVITATION_ENDS = {
    "expired": "The invitation expired; open a new one with: twofold pair",
    "cancelled": "The invitation was cancelled.",
    "declined": "The device was declined.",
    "failed": (
        "Pairing with the device that answered failed; open a new invitation with: twofold pair"
    ),
}
INVITATION_STATUS = {"expired": 410, "cancelled": 409, "declined": 409, "failed": 502}


def _ended(invitation: Invitation) -> UserError:
    """The error for an invitation that ended without adding a device."""
    detail = INVITATION_ENDS.get(
        invitation.state, f"The invitation is {clean(invitation.state)}; no device was added."
    )
    status = INVITATION_STATUS.get(invitation.state, 502)
    return UserError(detail, f"invitation-{invitation.state}", status)


def _peer_of(invitation: Invitation) -> InvitationPeer:
    """The device that answered, which a confirming or accepted invitation must name."""
    if invitation.peer is None:
        raise UserError(
            f"The daemon shows the invitation {invitation.state} but names no device.",
            "no-peer",
            502,
        )
    return invitation.peer


def _poll_while(ctx: Context, invitation: Invitation, state: str, deadline: float) -> Invitation:
    """Read the invitation again until it leaves `state`, cancelling it past the deadline."""
    while invitation.state == state:
        if time.monotonic() > deadline:
            with contextlib.suppress(SdkError):
                ctx.client.cancel_invitation(invitation.id)
            raise UserError(
                "Gave up waiting: the invitation should have ended by now, so it was cancelled.",
                "invitation-timeout",
                504,
            )
        time.sleep(POLL_S)
        invitation = ctx.client.invitation(invitation.id)
    return invitation


def _confirm(ctx: Context, question: str) -> bool:
    """Ask a yes/no question on the terminal; no terminal, or no answer, means no."""
    if not ctx.stdin.isatty():
        ctx.tell("No terminal to ask on, so the answer is no (--yes adds it without asking).")
        return False
    stream = ctx.err if ctx.json else ctx.out
    stream.write(question)
    stream.flush()
    answer = ctx.stdin.readline()
    if not answer:  # end of input
        stream.write("\n")
    return answer.strip().casefold() in ("y", "yes")


def _finish_pair(ctx: Context, invitation: Invitation, said: str, status: int) -> int:
    """Print the invitation's outcome: the object under --json, else a line."""
    if ctx.json:
        dump_json(invitation.to_json(with_qr=False), ctx.out)
    else:
        ctx.say(said)
    return status


def _pair(ctx: Context, invitation: Invitation) -> int:
    """Show the invitation, wait for a device, and have the person decide (or not, --yes)."""
    link = clean(invitation.link)
    if ctx.json:
        ctx.tell(f"On the new device, run: twofold join '{link}'")
    else:
        segno.make(invitation.link, error="m").terminal(out=ctx.out, compact=True)
        ctx.tell(f"Scan this QR code with the new device, or run there: twofold join '{link}'")
    expires = invitation.expires_at.astimezone()
    ctx.tell(f"The invitation expires at {expires:%H:%M}. Waiting for the new device...")
    left = (invitation.expires_at - datetime.now(UTC)).total_seconds()
    deadline = time.monotonic() + max(left, 0.0) + PAIR_GRACE_S

    invitation = _poll_while(ctx, invitation, "open", deadline)
    if invitation.state not in ("confirming", "accepted"):
        raise _ended(invitation)
    peer = _peer_of(invitation)
    name = clean(peer.name)
    ctx.tell(
        f"{name} ({clean(peer.device)}) wants to join. "
        f"Check that it shows the code: {group_code(clean(peer.code))}"
    )
    if ctx.args.yes:  # the daemon accepts by itself
        invitation = _poll_while(ctx, invitation, "confirming", deadline)
    elif invitation.state == "confirming":
        if _confirm(ctx, "Add it to this vault? [y/N] "):
            invitation = ctx.client.accept_invitation(invitation.id)
        else:
            invitation = ctx.client.decline_invitation(invitation.id)
            return _finish_pair(ctx, invitation, "Declined.", 1)
    if invitation.state != "accepted":
        raise _ended(invitation)
    return _finish_pair(ctx, invitation, f"Added {name}.", 0)


def cmd_pair(ctx: Context) -> int:
    """Invite a device into this vault: QR code and link, then confirm the code it shows."""
    invitation = ctx.client.open_invitation(ctx.args.ttl, accept=ctx.args.yes)
    try:
        return _pair(ctx, invitation)
    except KeyboardInterrupt:
        with contextlib.suppress(SdkError):
            ctx.client.cancel_invitation(invitation.id)
        ctx.tell("\nCancelled the invitation.")
        return 130


def cmd_join(ctx: Context) -> int:
    """Join the vault of the device that shows an invitation link, and wait until done."""
    link = _read_stdin(ctx, "an invitation link") if ctx.args.link == STDIN else ctx.args.link
    joining = ctx.client.join(link)
    deadline = time.monotonic() + JOIN_TIMEOUT_S
    told: set[str] = set()
    while joining.state != "joined":
        _tell_join(ctx, joining, told)
        if joining.state == "declined":
            raise UserError("The other device declined.", "join-declined", 403)
        if joining.state == "failed":
            detail = clean(joining.error) if joining.error else "Joining failed."
            raise UserError(detail, "join-failed", 502)
        if time.monotonic() > deadline:
            raise UserError(
                f"Gave up after {JOIN_TIMEOUT_S / 60:g} minutes: the other device did not decide.",
                "join-timeout",
                504,
            )
        time.sleep(POLL_S)
        joining = ctx.client.joining()
    if ctx.json:
        dump_json(joining.to_json(), ctx.out)
        return 0
    count = len(ctx.client.accounts())
    accounts = "1 account is" if count == 1 else f"{count} accounts are"
    ctx.say(f"Joined. {accounts} on this device now.")
    return 0


def _tell_join(ctx: Context, joining: Joining, told: set[str]) -> None:
    """Say, once each, that the other device answered and that it accepted."""
    if joining.state == "confirming" and "confirming" not in told:
        told.add("confirming")
        who = "the other device"
        if joining.peer is not None:
            who = f"{clean(joining.peer.name)} ({clean(joining.peer.device)})"
        ctx.tell(
            f"Joining the vault of {who}. Check that it shows the code: "
            f"{group_code(clean(joining.code))}, and accept there."
        )
    elif joining.state in ("accepted", "syncing") and "accepted" not in told:
        told.add("accepted")
        ctx.tell("Accepted. Copying the vault...")
