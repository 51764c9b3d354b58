"""twofold pair and twofold join: adding a device to a vault, from either side, by polling.

Either the member shows an invitation (twofold pair) and the new device answers it (twofold
join LINK), or the other way round: the new device shows an offer (twofold join --show) and
the member scans it (twofold pair LINK). Either way both devices then show the same code and
both people decide: on the member, that this is the device they mean to add; on the new
device, that this is the vault they mean to join (it names the vault's devices). The device
is added only once both said yes, and nothing of the new device's leaves it before its own.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import segno

from ..sdk import (
    ApiError,
    Invitation,
    Joining,
    JoiningBrought,
    JoiningPeer,
    JoiningVault,
    SdkError,
)
from .commands import STDIN, Context, UserError, _read_stdin
from .output import clean, dump_json, group_code
from .prompts import confirm

POLL_S = 0.2
"""Seconds between two reads of an invitation or a join."""
PAIR_GRACE_S = 60.0
"""How long after its expiry an invitation (or an offer) may still be unanswered before pair
(or join --show) gives up."""
JOIN_TIMEOUT_S = 11 * 60.0
"""How long to wait for the people to decide once both devices show the code (the daemon
gives them 10 minutes), and for join to get that far or to copy the vault."""
SCAN_TIMEOUT_S = 3 * 60.0
"""How long pair LINK waits for its daemon to reach the device of the link (15 s an
address)."""
OTHER_DECLINED = "the other device"  # declined_by of a pairing the other side declined
"""The daemon's error for a pairing that the other device's person declined."""

INVITATION_ENDS = {
    "expired": ("The invitation expired; open a new one with: twofold pair", 410),
    "cancelled": ("The invitation was cancelled.", 409),
    "declined": ("The device was declined.", 409),
    "failed": (
        "Pairing with the device that answered failed; open a new invitation with: twofold pair",
        502,
    ),
}
PAIRING_ENDS = {
    "cancelled": ("Adding the device was cancelled.", 409),
    "declined": ("The device was declined.", 409),
    "failed": ("Adding the device failed.", 502),
}
Progress = Invitation | Joining
"""What pair follows: the invitation it shows, or the pairing of the offer it scanned."""


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


def _who(peer: JoiningPeer | None, nobody: str) -> str:
    """The other device as a person checks it, 'name (device ID)', or `nobody` if unnamed."""
    return nobody if peer is None else f"{clean(peer.name)} ({clean(peer.device)})"


# -- pair: this device is the member, adding the device that answered ----------------------


@dataclass
class _Adding:
    """pair's side of a pairing, either way round: how to read and decide it, and give up."""

    kind: str  # "invitation" or "pair": what the problem types start with
    read: Callable[[], Progress]
    accept: Callable[[], Progress]
    decline: Callable[[], Progress]
    give_up: Callable[[], UserError]
    deadline: float
    last: Progress

    def poll(self, *states: str) -> Progress:
        """Read again until the pairing leaves `states`, giving up past the deadline."""
        while self.last.state in states:
            if time.monotonic() > self.deadline:
                raise self.give_up()
            time.sleep(POLL_S)
            self.last = self.read()
        return self.last

    def decide(self, step: Callable[[], Progress]) -> bool:
        """Send this side's answer; False if the pairing ended meanwhile (read again)."""
        try:
            self.last = step()
        except ApiError:
            self.last = self.read()
            if self.last.state == "confirming":
                raise
            return False
        return True


def _peer(item: Progress) -> tuple[str, str, str] | None:
    """The answering device's name, ID and code, once the exchange checked out."""
    if isinstance(item, Invitation):
        p = item.peer
        return None if p is None else (p.name, p.device, p.code)
    return None if item.peer is None else (item.peer.name, item.peer.device, item.code or "")


def _to_json(item: Progress) -> dict[str, Any]:
    return item.to_json(with_qr=False) if isinstance(item, Invitation) else item.to_json()


def _ended(item: Progress, kind: str, name: str) -> UserError:
    """The error for a pairing that ended without adding the device."""
    state = clean(item.state)
    if item.state == "declined" and item.declined_by == OTHER_DECLINED:
        return UserError(f"{name} declined to join.", f"{kind}-declined", 409)
    ends = INVITATION_ENDS if kind == "invitation" else PAIRING_ENDS
    said, status = ends.get(item.state, (f"The {kind} is {state}; no device was added.", 502))
    detail = clean(item.error) if item.state == "failed" and item.error else said
    return UserError(detail, f"{kind}-{state}", status)


