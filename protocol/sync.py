"""The sync session between two members, as a machine: messages in, actions out.

It does no I/O and reads no clock: its driver (daemon/sync.py, or a test) feeds it what
the peer sent and what happened here, with the time, and carries out what it asks for:

- `Send(data)`: send this message to the peer;
- `AskVector()`: tell the machine what this device holds now (`vector`), which it sends;
- `AskMissing(theirs, tips, removal_only)`: find the ops the peer lacks (or, for a removed
  peer, only the proof of its removal) and give them to `missing`, which pages them;
- `Store(ops)`: store the peer's ops and give the outcome to `stored`;
- `Progress(received)`: ops came from the peer (0: it said this side is caught up);
- `Done()`: the session has done what it was for (a device out of its vault: one exchange).

Theory of operation. Each side sends its version vector; each answers with the ops the
other lacks, in pages (at most 2,000 ops or 1 MiB each), oldest first in fold order so
dependencies arrive before what depends on them, then "caught-up". From then on every op
this device stores (its own, or one relayed from another peer) is pushed at once. Every
60 s (`tick`), and whenever the push queue overflowed, a side sends its vector again and
the other fills the gap: anti-entropy repairs whatever a push missed.

What the peer sends that cannot be placed yet may be dropped by the store. Ops that were
not held are not lost: this side sends its vector again, and the answer (dependencies
first) brings them back. It asks again after each answer that brought something while
ops were being dropped, and otherwise waits for the next tick, so a peer whose ops
cannot be placed cannot keep the two sides asking in a loop.

Messages are CBOR maps: {"t": "vector", "v": {author: seq}, "h": {author: tip}},
{"t": "ops", "ops": [op bytes, ...]}, {"t": "caught-up"}, which closes the answer to a
vector, and {"t": "ack", "v": {author: seq}}. Anything else ends the session
(MalformedPayload).

What the peer holds is known exactly while connected, so "lacks" is true within a round
trip: its vector, the ops it sends (it holds what it sends), and its acks. After each ops
message it stores, a side acks the authors whose seq in its vector rose since the last
vector or ack it sent this peer, and only those; none when nothing moved.

States and transitions (the table `TRANSITIONS`):

    OPENING  --ask-->        ASKING      the first vector goes out
    ASKING   --ask-->        ASKING      another vector (a tick, an overflow) before the answer
    ASKING   --answered-->   ASKING      caught-up, with more vectors still unanswered
    ASKING   --caught_up-->  IN_STEP     caught-up, nothing unanswered
    ASKING   --no_help-->    WAITING     caught-up; ops were dropped and asking brought none
    ASKING   --finished-->   DONE        caught-up, in a one-exchange session
    IN_STEP  --ask-->        ASKING      a tick, an overflow, or ops dropped
    IN_STEP  --caught_up-->  IN_STEP     an answer to nothing outstanding (counted as none)
    WAITING  --ask-->        ASKING      the next tick (or an overflow)
    WAITING  --caught_up-->  WAITING     as in IN_STEP

`closed` (the channel ended, or the peer broke the rules) leads from every state to DONE
and is not in the table because it applies to all. Ops, acks and vectors from the peer
are taken in every state but DONE and move no state.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from . import cbor
from .envelope import Op
from .errors import MalformedPayload
from .replica import TIP_SIZE
from .vector import VersionVector

PAGE_OPS: Final = 2000
PAGE_BYTES: Final = 1024 * 1024
MAX_MESSAGE: Final = 2 * PAGE_BYTES


class State(enum.Enum):
    """Where a session is; see the module's table."""

    OPENING = "opening"
    ASKING = "asking"
    IN_STEP = "in-step"
    WAITING = "waiting"
    DONE = "done"


class Event(enum.Enum):
    """What moves a session from state to state."""

    ASK = "ask"
    ANSWERED = "answered"
    CAUGHT_UP = "caught_up"
    NO_HELP = "no_help"
    FINISHED = "finished"


_S, _E = State, Event
TRANSITIONS: dict[tuple[State, Event], State] = {
    (_S.OPENING, _E.ASK): _S.ASKING,
    (_S.ASKING, _E.ASK): _S.ASKING,
    (_S.ASKING, _E.ANSWERED): _S.ASKING,
    (_S.ASKING, _E.CAUGHT_UP): _S.IN_STEP,
    (_S.ASKING, _E.NO_HELP): _S.WAITING,
    (_S.ASKING, _E.FINISHED): _S.DONE,
    (_S.IN_STEP, _E.ASK): _S.ASKING,
    (_S.IN_STEP, _E.CAUGHT_UP): _S.IN_STEP,
    (_S.WAITING, _E.ASK): _S.ASKING,
    (_S.WAITING, _E.CAUGHT_UP): _S.WAITING,
}
del _S, _E


