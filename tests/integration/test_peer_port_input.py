"""Garbage sent to the peer port (mutual TLS, open to the LAN) is refused, never a crash.

Every route but /peer/v1/pair/* (tested with pairing) gets what a stranger or a confused
peer might send: no certificate, the wrong method, bodies that are not CBOR, CBOR of the
wrong shape, empty and huge messages. HTTP answers are 4xx; a sync session that receives
a message it cannot read ends, and the daemon logs no traceback and keeps serving.

A member certificate is needed to get past the membership check: the test presents the
daemon's own (from its home: tests keep the store key in a file), which is a member.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import socket
import sqlite3
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.integration.daemon import Daemon
from twofold.daemon import keystore
from twofold.daemon.home import Home
from twofold.daemon.tls import DeviceTls
from twofold.daemon.vault_service import _SEED_LABEL
from twofold.protocol import cbor
from twofold.protocol.identity import DeviceKey

SYNC = "/peer/v1/sync"
TIMEOUT = aiohttp.ClientTimeout(total=10)


@pytest.fixture(scope="module")
def peer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Daemon, DeviceTls]]:
    """A daemon, and its own TLS identity as files a test client can present."""
    root = tmp_path_factory.mktemp("peer")
    d = Daemon(root / "home").start()
    try:
        yield d, member_tls(d.home, root / "client")
    finally:
        d.kill()


def member_tls(home: Path, into: Path) -> DeviceTls:
    with sqlite3.connect(home / "twofold.db") as db:
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    store_key = keystore.load(Home(home), "file", meta["store_key_source"].decode())
    device = DeviceKey(store_key.open(meta["device_seed"], _SEED_LABEL))
    into.mkdir(mode=0o700)
    return DeviceTls.prepare(Home(into), device)


def context(tls: DeviceTls | None) -> ssl.SSLContext:
    """A client that does not check the server (not what is under test) and presents `tls`."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if tls is not None:
        ctx.load_cert_chain(tls.cert_file, tls.key_file, password=tls.password)
    return ctx


def url(d: Daemon, path: str) -> str:
    return f"https://127.0.0.1:{d.peer_port}{path}"


async def _http(
    d: Daemon, tls: DeviceTls | None, method: str, path: str, **kw: Any
) -> tuple[int, bytes]:
    if isinstance(kw.get("data"), bytes):
        kw["data"] = io.BytesIO(kw["data"])  # aiohttp warns about large raw bytes
    async with (
        aiohttp.ClientSession(
            timeout=TIMEOUT, connector=aiohttp.TCPConnector(force_close=True)
        ) as s,
        s.request(method, url(d, path), ssl=context(tls), **kw) as r,
    ):
        answer = r.status, await r.read()
    await asyncio.sleep(0.05)  # let the TLS transport finish closing before the loop ends
    return answer


def http(d: Daemon, tls: DeviceTls | None, method: str, path: str, **kw: Any) -> int:
    return asyncio.run(_http(d, tls, method, path, **kw))[0]


def send_body(d: Daemon, tls: DeviceTls | None, method: str, path: str, body: bytes) -> int:
    """The status for a request with this body, read even when the server answers (and
    hangs up) before the body is all sent, as it may for a route that takes none."""
    with (
        socket.create_connection(("127.0.0.1", d.peer_port), timeout=10) as raw,
        context(tls).wrap_socket(raw) as conn,
    ):
        head = f"{method} {path} HTTP/1.1\r\nHost: peer\r\nContent-Length: {len(body)}\r\n\r\n"
        conn.sendall(head.encode())
        with contextlib.suppress(OSError):
            for start in range(0, len(body), 64 * 1024):
                conn.sendall(body[start : start + 64 * 1024])
        answer = b""
        with contextlib.suppress(OSError):
            while b"\r\n" not in answer and (chunk := conn.recv(4096)):
                answer += chunk
    # A server that answers and closes with bytes of ours unread resets the connection,
    # which can discard its answer before we read it: that is a refusal too (0).
    return int(answer.split(b" ", 2)[1]) if answer else 0


def log_since(d: Daemon, offset: int) -> str:
    return d.stderr()[offset:]