def _add_device(ctx: Context, side: _Adding) -> int:
    """Once a device answered: have this side's person decide (or not, --yes), then wait for
    the new device's person: added, declined there, or failed."""
    item = side.last
    peer = _peer(item)
    name = "The new device" if peer is None else clean(peer[0])
    if item.state not in ("confirming", "waiting", "accepted"):
        raise _ended(item, side.kind, name)
    if peer is None:
        raise UserError(
            f"The daemon shows the {side.kind} {clean(item.state)} but names no device.",
            "no-peer",
            502,
        )
    ctx.tell(
        f"{name} ({clean(peer[1])}) wants to join. "
        f"Check that it shows the code: {group_code(clean(peer[2]))}"
    )
    side.deadline = max(side.deadline, time.monotonic() + JOIN_TIMEOUT_S)
    if item.state == "confirming" and not ctx.args.yes:  # with --yes the daemon says yes
        if not confirm(ctx, "Add it to this vault? [y/N] "):
            if side.decide(side.decline):
                return _finish_pair(ctx, _to_json(side.last), "Declined.", 1)
            raise _ended(side.last, side.kind, name)
        side.decide(side.accept)
    told = False
    while side.last.state in ("confirming", "waiting"):
        if side.last.state == "waiting" and not told:
            told = True
            ctx.tell(f"Waiting for {name} to confirm on its side...")
        side.poll(side.last.state)
    item = side.last
    if item.state != "accepted":
        raise _ended(item, side.kind, name)
    if item.error:  # added, but the new device may not have heard so
        ctx.tell(f"Warning: {clean(item.error)}")
    return _finish_pair(ctx, _to_json(item), f"Added {name}.", 0)


def _pair(ctx: Context, side: _Adding, invitation: Invitation) -> int:
    """Show the invitation, wait for a device, then add it if both people say yes."""
    link = clean(invitation.link)
    side.deadline = _show(
        ctx,
        invitation,
        f"On the new device, run: twofold join '{link}'",
        f"Scan this QR code with the new device, or run there: twofold join '{link}'",
        "The invitation expires at {at}. Waiting for the new device...",
    )
    side.poll("open")
    return _add_device(ctx, side)


def _pair_link(ctx: Context) -> int:
    """pair LINK: add the device showing this offer link (twofold join --show) to this vault."""
    if ctx.args.ttl is not None:
        ctx.parser.error("--ttl sets how long an invitation stays open: not with a LINK")
    link = _read_stdin(ctx, "an offer link") if ctx.args.link == STDIN else ctx.args.link
    client = ctx.client

    def give_up() -> UserError:
        return UserError(
            "Gave up waiting: the device of the link was not added.", "pair-timeout", 504
        )

    side = _Adding(
        "pair",
        client.pairing,
        client.accept_pairing,
        client.decline_pairing,
        give_up,
        time.monotonic() + SCAN_TIMEOUT_S,
        client.pair(link, accept=ctx.args.yes),
    )
    try:
        side.poll("connecting")
        return _add_device(ctx, side)
    except KeyboardInterrupt:
        said = "\nStopped waiting."
        if side.last.state == "confirming" and not ctx.args.yes:
            with contextlib.suppress(SdkError):
                if client.decline_pairing().state == "declined":
                    said = "\nDeclined the device."
        elif side.last.state == "waiting":  # there is no taking a yes back
            said = "\nStopped waiting: the device is added if its person accepts."
        ctx.tell(said)
        return 130


def cmd_pair(ctx: Context) -> int:
    """Invite a device into this vault: QR code and link, then confirm the code it shows;
    or, given the LINK a new device shows, add that device."""
    if ctx.args.link is not None:
        return _pair_link(ctx)
    client = ctx.client
    invitation = client.open_invitation(ctx.args.ttl, accept=ctx.args.yes)
    key = invitation.id

    def give_up() -> UserError:
        with contextlib.suppress(SdkError):
            client.cancel_invitation(key)
        return UserError(
            "Gave up waiting: the invitation should have ended by now, so it was cancelled.",
            "invitation-timeout",
            504,
        )

    side = _Adding(
        "invitation",
        lambda: client.invitation(key),
        lambda: client.accept_invitation(key),
        lambda: client.decline_invitation(key),
        give_up,
        0.0,
        invitation,
    )
    try:
        return _pair(ctx, side, invitation)
    except KeyboardInterrupt:
        said = "\nStopped waiting."
        with contextlib.suppress(SdkError):
            if client.cancel_invitation(key).state == "cancelled":
                said = "\nCancelled the invitation."
        ctx.tell(said)
        return 130


