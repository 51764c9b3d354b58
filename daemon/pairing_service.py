"""Pairing over the network: the daemon's side of protocol/pairing.py's handshake.

The device that shows an invitation serves the handshake on its peer server
(no client certificate needed: the joining device has none a member trusts
yet); the device that scans it connects pinned to the fingerprint in the
invitation. After the hello and its reply both sides show the same
confirmation code, and both people decide. The member writes the
device_added op (every epoch key sealed to the newcomer) only once both said
yes; the newcomer moves into the vault, pulls it over mutual TLS and brings
along the accounts it held only once its own person said yes and the member
sent that op's hash. A decline on either side ends both; nothing of the
newcomer's leaves it before its person's yes.

The reverse flow works the same with the roles of who connects swapped: the
newcomer shows an offer and a member scans it.

HTTP on the peer port, all bodies CBOR; the scanner asks, the shower answers:
  POST /peer/v1/pair/hello   Hello -> HelloReply, or 4xx {"error", "detail"}
  POST /peer/v1/pair/await   {"i": invitation id, "m": the hello's MAC} -> the
                             shower's Decision once its side decided: a newcomer's
                             person's verdict, or a member's final answer (a yes
                             only once both accepted and the op is written)
  POST /peer/v1/pair/decide  {"i", "m", "d": the scanner's Decision,
                             "p": its peer port, only from a member} -> {}
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import aiohttp
from aiohttp import web

from twofold.protocol import cbor
from twofold.protocol.certificate import device_certificate
from twofold.protocol.errors import MalformedPayload, NotFound, Refused, TwofoldError
from twofold.protocol.invitation import Invitation
from twofold.protocol.pairing import (
    Decision,
    Handshake,
    Hello,
    HelloReply,
    MalformedPairingMessage,
    PairingError,
    State,
    WrongDevice,
    shown_name,
)
from twofold.protocol.vault import certificate_key

from .errors import BadRequest, PeerRefused, PeerUnreachable
from .pairing_record import Flow, PairingRecord, Phase
from .peer_errors import UNREACHABLE, talking_to
from .peers import Peers
from .vault_service import VaultService, now_ms

log = logging.getLogger(__name__)

AWAIT_LIMIT_S = 600.0
"""How long a verified pairing waits for the people to decide, on either side."""
PULL_LIMIT_S = 120.0
MAX_BODY = 64 * 1024


class Pairing:
    """Open invitations and offers, the peer routes that serve them, joining and scanning."""

    def __init__(
        self,
        service: VaultService,
        peers: Peers,
        advertise: list[str],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.service = service
        self.peers = peers
        self.advertise = advertise
        self.clock = clock  # unix seconds: every expiry is decided by it (a test moves it)
        self.invitations: dict[bytes, PairingRecord] = {}  # shown: invitations and offers
        self.joining: PairingRecord | None = None  # this device joining: a join or an offer
        self.scanning: PairingRecord | None = None  # this member adding a scanned offer
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopped = False  # stop() began: no pairing step starts
        self._joined: list[Callable[[], Awaitable[None]]] = []
        peers.add_routes(self._routes)

    def on_joined(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Await this once this device has joined a vault (the composition root wires it)."""
        self._joined.append(callback)

    def _routes(self, app: web.Application) -> None:
        app.router.add_post("/peer/v1/pair/hello", self._serve_hello)
        app.router.add_post("/peer/v1/pair/await", self._serve_await)
        app.router.add_post("/peer/v1/pair/decide", self._serve_decide)

    @property
    def cert(self) -> bytes:
        """This device's certificate."""
        return device_certificate(self.service.vault.device)

    def _announce(self, record: PairingRecord) -> None:
        """Pairing events: which invitation (or None: this device joining or scanning) is in
        which state now, so a page can show a device waiting to be accepted at once."""
        shown = record.flow in ("invitation", "offer")
        invitation = record.invitation.invitation_id.hex() if shown else None
        self.service.events.publish(
            "pairing", flow=record.flow, invitation=invitation, state=record.state
        )
        if record.flow == "offer":  # an offer is also this device's joining
            self.service.events.publish(
                "pairing", flow="join", invitation=None, state=join_state(record)
            )

    def _record(
        self, flow: Flow, invitation: Invitation, hs: Handshake, auto: bool
    ) -> PairingRecord:
        return PairingRecord(flow, invitation, hs, auto, announce=self._announce)

    @property
    def _own_name(self) -> str:
        """This device's name as a handshake may carry it (older names written out)."""
        return shown_name(self.service.identity.name)

    def _as_member(self, side: Callable[..., Handshake], invitation: Invitation) -> Handshake:
        """This device's handshake as the vault's member, showing or scanning: it names the
        vault and the names of its devices, for the newcomer to see what it joins."""
        names = sorted(m.name for m in self.service.members().values())
        return side(
            invitation, self.cert, self._own_name, "member", self.service.vault.vault, devices=names
        )

    # -- showing: an invitation (member) or an offer (newcomer) --------------------------

    def open(self, ttl: int, auto_accept: bool) -> PairingRecord:
        """A new invitation for a device to join this vault."""
        invitation = Invitation.new(
            "member", self.cert, self.advertise, self.peers.port, self._now(), ttl
        )
        hs = self._as_member(Handshake.shower, invitation)
        return self._show(self._record("invitation", invitation, hs, auto_accept))

    def offer(self, ttl: int, auto_accept: bool = False) -> PairingRecord:
        """Newcomer: show a link for a member to scan."""
        self._make_room_to_join()
        invitation = Invitation.new(
            "newcomer", self.cert, self.advertise, self.peers.port, self._now(), ttl
        )
        hs = Handshake.shower(invitation, self.cert, self._own_name, "newcomer")
        record = self._show(self._record("offer", invitation, hs, auto_accept))
        self.joining = record
        return record

    def _show(self, record: PairingRecord) -> PairingRecord:
        self._forget_old()
        self.invitations[record.invitation.invitation_id] = record
        self._arm_expiry(record)
        return record

    def _now(self) -> int:
        """The clock's unix time in whole seconds, as invitations count it."""
        return int(self.clock())

    def _arm_expiry(self, record: PairingRecord) -> None:
        """Wait (really) until the clock says the invitation runs out, then look again."""
        left = max(0.0, record.invitation.expires_at - self.clock())
        record.timer = asyncio.get_running_loop().call_later(left, self._expiry_due, record)

    def _expiry_due(self, record: PairingRecord) -> None:
        """The expiry timer fired: the clock decides; one it says is not due yet waits on."""
        self.expire_due()
        if record.handshake.state is State.LISTENING and not record.ended:
            self._arm_expiry(record)  # the clock was set back meanwhile

    def expire_due(self) -> None:
        """Close every shown invitation nobody answered whose time ran out by the clock; one
        being decided has its own limit."""
        now = self._now()
        for record in list(self.invitations.values()):
            if record.invitation.expired(now):
                self._expire(record)

    def _expire(self, record: PairingRecord) -> None:
        """An invitation nobody answered in time closes; one being decided has its own limit."""
        if record.handshake.state is State.LISTENING:
            record.move(Phase.EXPIRED)

    def _too_late(self, record: PairingRecord) -> None:
        if not record.ended and record.state in ("confirming", "waiting"):
            record.move(Phase.FAILED, "nobody decided in time: pair again")

    def _verified(self, record: PairingRecord) -> None:
        """Both sides now show the code: give the people their time, or decide for them."""
        if record.timer is not None:
            record.timer.cancel()
        record.timer = asyncio.get_running_loop().call_later(AWAIT_LIMIT_S, self._too_late, record)
        log.info(
            "pairing (%s) with %s verified (code %s)",
            record.flow,
            record.peer_device,
            record.handshake.confirmation_code,
        )
        if record.auto_accept:
            self._spawn(self._decide_quietly(record))

    def _forget_old(self) -> None:
        """Drop invitations that ended over an hour ago, so the list stays short."""
        cutoff = self._now() - 3600
        for key, entry in list(self.invitations.items()):
            if entry.invitation.expires_at < cutoff and entry.ended:
                del self.invitations[key]

    def get(self, id_hex: str) -> PairingRecord:
        """An invitation (or offer) by its hex ID."""
        try:
            return self.invitations[bytes.fromhex(id_hex)]
        except (ValueError, KeyError):
            raise NotFound(f"no open invitation {id_hex}") from None

    def cancel(self, id_hex: str) -> PairingRecord:
        """Close an invitation or offer; a pairing already past both yeses goes on."""
        record = self.get(id_hex)
        if record.handshake.state not in (State.ACCEPTED,) and not record.ended:
            record.move(Phase.CANCELLED)
        return record

    # -- deciding, on any side -------------------------------------------------------------

    async def decide(self, id_hex: str, accept: bool) -> PairingRecord:
        """The member's person, on the invitation it shows, compared the codes."""
        record = self.get(id_hex)
        if record.flow != "invitation":
            raise Refused("this is an offer: decide on it with /join/accept or /join/decline")
        return await self._decide(record, accept)

    async def decide_join(self, accept: bool) -> PairingRecord:
        """This device's person, joining (by a link or by an offer), compared the codes."""
        if self.joining is None:
            raise Refused("this device is not joining a vault")
        return await self._decide(self.joining, accept)

    async def decide_scan(self, accept: bool) -> PairingRecord:
        """The member's person, adding the device of a scanned offer, compared the codes."""
        if self.scanning is None:
            raise Refused("there is no device waiting for a decision")
        return await self._decide(self.scanning, accept)

    async def cancel_join(self) -> PairingRecord:
        """Stop joining: a pairing being decided is declined (the other side is told), one
        still connecting or showing is cancelled. Once both accepted it goes on."""
        record = self.joining
        if record is None:
            raise NotFound("this device is not joining a vault")
        if record.state in ("confirming", "waiting"):
            return await self._decide(record, False)
        if not record.ended and record.handshake.state is not State.ACCEPTED:
            record.move(Phase.CANCELLED)
        return record

    async def _decide(self, record: PairingRecord, accept: bool) -> PairingRecord:
        """This side's person's verdict; a yes may be taken back while the other side has not
        answered it."""
        if record.state not in (("confirming",) if accept else ("confirming", "waiting")):
            raise Refused(f"the pairing is {record.state}: there is nothing to decide")
        told = record.act(lambda hs: hs.decide(accept))
        if not accept:
            record.declined_by = "this device"
        log.info("this device's person %s (%s)", "accepted" if accept else "declined", record.flow)
        if told is not None:
            await self._tell(record, told)
        await self._advance(record)
        return record

    async def _decide_quietly(self, record: PairingRecord) -> None:
        with contextlib.suppress(TwofoldError):
            await self._decide(record, True)

    async def _heard(self, record: PairingRecord, decision: Decision) -> None:
        """The other side's verdict arrived."""
        record.act(lambda hs: hs.on_decision(decision))
        if not decision.accepted:
            record.error, record.declined_by = "the other device declined", "the other device"
            record.settle()
        await self._advance(record)

    async def _tell(self, record: PairingRecord, decision: Decision) -> None:
        """Give the other side this side's verdict: a shower answers its await, a scanner posts."""
        if record.flow in ("invitation", "offer"):
            if not record.verdict.done():
                record.verdict.set_result(decision)
            return
        body: dict[str, Any] = {
            "i": record.invitation.invitation_id,
            "m": record.hello_mac,
            "d": decision.encode(),
        }
        if record.handshake.role == "member":
            body["p"] = self.peers.port
        url = f"https://{_netloc(record.host, record.invitation.port)}/peer/v1/pair/decide"
        pin = aiohttp.Fingerprint(record.invitation.fingerprint)
        try:
            with talking_to("the other device"):
                async with (
                    aiohttp.ClientSession() as http,
                    http.post(url, data=cbor.dumps(body), ssl=pin, timeout=_CONNECT) as resp,
                ):
                    if resp.status != 200:
                        raise PeerRefused(await _refusal(resp))
        except (PeerRefused, PeerUnreachable) as exc:
            if decision.accepted and record.handshake.role == "newcomer":
                record.move(Phase.FAILED, f"the other device could not be told: {exc}")
            else:  # a decline, or the member's yes after its op is written
                record.error = f"the other device could not be told: {exc}"
                record.settle()

    async def _advance(self, record: PairingRecord) -> None:
        """After a step: both accepted (write the op, or move in) or one declined (stop)."""
        hs = record.handshake
        if hs.state is State.DECLINED:
            if record.timer is not None:
                record.timer.cancel()
            if not record.verdict.done():
                record.verdict.set_result(Decision(False))
            return
        if hs.state is not State.ACCEPTED:
            return
        if hs.role == "member" and hs.added_op is None:
            await self._add(record)
        elif hs.role == "newcomer" and record.phase is Phase.LIVE:
            record.move(Phase.SYNCING)
            self._spawn(self._move_in(record))

    async def _add(self, record: PairingRecord) -> None:
        """Both said yes: write device_added, then tell the new device its hash."""
        hs = record.handshake
        member = self.service.members().get(certificate_key(hs.peer_cert))
        if member is not None:  # added before, by a pairing that failed on its side
            added = member.added_in
        else:
            try:
                added = (await self.service.add_device(hs.peer_cert, hs.peer_name)).hash
            except Refused as exc:  # a removed device never comes back with its old key
                record.move(Phase.FAILED, str(exc))
                return
        decision = hs.added(added)
        record.settle()
        log.info("added device %s", record.peer_device)
        await self._tell(record, decision)
        if record.flow == "pair":
            self.peers.connect(certificate_key(hs.peer_cert), record.host, record.invitation.port)

    # -- the peer routes (the shower's side) ---------------------------------------------

    async def _serve_hello(self, request: web.Request) -> web.Response:
        try:
            hello = Hello.decode(await _read(request))
        except MalformedPairingMessage as exc:
            return _PeerRefusal(400, "malformed", str(exc)).response()
        except _PeerRefusal as refusal:
            return refusal.response()
        record = self.invitations.get(hello.invitation_id)
        if record is None:
            return _PeerRefusal(404, "unknown-invitation", "this invitation is not open").response()
        if record.ended:
            why = record.error or f"this invitation is {record.state}: open a new one"
            return _PeerRefusal(403, "invitation-closed", why).response()
        try:
            reply = record.act(lambda hs: hs.on_hello(hello, self._now()))
        except TwofoldError as exc:
            if record.handshake.state is State.FAILED:
                expired = record.invitation.expired(self._now())
                record.move(Phase.EXPIRED if expired else Phase.FAILED, str(exc))
            return _PeerRefusal(403, type(exc).__name__, str(exc)).response()
        record.hello_mac = hello.mac
        self._verified(record)
        return web.Response(body=reply.encode(), content_type="application/cbor")

    def _follow_up(self, request: web.Request, body: object, keys: set[str]) -> PairingRecord:
        """The record a scanner's follow-up names, proven by repeating its hello's MAC."""
        if not isinstance(body, dict) or not set(body) <= keys or not {"i", "m"} <= set(body):
            raise _PeerRefusal(400, "malformed", f"takes {', '.join(sorted(keys))}")
        key = body["i"]
        record = self.invitations.get(key) if isinstance(key, bytes) else None
        if record is None or not _same_mac(record.hello_mac, body["m"]):
            raise _PeerRefusal(403, "unknown-invitation", "no hello of yours is waiting")
        return record

    async def _serve_await(self, request: web.Request) -> web.Response:
        try:
            record = self._follow_up(request, _loads(await _read(request)), {"i", "m"})
        except _PeerRefusal as refusal:
            return refusal.response()
        try:
            decision = await asyncio.wait_for(asyncio.shield(record.verdict), AWAIT_LIMIT_S)
        except TimeoutError:
            return _PeerRefusal(408, "timeout", "nobody decided in time").response()
        return web.Response(body=decision.encode(), content_type="application/cbor")

    async def _serve_decide(self, request: web.Request) -> web.Response:
        try:
            body = _loads(await _read(request))
            record = self._follow_up(request, body, {"i", "m", "d", "p"})
            assert isinstance(body, dict)  # noqa: S101 - checked by _follow_up
            raw, port = body.get("d"), body.get("p")
            member = record.handshake.role == "newcomer"  # the scanner is the member
            if member != (port is not None) or (
                port is not None and (type(port) is not int or not 0 < port < 65536)
            ):
                raise _PeerRefusal(400, "malformed", "p is the member's peer port, from it only")
            decision = Decision.decode(raw if isinstance(raw, bytes) else b"")
            if port is not None:
                record.host = request.remote or record.invitation.addresses[0]
                record.port = port
            await self._heard(record, decision)
        except _PeerRefusal as refusal:
            return refusal.response()
        except PairingError as exc:
            return _PeerRefusal(409, type(exc).__name__, str(exc)).response()
        except TwofoldError as exc:
            return _PeerRefusal(400, "malformed", str(exc)).response()
        return web.Response(body=cbor.dumps({}), content_type="application/cbor")

    # -- scanning: joining by a link (newcomer) or adding by an offer (member) -------------

    def join(self, link: str, auto_accept: bool = False) -> PairingRecord:
        """Start joining the vault an invitation link names."""
        invitation = Invitation.from_link(link)
        if invitation.expired(self._now()):
            raise BadRequest("this invitation has expired: ask for a new one", "link")
        if invitation.shower_role != "member":
            raise BadRequest(
                "this link comes from a device that wants to join: run 'twofold pair LINK' "
                "on a device of the vault",
                "link",
            )
        self._make_room_to_join()
        hs = Handshake.scanner(invitation, self.cert, self._own_name, "newcomer")
        record = self._record("join", invitation, hs, auto_accept)
        self.joining = record
        self._spawn(self._scan(record))
        return record

    def _make_room_to_join(self) -> None:
        """One joining at a time: an offer nobody answered yet gives way to the new one."""
        old = self.joining
        if old is None or old.ended:
            return
        if old.state in ("open", "connecting"):
            old.move(Phase.CANCELLED)
            return
        raise Refused("this device is already joining a vault")

    def scan(self, link: str, auto_accept: bool) -> PairingRecord:
        """Member: add the device whose offer link this is."""
        invitation = Invitation.from_link(link)
        if invitation.expired(self._now()):
            raise BadRequest("this link has expired: ask for a new one", "link")
        if invitation.shower_role != "newcomer":
            raise BadRequest(
                "this link invites a device into a vault: run 'twofold join LINK' on the "
                "device that should join",
                "link",
            )
        old = self.scanning
        if old is not None and not old.ended:
            if old.state != "connecting":
                raise Refused("this device is already adding a device: decide on it first")
            old.move(Phase.CANCELLED)
        hs = self._as_member(Handshake.scanner, invitation)
        record = self._record("pair", invitation, hs, auto_accept)
        self.scanning = record
        self._spawn(self._scan(record))
        return record

    async def _scan(self, record: PairingRecord) -> None:
        """Say hello to the shower, then wait for its side's verdict."""
        inv = record.invitation
        pin = _Pin(inv.fingerprint)
        try:
            with talking_to("the inviting device"):
                decision = await self._exchange(record, inv, pin)
            if decision is not None and record.handshake.state not in (State.DECLINED,):
                await self._heard(record, decision)
        except TwofoldError as exc:
            if record.handshake.state not in (State.ACCEPTED, State.DECLINED):
                record.move(Phase.FAILED, str(exc) or type(exc).__name__)
            log.warning("pairing (%s) failed: %s", record.flow, record.error)

    async def _exchange(self, record: PairingRecord, inv: Invitation, pin: _Pin) -> Decision | None:
        """Hello, its reply, then the shower's verdict; None if the pairing ended meanwhile."""
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as http:
            hello = record.act(lambda hs: hs.hello())
            record.hello_mac = hello.mac
            record.host, reply, cert = await self._hello(http, inv, hello, pin)
            if record.ended:  # cancelled meanwhile
                return None
            record.act(lambda hs: hs.on_reply(reply, cert))
            self._verified(record)
            body = cbor.dumps({"i": inv.invitation_id, "m": hello.mac})
            async with http.post(
                f"https://{_netloc(record.host, inv.port)}/peer/v1/pair/await",
                data=body,
                ssl=pin,
                timeout=aiohttp.ClientTimeout(total=AWAIT_LIMIT_S + 30),
            ) as resp:
                if resp.status != 200:
                    raise PeerRefused(await _refusal(resp))
                decision = Decision.decode(await resp.read())
        return None if record.ended else decision

    async def _move_in(self, record: PairingRecord) -> None:
        """Both accepted: leave this device's vault, pull the joined one, bring the accounts."""
        hs = record.handshake
        host = record.host or record.invitation.addresses[0]
        port = record.port or record.invitation.port
        try:
            started = time.perf_counter()
            member = certificate_key(hs.peer_cert)
            await self.service.move_into(hs.vault)
            await self.service.storage.save_peer(member, host, port)
            self.peers.connect(member, host, port, cert=hs.peer_cert)
            try:
                async with asyncio.timeout(PULL_LIMIT_S):
                    await self.peers.wait_caught_up(member)
            except TimeoutError:
                raise PeerUnreachable(
                    f"the vault did not arrive from the member within {PULL_LIMIT_S:.0f} s"
                ) from None
            pulled = time.perf_counter() - started
            brought = await self.service.bring_along()
        except (TwofoldError, OSError) as exc:  # OSError: this home's files
            record.move(Phase.FAILED, str(exc) or type(exc).__name__)
            log.warning("joining failed: %s", record.error)
            return
        record.brought = brought.to_json()  # before JOINED is published, so readers see it
        record.move(Phase.JOINED)
        for callback in self._joined:
            await callback()
        log.info(
            "joined: pulled %d ops in %.3f s, brought %d accounts along, %d were in the vault "
            "already (%d of those in its trash)",
            self.service.op_count(),
            pulled,
            brought.added,
            brought.already_there,
            brought.in_trash,
        )

    async def stop(self) -> None:
        """End every pairing step in flight (a join, a scan, a decision): the daemon stops."""
        self._stopped = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        if self._stopped:
            coro.close()
            return
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _hello(
        self, http: aiohttp.ClientSession, inv: Invitation, hello: Hello, pin: _Pin
    ) -> tuple[str, HelloReply, bytes]:
        """Try each address of the invitation; a certificate other than the pinned one there
        means someone is in between, which says so rather than "cannot reach"."""
        last: Exception | None = None
        impostor = False
        for host in inv.addresses:
            url = f"https://{_netloc(host, inv.port)}/peer/v1/pair/hello"
            try:
                async with http.post(url, data=hello.encode(), ssl=pin, timeout=_CONNECT) as resp:
                    if resp.status != 200:
                        raise PeerRefused(await _refusal(resp))
                    return host, HelloReply.decode(await resp.read()), pin.checked()
            except aiohttp.ServerFingerprintMismatch:
                impostor = True
            except UNREACHABLE as exc:  # the next address may answer
                last = exc
        if impostor:
            raise WrongDevice()
        where = ", ".join(inv.addresses)
        raise PeerUnreachable(f"cannot reach the inviting device at {where}: {last}")


