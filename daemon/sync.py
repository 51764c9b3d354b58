"""Keeping two members in step over one message channel: protocol/sync.py's machine, driven.

The machine holds the rules and the bookkeeping (vectors, pages, caught-up, acks, when to
ask again); this drives it: it reads the channel, stores through the vault service,
answers the machine's asks from the vault, pushes what the device stores, and ticks the
anti-entropy period. The session knows nothing of sockets: it takes a channel, so two
sessions can be joined in memory in a test.

What the peer sends that cannot be placed yet is held back on this session's account
(protocol/replica.py bounds it per peer and in all) and dropped when the session ends;
the machine asks again for what was not held.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import Protocol

from twofold.protocol.identity import display_id
from twofold.protocol.sync import (
    MAX_MESSAGE,
    PAGE_BYTES,
    PAGE_OPS,
    Action,
    AskMissing,
    AskVector,
    Done,
    Progress,
    Send,
    Store,
    SyncMachine,
    ops_pages,
)
from twofold.protocol.vector import VersionVector

from .vault_service import OpFeed, VaultService

log = logging.getLogger(__name__)

ANTI_ENTROPY_S = 60.0
__all__ = ["ANTI_ENTROPY_S", "MAX_MESSAGE", "PAGE_BYTES", "PAGE_OPS", "Channel", "SyncSession"]


class Channel(Protocol):
    """A reliable, ordered message pipe to one peer."""

    async def send(self, data: bytes) -> None:
        """Send one message."""

    async def receive(self) -> bytes | None:
        """The next message, or None once the channel closed."""


class _Finished(Exception):
    """The machine said Done: the session ends as it should."""


class SyncSession:
    """One peer, one channel: catch up both ways, then push every new op."""

    def __init__(
        self,
        service: VaultService,
        channel: Channel,
        peer: bytes,
        *,
        restricted: bool = False,
        once: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.service = service
        self.channel = channel
        self.peer = peer
        self.restricted = restricted
        self.machine = SyncMachine(peer, restricted=restricted, once=once)
        self.caught_up = asyncio.Event()
        self._clock = clock
        self.last_heard = clock()
        self._feed: OpFeed | None = None
        self.source = service.open_session(peer)  # what it makes this device hold
        self.held_peak = 0  # the most bytes held back from this peer at once, seen from here
        self._sending = asyncio.Lock()  # the reader's and the pusher's messages do not interleave

    @property
    def peer_vector(self) -> VersionVector | None:
        """The peer's last vector, if it sent one."""
        return self.machine.peer_vector

    @property
    def holds(self) -> dict[bytes, int]:
        """What the peer holds, from its own word (vectors, acks, the ops it sent)."""
        return self.machine.holds

    @property
    def holds_at(self) -> float | None:
        """When the peer last said what it holds."""
        return self.machine.holds_at

    @property
    def not_held(self) -> Counter[str]:
        """Ops of the peer's this device did not hold, by reason."""
        return self.machine.not_held

    @property
    def last_synced(self) -> float | None:
        """When ops or acknowledgements were last exchanged."""
        return self.machine.last_synced

    async def run(self) -> None:
        """Until the channel closes or the peer misbehaves."""
        # A removed peer is pushed nothing: its feed is never filled.
        self._feed = OpFeed(self.service) if self.restricted else self.service.feed()
        try:
            await self._perform(self.machine.start())
            tasks = [
                asyncio.create_task(self._read()),
                asyncio.create_task(self._push()),
                asyncio.create_task(self._anti_entropy()),
            ]
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()
            finally:
                await _end_subtasks(tasks)
        finally:
            self.machine.closed()
            self._feed.close()
            self._end()

    def _end(self) -> None:
        """Drop what this session brought that still waits: it is sent again next time."""
        ops, size = self.service.end_session(self.source)
        not_held = self.machine.not_held
        if ops or not_held:
            vault = self.service.vault
            log.info(
                "session with %s ended: dropped %d held ops (%d bytes); held at most %d bytes "
                "from it; did not hold %s; held in all now: %d ops, %d bytes",
                display_id(self.peer),
                ops,
                size,
                self.held_peak,
                ", ".join(f"{n} ({why})" for why, n in sorted(not_held.items())) or "0",
                len(vault.pending),
                vault.held_bytes,
            )

    async def _perform(self, actions: list[Action]) -> None:
        """Carry out the machine's actions in order, answering its asks as they come."""
        queue: deque[Action] = deque(actions)
        machine = self.machine
        while queue:
            action = queue.popleft()
            more: list[Action] = []
            if isinstance(action, Send):
                async with self._sending:
                    await self.channel.send(action.data)
            elif isinstance(action, AskVector):
                vault = self.service.vault
                more = machine.vector(vault.vector(), vault.tips())
            elif isinstance(action, AskMissing):
                vault = self.service.vault
                if action.removal_only:
                    missing = vault.proof_of_removal(self.peer, action.theirs)
                else:
                    missing = vault.ops_missing_from(action.theirs, action.tips)
                more = machine.missing(missing)
                if missing:
                    log.info("sent %d ops to %s", len(missing), display_id(self.peer))
            elif isinstance(action, Store):
                report = await self.service.receive(
                    action.ops, source=self._feed, sender=self.source
                )
                self.held_peak = max(self.held_peak, self.service.vault.held_from(self.peer)[1])
                more = machine.stored(
                    [(op.author, op.seq) for op in report.applied],
                    [type(error).__name__ for _, _, error in report.dropped],
                    self.service.vector(),
                    self._clock(),
                )
            elif isinstance(action, Progress):
                if machine.caught_up:
                    self.caught_up.set()
                self.service.events.publish(
                    "sync",
                    device=display_id(self.peer),
                    received=action.received,
                    caught_up=machine.caught_up,
                )
            elif isinstance(action, Done):
                raise _Finished
            queue.extendleft(reversed(more))

    async def _read(self) -> None:
        try:
            while (data := await self.channel.receive()) is not None:
                self.last_heard = self._clock()
                await self._perform(self.machine.receive(data, self.last_heard))
        except _Finished:
            return

    async def send_removal(self) -> None:
        """The removals of this (now removed) peer, with what it lacks to check them."""
        vector = self.peer_vector if self.peer_vector is not None else VersionVector()
        proof = self.service.vault.proof_of_removal(self.peer, vector)
        for page in ops_pages(proof):
            async with self._sending:
                await self.channel.send(page)

    async def _push(self) -> None:
        """Push what the peer is not known to hold: not its own ops, nor what it sent or got."""
        assert self._feed is not None  # noqa: S101 - set in run()
        if self.restricted:
            await asyncio.Event().wait()  # nothing new goes to a removed device
            return
        while True:
            ops = await self._feed.get()
            vault = self.service.vault
            overflowed, self._feed.overflowed = self._feed.overflowed, False
            await self._perform(
                self.machine.push(ops, set(vault.graph.forks), set(vault.suspects), overflowed)
            )

    async def _anti_entropy(self) -> None:
        while True:
            await asyncio.sleep(ANTI_ENTROPY_S)
            await self._perform(self.machine.tick())


async def _end_subtasks(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel a session's subtasks and wait for them, their own errors spent.

    Only the subtasks' outcomes are suppressed: a cancellation of the task running the
    session (a stop, say, just as the peer hung up) propagates from here, so the session
    ends cancelled rather than looking finished to whoever redials.
    """
    for task in tasks:
        task.cancel()
    for task in tasks:
        task.add_done_callback(_spend)  # retrieved even if this wait is itself cancelled
    await asyncio.wait(tasks)


def _spend(task: asyncio.Task[None]) -> None:
    if not task.cancelled():
        task.exception()  # already raised from run(), or moot once the session ends
