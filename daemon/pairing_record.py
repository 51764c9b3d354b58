"""One pairing as the daemon keeps it: the protocol's handshake plus what the daemon did.

The handshake (protocol/pairing.py) knows where the exchange stands; the
daemon adds a few phases of its own around it (expired, cancelled, failed for
a reason the handshake never saw, and the newcomer's syncing and joined).
What the API, the CLI and the page read is one `state` computed from both, so
an invitation that a guesser exhausted reads "failed" everywhere at once.
Every change goes through `act` or `move`, which publish it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Literal, TypeVar

from twofold.protocol.identity import display_id
from twofold.protocol.invitation import Invitation
from twofold.protocol.pairing import FINAL, Decision, Handshake, PairingError, State
from twofold.protocol.vault import certificate_key

Flow = Literal["invitation", "offer", "join", "pair"]
"""invitation: a member shows; offer: a newcomer shows; join: a newcomer scans an invitation;
pair: a member scans an offer."""

T = TypeVar("T")


class Phase(Enum):
    """What the daemon adds to the handshake's state."""

    LIVE = "live"  # the handshake's state says it all
    SYNCING = "syncing"  # newcomer: both accepted; pulling the vault
    JOINED = "joined"  # newcomer: in the vault, its accounts brought along
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    FAILED = "failed"


_LIVE_STATES = {
    State.START: "connecting",
    State.HELLO_SENT: "connecting",
    State.LISTENING: "open",
    State.CONFIRMING: "confirming",
    State.PEER_ACCEPTED: "confirming",
    State.AWAITING_PEER: "waiting",
    State.DECLINED: "declined",
    State.FAILED: "failed",
}
ENDED = frozenset({"accepted", "joined", "declined", "failed", "expired", "cancelled"})


@dataclass(eq=False)
class PairingRecord:
    """One pairing this device takes part in, from either side."""

    flow: Flow
    invitation: Invitation
    handshake: Handshake
    auto_accept: bool
    announce: Callable[[PairingRecord], None] = field(repr=False)
    phase: Phase = Phase.LIVE
    error: str | None = None
    declined_by: str | None = None  # "this device" or "the other device"
    host: str = ""  # where the other device's peer port answers
    port: int = 0  # the other device's peer port, when it is not the invitation's
    hello_mac: bytes | None = None  # the follow-ups of the scanner repeat it
    brought: dict[str, int] | None = None  # newcomer, once joined: VaultService.Brought
    verdict: asyncio.Future[Decision] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future(), repr=False
    )
    timer: asyncio.TimerHandle | None = field(default=None, repr=False)
    _published: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        self._published = self.state

    @property
    def state(self) -> str:
        """What the API says: open, connecting, confirming, waiting, accepted, syncing,
        joined, declined, failed, expired or cancelled."""
        if self.phase is not Phase.LIVE:
            return str(self.phase.value)
        hs = self.handshake
        if hs.state is State.ACCEPTED:
            if hs.role == "newcomer":
                return "syncing"
            return "accepted" if hs.added_op is not None else "waiting"
        return _LIVE_STATES[hs.state]

    @property
    def ended(self) -> bool:
        """Nothing more will happen to this pairing."""
        return self.state in ENDED

    @property
    def peer_device(self) -> str | None:
        """The other device's ID for people, once verified."""
        return (
            display_id(certificate_key(self.handshake.peer_cert))
            if self.handshake.verified
            else None
        )

    def act(self, step: Callable[[Handshake], T]) -> T:
        """Run one handshake step; whatever it changed is published, a refusal included."""
        try:
            return step(self.handshake)
        except PairingError as exc:
            if self.handshake.state is State.FAILED and self.phase is Phase.LIVE:
                self.error = str(exc)
            raise
        finally:
            self._publish()

    def move(self, phase: Phase, error: str | None = None) -> None:
        """The daemon's part: expiry, cancelling, a failure, syncing, joined."""
        if self.ended and phase is not Phase.JOINED:
            return
        if phase in (Phase.EXPIRED, Phase.CANCELLED, Phase.FAILED):
            self.handshake.abandon()
            if not self.verdict.done():
                self.verdict.set_result(Decision(False))
        if self.timer is not None and phase is not Phase.SYNCING:
            self.timer.cancel()
        self.phase = phase
        if error is not None:
            self.error = error
        self._publish()

    def settle(self) -> None:
        """Publish a change made to the handshake outside `act`, and end timers of a final one."""
        if self.handshake.state in FINAL and self.timer is not None:
            self.timer.cancel()
        self._publish()

    def _publish(self) -> None:
        state = self.state
        if state != self._published:
            self._published = state
            self.announce(self)
