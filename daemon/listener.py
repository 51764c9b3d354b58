"""Serving an aiohttp app from connections we accept ourselves: caps, then TLS, then deadlines.

aiohttp's TCPSite hands every accepted socket to asyncio's TLS layer at once, which
allocates a 256 KiB buffer for each (asyncio.sslproto) and waits 60 s for a handshake;
aiohttp then waits for a request's headers as long as its keep-alive lasts (an hour).
A `Gate` sits in front instead:

- It counts what each connection is. One that has not shown a member's certificate is
  *unauthenticated*: at most `per_address` of those from one IPv4 address (or IPv6 /64)
  and `unauthenticated` in all. Beyond the per-address cap a new connection is reset at
  once, before any TLS state exists. When the total is reached, a newcomer displaces the
  oldest idle unauthenticated connection (no request running) of the address holding the
  most of them, so a flood from many addresses cannot lock out a member, which holds one
  for the milliseconds of its handshake; if every one is busy, the newcomer is reset.
  `connections` caps everything, members included.
- Only then does TLS start (loop.start_tls), with `handshake_s` to finish. A client whose
  certificate is a member's (or a removed device's) leaves the unauthenticated pool and
  counts against `per_member` connections of that device instead.
- aiohttp gets the connection next. A timer closes it unless a request's headers are
  complete within `headers_s` (`idle_s` after the previous response), and a request's
  body within `body_s`; the gate's middleware stops the timer when the handler starts.

The same gate, without TLS and without caps, gives the local API its deadlines.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import ssl
import struct
from collections import Counter
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, cast

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from . import memory
from .limits import Limits
from .quiet_log import Tally
from .tls import peer_certificate

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Identify = Callable[[bytes], Hashable | None]
"""The member (or removed device) whose certificate this is, or None."""

_TRIM_AFTER = 64
"""Connections seen since the last trim before an emptied pool hands memory back."""
_TRIM_DELAY_S = 1.0
_GRACE_S = 1.0
"""After a late body's answer: the time to send it before the connection is dropped."""
_MAX_EARLY = 64 * 1024
"""Bytes a connection may send before its handler is attached (a few scheduler ticks)."""


class LateBody(web.HTTPRequestTimeout, TimeoutError):
    """What reading a body that missed its deadline raises.

    As an HTTP error the handler's read fails into a 408 answer, not into a logged
    failure; as a TimeoutError aiohttp's lingering read of an unread body lets it pass
    quietly and closes the connection.
    """


