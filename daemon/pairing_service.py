"""Pairing over the network: the daemon's side of protocol/pairing.py's handshake.

The device that shows an invitation serves the handshake on its peer server
(no client certificate needed: the joining device has none a member trusts
yet); the device that scans it connects pinned to the fingerprint in the
invitation. After the hello and its reply both sides show the same
confirmation code, and the member's person decides. Accepting signs a
device_added op (with every epoch key sealed to the newcomer) and answers the
newcomer's wait with the decision; the newcomer then moves into the vault it
joined, pulls it over mutual TLS, and brings along the accounts it held.

The reverse flow works the same with the roles of who connects swapped: the
newcomer shows an offer, a member scans it, says hello, and sends its
decision to the newcomer, which then connects to the member to pull.

HTTP on the peer port, all bodies CBOR:
  POST /peer/v1/pair/hello   Hello -> HelloReply, or 403 {"error", "detail"}
  POST /peer/v1/pair/await   {"i": invitation id, "m": the hello's MAC} -> Decision,
                             answered once the member's person decided (usual flow)
  POST /peer/v1/pair/decide  {"i", "m", "d": Decision, "p": the member's peer port}
                             -> {} (reverse flow: the member tells the newcomer)
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import ssl
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from twofold.protocol import cbor
from twofold.protocol.certificate import device_certificate
from twofold.protocol.errors import NotFound, TwofoldError, UsageError
from twofold.protocol.identity import display_id
from twofold.protocol.invitation import Invitation
from twofold.protocol.pairing import Decision, Handshake, Hello, HelloReply, PairingError
from twofold.protocol.vault import certificate_key

from .errors import BadRequest
from .peers import Peers
from .vault_service import VaultService, now_ms

log = logging.getLogger(__name__)

AWAIT_LIMIT_S = 600.0
PULL_LIMIT_S = 120.0


class _Announced:
    """A pairing record that tells the event stream each time its state changes."""

    announce: Callable[[Any], None] | None

    def __setattr__(self, name: str, value: object) -> None:
        changed = name == "state" and getattr(self, "state", None) != value
        super().__setattr__(name, value)
        if changed and self.announce is not None:
            self.announce(self)


@dataclass
class OpenInvitation(_Announced):
    """An invitation this device shows, and what became of it."""

    invitation: Invitation
    handshake: Handshake
    auto_accept: bool
    state: str = "open"  # open, confirming, accepted, declined, failed, cancelled, expired
    peer_name: str | None = None
    peer_device: str | None = None
    code: str | None = None
    hello_mac: bytes | None = None
    member_vault: bytes | None = None
    decision: asyncio.Future[Decision] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    announce: Callable[[Any], None] | None = field(default=None, repr=False, compare=False)


@dataclass
class Joining(_Announced):
    """This device's attempt to join a vault shown to it."""

    invitation: Invitation
    # connecting (or showing, in the reverse flow), confirming, syncing, joined, declined, failed
    state: str = "connecting"
    code: str | None = None
    peer_name: str | None = None
    peer_device: str | None = None
    error: str | None = None
    task: asyncio.Task[None] | None = None
    announce: Callable[[Any], None] | None = field(default=None, repr=False, compare=False)


@dataclass
class Scanning(_Announced):
    """This member adding a device whose offer it scanned (the reverse flow)."""

    invitation: Invitation
    handshake: Handshake
    auto_accept: bool
    state: str = "connecting"  # connecting, confirming, accepted, declined, failed
    code: str | None = None
    peer_name: str | None = None
    peer_device: str | None = None
    error: str | None = None
    host: str = ""
    hello: Hello | None = None
    announce: Callable[[Any], None] | None = field(default=None, repr=False, compare=False)


