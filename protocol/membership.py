"""Membership: who may write to the vault, computed as one pass over membership ops.

Theory of operation. Membership ops are folded once, in the order (hlc,
author, seq): a linear extension of causality, because every device moves its
clock past each op it receives. A membership op counts if its author is a
member at its place in that order, so whether it counts depends only on ops
that sort before it. That makes the result the same on every device, and it
makes refusing an op safe: an op that could change the verdict sorts earlier,
and is never stuck behind the refused one.

A removal names the target's highest seq the remover had seen (its cutoff).
From the removal on, the target is out. Its account ops after the cutoff do
not count even where they sort earlier, and the devices it added after the
cutoff, which the remover never saw, are removed with it, all their account
ops with them. Hence:

- a removal wins over a concurrent addition made by the removed device;
- of two concurrent mutual removals the one that sorts first wins; the other
  comes from a device that is already out;
- a removal that would leave no member does not count;
- a removed device is never added again: a returning device gets a new key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field

from .envelope import Op
from .membership_bodies import (
    Body,
    DeviceAdded,
    DeviceRemoved,
    DeviceRenamed,
    Genesis,
    KeyRotated,
)

INFINITE = 1 << 64

SortKey = tuple[int, bytes, int]


@dataclass(frozen=True, slots=True)
class Member:
    """A device that is, or was, in the vault."""

    public_key: bytes
    name: str
    cert: bytes
    added_by: bytes | None
    added_in: bytes


@dataclass(slots=True)
class Membership:
    """The result of folding the membership ops a replica holds."""

    founder: bytes | None = None
    added: dict[bytes, Member] = field(default_factory=dict)
    cutoffs: dict[bytes, int] = field(default_factory=dict)
    removed_at: dict[bytes, SortKey] = field(default_factory=dict)
    epochs: list[bytes] = field(default_factory=list)
    void: set[bytes] = field(default_factory=set)
    adds_by: dict[bytes, list[tuple[int, bytes]]] = field(default_factory=dict)
    last: SortKey | None = None

    def limit(self, author: bytes) -> int:
        """The highest seq of `author` whose account ops count: 0 for a stranger."""
        if author not in self.added:
            return 0
        return self.cutoffs.get(author, INFINITE)

    def allows(self, author: bytes, seq: int) -> bool:
        """Whether account op `seq` of `author` counts in the vault's state."""
        return seq <= self.limit(author)

    def out_before(self, author: bytes, key: SortKey) -> bool:
        """Whether `author` had left the vault before the place `key` in the fold order."""
        removed = self.removed_at.get(author)
        return removed is not None and removed < key

    @property
    def members(self) -> dict[bytes, Member]:
        """The current members: added and not removed."""
        return {k: m for k, m in self.added.items() if k not in self.cutoffs}

    @property
    def current_epoch(self) -> bytes | None:
        """The epoch new ops are sealed under: the last one a counted op created."""
        return self.epochs[-1] if self.epochs else None


def sort_key(op: Op) -> SortKey:
    """The total order membership is folded in."""
    return (op.hlc, op.author, op.seq)


def compute(entries: Iterable[tuple[Op, Body]]) -> Membership:
    """Fold membership ops into the membership; the same ops give the same result."""
    m = Membership()
    for op, body in sorted(entries, key=lambda e: sort_key(e[0])):
        step(m, op, body)
    return m


def step(m: Membership, op: Op, body: Body) -> None:
    """Fold one more op in; valid only for an op that sorts after every one folded so far."""
    key = sort_key(op)
    m.last = key
    if isinstance(body, Genesis):
        if m.founder is None:
            m.founder = op.author
            m.added[op.author] = Member(op.author, body.name, body.cert, None, op.hash)
            m.epochs.append(op.hash)
        return
    if op.author not in m.added or op.author in m.cutoffs:
        m.void.add(op.hash)
        return
    if isinstance(body, DeviceAdded):
        if body.device in m.added:
            m.void.add(op.hash)
        else:
            m.added[body.device] = Member(body.device, body.name, body.cert, op.author, op.hash)
            m.adds_by.setdefault(op.author, []).append((op.seq, body.device))
    elif isinstance(body, DeviceRemoved):
        if body.device in m.added and body.device not in m.cutoffs:
            out = _leaving(m, body.device, body.cutoff)
            if not any(k not in m.cutoffs and k not in out for k in m.added):
                m.void.add(op.hash)
                return
            for device, cutoff in out.items():
                if device != body.device:
                    m.void.add(m.added[device].added_in)
                m.cutoffs[device] = min(cutoff, m.cutoffs.get(device, cutoff))
                m.removed_at.setdefault(device, key)
        m.epochs.append(op.hash)
    elif isinstance(body, KeyRotated):
        m.epochs.append(op.hash)
    elif isinstance(body, DeviceRenamed):
        m.added[op.author] = dataclasses.replace(m.added[op.author], name=body.name)


def _leaving(m: Membership, target: bytes, cutoff: int) -> dict[bytes, int]:
    """The target and its cutoff, with every device it added after the cutoff, and theirs."""
    out = {target: cutoff}
    for seq, device in m.adds_by.get(target, ()):
        if seq > cutoff:
            out.update(_leaving(m, device, 0))
    return out
