"""An independent oracle for the membership rules, written from specs/protocol.md alone.

It reads sections 6.3, 7.1 and 9.1 to 9.4 literally and recomputes everything
from the set of ops a replica holds, from scratch and by brute force: no
incremental state, no caches, nothing shared with `protocol/membership.py` or
`protocol/op_graph.py` (parsing headers and bodies is borrowed, folding the
account registers too: they are not what is checked here).

The steps, each a spec sentence:

1. *Forks* (6.3): the fork seq of an author is the lowest seq holding two of its ops.
2. *Standing* (9.2): the op, the device_added its branch hangs from, that op's
   own standing, up to the genesis.
3. *Removals* (9.2): every device_removed op, with the target ops it has seen
   (its heads and their ancestors, minus the membership ops from where its
   heads part when they lie on different branches); and one *fork removal*
   per forked author, which has seen the author's account ops, its genesis and
   its membership ops below the fork seq.
4. *Attacks* and the grounded labelling with source cycles counted (9.3).
5. *Which ops count* (9.2), then members, removals, closed, names (9.3), and
   epochs, holders, usable epochs and the current epoch (9.4).

Where the spec leaves room, this reads it so (and says so where it is used):

- A removal *counts* when the labelling of 9.3 says so. 9.2's rule, read for a
  removal itself, would void both removals of a mutual-removal cycle (each
  never saw the other), which 9.3 says both count; so 9.2 decides the other ops.
- A fork removal has no standing of its own: only real removals of its target
  attack it.
- Heads on several branches "part" at the lowest seq where any two of them do.
- A standing ends with the genesis; several counting additions of one device
  with none named by its first op: the earliest in (hlc, author, seq) order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from twofold.protocol import membership_bodies
from twofold.protocol.account_write import AccountWrite
from twofold.protocol.envelope import ZERO_HASH, Op, OpKind
from twofold.protocol.membership_bodies import (
    Body,
    DeviceAdded,
    DeviceRemoved,
    DeviceRenamed,
    Genesis,
    KeyRotated,
    KeysGranted,
)
from twofold.protocol.state import VaultState

EPOCH_KINDS = (OpKind.GENESIS, OpKind.DEVICE_REMOVED, OpKind.KEY_ROTATED)


@dataclass(frozen=True)
class Removal:
    """A real removal (`op` set) or a fork removal (`op` None) of `target`."""

    target: bytes
    seen: frozenset[bytes]  # hashes of the target's ops it has seen
    op: Op | None = None
    parted: int | None = None  # heads on different branches: where they part


@dataclass
class Model:
    """Everything the rules decide for one set of ops."""

    ops: dict[bytes, Op]
    bodies: dict[bytes, Body]
    forks: dict[bytes, int] = field(default_factory=dict)
    removals: list[Removal] = field(default_factory=list)
    attackers: dict[int, set[int]] = field(default_factory=dict)
    counting_removals: set[int] = field(default_factory=set)  # indexes into `removals`
    cycles: set[frozenset[int]] = field(default_factory=set)  # counted as a whole
    rounds: int = 0  # times the labelling had to count cycles
    counting: set[bytes] = field(default_factory=set)  # hashes of the ops that count
    void: set[bytes] = field(default_factory=set)  # membership ops that do not count
    invalid: set[bytes] = field(default_factory=set)  # removals section 6 step 9 refuses
    records: dict[bytes, Op | None] = field(default_factory=dict)  # added device -> its add
    removed: dict[bytes, set[bytes]] = field(default_factory=dict)  # device -> removal ops
    members: set[bytes] = field(default_factory=set)
    names: dict[bytes, str] = field(default_factory=dict)
    epochs: list[bytes] = field(default_factory=list)
    holders: dict[bytes, set[bytes]] = field(default_factory=dict)
    usable: list[bytes] = field(default_factory=list)

    @property
    def closed(self) -> bool:
        return not self.members

    @property
    def current_epoch(self) -> bytes | None:
        return self.usable[-1] if self.usable else None


def order(op: Op) -> tuple[int, bytes, int]:
    return (op.hlc, op.author, op.seq)


def model(raws: Iterable[bytes]) -> Model:
    ops = {o.hash: o for o in map(Op, raws)}
    bodies = {h: membership_bodies.decode(o.kind, o.payload) for h, o in ops.items() if o.kind < 16}
    m = Model(ops, bodies)

    def chain(o: Op) -> list[Op]:  # o and its ancestors by prev, same author, newest first
        out = [o]
        while out[-1].seq > 1:
            out.append(ops[out[-1].prev])
        return out

    def standing(o: Op) -> list[Op]:
        root = chain(o)[-1]
        if root.prev == ZERO_HASH:
            return [o] if o is root else [o, root]
        return [o, *standing(ops[root.prev])]

    # 1. forks
    places: dict[tuple[bytes, int], set[bytes]] = {}
    for h, o in ops.items():
        places.setdefault((o.author, o.seq), set()).add(h)
    for (author, seq), here in sorted(places.items()):
        if len(here) > 1:
            m.forks.setdefault(author, seq)

    # 3. removals (real, then fork removals) and what each has seen
    for h, body in bodies.items():
        if isinstance(body, DeviceRemoved):
            below = {x: {a.hash for a in chain(ops[x])} for x in body.heads}
            seen = set().union(*below.values())
            parts = [
                max((ops[c].seq for c in below[x] & below[y]), default=0) + 1
                for x in body.heads
                for y in body.heads
                if x not in below[y] and y not in below[x]
            ]
            parted = min(parts, default=None)
            if parted is not None:
                seen = {s for s in seen if ops[s].kind >= 16 or ops[s].seq < parted}
            m.removals.append(Removal(body.device, frozenset(seen), ops[h], parted))
    for author, fork in m.forks.items():
        seen = {
            h
            for h, o in ops.items()
            if o.author == author and (o.kind >= 16 or o.kind is OpKind.GENESIS or o.seq < fork)
        }
        m.removals.append(Removal(author, frozenset(seen)))

    def unseen_by(q: Removal, o: Op) -> list[Op]:  # ops of o's standing q's target q missed
        return [s for s in standing(o) if s.author == q.target and s.hash not in q.seen]

    # 4. attacks; a removal cutting below its own standing is refused on receipt (6, step 9)
    def attacks(q: Removal, r: Removal) -> bool:
        if r.op is None:  # a fork removal: attacked by every real removal of its target
            return q.op is not None and q.target == r.target
        return q.target != r.target and bool(unseen_by(q, r.op))

    for i, r in enumerate(m.removals):
        m.attackers[i] = {j for j, q in enumerate(m.removals) if attacks(q, r)}
        if r.op is not None and (r.target == r.op.author or unseen_by(r, r.op)):
            m.invalid.add(r.op.hash)
    # the grounded labelling, then every cycle no undecided removal outside it attacks counts
    label: dict[int, bool] = {}
    while True:
        changed = True
        while changed:
            changed = False
            for i in set(m.attackers) - set(label):
                if all(label.get(j) is False for j in m.attackers[i]):
                    label[i], changed = True, True
                elif any(label.get(j) is True for j in m.attackers[i]):
                    label[i], changed = False, True
        undecided = set(m.attackers) - set(label)
        if not undecided:
            break
        m.rounds += 1

        def reach(i: int, undecided: set[int] = undecided) -> set[int]:  # who i attacks, on
            out, todo = set(), [i]
            while todo:
                k = todo.pop()
                for j in undecided:
                    if k in m.attackers[j] and j not in out:
                        out.add(j)
                        todo.append(j)
            return out

        for i in undecided:
            cycle = {j for j in reach(i) if i in reach(j)}
            if i in cycle and all(m.attackers[j] & undecided <= cycle for j in cycle):
                label.update(dict.fromkeys(cycle, True))
                m.cycles.add(frozenset(cycle))
    m.counting_removals = {i for i, v in label.items() if v}

    # 5. which ops count
    counting = [m.removals[i] for i in m.counting_removals]
    for h, o in ops.items():
        if all(s.hash in q.seen for s in standing(o) for q in counting if q.target == s.author):
            m.counting.add(h)
    in_ops = {r.op.hash for r in counting if r.op is not None}  # 9.3 decides for removals
    for h, body in bodies.items():
        if h not in (in_ops if isinstance(body, DeviceRemoved) else m.counting):
            m.void.add(h)

    # members (9.3)
    adds: dict[bytes, list[Op]] = {}
    for h, body in bodies.items():
        if isinstance(body, Genesis):
            m.records[ops[h].author] = None
            m.names[ops[h].author] = body.name
        elif isinstance(body, DeviceAdded) and h in m.counting:
            adds.setdefault(body.device, []).append(ops[h])
    for device, candidates in adds.items():
        named = [
            a
            for a in candidates
            for o in ops.values()
            if o.author == device and o.seq == 1 and o.prev == a.hash
        ]
        record = min(named or candidates, key=order)  # several: the spec leaves it open
        m.records[device] = record
        m.names[device] = bodies[record.hash].name
    for r in counting:
        if r.op is not None:
            m.removed.setdefault(r.target, set()).add(r.op.hash)
    m.members = set(m.records) - set(m.removed)
    renames = [(ops[h], b) for h, b in bodies.items() if isinstance(b, DeviceRenamed)]
    for o, rename in sorted(renames, key=lambda r: (r[0].seq, r[0].hash)):
        if o.hash in m.counting:
            m.names[o.author] = rename.name

    # epochs (9.4)
    creators = [
        o
        for h, o in ops.items()
        if o.kind is OpKind.GENESIS
        or (o.kind is OpKind.DEVICE_REMOVED and h in in_ops)
        or (o.kind is OpKind.KEY_ROTATED and h in m.counting)
    ]
    m.epochs = [o.hash for o in sorted(creators, key=order)]
    for e in m.epochs:
        body = bodies[e]
        m.holders[e] = {
            ops[e].author,
            *(body.wraps if isinstance(body, KeyRotated | DeviceRemoved) else ()),
        }
    for body in bodies.values():
        if isinstance(body, DeviceAdded | KeysGranted):
            for e in body.wraps:
                if e in m.holders:
                    m.holders[e].add(body.device)
    m.usable = [e for e in m.epochs if m.holders[e] <= m.members]
    return m


def key_holders(m: Model, epoch: bytes) -> set[bytes]:
    """Every device that holds an epoch's key by the ops here, whether or not the op creating
    it counts (9.4): its author, the devices it is sealed to there, and every device a
    device_added or keys_granted seals it to. Only a member grants (9.4), so a member outside
    this set can get the key only while one inside it is a member."""
    o, body = m.ops.get(epoch), m.bodies.get(epoch)
    if o is None or not isinstance(body, Genesis | KeyRotated | DeviceRemoved):
        return set()
    out = {o.author, *(body.wraps if isinstance(body, KeyRotated | DeviceRemoved) else ())}
    for other in m.bodies.values():
        if isinstance(other, DeviceAdded | KeysGranted) and epoch in other.wraps:
            out.add(other.device)
    return out


def sealed_to(m: Model, me: bytes) -> set[bytes]:
    """The epochs whose key some op here seals to `me` (section 7.1), whether or not it counts."""
    out = set()
    for h, body in m.bodies.items():
        o = m.ops[h]
        mine = o.author == me if isinstance(body, Genesis) else me in getattr(body, "wraps", ())
        if isinstance(body, Genesis | KeyRotated | DeviceRemoved) and mine:
            out.add(h)
        elif isinstance(body, DeviceAdded | KeysGranted) and body.device == me:
            out.update(e for e in body.wraps if m.ops.get(e) and m.ops[e].kind in EPOCH_KINDS)
    return out


def visible(m: Model, writes: Mapping[bytes, AccountWrite], me: bytes) -> VaultState:
    """The accounts shown: every decrypted write that counts, and this device's own (9.2)."""
    state = VaultState()
    for h, write in writes.items():
        o = m.ops[h]
        if h in m.counting or o.author == me:
            state.apply(h, o.hlc, o.author, write)
    return state
