"""Every op a replica holds, as each author's tree of hash links.

An honest author's ops form one chain. A copied home run twice, or a thief
rewriting its history, signs two different ops with one seq: the author's
ops then form a tree, and both branches are kept, because the state must be a
function of the set of ops and nothing a person typed may be lost. The first
branch to arrive is the *primary* chain; it is bookkeeping for version
vectors only, and nothing the fold decides depends on which branch it is.
"""

from __future__ import annotations

from .envelope import Op


class OpGraph:
    """The ops of a vault by hash, each author's primary chain, and the branches beside it."""

    __slots__ = ("_roots", "branch_ops", "by_hash", "chains", "forks")

    def __init__(self) -> None:
        self.by_hash: dict[bytes, Op] = {}
        self.chains: dict[bytes, list[Op]] = {}
        self.branch_ops: dict[bytes, Op] = {}
        self.forks: dict[bytes, int] = {}  # author -> lowest seq holding two different ops
        self._roots: dict[bytes, bytes] = {}

    def add(self, op: Op) -> int | None:
        """Store an op whose prev is present (or a seq 1); the seq of a fork it reveals."""
        self.by_hash[op.hash] = op
        chain = self.chains.setdefault(op.author, [])
        if len(chain) == op.seq - 1 and (op.seq == 1 or chain[-1].hash == op.prev):
            chain.append(op)
            return None
        self.branch_ops[op.hash] = op
        fork = self._divergence(op)
        known = self.forks.get(op.author)
        if known is None or fork < known:
            self.forks[op.author] = fork
            return fork
        return None

    def _divergence(self, op: Op) -> int:
        """The seq at which the branch holding `op` leaves the primary chain."""
        while op.seq > 1 and not self.is_primary(prev := self.by_hash[op.prev]):
            op = prev
        return int(op.seq)

    def is_primary(self, op: Op) -> bool:
        """Whether the op lies on its author's primary chain."""
        chain = self.chains.get(op.author, ())
        return op.seq <= len(chain) and chain[op.seq - 1] is op

    def is_ancestor(self, older: Op, newer: Op) -> bool:
        """Whether `older` is `newer` or one of the ops its hash links lead back to."""
        if older.author != newer.author or older.seq > newer.seq:
            return False
        op = newer
        while op.seq > older.seq:
            if self.is_primary(op):
                return self.is_primary(older)
            op = self.by_hash[op.prev]
        return op is older

    def root(self, op: Op) -> Op | None:
        """The op an author's branch hangs from: the device_added its first op names.

        None for a genesis. The root is present: an op is only stored once its
        chain down to its first op, and that op's prev, are.
        """
        if self.is_primary(op):
            first = self.chains[op.author][0]
        else:
            cached = self._roots.get(op.hash)
            if cached is not None:
                return self.by_hash.get(cached)
            first = op
            while first.seq > 1 and not self.is_primary(first):
                first = self.by_hash[first.prev]
            if first.seq > 1:
                first = self.chains[op.author][0]
            self._roots[op.hash] = first.prev
        return self.by_hash.get(first.prev)

    def ops_of(self, author: bytes) -> list[Op]:
        """Every op of an author, every branch, in seq order."""
        ops = list(self.chains.get(author, ()))
        ops.extend(o for o in self.branch_ops.values() if o.author == author)
        ops.sort(key=lambda o: (o.seq, o.hash))
        return ops

    def tips(self, author: bytes) -> list[Op]:
        """The author's ops that no op held here follows: one per branch."""
        chain = self.chains.get(author)
        if not chain:
            return []
        if author not in self.forks:
            return [chain[-1]]
        ops = self.ops_of(author)
        named = {o.prev for o in ops}
        return [o for o in ops if o.hash not in named]

    def divergence(self, heads: list[Op]) -> int | None:
        """The lowest seq at which the ancestries of these ops of one author part, if they do."""
        lowest: int | None = None
        for i, a in enumerate(heads):
            for b in heads[i + 1 :]:
                if self.is_ancestor(a, b) or self.is_ancestor(b, a):
                    continue
                x, y = a, b
                while x.seq > y.seq:
                    x = self.by_hash[x.prev]
                while y.seq > x.seq:
                    y = self.by_hash[y.prev]
                while x is not y and x.seq > 1:
                    x, y = self.by_hash[x.prev], self.by_hash[y.prev]
                seq = x.seq + 1 if x is y else 1
                lowest = seq if lowest is None else min(lowest, seq)
        return lowest