class BadTransition(Exception):
    """A driver fed the machine something its state does not take: a bug of the driver."""


@dataclass(frozen=True)
class Send:
    """Send this message to the peer."""

    data: bytes


@dataclass(frozen=True)
class AskVector:
    """Give `vector()` what this device holds now: a vector goes out."""


@dataclass(frozen=True)
class AskMissing:
    """Find what the peer lacks (only the proof of its removal, for a removed peer) and give
    it to `missing()`."""

    theirs: VersionVector
    tips: dict[bytes, bytes]
    removal_only: bool


@dataclass(frozen=True)
class Store:
    """Store these ops of the peer's, then give the outcome to `stored()`."""

    ops: list[bytes]


@dataclass(frozen=True)
class Progress:
    """Ops came from the peer (`received`), or it said this side is caught up (0)."""

    received: int


@dataclass(frozen=True)
class Done:
    """The session did what it was for: hang up."""


Action = Send | AskVector | AskMissing | Store | Progress | Done


class SyncMachine:
    """One session with one peer, as bookkeeping and rules; see the module's docstring."""

    def __init__(self, peer: bytes, *, restricted: bool = False, once: bool = False) -> None:
        self.peer = peer
        self.restricted = restricted  # a removed peer: take its ops, send only its removal
        self.once = once  # this device is out of its vault: one exchange, then hang up
        self.state = State.OPENING
        self.caught_up = False
        self.peer_vector: VersionVector | None = None
        # What the peer holds, from its own word only (vectors, acks, the ops it sent), not
        # from what was pushed to it: "lacks" counts against this. holds_at: when it said so.
        self.holds: dict[bytes, int] = {}
        self.holds_at: float | None = None
        self.last_heard: float | None = None
        self.last_synced: float | None = None
        self.not_held: Counter[str] = Counter()  # ops the store did not hold, by reason
        self._peer_has: dict[bytes, int] = {}  # the highest seq per author the peer holds
        self._told: dict[bytes, int] = {}  # what this side last said it holds
        self._asked = 0  # vectors sent and not answered yet (by caught-up)
        self._dropped = False  # ops were not held since the last vector went out
        self._applied = 0  # ops stored from this peer since the last vector went out
        self._unproductive = False  # asking again brought nothing: wait for the next tick
        self._storing = False

    def start(self) -> list[Action]:
        """The session opens: this side's vector goes out."""
        return [AskVector()]

    def vector(self, vector: Mapping[bytes, int], tips: Mapping[bytes, bytes]) -> list[Action]:
        """Answer to AskVector: this device's vector and tips, as they are now."""
        self._move(Event.ASK)
        told = dict(vector)
        self._told = told
        self._asked += 1
        self._dropped = False
        self._applied = 0
        return [Send(cbor.dumps({"t": "vector", "v": told, "h": dict(tips)}))]

    def receive(self, data: bytes, now: float) -> list[Action]:
        """A message from the peer; MalformedPayload ends the session."""
        if self.state is State.DONE:
            raise BadTransition("a session that is done takes no more messages")
        if self._storing:
            raise BadTransition("a message came before the last Store was answered")
        self.last_heard = now
        if len(data) > MAX_MESSAGE:
            raise MalformedPayload(f"sync message of {len(data)} bytes is over the limit")
        message = cbor.loads(data, "sync message")
        kind = message.get("t") if isinstance(message, dict) else None
        if kind == "vector" and set(message) == {"t", "v", "h"}:
            theirs = VersionVector.from_wire(message["v"])
            tips = _tips(message["h"])
            self.peer_vector = theirs
            self._learn(dict(theirs))
            self._holds(dict(theirs), now)
            return [AskMissing(theirs, tips, self.restricted)]
        if kind == "ops" and set(message) == {"t", "ops"} and _op_list(message["ops"]):
            self._storing = True
            return [Store(message["ops"])]
        if kind == "ack" and set(message) == {"t", "v"}:
            held = dict(VersionVector.from_wire(message["v"]))
            self._learn(held)
            self._holds(held, now)
            self.last_synced = now
            return []
        if kind == "caught-up" and set(message) == {"t"}:
            return self._caught_up(now)
        raise MalformedPayload("unknown sync message")

    def missing(self, ops: list[bytes]) -> list[Action]:
        """Answer to AskMissing: the ops the peer lacks, in pages, then caught-up."""
        actions: list[Action] = [Send(page) for page in ops_pages(ops)]
        actions.append(Send(cbor.dumps({"t": "caught-up"})))
        return actions

    def stored(
        self,
        applied: Iterable[tuple[bytes, int]],
        dropped: Iterable[str],
        vector: Mapping[bytes, int],
        now: float,
    ) -> list[Action]:
        """Answer to Store: the (author, seq) of the ops stored, the reasons of those not held,
        and this device's vector after."""
        if not self._storing:
            raise BadTransition("stored() answers a Store")
        self._storing = False
        stored: dict[bytes, int] = {}
        count = 0
        for author, seq in applied:
            count += 1
            stored[author] = max(seq, stored.get(author, 0))
        self._learn(stored)
        self._holds(stored, now)  # it sent them
        self._applied += count
        actions: list[Action] = []
        if count:
            if self.caught_up:
                self.last_synced = now
            actions.append(Progress(count))
        actions.extend(self._acknowledge(vector))
        reasons = list(dropped)
        if reasons:
            self.not_held.update(reasons)
            self._dropped = True
            if not self._asked and not self._unproductive:
                actions.append(AskVector())  # the answer brings them again
        return actions

    def push(
        self, ops: list[Op], forks: set[bytes], suspects: set[bytes], overflowed: bool
    ) -> list[Action]:
        """Ops this device stored: what the peer is not known to hold goes out, in pages."""
        if self.restricted:
            return []  # nothing new goes to a removed device
        sent = [
            op
            for op in ops
            if op.author in forks  # a forked log: the peer may lack either branch
            or op.author in suspects
            or (op.author != self.peer and op.seq > self._peer_has.get(op.author, 0))
        ]
        actions: list[Action] = [Send(page) for page in ops_pages([op.raw for op in sent])]
        self._learn({op.author: op.seq for op in sent})
        if overflowed:
            actions.append(AskVector())
        return actions

    def tick(self) -> list[Action]:
        """The anti-entropy period passed: ask again, even after an unproductive answer."""
        self._unproductive = False
        return [AskVector()]

    def closed(self) -> None:
        """The channel ended, or the peer broke the rules."""
        self.state = State.DONE

    def _caught_up(self, now: float) -> list[Action]:
        self.last_synced = now
        self.caught_up = True
        actions: list[Action] = [Progress(0)]
        if self.once:
            self._move(Event.FINISHED if self.state is State.ASKING else Event.CAUGHT_UP)
            return [*actions, Done()]
        self._asked = max(0, self._asked - 1)
        if self._asked:
            self._move(Event.ANSWERED)
        elif self._dropped and self._applied:  # it helped: ask for what is still missing
            self._move(Event.CAUGHT_UP)
            actions.append(AskVector())
        elif self._dropped:
            self._unproductive = True
            self._move(Event.NO_HELP if self.state is State.ASKING else Event.CAUGHT_UP)
        else:
            self._move(Event.CAUGHT_UP)
        return actions

    def _acknowledge(self, vector: Mapping[bytes, int]) -> list[Action]:
        if self.restricted:  # a removed peer hears only why it is out
            return []
        moved = {a: s for a, s in vector.items() if s > self._told.get(a, 0)}
        if not moved:
            return []
        self._told.update(moved)
        return [Send(cbor.dumps({"t": "ack", "v": moved}))]

    def _holds(self, held: dict[bytes, int], now: float) -> None:
        for author, seq in held.items():
            if seq > self.holds.get(author, 0):
                self.holds[author] = seq
        self.holds_at = now

    def _learn(self, held: dict[bytes, int]) -> None:
        for author, seq in held.items():
            if seq > self._peer_has.get(author, 0):
                self._peer_has[author] = seq

    def _move(self, event: Event) -> None:
        after = TRANSITIONS.get((self.state, event))
        if after is None:
            raise BadTransition(f"{event.value} in {self.state.value}")
        self.state = after


def ops_pages(ops: list[bytes]) -> list[bytes]:
    """Ops messages of at most PAGE_OPS ops or about PAGE_BYTES each, in order."""
    pages: list[bytes] = []
    page: list[bytes] = []
    size = 0
    for raw in ops:
        page.append(raw)
        size += len(raw)
        if len(page) >= PAGE_OPS or size >= PAGE_BYTES:
            pages.append(cbor.dumps({"t": "ops", "ops": page}))
            page, size = [], 0
    if page:
        pages.append(cbor.dumps({"t": "ops", "ops": page}))
    return pages


def _tips(value: Any) -> dict[bytes, bytes]:
    """The tips beside a peer's vector: the first bytes of the hash of its op at each seq."""
    if not isinstance(value, dict) or not all(
        isinstance(a, bytes) and len(a) == 32 and isinstance(t, bytes) and len(t) == TIP_SIZE
        for a, t in value.items()
    ):
        raise MalformedPayload(f"vector tips map 32-byte authors to {TIP_SIZE}-byte hashes")
    return value


def _op_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(raw, bytes) for raw in value)