# -- join: this device is the new one, joining the vault of the device that answered -------


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
    joining = ctx.client.join(link, accept=ctx.args.yes)

    def give_up() -> UserError:
        return UserError(
            f"Gave up after {JOIN_TIMEOUT_S / 60:g} minutes: the other device did not decide.",
            "join-timeout",
            504,
        )

    follow = _Join(ctx, None, time.monotonic() + JOIN_TIMEOUT_S, give_up, joining)
    return follow.run()


def _join_shown(ctx: Context) -> int:
    """join --show: offer a link and QR code, wait for a member to scan it, then decide."""
    offer = ctx.client.open_offer(ctx.args.ttl, accept=ctx.args.yes)
    link = clean(offer.link)

    def give_up() -> UserError:
        with contextlib.suppress(SdkError):
            ctx.client.cancel_invitation(offer.id)
        return UserError(
            "Gave up waiting: the offer should have ended by now, so it was cancelled.",
            "offer-timeout",
            504,
        )

    showing = Joining(state="showing", code=None, peer=None, vault=None, error=None)
    follow = _Join(ctx, offer, 0.0, give_up, showing)
    try:
        follow.deadline = _show(
            ctx,
            offer,
            f"On a device of the vault, run: twofold pair '{link}'",
            f"On a device of the vault, run: twofold pair '{link}' (or scan this QR code)",
            "The offer expires at {at}. Waiting for a device of the vault...",
        )
    except KeyboardInterrupt:
        return follow.interrupted()
    return follow.run()


def _devices(vault: JoiningVault | None) -> str:
    """', whose devices are laptop, phone': the vault as its member describes it."""
    if vault is None or not vault.devices:
        return ""
    if len(vault.devices) == 1:
        return f", whose only device is {clean(vault.devices[0])}"
    return f", whose devices are {', '.join(clean(d) for d in vault.devices)}"


def _question(accounts: int, trashed: int = 0) -> str:
    """The question before joining, which says what goes along: the trash too, as the
    report after counts it."""
    total = accounts + trashed
    if total == 0:
        going = "This device has no accounts to bring along."
    elif total == 1:
        going = "This device's 1 account goes along"
    else:
        going = f"This device's {total} accounts go along"
    if trashed:
        going += f" ({'it is' if total == 1 else f'{trashed} of them'} in its trash)"
    if total:
        going += "."
    return f"Join this vault? {going} [y/N] "


