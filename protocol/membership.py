"""Membership: who is in the vault, decided from the set of membership ops alone.

Theory of operation. No clock decides anything here: a removed device picks
its own clock, so an order by clock would let it sort its ops before its
removal. What a removal cuts off is decided by what the remover signed: the
`heads` of the target it held. An op is *seen* by a removal if it is one of
those heads or an ancestor of one through the target's hash links.

Each op stands on a *standing*: itself, the device_added its author's chain
hangs from, the op that added that op's author, and so on up to the genesis.
An op counts when every op of its standing is seen by every removal of that
op's author that counts. So a removed device's later ops, and the devices it
added that its remover never saw, count nowhere, whatever clock they carry.

Which removals count is an argument between removals. Removal Q *attacks*
removal R when R's standing holds an op of Q's target that Q had not seen (R
was written by the target after Q's cutoff, or by a device the target added
unseen). Two removals of one device never attack each other: they agree it
leaves. A removal counts unless a removal that counts attacks it, and the
unique answer is found as the grounded labelling of the attack graph
(Dung, 1995): unattacked removals count, what they attack does not, and so on.
What remains are cycles: removals each made without having seen the other.
All of them count, so every device in such a cycle leaves; a removed device
can take down with it only the devices that removed it unseen, and it never
stays a member, founder or not.

A known fork of an author (two different ops at one seq) is a virtual
removal of it that has seen every account op and the membership ops before
the fork: from the fork on, the author's membership ops count for no one,
while everything it typed stays. A real removal of the forked device that
counts replaces the virtual one: it decides what counts, by what its remover
saw, except that a remover who had seen both branches vouches for neither's
membership ops.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field

from .envelope import Op, OpKind
from .membership_bodies import (
    Body,
    DeviceAdded,
    DeviceRemoved,
    DeviceRenamed,
    Genesis,
    KeyRotated,
    KeysGranted,
)
from .op_graph import OpGraph

SortKey = tuple[int, bytes, int]


def sort_key(op: Op) -> SortKey:
    """A total order for listing ops; it decides nothing about membership."""
    return (op.hlc, op.author, op.seq)


@dataclass(frozen=True, slots=True)
class Member:
    """A device that is, or was, in the vault."""

    public_key: bytes
    name: str
    cert: bytes
    added_by: bytes | None
    added_in: bytes


@dataclass(frozen=True, slots=True)
class Removal:
    """A removal that counts: who removed whom, and the last op of it the remover held."""

    device: bytes
    by: bytes
    op: bytes
    hlc: int
    cutoff: int


@dataclass(frozen=True, slots=True, eq=False)
class _Node:
    """A removal in the attack graph: a real one (op) or the virtual one a fork makes."""

    target: bytes
    op: Op | None = None
    heads: tuple[Op, ...] = ()
    split: int | None = None  # the lowest seq at which the heads' branches part
    fork: int | None = None  # for a fork's virtual removal: the fork's seq


@dataclass(slots=True)
class Membership:
    """What the membership ops a replica holds decide."""

    founder: bytes | None = None
    added: dict[bytes, Member] = field(default_factory=dict)
    removals: dict[bytes, list[Removal]] = field(default_factory=dict)
    epochs: list[bytes] = field(default_factory=list)
    usable: list[bytes] = field(default_factory=list)
    creators: list[bytes] = field(default_factory=list)  # every epoch-creating op, counting or not
    sealed: dict[bytes, frozenset[bytes]] = field(default_factory=dict)  # epoch -> wrapped to
    holders: dict[bytes, frozenset[bytes]] = field(default_factory=dict)
    void: set[bytes] = field(default_factory=set)
    forks: dict[bytes, int] = field(default_factory=dict)
    _verdict: _Verdict | None = None

    @property
    def members(self) -> dict[bytes, Member]:
        """The current members: added, and not removed by a removal that counts."""
        return {k: m for k, m in self.added.items() if k not in self.removals}

    @property
    def cutoffs(self) -> dict[bytes, int]:
        """Removed devices and the lowest cutoff among the removals of each, for people."""
        return {k: min(r.cutoff for r in rs) for k, rs in self.removals.items()}

    @property
    def closed(self) -> bool:
        """Every device has left: nothing anyone writes counts any more."""
        return self.founder is not None and not self.members

    def first_removal(self, device: bytes) -> Removal | None:
        """The removal of a device that counts and sorts first, for people; None if none."""
        removals = self.removals.get(device)
        return min(removals, key=lambda r: (r.hlc, r.by)) if removals else None

    @property
    def current_epoch(self) -> bytes | None:
        """The epoch new ops are sealed under: the last one no outsider holds the key of."""
        return self.usable[-1] if self.usable else None

    def counts(self, op: Op) -> bool:
        """Whether an op counts in the vault's state."""
        return self._verdict is None or self._verdict.counts(op)

    def signature(self) -> object:
        """Changes whenever the verdict on some op may have changed."""
        return None if self._verdict is None else self._verdict.key


