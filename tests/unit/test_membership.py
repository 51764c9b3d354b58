"""Membership: adding, removing and rotating, and what a stolen device can make others believe.

Every attack comes with the legitimate path beside it, and every scenario
ends by replaying the log from its stored bytes: a start must give the
state the device had, and must never fail.
"""

from __future__ import annotations

import random

import pytest

from tests.unit.fleet import (
    NOW,
    cert,
    device,
    draft,
    fleet,
    forge_as,
    issuers,
    removal_body,
    snapshot,
    sync,
)
from twofold.protocol.account import OtpParams
from twofold.protocol.account_write import AccountWrite, FieldWrite
from twofold.protocol.certificate import device_certificate
from twofold.protocol.envelope import OpKind
from twofold.protocol.errors import (
    MalformedOp,
    NotFound,
    Refused,
    RemovedFromVault,
    VaultClosed,
    VaultLocked,
)
from twofold.protocol.hlc import pack
from twofold.protocol.keywrap import seal
from twofold.protocol.membership_bodies import DeviceAdded, DeviceRenamed
from twofold.protocol.vault import Vault


def replayed(v: Vault) -> Vault:
    """The vault as a restart rebuilds it from the stored bytes, in a shuffled order."""
    log = v.log()
    random.Random(len(log)).shuffle(log)  # noqa: S311 - a test order, not a secret
    again, report = Vault.restore(v.vault, v.device, log)
    assert not report.refused
    assert not report.held
    assert snapshot(again) == snapshot(v)
    return again


def key(n: int) -> bytes:
    return device(n).public


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
    assert issuers(new) == {"from-a", "from-b"}
    assert new.membership.added[d.public].added_by == key(3)
    assert new.membership.added[d.public].added_in == add.hash


def test_a_removed_devices_later_ops_count_nowhere_whatever_their_clock() -> None:
    a, b, c = fleet(3)
    _, seen = c.create_account(draft("seen"), NOW + 1)
    a.receive(seen.raw, NOW)
    _, unseen = c.create_account(draft("unseen"), NOW + 2)  # concurrent: a never saw it
    removal = a.remove_device(key(3), NOW + 3)
    backdated = forge_as(
        c, OpKind.ACCOUNT_WRITE, AccountWrite(b"\x09" * 16, {}, 5), unseen.hlc + 1
    )  # sorts before the removal
    b.receive(seen.raw, NOW)
    for v in (a, b):
        v.receive_batch([unseen.raw, backdated.raw, removal.raw], NOW)
    for v in (a, b):
        assert "seen" in issuers(v)
        assert "unseen" not in issuers(v)
        assert not v.membership.counts(backdated)
        assert set(v.membership.members) == {key(1), key(2)}
    assert snapshot(a) == snapshot(b)
    b.create_account(draft("secret-after"), NOW + 6)
    report = c.receive_batch(b.log(), NOW + 7)
    assert not report.refused
    assert "secret-after" not in issuers(c)
    assert removal.hash not in c.epoch_keys
    replayed(a)
    replayed(c)


@pytest.mark.parametrize(
    ("revoker", "thief", "bystander"),
    [(1, 3, 2), (2, 3, 1), (2, 1, 3)],
    ids=["the-founder-revokes", "another-device-revokes", "the-stolen-device-is-the-founder"],
)
def test_a_backdated_removal_by_a_revoked_device_never_regains_membership(
    revoker: int, thief: int, bystander: int
) -> None:
    vaults = fleet(3)
    r, t, b = (vaults[i - 1] for i in (revoker, thief, bystander))
    _, last = t.create_account(draft("before theft"), NOW + 1)
    sync(r, t)
    sync(b, t)
    revocation = r.remove_device(key(thief), NOW + 10)
    # The thief, stopped and unaware, removes its revoker with a clock just after its own
    # last op, so it sorts before the revocation; and removes the bystander too.
    undo = forge_as(t, OpKind.DEVICE_REMOVED, removal_body(t, key(revoker)), last.hlc + 1)
    also = forge_as(t, OpKind.DEVICE_REMOVED, removal_body(t, key(bystander)), last.hlc + 2)
    b.receive_batch(t.log(), NOW + 11)  # the bystander meets the thief first
    b.receive_batch(r.log(), NOW + 12)  # then the revoker
    r.receive_batch(b.log(), NOW + 13)
    for v in (r, b):
        assert key(thief) in v.membership.removals
        assert key(thief) not in v.membership.members
        assert revocation.hash not in v.membership.void
        assert also.hash in v.membership.void  # its removal of anyone else never counts
        assert undo.hash not in v.membership.void  # a cycle: both leave, the thief first
        assert set(v.membership.members) == {key(bystander)}
    assert snapshot(r) == snapshot(b)
    assert b.needs_rotation()  # every epoch's key is known to a device that left
    b.receive(b.rotate_key(NOW + 14).raw, NOW)
    _, fresh = b.create_account(draft("after"), NOW + 15)
    assert fresh.epoch not in t.epoch_keys
    t.receive_batch(b.log(), NOW + 16)
    assert "after" not in issuers(t)
    with pytest.raises(RemovedFromVault):
        t.create_account(draft("still here?"), NOW + 17)
    replayed(b)
    replayed(r)


