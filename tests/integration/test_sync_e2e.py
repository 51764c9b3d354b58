"""Two paired daemons apart and together again; strangers and a man in the middle."""

from __future__ import annotations

import asyncio
import ssl
import threading
from pathlib import Path

import aiohttp
import pytest

from tests.integration.daemon import Daemon
from tests.integration.test_pairing import (
    add,
    eventually,
    invite,
    issuers,
    join,
    joined,
    tampered,
)
from twofold.protocol.certificate import device_certificate
from twofold.protocol.identity import DeviceKey


@pytest.fixture
def paired(tmp_path: Path):  # type: ignore[no-untyped-def]
    yield from joined(Daemon(tmp_path / "laptop").start(), Daemon(tmp_path / "desktop").start())


def test_edits_made_while_apart_merge_into_the_same_conflict(paired) -> None:  # type: ignore[no-untyped-def]
    a, b = paired
    acc = add(a, "GitHub")
    eventually(lambda: "GitHub" in issuers(b))
    assert b.stop() == 0
    a.request("PATCH", f"/accounts/{acc['id']}", {"name": "renamed on the laptop"})
    add(a, "while the desktop was off")
    assert a.stop() == 0
    b.start()
    b.request("PATCH", f"/accounts/{acc['id']}", {"name": "renamed on the desktop"})
    a.start()
    eventually(lambda: "while the desktop was off" in issuers(b), timeout=40)
    conflicts_a = eventually(lambda: a.request("GET", "/conflicts").body["conflicts"])
    conflicts_b = eventually(lambda: b.request("GET", "/conflicts").body["conflicts"])
    assert conflicts_a == conflicts_b  # the same values, the same one shown first
    assert {v["value"] for v in conflicts_a[0]["values"]} == {
        "renamed on the laptop",
        "renamed on the desktop",
    }
    assert (
        a.request("GET", f"/accounts/{acc['id']}").body
        == b.request("GET", f"/accounts/{acc['id']}").body
    )


def _stranger_tls(tmp_path: Path) -> ssl.SSLContext:
    key = DeviceKey.generate()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    pem_key = Ed25519PrivateKey.from_private_bytes(key.seed).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (tmp_path / "stranger.key").write_bytes(pem_key)
    (tmp_path / "stranger.pem").write_text(ssl.DER_cert_to_PEM_cert(device_certificate(key)))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.load_cert_chain(tmp_path / "stranger.pem", tmp_path / "stranger.key")
    return ctx


def test_a_stranger_with_its_own_certificate_gets_nothing(paired, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a, _ = paired
    add(a, "GitHub")
    before = a.request("GET", "/accounts").body

    async def attempt(ctx: ssl.SSLContext | None) -> str:
        try:
            async with (
                aiohttp.ClientSession() as http,
                http.ws_connect(
                    f"wss://127.0.0.1:{a.peer_port}/peer/v1/sync", ssl=ctx or False
                ) as ws,
            ):
                msg = await ws.receive(timeout=5)
                return f"got {msg.type}"
        except aiohttp.WSServerHandshakeError as exc:
            return f"refused {exc.status}"
        except (aiohttp.ClientError, OSError) as exc:
            return f"failed {type(exc).__name__}"

    assert asyncio.run(attempt(_stranger_tls(tmp_path))).startswith("failed")
    assert asyncio.run(attempt(None)) == "refused 403"  # no certificate at all
    assert a.request("GET", "/accounts").body == before


class Relay:
    """A man in the middle: terminates TLS with its own certificate, forwards to the inviter."""

    def __init__(self, target_port: int, tmp_path: Path) -> None:
        key = DeviceKey.generate()
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        (tmp_path / "relay.key").write_bytes(
            Ed25519PrivateKey.from_private_bytes(key.seed).private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        (tmp_path / "relay.pem").write_text(ssl.DER_cert_to_PEM_cert(device_certificate(key)))
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(tmp_path / "relay.pem", tmp_path / "relay.key")
        self.target_port = target_port
        self.seen = bytearray()
        self.port = 0
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Relay:
        self._thread.start()
        self._ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._relay, "127.0.0.1", 0, ssl=self.ctx)
        )
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()
        self._loop.run_until_complete(server.wait_closed())
        self._loop.close()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        upstream_ctx.check_hostname = False
        upstream_ctx.verify_mode = ssl.CERT_NONE
        try:
            up_reader, up_writer = await asyncio.open_connection(
                "127.0.0.1", self.target_port, ssl=upstream_ctx
            )
        except OSError:
            writer.close()
            return

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, record: bool) -> None:
            with_suppress = (ConnectionError, ssl.SSLError, OSError)
            try:
                while data := await src.read(65536):
                    if record:
                        self.seen.extend(data)
                    dst.write(data)
                    await dst.drain()
            except with_suppress:
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer, True), pipe(up_reader, writer, False))


def test_a_man_in_the_middle_learns_nothing_and_pairing_fails(tmp_path: Path) -> None:
    a = Daemon(tmp_path / "laptop").start()
    b = Daemon(tmp_path / "desktop").start()
    try:
        inv = invite(a, accept=True)
        with Relay(a.peer_port, tmp_path) as relay:
            via_relay = tampered(inv["link"], p=relay.port)
            result = join(b, via_relay)
            assert result["state"] == "failed"
            assert "someone may be in between" in result["error"]
            secret = bytes.fromhex(_secret_hex(inv["link"]))
            assert secret not in relay.seen
        assert a.request("GET", f"/invitations/{inv['id']}").body["state"] == "open"
        assert a.request("GET", "/status").body["members"] == 1
        assert b.request("GET", "/status").body["members"] == 1
    finally:
        a.kill()
        b.kill()


def _secret_hex(link: str) -> str:
    import base64

    import cbor2

    data = link.removeprefix("twofold://pair/")
    return cbor2.loads(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))["s"].hex()
