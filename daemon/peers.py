"""The peer side of the daemon: a mutual-TLS server, and connections out to known members.

Every device runs a peer server on its own port. A WebSocket on
/peer/v1/sync carries one SyncSession; it is served only to a client whose
certificate is a current member's (checked on the request, since OpenSSL
cannot forget a certificate it once trusted). Outgoing, the daemon keeps one
connection to each member whose address it knows, pinned to that member's
certificate, and reconnects with capped exponential backoff and jitter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import aiohttp
from aiohttp import web

from twofold.protocol.certificate import fingerprint
from twofold.protocol.errors import OpRefused
from twofold.protocol.identity import display_id

from .errors import PeerRefused, PeerUnreachable
from .limits import Limits
from .listener import Gate
from .peer_errors import someone_else_answered, talking_to
from .storage import Contact
from .sync import SyncSession
from .tls import DeviceTls, peer_certificate, trust
from .vault_service import VaultService

log = logging.getLogger(__name__)

HEARTBEAT_S = 1.0
BACKOFF_MIN_S = 0.2
BACKOFF_MAX_S = 1.0
MAX_TRYING = 3  # mDNS-found addresses dialled beside a member's own, per member
STOP_WAIT_S = 5.0  # how long stop() waits for cancelled dialers before it goes on
# A device out of its vault stops syncing, but a removal can be undone by ops it has not seen
# (a revoked thief's forged removal of a bystander): it knocks this rarely, once per session,
# to hand over what it holds and hear whether it is back.
OUT_KNOCK_S = 600.0
# What is remembered of a connected peer (last seen, last sync, what it holds) is written when
# its session starts and ends, and at most this often in between: never per heartbeat.
REMEMBER_S = 60.0
# A dial to a host whose cable is out would otherwise wait on SYN retries for
# minutes, and the first retry after the cable is back can be many seconds away.
_DIAL_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=1.0)
SERVICE: web.AppKey[VaultService] = web.AppKey("peer-service", VaultService)


@dataclass
class PeerInfo:
    """What this device knows of one other member's reachability."""

    address: tuple[str, int] | None = None
    found_by: str = "incoming"  # pairing, static, mdns, incoming, remembered


# Where a session's peer was reached: (host, port or None for a port it connected from), how.
Via = tuple[tuple[str, int | None], str]