def test_a_thief_that_claims_to_have_seen_its_revocation_takes_no_one_down() -> None:
    a, b, c = fleet(3)
    revocation = a.remove_device(key(3), NOW + 10)
    c.receive(revocation.raw, NOW)  # it saw it, and still removes a, naming what it holds
    undo = forge_as(c, OpKind.DEVICE_REMOVED, removal_body(c, key(1)), pack(NOW - 5, 0))
    b.receive_batch(c.log(), NOW)
    assert undo.hash in b.membership.void
    assert set(b.membership.members) == {key(1), key(2)}
    replayed(b)


def test_an_honest_race_never_stops_a_start() -> None:
    p, q, lost = fleet(3)
    p.remove_device(key(3), NOW + 10)  # q and the lost device are offline
    lost.create_account(draft("typed on the lost one"), NOW + 11)  # not yet told
    q.receive_batch(lost.log(), NOW + 12)  # q meets it first
    assert "typed on the lost one" in issuers(q)
    q.receive_batch(p.log(), NOW + 13)  # then p: the account stops counting, and q restarts
    assert "typed on the lost one" not in issuers(q)
    sync(p, q)
    assert snapshot(p) == snapshot(q)
    replayed(q)


def test_a_members_backdated_removal_of_a_third_device_never_stops_a_start() -> None:
    a, b, c = fleet(3)
    _, op = c.create_account(draft("c's"), NOW + 5)
    sync(b, c)
    sync(a, b)
    backdated = a.chains[key(1)][-1].hlc + 1  # as early as a's own chain allows
    early = forge_as(a, OpKind.DEVICE_REMOVED, removal_body(a, key(3), heads=[]), backdated)
    b.receive(early.raw, NOW)
    assert key(3) not in b.membership.members
    assert not b.membership.counts(op)
    replayed(b)


def test_concurrent_mutual_removals_take_both_out_and_a_two_device_vault_closes() -> None:
    a, b = fleet(2)
    a.create_account(draft("kept readable"), NOW)
    sync(a, b)
    first = a.remove_device(key(2), NOW + 1)
    second = b.remove_device(key(1), NOW + 2)
    a.receive(second.raw, NOW)
    b.receive(first.raw, NOW)
    for v in (a, b):
        assert v.membership.closed
        assert v.membership.members == {}
        assert "kept readable" in issuers(v)
        with pytest.raises((VaultClosed, RemovedFromVault)):
            v.create_account(draft("more"), NOW + 3)
    assert snapshot(a) == snapshot(b)
    replayed(a)


def test_a_removal_the_other_side_had_seen_wins_over_the_answer() -> None:
    a, b, c = fleet(3)
    first = a.remove_device(key(2), NOW + 1)
    b.receive(first.raw, NOW)  # b saw its removal; a rogue answer names it as seen
    answer = forge_as(b, OpKind.DEVICE_REMOVED, removal_body(b, key(1)), pack(NOW + 2, 0))
    for v in (a, c):
        v.receive_batch(b.log(), NOW)
        assert answer.hash in v.membership.void
        assert set(v.membership.members) == {key(1), key(3)}


def test_a_device_added_by_a_removed_one_after_its_cutoff_is_never_a_member() -> None:
    a, b, c = fleet(3)
    revocation = a.remove_device(key(3), NOW + 5)
    accomplice = device(4)
    wraps = {e: seal(k, accomplice.public) for e, k in c.epoch_keys.items()}
    body = DeviceAdded(accomplice.public, "d", device_certificate(accomplice), wraps)
    added = forge_as(c, OpKind.DEVICE_ADDED, body, pack(NOW - 50, 0))  # backdated
    d = Vault(a.vault, accomplice)
    d.receive_batch(c.log(), NOW)
    _, op = d.create_account(draft("injected"), NOW + 6)
    for v in (a, b):
        v.receive_batch([*c.log(), op.raw, revocation.raw], NOW)
        assert added.hash in v.membership.void
        assert accomplice.public not in v.membership.members
        assert "injected" not in issuers(v)
        assert revocation.hash not in v.membership.void
    replayed(b)


