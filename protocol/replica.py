"""One device's replica of a vault: the verified op log and the state folded from it.

Theory of operation. `receive` checks an op completely before it changes
anything, and refuses it only for what is wrong with it whatever else exists:
shape, vault, signature (or, in a batch, the hash chain up to a signed op),
clock, its link to its author's previous op, its key epoch, and its body. An
op that depends on one not yet here (the op its `prev` names, the op that
created its epoch, the ops a removal names as seen) is held back, signature
already checked, and admitted the moment that op arrives. Holding is
bounded by source: an op is held only for an author whose addition is here or
on the way from the same peer, within a fixed number of ops and bytes per peer
and in all, and held ops are dropped when the session that brought them ends
(`drop_held`): a member signing whatever it likes cannot park more than its
share, nor keep it past its connection. Whether an
admitted op *counts* (its author removed, added by a removed device, forked)
is never decided on receipt: the membership is refolded from the set of
membership ops (`membership.compute`) and the account state from the writes
that count. The same set of ops therefore gives the same state, whatever
order it came in, live, pulled or replayed at a start.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal, TypeAlias, TypeVar

from . import account_write, membership, membership_bodies
from .account_write import AccountWrite
from .certificate import check_certificate
from .envelope import ZERO_HASH, Op, OpKind
from .errors import (
    BadSignature,
    BrokenChain,
    MalformedOp,
    MalformedPayload,
    NotAMember,
    NotHeld,
    OpRefused,
    PendingLimit,
    UnknownAuthor,
    UnknownEpoch,
    WrongVault,
)
from .hlc import Clock, check_not_ahead
from .identity import DeviceKey, display_id
from .keywrap import key_check, open_wrap
from .membership import Membership
from .membership_bodies import Body, DeviceAdded, DeviceRemoved, Genesis, KeyRotated, KeysGranted
from .op_graph import OpGraph
from .state import VaultState
from .vector import VersionVector

EPOCH_KINDS = frozenset({OpKind.GENESIS, OpKind.DEVICE_REMOVED, OpKind.KEY_ROTATED})
TIP_SIZE = 8
# Held-back ops (section 6.1 of the protocol): from any one peer (all of its sessions
# together), and in all: eight peers' shares. An op's size is its length as it travelled;
# in memory a held op takes about twice that (its payload is a copy), plus ~1 KiB.
MAX_HELD_OPS_PER_PEER = 2_500
MAX_HELD_BYTES_PER_PEER = 8 * 1024 * 1024
MAX_PENDING = 8 * MAX_HELD_OPS_PER_PEER
MAX_HELD_BYTES = 8 * MAX_HELD_BYTES_PER_PEER


@dataclass(frozen=True, slots=True)
class Source:
    """Who handed ops over: a peer, and which of its sessions.

    Held ops are counted against the peer (all its sessions together) and dropped
    when the session that brought them ends. Ops without a source come from this
    device itself (its own store): they are held within the totals only.
    """

    peer: bytes
    session: int


From: TypeAlias = Source | None
_E = TypeVar("_E", bound=BaseException)


@dataclass(slots=True)
class _Hold:
    """One held op: what it waits for, and every source that sent it (the first is charged)."""

    op: Op
    dependency: bytes
    sources: list[From]
    adds: bytes | None  # for a device_added: the device it adds, as its body says


class _Held(Exception):  # control flow, never escapes this module
    def __init__(self, dependency: bytes, reason: str) -> None:
        self.dependency = dependency
        self.reason = reason


@dataclass(slots=True)
class Receipt:
    """What receiving one op did: applied (with any ops it released), duplicate, or held."""

    status: Literal["applied", "duplicate", "held"]
    applied: list[Op] = field(default_factory=list)
    refused: list[tuple[Op, OpRefused]] = field(default_factory=list)
    waiting_for: str | None = None


@dataclass(slots=True)
class BatchReport:
    """What receiving a batch did; refusals of single ops do not stop the rest."""

    applied: list[Op] = field(default_factory=list)
    duplicates: int = 0
    held: list[Op] = field(default_factory=list)
    refused: list[tuple[bytes | Op, OpRefused]] = field(default_factory=list)
    # Not held (the sender sends them again at the next exchange), with who sent them.
    dropped: list[tuple[Op, From, NotHeld]] = field(default_factory=list)


class Replica:
    """A vault as one device holds it; every method is pure, time is passed in."""

    def __init__(self, vault: bytes, device: DeviceKey | None = None, clock: int = 0) -> None:
        self.vault = vault
        self.device = device
        self.clock = Clock(clock)
        self.graph = OpGraph()
        self.chains = self.graph.chains
        self.by_hash = self.graph.by_hash
        self.bodies: dict[bytes, Body] = {}
        self.membership = Membership()
        self.epoch_keys: dict[bytes, bytes] = {}
        self.writes: dict[bytes, AccountWrite] = {}
        self.sealed: dict[bytes, Op] = {}
        self.corrupt: dict[bytes, OpRefused] = {}
        self.pending: dict[bytes, Op] = {}
        self.waiting: dict[bytes, set[bytes]] = {}
        self.held_bytes = 0
        self._holds: dict[bytes, _Hold] = {}
        self._peer_held: dict[bytes, list[int]] = {}  # peer -> [ops, bytes] charged to it
        self._session_held: dict[Source, set[bytes]] = {}  # every held op a session sent
        self._introduced: set[bytes] = set()  # the founder, and every device an op here adds
        self._announced: dict[bytes, set[bytes]] = {}  # device -> held device_added ops of it
        self._news: list[bytes] = []  # devices introduced or announced during this batch
        self.evidence: list[tuple[bytes, bytes]] = []
        self.suspects: set[bytes] = set()
        self.state = VaultState()
        self._founder: bytes | None = None
        self._offers: dict[bytes, list[bytes]] = {}
        self._dirty = False
        self._fresh: list[bytes] = []

    # -- receiving -----------------------------------------------------------

    def receive(self, raw: bytes, now_ms: int, source: From = None) -> Receipt:
        """Verify one op from a peer and apply it, hold it back, or raise why it is refused
        (or, with NotHeld, why it was not held)."""
        try:
            return self._receive(Op(raw), now_ms, source, authenticated=False)
        finally:
            self._settle()

    def receive_batch(self, raws: Iterable[bytes], now_ms: int, source: From = None) -> BatchReport:
        """Receive many ops; each author's consecutive run costs one signature check."""
        return self.receive_batches([(raws, source)], now_ms)

    def receive_batches(
        self, batches: Iterable[tuple[Iterable[bytes], From]], now_ms: int
    ) -> BatchReport:
        """Receive the ops of several sources as one batch, each held on its own source's
        account."""
        with _cyclic_gc_paused():
            try:
                return self._receive_batch(batches, now_ms)
            finally:
                self._settle()

    def _receive_batch(
        self, batches: Iterable[tuple[Iterable[bytes], From]], now_ms: int
    ) -> BatchReport:
        report = BatchReport()
        ops: list[tuple[Op, From]] = []
        for raws, source in batches:
            for raw in raws:
                try:
                    ops.append((Op(raw), source))
                except OpRefused as exc:
                    report.refused.append((raw, _bare(exc)))
        authentic = _authenticated_runs([op for op, _ in ops])
        ops.sort(key=lambda item: membership.sort_key(item[0]))
        self._news = []
        # An op whose author's addition comes later in this very batch (its clock sorts it
        # first) waits for the end of the batch; it is then tried again, its checks done.
        deferred: dict[bytes, list[tuple[Op, From, NotHeld]]] = {}

        def take(op: Op, source: From, authenticated: bool) -> None:
            try:
                receipt = self._receive(op, now_ms, source, authenticated=authenticated)
            except UnknownAuthor as exc:
                deferred.setdefault(op.author, []).append((op, source, _bare(exc)))
            except NotHeld as exc:
                report.dropped.append((op, source, _bare(exc)))
            except OpRefused as exc:
                report.refused.append((op, _bare(exc)))
            else:
                _tally(report, op, receipt)

        for op, source in ops:
            take(op, source, id(op) in authentic)
        while self._news and deferred:
            for op, source, _ in deferred.pop(self._news.pop(), ()):
                take(op, source, True)
        self._news = []
        report.dropped.extend(wait for waits in deferred.values() for wait in waits)
        report.held = [op for op in report.held if op.hash in self.pending]
        return report

    def _receive(self, op: Op, now_ms: int, source: From, *, authenticated: bool) -> Receipt:
        known = self._holds.get(op.hash)
        if known is not None:  # the same bytes again: checked already, and still waiting
            self._also_from(known, source)
            return Receipt("held", waiting_for="what it waited for already")
        try:
            placed = self._admit(op, now_ms, authenticated=authenticated)
        except _Held as held:
            dependency, reason = held.dependency, held.reason
        else:
            if placed == "duplicate":
                return Receipt("duplicate")
            receipt = Receipt("applied", [op])
            self._release(op, now_ms, receipt)
            return receipt
        self._hold(op, dependency, source)  # outside the handler: a refusal chains to nothing
        return Receipt("held", waiting_for=reason)

    def _admit(self, op: Op, now_ms: int, *, authenticated: bool) -> str:
        """Check everything about `op` that does not depend on other ops' fate, then store it."""
        if op.vault != self.vault:
            raise WrongVault(f"op belongs to vault {op.vault.hex()}, not {self.vault.hex()}")
        if op.hash in self.by_hash:
            return "duplicate"
        if not authenticated and not op.signature_valid():
            raise BadSignature(
                f"op {op.seq} of {display_id(op.author)} has a bad signature: "
                "it was altered or forged"
            )
        check_not_ahead(op.hlc, now_ms)
        self._check_shape(op)
        if op.seq == 1:
            self._check_first(op)
        else:
            self._check_link(op)
        content: Body | AccountWrite | None
        content = self._open(op) if op.kind.encrypted else self._check_body(op)
        self._commit(op, content)
        return "applied"

    def _check_shape(self, op: Op) -> None:
        if op.kind.encrypted:
            if op.epoch == ZERO_HASH:
                raise MalformedOp("an encrypted op must name its key epoch")
        elif op.epoch != ZERO_HASH:
            raise MalformedOp("a membership op names no key epoch")
        if op.kind is OpKind.GENESIS and (op.seq != 1 or op.prev != ZERO_HASH):
            raise MalformedOp("genesis must be its author's first op")

    def _check_first(self, op: Op) -> None:
        """An author's first op is the genesis, or names the op that added the author."""
        if op.kind is OpKind.GENESIS:
            if self._founder is not None and self._founder != op.author:
                raise NotAMember("the vault already has a genesis by another device")
            return
        adder = self.by_hash.get(op.prev)
        if adder is None:
            raise _Held(op.prev, "the op that added its author")
        body = self.bodies.get(adder.hash)
        if not isinstance(body, DeviceAdded) or body.device != op.author:
            raise NotAMember(
                f"{display_id(op.author)} was never added to this vault: its first op names "
                "an op that does not add it"
            )

    def _check_link(self, op: Op) -> None:
        """A later op names its author's previous op and carries a later clock."""
        prev = self.by_hash.get(op.prev)
        if prev is None:
            raise _Held(op.prev, f"op {op.seq - 1} of its author")
        if prev.author != op.author or prev.seq != op.seq - 1:
            raise BrokenChain(f"op {op.seq} does not name its author's op {op.seq - 1} as prev")
        if op.hlc <= prev.hlc:
            raise BrokenChain(f"op {op.seq}'s clock is not after its author's previous op")

    def _check_body(self, op: Op) -> Body:
        content = membership_bodies.decode(op.kind, op.payload)
        if isinstance(content, Genesis):
            if membership_bodies.vault_id(op.author, content.salt) != self.vault:
                raise WrongVault("genesis does not derive this vault's id: it was forged")
            check_certificate(content.cert, op.author)
        elif isinstance(content, DeviceAdded):
            if content.device == op.author:
                raise MalformedOp("a device cannot add itself")
            check_certificate(content.cert, content.device)
        elif isinstance(content, DeviceRemoved):
            self._check_removal(op, content)
        return content

    def _check_removal(self, op: Op, body: DeviceRemoved) -> None:
        """A removal names ops of its target it held, and never cuts below its own standing."""
        if body.device == op.author:
            raise MalformedOp("a device cannot remove itself")
        heads = []
        for h in body.heads:
            head = self.by_hash.get(h)
            if head is None:
                raise _Held(h, "an op its removal names as seen")
            if head.author != body.device:
                raise MalformedPayload("a removal names as seen an op of another device")
            heads.append(head)
        if body.cutoff != max((h.seq for h in heads), default=0):
            raise MalformedPayload("a removal's cutoff is not the highest seq it names as seen")
        node = membership.real_node(self.graph, op, body)
        root = self.graph.root(op)
        for s in membership.standing(self.graph, root) if root is not None else ():
            if s.author == body.device and not membership.seen(self.graph, node, s):
                raise MalformedOp(
                    "a removal cannot cut its target off below the ops its own author's "
                    "membership rests on"
                )

    def _open(self, op: Op) -> AccountWrite | None:
        """Decrypt and decode an account op, or None while this device lacks its epoch key."""
        creator = self.by_hash.get(op.epoch)
        if creator is None:
            raise _Held(op.epoch, "the op that created its key epoch")
        if creator.kind not in EPOCH_KINDS:
            raise UnknownEpoch(
                f"op {op.seq} names key epoch {op.epoch.hex()[:16]}, which no op created"
            )
        key = self.epoch_keys.get(op.epoch)
        return None if key is None else account_write.decode(op.decrypt(key))

    # -- holding back ----------------------------------------------------------

    def _hold(self, op: Op, dependency: bytes, source: From) -> None:
        """Hold `op` until `dependency` arrives, on `source`'s account, or raise NotHeld."""
        if not self._may_hold(op.author, source):
            raise UnknownAuthor(
                f"op {op.seq} of {display_id(op.author)} waits for an op not here, and no op "
                "here or on the way from the same peer adds its author: it is not held"
            )
        self._check_room(len(op.raw), source)
        adds = None
        if op.kind is OpKind.DEVICE_ADDED:
            try:
                body = membership_bodies.decode(op.kind, op.payload)
            except OpRefused:
                body = None  # refused once it can be placed; it announces nobody meanwhile
            if isinstance(body, DeviceAdded):
                adds = body.device
                self._announced.setdefault(adds, set()).add(op.hash)
                self._news.append(adds)
        self._holds[op.hash] = _Hold(op, dependency, [source], adds)
        self.pending[op.hash] = op
        self.waiting.setdefault(dependency, set()).add(op.hash)
        self._charge(source, len(op.raw))
        if source is not None:
            self._session_held.setdefault(source, set()).add(op.hash)
        chain = self.chains.get(op.author, ())
        if dependency == op.prev and 1 < op.seq <= len(chain) + 1:
            self.suspects.add(op.author)  # it signed a history other than the one held here

    def _may_hold(self, author: bytes, source: From) -> bool:
        """Whether ops of `author` may wait here on `source`'s account: the author's addition
        is here, or held from the same peer. Ops of a key nobody added are never held, so
        signatures by throwaway keys buy nothing."""
        if source is None or author in self._introduced:
            return True
        return any(
            any(s is not None and s.peer == source.peer for s in self._holds[h].sources)
            for h in self._announced.get(author, ())
        )

    def _check_room(self, size: int, source: From) -> None:
        if len(self.pending) >= MAX_PENDING or self.held_bytes + size > MAX_HELD_BYTES:
            raise PendingLimit(
                f"held-back ops are at the limit ({MAX_PENDING} ops, {MAX_HELD_BYTES} bytes): "
                "this one is not held and will be sent again at the next exchange"
            )
        if source is not None:
            ops, held = self._peer_held.get(source.peer, (0, 0))
            if ops >= MAX_HELD_OPS_PER_PEER or held + size > MAX_HELD_BYTES_PER_PEER:
                raise PendingLimit(
                    f"ops held back from {display_id(source.peer)} are at the limit "
                    f"({MAX_HELD_OPS_PER_PEER} ops, {MAX_HELD_BYTES_PER_PEER} bytes): this "
                    "one is not held and will be sent again at the next exchange"
                )

    def _fits(self, size: int, source: From) -> bool:
        if source is None:
            return True
        ops, held = self._peer_held.get(source.peer, (0, 0))
        return ops < MAX_HELD_OPS_PER_PEER and held + size <= MAX_HELD_BYTES_PER_PEER

    def _charge(self, source: From, size: int) -> None:
        self.held_bytes += size
        if source is not None:
            tally = self._peer_held.setdefault(source.peer, [0, 0])
            tally[0] += 1
            tally[1] += size

    def _uncharge(self, source: From, size: int) -> None:
        self.held_bytes -= size
        if source is not None:
            tally = self._peer_held[source.peer]
            tally[0] -= 1
            tally[1] -= size
            if tally[0] == 0:
                del self._peer_held[source.peer]

    def _also_from(self, hold: _Hold, source: From) -> None:
        """A held op sent again by another source: it stays if the first one leaves."""
        if source not in hold.sources and self._may_hold(hold.op.author, source):
            hold.sources.append(source)
            if source is not None:
                self._session_held.setdefault(source, set()).add(hold.op.hash)

    def _unhold(self, h: bytes) -> _Hold | None:
        """Forget a held op: it was placed, refused, or dropped."""
        hold = self._holds.pop(h, None)
        if hold is None:
            return None
        del self.pending[h]
        waiters = self.waiting.get(hold.dependency)
        if waiters is not None:
            waiters.discard(h)
            if not waiters:
                del self.waiting[hold.dependency]
        self._uncharge(hold.sources[0], len(hold.op.raw))
        for source in hold.sources:
            if source is not None:
                sent = self._session_held.get(source)
                if sent is not None:
                    sent.discard(h)
                    if not sent:
                        del self._session_held[source]
        if hold.adds is not None:
            announced = self._announced[hold.adds]
            announced.discard(h)
            if not announced:
                del self._announced[hold.adds]
        return hold

    def drop_held(self, source: Source) -> tuple[int, int]:
        """The session `source` ended: drop the ops it alone brought that are still held (an op
        another session also sent stays, on that one's account). The ops and bytes dropped."""
        ops = size = 0
        for h in self._session_held.pop(source, set()):
            hold = self._holds.get(h)
            if hold is None:
                continue
            if hold.sources[0] != source:
                hold.sources.remove(source)
                continue
            length = len(hold.op.raw)
            heirs = [
                s
                for s in hold.sources[1:]
                if (s is not None and s.peer == source.peer) or self._fits(length, s)
            ]
            if not heirs:
                self._unhold(h)
                ops, size = ops + 1, size + length
                continue
            self._uncharge(source, length)
            hold.sources.remove(source)
            hold.sources.remove(heirs[0])
            hold.sources.insert(0, heirs[0])
            self._charge(heirs[0], length)
        return ops, size

    def held_from(self, peer: bytes) -> tuple[int, int]:
        """The ops and bytes held back on `peer`'s account."""
        ops, held = self._peer_held.get(peer, (0, 0))
        return ops, held

    def _release(self, op: Op, now_ms: int, receipt: Receipt) -> None:
        """Admit every held op that was waiting for `op`, and for those, transitively."""
        ready = [op]
        while ready:
            done = ready.pop()
            for h in self.waiting.pop(done.hash, ()):
                hold = self._holds.get(h)
                if hold is None:
                    continue
                waiting = hold.op
                try:
                    placed = self._admit(waiting, now_ms, authenticated=True)
                except _Held as held:  # it waits for something else now, on the same account
                    hold.dependency = held.dependency
                    self.waiting.setdefault(held.dependency, set()).add(h)
                    continue
                except OpRefused as exc:
                    self._unhold(h)
                    receipt.refused.append((waiting, _bare(exc)))
                    continue
                self._unhold(h)
                if placed == "applied":
                    receipt.applied.append(waiting)
                    ready.append(waiting)

    # -- storing and folding -------------------------------------------------

    def _commit(self, op: Op, content: Body | AccountWrite | None) -> None:
        fork = self.graph.add(op)
        if fork is not None:
            self._dirty = True
            self.suspects.discard(op.author)
            first = self.chains[op.author][fork - 1]
            if first is not op:
                self.evidence.append((first.raw, op.raw))
        self.clock.observe(op.hlc)
        if isinstance(content, AccountWrite) or content is None:
            if content is None:
                self.sealed[op.hash] = op
            else:
                self.writes[op.hash] = content
                self._fresh.append(op.hash)
            return
        if isinstance(content, Genesis):
            self._founder = op.author
            self._introduce(op.author)
        elif isinstance(content, DeviceAdded):
            self._introduce(content.device)
        self.bodies[op.hash] = content
        self._dirty = True
        self._fresh.extend(self._unlock(op, content))

    def _introduce(self, device: bytes) -> None:
        if device not in self._introduced:
            self._introduced.add(device)
            self._news.append(device)

    def _settle(self) -> None:
        """Refold the membership if a membership op or a fork arrived; fold fresh writes."""
        self._news = []
        fresh, self._fresh = self._fresh, []
        if self._dirty:
            self._dirty = False
            before = self.membership.signature()
            self.membership = membership.compute(
                self.graph, ((self.by_hash[h], b) for h, b in self.bodies.items())
            )
            if self.membership.signature() != before:
                self._refold()
                return
        for h in fresh:
            o = self.by_hash[h]
            if self.counts(o):
                self.state.apply(h, o.hlc, o.author, self.writes[h])

    def counts(self, op: Op) -> bool:
        """Whether an account op shows here: it counts, or this device wrote it.

        A device keeps what it typed itself readable even once it is removed
        and its later writes count nowhere else: the person can take it along.
        """
        return (self.device is not None and op.author == self.device.public) or (
            self.membership.counts(op)
        )

    def _refold(self) -> None:
        state = VaultState()
        for h, write in self.writes.items():
            o = self.by_hash[h]
            if self.counts(o):
                state.apply(h, o.hlc, o.author, write)
        self.state = state

    def _unlock(self, op: Op, body: Body) -> list[bytes]:
        """Open epoch keys this op seals to this device; decrypt the ops that waited for them."""
        if self.device is None:
            return []
        me = self.device.public
        if isinstance(body, Genesis) and op.author == me:
            self._offers.setdefault(op.hash, []).append(body.wrap)
        elif isinstance(body, DeviceRemoved | KeyRotated) and me in body.wraps:
            self._offers.setdefault(op.hash, []).append(body.wraps[me])
        elif isinstance(body, DeviceAdded | KeysGranted) and body.device == me:
            for epoch, wrap in body.wraps.items():
                self._offers.setdefault(epoch, []).append(wrap)
        fresh = []
        for epoch in [
            op.hash,
            *(body.wraps if isinstance(body, DeviceAdded | KeysGranted) else ()),
        ]:
            creator = self.bodies.get(epoch)
            if epoch in self.epoch_keys or not isinstance(
                creator, Genesis | DeviceRemoved | KeyRotated
            ):
                continue
            for wrap in self._offers.pop(epoch, ()):
                key = open_wrap(wrap, self.device)
                if key is not None and key_check(key) == creator.check:
                    self.epoch_keys[epoch] = key
                    fresh.append(epoch)
                    break
        opened = []
        for h, sealed in list(self.sealed.items()):
            if sealed.epoch in fresh:
                del self.sealed[h]
                try:
                    self.writes[h] = account_write.decode(
                        sealed.decrypt(self.epoch_keys[sealed.epoch])
                    )
                except OpRefused as exc:
                    self.corrupt[h] = exc
                    continue
                opened.append(h)
        return opened

    # -- reading -------------------------------------------------------------

    def vector(self) -> VersionVector:
        """What this replica holds: the highest contiguous seq of every author's primary chain."""
        return VersionVector({a: len(c) for a, c in self.chains.items()})

    def tips(self) -> dict[bytes, bytes]:
        """For each author, the first bytes of the hash of its op the vector counts up to."""
        return {a: c[-1].hash[:TIP_SIZE] for a, c in self.chains.items() if c}

    def diverging(self, vector: VersionVector, tips: dict[bytes, bytes]) -> set[bytes]:
        """Authors whose op at a peer's seq is not the one held here: their logs forked."""
        out = set()
        for author, tip in tips.items():
            seq = vector.get_seq(author)
            chain = self.chains.get(author, ())
            if 0 < seq <= len(chain) and chain[seq - 1].hash[:TIP_SIZE] != tip:
                out.add(author)
        return out

    def ops_missing_from(
        self, vector: VersionVector, tips: dict[bytes, bytes] | None = None
    ) -> list[bytes]:
        """The ops a peer with `vector` lacks, in an order that delivers dependencies first.

        A vector cannot say which branch of a forked author a peer holds, so
        every op of a forked or suspect author from the fork on goes too; and
        where the peer's `tips` show that its op at some seq differs from the
        one held here, every op of that author goes, so the peer finds the fork.
        """
        ops = {op.hash: op for a, c in self.chains.items() for op in c[vector.get_seq(a) :]}
        diverging = self.diverging(vector, tips) if tips else set()
        for author in {*self.graph.forks, *self.suspects, *diverging}:
            ops.update((o.hash, o) for o in self.ops_to_resend(author))
        ordered = sorted(ops.values(), key=membership.sort_key)
        return [op.raw for op in ordered]

    def ops_to_resend(self, author: bytes) -> list[Op]:
        """Every op of an author from its fork on (all of them if no fork is known here yet),
        for peers to compare."""
        since = self.graph.forks.get(author, 1)
        return [o for o in self.graph.ops_of(author) if o.seq >= since]

    def proof_of_removal(self, device: bytes, vector: VersionVector) -> list[bytes]:
        """The removals of `device` that count, with every op they need that it lacks.

        What a member answers a removed device that knocks: it can check every
        byte itself, and learns nothing written since beyond what proves it.
        """
        todo = [self.by_hash[r.op] for r in self.membership.removals.get(device, ())]
        proof: dict[bytes, Op] = {}
        while todo:
            op = todo.pop()
            if op.hash in proof:
                continue
            if self.graph.is_primary(op) and op.seq <= vector.get_seq(op.author):
                continue
            proof[op.hash] = op
            needs = [op.prev, op.epoch] if op.kind.encrypted else [op.prev]
            body = self.bodies.get(op.hash)
            if isinstance(body, DeviceRemoved):
                needs.extend(body.heads)
            todo.extend(self.by_hash[h] for h in needs if h in self.by_hash)
        return [op.raw for op in sorted(proof.values(), key=membership.sort_key)]

    def log(self) -> list[bytes]:
        """Every op held, dependencies first: what a device persists and replays."""
        ops = sorted(self.by_hash.values(), key=membership.sort_key)
        return [op.raw for op in ops]


