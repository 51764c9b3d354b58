"""A member floods a real daemon with ops it can never place; the daemon holds its share, no more.

The attacker is a member's key in the hands of a thief (tests/integration/thief.py): it
connects to the victim's peer port with the member's own certificate, as the member's
daemon would, and speaks the sync protocol itself, sending validly signed 64 KiB ops that
name random prevs: by keys it made up a moment ago, and by the member's own key. The
victim holds none of the first (nobody added those keys), at most its per-peer share of
the second, and nothing once the connection ends; the member's honest ops that it could
not hold meanwhile reach it at the next exchange.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.eventually import eventually
from tests.integration import thief
from tests.integration.daemon import Daemon
from tests.integration.test_pairing import add, final, invite, issuers, join
from tests.unit.fleet import draft
from tests.unit.test_held_ops import junk_op
from twofold.daemon.vault_service import now_ms
from twofold.protocol import cbor, replica
from twofold.protocol.certificate import device_certificate
from twofold.protocol.envelope import MAX_OP_SIZE
from twofold.protocol.vault import Vault

pytestmark = pytest.mark.integration

CONFIG = 'mdns = false\nstore_key = "file"\n'
PAGE = 30  # 64 KiB ops per message: under the 2 MiB a sync message may carry
THROWAWAY = 10_000  # the attack: 10,000 x 64 KiB, each by a fresh key
ENDED = re.compile(
    r"session with (?P<peer>\S+) ended: dropped (?P<dropped>\d+) held ops \((?P<bytes>\d+) "
    r"bytes\); held at most (?P<peak>\d+) bytes from it; did not hold (?P<why>.*); held in all "
    r"now: (?P<ops_now>\d+) ops, (?P<bytes_now>\d+) bytes"
)


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Daemon, Daemon]]:
    """A victim and a member it trusts, in step."""
    victim = Daemon(tmp_path / "victim", config=CONFIG).start()
    member = Daemon(tmp_path / "member", config=CONFIG).start()
    try:
        join(member, invite(victim, accept=True)["link"])
        assert final(member)["state"] == "joined"
        add(member, "before")
        assert eventually(lambda: "before" in issuers(victim))
        yield victim, member
    finally:
        victim.kill()
        member.kill()


def rss(d: Daemon) -> int:
    """The daemon's resident memory, in bytes."""
    assert d.process is not None
    status = Path(f"/proc/{d.process.pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status)[1]) * 1024  # type: ignore[index]


def member_tls(vault: Vault, folder: Path) -> ssl.SSLContext:
    """The member's own certificate and key, as its daemon presents them."""
    key = Ed25519PrivateKey.from_private_bytes(vault.device.seed)
    (folder / "member.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert = ssl.DER_cert_to_PEM_cert(device_certificate(vault.device))
    (folder / "member.pem").write_text(cert)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the attacker does not care who it talks to
    ctx.load_cert_chain(folder / "member.pem", folder / "member.key")
    return ctx


def pages(vault: Vault, honest: list[bytes]) -> Iterator[list[bytes]]:
    """The flood: throwaway keys, then the member's own key (twice its share of bytes), then
    the member's real next ops newest first, which find the share full."""
    for start in range(0, THROWAWAY, PAGE):
        yield [junk_op(vault) for _ in range(min(PAGE, THROWAWAY - start))]
    own = 2 * replica.MAX_HELD_BYTES_PER_PEER // MAX_OP_SIZE
    for start in range(0, own, PAGE):
        yield [junk_op(vault, vault.device) for _ in range(min(PAGE, own - start))]
    for raw in reversed(honest):  # one per message: a batch would sort them back in order
        yield [raw]


async def flood(
    port: int, ctx: ssl.SSLContext, vault: Vault, honest: list[bytes], measure: Callable[[], int]
) -> int:
    """One sync session as the member: the flood, then a vector, and hang up once the victim
    has answered it (it reads in order, so by then it has taken in the whole flood). What
    `measure` says just before hanging up."""
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(
            f"wss://127.0.0.1:{port}/peer/v1/sync", ssl=ctx, max_msg_size=4 << 20
        ) as ws,
    ):
        answered = asyncio.Event()

        async def read() -> None:  # reading also answers the victim's heartbeats
            async for msg in ws:
                binary = msg.type is aiohttp.WSMsgType.BINARY
                if binary and cbor.loads(msg.data, "test")["t"] == "caught-up":
                    answered.set()

        reader = asyncio.create_task(read())
        for page in pages(vault, honest):
            await ws.send_bytes(cbor.dumps({"t": "ops", "ops": page}))
        await ws.send_bytes(cbor.dumps({"t": "vector", "v": {}, "h": {}}))
        await asyncio.wait_for(answered.wait(), 120)
        measured = measure()  # while the session is still open
        await ws.close()  # the reader ends with the close handshake
        await reader
        return measured


def stored_ops(d: Daemon) -> int:
    """How many ops the daemon's database holds."""
    with contextlib.closing(sqlite3.connect(d.home / "twofold.db")) as db:
        return int(db.execute("SELECT count(*) FROM ops").fetchone()[0])


def session_end(d: Daemon, peer: str) -> re.Match[str]:
    """The line the daemon logs when its session with `peer` ended."""
    ended: re.Match[str] = eventually(
        lambda: next(
            (m for m in ENDED.finditer(d.stderr()) if m["peer"] == peer),
            None,
        ),
        timeout=30,
    )
    return ended


def test_a_member_flooding_ops_it_made_up_gets_its_share_and_loses_it_on_hanging_up(
    pair: tuple[Daemon, Daemon], tmp_path: Path
) -> None:
    victim, member = pair
    member_id = str(member.request("GET", "/status").body["device"]["id"])
    assert member.stop() == 0  # its key is now the thief's
    vault = thief.open_home(member.home)
    honest = []
    for i in range(3):  # the member's real next ops, stored as its daemon stores them
        _, op = vault.create_account(draft(f"honest {i}"), now_ms())
        thief.append(member.home, op)
        honest.append(op.raw)

    stored = stored_ops(victim)
    before = rss(victim)
    peak = asyncio.run(
        flood(victim.peer_port, member_tls(vault, tmp_path), vault, honest, lambda: rss(victim))
    )
    ended = session_end(victim, member_id)
    after = rss(victim)

    share = replica.MAX_HELD_BYTES_PER_PEER
    assert 0 < int(ended["peak"]) <= share  # its own key's ops waited, within its share
    assert (int(ended["ops_now"]), int(ended["bytes_now"])) == (0, 0)  # and left with it
    assert f"{THROWAWAY} (UnknownAuthor)" in ended["why"]  # made-up keys bought nothing
    assert "(PendingLimit)" in ended["why"]
    # 655 MB of signed ops went in; the daemon kept a few MiB of them, never all.
    grown = peak - before
    print(f"victim RSS: before {before >> 20} MiB, flooded {peak >> 20} MiB, after {after >> 20}")
    assert grown < 100 * 1024 * 1024, f"RSS grew by {grown >> 20} MiB under the flood"

    # Nothing held went to disk: a restart brings back no wait, only the one honest op placed.
    assert stored_ops(victim) == stored + 1
    assert "honest 0" in issuers(victim)  # its prev was here: placed at once
    assert not {"honest 1", "honest 2"} & set(issuers(victim))
    assert victim.stop() == 0
    victim.start()
    assert "wait for ops not stored yet" not in victim.stderr()
    assert stored_ops(victim) == stored + 1

    # The honest ops it could not hold are not lost: the member's daemon sends them again.
    member.start()
    assert eventually(lambda: {"honest 1", "honest 2"} <= set(issuers(victim)), timeout=30)
    add(victim, "after the flood")
    assert eventually(lambda: "after the flood" in issuers(member), timeout=30)


def test_a_device_added_while_apart_syncs_through_a_relay(tmp_path: Path) -> None:
    """Control: the ops of a device added while b was away reach b through the member that
    added it, and nothing stays held there."""
    a = Daemon(tmp_path / "a", config=CONFIG).start()
    b = Daemon(tmp_path / "b", config=CONFIG).start()
    c = Daemon(tmp_path / "c", config=CONFIG).start()
    try:
        join(b, invite(a, accept=True)["link"])
        assert final(b)["state"] == "joined"
        assert b.stop() == 0  # b is away while a adds c and c writes
        join(c, invite(a, accept=True)["link"])
        assert final(c)["state"] == "joined"
        for i in range(20):
            add(c, f"from c {i}")
        assert eventually(lambda: len(issuers(a)) == 20)
        assert c.stop() == 0
        b.start()  # it hears of c, and c's ops, only from a
        assert eventually(lambda: len(issuers(b)) == 20, timeout=30)
        assert not [m for m in ENDED.finditer(b.stderr()) if m["ops_now"] != "0"]
    finally:
        for d in (a, b, c):
            d.kill()
