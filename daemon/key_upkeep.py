"""Keeping every member able to read and write, with no person acting.

After any membership change a member checks two things. If it holds no key of
an epoch it may write under (after a removal cycle every epoch can be known
to a device that left), it rotates: any member can, since a rotation needs no
old key. If another member lacks an epoch key this device holds (it was added
concurrently with a rotation), it seals the key to it (`keys_granted`).
Grants are idempotent, so several members granting at once only repeat a
wrap; to keep that rare, the first holder in key order grants at once and the
others wait a moment and grant only if the lack is still there.
"""

from __future__ import annotations

import asyncio
import logging

from twofold.protocol.errors import TwofoldError
from twofold.protocol.identity import display_id
from twofold.protocol.vault import Vault

from .vault_service import VaultService, now_ms

log = logging.getLogger(__name__)

GRACE_S = 2.0


def first_granter(vault: Vault, recipient: bytes) -> bytes | None:
    """The member expected to grant `recipient` what it lacks: the lowest key among holders."""
    lacking = vault.missing_keys().get(recipient, [])
    holders = vault.membership.holders
    candidates = sorted(
        m
        for m in vault.membership.members
        if m != recipient and any(m in holders.get(e, ()) for e in lacking)
    )
    return candidates[0] if candidates else None


class KeyUpkeep:
    """Rotates when no usable key is held, and grants keys members lack."""

    def __init__(self, service: VaultService, grace_s: float = GRACE_S) -> None:
        self.service = service
        self.grace_s = grace_s
        self._task: asyncio.Task[None] | None = None
        self._again = False
        self._stopped = False

    def poke(self) -> None:
        """Membership moved: check again (once more if a check is already running)."""
        if self._stopped:
            return
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        else:
            self._again = True

    async def stop(self) -> None:
        """Cancel a check in progress and start no other; a cancel of the caller propagates."""
        self._stopped = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait([task])
            if not task.cancelled() and task.exception() is not None:
                log.warning("the key check ended with %r", task.exception())

    async def _run(self) -> None:
        while True:
            self._again = False
            try:
                await self._check()
            except TwofoldError as exc:  # removed meanwhile, or the disk refused: next change
                log.warning("could not keep the vault's keys: %s", exc)
            if not self._again:
                return

    async def _check(self) -> None:
        service = self.service
        if await service.ensure_writable() and service.vault.needs_rotation():
            # a rotation that changes nothing would only call for another: stop here
            log.error("a key rotation did not give this device a key to write under")
            self._again = False
            return
        me = service.vault.device.public
        later = []
        for recipient in service.vault.grants_due():
            if first_granter(service.vault, recipient) == me:
                await self._grant(recipient)
            else:
                later.append(recipient)
        if later:
            await asyncio.sleep(self.grace_s)
            for recipient in service.vault.grants_due():
                if recipient in later:
                    await self._grant(recipient)

    async def _grant(self, recipient: bytes) -> None:
        log.info("granting %s the keys it lacks", display_id(recipient))
        await self.service.write(lambda v: v.grant_keys(recipient, now_ms()))