@dataclass
class _Join:
    """Following this device's join, by a link or by the offer it shows, until it joined."""

    ctx: Context
    offer: Invitation | None  # join --show: the offer this device shows
    deadline: float
    give_up: Callable[[], UserError]
    last: Joining
    decided: bool = False  # this device's person answered here

    def __post_init__(self) -> None:
        self.told: set[str] = set()  # what was said already
        self.seen: set[str] = set()  # the states read so far

    @property
    def name(self) -> str:
        """The other device's name, as its person knows it."""
        return "the other device" if self.last.peer is None else clean(self.last.peer.name)

    def run(self) -> int:
        """Read the join until this device joined; say how it goes; refused or failed: exit 1."""
        try:
            return self._follow()
        except KeyboardInterrupt:
            return self.interrupted()

    def _follow(self) -> int:
        ctx = self.ctx
        while self.last.state != "joined":
            self._tell()
            state = self.last.state
            if state == "confirming" and not ctx.args.yes and not self.decided:
                self._decide()
                continue
            self._check_end()
            if state in ("confirming", "syncing") and state not in self.seen:
                # the people get their time from here, and so does copying the vault
                self.deadline = max(self.deadline, time.monotonic() + JOIN_TIMEOUT_S)
            self.seen.add(state)
            if time.monotonic() > self.deadline:
                raise self.give_up()
            time.sleep(POLL_S)
            self.last = ctx.client.joining()
        self._tell()
        if ctx.json:
            dump_json(self.last.to_json(), ctx.out)
            return 0
        count = len(ctx.client.accounts())
        accounts = "1 account is" if count == 1 else f"{count} accounts are"
        ctx.say(f"Joined. {accounts} on this device now{_already(self.last.brought)}.")
        return 0

    def _tell(self) -> None:
        """Say, once each, who is asking this device in and what, and how it goes; who it
        was also when the join went past confirming between two reads (with --yes)."""
        joining, told = self.last, self.told
        later = joining.state in ("waiting", "accepted", "syncing", "joined")
        if "asked" not in told and (
            joining.state == "confirming" or (later and joining.peer is not None)
        ):
            told.add("asked")
            code = group_code(clean(joining.code))
            devices = _devices(joining.vault)
            if self.offer is not None:  # a member scanned this device's offer
                who = _who(joining.peer, "A device of the vault")
                self.ctx.tell(
                    f"{who} is adding this device to its vault{devices}. "
                    f"Check that it shows the code: {code}"
                )
            else:
                who = _who(joining.peer, "the other device")
                self.ctx.tell(f"Joining the vault of {who}{devices}.")
                self.ctx.tell(f"Check that {self.name} shows the code: {code}.")
        if joining.state == "waiting" and "waited" not in told:
            told.add("waited")
            self.ctx.tell(f"Waiting for {self.name} to add this device...")
        if joining.state in ("accepted", "syncing") and "accepted" not in told:
            told.add("accepted")
            self.ctx.tell("Accepted. Copying the vault...")

    def _decide(self) -> None:
        """Ask this device's person, who checked the code and the vault, and tell the daemon."""
        client = self.ctx.client
        question = _question(len(client.accounts()), len(client.trash()))
        if not confirm(self.ctx, question, "joins"):
            self._answer(client.decline_join)
            if self.last.state != "declined" or self.last.declined_by == OTHER_DECLINED:
                self._check_end()
                raise UserError(
                    f"Could not decline: joining is {clean(self.last.state)} already.",
                    "join-not-declined",
                    409,
                )
            raise UserError("Declined: nothing was sent.", "join-declined", 409)
        self._answer(client.accept_join)

    def _answer(self, step: Callable[[], Joining]) -> None:
        """Send this device's answer; if the join ended meanwhile, read how."""
        self.decided = True
        try:
            self.last = step()
        except ApiError:
            self.last = self.ctx.client.joining()
            if self.last.state == "confirming":
                raise

    def _check_end(self) -> None:
        """Raise the error of a join that ended without this device joining."""
        joining, name = self.last, self.name
        shown = self.offer is not None
        if joining.state == "declined":
            if joining.declined_by == OTHER_DECLINED:
                raise UserError(
                    f"{name} declined: this device did not join, and nothing was sent.",
                    "join-refused",
                    403,
                )
            raise UserError("Declined on this device: nothing was sent.", "join-declined", 409)
        if joining.state == "failed":
            detail = clean(joining.error) if joining.error else "Joining failed."
            raise UserError(detail, "join-failed", 502)
        if joining.state == "cancelled":
            what = "offer" if shown else "join"
            raise UserError(f"The {what} was cancelled.", "join-cancelled", 409)
        if joining.state == "expired":
            raise UserError(
                "The offer expired; show a new one with: twofold join --show", "offer-expired", 410
            )

    def interrupted(self) -> int:
        """Ctrl-C: while either person is deciding, decline (a yes given here is taken back),
        so nothing is sent; cancel an offer or a join nobody answered yet; once both accepted,
        leave the daemon to copy the vault."""
        client, state = self.ctx.client, self.last.state
        said = "\nStopped waiting."
        with contextlib.suppress(SdkError):
            if state in ("confirming", "waiting"):
                if client.decline_join().state == "declined":
                    said = "\nDeclined: nothing was sent."
            elif self.offer is not None and state in ("showing", "open"):
                if client.cancel_invitation(self.offer.id).state == "cancelled":
                    said = "\nCancelled the offer."
            elif state == "connecting":
                if client.cancel_join().state == "cancelled":
                    said = "\nStopped joining: nothing was sent."
            elif state in ("accepted", "syncing"):
                said = "\nStopped waiting: the vault is still being copied."
        self.ctx.tell(said)
        return 130


def _already(brought: JoiningBrought | None) -> str:
    """How many of this device's accounts the vault held already, for the joined line:
    "; 3 of this device's were already in the vault (1 in its trash: twofold trash)"."""
    if brought is None or not brought.already_there:
        return ""
    n = brought.already_there
    said = f"; {n} of this device's {'was' if n == 1 else 'were'} already in the vault"
    if brought.in_trash:
        said += f" ({brought.in_trash} in its trash: see twofold trash)"
    return said
