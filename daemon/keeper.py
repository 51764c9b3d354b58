"""Who opens and shuts the vault's door: the store key, the passphrase, the idle lock.

In the keyring and file modes the door opens once, at start. In passphrase mode the
daemon starts with it shut; the right passphrase opens it (daemon/passphrase.py), and
locking, asked for or after `lock_after` minutes without use, shuts it again and drops
the parts with every key they held.

Setting, changing and removing the passphrase each put a new random store key in place
and seal the device key under it again, so an old copy of the keyring entry, the key
file or the sealed key opens nothing written since. Each needs the vault open (the
device key is what gets sealed again) and, when there is a passphrase, the current one.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import time
from collections.abc import Awaitable, Callable

from twofold.protocol import codes

from . import keystore, memory
from . import passphrase as passphrases
from .assembly import Setup, assemble, take_down
from .door import Door, Parts
from .errors import BadRequest, NoPassphrase
from .idle import IdleTimer
from .keystore import StoreKey
from .passphrase import SealDamaged, SealedStoreKey, WrongPassphrase
from .storage import Storage
from .unlock_attempts import UnlockAttempts

log = logging.getLogger(__name__)
PASSPHRASE = "passphrase"  # noqa: S105 - the name of a mode, not a secret
_SEALED = "store_key_sealed"
_COST = "store_key_cost"
_LONGEST_NAP_S = 60.0


class Keeper:
    """Opens the door with a store key, shuts it on lock or idle, and changes the passphrase."""

    def __init__(
        self,
        door: Door,
        setup: Setup,
        storage: Storage,
        clock: Callable[[], float] = time.monotonic,
        cost: passphrases.Cost | None = None,
    ) -> None:
        self.door = door
        self.setup = setup
        self._storage = storage
        self._clock = clock
        self._cost = cost
        self.attempts = UnlockAttempts(clock)
        self.idle = IdleTimer(0, clock)
        self.has_passphrase = False
        self._on_open: list[Callable[[Parts], None]] = []
        self._busy = asyncio.Lock()
        self._closing = False
        self._watching: asyncio.Task[None] | None = None

    @property
    def lock_after(self) -> int:
        """Minutes without use before the vault locks; 0 for never (always, with no passphrase)."""
        return self.setup.settings.lock_after if self.has_passphrase else 0

    @property
    def storage(self) -> Storage:
        """The database in use now (joining a vault replaces the service's)."""
        parts = self.door.parts() if self.door.is_open else None
        return parts.service.storage if parts is not None else self._storage

    async def start(self, check: Callable[[], None]) -> None:
        """Open the vault with the keyring's or the key file's store key; in passphrase mode
        leave it locked. A key file left by a set cut short (the database sealed anew, the
        file not yet gone) opens nothing any more; it goes now. The keyring is not asked:
        at each start that could make a desktop keyring prompt for its password."""
        recorded = await self._storage.get_meta("store_key_source")
        if recorded == PASSPHRASE.encode():
            self._passphrase_on()
            keystore.forget(self.setup.home, in_keyring=False)  # a set cut short left it
            log.info("the vault is locked: it opens with its passphrase")
            return
        store_key = keystore.load(
            self.setup.home,
            self.setup.settings.store_key,
            recorded.decode(errors="replace") if recorded else None,
        )
        await self._open(store_key, check)

    async def device_name(self) -> str:
        """This device's name, which needs no key: what a locked daemon may still say."""
        if self.door.is_open:
            return self.door.parts().service.identity.name
        name = await self.storage.get_meta("device_name")
        return name.decode() if name else self.setup.settings.device_name

    def when_open(self, callback: Callable[[Parts], None]) -> None:
        """Call this each time the vault opens (the runner rewrites api.json)."""
        self._on_open.append(callback)

    def stop_telling(self) -> None:
        """Call nothing more at openings: the daemon is stopping."""
        self._on_open.clear()

    def watch_idle(self) -> None:
        """Lock the vault once it has gone `lock_after` minutes without use."""
        self._watching = asyncio.create_task(self._watch(), name="idle lock")

    def stops(self) -> list[Callable[[], Awaitable[None]]]:
        """What to stop, in order, when the daemon stops: the idle watch, then the parts."""
        self._closing = True  # an unlock still on its way must not open the vault again
        parts = self.door.shut()
        steps: list[Callable[[], Awaitable[None]]] = [self._stop_watching]
        return steps + (parts.stops() if parts is not None else [])

    async def unlock(self, passphrase: str) -> None:
        """Open the vault with its passphrase; TooSoon during the wait after a wrong one."""
        async with self._busy:
            if self.door.is_open:
                return
            key = await self._open_sealed(passphrase, "passphrase")
            if await self._open(StoreKey(key, PASSPHRASE), lambda: None):
                log.info("the vault was unlocked")

    async def lock(self, reason: str = "asked") -> None:
        """Shut the vault and drop its keys; NoPassphrase when nothing could open it again."""
        async with self._busy:
            if not self.has_passphrase:  # checked under the lock: a removal may be under way
                raise NoPassphrase
            await self._shut(reason)

    async def lock_if_idle(self) -> bool:
        """Lock if the vault has gone unused for `lock_after`; whether it locked now."""
        if not self._idle_lock_due():
            return False
        async with self._busy:
            if not self._idle_lock_due():  # unlocked or used while waiting for the lock
                return False
            await self._shut("idle")
        log.info("the vault locked after %d minutes without use", self.lock_after)
        return True

    def _idle_lock_due(self) -> bool:
        return self.has_passphrase and self.door.is_open and self.idle.due

    def used(self) -> None:
        """Someone used the vault: the idle lock starts counting again."""
        self.idle.used()

    async def set_passphrase(self, new: str, current: str | None) -> None:
        """Set the passphrase, or change it (then `current` must be right)."""
        passphrases.check_strength(new)
        async with self._busy:
            parts = self.door.parts()
            if self.has_passphrase:
                if current is None:
                    raise BadRequest("the current passphrase is needed to change it", "current")
                await self._open_sealed(current, "current")
            key = os.urandom(keystore.KEY_SIZE)
            held = await asyncio.to_thread(passphrases.seal, key, new, self._seal_cost())
            values = {
                "device_seed": parts.service.sealed_seed(StoreKey(key, PASSPHRASE)),
                "store_key_source": PASSPHRASE.encode(),
                _SEALED: held.sealed,
                _COST: held.record,
            }
            await parts.service.storage.replace_meta(values)
            keystore.forget(self.setup.home)
            changed = self.has_passphrase
            self._passphrase_on()
            self.idle.used()
        log.info("the passphrase was %s", "changed" if changed else "set")

    async def remove_passphrase(self, current: str) -> None:
        """Back to a store key in the keyring or a key file; `current` must be right."""
        async with self._busy:
            parts = self.door.parts()
            if not self.has_passphrase:
                raise NoPassphrase
            await self._open_sealed(current, "current")
            key = os.urandom(keystore.KEY_SIZE)
            source = keystore.keep(self.setup.home, self.setup.settings.store_key, key)
            values = {
                "device_seed": parts.service.sealed_seed(StoreKey(key, source)),
                "store_key_source": source.encode(),
            }
            await parts.service.storage.replace_meta(values, remove=(_SEALED, _COST))
            self.has_passphrase = False
            self.idle = IdleTimer(0, self._clock)
        log.info("the passphrase was removed; the store key is in the %s", source)

    def _seal_cost(self) -> passphrases.Cost:
        return self._cost or passphrases.cost_for(passphrases.machine_memory())

    def _passphrase_on(self) -> None:
        self.has_passphrase = True
        self.idle = IdleTimer(self.setup.settings.lock_after * 60, self._clock)

    async def _open_sealed(self, passphrase: str, field: str) -> bytes:
        """The store key under this passphrase, counting a wrong one against the next try."""
        self.attempts.check()
        held = await self._sealed()
        try:
            key = await asyncio.to_thread(passphrases.open_sealed, held, passphrase)
        except WrongPassphrase:
            wait = self.attempts.failed()
            log.warning("a wrong passphrase; the next try is possible in %.0f s", wait)
            raise WrongPassphrase(field) from None
        self.attempts.succeeded()
        return key

    async def _sealed(self) -> SealedStoreKey:
        sealed = await self.storage.get_meta(_SEALED)
        record = await self.storage.get_meta(_COST)
        if sealed is None or record is None:
            raise SealDamaged("the database says passphrase mode but holds no sealed store key")
        return SealedStoreKey(record, sealed)

    async def _open(self, store_key: StoreKey, check: Callable[[], None]) -> bool:
        """Build the parts and open the door; False if the daemon began to stop meanwhile."""
        parts = await assemble(self.setup, self._storage, store_key, check)
        del store_key  # the parts hold the keys they need, and only them
        if self._closing:
            await take_down(parts.stops())
            return False
        self.door.opened(parts)
        self.idle.used()
        for callback in self._on_open:
            callback(parts)
        self.setup.events.publish("lock", locked=False, reason="unlocked")
        return True

    async def _shut(self, reason: str) -> None:
        parts = self.door.shut()
        if parts is None:
            return
        self._storage = parts.service.storage
        self.setup.events.publish("lock", locked=True, reason=reason)
        await take_down(parts.stops())
        del parts
        _forget_what_was_freed()
        log.info("the vault is locked (%s)", reason)

    async def _watch(self) -> None:
        while True:
            left = self.idle.left_s() if self.has_passphrase and self.door.is_open else None
            await asyncio.sleep(_LONGEST_NAP_S if left is None else min(left, _LONGEST_NAP_S))
            try:
                await self.lock_if_idle()
            except Exception:  # the watch must outlive one failed lock, and try again later
                log.exception("could not lock the idle vault")
                await asyncio.sleep(_LONGEST_NAP_S)

    async def _stop_watching(self) -> None:
        if self._watching is not None:
            self._watching.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watching


def _forget_what_was_freed() -> None:
    """Let the dropped vault be collected now, with the cache of codes (keyed by secrets),
    and its pages go back to the system.

    VaultService.open froze the loaded vault out of the collector's sight (gc.freeze), so
    it must be thawed first, or its reference cycles would stay in memory until exit.
    """
    codes.forget_codes()
    gc.unfreeze()
    memory.give_back()