def address_key(peername: Any) -> str:
    """Who a connection counts against: its IPv4 address, or its IPv6 /64."""
    host = peername[0] if isinstance(peername, tuple) and peername else str(peername)
    try:
        ip = ipaddress.ip_address(str(host).split("%", 1)[0])
    except ValueError:
        return str(host)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def _reset(transport: asyncio.Transport) -> None:
    """Drop a connection at once: RST, no FIN dance, nothing kept."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


class Gate:
    """Admission and deadlines for one port; its middleware marks when a request starts."""

    def __init__(
        self,
        limits: Limits,
        *,
        name: str,
        ssl_context: ssl.SSLContext | None = None,
        identify: Identify | None = None,
        capped: bool = True,
    ) -> None:
        self.limits = limits
        self.name = name
        self.ssl = ssl_context
        self.identify = identify
        self.capped = capped
        self.server: web.Server | None = None
        self.tally = Tally(log, f"{name}: connections dropped", limits.log_interval_s, logging.INFO)
        self.live: set[Connection] = set()
        self.waiting: dict[Connection, None] = {}  # unauthenticated, oldest first
        self.per_address: Counter[str] = Counter()
        self.per_member: Counter[Hashable] = Counter()
        self._by_handler: dict[RequestHandler, Connection] = {}
        self._closed = False
        self._churn = 0
        self._trim: asyncio.TimerHandle | None = None

    # -- what aiohttp and the site see ------------------------------------------------------------

    def protocol(self) -> Connection:
        """The protocol factory for loop.create_server."""
        return Connection(self)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Stop the header deadline when a handler starts; start the body's; the idle one after."""
        conn = self._by_handler.get(request.protocol)
        if conn is None:
            return await handler(request)
        conn.request_started(request)
        try:
            response = await handler(request)
            if conn.cut:
                response.force_close()
            return response
        finally:
            conn.request_ended()

    def site(
        self, runner: web.BaseRunner, host: str | None, port: int, backlog: int = 128
    ) -> GatedSite:
        """A site for `runner` whose connections come through this gate."""
        self.server = runner.server
        return GatedSite(runner, self, host, port, backlog=backlog)

    def close(self) -> None:
        """Refuse new connections; drop those still in their handshake (aiohttp shuts the rest)."""
        self._closed = True
        for conn in list(self.live):
            if conn.handler is None:
                conn.abort()
                self._leave(conn)
        if self._trim is not None:
            self._trim.cancel()
            self._trim = None
        self.tally.close()

    # -- admission --------------------------------------------------------------------------------

    def _arrive(self, conn: Connection, transport: asyncio.Transport) -> None:
        self._churn += 1
        if self._closed:
            _reset(transport)
            return
        if not self.capped:
            self._register(conn, "")
            conn.attach(transport)
            return
        address = address_key(transport.get_extra_info("peername"))
        if len(self.live) >= self.limits.connections:
            self._refuse(transport, "connection cap")
            return
        if self.per_address[address] >= self.limits.per_address:
            self._refuse(transport, "per-address cap")
            return
        if len(self.waiting) >= self.limits.unauthenticated:
            victim = self._displaceable()
            if victim is None:
                self._refuse(transport, "unauthenticated cap")
                return
            victim.abort()
            self._leave(victim)
            self.tally.add("displaced at the unauthenticated cap")
        self._register(conn, address)
        if self.ssl is None:
            conn.attach(transport)
            return
        transport.pause_reading()  # the ClientHello is TLS's
        conn.task = asyncio.get_running_loop().create_task(self._handshake(conn, transport))

    def _displaceable(self) -> Connection | None:
        """The oldest idle unauthenticated connection of the address that holds the most."""
        most = max(self.per_address.values(), default=0)
        idle = [c for c in self.waiting if not c.busy]
        return next((c for c in idle if self.per_address[c.address] == most), None) or next(
            iter(idle), None
        )

    def _refuse(self, transport: asyncio.Transport, why: str) -> None:
        _reset(transport)
        self.tally.add(f"refused at the {why}")

    def _register(self, conn: Connection, address: str) -> None:
        conn.registered = True
        conn.address = address
        self.live.add(conn)
        self.waiting[conn] = None
        self.per_address[address] += 1

    def _unwait(self, conn: Connection) -> None:
        if conn in self.waiting:
            del self.waiting[conn]
            self.per_address[conn.address] -= 1
            if self.per_address[conn.address] <= 0:
                del self.per_address[conn.address]

    def _leave(self, conn: Connection) -> None:
        """Forget a connection (idempotent): it closed, or is being closed."""
        conn.cancel_timer()
        if not conn.registered:
            return
        conn.registered = False
        self.live.discard(conn)
        self._unwait(conn)
        if conn.member is not None:
            self.per_member[conn.member] -= 1
            if self.per_member[conn.member] <= 0:
                del self.per_member[conn.member]
        if conn.handler is not None:
            self._by_handler.pop(conn.handler, None)
        conn.task = None  # a handshake under way ends when its transport is aborted
        self._maybe_trim()

    async def _handshake(self, conn: Connection, tcp: asyncio.Transport) -> None:
        """TLS within the deadline; then a member moves to its own count, and aiohttp takes over."""
        if self.ssl is None:
            raise RuntimeError("a gate without TLS has no handshake")
        loop = asyncio.get_running_loop()
        try:
            if conn.gone() or tcp.is_closing():
                return
            tls = await loop.start_tls(
                tcp,
                conn,
                self.ssl,
                server_side=True,
                ssl_handshake_timeout=self.limits.handshake_s,
            )
        except asyncio.CancelledError:
            tcp.abort()
            self._leave(conn)
            raise
        except Exception as exc:  # noqa: BLE001 - whatever a stranger sent, the answer is to hang up
            deadline = isinstance(exc, ConnectionAbortedError) and "longer" in str(exc)
            self.tally.add("closed at the handshake deadline" if deadline else "handshake failed")
            log.debug("%s: handshake failed: %r", self.name, exc)
            # The traceback holds start_tls's frame, which holds the future that holds the
            # exception: a cycle that would keep this connection's 256 KiB TLS buffer until
            # the next full garbage collection. Cut it, so the buffer goes now.
            exc.__traceback__ = None
            tcp.abort()
            self._leave(conn)
            return
        if tls is None or conn.gone():  # the client hung up mid-handshake (None: cleanly)
            if tls is not None:
                tls.abort()
            self._leave(conn)
            return
        conn.transport = tls
        cert = peer_certificate(tls.get_extra_info("ssl_object"))
        member = self.identify(cert) if cert is not None and self.identify is not None else None
        if member is not None:
            if self.per_member[member] >= self.limits.per_member:
                self.tally.add("refused at the per-member cap")
                tls.abort()
                self._leave(conn)
                return
            self._unwait(conn)
            conn.member = member
            self.per_member[member] += 1
        conn.attach(tls)

    def _maybe_trim(self) -> None:
        if self.ssl is None or self.waiting or self._churn < _TRIM_AFTER or self._trim is not None:
            return
        self._trim = asyncio.get_running_loop().call_later(_TRIM_DELAY_S, self._give_back)

    def _give_back(self) -> None:
        self._trim = None
        if self.waiting:  # another wave: trim when it is over
            return
        self._churn = 0
        memory.give_back()

    def _attach(self, conn: Connection) -> RequestHandler:
        if self.server is None:
            raise RuntimeError("a gate serves through its site()")
        handler = self.server()
        self._by_handler[handler] = conn
        return handler


