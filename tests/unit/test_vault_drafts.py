"""Prepare, then apply: ops a draft seals change nothing until they are applied, and once
applied are what a write made directly would have been."""

from __future__ import annotations

from itertools import pairwise

import pytest

from tests.unit.fleet import NOW, cert, device, draft, fleet, snapshot, sync
from twofold.protocol.envelope import Op, OpKind
from twofold.protocol.errors import NotFound, UsageError
from twofold.protocol.vault import Vault


def seen(v: Vault) -> object:
    """What a draft must leave alone: the visible state, the log, the clock, the keys."""
    return (snapshot(v), v.log(), v.clock.last, dict(v.epoch_keys), v.vector())


def test_a_draft_changes_nothing_until_applied() -> None:
    (a,) = fleet(1)
    aid, _ = a.create_account(draft(), NOW)
    before = seen(a)

    def make(v: Vault) -> bytes:
        new, _ = v.create_account(draft("GitLab", "bob"), NOW + 1)
        v.update_account(aid, NOW + 2, note="typed")
        v.rotate_key(NOW + 3)
        return new

    new, ops = a.prepare(make)
    assert seen(a) == before
    assert [op.seq for op in ops] == [3, 4, 5]
    with pytest.raises(NotFound):
        a.account(new)

    a.apply_own(ops)
    assert a.account(new).issuer == "GitLab"
    assert a.account(aid).note == "typed"
    assert a.clock.last == ops[-1].hlc
    assert a.log()[-3:] == [op.raw for op in ops]


def test_a_draft_chains_its_ops_and_a_peer_takes_them_all() -> None:
    a, b = fleet(2)
    _, ops = a.prepare(lambda v: [v.create_account(draft(f"i{n}"), NOW + n) for n in range(5)])
    assert all(later.prev == earlier.hash for earlier, later in pairwise(ops))
    a.apply_own(ops)
    report = b.receive_batch([op.raw for op in ops], NOW + 10)
    assert len(report.applied) == 5
    assert not report.refused
    assert snapshot(a) == snapshot(b)


def test_writes_after_a_rotation_in_the_same_draft_are_sealed_under_its_key() -> None:
    """A due rotation and the write it opens go in one transaction: the write must be
    readable by the members with the new key, and a device added in the same draft gets it."""
    a, b = fleet(2)

    def make(v: Vault) -> Op:
        v.rotate_key(NOW + 1)
        v.create_account(draft("After"), NOW + 2)
        return v.add_device(cert(3), "phone", NOW + 3)

    added, ops = a.prepare(make)
    rotation, write, _ = ops
    assert rotation.kind is OpKind.KEY_ROTATED
    assert write.epoch == rotation.hash
    a.apply_own(ops)
    assert a.membership.current_epoch == rotation.hash
    sync(a, b)
    assert "After" in {v.issuer for v in b.state.views()}

    phone = Vault(a.vault, device(3))
    phone.receive_batch(a.log(), NOW + 10)
    assert rotation.hash in phone.epoch_keys, "the device added after the rotation holds it"
    assert "After" in {v.issuer for v in phone.state.views()}
    assert added.kind is OpKind.DEVICE_ADDED


def test_an_account_created_in_the_trash_is_in_the_trash() -> None:
    a, b = fleet(2)
    aid, _ = a.create_account(draft(), NOW, trashed=True)
    sync(a, b)
    for v in (a, b):
        assert [t.id for t in v.trash()] == [aid]
        assert v.accounts() == []
    a.restore_account(aid, NOW + 1)
    assert [x.id for x in a.accounts()] == [aid]


def test_ops_prepared_against_another_state_are_refused() -> None:
    """Two drafts made from the same state take the same place in the chain: applying the
    second would fork this device's own log, so it is refused, and nothing changes."""
    (a,) = fleet(1)
    _, first = a.prepare(lambda v: v.create_account(draft("one"), NOW))
    _, second = a.prepare(lambda v: v.create_account(draft("two"), NOW))
    a.apply_own(first)
    before = seen(a)
    with pytest.raises(UsageError):
        a.apply_own(second)
    assert seen(a) == before
    assert a.graph.forks == {}


def test_a_draft_inside_a_draft_is_a_bug() -> None:
    (a,) = fleet(1)
    with pytest.raises(UsageError):
        a.prepare(lambda v: v.prepare(lambda w: None))
    _, ops = a.prepare(lambda v: v.create_account(draft(), NOW))
    assert len(ops) == 1, "the refused draft left none open"


def test_a_draft_that_raises_leaves_no_trace() -> None:
    (a,) = fleet(1)
    before = seen(a)

    def make(v: Vault) -> None:
        v.create_account(draft(), NOW)
        raise RuntimeError("the person's file ran out")

    with pytest.raises(RuntimeError):
        a.prepare(make)
    assert seen(a) == before
    _, ops = a.prepare(lambda v: v.create_account(draft(), NOW))
    assert ops[0].seq == 2
