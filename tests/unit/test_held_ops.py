"""Holding back, bounded by bytes and by source: what a member signing anything can park here.

An op that cannot be placed yet (its prev, its author's addition, its epoch or a
removal's heads are missing) is held, but only for an author whose addition is
here or on the way from the same peer, within a share per peer and a total, and
only while the session that brought it lasts. These tests hold the replica to
those rules, and check that honest reordering still settles.
"""

from __future__ import annotations

import os
import secrets

import pytest

from tests.unit.fleet import NOW, cert, device, draft, fleet, forge_as
from twofold.protocol import replica
from twofold.protocol.account_write import AccountWrite, FieldWrite
from twofold.protocol.envelope import HEADER_SIZE, MAX_OP_SIZE, SIGNATURE_SIZE, Op, OpKind, seal_op
from twofold.protocol.errors import PendingLimit, UnknownAuthor
from twofold.protocol.hlc import pack
from twofold.protocol.identity import DeviceKey
from twofold.protocol.replica import Source
from twofold.protocol.vault import Vault

_SEALING = 24 + 16  # nonce and tag around an encrypted body


def junk_op(v: Vault, author: DeviceKey | None = None, size: int = MAX_OP_SIZE) -> bytes:
    """A validly signed op of `size` bytes that names a random prev: by a throwaway key unless
    `author` is given. Nothing here can ever place it."""
    key = author if author is not None else DeviceKey.generate()
    assert v.membership.current_epoch is not None
    return seal_op(
        key,
        kind=OpKind.ACCOUNT_WRITE,
        vault=v.vault,
        seq=2 + secrets.randbelow(1 << 40),
        prev=os.urandom(32),
        hlc=pack(NOW, 0),
        epoch=v.membership.current_epoch,
        body=os.urandom(size - HEADER_SIZE - SIGNATURE_SIZE - _SEALING),
        epoch_key=os.urandom(32),
    )


def first_ops_of_throwaway_keys(v: Vault, n: int) -> list[bytes]:
    """Seq-1 ops naming a random "device_added": waiting for an addition that never comes."""
    assert v.membership.current_epoch is not None
    return [
        seal_op(
            DeviceKey.generate(),
            kind=OpKind.ACCOUNT_WRITE,
            vault=v.vault,
            seq=1,
            prev=os.urandom(32),
            hlc=pack(NOW, 0),
            epoch=v.membership.current_epoch,
            body=os.urandom(100),
            epoch_key=os.urandom(32),
        )
        for _ in range(n)
    ]


def source(peer: int, session: int = 1) -> Source:
    return Source(device(peer).public, session)


def assert_empty(v: Vault) -> None:
    assert v.pending == {}
    assert v.waiting == {}
    assert v.held_bytes == 0
    assert v._holds == {}
    assert v._session_held == {}
    assert v._peer_held == {}
    assert v._announced == {}


@pytest.fixture
def pair() -> tuple[Vault, Vault]:
    a, b = fleet(2)
    a.create_account(draft(), NOW)
    b.receive_batch(a.log(), NOW)
    return a, b


# -- the attack: signatures from throwaway keys buy nothing ---------------------------


def test_ops_of_keys_nobody_added_are_not_held(pair: tuple[Vault, Vault]) -> None:
    a, _ = pair
    before = (a.vector(), sorted(a.by_hash))
    raws = [junk_op(a, size=2000) for _ in range(200)] + first_ops_of_throwaway_keys(a, 50)
    report = a.receive_batch(raws, NOW, source(2))
    assert len(report.dropped) == 250
    assert {type(e) for _, _, e in report.dropped} == {UnknownAuthor}
    assert not report.refused  # not a fault of the ops: dropped, not judged
    assert_empty(a)
    assert (a.vector(), sorted(a.by_hash)) == before
    with pytest.raises(UnknownAuthor):
        a.receive(raws[0], NOW, source(2))


