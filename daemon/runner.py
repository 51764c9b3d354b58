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
from collections.abc import Iterator
from pathlib import Path

from aiohttp import web

from . import config as config_module
from . import keystore
from .api_app import make_app
from .api_routes import VERSION
from .discovery import Discovery
from .errors import HomeInUse
from .home import Home, read_private, write_api_file, write_private
from .key_upkeep import KeyUpkeep
from .limits import Limits, raise_open_file_limit
from .listener import Gate
from .pairing_service import Pairing
from .peers import Peers
from .quiet_log import Tally, install_accept_error_handler
from .storage import Storage
from .tls import DeviceTls
from .vault_service import VaultService

log = logging.getLogger(__name__)
HOST = "127.0.0.1"


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
    """Run until SIGINT or SIGTERM."""
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
        storage = await Storage.open(home.database)
        runner: web.AppRunner | None = None
        peers: Peers | None = None
        service: VaultService | None = None
        discovery: Discovery | None = None
        upkeep: KeyUpkeep | None = None
        try:
            recorded = await storage.get_meta("store_key_source")
            store_key = keystore.load(
                home, settings.store_key, recorded.decode() if recorded else None
            )
            service = await VaultService.open(storage, store_key, settings.device_name)
            upkeep = service.upkeep = KeyUpkeep(service)
            upkeep.poke()  # a restart may find a key to grant or an epoch to start
            peers = Peers(service, DeviceTls.prepare(home, service.vault.device, store_key))
            pairing = Pairing(service, peers, config_module.advertised(settings))
            peer_port = await _start_peers(peers, storage, settings, limits)
            for text in (*settings.peers, *static_peers):
                address = config_module.parse_peer(text)
                if address is None:
                    raise config_module.ConfigError(f"{text!r} is not host:port")
                peers.connect_static(*address)
            if mdns and settings.mdns:
                discovery = Discovery(
                    peers, config_module.advertised(settings), list(settings.mdns_interfaces)
                )
                await discovery.start()
                pairing.joined.append(discovery.announce)
                service.vault_replaced.append(discovery.announce)
            app = make_app(service, pairing, api_token(home), time.time())
            # Deadlines for headers and bodies, as on the peer port; no caps: only local
            # programs reach it, and the peer port's caps leave it its share of open files.
            api_gate = Gate(limits, name="local API", capped=False)
            app.middlewares.insert(0, api_gate.middleware)
            runner = web.AppRunner(app, access_log=None, keepalive_timeout=limits.idle_s)
            await runner.setup()
            site = api_gate.site(runner, HOST, settings.api_port if port is None else port)
            await site.start()
            bound = _bound_port(runner)
            write_api_file(home, HOST, bound, VERSION, peer_port)
            log.info(
                "Twofold daemon for %s: API on http://%s:%d, peers on %s:%d, device %s",
                home.path,
                HOST,
                bound,
                settings.peer_host,
                peer_port,
                service.identity.device_id,
            )
            await _until_signalled()
            log.info("stopping")
        finally:
            with contextlib.suppress(FileNotFoundError):
                home.api.unlink()
            if runner is not None:
                await runner.cleanup()
            if discovery is not None:
                await discovery.stop()
            if upkeep is not None:
                await upkeep.stop()
            if peers is not None:
                await peers.stop()
            # joining a vault replaces the service's storage: close the one in use
            await (service.storage if service is not None else storage).close()


async def _start_peers(
    peers: Peers, storage: Storage, settings: config_module.Config, limits: Limits
) -> int:
    """Serve peers on the configured port, else the one used last time; dial known members."""
    saved = await storage.get_meta("peer_port")
    wanted = settings.peer_port or (int(saved) if saved else 0)
    try:
        bound = await peers.start(settings.peer_host, wanted, limits)
    except OSError:
        if settings.peer_port:
            raise
        bound = await peers.start(settings.peer_host, 0, limits)  # last time's port is taken
    await storage.set_meta("peer_port", str(bound).encode())
    me = peers.service.vault.device.public
    members = peers.service.vault.membership.members
    for device, (host, port) in (await storage.peers()).items():
        if device in members and device != me:
            peers.connect(device, host, port, found_by="remembered")
    return bound


def _bound_port(runner: web.AppRunner) -> int:
    for server in runner.sites:
        sockets = getattr(server, "_server", None)
        if sockets is not None and sockets.sockets:
            return int(sockets.sockets[0].getsockname()[1])
    raise RuntimeError("the API did not bind a port")


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