class _Verdict:
    """Which removals count, and from that, whether any op does."""

    def __init__(self, graph: OpGraph, status: dict[_Node, bool]) -> None:
        self.graph = graph
        self.counting: dict[bytes, list[_Node]] = {}
        for node, counted in status.items():
            if counted:
                self.counting.setdefault(node.target, []).append(node)
        self.key = frozenset(
            (n.op.hash if n.op is not None else n.target, n.fork)
            for ns in self.counting.values()
            for n in ns
        )
        self._cut: dict[bytes, int] = {}  # unforked author -> highest seq that counts
        self._rooted: dict[bytes, bool] = {}  # root op hash -> its standing counts
        self._cache: dict[bytes, bool] = {}
        for author, nodes in self.counting.items():
            if author not in graph.forks and all(n.op is not None for n in nodes):
                self._cut[author] = min(max((h.seq for h in n.heads), default=0) for n in nodes)

    def counts(self, op: Op) -> bool:
        author = op.author
        if author not in self.graph.forks:
            cut = self._cut.get(author)
            if cut is not None and op.seq > cut:
                return False
            if author not in self.counting or cut is not None:
                return self._root_counts(self.graph.root(op))
        known = self._cache.get(op.hash)
        if known is None:
            known = self._cache[op.hash] = self.standing_counts(op)
        return known

    def _root_counts(self, root: Op | None) -> bool:
        if root is None:
            return True
        known = self._rooted.get(root.hash)
        if known is None:
            known = self._rooted[root.hash] = self.standing_counts(root)
        return known

    def standing_counts(self, op: Op) -> bool:
        return all(
            seen(self.graph, n, s)
            for s in standing(self.graph, op)
            for n in self.counting.get(s.author, ())
        )


def standing(graph: OpGraph, op: Op) -> list[Op]:
    """The op, the device_added its author hangs from, and so on up to the genesis."""
    out = [op]
    root = graph.root(op)
    while root is not None:
        out.append(root)
        root = graph.root(root)
    return out


def seen(graph: OpGraph, node: _Node, op: Op) -> bool:
    """Whether a removal (real or a fork's) had seen an op of its target."""
    membership_op = not op.kind.encrypted and op.kind is not OpKind.GENESIS
    if node.fork is not None:
        return not membership_op or op.seq < node.fork
    if node.split is not None and membership_op and op.seq >= node.split:
        return False
    return any(graph.is_ancestor(op, head) for head in node.heads)


def removal_heads(graph: OpGraph, body: DeviceRemoved) -> tuple[Op, ...] | None:
    """The target's ops a removal names as held, once every one is here."""
    heads = []
    for h in body.heads:
        op = graph.by_hash.get(h)
        if op is None:
            return None
        heads.append(op)
    return tuple(heads)


def real_node(graph: OpGraph, op: Op, body: DeviceRemoved) -> _Node:
    """The attack-graph node of a stored removal."""
    heads = removal_heads(graph, body) or ()
    return _Node(body.device, op, heads, graph.divergence(list(heads)))


def compute(graph: OpGraph, entries: Iterable[tuple[Op, Body]]) -> Membership:
    """Fold membership ops into the membership; the same set of ops gives the same result."""
    ordered = sorted(entries, key=lambda e: sort_key(e[0]))
    nodes = [real_node(graph, op, b) for op, b in ordered if isinstance(b, DeviceRemoved)]
    nodes.extend(_Node(author, fork=f) for author, f in sorted(graph.forks.items()))
    status = _decide(nodes, _attacks(graph, nodes))
    verdict = _Verdict(graph, status)
    m = Membership(forks=dict(graph.forks), _verdict=verdict)
    removed_by_op = {n.op.hash: n for n, ok in status.items() if ok and n.op is not None}
    renames: dict[bytes, tuple[int, bytes, str]] = {}
    for op, body in ordered:
        counted = (
            op.hash in removed_by_op
            if isinstance(body, DeviceRemoved)
            else verdict.standing_counts(op)
        )
        if not counted:
            m.void.add(op.hash)
            continue
        if isinstance(body, Genesis):
            if m.founder is None:
                m.founder = op.author
                m.added[op.author] = Member(op.author, body.name, body.cert, None, op.hash)
            m.epochs.append(op.hash)
        elif isinstance(body, DeviceAdded):
            if body.device not in m.added or _named_root(graph, body.device) == op.hash:
                m.added[body.device] = Member(body.device, body.name, body.cert, op.author, op.hash)
        elif isinstance(body, DeviceRemoved):
            m.removals.setdefault(body.device, []).append(
                Removal(body.device, op.author, op.hash, op.hlc, body.cutoff)
            )
            m.epochs.append(op.hash)
        elif isinstance(body, KeyRotated):
            m.epochs.append(op.hash)
        elif isinstance(body, DeviceRenamed):
            known = renames.get(op.author)
            if known is None or (op.seq, op.hash) > known[:2]:
                renames[op.author] = (op.seq, op.hash, body.name)
    for author, (_, _, name) in renames.items():
        if author in m.added:
            m.added[author] = dataclasses.replace(m.added[author], name=name)
    m.creators = [
        op.hash for op, b in ordered if isinstance(b, Genesis | DeviceRemoved | KeyRotated)
    ]
    m.sealed = _sealed(ordered)
    makers = {op.hash: op.author for op, _ in ordered}
    m.holders = {e: m.sealed.get(e, frozenset()) | {makers[e]} for e in m.creators}
    members = m.members
    m.usable = [e for e in m.epochs if m.holders.get(e, frozenset()) <= members.keys()]
    return m


