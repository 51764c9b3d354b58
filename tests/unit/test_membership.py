"""Membership: adding, removing and rotating, and what wins when they are concurrent."""

from __future__ import annotations

import pytest

from tests.unit.fleet import NOW, cert, device, draft, fleet, snapshot, sync
from twofold.protocol.errors import NotFound, RemovedAuthor, UsageError, VaultLocked
from twofold.protocol.vault import Vault


def test_a_new_device_pulls_everything_from_any_one_member() -> None:
    a, b, c = fleet(3)
    a.create_account(draft("from-a"), NOW)
    b.create_account(draft("from-b"), NOW)
    sync(a, b)
    d = device(4)
    c.receive_batch(b.log(), NOW)
    add = c.add_device(cert(4), "new phone", NOW + 1)
    new = Vault(a.vault, d)
    report = new.receive_batch(c.log(), NOW + 2)
    assert not report.refused
    assert not report.held
    assert {x.issuer for x in new.accounts()} == {"from-a", "from-b"}
    assert new.membership.added[d.public].added_by == device(3).public
    assert new.membership.added[d.public].added_in == add.hash


def test_a_removed_device_cannot_read_or_write_after_its_removal() -> None:
    a, b, c = fleet(3)
    _, before = c.create_account(draft("unseen"), NOW)  # concurrent: a never saw it
    removal = a.remove_device(device(3).public, NOW + 1)
    _, after = c.create_account(draft("after"), NOW + 5)  # c has not heard of its removal
    a.receive(before.raw, NOW)  # sorts before the removal: kept in the log, but void
    assert "unseen" not in {x.issuer for x in a.accounts()}
    with pytest.raises(RemovedAuthor):
        a.receive(after.raw, NOW)
    sync(a, b)
    b.create_account(draft("secret-after"), NOW + 6)
    sync(a, b)
    assert b.membership.current_epoch == removal.hash
    report = c.receive_batch(b.log(), NOW + 7)
    assert not report.refused
    assert "secret-after" not in {x.issuer for x in c.accounts()}
    assert removal.hash not in c.epoch_keys
    assert len(c.sealed) == 1
    with pytest.raises(VaultLocked, match="removed"):
        c.create_account(draft("later"), NOW + 8)


def test_removal_wins_over_a_concurrent_addition_by_the_removed_device() -> None:
    a, b, c = fleet(3)
    d = device(4)
    added = c.add_device(cert(4), "d", NOW + 1)  # c does this before it learns it is out
    a.remove_device(device(3).public, NOW + 2)  # a never saw c's addition
    for v in (a, b):
        v.receive(added.raw, NOW)
    sync(a, b)
    assert d.public not in a.membership.members
    assert added.hash in a.membership.void
    assert snapshot(a) == snapshot(b)
    new = Vault(a.vault, d)
    new.receive_batch(c.log(), NOW)
    _, op = new.create_account(draft("unaware"), NOW + 3)  # d has not heard of it
    with pytest.raises(RemovedAuthor):
        a.receive(op.raw, NOW)


def test_concurrent_mutual_removals_keep_the_one_that_sorts_first() -> None:
    a, b = fleet(2)
    first = a.remove_device(device(2).public, NOW + 1)
    second = b.remove_device(device(1).public, NOW + 2)
    with pytest.raises(RemovedAuthor):  # b was out before it wrote its removal
        a.receive(second.raw, NOW)
    b.receive(first.raw, NOW)
    assert second.hash in b.membership.void
    assert set(a.membership.members) == set(b.membership.members) == {device(1).public}
    assert a.membership.current_epoch == b.membership.current_epoch == first.hash


def test_removals_never_leave_the_vault_without_members() -> None:
    a, _ = fleet(2)
    a.remove_device(device(2).public, NOW + 1)
    with pytest.raises(UsageError, match="last device"):
        a.remove_device(device(1).public, NOW + 2)
    assert set(a.membership.members) == {device(1).public}


def test_a_removed_device_is_never_added_again() -> None:
    a, _b = fleet(2)
    a.remove_device(device(2).public, NOW + 1)
    with pytest.raises(UsageError, match="was removed"):
        a.add_device(cert(2), "back", NOW + 2)
    with pytest.raises(NotFound):
        a.remove_device(device(9).public, NOW + 2)


def test_a_device_added_concurrently_with_a_rotation_gets_the_key_granted() -> None:
    a, b, _c = fleet(3)
    d = device(4)
    a.add_device(cert(4), "d", NOW + 1)
    rotation = b.rotate_key(NOW + 2)  # b has not seen d
    sync(a, b)
    assert a.missing_keys() == {d.public: [rotation.hash]}
    a.grant_keys(d.public, NOW + 3)
    assert a.missing_keys() == {}
    b.receive_batch(a.ops_missing_from(b.vector()), NOW)
    b.create_account(draft("under-rotation"), NOW + 4)
    new = Vault(a.vault, d)
    new.receive_batch(b.log(), NOW + 5)
    assert rotation.hash in new.epoch_keys
    assert "under-rotation" in {x.issuer for x in new.accounts()}


def test_a_device_that_was_not_added_cannot_write() -> None:
    (a,) = fleet(1)
    stranger = Vault(a.vault, device(9))
    stranger.receive_batch(a.log(), NOW)
    with pytest.raises(VaultLocked):
        stranger.create_account(draft(), NOW)


def test_a_device_renames_itself_and_every_member_sees_it() -> None:
    a, b = fleet(2)
    first = b.rename_device("work laptop", NOW + 1)
    a.receive(first.raw, NOW)
    assert a.membership.added[device(2).public].name == "work laptop"
    second = b.rename_device("old laptop", NOW + 2)
    a.receive(second.raw, NOW)
    assert a.membership.added[device(2).public].name == "old laptop"
    assert snapshot(a) == snapshot(b)


def test_a_removed_device_cannot_rename_itself_any_more() -> None:
    a, b = fleet(2)
    a.remove_device(device(2).public, NOW + 1)
    late = b.rename_device("still here", NOW + 5)  # b has not heard of its removal
    with pytest.raises(RemovedAuthor):
        a.receive(late.raw, NOW)
    assert a.membership.added[device(2).public].name == "device-2"
