"""An address mDNS gives for a member is dialled beside the one this device has: a stranger's
copy of the record is dropped once something else answers there, and a member that really
moved is dialled at its new address from then on, by the dialer that found it.

In one process with the daemons' real parts on loopback; mDNS itself is replaced by calling
`Peers.found` as discovery does (tests/netns/test_lan.py runs the real thing)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest

from tests.integration.in_process import Api, close, open_keeper
from tests.netns.stranger import tls_context
from twofold.daemon.keeper import Keeper
from twofold.daemon.peers import Peers

pytestmark = pytest.mark.integration


async def until(check: Callable[[], bool | Awaitable[bool]]) -> None:
    """Poll `check` until it holds; fail after 15 seconds."""
    async with asyncio.timeout(15):
        while True:
            held = check()
            if not isinstance(held, bool):
                held = await held
            if held:
                return
            await asyncio.sleep(0.05)


def dialling(peers: Peers, key: bytes) -> bool:
    """This device has a session with `key` that it dialled (not one the other dialled in)."""
    return any(
        isinstance(getattr(s.channel, "ws", None), aiohttp.ClientWebSocketResponse)
        for s in peers.sessions.get(key, set())
    )


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_stranger_is_dropped_and_a_moved_member_is_dialled_where_it_went(
    tmp_path: Path,
) -> None:
    async def run() -> None:
        a = await open_keeper(tmp_path / "laptop")
        b: Keeper | None = await open_keeper(tmp_path / "desktop")
        stranger = await asyncio.start_server(
            lambda r, w: w.close(), "127.0.0.1", 0, ssl=tls_context(tmp_path)
        )
        try:
            async with Api(a) as laptop, Api(b) as desktop:
                _, inv = await laptop.call("POST", "/invitations", {"accept": True})
                await desktop.call("POST", "/join", {"link": inv["link"], "accept": True})

                async def joined() -> bool:
                    return (await desktop.call("GET", "/join"))[1]["state"] == "joined"

                await until(joined)
            peers = a.door.parts().peers
            b_key = b.door.parts().service.vault.device.public
            b_port = b.door.parts().peers.port
            old = ("127.0.0.1", closed_port())
            peers.connect(b_key, *old, found_by="remembered")  # where b used to be

            stranger_port = stranger.sockets[0].getsockname()[1]
            peers.found(b_key, "127.0.0.1", stranger_port)  # a copy of b's record
            assert ("127.0.0.1", stranger_port) in peers._trying[b_key]
            await until(lambda: not peers._trying.get(b_key))  # someone else answered there
            assert peers.addresses[b_key] == old
            assert not dialling(peers, b_key)

            peers.found(b_key, "127.0.0.1", b_port)  # b's own record: it moved
            await until(lambda: dialling(peers, b_key))
            assert peers.addresses[b_key] == ("127.0.0.1", b_port)
            assert peers.known[b_key].found_by == "mdns"
            assert not peers._trying.get(b_key)

            await close(b)  # b restarts on the same port: the dialer that found it redials
            b = None
            await until(lambda: not dialling(peers, b_key))
            b = await open_keeper(tmp_path / "desktop")
            assert b.door.parts().peers.port == b_port
            await until(lambda: dialling(peers, b_key))
        finally:
            stranger.close()
            await close(a)
            if b is not None:
                await close(b)

    asyncio.run(run())
