"""Running the daemon over one home: lock it, open the vault, serve the API, stop cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import secrets
import signal
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

from aiohttp import web

from . import config as config_module
from .api_app import make_app
from .api_routes import VERSION
from .assembly import Setup
from .door import Door, Parts
from .errors import HomeInUse
from .events import EventBus
from .home import Home, read_private, write_api_file, write_private
from .keeper import Keeper
from .limits import Limits, raise_open_file_limit
from .listener import Gate
from .quiet_log import Tally, install_accept_error_handler
from .storage import Storage

log = logging.getLogger(__name__)
HOST = "127.0.0.1"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
STOP_GRACE_S = 8.0  # a stop winds every part down in this long...
STOP_CANCEL_S = 2.0  # ...then cancels what is still running and waits this long for it


@contextlib.contextmanager
def home_lock(home: Home) -> Iterator[None]:
    """Hold the home's lock for as long as the daemon runs; a second daemon is refused."""
    fd = os.open(home.lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.read(fd, 32).decode(errors="replace").strip() or "?"
            raise HomeInUse(
                f"another Twofold daemon (pid {pid}) is already running on {home.path}"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)


def api_token(home: Home) -> str:
    """The bearer token clients read from the home; made once, kept across restarts."""
    if home.token.exists():
        token = read_private(home.token).decode().strip()
        if len(token) == 64:
            return token
    token = secrets.token_hex(32)
    write_private(home.token, token.encode() + b"\n")
    return token


async def serve(
    home_path: Path,
    port: int | None = None,
    static_peers: tuple[str, ...] = (),
    mdns: bool = True,
) -> None:
    """Run until SIGINT or SIGTERM.

    The signals are the loop's before anything else happens (main() holds them blocked
    until then), so one that comes at any moment of start-up stops the daemon cleanly:
    start-up goes no further than the step it is in, nothing more is advertised, and
    every way out removes api.json, releases the lock and closes the database.
    """
    loop = asyncio.get_running_loop()
    stop = _StopSignals(loop)
    try:
        await _serve(stop, home_path, port, static_peers, mdns)
    except _Stopped:
        pass
    finally:
        stop.close()
    if stop.stuck:  # asyncio.run would wait for them for ever; the database is closed
        log.error("exiting with tasks that ignored their cancellation")
        logging.shutdown()
        os._exit(0)


async def _serve(
    stop: _StopSignals,
    home_path: Path,
    port: int | None,
    static_peers: tuple[str, ...],
    mdns: bool,
) -> None:
    os.umask(0o077)  # the database and its WAL are as private as the key files
    home = Home(home_path)
    home.prepare()
    limits = Limits.from_env().fitted(raise_open_file_limit())
    loop = asyncio.get_running_loop()
    accept_errors = Tally(log, "cannot accept connections", limits.log_interval_s)
    restore_handler = install_accept_error_handler(loop, accept_errors)
    with contextlib.ExitStack() as stack, home_lock(home):
        stack.callback(restore_handler)
        settings = config_module.load(home)
        static = _static_addresses((*settings.peers, *static_peers))
        storage = await Storage.open(home.database)
        events = EventBus()
        setup = Setup(home, settings, limits, static, mdns, events)
        keeper = Keeper(Door(events), setup, storage)
        runner: web.AppRunner | None = None
        try:
            stop.check()
            await keeper.start(stop.check)
            stop.check()
            keeper.watch_idle()
            app = make_app(keeper, api_token(home), time.time())
            # Deadlines for headers and bodies, as on the peer port; no caps: only local
            # programs reach it, and the peer port's caps leave it its share of open files.
            api_gate = Gate(limits, name="local API", capped=False)
            app.middlewares.insert(0, api_gate.middleware)
            runner = web.AppRunner(
                app, access_log=None, keepalive_timeout=limits.idle_s, shutdown_timeout=2.0
            )
            await runner.setup()
            stop.check()
            site = api_gate.site(runner, HOST, settings.api_port if port is None else port)
            await site.start()
            bound = _bound_port(runner)
            saved = await storage.get_meta("peer_port")

            def tell_clients(parts: Parts | None = None) -> None:
                peer_port = parts.peer_port if parts else int(saved) if saved else None
                write_api_file(home, HOST, bound, VERSION, peer_port)

            stop.check()  # no await from here to the file: a stop comes before it or removes it
            tell_clients(keeper.door.parts() if keeper.door.is_open else None)
            keeper.when_open(tell_clients)
            log.info(
                "Twofold daemon for %s: API on http://%s:%d, %s",
                home.path,
                HOST,
                bound,
                _what_opened(keeper, settings.peer_host),
            )
            await stop.wait()
        finally:
            keeper.stop_telling()  # an unlock that ends during the stop writes no api.json
            with contextlib.suppress(FileNotFoundError):
                home.api.unlink()
            steps: list[Callable[[], Awaitable[None]]] = []
            if runner is not None:
                steps.append(runner.cleanup)
            storage_now = keeper.storage
            steps.extend(keeper.stops())
            stop.stuck = await _wind_down(steps)
            await storage_now.close()


def _what_opened(keeper: Keeper, peer_host: str) -> str:
    if not keeper.door.is_open:
        return "the vault is locked (twofold unlock opens it)"
    parts = keeper.door.parts()
    return f"peers on {peer_host}:{parts.peer_port}, device {parts.service.identity.device_id}"


def _static_addresses(texts: tuple[str, ...]) -> list[tuple[str, int]]:
    out = []
    for text in texts:
        address = config_module.parse_peer(text)
        if address is None:
            raise config_module.ConfigError(f"{text!r} is not host:port")
        out.append(address)
    return out


def _bound_port(runner: web.AppRunner) -> int:
    for server in runner.sites:
        sockets = getattr(server, "_server", None)
        if sockets is not None and sockets.sockets:
            return int(sockets.sockets[0].getsockname()[1])
    raise RuntimeError("the API did not bind a port")


class _Stopped(Exception):
    """A stop signal came during start-up: start no further."""


class _StopSignals:
    """SIGINT and SIGTERM, taken over by the loop: each only sets an event."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._event = asyncio.Event()
        self.stuck = False  # tasks outlived the stop: only leaving the process ends them
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, self._on_signal, sig)
        # main() blocked them from its first line: one that came since is delivered now
        self._mask = signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)

    def _on_signal(self, sig: int) -> None:
        if not self._event.is_set():
            log.info("stopping (%s)", signal.Signals(sig).name)
        self._event.set()

    def check(self) -> None:
        """Go no further with start-up once a stop was asked for."""
        if self._event.is_set():
            raise _Stopped

    async def wait(self) -> None:
        """Until a stop is asked for."""
        await self._event.wait()

    def close(self) -> None:
        """Hold the signals as before serve() (blocked, under main()), then let go of them.

        Under main() a signal from here on stays pending until the process exits: there is
        nothing left to stop, and no traceback or default action to die of.
        """
        signal.pthread_sigmask(signal.SIG_SETMASK, self._mask)
        for sig in STOP_SIGNALS:
            self._loop.remove_signal_handler(sig)


async def _wind_down(steps: list[Callable[[], Awaitable[None]]]) -> bool:
    """Stop each part in turn within STOP_GRACE_S, then cancel whatever still runs.

    A part that cannot stop in time (a peer that hangs mid-close, a session that will not
    end) does not keep the daemon: past the deadline every task left is cancelled, and the
    database is closed after that, by the caller, with what was acknowledged stored.
    True if some task did not end even then.
    """
    try:
        async with asyncio.timeout(STOP_GRACE_S):
            for step in steps:
                try:
                    await step()
                except Exception:  # one part failing to stop does not keep the others running
                    log.exception("while stopping")
    except TimeoutError:
        log.warning("stopping took over %.0f s: cancelling what is left", STOP_GRACE_S)
    me = asyncio.current_task()
    rest = [task for task in asyncio.all_tasks() if task is not me and not task.done()]
    for task in rest:
        task.cancel()
    if rest:
        _, stuck = await asyncio.wait(rest, timeout=STOP_CANCEL_S)
        for task in stuck:
            log.warning("a task did not end when cancelled: %r", task)
        return bool(stuck)
    return False
