"""protocol/sync.py's machine without sockets or an event loop.

Two members' vaults (pure, in memory) each drive a machine; their messages travel through
queues that lose, reorder and duplicate them, sessions restart mid-way, and both sides
write while it happens. The oracle is the set of ops written, kept by the test as it
writes them, apart from the replicas: once the network calms down, each replica must hold
exactly that set, and each vector must count exactly each author's ops.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.fleet import NOW, draft, fleet
from twofold.protocol import cbor
from twofold.protocol.errors import MalformedPayload
from twofold.protocol.sync import (
    TRANSITIONS,
    Action,
    AskMissing,
    AskVector,
    BadTransition,
    Done,
    Event,
    Progress,
    Send,
    State,
    Store,
    SyncMachine,
)
from twofold.protocol.vault import Vault

PEER = b"p" * 32


@dataclass
class Side:
    """One member: its vault, its machine, and a driver as plain as the daemon's."""

    vault: Vault
    peer: bytes
    machine: SyncMachine = field(init=False)
    clock: int = NOW

    def __post_init__(self) -> None:
        self.machine = SyncMachine(self.peer)

    def restart(self, outbox: list[bytes]) -> None:
        self.machine = SyncMachine(self.peer)
        self.perform(self.machine.start(), outbox)

    def perform(self, actions: list[Action], outbox: list[bytes]) -> None:
        queue: deque[Action] = deque(actions)
        while queue:
            action = queue.popleft()
            more: list[Action] = []
            if isinstance(action, Send):
                outbox.append(action.data)
            elif isinstance(action, AskVector):
                more = self.machine.vector(self.vault.vector(), self.vault.tips())
            elif isinstance(action, AskMissing):
                more = self.machine.missing(self.vault.ops_missing_from(action.theirs, action.tips))
            elif isinstance(action, Store):
                report = self.vault.receive_batch(action.ops, self.clock)
                assert not report.refused, report.refused
                more = self.machine.stored(
                    [(op.author, op.seq) for op in report.applied],
                    [type(error).__name__ for _, _, error in report.dropped],
                    self.vault.vector(),
                    self.clock / 1000,
                )
            else:
                assert isinstance(action, Progress)  # no one-exchange sessions here
            queue.extendleft(reversed(more))


def write(side: Side, clock: int, oracle: set[bytes]) -> list[bytes]:
    """An account written on this side at this clock (equal and backdated ones included)."""
    side.clock = clock
    _, op = side.vault.create_account(draft(issuer=f"i{len(oracle)}"), clock)
    oracle.add(op.hash)
    return [op.raw]