def assert_quiet(d: Daemon, offset: int) -> None:
    """Nothing the request caused was logged as an error or with a traceback."""
    new = log_since(d, offset)
    assert "Traceback" not in new, new[-3000:]
    assert " ERROR " not in new, new[-3000:]


def still_serving(d: Daemon) -> None:
    assert d.request("GET", "/status").status == 200


GARBAGE_BODIES = {
    "not CBOR": b"\xff\xfe\xfd",
    "empty": b"",
    "CBOR integer": cbor.dumps(5),
    "CBOR map of wrong types": cbor.dumps({"t": 5, "ops": "x"}),
    "huge": b"\x00" * (5 * 1024 * 1024),
}


@pytest.mark.parametrize("member", [False, True], ids=["stranger", "member"])
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("body", list(GARBAGE_BODIES), ids=list(GARBAGE_BODIES))
def test_a_body_sent_to_the_sync_route_is_refused_with_a_4xx(
    peer: tuple[Daemon, DeviceTls], member: bool, method: str, body: str
) -> None:
    d, tls = peer
    offset = len(d.stderr())
    status = send_body(d, tls if member else None, method, SYNC, GARBAGE_BODIES[body])
    assert 400 <= status < 500 or (status == 0 and body == "huge"), status
    assert_quiet(d, offset)
    still_serving(d)


@pytest.mark.parametrize(
    "path", [SYNC, "/peer/v1/sync/", "/peer/v1/nothing", "/", "/api/v1/status"]
)
def test_a_stranger_without_a_member_certificate_gets_a_4xx(
    peer: tuple[Daemon, DeviceTls], path: str
) -> None:
    d, _ = peer
    offset = len(d.stderr())
    status = http(d, None, "GET", path)
    assert 400 <= status < 500, status
    if path == SYNC:
        assert status == 403
    assert_quiet(d, offset)


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 400),  # not a WebSocket upgrade
        ({"Upgrade": "websocket", "Connection": "Upgrade"}, 400),  # no key, no version
        (
            {
                "Upgrade": "websocket",
                "Connection": "Upgrade",
                "Sec-WebSocket-Version": "99",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            },
            400,
        ),
        (
            {
                "Upgrade": "websocket",
                "Connection": "Upgrade",
                "Sec-WebSocket-Version": "13",
                "Sec-WebSocket-Key": "short",
            },
            400,
        ),
    ],
)
def test_a_member_whose_upgrade_is_malformed_gets_a_4xx(
    peer: tuple[Daemon, DeviceTls], headers: dict[str, str], status: int
) -> None:
    d, tls = peer
    offset = len(d.stderr())
    assert http(d, tls, "GET", SYNC, headers=headers) == status
    assert_quiet(d, offset)


def test_a_member_whose_websocket_key_is_not_ascii_gets_a_4xx(
    peer: tuple[Daemon, DeviceTls],
) -> None:
    d, tls = peer
    offset = len(d.stderr())
    headers = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "\xff" * 24,
    }
    assert http(d, tls, "GET", SYNC, headers=headers) == 400
    assert_quiet(d, offset)


async def _session(d: Daemon, tls: DeviceTls, frames: list[bytes | str]) -> list[Any]:
    """Open a sync session, send `frames`, and collect what comes back for a moment."""
    got: list[Any] = []
    async with (
        aiohttp.ClientSession(
            timeout=TIMEOUT, connector=aiohttp.TCPConnector(force_close=True)
        ) as s,
        s.ws_connect(url(d, SYNC), ssl=context(tls), max_msg_size=16 * 1024 * 1024) as ws,
    ):
        got.append(cbor.loads((await ws.receive()).data, "first"))  # the daemon's vector
        for frame in frames:
            if isinstance(frame, str):
                await ws.send_str(frame)
            else:
                await ws.send_bytes(frame)
        try:
            async with asyncio.timeout(2):
                async for message in ws:
                    got.append(cbor.loads(message.data, "answer"))
        except TimeoutError:
            got.append("open")
        got.append(("closed", ws.close_code))
    await asyncio.sleep(0.05)  # let the TLS transport finish closing before the loop ends
    return got