def test_a_removed_device_keeps_what_it_typed_readable_and_is_told_who_removed_it() -> None:
    a, b = fleet(2)
    b.create_account(draft("typed here"), NOW + 1)
    removal = a.remove_device(key(2), NOW + 2)
    b.create_account(draft("typed after"), NOW + 3)
    b.receive(removal.raw, NOW)
    told = b.removal_of_me()
    assert told is not None
    assert (told.by, told.op) == (key(1), removal.hash)
    assert {"typed here", "typed after"} <= issuers(b)
    assert "typed after" not in issuers(replayed(a))
    with pytest.raises(RemovedFromVault, match="removed from the vault by"):
        b.update_account(b.accounts()[0].id, NOW + 4, note="x")
    replayed(b)


def test_a_device_cannot_remove_itself_nor_cut_below_its_own_standing() -> None:
    a, b, c = fleet(3)
    with pytest.raises(Refused, match="itself"):
        a.remove_device(key(1), NOW)
    self_removal = removal_body(b, key(2))
    with pytest.raises(MalformedOp, match="itself"):
        forge_as(b, OpKind.DEVICE_REMOVED, self_removal, pack(NOW, 1))
    # b was added by the founder's second op: naming none of the founder's ops would cut b off
    with pytest.raises(MalformedOp, match="rests on"):
        forge_as(b, OpKind.DEVICE_REMOVED, removal_body(b, key(1), heads=[]), pack(NOW, 1))
    replayed(c)


def test_removals_of_a_member_that_is_not_one_are_refused_locally() -> None:
    a, _b = fleet(2)
    a.remove_device(key(2), NOW + 1)
    with pytest.raises(Refused, match="was removed"):
        a.add_device(cert(2), "back", NOW + 2)
    with pytest.raises(NotFound):
        a.remove_device(key(9), NOW + 2)


def test_a_device_added_concurrently_with_a_rotation_is_granted_the_key() -> None:
    a, b, _c = fleet(3)
    d = device(4)
    a.add_device(cert(4), "d", NOW + 1)
    rotation = b.rotate_key(NOW + 2)  # b has not seen d
    sync(a, b)
    assert a.missing_keys() == {d.public: [rotation.hash]}
    assert a.grants_due() == [d.public]
    a.grant_keys(d.public, NOW + 3)
    assert a.missing_keys() == {}
    assert a.grants_due() == []
    b.receive_batch(a.ops_missing_from(b.vector()), NOW)
    b.create_account(draft("under-rotation"), NOW + 4)
    new = Vault(a.vault, d)
    new.receive_batch(b.log(), NOW + 5)
    assert rotation.hash in new.epoch_keys
    assert "under-rotation" in issuers(new)


def test_a_device_that_was_not_added_cannot_write() -> None:
    (a,) = fleet(1)
    stranger = Vault(a.vault, device(9))
    stranger.receive_batch(a.log(), NOW)
    with pytest.raises(VaultLocked):
        stranger.create_account(draft(), NOW)


def test_renames_are_ordered_by_the_authors_own_log_not_its_clock() -> None:
    a, b = fleet(2)
    first = b.rename_device("work laptop", NOW + 1)
    a.receive(first.raw, NOW)
    assert a.membership.added[key(2)].name == "work laptop"
    later = forge_as(b, OpKind.DEVICE_RENAMED, DeviceRenamed("old laptop"), first.hlc + 1)
    a.receive(later.raw, NOW)
    assert a.membership.added[key(2)].name == "old laptop"
    assert snapshot(a) == snapshot(b)


def test_a_removed_device_cannot_rename_itself_any_more() -> None:
    a, b = fleet(2)
    a.remove_device(key(2), NOW + 1)
    late = b.rename_device("still here", NOW + 5)  # b has not heard of its removal
    a.receive(late.raw, NOW)
    assert a.membership.added[key(2)].name == "device-2"


# -- forks: two different ops with one author and seq ----------------------------------


def copy_of(v: Vault) -> Vault:
    """A copied home run a second time: the same key and log, from here on apart."""
    twin, _ = Vault.restore(v.vault, v.device, v.log())
    return twin