steps = st.lists(
    st.one_of(
        st.tuples(st.just("deliver"), st.integers(0, 1), st.integers(0, 50)),
        st.tuples(st.just("drop"), st.integers(0, 1), st.integers(0, 50)),
        st.tuples(st.just("duplicate"), st.integers(0, 1), st.integers(0, 50)),
        st.tuples(st.just("write"), st.integers(0, 1), st.sampled_from([0, 0, -60_000, 5_000])),
        st.tuples(st.just("tick"), st.integers(0, 1), st.just(0)),
        st.tuples(st.just("restart"), st.integers(0, 1), st.just(0)),
    ),
    max_size=60,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    before=st.tuples(st.integers(0, 4), st.integers(0, 4)),
    schedule=steps,
)
def test_two_machines_over_a_bad_network_end_holding_every_op(
    before: tuple[int, int], schedule: list[tuple[str, int, int]]
) -> None:
    a_vault, b_vault = fleet(2)
    oracle = set(a_vault.by_hash)
    sides = [Side(a_vault, b_vault.device.public), Side(b_vault, a_vault.device.public)]
    for side, count in zip(sides, before, strict=True):
        for _ in range(count):
            write(side, NOW, oracle)
    wires: list[list[bytes]] = [[], []]  # wires[i]: messages on their way to side i
    for i, side in enumerate(sides):
        side.perform(side.machine.start(), wires[1 - i])
    for kind, who, arg in schedule:
        side, inbox, outbox = sides[who], wires[who], wires[1 - who]
        if kind in ("deliver", "drop", "duplicate") and inbox:
            message = inbox.pop(arg % len(inbox))  # any of them: the order is lost too
            if kind == "duplicate":
                inbox.insert(arg % (len(inbox) + 1), message)
            if kind != "drop":
                side.perform(side.machine.receive(message, side.clock / 1000), outbox)
        elif kind == "write":
            raws = write(side, NOW + arg, oracle)
            pushed = [op for op in side.vault.by_hash.values() if op.raw in raws]
            side.perform(side.machine.push(pushed, set(), set(), False), outbox)
        elif kind == "tick":
            side.perform(side.machine.tick(), outbox)
        elif kind == "restart":  # a new connection: what was on the wire is gone
            wires[0].clear()
            wires[1].clear()
            for i, s in enumerate(sides):
                s.restart(wires[1 - i])

    # The network calms down: a new connection, every message delivered once, in order.
    wires[0].clear()
    wires[1].clear()
    for i, s in enumerate(sides):
        s.restart(wires[1 - i])
    for _ in range(1000):
        if not (wires[0] or wires[1]):
            break
        for i in (0, 1):
            if wires[i]:
                message = wires[i].pop(0)
                sides[i].perform(sides[i].machine.receive(message, 0.0), wires[1 - i])
    else:
        raise AssertionError("the calm network never fell quiet")

    expected: dict[bytes, int] = {}
    for side in sides:
        assert set(side.vault.by_hash) == oracle
        assert side.machine.state is State.IN_STEP
        assert side.machine.caught_up
    for op_hash in oracle:
        op = a_vault.by_hash[op_hash]
        expected[op.author] = expected.get(op.author, 0) + 1
    assert dict(a_vault.vector()) == expected
    assert dict(b_vault.vector()) == expected


def test_every_move_outside_the_table_is_refused() -> None:
    for state in State:
        for event in Event:
            m = SyncMachine(PEER)
            m.state = state
            if (state, event) in TRANSITIONS:
                m._move(event)
                assert m.state is TRANSITIONS[(state, event)]
            else:
                with pytest.raises(BadTransition):
                    m._move(event)


def vector_message(seqs: dict[bytes, int] | None = None) -> bytes:
    seqs = seqs or {}
    return cbor.dumps({"t": "vector", "v": seqs, "h": dict.fromkeys(seqs, b"\x00" * 8)})


def test_the_table_has_every_move_the_machine_makes() -> None:
    m = SyncMachine(PEER)
    assert m.state is State.OPENING
    assert m.start() == [AskVector()]
    [send] = m.vector({}, {})
    assert isinstance(send, Send)
    assert m.state is State.ASKING
    m.vector({}, {})  # a tick before the answer: two outstanding
    assert m.receive(cbor.dumps({"t": "caught-up"}), 1.0) == [Progress(0)]
    assert m.state is State.ASKING
    m.receive(cbor.dumps({"t": "caught-up"}), 2.0)
    assert m.state is State.IN_STEP
    m.receive(cbor.dumps({"t": "caught-up"}), 3.0)  # an answer to nothing: counted as none
    assert m.state is State.IN_STEP
    with pytest.raises(BadTransition):
        m.stored([], [], {}, 4.0)  # no Store was asked for


def test_ops_that_were_dropped_are_asked_for_again_until_asking_brings_none() -> None:
    m = SyncMachine(PEER)
    m.vector({}, {})
    [store] = m.receive(cbor.dumps({"t": "ops", "ops": [b"x"]}), 1.0)
    assert isinstance(store, Store)
    with pytest.raises(BadTransition):  # the store must be answered before the next message
        m.receive(cbor.dumps({"t": "caught-up"}), 1.0)
    assert m.stored([], ["PendingLimit"], {}, 1.0) == []  # a vector is outstanding already
    assert m.receive(cbor.dumps({"t": "caught-up"}), 2.0) == [Progress(0)]
    assert m.state is State.WAITING  # dropped, and the answer brought nothing: wait
    m.receive(cbor.dumps({"t": "ops", "ops": [b"y"]}), 3.0)
    assert m.stored([], ["PendingLimit"], {}, 3.0) == []  # still waiting for the tick
    assert m.tick() == [AskVector()]
    m.vector({}, {})
    assert m.state is State.ASKING
    m.receive(cbor.dumps({"t": "ops", "ops": [b"z"]}), 4.0)
    author = b"a" * 32
    actions = m.stored([(author, 1)], ["PendingLimit"], {author: 1}, 4.0)
    assert actions[0] == Progress(1)
    assert actions[1] == Send(cbor.dumps({"t": "ack", "v": {author: 1}}))
    assert m.receive(cbor.dumps({"t": "caught-up"}), 5.0) == [Progress(0), AskVector()]
    assert m.not_held["PendingLimit"] == 3


