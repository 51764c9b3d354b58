"""The sync Client as a thin wrapper of AsyncClient: the same surface, the same errors and
timeouts, its loop in a thread of its own (so it works where an event loop runs already)."""

from __future__ import annotations

import asyncio
import gc
import inspect
import re
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from twofold.clients import sdk

from .test_sdk_fakedaemon import FakeDaemon

LOOP_THREAD = "twofold-sdk-loop"


def public_methods(cls: type) -> dict[str, Any]:
    return {
        name: value
        for name, value in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }


def sync_signature(method: Any) -> inspect.Signature:
    """The signature the blocking twin of an async method should have: the same, a stream
    of X being an Iterator[X]."""
    signature = inspect.signature(method)
    if inspect.isasyncgenfunction(method):
        item = re.fullmatch(r"AsyncGenerator\[(.+), None\]", signature.return_annotation)
        assert item is not None, f"{method.__qualname__}: annotate it AsyncGenerator[X, None]"
        signature = signature.replace(return_annotation=f"Iterator[{item[1]}]")
    return signature


def test_the_sync_client_has_a_blocking_twin_of_each_async_method() -> None:
    async_methods = public_methods(sdk.AsyncClient)
    sync_methods = public_methods(sdk.Client)
    assert all(
        inspect.iscoroutinefunction(m) or inspect.isasyncgenfunction(m)
        for m in async_methods.values()
    ), "AsyncClient's public methods are all coroutines or streams"
    assert sorted(sync_methods) == sorted(async_methods), (
        "a method of AsyncClient without its line in clients/sdk/sync.py, or one too many"
    )
    assert len(sync_methods) > 40
    for name, original in async_methods.items():
        twin = sync_methods[name]
        assert not inspect.iscoroutinefunction(twin), name
        assert not inspect.isasyncgenfunction(twin), name
        assert inspect.signature(twin) == sync_signature(original), name
        assert twin.__name__ == name
        assert twin.__qualname__ == f"Client.{name}"
        if name != "close":  # which stops the loop and its thread as well
            assert twin.__doc__ == original.__doc__, name
    assert inspect.signature(sdk.Client.events).return_annotation == "Iterator[Event]"
    bound = inspect.signature(sdk.Client(".").account)  # as help() shows it
    assert str(bound) == "(id: 'str') -> 'Account'"


def test_the_sync_client_shows_the_same_home_timeout_and_endpoint(fake: FakeDaemon) -> None:
    with sdk.Client(fake.home, timeout=3) as client:
        twin = sdk.AsyncClient(fake.home, timeout=3)
        assert (client.home, client.timeout) == (twin.home, twin.timeout) == (fake.home, 3)
        assert client.endpoint == twin.endpoint


def test_the_sync_client_raises_the_async_clients_errors(fake: FakeDaemon) -> None:
    async def asynchronously(fn: Callable[[sdk.AsyncClient], Any], wait: float) -> Any:
        async with sdk.AsyncClient(fake.home, timeout=wait) as client:
            with pytest.raises(sdk.SdkError) as caught:
                await fn(client)
            return caught.value

    def both(fn: Callable[[Any], Any], wait: float) -> tuple[BaseException, BaseException]:
        with sdk.Client(fake.home, timeout=wait) as client, pytest.raises(sdk.SdkError) as caught:
            fn(client)
        return caught.value, asyncio.run(asynchronously(fn, wait))

    for fn in (
        lambda c: c.account("ffff"),  # NotFoundError
        lambda c: c.account("not hex"),  # InvalidArgument, before sending
        lambda c: c.lock(),  # NoPassphrase
    ):
        sync_error, async_error = both(fn, 10)
        assert type(sync_error) is type(async_error)
        assert str(sync_error) == str(async_error)
    fake.delay = 0.3  # the async client's timeouts are the sync one's too
    sync_error, async_error = both(lambda c: c.status(), 0.05)
    assert type(sync_error) is type(async_error) is sdk.DaemonUnreachable
    assert str(sync_error) == str(async_error)
    assert "within 0.05 s" in str(sync_error)


