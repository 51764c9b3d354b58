"""The synchronous client: a thin wrapper that runs AsyncClient on an event loop of its own.

Nothing of the API is written twice. Each operation of `Client` is one line,
`status = _blocking(AsyncClient.status)`, which makes the blocking twin of the coroutine
method: same name, parameters, docstring and result, and the same errors, since the
exception the coroutine raises is the one the caller gets. A test
(tests/unit/test_sdk_sync.py) holds the two surfaces equal, so an async method without
its twin here fails it.

Why one line per operation rather than a loop over AsyncClient, `__getattr__` or
`__init_subclass__`: mypy (strict, as `make lint` runs it) must see the methods. The
helpers are typed with a ParamSpec, so mypy derives each twin's signature from the async
method (`Client().status` is `def () -> Status`): a call with a wrong argument fails type
checking, as it would on AsyncClient, and no signature is copied by hand to drift.
Generated source (unasync) would have done as much for mypy but would put 43 copies of
every signature and docstring back into the tree, which is what issue 15 was about.

Why a loop in a thread of its own, rather than `asyncio.run` or an `asyncio.Runner` in
the caller's thread: those refuse to run where an event loop runs already (a Jupyter
notebook, a coroutine calling a blocking library, an async web framework's thread). The
client hands each coroutine to its loop with `call_soon_threadsafe` and waits for it; the
caller's thread, running a loop or not, only blocks, as for any blocking call (inside
async code, AsyncClient does not block the loop). The thread is a daemon thread, so a
client never closed does not keep the interpreter alive; `close()` (or leaving a `with`
block) closes the HTTP session, stops the loop and joins the thread. A client used again
after `close()` starts a new one, as AsyncClient opens a new session.

Timeouts are AsyncClient's own (its aiohttp timeouts raise DaemonUnreachable); the
caller waits without a limit of its own, so the two clients give up at the same moment.
A Ctrl-C (KeyboardInterrupt) while waiting cancels the call on the loop, waits briefly
for it to unwind, and propagates; the client stays usable, as the CLI needs after
"Stopped waiting".
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import re
import threading
import weakref
from collections.abc import AsyncGenerator, Callable, Coroutine, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, Self, TypeVar

from .client import DEFAULT_TIMEOUT, AsyncClient
from .home import Endpoint

P = ParamSpec("P")
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

CANCEL_GRACE_S = 1.0
"""How long an interrupted call is given to unwind on the loop before the interrupt goes on."""
_WAKE_S = 0.5
"""How often a waiting caller checks that the loop thread is still there (and, on Windows,
lets a Ctrl-C through)."""


class _LoopThread:
    """An event loop of one Client's own, run by `asyncio.run` in a daemon thread."""

    def __init__(self) -> None:
        ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Future[AsyncClient | None] | None = None
        self._thread = threading.Thread(
            target=asyncio.run, args=(self._serve(ready),), name="twofold-sdk-loop", daemon=True
        )
        self._thread.start()
        while not ready.wait(_WAKE_S):
            if not self._thread.is_alive():
                raise RuntimeError("the sync client's event loop did not start")

    async def _serve(self, ready: threading.Event) -> None:
        loop = asyncio.get_running_loop()
        self._loop, self._stopping = loop, loop.create_future()
        ready.set()
        client = await self._stopping
        if client is not None:
            await client.close()
        # asyncio.run then cancels what is left, closes open event streams, closes the loop

    @property
    def alive(self) -> bool:
        """Whether the loop still takes calls."""
        return self._thread.is_alive() and self._stopping is not None and not self._stopping.done()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run the coroutine on the loop and wait for its result (or its exception)."""
        loop = self._loop
        if loop is None or threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("the sync client cannot be called from its own event loop")
        if not self.alive:  # an event stream outliving Client.close()
            coro.close()
            raise RuntimeError("the sync client was closed, and its event streams with it")
        done = threading.Event()
        tasks: list[asyncio.Task[T]] = []

        def start() -> None:
            task = loop.create_task(coro)
            task.add_done_callback(lambda _: done.set())
            tasks.append(task)

        try:
            loop.call_soon_threadsafe(start)
        except RuntimeError:  # the loop closed meanwhile
            coro.close()
            raise

        def cancel() -> None:
            if tasks:
                tasks[0].cancel()

        try:
            while not done.wait(_WAKE_S):
                if not self._thread.is_alive():
                    raise RuntimeError("the sync client was closed while a call waited")
        except BaseException:  # KeyboardInterrupt: stop the call, as asyncio.run would
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(cancel)
            done.wait(CANCEL_GRACE_S)
            raise
        return tasks[0].result()

    def stop(self, client: AsyncClient | None = None) -> None:
        """Close the client's session on the loop, stop the loop, and wait for the thread
        (unless called on it, as a finalizer may be)."""
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and self._thread.is_alive():
            with contextlib.suppress(RuntimeError):  # closed meanwhile
                loop.call_soon_threadsafe(_settle, stopping, client)
        if threading.current_thread() is not self._thread:
            self._thread.join()


def _settle(stopping: asyncio.Future[AsyncClient | None], client: AsyncClient | None) -> None:
    if not stopping.done():
        stopping.set_result(client)


def _blocking(
    method: Callable[Concatenate[AsyncClient, P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[Client, P], T]:
    """The blocking twin of a coroutine method of AsyncClient."""

    def call(self: Client, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._run(method(self._async, *args, **kwargs))

    return _twin(call, method, inspect.signature(method))


def _iterating(
    method: Callable[Concatenate[AsyncClient, P], AsyncGenerator[T, None]],
) -> Callable[Concatenate[Client, P], Iterator[T]]:
    """The blocking twin of an async generator method of AsyncClient: a plain iterator that
    waits for each item, and closes the stream when the caller stops iterating."""

    def call(self: Client, /, *args: P.args, **kwargs: P.kwargs) -> Iterator[T]:
        return self._iterate(method(self._async, *args, **kwargs))

    signature = inspect.signature(method)
    found = _ASYNC_ITERATOR.fullmatch(str(signature.return_annotation))
    if found is None:
        raise TypeError(f"{method.__qualname__} is not annotated as an AsyncGenerator[X, None]")
    return _twin(call, method, signature.replace(return_annotation=f"Iterator[{found[1]}]"))


_ASYNC_ITERATOR = re.compile(r"AsyncGenerator\[(.+), None\]")


def _twin(call: F, method: Callable[..., Any], signature: inspect.Signature) -> F:
    """Give the twin its async original's name, docstring and signature (sync where the
    result is a stream), for help(), inspect and the test that holds the surfaces equal."""
    call.__name__ = method.__name__
    call.__qualname__ = f"Client.{method.__name__}"
    call.__doc__ = method.__doc__
    call.__dict__["__signature__"] = signature
    call.__dict__["__wrapped__"] = method
    call.__annotations__ = {
        name: p.annotation
        for name, p in signature.parameters.items()
        if p.annotation is not inspect.Parameter.empty
    } | {"return": signature.return_annotation}
    return call


async def _step(stream: AsyncGenerator[T, None]) -> list[T]:
    """The stream's next item, or [] at its end (StopAsyncIteration does not cross a Task)."""
    try:
        return [await anext(stream)]
    except StopAsyncIteration:
        return []


