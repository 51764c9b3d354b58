"""twofold pair and twofold join: adding a device to a vault, from either side, by polling.

Either the member shows an invitation (twofold pair) and the new device answers it (twofold
join LINK), or the other way round: the new device shows an offer (twofold join --show) and
the member scans it (twofold pair LINK)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import segno

from ..sdk import Invitation, InvitationPeer, Joining, JoiningPeer, SdkError
from .commands import STDIN, Context, UserError, _read_stdin
from .output import clean, dump_json, group_code
from .prompts import confirm

POLL_S = 0.2
"""Seconds between two reads of an invitation or a join."""
PAIR_GRACE_S = 60.0
"""How long after its expiry an invitation (or an offer) may still be undecided before pair
(or join --show) gives up."""
JOIN_TIMEOUT_S = 11 * 60.0
"""How long join waits for the other device's person (the daemon waits 10 minutes)."""
SCAN_TIMEOUT_S = 3 * 60.0
"""How long pair LINK waits for its daemon to reach the device of the link (15 s an address)
and, with --yes, to add it."""

INVITATION_ENDS = {
    "expired": "The invitation expired; open a new one with: twofold pair",
    "cancelled": "The invitation was cancelled.",
    "declined": "The device was declined.",
    "failed": (
        "Pairing with the device that answered failed; open a new invitation with: twofold pair"
    ),
}
INVITATION_STATUS = {"expired": 410, "cancelled": 409, "declined": 409, "failed": 502}
PAIRING_ENDS = {
    "declined": ("The device was declined.", 409),
    "failed": ("Adding the device failed.", 502),
}


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


def _finish_pair(ctx: Context, body: dict[str, Any], said: str, status: int) -> int:
    """Print the outcome: the invitation (or pairing) object under --json, else a line."""
    if ctx.json:
        dump_json(body, ctx.out)
    else:
        ctx.say(said)
    return status


def _show(ctx: Context, shown: Invitation, with_json: str, with_qr: str, waiting: str) -> float:
    """Show a link (and its QR code, unless --json) and the wait; when to stop waiting."""
    if ctx.json:
        ctx.tell(with_json)
    else:
        segno.make(shown.link, error="m").terminal(out=ctx.out, compact=True)
        ctx.tell(with_qr)
    ctx.tell(waiting.format(at=f"{shown.expires_at.astimezone():%H:%M}"))
    left = (shown.expires_at - datetime.now(UTC)).total_seconds()
    return time.monotonic() + max(left, 0.0) + PAIR_GRACE_S


def _pair(ctx: Context, invitation: Invitation) -> int:
    """Show the invitation, wait for a device, and have the person decide (or not, --yes)."""
    link = clean(invitation.link)
    deadline = _show(
        ctx,
        invitation,
        f"On the new device, run: twofold join '{link}'",
        f"Scan this QR code with the new device, or run there: twofold join '{link}'",
        "The invitation expires at {at}. Waiting for the new device...",
    )

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
        if confirm(ctx, "Add it to this vault? [y/N] "):
            invitation = ctx.client.accept_invitation(invitation.id)
        else:
            invitation = ctx.client.decline_invitation(invitation.id)
            return _finish_pair(ctx, invitation.to_json(with_qr=False), "Declined.", 1)
    if invitation.state != "accepted":
        raise _ended(invitation)
    return _finish_pair(ctx, invitation.to_json(with_qr=False), f"Added {name}.", 0)


def _who(peer: JoiningPeer | None, nobody: str) -> str:
    """The other device as a person checks it, 'name (device ID)', or `nobody` if unnamed."""
    return nobody if peer is None else f"{clean(peer.name)} ({clean(peer.device)})"


def _pairing_ended(pairing: Joining) -> UserError:
    """The error for a pairing (pair LINK) that ended without adding the device."""
    said, status = PAIRING_ENDS.get(
        pairing.state, (f"The pairing is {clean(pairing.state)}; no device was added.", 502)
    )
    detail = clean(pairing.error) if pairing.error else said
    return UserError(detail, f"pair-{clean(pairing.state)}", status)


def _poll_pairing(ctx: Context, pairing: Joining, state: str, deadline: float) -> Joining:
    """Read the pairing again until it leaves `state`, giving up past the deadline."""
    while pairing.state == state:
        if time.monotonic() > deadline:
            raise UserError(
                f"Gave up after {SCAN_TIMEOUT_S / 60:g} minutes: "
                "the device of the link was not added.",
                "pair-timeout",
                504,
            )
        time.sleep(POLL_S)
        pairing = ctx.client.pairing()
    return pairing


def _add_scanned(ctx: Context, pairing: Joining) -> int:
    """Wait until the device of the offer answers, and have the person decide (or not, --yes)."""
    deadline = time.monotonic() + SCAN_TIMEOUT_S
    pairing = _poll_pairing(ctx, pairing, "connecting", deadline)
    if pairing.state not in ("confirming", "accepted"):
        raise _pairing_ended(pairing)
    name = "the device" if pairing.peer is None else clean(pairing.peer.name)
    ctx.tell(
        f"{_who(pairing.peer, 'The device of the link')} wants to join. "
        f"Check that it shows the code: {group_code(clean(pairing.code))}"
    )
    if ctx.args.yes:  # the daemon accepts by itself
        pairing = _poll_pairing(ctx, pairing, "confirming", deadline)
    elif pairing.state == "confirming":
        if confirm(ctx, "Add it to this vault? [y/N] "):
            pairing = ctx.client.accept_pairing()
        else:
            pairing = ctx.client.decline_pairing()
            return _finish_pair(ctx, pairing.to_json(), "Declined.", 1)
    if pairing.state != "accepted":
        raise _pairing_ended(pairing)
    if pairing.error:  # added, but the new device may not have heard so
        ctx.tell(f"Warning: {clean(pairing.error)}")
    return _finish_pair(ctx, pairing.to_json(), f"Added {name}.", 0)


