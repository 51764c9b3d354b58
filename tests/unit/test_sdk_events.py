"""The SDK's event stream and sign-in link against the stand-in, and `twofold open`."""

from __future__ import annotations

import asyncio
import webbrowser

import pytest

from twofold.clients import sdk
from twofold.clients.sdk.events import read_events

from .cli_runner import run
from .test_sdk_fakedaemon import FakeDaemon


async def collect(client: sdk.AsyncClient) -> list[sdk.Event]:
    return [event async for event in client.events()]


def test_events_are_parsed_with_their_kind_data_and_id(fake: FakeDaemon) -> None:
    fake.events = [
        ": keepalive\n\n",
        'id: 7\nevent: accounts\ndata: {"ids": ["ab"], "local": false}\n\n',
        "event: devices\ndata: {}\n\n",
        'id: 9\r\nevent: sync\r\ndata: {"device": "X",\r\ndata:  "received": 3}\r\n\r\n',
    ]

    async def go() -> list[sdk.Event]:
        async with sdk.AsyncClient(fake.home) as client:
            return await collect(client)

    events = asyncio.run(go())
    assert events == [
        sdk.Event("hello", {"device": "D"}),
        sdk.Event("accounts", {"ids": ["ab"], "local": False}, 7),
        sdk.Event("devices", {}),
        sdk.Event("sync", {"device": "X", "received": 3}, 9),
    ]
    assert fake.seen[-1].authorization is not None


def test_the_sync_client_iterates_events_and_stops_when_asked(fake: FakeDaemon) -> None:
    fake.events = ["event: devices\ndata: {}\n\n", "event: peers\ndata: {}\n\n"]
    with sdk.Client(fake.home) as client:
        kinds = []
        for event in client.events():
            kinds.append(event.kind)
            if event.kind == "devices":
                break
        assert kinds == ["hello", "devices"]
        assert client.status().version == "0.1.0"


def test_event_data_that_is_not_a_json_object_is_a_protocol_mismatch() -> None:
    async def lines() -> object:
        for line in (b"event: accounts\n", b"data: [1]\n", b"\n"):
            yield line

    async def go() -> None:
        async for _ in read_events(lines()):  # type: ignore[arg-type]
            pass

    with pytest.raises(sdk.ProtocolMismatch, match="not a JSON object"):
        asyncio.run(go())


def test_open_prints_the_one_time_link_when_asked(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url: opened.append(url) or True)
    code, out, _ = run(fake, capsys, "open", "--print")
    assert code == 0
    assert out.splitlines()[0].startswith(f"http://127.0.0.1:{fake.port}/login#ticket=")
    assert opened == []
    code, out, _ = run(fake, capsys, "open")
    assert (code, out) == (0, "Opened Twofold in your browser.\n")
    assert len(opened) == 1
    # the browser gets a file:// URL that holds no ticket (tests/unit/test_cli_open.py)
    assert opened[0].startswith("file://")
    assert "ticket" not in opened[0]