async def _aclose(stream: AsyncGenerator[Any, None]) -> None:
    with contextlib.suppress(RuntimeError):  # still unwinding from an interrupted step
        await stream.aclose()


class Client:
    """The blocking twin of AsyncClient, for scripts, the CLI and notebooks; use it as a
    context manager. It may be called from any thread, one running an event loop included:
    its calls run on a loop of its own, in a thread of its own."""

    def __init__(self, home: str | Path | None = None, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._async = AsyncClient(home, timeout=timeout)
        self._lock = threading.Lock()
        self._loop: _LoopThread | None = None
        self._finalizer: weakref.finalize[..., Client] | None = None

    @property
    def home(self) -> Path:
        """The home whose daemon this client talks to."""
        return self._async.home

    @property
    def timeout(self) -> float:
        """Seconds to wait for an answer (operations that derive keys get longer)."""
        return self._async.timeout

    @property
    def endpoint(self) -> Endpoint:
        """The daemon's address and token, read from the home at first use."""
        return self._async.endpoint

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP session, stop the private event loop and join its thread; the
        client starts new ones if used again."""
        with self._lock:
            finalizer, self._finalizer, self._loop = self._finalizer, None, None
        if finalizer is not None:
            finalizer()

    def _running(self) -> _LoopThread:
        """This client's loop, started at first use (and again after close)."""
        with self._lock:
            if self._loop is None or not self._loop.alive:
                if self._finalizer is not None:
                    self._finalizer()
                self._loop = _LoopThread()
                # a client dropped without close() still closes its session and loop
                self._finalizer = weakref.finalize(self, self._loop.stop, self._async)
            return self._loop

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run one call of the async client on this client's own loop."""
        return self._running().run(coro)

    def _iterate(self, stream: AsyncGenerator[T, None]) -> Iterator[T]:
        """An async stream read one item per blocking step; closed when the caller stops."""
        loop = self._running()
        try:
            while items := loop.run(_step(stream)):
                yield items[0]
        finally:
            if loop.alive:
                loop.run(_aclose(stream))

    # -- the operations of AsyncClient, blocking (in its order) ---------------------------

    status = _blocking(AsyncClient.status)
    unlock = _blocking(AsyncClient.unlock)
    lock = _blocking(AsyncClient.lock)
    set_passphrase = _blocking(AsyncClient.set_passphrase)
    remove_passphrase = _blocking(AsyncClient.remove_passphrase)
    accounts = _blocking(AsyncClient.accounts)
    create_account_from_uri = _blocking(AsyncClient.create_account_from_uri)
    create_account = _blocking(AsyncClient.create_account)
    account = _blocking(AsyncClient.account)
    update_account = _blocking(AsyncClient.update_account)
    delete_account = _blocking(AsyncClient.delete_account)
    restore_account = _blocking(AsyncClient.restore_account)
    code = _blocking(AsyncClient.code)
    next_code = _blocking(AsyncClient.next_code)
    resolve_conflict = _blocking(AsyncClient.resolve_conflict)
    codes = _blocking(AsyncClient.codes)
    trash = _blocking(AsyncClient.trash)
    conflicts = _blocking(AsyncClient.conflicts)
    invitations = _blocking(AsyncClient.invitations)
    open_invitation = _blocking(AsyncClient.open_invitation)
    invitation = _blocking(AsyncClient.invitation)
    cancel_invitation = _blocking(AsyncClient.cancel_invitation)
    accept_invitation = _blocking(AsyncClient.accept_invitation)
    decline_invitation = _blocking(AsyncClient.decline_invitation)
    joining = _blocking(AsyncClient.joining)
    join = _blocking(AsyncClient.join)
    accept_join = _blocking(AsyncClient.accept_join)
    decline_join = _blocking(AsyncClient.decline_join)
    cancel_join = _blocking(AsyncClient.cancel_join)
    open_offer = _blocking(AsyncClient.open_offer)
    pairing = _blocking(AsyncClient.pairing)
    pair = _blocking(AsyncClient.pair)
    accept_pairing = _blocking(AsyncClient.accept_pairing)
    decline_pairing = _blocking(AsyncClient.decline_pairing)
    devices = _blocking(AsyncClient.devices)
    revoke_device = _blocking(AsyncClient.revoke_device)
    rename_this_device = _blocking(AsyncClient.rename_this_device)
    start_new_vault = _blocking(AsyncClient.start_new_vault)
    scan_qr = _blocking(AsyncClient.scan_qr)
    peers = _blocking(AsyncClient.peers)
    import_file = _blocking(AsyncClient.import_file)
    export = _blocking(AsyncClient.export)
    backup = _blocking(AsyncClient.backup)
    sign_in_link = _blocking(AsyncClient.sign_in_link)
    events = _iterating(AsyncClient.events)