class Connection(asyncio.Protocol):
    """One accepted connection: counted by its gate, timed, and passed on to aiohttp."""

    def __init__(self, gate: Gate) -> None:
        self.gate = gate
        self.transport: asyncio.Transport | None = None
        self.handler: RequestHandler | None = None
        self.registered = False
        self.address = ""
        self.member: Hashable | None = None
        self.busy = False
        self.cut = False  # its request's body was late: it ends after the answer
        self.task: asyncio.Task[None] | None = None
        self._request: web.BaseRequest | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._early: list[bytes] = []
        self._early_size = 0

    # -- asyncio.Protocol: passed on to aiohttp once it has the connection ------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.gate._arrive(self, self.transport)

    def data_received(self, data: bytes) -> None:
        if self.handler is not None:
            self.handler.data_received(data)
            return
        self._early.append(data)
        self._early_size += len(data)
        if self._early_size > _MAX_EARLY:
            self.abort()

    def eof_received(self) -> bool | None:
        if self.handler is not None:
            return self.handler.eof_received()  # type: ignore[func-returns-value]
        return None

    def connection_lost(self, exc: BaseException | None) -> None:
        self.gate._leave(self)
        handler, self.handler = self.handler, None
        if handler is not None:
            handler.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.handler is not None:
            self.handler.pause_writing()

    def resume_writing(self) -> None:
        if self.handler is not None:
            self.handler.resume_writing()

    # -- the gate's side --------------------------------------------------------------------------

    def gone(self) -> bool:
        """Closed, or let go by the gate."""
        return not self.registered

    def attach(self, transport: asyncio.Transport) -> None:
        """Hand the (now TLS) connection to aiohttp; its first headers are due in headers_s."""
        self.transport = transport
        self.handler = self.gate._attach(self)
        self.handler.connection_made(transport)
        self._arm(self.gate.limits.headers_s)
        early, self._early = self._early, []
        for chunk in early:
            if self.gone():  # the handler closed the connection
                break
            self.handler.data_received(chunk)

    def request_started(self, request: web.BaseRequest) -> None:
        """Headers are in: the body, if any, is due in body_s; nothing else is timed."""
        self.busy = True
        self._request = request
        if request.body_exists and not request.content.is_eof():
            self._arm(self.gate.limits.body_s)
        else:
            self.cancel_timer()

    def request_ended(self) -> None:
        """The handler returned: the next request's headers are due in idle_s."""
        self.busy = False
        self._request = None
        if self.registered:
            self._arm(_GRACE_S if self.cut else self.gate.limits.idle_s)

    def abort(self) -> None:
        """Close now, without flushing."""
        self.cancel_timer()
        if self.transport is not None:
            self.transport.abort()

    def cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self, seconds: float) -> None:
        self.cancel_timer()
        self._timer = asyncio.get_running_loop().call_later(seconds, self._expire)

    def _expire(self) -> None:
        self._timer = None
        if not self.busy:
            if not self.cut:
                self.gate.tally.add("closed at the header deadline")
            self.abort()
        elif self.cut:  # its handler does not read what it was sent: no answer then
            self.abort()
        elif self._request is not None and not self._request.content.is_eof():
            # The handler's read fails (LateBody) and is answered; the connection ends after.
            self.gate.tally.add("closed at the body deadline")
            self.cut = True
            self._request.content.set_exception(LateBody(text="the request body came too slowly"))
            self._arm(_GRACE_S)


class GatedSite(web.BaseSite):
    """An aiohttp site listening on host:port, every connection admitted by a Gate."""

    def __init__(
        self,
        runner: web.BaseRunner,
        gate: Gate,
        host: str | None,
        port: int,
        *,
        backlog: int = 128,
    ) -> None:
        super().__init__(runner, backlog=backlog)
        self._gate = gate
        self._host = host
        self._port = port

    @property
    def name(self) -> str:
        scheme = "https" if self._gate.ssl is not None else "http"
        host = self._host or "0.0.0.0"  # noqa: S104 - only a display name
        return f"{scheme}://{host}:{self._port}"

    @property
    def port(self) -> int:
        """The port bound (the one asked for until started)."""
        sockets = getattr(self._server, "sockets", None)
        return int(sockets[0].getsockname()[1]) if sockets else self._port

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._gate.protocol, self._host, self._port, backlog=self._backlog
        )

    async def stop(self) -> None:
        self._gate.close()
        await super().stop()
