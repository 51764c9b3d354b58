"""One device's replica of a vault: the verified op log and the state folded from it.

Theory of operation. `receive` checks an op completely before it changes
anything: shape, vault, signature (or, in a batch, the hash chain up to a
signed op), duplicates and forks, clock, chain link, its author's standing,
its key epoch, and its body. An op that depends on one not yet here (its
author's previous op, the op that added its author, the op that created its
epoch) is held back, signature already checked, and admitted the moment that
op arrives. Only then is it appended: membership ops refold the membership
and open any epoch keys sealed to this device; account ops are decrypted and
folded into the state. The state depends only on which ops are here, never
on the order they came in.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

from . import account_write, membership, membership_bodies
from .account_write import AccountWrite
from .certificate import check_certificate
from .envelope import ZERO_HASH, Op, OpKind
from .errors import (
    BadSignature,
    BrokenChain,
    Equivocation,
    MalformedOp,
    NotAMember,
    OpRefused,
    PendingLimit,
    RemovedAuthor,
    UnknownEpoch,
    WrongVault,
)
from .hlc import Clock, check_not_ahead
from .identity import DeviceKey, display_id
from .keywrap import key_check, open_wrap
from .membership import Membership
from .membership_bodies import Body, DeviceAdded, DeviceRemoved, Genesis, KeyRotated, KeysGranted
from .state import VaultState
from .vector import VersionVector

EPOCH_KINDS = frozenset({OpKind.GENESIS, OpKind.DEVICE_REMOVED, OpKind.KEY_ROTATED})
MAX_PENDING = 10_000

Dependency = tuple[bytes, int] | bytes


class _Held(Exception):  # control flow, never escapes this module
    def __init__(self, dependency: Dependency, reason: str) -> None:
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


class Replica:
    """A vault as one device holds it; every method is pure, time is passed in."""

    def __init__(self, vault: bytes, device: DeviceKey | None = None, clock: int = 0) -> None:
        self.vault = vault
        self.device = device
        self.clock = Clock(clock)
        self.chains: dict[bytes, list[Op]] = {}
        self.by_hash: dict[bytes, Op] = {}
        self.bodies: dict[bytes, Body] = {}
        self.membership = Membership()
        self.epoch_keys: dict[bytes, bytes] = {}
        self.writes: dict[bytes, AccountWrite] = {}
        self.sealed: dict[bytes, Op] = {}
        self.corrupt: dict[bytes, OpRefused] = {}
        self.writers: set[bytes] = set()
        self.pending: dict[tuple[bytes, int], Op] = {}
        self.waiting: dict[Dependency, set[tuple[bytes, int]]] = {}
        self.evidence: list[tuple[bytes, bytes]] = []
        self.state = VaultState()
        self._offers: dict[bytes, list[bytes]] = {}

    # -- receiving -----------------------------------------------------------

    def receive(self, raw: bytes, now_ms: int) -> Receipt:
        """Verify one op from a peer and apply it, hold it back, or raise why it is refused."""
        return self._receive(Op(raw), now_ms, authenticated=False)

    def receive_batch(self, raws: Iterable[bytes], now_ms: int) -> BatchReport:
        """Receive many ops; each author's consecutive run costs one signature check."""
        with _cyclic_gc_paused():
            return self._receive_batch(raws, now_ms)

    def _receive_batch(self, raws: Iterable[bytes], now_ms: int) -> BatchReport:
        report = BatchReport()
        ops: list[Op] = []
        for raw in raws:
            try:
                ops.append(Op(raw))
            except OpRefused as exc:
                report.refused.append((raw, exc))
        authentic = _authenticated_runs(ops)
        ops.sort(key=membership.sort_key)
        for op in ops:
            try:
                receipt = self._receive(op, now_ms, authenticated=id(op) in authentic)
            except OpRefused as exc:
                report.refused.append((op, exc))
                continue
            if receipt.status == "duplicate":
                report.duplicates += 1
            elif receipt.status == "held":
                report.held.append(op)
            report.applied.extend(receipt.applied)
            report.refused.extend(receipt.refused)
        held = set(self.pending)
        report.held = [op for op in report.held if op.ref in held]
        return report

    def _receive(self, op: Op, now_ms: int, *, authenticated: bool) -> Receipt:
        try:
            if self._admit(op, now_ms, authenticated=authenticated) == "duplicate":
                return Receipt("duplicate")
        except _Held as held:
            self._hold(op, held.dependency)
            return Receipt("held", waiting_for=held.reason)
        receipt = Receipt("applied", [op])
        self._release(op, now_ms, receipt)
        return receipt

    def _admit(self, op: Op, now_ms: int, *, authenticated: bool) -> str:
        """Check everything about `op`, then append it; raise before changing anything."""
        if op.vault != self.vault:
            raise WrongVault(f"op belongs to vault {op.vault.hex()}, not {self.vault.hex()}")
        chain = self.chains.get(op.author, [])
        have = len(chain)
        if op.seq <= have:
            known = chain[op.seq - 1]
            if known.raw == op.raw:
                return "duplicate"
            self._check_signature(op, authenticated)
            self._equivocation(known, op)
        self._check_signature(op, authenticated)
        check_not_ahead(op.hlc, now_ms)
        self._check_shape(op)
        if op.seq > have + 1:
            raise _Held((op.author, op.seq - 1), f"op {op.seq - 1} of its author")
        if op.seq == 1:
            self._check_first(op)
        else:
            last = chain[-1]
            if op.prev != last.hash:
                raise BrokenChain(f"op {op.seq} does not name its author's op {last.seq} as prev")
            if op.hlc <= last.hlc:
                raise BrokenChain(f"op {op.seq}'s clock is not after its author's previous op")
        if op.kind is not OpKind.GENESIS:
            self._check_standing(op)
        content: Body | AccountWrite | None
        if op.kind.encrypted:
            content = self._open(op)
        else:
            content = membership_bodies.decode(op.kind, op.payload)
            if isinstance(content, Genesis):
                if membership_bodies.vault_id(op.author, content.salt) != self.vault:
                    raise WrongVault("genesis does not derive this vault's id: it was forged")
                check_certificate(content.cert, op.author)
            if isinstance(content, DeviceAdded):
                if content.device == op.author:
                    raise MalformedOp("a device cannot add itself")
                check_certificate(content.cert, content.device)
        self._commit(op, content)
        return "applied"

    def _check_signature(self, op: Op, authenticated: bool) -> None:
        if not authenticated and not op.signature_valid():
            raise BadSignature(
                f"op {op.seq} of {display_id(op.author)} has a bad signature: "
                "it was altered or forged"
            )

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
            founder = self.membership.founder
            if founder is not None and founder != op.author:
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

    def _check_standing(self, op: Op) -> None:
        """Refuse an op written after its author left the vault, in the fold's order.

        Only ops that sort before it can change that verdict, and none of them
        waits behind it, so anti-entropy brings this op back if they do.
        """
        m = self.membership
        if op.author not in m.added:
            raise NotAMember(
                f"{display_id(op.author)} is not a member: the op that added it does not count"
            )
        if m.out_before(op.author, membership.sort_key(op)):
            raise RemovedAuthor(
                f"{display_id(op.author)} was removed from the vault before it wrote op {op.seq}"
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

    def _equivocation(self, first: Op, second: Op) -> None:
        pair = (first.raw, second.raw)
        if pair not in self.evidence:
            self.evidence.append(pair)
        raise Equivocation(
            f"{display_id(second.author)} signed two different ops with seq {second.seq}: "
            "its log forked; both are kept as evidence",
            first.raw,
            second.raw,
        )

    def _hold(self, op: Op, dependency: Dependency) -> None:
        known = self.pending.get(op.ref)
        if known is not None:
            if known.raw != op.raw:
                self._equivocation(known, op)
            return
        if len(self.pending) >= MAX_PENDING:
            raise PendingLimit(
                f"{MAX_PENDING} ops already wait for ops they depend on; this one is refused "
                "and will be sent again by anti-entropy"
            )
        self.pending[op.ref] = op
        self.waiting.setdefault(dependency, set()).add(op.ref)

    def _release(self, op: Op, now_ms: int, receipt: Receipt) -> None:
        """Admit every held op that was waiting for `op`, and for those, transitively."""
        ready = [op]
        while ready:
            done = ready.pop()
            for dependency in (done.ref, done.hash):
                for ref in self.waiting.pop(dependency, ()):
                    waiting = self.pending.pop(ref, None)
                    if waiting is None:
                        continue
                    try:
                        if self._admit(waiting, now_ms, authenticated=True) == "applied":
                            receipt.applied.append(waiting)
                            ready.append(waiting)
                    except _Held as held:
                        self._hold(waiting, held.dependency)
                    except OpRefused as exc:
                        receipt.refused.append((waiting, exc))

    # -- appending and folding -----------------------------------------------

    def _commit(self, op: Op, content: Body | AccountWrite | None) -> None:
        self.chains.setdefault(op.author, []).append(op)
        self.by_hash[op.hash] = op
        self.clock.observe(op.hlc)
        if isinstance(content, AccountWrite) or content is None:
            self.writers.add(op.author)
            if content is None:
                self.sealed[op.hash] = op
            else:
                self.writes[op.hash] = content
                if self.membership.allows(op.author, op.seq):
                    self.state.apply(op.hash, op.hlc, op.author, content)
            return
        self.bodies[op.hash] = content
        before = {a: self.membership.limit(a) for a in self.writers}
        last = self.membership.last
        if last is None or membership.sort_key(op) > last:
            membership.step(self.membership, op, content)
        else:
            self.membership = membership.compute(
                (self.by_hash[h], b) for h, b in self.bodies.items()
            )
        opened = self._unlock(op, content)
        if before != {a: self.membership.limit(a) for a in self.writers}:
            self._refold()
        else:
            for h in opened:
                o = self.by_hash[h]
                if self.membership.allows(o.author, o.seq):
                    self.state.apply(h, o.hlc, o.author, self.writes[h])

    def _refold(self) -> None:
        state = VaultState()
        allows = self.membership.allows
        for h, write in self.writes.items():
            o = self.by_hash[h]
            if allows(o.author, o.seq):
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
        """What this replica holds: the highest contiguous seq of every author."""
        return VersionVector({a: len(c) for a, c in self.chains.items()})

    def ops_missing_from(self, vector: VersionVector) -> list[bytes]:
        """The ops a peer with `vector` lacks, in an order that delivers dependencies first."""
        ops = [op for a, c in self.chains.items() for op in c[vector.get_seq(a) :]]
        ops.sort(key=membership.sort_key)
        return [op.raw for op in ops]

    def log(self) -> list[bytes]:
        """Every op held, dependencies first: what a device persists and replays."""
        return self.ops_missing_from(VersionVector())


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
