"""Keeping two members in step over one message channel.

Theory of operation. Each side sends its version vector; each answers with
the ops the other lacks, in pages (at most 2,000 ops or 1 MiB each), oldest
first in fold order so dependencies arrive before what depends on them. From
then on every op this device stores (its own, or one relayed from another
peer) is pushed at once. Every 60 s, and whenever the push queue overflowed,
a side sends its vector again and the other fills the gap: anti-entropy
repairs whatever a push missed. The session knows nothing of sockets: it
takes a channel, so two sessions can be joined in memory in a test.

What the peer sends that cannot be placed yet is held back on this session's
account (protocol/replica.py bounds it per peer and in all) and dropped when the
session ends. Ops that were not held are not lost: this side sends its vector
again, and the answer (dependencies first) brings them back. It asks again after
each answer that brought something while ops were being dropped, and otherwise
waits for the next periodic exchange, so a peer whose ops cannot be placed
cannot keep the two sides asking in a loop.

Messages are CBOR maps: {"t": "vector", "v": {author: seq}, "h": {author: tip}}, {"t": "ops",
"ops": [op bytes, ...]}, {"t": "caught-up"}, which closes the answer to a
vector, and {"t": "ack", "v": {author: seq}}. Anything else ends the session.

What the peer holds is known exactly while connected, so "lacks" is true within a round
trip: its vector, the ops it sends (it holds what it sends), and its acks. After each ops
message it processes, a side acks the authors whose seq in its vector rose since the last
vector or ack it sent this peer, and only those: one small message per received ops
message at most (each of which already cost a transaction), none when nothing moved.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from typing import Protocol

from twofold.protocol import cbor
from twofold.protocol.errors import MalformedPayload
from twofold.protocol.identity import display_id
from twofold.protocol.replica import TIP_SIZE
from twofold.protocol.vector import VersionVector

from .vault_service import OpFeed, VaultService

log = logging.getLogger(__name__)

PAGE_OPS = 2000
PAGE_BYTES = 1024 * 1024
ANTI_ENTROPY_S = 60.0
MAX_MESSAGE = 2 * PAGE_BYTES


class Channel(Protocol):
    """A reliable, ordered message pipe to one peer."""

    async def send(self, data: bytes) -> None:
        """Send one message."""

    async def receive(self) -> bytes | None:
        """The next message, or None once the channel closed."""


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
    ) -> None:
        self.service = service
        self.channel = channel
        self.peer = peer
        self.restricted = restricted  # a removed peer: take its ops, send only its removal
        self.once = once  # this device is out of its vault: one exchange, then hang up
        self.caught_up = asyncio.Event()
        self.peer_vector: VersionVector | None = None
        self._peer_has: dict[bytes, int] = {}  # highest seq per author the peer is known to hold
        # What the peer holds, from its own word only (vectors, acks, the ops it sent), not from
        # what was pushed to it: "lacks" counts against this. holds_at: when it last said so.
        self.holds: dict[bytes, int] = {}
        self.holds_at: float | None = None
        self._told: dict[bytes, int] = {}  # what this side last said it holds (vector or ack)
        self.last_heard = time.time()
        self.last_synced: float | None = None
        self._feed: OpFeed | None = None
        self.source = service.open_session(peer)  # what it makes this device hold
        self.held_peak = 0  # the most bytes held back from this peer at once, seen from here
        self.not_held: Counter[str] = Counter()  # ops this device did not hold, by reason
        self._asked = 0  # vectors sent and not answered yet (by caught-up)
        self._dropped = False  # ops were not held since the last vector went out
        self._applied = 0  # ops applied from this peer since the last vector went out
        self._unproductive = False  # asking again brought nothing: wait for the next period

    async def run(self) -> None:
        """Until the channel closes or the peer misbehaves."""
        # A removed peer is pushed nothing: its feed is never filled.
        self._feed = OpFeed(self.service) if self.restricted else self.service.feed()
        tasks = [
            asyncio.create_task(self._read()),
            asyncio.create_task(self._push()),
            asyncio.create_task(self._anti_entropy()),
        ]
        try:
            await self._send_vector()
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        finally:
            self._feed.close()
            try:
                await _end_subtasks(tasks)
            finally:
                self._end()

    def _end(self) -> None:
        """Drop what this session brought that still waits: it is sent again next time."""
        ops, size = self.service.end_session(self.source)
        if ops or self.not_held:
            vault = self.service.vault
            log.info(
                "session with %s ended: dropped %d held ops (%d bytes); held at most %d bytes "
                "from it; did not hold %s; held in all now: %d ops, %d bytes",
                display_id(self.peer),
                ops,
                size,
                self.held_peak,
                ", ".join(f"{n} ({why})" for why, n in sorted(self.not_held.items())) or "0",
                len(vault.pending),
                vault.held_bytes,
            )

    async def _send_vector(self) -> None:
        vault = self.service.vault
        vector = vault.vector().to_wire()
        message = {"t": "vector", "v": vector, "h": vault.tips()}
        self._told = dict(vector)
        self._asked += 1
        self._dropped = False
        self._applied = 0
        await self.channel.send(cbor.dumps(message))

    async def _read(self) -> None:
        while (data := await self.channel.receive()) is not None:
            self.last_heard = time.time()
            if len(data) > MAX_MESSAGE:
                raise MalformedPayload(f"sync message of {len(data)} bytes is over the limit")
            message = cbor.loads(data, "sync message")
            kind = message.get("t") if isinstance(message, dict) else None
            if kind == "vector" and set(message) == {"t", "v", "h"}:
                self.peer_vector = VersionVector.from_wire(message["v"])
                tips = _tips(message["h"])
                self._learn(dict(self.peer_vector))
                self._holds(dict(self.peer_vector))
                await self._send_missing(self.peer_vector, tips)
            elif kind == "ops" and set(message) == {"t", "ops"} and _op_list(message["ops"]):
                report = await self.service.receive(
                    message["ops"], source=self._feed, sender=self.source
                )
                self._learn({op.author: op.seq for op in report.applied})
                self._holds({op.author: op.seq for op in report.applied})  # it sent them
                self._applied += len(report.applied)
                self.held_peak = max(self.held_peak, self.service.vault.held_from(self.peer)[1])
                if report.applied:
                    if self.caught_up.is_set():
                        self.last_synced = time.time()
                    self._progress(len(report.applied))
                await self._acknowledge()
                if report.dropped:
                    self.not_held.update(type(error).__name__ for _, _, error in report.dropped)
                    self._dropped = True
                    if not self._asked and not self._unproductive:
                        await self._send_vector()  # the answer brings them again
            elif kind == "ack" and set(message) == {"t", "v"}:
                held = dict(VersionVector.from_wire(message["v"]))
                self._learn(held)
                self._holds(held)
                self.last_synced = time.time()
            elif kind == "caught-up" and set(message) == {"t"}:
                self.last_synced = time.time()
                self.caught_up.set()
                self._progress(0)
                if self.once:
                    return
                self._asked = max(0, self._asked - 1)
                if not self._asked and self._dropped:
                    if self._applied:  # it helped: ask again for what is still missing
                        await self._send_vector()
                    else:
                        self._unproductive = True
            else:
                raise MalformedPayload("unknown sync message")

    def _progress(self, received: int) -> None:
        self.service.events.publish(
            "sync",
            device=display_id(self.peer),
            received=received,
            caught_up=self.caught_up.is_set(),
        )

    async def _send_missing(self, theirs: VersionVector, tips: dict[bytes, bytes]) -> None:
        vault = self.service.vault
        if self.restricted:
            missing = vault.proof_of_removal(self.peer, theirs)
        else:
            missing = vault.ops_missing_from(theirs, tips)
        page: list[bytes] = []
        size = 0
        for raw in missing:
            page.append(raw)
            size += len(raw)
            if len(page) >= PAGE_OPS or size >= PAGE_BYTES:
                await self.channel.send(cbor.dumps({"t": "ops", "ops": page}))
                page, size = [], 0
        if page:
            await self.channel.send(cbor.dumps({"t": "ops", "ops": page}))
        await self.channel.send(cbor.dumps({"t": "caught-up"}))
        if missing:
            log.info("sent %d ops to %s", len(missing), display_id(self.peer))

    async def send_removal(self) -> None:
        """The removals of this (now removed) peer, with what it lacks to check them."""
        vector = self.peer_vector if self.peer_vector is not None else VersionVector()
        proof = self.service.vault.proof_of_removal(self.peer, vector)
        for start in range(0, len(proof), PAGE_OPS):
            await self.channel.send(
                cbor.dumps({"t": "ops", "ops": proof[start : start + PAGE_OPS]})
            )

    def _holds(self, held: dict[bytes, int]) -> None:
        """The peer said (or showed, by sending them) that it holds these."""
        for author, seq in held.items():
            if seq > self.holds.get(author, 0):
                self.holds[author] = seq
        self.holds_at = time.time()

    async def _acknowledge(self) -> None:
        """Tell the peer the authors whose seq here rose since this side last said what it
        holds: an exact "lacks" on its side, at the cost of a small message when it moved."""
        if self.restricted:  # a removed peer hears only why it is out
            return
        moved = {a: s for a, s in self.service.vault.vector().items() if s > self._told.get(a, 0)}
        if moved:
            self._told.update(moved)
            await self.channel.send(cbor.dumps({"t": "ack", "v": moved}))

    def _learn(self, held: dict[bytes, int]) -> None:
        for author, seq in held.items():
            if seq > self._peer_has.get(author, 0):
                self._peer_has[author] = seq

    async def _push(self) -> None:
        """Push what the peer is not known to hold: not its own ops, nor what it sent or got."""
        assert self._feed is not None  # noqa: S101 - set in run()
        if self.restricted:
            await asyncio.Event().wait()  # nothing new goes to a removed device
            return
        while True:
            graph = self.service.vault.graph
            ops = [
                op
                for op in await self._feed.get()
                if op.author in graph.forks  # a forked log: the peer may lack either branch
                or op.author in self.service.vault.suspects
                or (op.author != self.peer and op.seq > self._peer_has.get(op.author, 0))
            ]
            for start in range(0, len(ops), PAGE_OPS):
                page = ops[start : start + PAGE_OPS]
                await self.channel.send(cbor.dumps({"t": "ops", "ops": [op.raw for op in page]}))
                self._learn({op.author: op.seq for op in page})
            if self._feed.overflowed:
                self._feed.overflowed = False
                await self._send_vector()

    async def _anti_entropy(self) -> None:
        while True:
            await asyncio.sleep(ANTI_ENTROPY_S)
            self._unproductive = False
            await self._send_vector()


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


def _tips(value: object) -> dict[bytes, bytes]:
    """The tips beside a peer's vector: the first bytes of the hash of its op at each seq."""
    if not isinstance(value, dict) or not all(
        isinstance(a, bytes) and len(a) == 32 and isinstance(t, bytes) and len(t) == TIP_SIZE
        for a, t in value.items()
    ):
        raise MalformedPayload(f"vector tips map 32-byte authors to {TIP_SIZE}-byte hashes")
    return value


def _op_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(raw, bytes) for raw in value)