def test_a_one_exchange_session_is_done_at_its_answer() -> None:
    m = SyncMachine(PEER, once=True)
    m.vector({}, {})
    assert m.receive(cbor.dumps({"t": "caught-up"}), 1.0) == [Progress(0), Done()]
    assert m.state is State.DONE
    with pytest.raises(BadTransition):
        m.receive(cbor.dumps({"t": "caught-up"}), 2.0)


def test_a_removed_peer_gets_its_removal_only_and_no_acks_or_pushes() -> None:
    m = SyncMachine(PEER, restricted=True)
    m.vector({}, {})
    author = b"a" * 32
    [ask] = m.receive(vector_message({author: 3}), 1.0)
    assert ask == AskMissing(ask.theirs, {author: b"\0" * 8}, True)
    m.receive(cbor.dumps({"t": "ops", "ops": [b"x"]}), 2.0)
    assert m.stored([(author, 4)], [], {author: 4}, 2.0) == [Progress(1)]  # no ack
    assert m.push([], set(), set(), True) == []
    assert m.holds == {author: 4}


@pytest.mark.parametrize(
    "message",
    [
        b"\xff",
        cbor.dumps([1, 2]),
        cbor.dumps({"t": "vector", "v": {}}),
        cbor.dumps({"t": "vector", "v": {b"short": 1}, "h": {}}),
        cbor.dumps({"t": "vector", "v": {}, "h": {b"a" * 32: b"short"}}),
        cbor.dumps({"t": "ops", "ops": ["text"]}),
        cbor.dumps({"t": "ack", "v": {b"a" * 32: -1}}),
        cbor.dumps({"t": "caught-up", "extra": 1}),
        cbor.dumps({"t": "hello"}),
        b"\0" * (4 * 1024 * 1024 + 1),
    ],
)
def test_a_message_out_of_the_rules_ends_the_session(message: bytes) -> None:
    m = SyncMachine(PEER)
    m.vector({}, {})
    with pytest.raises(MalformedPayload):
        m.receive(message, 1.0)


@settings(max_examples=40, deadline=None)
@given(
    writes=st.lists(
        st.tuples(st.integers(0, 1), st.sampled_from([0, 0, -60_000, 5_000]), st.booleans()),
        max_size=30,
    )
)
def test_on_a_calm_network_pushes_alone_carry_every_write(
    writes: list[tuple[int, int, bool]],
) -> None:
    """After the first exchange no vector goes out: every write reaches the other side by
    push, whether it is delivered at once or after the other side wrote too."""
    a_vault, b_vault = fleet(2)
    oracle = set(a_vault.by_hash)
    sides = [Side(a_vault, b_vault.device.public), Side(b_vault, a_vault.device.public)]
    wires: list[list[bytes]] = [[], []]

    def settle() -> None:
        while wires[0] or wires[1]:
            for i in (0, 1):
                if wires[i]:
                    message = wires[i].pop(0)
                    sides[i].perform(sides[i].machine.receive(message, 0.0), wires[1 - i])

    for i, side in enumerate(sides):
        side.perform(side.machine.start(), wires[1 - i])
    settle()
    vectors = 0
    for who, skew, deliver_now in writes:
        side = sides[who]
        raws = write(side, NOW + skew, oracle)
        pushed = [op for op in side.vault.by_hash.values() if op.raw in raws]
        before = len(wires[1 - who])
        side.perform(side.machine.push(pushed, set(), set(), False), wires[1 - who])
        vectors += sum(cbor.loads(m, "m")["t"] == "vector" for m in wires[1 - who][before:])
        if deliver_now:
            settle()
    settle()
    assert vectors == 0
    for side in sides:
        assert set(side.vault.by_hash) == oracle