def test_the_sync_event_stream_ends_with_the_daemons(fake: FakeDaemon) -> None:
    fake.events = [
        'id: 7\nevent: accounts\ndata: {"ids": ["ab"]}\n\n',
        "event: peers\ndata: {}\n\n",
    ]
    with sdk.Client(fake.home) as client:
        assert list(client.events()) == [
            sdk.Event("hello", {"device": "D"}),
            sdk.Event("accounts", {"ids": ["ab"]}, 7),
            sdk.Event("peers", {}),
        ]


def run_in_a_thread(fn: Callable[[], Any], limit: float = 20) -> Any:
    """fn's result, from a thread of its own, failing (not hanging) should it deadlock."""
    results: list[Any] = []
    errors: list[BaseException] = []

    def go() -> None:
        try:
            results.append(fn())
        except BaseException as exc:  # noqa: BLE001  # raised again in the test's thread
            errors.append(exc)

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    thread.join(limit)
    assert not thread.is_alive(), "deadlocked"
    if errors:
        raise errors[0]
    return results[0]


def test_the_sync_client_works_inside_a_running_event_loop(fake: FakeDaemon) -> None:
    """As in a notebook cell: a plain, blocking call from a coroutine, its loop running."""
    fake.add("GitHub", "alice@example.com")
    fake.events = ["event: devices\ndata: {}\n\n"]

    async def cell() -> tuple[str, list[str], list[str]]:
        asyncio.get_running_loop()  # a loop runs in this thread
        with sdk.Client(fake.home) as client:
            version = client.status().version
            kinds = [event.kind for event in client.events()]
            names = [a.name for a in client.accounts()]
        return version, kinds, names

    assert run_in_a_thread(lambda: asyncio.run(cell())) == (
        "0.1.0",
        ["hello", "devices"],
        ["alice@example.com"],
    )


def test_one_sync_client_serves_several_threads(fake: FakeDaemon) -> None:
    fake.add("GitHub", "alice@example.com")
    with sdk.Client(fake.home) as client:

        def work() -> list[int]:
            return [len(client.accounts()) for _ in range(5)]

        def all_at_once() -> list[list[int]]:
            threads = [threading.Thread(target=lambda: out.append(work())) for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            return out

        out: list[list[int]] = []
        assert run_in_a_thread(all_at_once) == [[1] * 5] * 4


def loop_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == LOOP_THREAD}


def test_closing_stops_the_loop_thread_and_a_new_call_starts_one(fake: FakeDaemon) -> None:
    before = loop_threads()
    client = sdk.Client(fake.home)
    assert loop_threads() == before, "nothing starts before the first call"
    with client:
        client.status()
        (started,) = loop_threads() - before
        assert started.daemon
    assert not started.is_alive(), "leaving the with block joined it"
    assert client.status().version == "0.1.0", "used again: a new loop"
    (again,) = loop_threads() - before
    client.close()
    client.close()  # twice is fine
    assert not again.is_alive()


def test_a_client_dropped_without_closing_stops_its_thread(fake: FakeDaemon) -> None:
    before = loop_threads()
    client = sdk.Client(fake.home)
    client.status()
    (started,) = loop_threads() - before
    del client
    gc.collect()
    started.join(5)
    assert not started.is_alive()


def test_a_stream_left_open_is_closed_with_the_client(fake: FakeDaemon) -> None:
    fake.events = ["event: devices\ndata: {}\n\n"]
    client = sdk.Client(fake.home)
    stream = client.events()
    assert next(stream).kind == "hello"
    client.close()
    with pytest.raises(RuntimeError, match="closed"):
        next(stream)
    assert client.status().version == "0.1.0"
    client.close()


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="needs pthread_kill")
def test_ctrl_c_cancels_the_call_and_the_client_stays_usable(fake: FakeDaemon) -> None:
    assert threading.current_thread() is threading.main_thread()
    fake.delay = 2.0
    with sdk.Client(fake.home) as client:
        client.status()  # the loop runs
        main = threading.main_thread().ident
        assert main is not None
        timer = threading.Timer(0.3, signal.pthread_kill, (main, signal.SIGINT))
        start = time.monotonic()
        timer.start()
        try:
            with pytest.raises(KeyboardInterrupt):
                client.status()
        finally:
            timer.cancel()
        assert time.monotonic() - start < 1.9, "the interrupt did not wait for the answer"
        fake.delay = 0
        assert client.status().version == "0.1.0"