def join_state(record: PairingRecord) -> str:
    """The state of an offer as this device's joining reads it: open is "showing"."""
    state = record.state
    return "showing" if state == "open" else state


_CONNECT = aiohttp.ClientTimeout(total=15)


class _PeerRefusal(Exception):
    def __init__(self, status: int, error: str, detail: str) -> None:
        self.status, self.error, self.detail = status, error, detail

    def response(self) -> web.Response:
        body = cbor.dumps({"error": self.error, "detail": self.detail})
        return web.Response(status=self.status, body=body, content_type="application/cbor")


async def _read(request: web.Request) -> bytes:
    """A pairing body, at most MAX_BODY bytes; a larger one is refused, not read."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise _PeerRefusal(413, "too-large", f"a pairing message is at most {MAX_BODY} bytes")
    data = bytearray()
    while len(data) <= MAX_BODY:
        chunk = await request.content.read(MAX_BODY + 1 - len(data))
        if not chunk:
            return bytes(data)
        data += chunk
    raise _PeerRefusal(413, "too-large", f"a pairing message is at most {MAX_BODY} bytes")


def _loads(data: bytes) -> object:
    try:
        return cbor.loads(data, "pairing request")
    except MalformedPayload as exc:
        raise _PeerRefusal(400, "malformed", str(exc)) from None


async def _refusal(resp: aiohttp.ClientResponse) -> str:
    with contextlib.suppress(Exception):
        body = cbor.loads(await resp.read(), "refusal")
        if isinstance(body, dict) and isinstance(body.get("detail"), str):
            return f"the inviting device refused: {body['detail']}"
    return f"the inviting device refused ({resp.status})"


class _Pin(aiohttp.Fingerprint):
    """The invitation's pin, keeping the certificate it accepted.

    aiohttp checks the pin on the connection the request goes over; the certificate the
    handshake binds is the one that check saw, not one read over a second connection
    (which another device could have answered).
    """

    def __init__(self, fingerprint: bytes) -> None:
        super().__init__(fingerprint)
        self._cert: bytes | None = None

    def check(self, transport: asyncio.Transport) -> None:
        """aiohttp's check, then keep what passed it."""
        super().check(transport)
        tls = transport.get_extra_info("ssl_object")
        cert = tls.getpeercert(binary_form=True) if tls is not None else None
        if cert:
            self._cert = bytes(cert)

    def checked(self) -> bytes:
        """The certificate this pin accepted; PeerRefused if none was shown."""
        if self._cert is None:
            raise PeerRefused("the inviting device presented no certificate")
        return self._cert


def _same_mac(expected: bytes | None, given: object) -> bool:
    """The follow-up comes from the device that said hello: it repeats its MAC."""
    return (
        expected is not None and isinstance(given, bytes) and hmac.compare_digest(expected, given)
    )


def _netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


__all__ = ["Pairing", "PairingRecord", "join_state", "now_ms"]