MALFORMED = {
    "not CBOR": b"\xff\xfe\xfd",
    "empty frame": b"",
    "CBOR integer": cbor.dumps(5),
    "CBOR list": cbor.dumps([1, 2]),
    "unknown kind": cbor.dumps({"t": "hello"}),
    "kind of wrong type": cbor.dumps({"t": 5}),
    "vector not a map": cbor.dumps({"t": "vector", "v": "x", "h": {}}),
    "vector with a negative seq": cbor.dumps({"t": "vector", "v": {b"a" * 32: -1}, "h": {}}),
    "vector keyed by text": cbor.dumps({"t": "vector", "v": {"a": 1}, "h": {}}),
    "vector without tips": cbor.dumps({"t": "vector", "v": {}}),
    "ops not a list": cbor.dumps({"t": "ops", "ops": 5}),
    "ops of text": cbor.dumps({"t": "ops", "ops": ["x"]}),
    "truncated": cbor.dumps({"t": "vector", "v": {}, "h": {}})[:-1],
    "stray bytes": cbor.dumps({"t": "caught-up"}) + b"\x00",
    "deep nesting": b"\x81" * 100_000 + b"\x00",
    "indefinite arrays": b"\x9f" * 1000,
    "bad decimal fraction tag": b"\xc4\x82\x1b\x7f\xff\xff\xff\xff\xff\xff\xff\x01",
    "bad UUID tag": b"\xd8\x25\x41\x00",
    "infinite date tag": b"\xc1\xfb\x7f\xf0\x00\x00\x00\x00\x00\x00",
    "map with a list key": b"\xa1\x80\x00",
    "over the sync message limit": b"\x00" * (3 * 1024 * 1024),
}


@pytest.mark.parametrize("frame", list(MALFORMED), ids=list(MALFORMED))
def test_a_sync_message_that_cannot_be_read_ends_the_session_quietly(
    peer: tuple[Daemon, DeviceTls], frame: str
) -> None:
    d, tls = peer
    offset = len(d.stderr())
    got = asyncio.run(_session(d, tls, [MALFORMED[frame]]))
    assert got[-1][0] == "closed"
    assert got[-1][1] not in (None, 1006), got  # a close frame, not a dropped socket
    assert_quiet(d, offset)
    still_serving(d)


def test_a_frame_over_the_websocket_limit_ends_the_session_quietly(
    peer: tuple[Daemon, DeviceTls],
) -> None:
    """aiohttp refuses a frame over max_msg_size itself; the session ends as if closed."""
    d, tls = peer
    offset = len(d.stderr())
    got = asyncio.run(_session(d, tls, [b"\x00" * (5 * 1024 * 1024)]))
    assert got[-1][0] == "closed"
    assert_quiet(d, offset)
    still_serving(d)


def test_a_text_frame_ends_the_session_like_a_close(peer: tuple[Daemon, DeviceTls]) -> None:
    d, tls = peer
    offset = len(d.stderr())
    got = asyncio.run(_session(d, tls, ["hello"]))
    assert got[-1][0] == "closed"
    assert_quiet(d, offset)


@pytest.mark.parametrize(
    "frame",
    [
        cbor.dumps({"t": "ops", "ops": [b"not an op"]}),  # refused op by op, not the session
        cbor.dumps({"t": "ops", "ops": []}),
        cbor.dumps({"t": "caught-up"}),
        cbor.dumps({"t": "vector", "v": {b"a" * 32: 2**62}, "h": {}}),
    ],
    ids=["an op that is garbage", "no ops", "caught-up unasked", "a vector from nowhere"],
)
def test_well_formed_messages_that_make_no_sense_are_taken_in_stride(
    peer: tuple[Daemon, DeviceTls], frame: bytes
) -> None:
    """The control: a message of the right shape is judged for what it says, quietly."""
    d, tls = peer
    offset = len(d.stderr())
    got = asyncio.run(_session(d, tls, [frame]))
    assert got[0]["t"] == "vector"
    assert "open" in got  # the session goes on
    assert_quiet(d, offset)
    still_serving(d)
