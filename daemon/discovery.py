"""Finding the vault's other devices on the local network: mDNS (RFC 6762) and DNS-SD.

Each daemon announces `_twofold._tcp.local.` on its peer port with a TXT record
of the protocol version, its device ID and a vault tag (a MAC of a constant
under the vault's first epoch key: members recognise it, nobody else learns
anything from it), and browses for the same. A device found with our tag
that is a member gets a connection, pinned to its certificate as always;
anything else is ignored. Whether a device is alive is the connection's call
(heartbeats), never mDNS's: a device that vanishes without a goodbye stays in
the cache for over 18 minutes.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket

from zeroconf import InterfaceChoice, IPVersion, ServiceStateChange
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from twofold.protocol.identity import display_id
from twofold.protocol.keywrap import vault_tag

from .peers import Peers

log = logging.getLogger(__name__)

SERVICE_TYPE = "_twofold._tcp.local."
PROTOCOL_VERSION = "1"


class Discovery:
    """The mDNS announcement of this device and the browser for the others."""

    def __init__(self, peers: Peers, addresses: list[str], interfaces: list[str]) -> None:
        self.peers = peers
        self.addresses = addresses
        self.interfaces = interfaces
        self._zc: AsyncZeroconf | None = None
        self._browser: AsyncServiceBrowser | None = None
        self._info: AsyncServiceInfo | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def _tag(self) -> str | None:
        vault = self.peers.service.vault
        epochs = vault.membership.epochs
        key = vault.epoch_keys.get(epochs[0]) if epochs else None
        return None if key is None else vault_tag(key).hex()

    async def start(self) -> None:
        """Announce this device and start browsing."""
        interfaces: list[str | int | tuple[tuple[str, int, int], int]] | InterfaceChoice
        interfaces = list(self.interfaces) if self.interfaces else InterfaceChoice.All
        self._zc = AsyncZeroconf(interfaces=interfaces, ip_version=IPVersion.V4Only)
        await self.announce()
        self._browser = AsyncServiceBrowser(
            self._zc.zeroconf, SERVICE_TYPE, handlers=[self._on_change]
        )

    async def announce(self) -> None:
        """(Re-)register our record, e.g. after joining another vault changed the tag."""
        assert self._zc is not None  # noqa: S101 - started
        if self._info is not None:
            await self._zc.async_unregister_service(self._info)
            self._info = None
        tag = self._tag()
        if tag is None:
            return
        me = self.peers.service.vault.device.public
        self._info = AsyncServiceInfo(
            SERVICE_TYPE,
            f"twofold-{display_id(me).replace('-', '').lower()}.{SERVICE_TYPE}",
            addresses=[ipaddress.ip_address(a).packed for a in self.addresses],
            port=self.peers.port,
            properties={"v": PROTOCOL_VERSION, "id": display_id(me, groups=13), "vt": tag},
        )
        await self._zc.async_register_service(self._info, cooperating_responders=True)

    async def stop(self) -> None:
        """Say goodbye on the network and stop browsing; no lookup outlives this."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        if self._zc is None:
            return
        if self._browser is not None:
            await self._browser.async_cancel()
        with contextlib.suppress(Exception):
            await self._zc.async_unregister_all_services()
        await self._zc.async_close()

    def _on_change(
        self, zeroconf: object, service_type: str, name: str, state_change: ServiceStateChange
    ) -> None:
        if state_change in (ServiceStateChange.Added, ServiceStateChange.Updated):
            task = asyncio.ensure_future(self._resolve(name))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _resolve(self, name: str) -> None:
        assert self._zc is not None  # noqa: S101 - started
        info = AsyncServiceInfo(SERVICE_TYPE, name)
        if not await info.async_request(self._zc.zeroconf, 3000):
            return
        props = {k.decode(): (v or b"").decode() for k, v in info.properties.items()}
        if props.get("v") != PROTOCOL_VERSION or props.get("vt") != self._tag():
            return
        member = next(
            (
                key
                for key in self.peers.service.members()
                if display_id(key, groups=13) == props.get("id")
            ),
            None,
        )
        if member is None or member == self.peers.service.vault.device.public or info.port is None:
            return
        addresses = [socket.inet_ntoa(a) for a in info.addresses if len(a) == 4]
        if not addresses:
            return
        if self.peers.addresses.get(member) == (addresses[0], info.port):
            return
        log.info("found %s at %s:%d by mDNS", display_id(member), addresses[0], info.port)
        self.peers.found(member, addresses[0], info.port)