class Pairing:
    """Open invitations, the peer routes that serve them, and joining."""

    def __init__(self, service: VaultService, peers: Peers, advertise: list[str]) -> None:
        self.service = service
        self.peers = peers
        self.advertise = advertise
        self.invitations: dict[bytes, OpenInvitation] = {}
        self.joining: Joining | None = None
        self.scanning: Scanning | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.joined: list[Callable[[], Awaitable[None]]] = []
        peers.extra_routes.append(self._routes)

    def _announce(self, record: OpenInvitation | Joining | Scanning) -> None:
        """Pairing events: which invitation (or None: this device joining or scanning) is in
        which state now, so a page can show a device waiting to be accepted at once."""
        invitation = (
            record.invitation.invitation_id.hex() if isinstance(record, OpenInvitation) else None
        )
        flow = {OpenInvitation: "invitation", Joining: "join", Scanning: "pair"}[type(record)]
        self.service.events.publish("pairing", flow=flow, invitation=invitation, state=record.state)

    def _routes(self, app: web.Application) -> None:
        app.router.add_post("/peer/v1/pair/hello", self._serve_hello)
        app.router.add_post("/peer/v1/pair/await", self._serve_await)
        app.router.add_post("/peer/v1/pair/decide", self._serve_decide)

    @property
    def cert(self) -> bytes:
        """This device's certificate."""
        return device_certificate(self.service.vault.device)

    # -- showing (the member, flow A) --------------------------------------------

    def open(self, ttl: int, auto_accept: bool) -> OpenInvitation:
        """A new invitation for a device to join this vault."""
        invitation = Invitation.new(
            "member", self.cert, self.advertise, self.peers.port, int(time.time()), ttl
        )
        handshake = Handshake.shower(
            invitation, self.cert, self.service.identity.name, "member", self.service.vault.vault
        )
        entry = OpenInvitation(invitation, handshake, auto_accept, announce=self._announce)
        self._forget_old()
        self.invitations[invitation.invitation_id] = entry
        return entry

    def _forget_old(self) -> None:
        """Drop invitations that ended over an hour ago, so the list stays short."""
        cutoff = int(time.time()) - 3600
        for key, entry in list(self.invitations.items()):
            if entry.invitation.expires_at < cutoff:
                del self.invitations[key]

    def get(self, id_hex: str) -> OpenInvitation:
        """An invitation by its hex ID."""
        try:
            entry = self.invitations[bytes.fromhex(id_hex)]
        except (ValueError, KeyError):
            raise NotFound(f"no open invitation {id_hex}") from None
        if entry.state in ("open", "confirming") and entry.invitation.expired(int(time.time())):
            entry.state = "expired"
        return entry

    async def decide(self, id_hex: str, accept: bool) -> OpenInvitation:
        """The person compared the codes: add the device, or turn it away."""
        entry = self.get(id_hex)
        if entry.state != "confirming":
            raise UsageError(f"the invitation is {entry.state}: there is nothing to decide")
        if accept:
            peer_cert = entry.handshake.peer_cert
            member = self.service.vault.membership.members.get(certificate_key(peer_cert))
            if member is not None:  # added before, by a pairing that failed on its side
                added = member.added_in
            else:
                try:
                    op = await self.service.add_device(peer_cert, entry.peer_name or "")
                except UsageError:  # a removed device never comes back with its old key
                    entry.state = "declined"
                    entry.decision.set_result(entry.handshake.decide(False))
                    raise
                added = op.hash
            decision = entry.handshake.decide(True, added)
            entry.state = "accepted"
            log.info("added device %s", entry.peer_device)
        else:
            decision = entry.handshake.decide(False)
            entry.state = "declined"
        if not entry.decision.done():
            entry.decision.set_result(decision)
        return entry

    async def _auto_accept(self, id_hex: str) -> None:
        try:
            await self.decide(id_hex, True)
        except TwofoldError as exc:
            log.warning("could not add the device that answered invitation %s: %s", id_hex, exc)

    def cancel(self, id_hex: str) -> OpenInvitation:
        """Close an invitation nobody used."""
        entry = self.get(id_hex)
        if entry.state in ("open", "confirming"):
            entry.state = "cancelled"
            if not entry.decision.done():
                entry.decision.set_result(Decision(False, None))
        return entry

    async def _serve_hello(self, request: web.Request) -> web.Response:
        try:
            hello = Hello.decode(await request.read())
            entry = self.invitations.get(hello.invitation_id)
            if entry is None or entry.state not in ("open", "confirming"):
                raise _PeerRefusal(404, "unknown-invitation", "this invitation is not open")
            try:
                reply = entry.handshake.on_hello(hello, int(time.time()))
            except PairingError:
                if entry.handshake.state.value in ("failed", "closed"):
                    entry.state = "failed"
                raise
            entry.state = "confirming"
            entry.peer_name = entry.handshake.peer_name
            entry.peer_device = display_id(certificate_key(entry.handshake.peer_cert))
            entry.code = entry.handshake.confirmation_code
            entry.hello_mac = hello.mac
            entry.member_vault = hello.vault
            if entry.invitation.shower_role == "newcomer" and self.joining is not None:
                self.joining.state = "confirming"
                self.joining.code = entry.code
                self.joining.peer_name = entry.peer_name
                self.joining.peer_device = entry.peer_device
            log.info("%s asks to join (code %s)", entry.peer_device, entry.code)
            if entry.auto_accept:
                self._spawn(self._auto_accept(hello.invitation_id.hex()))
            return web.Response(body=reply.encode(), content_type="application/cbor")
        except _PeerRefusal as refusal:
            return refusal.response()
        except TwofoldError as exc:
            return _PeerRefusal(403, type(exc).__name__, str(exc)).response()

    async def _serve_await(self, request: web.Request) -> web.Response:
        body = cbor.loads(await request.read(), "await request")
        if not isinstance(body, dict) or set(body) != {"i", "m"}:
            return _PeerRefusal(400, "malformed", "await takes i and m").response()
        entry = self.invitations.get(body["i"]) if isinstance(body["i"], bytes) else None
        if entry is None or not _same_mac(entry.hello_mac, body["m"]):
            return _PeerRefusal(
                403, "unknown-invitation", "no hello of yours is waiting"
            ).response()
        try:
            decision = await asyncio.wait_for(asyncio.shield(entry.decision), AWAIT_LIMIT_S)
        except TimeoutError:
            return _PeerRefusal(408, "timeout", "nobody decided in time").response()
        return web.Response(body=decision.encode(), content_type="application/cbor")

    # -- scanning (the newcomer, flow A) -----------------------------------------

    def join(self, link: str) -> Joining:
        """Start joining the vault an invitation link names."""
        invitation = Invitation.from_link(link)
        if self.joining is not None and self.joining.state in ("connecting", "confirming"):
            raise UsageError("this device is already joining a vault")
        if invitation.expired(int(time.time())):
            raise BadRequest("this invitation has expired: ask for a new one", "link")
        if invitation.shower_role != "member":
            raise BadRequest(
                "this link comes from a device that wants to join: run 'twofold pair LINK' "
                "on a device of the vault",
                "link",
            )
        joining = Joining(invitation, announce=self._announce)
        joining.task = asyncio.create_task(self._join(joining))
        self.joining = joining
        return joining

    async def _join(self, joining: Joining) -> None:
        inv = joining.invitation
        handshake = Handshake.scanner(inv, self.cert, self.service.identity.name, "newcomer")
        fingerprint = aiohttp.Fingerprint(inv.fingerprint)
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as http:
                hello = handshake.hello()
                host, reply, inviter_cert = await self._hello(http, inv, hello, fingerprint)
                joining.code = handshake.on_reply(reply, inviter_cert)
                joining.peer_name = reply.name
                joining.peer_device = display_id(certificate_key(inviter_cert))
                joining.state = "confirming"
                body = cbor.dumps({"i": inv.invitation_id, "m": hello.mac})
                async with http.post(
                    f"https://{_netloc(host, inv.port)}/peer/v1/pair/await",
                    data=body,
                    ssl=fingerprint,
                    timeout=aiohttp.ClientTimeout(total=AWAIT_LIMIT_S + 30),
                ) as resp:
                    if resp.status != 200:
                        raise UsageError(await _refusal(resp))
                    decision = Decision.decode(await resp.read())
            handshake.on_decision(decision)
            if not decision.accepted:
                joining.state = "declined"
                return
            assert reply.vault is not None  # noqa: S101 - checked by on_reply
            await self._move_in(joining, reply.vault, inviter_cert, host, inv.port)
        except (TwofoldError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            joining.state = "failed"
            joining.error = str(exc) or type(exc).__name__
            log.warning("joining failed: %s", joining.error)

    async def _move_in(
        self, joining: Joining, vault: bytes, member_cert: bytes, host: str, port: int
    ) -> None:
        """Accepted: leave this device's vault, pull the joined one, bring the accounts along."""
        joining.state = "syncing"
        started = time.perf_counter()
        member = certificate_key(member_cert)
        await self.service.move_into(vault)
        await self.service.storage.save_peer(member, host, port)
        self.peers.connect(member, host, port, cert=member_cert)
        async with asyncio.timeout(PULL_LIMIT_S):
            await self.peers.wait_caught_up(member)
        pulled = time.perf_counter() - started
        brought = await self.service.bring_along()
        joining.state = "joined"
        for callback in self.joined:
            await callback()
        log.info(
            "joined: pulled %d ops in %.3f s, brought %d accounts along",
            len(self.service.vault.by_hash),
            pulled,
            brought,
        )

    # -- the reverse flow ---------------------------------------------------------

    def offer(self, ttl: int) -> OpenInvitation:
        """Newcomer: show a link for a member to scan."""
        invitation = Invitation.new(
            "newcomer", self.cert, self.advertise, self.peers.port, int(time.time()), ttl
        )
        handshake = Handshake.shower(invitation, self.cert, self.service.identity.name, "newcomer")
        entry = OpenInvitation(invitation, handshake, auto_accept=False, announce=self._announce)
        self._forget_old()
        self.invitations[invitation.invitation_id] = entry
        self.joining = Joining(invitation, state="showing", announce=self._announce)
        return entry

    async def _serve_decide(self, request: web.Request) -> web.Response:
        body = cbor.loads(await request.read(), "decide request")
        if not isinstance(body, dict) or set(body) != {"i", "m", "d", "p"}:
            return _PeerRefusal(400, "malformed", "decide takes i, m, d and p").response()
        entry = self.invitations.get(body["i"]) if isinstance(body["i"], bytes) else None
        joining = self.joining
        if (
            entry is None
            or joining is None
            or entry.invitation is not joining.invitation
            or not _same_mac(entry.hello_mac, body["m"])
            or entry.member_vault is None
            or type(body["p"]) is not int
            or not 0 < body["p"] < 65536
        ):
            refusal = _PeerRefusal(403, "unknown-offer", "no hello of yours is waiting")
            return refusal.response()
        try:
            decision = Decision.decode(body["d"] if isinstance(body["d"], bytes) else b"")
            entry.handshake.on_decision(decision)
        except TwofoldError as exc:
            return _PeerRefusal(400, "malformed", str(exc)).response()
        if not decision.accepted:
            entry.state = joining.state = "declined"
        else:
            entry.state = "accepted"
            host = request.remote or entry.invitation.addresses[0]
            self._spawn(self._move_in_or_fail(joining, entry, host, body["p"]))
        return web.Response(body=cbor.dumps({}), content_type="application/cbor")

    async def _move_in_or_fail(
        self, joining: Joining, entry: OpenInvitation, host: str, port: int
    ) -> None:
        try:
            assert entry.member_vault is not None  # noqa: S101 - checked by the caller
            await self._move_in(joining, entry.member_vault, entry.handshake.peer_cert, host, port)
        except (TwofoldError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            joining.state = "failed"
            joining.error = str(exc) or type(exc).__name__

    def scan(self, link: str, auto_accept: bool) -> Scanning:
        """Member: add the device whose offer link this is."""
        invitation = Invitation.from_link(link)
        if invitation.expired(int(time.time())):
            raise BadRequest("this link has expired: ask for a new one", "link")
        if invitation.shower_role != "newcomer":
            raise BadRequest(
                "this link invites a device into a vault: run 'twofold join LINK' on the "
                "device that should join",
                "link",
            )
        handshake = Handshake.scanner(
            invitation, self.cert, self.service.identity.name, "member", self.service.vault.vault
        )
        scanning = Scanning(invitation, handshake, auto_accept, announce=self._announce)
        self.scanning = scanning
        self._spawn(self._scan(scanning))
        return scanning

    async def _scan(self, scanning: Scanning) -> None:
        inv = scanning.invitation
        try:
            async with aiohttp.ClientSession() as http:
                scanning.hello = scanning.handshake.hello()
                pin = aiohttp.Fingerprint(inv.fingerprint)
                host, reply, cert = await self._hello(http, inv, scanning.hello, pin)
            scanning.code = scanning.handshake.on_reply(reply, cert)
            scanning.peer_name = reply.name
            scanning.peer_device = display_id(certificate_key(cert))
            scanning.host = host
            scanning.state = "confirming"
            if scanning.auto_accept:
                await self.decide_scan(True)
        except (TwofoldError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            scanning.state = "failed"
            scanning.error = str(exc) or type(exc).__name__

    async def decide_scan(self, accept: bool) -> Scanning:
        """Member: the codes match (or not); add the device and tell it."""
        scanning = self.scanning
        if scanning is None or scanning.state != "confirming" or scanning.hello is None:
            raise UsageError("there is no device waiting for a decision")
        hs = scanning.handshake
        if accept:
            op = await self.service.add_device(hs.peer_cert, scanning.peer_name or "")
            decision = hs.decide(True, op.hash)
        else:
            decision = hs.decide(False)
        scanning.state = "accepted" if accept else "declined"
        body = cbor.dumps(
            {
                "i": scanning.invitation.invitation_id,
                "m": scanning.hello.mac,
                "d": decision.encode(),
                "p": self.peers.port,
            }
        )
        url = f"https://{_netloc(scanning.host, scanning.invitation.port)}/peer/v1/pair/decide"
        pin = aiohttp.Fingerprint(scanning.invitation.fingerprint)
        try:
            async with (
                aiohttp.ClientSession() as http,
                http.post(url, data=body, ssl=pin, timeout=_CONNECT) as resp,
            ):
                if resp.status != 200:
                    raise UsageError(await _refusal(resp))
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            scanning.error = f"the new device could not be told: {exc}"
        if accept:
            self.peers.connect(
                certificate_key(hs.peer_cert), scanning.host, scanning.invitation.port
            )
        return scanning

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _hello(
        self, http: aiohttp.ClientSession, inv: Invitation, hello: Hello, pin: aiohttp.Fingerprint
    ) -> tuple[str, HelloReply, bytes]:
        last: Exception | None = None
        for host in inv.addresses:
            url = f"https://{_netloc(host, inv.port)}/peer/v1/pair/hello"
            try:
                cert = await _server_cert(host, inv.port)
                async with http.post(url, data=hello.encode(), ssl=pin, timeout=_CONNECT) as resp:
                    if resp.status != 200:
                        raise UsageError(await _refusal(resp))
                    return host, HelloReply.decode(await resp.read()), cert
            except (aiohttp.ClientConnectionError, TimeoutError) as exc:
                last = exc
        raise UsageError(f"cannot reach the inviting device at {', '.join(inv.addresses)}: {last}")


_CONNECT = aiohttp.ClientTimeout(total=15)


class _PeerRefusal(Exception):
    def __init__(self, status: int, error: str, detail: str) -> None:
        self.status, self.error, self.detail = status, error, detail

    def response(self) -> web.Response:
        body = cbor.dumps({"error": self.error, "detail": self.detail})
        return web.Response(status=self.status, body=body, content_type="application/cbor")


async def _refusal(resp: aiohttp.ClientResponse) -> str:
    with contextlib.suppress(Exception):
        body = cbor.loads(await resp.read(), "refusal")
        if isinstance(body, dict) and isinstance(body.get("detail"), str):
            return f"the inviting device refused: {body['detail']}"
    return f"the inviting device refused ({resp.status})"


async def _server_cert(host: str, port: int) -> bytes:
    """The certificate a peer presents; the pinned request that follows checks it is the same."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # only to read it: the fingerprint pin decides trust
    async with asyncio.timeout(15):
        _, writer = await asyncio.open_connection(host, port, ssl=ctx)
    try:
        cert = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()
    if not cert:
        raise UsageError("the inviting device presented no certificate")
    return bytes(cert)


def _same_mac(expected: bytes | None, given: object) -> bool:
    """The follow-up comes from the device that said hello: it repeats its MAC."""
    return (
        expected is not None and isinstance(given, bytes) and hmac.compare_digest(expected, given)
    )


def _netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


__all__ = ["Joining", "OpenInvitation", "Pairing", "now_ms"]
