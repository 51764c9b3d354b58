"""Building the vault's parts from an opened store key, and taking them down again.

The daemon does this once at start in the keyring and file modes, and at every unlock
in passphrase mode; taking down is what locking and stopping share.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from . import config as config_module
from .discovery import Discovery
from .door import Parts
from .events import EventBus
from .home import Home
from .key_upkeep import KeyUpkeep
from .keystore import StoreKey
from .limits import Limits
from .pairing_service import Pairing
from .peers import Peers
from .reach import where_to_dial
from .storage import Storage
from .tls import DeviceTls
from .transfer import Transfers
from .vault_service import VaultService

log = logging.getLogger(__name__)
STOP_GRACE_S = 8.0  # a part that will not stop in this long is left to the caller


@dataclass(frozen=True)
class Setup:
    """What every opening of the vault is built from: fixed while the daemon runs."""

    home: Home
    settings: config_module.Config
    limits: Limits
    static: list[tuple[str, int]]
    mdns: bool
    events: EventBus
    clock: Callable[[], float] = time.time  # Unix seconds: invitations' lifetimes


async def assemble(
    setup: Setup, storage: Storage, store_key: StoreKey, check: Callable[[], None]
) -> Parts:
    """Open the vault and start what syncs, pairs and announces it.

    `check` raises to go no further (a stop during start-up); whatever was started by then
    is stopped before the error goes on.
    """
    stops: list[Callable[[], Awaitable[None]]] = []
    try:
        service = await VaultService.open(
            storage, store_key, setup.settings.device_name, events=setup.events
        )
        check()
        upkeep = service.upkeep = KeyUpkeep(service)
        stops.append(upkeep.stop)
        upkeep.poke()  # a restart may find a key to grant or an epoch to start
        tls = DeviceTls.prepare(setup.home, service.vault.device)
        peers = Peers(service, tls)
        service.on_membership_changed(peers.membership_changed)
        stops.append(peers.stop)
        pairing = Pairing(
            service, peers, config_module.advertised(setup.settings), clock=setup.clock
        )
        stops.insert(0, pairing.stop)
        peer_port = await _start_peers(peers, storage, setup)
        check()
        for address in setup.static:
            peers.connect_static(*address)
        discovery: Discovery | None = None
        if setup.mdns and setup.settings.mdns:
            discovery = Discovery(
                peers,
                config_module.advertised(setup.settings),
                list(setup.settings.mdns_interfaces),
            )
            stops.insert(0, discovery.stop)
            await discovery.start()
            pairing.on_joined(discovery.announce)
            service.on_vault_replaced(discovery.announce)
        return Parts(service, peers, pairing, Transfers(service), upkeep, discovery, peer_port)
    except BaseException:
        await take_down(stops)
        raise


async def take_down(stops: list[Callable[[], Awaitable[None]]]) -> None:
    """Stop each part in turn, all within STOP_GRACE_S; one that fails does not keep the rest.

    It does not cancel stray tasks: the daemon's stop does that (runner._wind_down), and a
    lock must not cancel what is not the vault's, such as API requests.
    """
    try:
        async with asyncio.timeout(STOP_GRACE_S):
            for stop in stops:
                try:
                    await stop()
                except Exception:
                    log.exception("while stopping")
    except TimeoutError:
        log.warning("the vault's parts took over %.0f s to stop", STOP_GRACE_S)


async def _start_peers(peers: Peers, storage: Storage, setup: Setup) -> int:
    """Serve peers on the configured port, else the one used last time; dial known members."""
    settings = setup.settings
    saved = await storage.get_meta("peer_port")
    picked = int(saved) if saved else 0
    wanted = settings.peer_port or picked
    try:
        bound = await peers.start(settings.peer_host, wanted, setup.limits)
    except OSError:
        if settings.peer_port and settings.peer_port != picked:
            raise  # a port the person chose: say it is taken rather than move
        bound = await peers.start(settings.peer_host, 0, setup.limits)  # last time's is taken
    await storage.set_meta("peer_port", str(bound).encode())
    if settings.peer_port in (0, picked):  # none chosen, or the one written back last time
        config_module.keep_peer_port(setup.home, settings, bound)
    for device, (host, port) in where_to_dial(
        peers.service.members(),
        peers.service.vault.device.public,
        await storage.peers(),
        peers.contacts,
        setup.static,
    ).items():
        peers.connect(device, host, port, found_by="remembered")
    return bound