class WebSocketChannel:
    """Either end of a peer WebSocket as a sync Channel: binary frames are messages."""

    def __init__(self, ws: web.WebSocketResponse | aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def close(self) -> None:
        """End the session from this side."""
        await self.ws.close()

    async def send(self, data: bytes) -> None:
        await self.ws.send_bytes(data)

    async def receive(self) -> bytes | None:
        msg = await self.ws.receive()
        return msg.data if msg.type is aiohttp.WSMsgType.BINARY else None


def member_for(service: VaultService, cert: bytes | None) -> bytes | None:
    """The current member whose exact certificate this is."""
    if cert is None:
        return None
    for key, member in service.members().items():
        if member.cert == cert:
            return key
    return None


def removed_for(service: VaultService, cert: bytes | None) -> bytes | None:
    """The removed device whose exact certificate this is."""
    devices = service.devices()
    for key in service.removed():
        member = devices.get(key)
        if cert is not None and member is not None and member.cert == cert:
            return key
    return None


def out_of_vault(service: VaultService) -> bool:
    """This device was removed, or its vault closed: it has no one to sync with."""
    return service.out_of_vault()


class Peers:
    """The peer server, the outgoing connections, and the sessions both carry."""

    def __init__(self, service: VaultService, tls: DeviceTls) -> None:
        self.service = service
        self.tls = tls
        self.addresses: dict[bytes, tuple[str, int]] = {}
        self.known: dict[bytes, PeerInfo] = {}
        # What is remembered of each member across restarts (storage's contacts), offline or not.
        self.contacts: dict[bytes, Contact] = {}
        self._saved: dict[bytes, float] = {}  # when each contact was last written
        self.sessions: dict[bytes, set[SyncSession]] = {}
        self.static: list[tuple[str, int]] = []
        self._extra_routes: list[Callable[[web.Application], None]] = []
        self._server_ctx = tls.server_context(self._known_certs())
        self._trusted = set(self._known_certs())
        self._dialers: dict[bytes, asyncio.Task[None]] = {}
        # Addresses mDNS gave for a member that has a dialer already, each dialled beside it
        # until it proves itself (the member answers there) or fails the pin.
        self._trying: dict[bytes, dict[tuple[str, int], asyncio.Task[None]]] = {}
        self._bootstrap: dict[bytes, bytes] = {}
        self._caught_up: dict[bytes, asyncio.Event] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._stopping = False  # stop() began: no dialer starts or dials again
        self._out = out_of_vault(service)
        self._runner: web.AppRunner | None = None
        self._gate: Gate | None = None
        self.port = 0

    def _known_certs(self) -> list[bytes]:
        """Members and removed devices: TLS lets both in, so a removed one can be told."""
        return [m.cert for m in self.service.devices().values()]

    async def start(self, host: str, port: int, limits: Limits | None = None) -> int:
        """Serve on host:port (0 = a free port); the port bound.

        Connections come through a Gate (daemon/listener.py): capped before TLS starts,
        a handshake deadline, header and body deadlines, and at most `per_member`
        connections of each member device, known by its certificate.
        """
        limits = limits or Limits()
        self.contacts = await self.service.storage.contacts()
        self._gate = Gate(
            limits,
            name="peer port",
            ssl_context=self._server_ctx,
            identify=self._device_with,
        )
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.middlewares.insert(0, self._gate.middleware)
        app[SERVICE] = self.service
        app.router.add_get("/peer/v1/sync", self._serve_sync)
        for add in self._extra_routes:
            add(app)
        self._runner = web.AppRunner(
            app, access_log=None, shutdown_timeout=2.0, keepalive_timeout=limits.idle_s
        )
        await self._runner.setup()
        site = self._gate.site(self._runner, host, port, backlog=512)
        await site.start()
        self.port = site.port
        return self.port

    def _device_with(self, cert: bytes) -> bytes | None:
        """The member, or removed device, whose certificate a peer presented: what it counts as."""
        return member_for(self.service, cert) or removed_for(self.service, cert)

    async def stop(self) -> None:
        """Close every connection and the server; every dialer and closer ends, whatever comes.

        Dialers are cancelled and, from here on, none starts and none dials again, so a
        dialer whose session ended just as it was cancelled cannot go on redialling.
        """
        self._stopping = True
        dialers = [
            *self._dialers.values(),
            *(task for tries in self._trying.values() for task in tries.values()),
            *self._closing,
        ]
        self._dialers.clear()
        self._trying.clear()
        for task in dialers:
            task.cancel()
        if dialers:
            _, stuck = await asyncio.wait(dialers, timeout=STOP_WAIT_S)
            if stuck:
                log.warning("%d peer connections did not end when told to", len(stuck))
        channels = [
            s.channel
            for sessions in self.sessions.values()
            for s in sessions
            if isinstance(s.channel, WebSocketChannel)
        ]
        if channels:  # incoming sessions: say goodbye rather than wait for the peers to
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2):
                    await asyncio.gather(*(c.close() for c in channels), return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()

    def connect(
        self,
        peer: bytes,
        host: str,
        port: int,
        cert: bytes | None = None,
        found_by: str = "pairing",
    ) -> None:
        """Keep a connection to this member at this address (replacing an older one).

        `cert` pins a member this device does not know yet: the one it just joined through.
        """
        self._stop_trying(peer)
        self.addresses[peer] = (host, port)
        self.known[peer] = PeerInfo((host, port), found_by)
        if cert is not None:
            self._bootstrap[peer] = cert
        old = self._dialers.pop(peer, None)
        if old is not None:
            old.cancel()
        if not self._stopping:
            self._dialers[peer] = asyncio.create_task(self._dial_forever(peer))

    def found(self, peer: bytes, host: str, port: int) -> None:
        """mDNS says this member is at host:port. Records travel in the clear, so anyone on
        the LAN can announce a copy of a member's at their own address: a member this device
        dials already is dialled there too, beside the address it has, not instead of it."""
        if peer in self._dialers:
            self._try_beside(peer, (host, port))
        else:
            self.connect(peer, host, port, found_by="mdns")

    def _try_beside(self, peer: bytes, where: tuple[str, int]) -> None:
        """Dial an address mDNS gave beside the member's dialer; at most a few per member,
        the newest kept."""
        tries = self._trying.setdefault(peer, {})
        if where == self.addresses.get(peer) or where in tries or self._stopping:
            return
        while len(tries) >= MAX_TRYING:
            tries.pop(next(iter(tries))).cancel()
        tries[where] = asyncio.create_task(self._dial_candidate(peer, where))

    def _stop_trying(self, peer: bytes) -> None:
        for task in self._trying.pop(peer, {}).values():
            task.cancel()

    async def _dial_candidate(self, peer: bytes, where: tuple[str, int]) -> None:
        """Dial an mDNS-found address of a member until the member answers there (then it
        becomes the member's address, `_proven`, and this task its dialer from then on) or
        someone else does (then it is dropped)."""

        def target() -> tuple[str, int, dict[bytes, bytes]] | None:
            member = self.service.members().get(peer)
            if member is None or where not in self._trying.get(peer, {}):
                return None
            return *where, {member.cert: peer}

        try:
            await self._redial(target, None, give_up_when_refused=True)
        finally:
            tries = self._trying.get(peer, {})
            if tries.get(where) is asyncio.current_task():
                del tries[where]
        if self._dialers.get(peer) is asyncio.current_task():  # proven: the member's dialer now
            await self._dial_forever(peer)

    def _proven(self, peer: bytes, where: tuple[str, int]) -> None:
        """The member answered at an address mDNS gave: it is where this device dials it now,
        and the dialer of the old address stops."""
        tries = self._trying.get(peer, {})
        if where not in tries:
            return
        task = tries.pop(where)
        if task is not asyncio.current_task():  # another dialer (a static one) reached it there
            task.cancel()
            return
        log.info("reached %s at %s:%d, found by mDNS", display_id(peer), *where)
        old = self._dialers.pop(peer, None)
        self._dialers[peer] = task
        self.addresses[peer] = where
        self.known[peer] = PeerInfo(where, "mdns")
        if old is not None:
            old.cancel()

    def connect_static(self, host: str, port: int) -> None:
        """Keep a connection to whichever member answers at host:port (a VPN address, say)."""
        self.static.append((host, port))
        self._start_static(host, port)

    def _start_static(self, host: str, port: int) -> None:
        key = f"static:{host}:{port}".encode()
        old = self._dialers.pop(key, None)
        if old is not None:
            old.cancel()
        if not self._stopping:
            self._dialers[key] = asyncio.create_task(self._dial_static(host, port))

    async def _dial_static(self, host: str, port: int) -> None:
        def target() -> tuple[str, int, dict[bytes, bytes]] | None:
            me = self.service.vault.device.public
            members = self.service.members()
            return host, port, {m.cert: k for k, m in members.items() if k != me}

        await self._redial(target, "static")

    async def wait_caught_up(self, peer: bytes) -> None:
        """Until a session with this peer has pulled everything the peer had."""
        await self._caught_up.setdefault(peer, asyncio.Event()).wait()

    def add_routes(self, add: Callable[[web.Application], None]) -> None:
        """More routes for the peer port (pairing's), added when it starts."""
        self._extra_routes.append(add)

    def membership_changed(self) -> None:
        """The vault's members changed: trust whom it added, leave or redial as it says."""
        for cert in self._known_certs():
            if cert not in self._trusted:
                trust(self._server_ctx, cert)
                self._trusted.add(cert)
        if out_of_vault(self.service):
            self._out = True
            self._leave()
            return
        if self._out:  # ops it had not seen reinstated it: sync again now, not at the next knock
            self._out = False
            self._redial_all()
        members = self.service.members()
        for peer in list(self._dialers):
            if peer.startswith(b"static:"):
                continue
            if peer not in members and peer not in self._bootstrap:
                self._dialers.pop(peer).cancel()
                self._stop_trying(peer)
        for peer, sessions in self.sessions.items():
            if peer not in members and peer not in self._bootstrap:
                for session in list(sessions):  # revoked: it hears why, and nothing more
                    self._tell_and_close(session)
        for peer in list(self._bootstrap):
            if peer in members:
                del self._bootstrap[peer]

    def _redial_all(self) -> None:
        for key in list(self._dialers):
            if key.startswith(b"static:"):
                continue
            host, port = self.addresses[key]
            self.connect(key, host, port, found_by=self.known.get(key, PeerInfo()).found_by)
        for host, port in self.static:
            self._start_static(host, port)

    def _leave(self) -> None:
        """This device is out of the vault: close every session; dialers only knock now."""
        if any(self.sessions.values()):
            removal = self.service.vault.removal_of_me()
            if removal is not None:
                remover = self.service.devices().get(removal.by)
                log.warning(
                    "this device was removed from the vault by %s (%s): it stops syncing",
                    remover.name if remover else "?",
                    display_id(removal.by),
                )
            else:
                log.warning("the vault is closed: every device in it was removed")
        for sessions in self.sessions.values():
            for session in list(sessions):
                if isinstance(session.channel, WebSocketChannel):
                    self._close_soon(session.channel)

    def _tell_and_close(self, session: SyncSession) -> None:
        """Send a removed peer the removals of it (it may never dial us), then hang up."""
        channel = session.channel
        if not isinstance(channel, WebSocketChannel):
            return

        async def tell() -> None:
            who = display_id(session.peer)
            with contextlib.suppress(PeerRefused, PeerUnreachable), talking_to(who):
                async with asyncio.timeout(5):
                    await session.send_removal()
            await channel.close()

        task = asyncio.create_task(tell())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def _close_soon(self, channel: WebSocketChannel) -> None:
        task = asyncio.create_task(channel.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _serve_sync(self, request: web.Request) -> web.StreamResponse:
        cert = peer_certificate(
            request.transport.get_extra_info("ssl_object") if request.transport else None
        )
        peer = member_for(self.service, cert)
        removed = removed_for(self.service, cert) if peer is None else None
        if peer is None and removed is None:
            raise web.HTTPForbidden(text="this certificate is not a member of the vault")
        ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S, max_msg_size=4 * 1024 * 1024)
        try:
            await ws.prepare(request)
        except ValueError:  # e.g. a Sec-WebSocket-Key that is not base64 ASCII
            return web.Response(status=400, text="a WebSocket handshake this server cannot read")
        if peer is not None:
            self.known.setdefault(peer, PeerInfo())
            via = None if request.remote is None else ((request.remote, None), "incoming")
            await self._run_session(peer, WebSocketChannel(ws), via=via)
        elif removed is not None:  # it hands over what it wrote and hears why it is out
            session = SyncSession(self.service, WebSocketChannel(ws), removed, restricted=True)
            with contextlib.suppress(PeerRefused, PeerUnreachable), talking_to(display_id(removed)):
                try:
                    await session.run()
                except OpRefused as exc:
                    await _unreadable(channel_ws=ws, peer=removed, exc=exc)
        await ws.close()
        return ws

    async def _run_session(
        self, peer: bytes, channel: WebSocketChannel, *, once: bool = False, via: Via | None = None
    ) -> None:
        session = SyncSession(self.service, channel, peer, once=once)
        self.sessions.setdefault(peer, set()).add(session)
        log.info("syncing with %s", display_id(peer))
        self.service.events.publish("peers", device=display_id(peer), connected=True)
        self._met(peer, via)
        announce = asyncio.create_task(self._announce_caught_up(peer, session))
        remember = asyncio.create_task(self._remember_while_connected(peer, session))
        try:
            with talking_to(display_id(peer)):
                await session.run()
        except (PeerRefused, PeerUnreachable) as exc:
            log.info("connection to %s ended: %s", display_id(peer), exc)
        except OpRefused as exc:
            with contextlib.suppress(PeerRefused, PeerUnreachable), talking_to(display_id(peer)):
                await _unreadable(channel_ws=channel.ws, peer=peer, exc=exc)
        finally:
            announce.cancel()
            remember.cancel()
            self.sessions[peer].discard(session)
            connected = bool(self.sessions[peer])
            self.service.events.publish("peers", device=display_id(peer), connected=connected)
            self._note(peer, session)
            await self._save(peer)

    def _met(self, peer: bytes, via: Via | None) -> None:
        """A session starts: seen now, and reached at this address (found this way)."""
        contact = self.contacts.setdefault(peer, Contact())
        contact.last_seen = time.time()
        if via is None:
            return
        (host, port), found_by = via
        dialled = self.known.get(peer, PeerInfo()).address
        if found_by == "incoming" and dialled is not None and contact.found_by is not None:
            return  # this device dials it: where it reaches it says more than where it came from
        if found_by == "remembered" and (contact.host, contact.port) == (host, port):
            found_by = contact.found_by or found_by  # an address saved when it was found
        contact.host, contact.port, contact.found_by = host, port, found_by

    def _note(self, peer: bytes, session: SyncSession) -> None:
        """What a session knows now of its peer, into what is remembered of it."""
        now = time.time()
        contact = self.contacts.setdefault(peer, Contact())
        contact.last_seen = now
        if session.last_synced is not None:
            contact.last_sync = max(contact.last_sync or 0.0, session.last_synced)
        if session.holds_at is not None:  # exact up to now: the peer acknowledges what it gets
            contact.holds, contact.holds_at = dict(session.holds), now

    async def _remember_while_connected(self, peer: bytes, session: SyncSession) -> None:
        """Write what is remembered of a peer when its session starts, then once a minute."""
        await self._save(peer)
        while True:
            await asyncio.sleep(REMEMBER_S)
            self._note(peer, session)
            if time.time() - self._saved.get(peer, 0.0) >= REMEMBER_S - 1.0:
                await self._save(peer)

    async def _save(self, peer: bytes) -> None:
        contact = self.contacts.get(peer)
        if contact is None:
            return
        self._saved[peer] = time.time()
        snapshot = replace(contact, holds=None if contact.holds is None else dict(contact.holds))
        try:
            await self.service.storage.save_contact(peer, snapshot)
        except (sqlite3.Error, ValueError) as exc:  # closing down: the store is gone
            log.debug("could not remember %s: %s", display_id(peer), exc)

    async def _announce_caught_up(self, peer: bytes, session: SyncSession) -> None:
        await session.caught_up.wait()
        self._caught_up.setdefault(peer, asyncio.Event()).set()

    async def _dial_forever(self, peer: bytes) -> None:
        def target() -> tuple[str, int, dict[bytes, bytes]] | None:
            member = self.service.members().get(peer)
            cert = member.cert if member is not None else self._bootstrap.get(peer)
            if cert is None:
                return None  # no longer a member: stop dialling it
            host, port = self.addresses[peer]
            return host, port, {cert: peer}

        await self._redial(target, None)

    async def _redial(
        self,
        target: Callable[[], tuple[str, int, dict[bytes, bytes]] | None],
        found_by: str | None,
        *,
        give_up_when_refused: bool = False,
    ) -> None:
        """Dial `target()` again and again with capped, jittered backoff until it says stop
        (or, with `give_up_when_refused`, until what answers there is not who was expected)."""
        delay = BACKOFF_MIN_S
        while not self._stopping and (where := target()) is not None:
            host, port, expected = where
            try:
                with talking_to(f"{host}:{port}"):
                    if expected and await self._session_with(host, port, expected, found_by):
                        delay = BACKOFF_MIN_S
            except (PeerRefused, PeerUnreachable) as exc:
                log.debug("%s", exc)
                if give_up_when_refused and someone_else_answered(exc):
                    return
            pause = OUT_KNOCK_S if out_of_vault(self.service) else delay
            await asyncio.sleep(pause * (0.5 + random.random() / 2))  # noqa: S311 - jitter
            delay = min(delay * 2, BACKOFF_MAX_S)

    async def _session_with(
        self, host: str, port: int, expected: dict[bytes, bytes], found_by: str | None
    ) -> bool:
        """One connection that trusts only the `expected` certificates; True once connected."""
        ctx = self.tls.client_context_for_any(list(expected))
        async with (
            aiohttp.ClientSession(timeout=_DIAL_TIMEOUT) as http,
            http.ws_connect(
                f"wss://{_netloc(host, port)}/peer/v1/sync",
                ssl=ctx,
                heartbeat=HEARTBEAT_S,
                max_msg_size=4 * 1024 * 1024,
            ) as ws,
        ):
            peer = expected.get(peer_certificate(ws.get_extra_info("ssl_object")) or b"")
            if peer is not None:
                self._proven(peer, (host, port))
                if found_by is not None:
                    self.known[peer] = PeerInfo((host, port), found_by)
                how = found_by or self.known.get(peer, PeerInfo(found_by="pairing")).found_by
                await self._run_session(
                    peer,
                    WebSocketChannel(ws),
                    once=out_of_vault(self.service),
                    via=((host, port), how),
                )
        return True


async def _unreadable(
    channel_ws: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
    peer: bytes,
    exc: OpRefused,
) -> None:
    """A message that cannot be read ends the session with a close frame and one line."""
    log.info("closed the session with %s: %s", display_id(peer), exc)
    await channel_ws.close(code=aiohttp.WSCloseCode.PROTOCOL_ERROR)


def _netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


__all__ = ["Peers", "fingerprint"]
