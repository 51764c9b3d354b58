"""The vault's door: the parts that hold its keys exist only while it is open.

The local API outlives them. In passphrase mode the daemon starts with the door shut:
the API answers its status, the page and the unlock, and every route that reads or
writes the vault answers 423 `locked`. Opening builds the parts (the vault service and
what syncs, pairs and moves files for it); shutting drops them, with every key and
decrypted account they held. In the other modes the door opens once, at start.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .discovery import Discovery
from .errors import Locked
from .events import EventBus
from .key_upkeep import KeyUpkeep
from .pairing_service import Pairing
from .peers import Peers
from .transfer import Transfers
from .vault_service import VaultService


@dataclass(frozen=True)
class Parts:
    """What exists while the door is open."""

    service: VaultService
    peers: Peers
    pairing: Pairing
    transfers: Transfers
    upkeep: KeyUpkeep
    discovery: Discovery | None
    peer_port: int

    def stops(self) -> list[Callable[[], Awaitable[None]]]:
        """How each running part is stopped, in the order to stop them; last, the TLS key
        file goes (useless without the password the peers held, but not left behind)."""
        running = (self.discovery, self.pairing, self.upkeep, self.peers)

        async def remove_key_file() -> None:
            self.peers.tls.remove_key_file()

        return [*(part.stop for part in running if part is not None), remove_key_file]


class Door:
    """Open (with its parts) or shut; the event bus stays, so the page hears both."""

    def __init__(self, events: EventBus) -> None:
        self.events = events
        self._parts: Parts | None = None

    @property
    def is_open(self) -> bool:
        """Whether the vault's parts exist now."""
        return self._parts is not None

    def parts(self) -> Parts:
        """The parts, or Locked."""
        if self._parts is None:
            raise Locked
        return self._parts

    def opened(self, parts: Parts) -> None:
        """The parts were built: from now on routes reach them."""
        self._parts = parts

    def shut(self) -> Parts | None:
        """Routes no longer reach the parts; the caller stops them. The parts it had."""
        parts, self._parts = self._parts, None
        return parts