def _bare(exc: _E) -> _E:
    """An exception to keep in a report: without the traceback (whose frames would hold the
    whole batch in a reference cycle until a full collection) or the exception it followed."""
    exc.__traceback__ = None
    exc.__context__ = None
    return exc


def _tally(report: BatchReport, op: Op, receipt: Receipt) -> None:
    if receipt.status == "duplicate":
        report.duplicates += 1
    elif receipt.status == "held":
        report.held.append(op)
    report.applied.extend(receipt.applied)
    report.refused.extend(receipt.refused)


def _authenticated_runs(ops: list[Op]) -> set[int]:
    """The ops whose authenticity follows from a hash chain up to a valid signature."""
    by_author: dict[bytes, dict[int, Op]] = {}
    for op in ops:
        by_author.setdefault(op.author, {}).setdefault(op.seq, op)
    authentic: set[int] = set()
    for chain in by_author.values():
        run: list[Op] = []
        for seq in sorted(chain):
            op = chain[seq]
            if run and (seq != run[-1].seq + 1 or op.prev != run[-1].hash):
                _close_run(run, authentic)
                run = []
            run.append(op)
        _close_run(run, authentic)
    return authentic


def _close_run(run: list[Op], authentic: set[int]) -> None:
    if run and run[-1].signature_valid():
        authentic.update(id(op) for op in run)


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic collector for one batch: the batch makes no cycles to collect.

    A bulk pull allocates several objects per op, and each allocation burst
    makes the collector rescan the whole (growing) vault: a quarter of the
    fold's time, for garbage that reference counting frees anyway.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