def _named_root(graph: OpGraph, device: bytes) -> bytes | None:
    chain = graph.chains.get(device)
    return chain[0].prev if chain else None


def _sealed(ordered: list[tuple[Op, Body]]) -> dict[bytes, frozenset[bytes]]:
    """Every device a wrap of each epoch's key was sealed to, by any op here. With its maker,
    who knows the key it made, these are the epoch's holders."""
    sealed: dict[bytes, set[bytes]] = {}
    for op, body in ordered:
        if isinstance(body, Genesis):
            sealed.setdefault(op.hash, set()).add(op.author)
        elif isinstance(body, DeviceRemoved | KeyRotated):
            sealed.setdefault(op.hash, set()).update(body.wraps)
        elif isinstance(body, DeviceAdded | KeysGranted):
            for epoch in body.wraps:
                sealed.setdefault(epoch, set()).add(body.device)
    return {e: frozenset(h) for e, h in sealed.items()}


def _attacks(graph: OpGraph, nodes: list[_Node]) -> dict[_Node, list[_Node]]:
    """For each node, the nodes that attack it."""
    by_target: dict[bytes, list[_Node]] = {}
    for n in nodes:
        by_target.setdefault(n.target, []).append(n)
    attackers: dict[_Node, list[_Node]] = {}
    for n in nodes:
        if n.op is None:  # a fork's virtual removal yields to any real removal of its device
            attackers[n] = [q for q in by_target.get(n.target, ()) if q.op is not None]
            continue
        found: list[_Node] = []
        for s in standing(graph, n.op):
            if s.author == n.target:
                continue
            for q in by_target.get(s.author, ()):
                if q not in found and not seen(graph, q, s):
                    found.append(q)
        attackers[n] = found
    return attackers


def _decide(nodes: list[_Node], attackers: dict[_Node, list[_Node]]) -> dict[_Node, bool]:
    """The grounded labelling of the attack graph, with every unresolved cycle counted."""
    status: dict[_Node, bool] = {}
    undecided = list(nodes)
    while undecided:
        changed = True
        while changed:
            changed = False
            for n in undecided:
                atk = attackers[n]
                if any(status.get(a) is True for a in atk):
                    status[n] = False
                elif all(status.get(a) is False for a in atk):
                    status[n] = True
                else:
                    continue
                changed = True
            undecided = [n for n in undecided if n not in status]
        if undecided:
            for component in _source_components(undecided, attackers):
                for n in component:
                    status[n] = True
            undecided = [n for n in undecided if n not in status]
    return status


def _source_components(
    nodes: list[_Node], attackers: dict[_Node, list[_Node]]
) -> list[list[_Node]]:
    """Strongly connected components no other undecided node attacks (Tarjan, iterative)."""
    inside = set(nodes)
    edges = {n: [a for a in attackers[n] if a in inside] for n in nodes}  # n <- a
    index: dict[_Node, int] = {}
    low: dict[_Node, int] = {}
    stack: list[_Node] = []
    on_stack: set[_Node] = set()
    components: list[list[_Node]] = []
    for start in nodes:
        if start in index:
            continue
        work = [(start, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            nexts = edges[node]
            if i < len(nexts):
                work.append((node, i + 1))
                nxt = nexts[i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.append(top)
                    if top is node:
                        break
                components.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    member_of = {n: i for i, c in enumerate(components) for n in c}
    return [
        c for i, c in enumerate(components) if all(member_of[a] == i for n in c for a in edges[n])
    ]