def test_a_member_flooding_ops_with_random_prevs_holds_at_most_its_share(
    pair: tuple[Vault, Vault],
) -> None:
    a, _ = pair
    me = device(2)  # a member: its own key is known, so its ops may wait, within its share
    flood = [junk_op(a, me) for _ in range(2 * replica.MAX_HELD_BYTES_PER_PEER // MAX_OP_SIZE)]
    dropped = 0
    for start in range(0, len(flood), 32):  # pages of 2 MiB, as a sync session carries
        report = a.receive_batch(flood[start : start + 32], NOW, source(2))
        dropped += len(report.dropped)
        assert all(isinstance(e, PendingLimit) for _, _, e in report.dropped)
        assert a.held_from(me.public)[1] <= replica.MAX_HELD_BYTES_PER_PEER
        assert a.held_bytes <= replica.MAX_HELD_BYTES_PER_PEER
    assert a.held_from(me.public)[1] > replica.MAX_HELD_BYTES_PER_PEER - MAX_OP_SIZE
    assert dropped == len(flood) - len(a.pending)
    # Another peer still has its own share.
    other = junk_op(a, device(1))
    assert a.receive(other, NOW, source(1)).status == "held"
    expected = (len(a.pending) - 1, a.held_bytes - len(other))
    assert a.drop_held(source(2)) == expected
    assert a.held_from(me.public) == (0, 0)
    assert list(a.pending) == [Op(other).hash]
    a.drop_held(source(1))
    assert_empty(a)


def test_held_ops_in_all_are_bounded_by_bytes_and_count(
    pair: tuple[Vault, Vault], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, _ = pair
    monkeypatch.setattr(replica, "MAX_HELD_BYTES", 35_000)
    monkeypatch.setattr(replica, "MAX_PENDING", 5)
    raws = [junk_op(a, device(2), size=10_000) for _ in range(4)]
    report = a.receive_batch(raws, NOW, source(2, 1))
    assert (len(a.pending), len(report.dropped)) == (3, 1)  # bytes: 3 of 10,000
    small = [junk_op(a, device(1), size=1_000) for _ in range(4)]
    report = a.receive_batch(small, NOW, source(1, 7))
    assert (len(a.pending), len(report.dropped)) == (5, 2)  # count: 5 in all
    assert all(isinstance(e, PendingLimit) for _, _, e in report.dropped)
    assert a.held_bytes == 32_000


def test_the_share_is_per_peer_whatever_the_number_of_its_sessions(
    pair: tuple[Vault, Vault], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, _ = pair
    monkeypatch.setattr(replica, "MAX_HELD_OPS_PER_PEER", 3)
    for session in range(1, 6):
        a.receive_batch([junk_op(a, device(2), size=500)], NOW, source(2, session))
    assert a.held_from(device(2).public)[0] == 3
    for session in range(1, 6):
        a.drop_held(source(2, session))
    assert_empty(a)


def test_held_ops_leave_with_their_session_and_settled_ones_stay(
    pair: tuple[Vault, Vault],
) -> None:
    a, b = pair
    ops = [b.create_account(draft(f"n{i}"), NOW + i)[1] for i in range(4)]
    a.receive_batch([ops[1].raw, ops[3].raw], NOW, source(2, 1))
    assert set(a.pending) == {ops[1].hash, ops[3].hash}
    a.receive(ops[0].raw, NOW, source(2, 2))  # settles ops[1]; ops[3] still waits for ops[2]
    assert set(a.pending) == {ops[3].hash}
    assert a.drop_held(source(2, 1)) == (1, len(ops[3].raw))
    assert_empty(a)
    assert {"n0", "n1"} <= {x.issuer for x in a.accounts()}
    # Sent again, at the next exchange, it is taken.
    a.receive_batch([ops[2].raw, ops[3].raw], NOW, source(2, 3))
    assert {"n2", "n3"} <= {x.issuer for x in a.accounts()}
    assert_empty(a)


def test_an_op_two_sessions_sent_stays_while_either_lasts(pair: tuple[Vault, Vault]) -> None:
    a, b = pair
    ops = [b.create_account(draft(f"n{i}"), NOW + i)[1] for i in range(2)]
    a.receive(ops[1].raw, NOW, source(1, 1))  # relayed by device 1 first...
    assert a.receive(ops[1].raw, NOW, source(2, 2)).status == "held"  # ...and by its author
    assert a.held_from(device(1).public) == (1, len(ops[1].raw))
    assert a.drop_held(source(1, 1)) == (0, 0)
    assert a.held_from(device(1).public) == (0, 0)
    assert a.held_from(device(2).public) == (1, len(ops[1].raw))  # the other one's now
    a.receive(ops[0].raw, NOW, source(2, 2))
    assert "n1" in {x.issuer for x in a.accounts()}
    assert_empty(a)
    a.drop_held(source(2, 2))
    assert_empty(a)


def test_a_full_peer_keeps_what_its_other_session_also_sent(
    pair: tuple[Vault, Vault], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = pair
    monkeypatch.setattr(replica, "MAX_HELD_OPS_PER_PEER", 1)
    ops = [b.create_account(draft(f"n{i}"), NOW + i)[1] for i in range(2)]
    a.receive(ops[1].raw, NOW, source(2, 1))
    assert a.receive(ops[1].raw, NOW, source(2, 2)).status == "held"  # its share is full
    assert a.drop_held(source(2, 1)) == (0, 0)  # the same peer's other session keeps it
    assert a.held_from(device(2).public) == (1, len(ops[1].raw))
    assert a.drop_held(source(2, 2)) == (1, len(ops[1].raw))
    assert_empty(a)


def test_dropping_is_exact_after_a_held_op_moved_to_another_wait(
    pair: tuple[Vault, Vault],
) -> None:
    a, b = pair
    a_chain = [a.create_account(draft(f"a{i}"), NOW + i)[1] for i in range(2)]
    addition = a.add_device(cert(3), "c", NOW + 3)
    rotation = a.rotate_key(NOW + 4)
    c = Vault(a.vault, device(3))
    c.receive_batch(a.log(), NOW + 5)
    c_op = c.create_account(draft("from c"), NOW + 6)[1]
    assert c_op.epoch == rotation.hash
    # c's op waits for its addition, which waits for a's chain.
    report = b.receive_batch([c_op.raw, addition.raw, a_chain[1].raw], NOW + 9, source(1))
    assert not report.dropped
    b.receive(a_chain[0].raw, NOW + 9, source(1, 2))  # the addition settles; c's op waits for
    assert set(b.pending) == {c_op.hash}
    assert b.waiting == {rotation.hash: {c_op.hash}}  # the rotation that made its epoch now
    assert b.held_from(device(1).public) == (1, len(c_op.raw))
    assert b.drop_held(source(1)) == (1, len(c_op.raw))
    assert_empty(b)


# -- honest reordering still settles ------------------------------------------------


def new_device_scene() -> tuple[Vault, Vault, Op, Op, list[Op]]:
    """b lacks a's last op before a adds device 3, which then writes: c's ops wait for the
    addition, which waits for that op."""
    a, b = fleet(2)
    before = a.create_account(draft("before"), NOW)[1]
    addition = a.add_device(cert(3), "c", NOW + 1)
    c = Vault(a.vault, device(3))
    c.receive_batch(a.log(), NOW + 2)
    c_ops = [c.create_account(draft(f"c{i}"), NOW + 3 + i)[1] for i in range(3)]
    return a, b, before, addition, c_ops


def test_a_new_devices_ops_wait_with_their_addition_from_the_same_peer() -> None:
    _, b, before, addition, c_ops = new_device_scene()
    report = b.receive_batch([addition.raw, *(o.raw for o in c_ops)], NOW + 9, source(1))
    assert not report.dropped
    assert set(b.pending) == {addition.hash, *(o.hash for o in c_ops)}
    report = b.receive_batch([before.raw], NOW + 9, source(1))
    assert {o.hash for o in report.applied} == {
        before.hash,
        addition.hash,
        *(o.hash for o in c_ops),
    }
    assert {"c0", "c1", "c2"} <= {x.issuer for x in b.accounts()}
    assert_empty(b)


def test_a_new_devices_ops_that_sort_before_their_addition_in_a_batch_still_wait() -> None:
    a, b, before, addition, _ = new_device_scene()
    c = Vault(a.vault, device(3))
    c.receive_batch(a.log(), NOW + 2)
    body = AccountWrite(b"\x05" * 16, {"note": FieldWrite("early", ())})
    early = forge_as(c, OpKind.ACCOUNT_WRITE, body, addition.hlc - 5)  # its clock is earlier
    later = c.create_account(draft("later"), NOW + 4)[1]
    report = b.receive_batch([later.raw, early.raw, addition.raw], NOW + 9, source(1))
    assert not report.dropped
    assert set(b.pending) == {addition.hash, early.hash, later.hash}
    b.receive(before.raw, NOW + 9, source(1))
    assert "later" in {x.issuer for x in b.accounts()}
    assert_empty(b)


def test_a_new_devices_ops_after_its_addition_need_no_announcement() -> None:
    _, b, before, addition, c_ops = new_device_scene()
    b.receive_batch([before.raw, addition.raw], NOW + 9, source(1))
    report = b.receive_batch([c_ops[2].raw, c_ops[1].raw], NOW + 9, source(2))  # another peer
    assert not report.dropped
    b.receive(c_ops[0].raw, NOW + 9, source(2, 5))
    assert {"c0", "c1", "c2"} <= {x.issuer for x in b.accounts()}
    assert_empty(b)


def test_an_addition_announced_by_another_peer_does_not_count() -> None:
    _, b, before, addition, c_ops = new_device_scene()
    b.receive(addition.raw, NOW + 9, source(1))  # waiting, from peer 1
    report = b.receive_batch([o.raw for o in c_ops], NOW + 9, source(2))
    assert {type(e) for _, _, e in report.dropped} == {UnknownAuthor}
    # Peer 1's other session may: the share and the announcement are the peer's.
    report = b.receive_batch([o.raw for o in c_ops], NOW + 9, source(1, 2))
    assert not report.dropped
    b.receive(before.raw, NOW + 9, source(1))
    assert {"c0", "c1", "c2"} <= {x.issuer for x in b.accounts()}
    assert_empty(b)


def test_ops_from_this_devices_own_store_are_held_without_a_source() -> None:
    _, b, before, addition, c_ops = new_device_scene()
    assert b.receive(c_ops[0].raw, NOW + 9).status == "held"  # no source: the stored log
    b.receive_batch([before.raw, addition.raw], NOW + 9)
    assert "c0" in {x.issuer for x in b.accounts()}
    assert_empty(b)