def _pair_link(ctx: Context) -> int:
    """pair LINK: add the device showing this offer link (twofold join --show) to this vault."""
    if ctx.args.ttl is not None:
        ctx.parser.error("--ttl sets how long an invitation stays open: not with a LINK")
    link = _read_stdin(ctx, "an offer link") if ctx.args.link == STDIN else ctx.args.link
    pairing = ctx.client.pair(link, accept=ctx.args.yes)
    try:
        return _add_scanned(ctx, pairing)
    except KeyboardInterrupt:
        declined = False
        if not ctx.args.yes:  # with --yes the daemon may be adding it: leave it be
            with contextlib.suppress(SdkError):
                declined = ctx.client.decline_pairing().state == "declined"
        ctx.tell("\nDeclined the device." if declined else "\nStopped waiting.")
        return 130


def cmd_pair(ctx: Context) -> int:
    """Invite a device into this vault: QR code and link, then confirm the code it shows;
    or, given the LINK a new device shows, add that device."""
    if ctx.args.link is not None:
        return _pair_link(ctx)
    invitation = ctx.client.open_invitation(ctx.args.ttl, accept=ctx.args.yes)
    try:
        return _pair(ctx, invitation)
    except KeyboardInterrupt:
        with contextlib.suppress(SdkError):
            ctx.client.cancel_invitation(invitation.id)
        ctx.tell("\nCancelled the invitation.")
        return 130


def cmd_join(ctx: Context) -> int:
    """Join the vault of the device that shows an invitation link, and wait until done; or,
    with --show, show a link for a device of the vault to scan."""
    if ctx.args.show:
        if ctx.args.link is not None:
            ctx.parser.error("give a LINK to join, or --show to show one: not both")
        return _join_shown(ctx)
    if ctx.args.link is None:
        ctx.parser.error("join needs a LINK, '-' to read one from stdin, or --show")
    if ctx.args.ttl is not None:
        ctx.parser.error("--ttl sets how long the offer of --show stays open: not with a LINK")
    link = _read_stdin(ctx, "an invitation link") if ctx.args.link == STDIN else ctx.args.link
    joining = ctx.client.join(link)

    def give_up() -> UserError:
        return UserError(
            f"Gave up after {JOIN_TIMEOUT_S / 60:g} minutes: the other device did not decide.",
            "join-timeout",
            504,
        )

    return _follow_join(ctx, joining, time.monotonic() + JOIN_TIMEOUT_S, give_up, shown=False)


def _join_shown(ctx: Context) -> int:
    """join --show: offer a link and QR code, and wait for a member to scan it and add us."""
    offer = ctx.client.open_offer(ctx.args.ttl)
    try:
        return _await_member(ctx, offer)
    except KeyboardInterrupt:
        with contextlib.suppress(SdkError):
            ctx.client.cancel_invitation(offer.id)
        ctx.tell("\nCancelled the offer.")
        return 130


def _await_member(ctx: Context, offer: Invitation) -> int:
    """Show the offer, then follow the join until a member added this device."""
    link = clean(offer.link)
    deadline = _show(
        ctx,
        offer,
        f"On a device of the vault, run: twofold pair '{link}'",
        f"On a device of the vault, run: twofold pair '{link}' (or scan this QR code)",
        "The offer expires at {at}. Waiting for a device of the vault...",
    )

    def give_up() -> UserError:
        with contextlib.suppress(SdkError):
            ctx.client.cancel_invitation(offer.id)
        return UserError(
            "Gave up waiting: the offer should have ended by now, so it was cancelled.",
            "offer-timeout",
            504,
        )

    showing = Joining(state="showing", code=None, peer=None, error=None)
    return _follow_join(ctx, showing, deadline, give_up, shown=True)


def _follow_join(
    ctx: Context,
    joining: Joining,
    deadline: float,
    give_up: Callable[[], UserError],
    *,
    shown: bool,
) -> int:
    """Read the join until this device joined; say how it goes; declined or failed: exit 1."""
    told: set[str] = set()
    while joining.state != "joined":
        _tell_join(ctx, joining, told, shown=shown)
        if joining.state == "declined":
            raise UserError("The other device declined.", "join-declined", 403)
        if joining.state == "failed":
            detail = clean(joining.error) if joining.error else "Joining failed."
            raise UserError(detail, "join-failed", 502)
        if time.monotonic() > deadline:
            raise give_up()
        time.sleep(POLL_S)
        joining = ctx.client.joining()
    if ctx.json:
        dump_json(joining.to_json(), ctx.out)
        return 0
    count = len(ctx.client.accounts())
    accounts = "1 account is" if count == 1 else f"{count} accounts are"
    ctx.say(f"Joined. {accounts} on this device now.")
    return 0


def _tell_join(ctx: Context, joining: Joining, told: set[str], *, shown: bool) -> None:
    """Say, once each, that the other device answered and that it accepted."""
    if joining.state == "confirming" and "confirming" not in told:
        told.add("confirming")
        code = group_code(clean(joining.code))
        if shown:  # a member scanned this device's offer
            who = _who(joining.peer, "A device of the vault")
            ctx.tell(f"{who} is adding this device. Check that it shows the code: {code}")
        else:
            who = _who(joining.peer, "the other device")
            ctx.tell(
                f"Joining the vault of {who}. "
                f"Check that it shows the code: {code}, and accept there."
            )
    elif joining.state in ("accepted", "syncing") and "accepted" not in told:
        told.add("accepted")
        ctx.tell("Accepted. Copying the vault...")