def test_a_copied_home_keeps_what_both_copies_typed_and_neither_can_change_membership() -> None:
    a, b, c = fleet(3)
    twin = copy_of(b)
    _, mine = b.create_account(draft("typed on b"), NOW + 1)
    _, theirs = twin.create_account(draft("typed on the copy"), NOW + 1)
    added = b.add_device(cert(4), "via b", NOW + 2)
    also = twin.add_device(cert(5), "via the copy", NOW + 2)
    a.receive_batch(b.log(), NOW)
    a.receive_batch(twin.log(), NOW)
    c.receive_batch(twin.log(), NOW)
    c.receive_batch(b.log(), NOW)
    for v in (a, c):
        assert v.graph.forks == {key(2): mine.seq}
        assert {"typed on b", "typed on the copy"} <= issuers(v)
        assert added.hash in v.membership.void
        assert also.hash in v.membership.void
        assert key(2) in v.membership.members  # forked, not removed: the person decides
    assert snapshot(a) == snapshot(c)
    missing = a.ops_missing_from(c.vector())
    assert {mine.raw, theirs.raw} <= set(missing)
    replayed(a)
    # The person revokes it, as advised: the remover had seen both branches, so both stay
    # typed, and neither branch's membership ops count.
    a.remove_device(key(2), NOW + 3)
    assert {"typed on b", "typed on the copy"} <= issuers(a)
    assert added.hash in a.membership.void
    replayed(a)


def test_a_thief_rewriting_history_below_its_cutoff_gains_nothing() -> None:
    f, a, b = fleet(3)  # the founder added a and b; then the founder is stolen
    f.create_account(draft("bank"), NOW + 1)
    original = f.accounts()[0].otp
    sync(f, a)
    sync(f, b)
    revocation = a.remove_device(key(1), NOW + 5)
    # The thief forks the founder's log at seq 2, below what a saw: another account write,
    # and another device added, each on the new branch.
    root = f.chains[key(1)][0]
    body = AccountWrite(
        f.accounts()[0].id, {"otp": FieldWrite(OtpParams.create("totp", b"x" * 20), ())}
    )
    rewritten = forge_as(f, OpKind.ACCOUNT_WRITE, body, pack(NOW, 1), prev=root)
    accomplice = device(9)
    extra = DeviceAdded(accomplice.public, "d", device_certificate(accomplice), {})
    smuggled = forge_as(f, OpKind.DEVICE_ADDED, extra, pack(NOW, 2), prev=rewritten)
    for v in (a, b):
        v.receive_batch(f.ops_missing_from(v.vector()), NOW)
        v.receive(revocation.raw, NOW)
        assert v.graph.forks == {key(1): 2}
        assert set(v.membership.members) == {key(2), key(3)}
        assert not v.membership.counts(rewritten)
        assert smuggled.hash in v.membership.void
        (view,) = v.accounts()
        assert (view.otp, view.conflicts) == (original, {})
    assert snapshot(a) == snapshot(b)
    replayed(b)


def test_a_forked_founder_cannot_void_the_devices_it_added_before_its_revocation() -> None:
    f, a, b = fleet(3)
    revocation = a.remove_device(key(1), NOW + 5)
    genesis = f.chains[key(1)][0]
    forge_as(f, OpKind.DEVICE_RENAMED, DeviceRenamed("fork"), pack(NOW, 9), prev=genesis)
    b.receive_batch([*f.log(), revocation.raw], NOW)
    assert set(b.membership.members) == {key(2), key(3)}
    assert not b.membership.closed
    replayed(b)


def test_branches_of_equal_length_are_found_by_the_tips_beside_a_vector() -> None:
    a, b = fleet(2)
    twin = copy_of(b)  # both copies write once, offline: two branches of one length
    b.create_account(draft("typed on b"), NOW + 1)
    twin.create_account(draft("typed on the copy"), NOW + 1)
    sync(a, b)
    assert a.vector() == twin.vector()
    assert a.diverging(twin.vector(), twin.tips()) == {key(2)}
    sync(a, twin)
    assert a.graph.forks == {key(2): len(a.chains[key(2)])}
    assert {"typed on b", "typed on the copy"} <= issuers(a)


def test_a_forked_member_does_not_rotate_when_its_rotation_would_count_for_no_one() -> None:
    a, b, _c = fleet(3)
    twin = copy_of(a)  # the founder's home, copied
    twin.create_account(draft("on the copy"), NOW + 1)
    a.add_device(cert(4), "d", NOW + 1)  # one seq, two ops: a fork, and a void addition
    for v in (a, b):
        v.receive_batch(twin.log(), NOW + 2)
        v.receive_batch(a.log(), NOW + 2)
        assert v.membership.usable == []  # device 4 got every key and is no member
    assert not a.needs_rotation()
    assert b.needs_rotation()
    rotation = b.rotate_key(NOW + 3)
    assert not b.needs_rotation()
    assert b.membership.current_epoch == rotation.hash
