"""The merge rules, case by case: what two devices see after writing concurrently."""

from __future__ import annotations

import pytest

from tests.unit.fleet import NOW, SECRET, draft, fleet, forge_as, snapshot, sync
from twofold.protocol.account import AccountDraft, OtpParams
from twofold.protocol.account_write import AccountWrite
from twofold.protocol.envelope import OpKind
from twofold.protocol.errors import InvalidAccount, NotFound


def test_concurrent_renames_are_a_visible_conflict_with_a_deterministic_winner() -> None:
    a, b = fleet(2)
    aid, _ = a.create_account(draft(), NOW)
    sync(a, b)
    a.update_account(aid, NOW + 10, name="from-a")
    b.update_account(aid, NOW + 20, name="from-b")
    sync(a, b)
    for v in (a, b):
        view = v.account(aid)
        assert view.name == "from-b"  # greatest (hlc, author) is shown
        assert [h.value for h in view.conflicts["name"]] == ["from-b", "from-a"]
    assert snapshot(a) == snapshot(b)


def test_a_write_that_replaces_all_heads_resolves_the_conflict() -> None:
    a, b = fleet(2)
    aid, _ = a.create_account(draft(), NOW)
    sync(a, b)
    a.update_account(aid, NOW + 1, issuer="A")
    b.update_account(aid, NOW + 2, issuer="B")
    sync(a, b)
    a.resolve(aid, "issuer", "A", NOW + 3)
    sync(a, b)
    assert b.account(aid).issuer == "A"
    assert b.account(aid).conflicts == {}
    assert b.conflicts() == []


def test_equal_concurrent_writes_are_not_a_conflict() -> None:
    a, b = fleet(2)
    aid, _ = a.create_account(draft(), NOW)
    sync(a, b)
    a.update_account(aid, NOW + 1, note="same")
    b.update_account(aid, NOW + 2, note="same")
    sync(a, b)
    assert a.account(aid).conflicts == {}


def test_sequential_edits_leave_no_conflict() -> None:
    a, b = fleet(2)
    aid, _ = a.create_account(draft(), NOW)
    sync(a, b)
    b.update_account(aid, NOW + 1, name="one")
    sync(a, b)
    a.update_account(aid, NOW + 2, name="two")
    sync(a, b)
    assert b.account(aid).name == "two"
    assert b.account(aid).conflicts == {}


def test_an_edit_concurrent_with_a_delete_survives_in_the_trash() -> None:
    a, b = fleet(2)
    aid, _ = a.create_account(draft(), NOW)
    sync(a, b)
    a.delete_account(aid, NOW + 1)
    b.update_account(aid, NOW + 2, note="typed while a deleted it")
    sync(a, b)
    for v in (a, b):
        assert [x.id for x in v.trash()] == [aid]
        assert v.accounts() == []
        assert v.account(aid).note == "typed while a deleted it"
    a.restore_account(aid, NOW + 3)
    sync(a, b)
    assert b.account(aid).note == "typed while a deleted it"
    assert [x.id for x in b.accounts()] == [aid]


def test_a_restore_concurrent_with_a_delete_keeps_the_account() -> None:
    a, b = fleet(2)
    aid, _ = a.create_account(draft(), NOW)
    sync(a, b)
    a.delete_account(aid, NOW + 1)
    b.delete_account(aid, NOW + 2)
    b.restore_account(aid, NOW + 3)
    sync(a, b)
    # b's restore replaced only b's delete: a head still says "not deleted"
    assert not a.account(aid).deleted
    assert a.account(aid).conflicts == {}
    assert snapshot(a) == snapshot(b)


def test_hotp_counters_advanced_on_two_devices_end_at_the_greater() -> None:
    a, b = fleet(2)
    hotp = AccountDraft("Bank", "me", OtpParams.create("hotp", SECRET), counter=5)
    aid, _ = a.create_account(hotp, NOW)
    sync(a, b)
    used_a = [a.next_hotp_counter(aid, NOW + i)[0] for i in range(3)]
    used_b = [b.next_hotp_counter(aid, NOW + i)[0] for i in range(1)]
    assert used_a == [5, 6, 7]
    assert used_b == [5]
    sync(a, b)
    assert a.account(aid).counter == b.account(aid).counter == 8
    assert b.next_hotp_counter(aid, NOW + 10)[0] == 8


def test_the_counter_never_moves_back() -> None:
    (a,) = fleet(1)
    hotp = AccountDraft("Bank", "me", OtpParams.create("hotp", SECRET), counter=9)
    aid, _ = a.create_account(hotp, NOW)
    with pytest.raises(InvalidAccount, match="only move forward") as err:
        a.update_account(aid, NOW + 1, counter=3)
    assert err.value.field == "counter"
    assert a.account(aid).counter == 9


def test_a_secret_change_is_one_register_so_params_never_mix() -> None:
    a, b = fleet(2)
    aid, _ = a.create_account(draft(), NOW)
    sync(a, b)
    a.update_account(aid, NOW + 1, otp=OtpParams.create("totp", b"A" * 20, digits=8))
    b.update_account(aid, NOW + 2, otp=OtpParams.create("totp", b"B" * 20, algorithm="SHA256"))
    sync(a, b)
    heads = {
        (h.value.secret, h.value.digits, h.value.algorithm) for h in a.account(aid).conflicts["otp"]
    }
    assert heads == {(b"A" * 20, 8, "SHA1"), (b"B" * 20, 6, "SHA256")}


def test_unknown_accounts_and_bad_local_edits_are_refused() -> None:
    (a,) = fleet(1)
    with pytest.raises(NotFound):
        a.update_account(b"\x00" * 16, NOW, name="x")
    aid, _ = a.create_account(draft(), NOW)
    with pytest.raises(InvalidAccount) as err:
        a.update_account(aid, NOW, name="x" * 300)
    assert err.value.field == "name"
    with pytest.raises(InvalidAccount, match="spaces") as err:
        a.update_account(aid, NOW, issuer=" GitHub")
    assert err.value.field == "issuer"
    with pytest.raises(InvalidAccount, match="name or an issuer"):
        a.update_account(aid, NOW, issuer="", name="")
    with pytest.raises(InvalidAccount) as err:
        a.update_account(aid, NOW, otp={"kind": "totp"})
    assert err.value.field == "otp"
    with pytest.raises(InvalidAccount, match="no conflict"):
        a.resolve(aid, "name", "y", NOW)
    assert a.account(aid).name == "alice"


def test_timestamps_follow_the_ops() -> None:
    (a,) = fleet(1)
    aid, first = a.create_account(draft(), NOW)
    last = a.update_account(aid, NOW + 5000, note="later")
    view = a.account(aid)
    assert view.created_hlc == first.hlc
    assert view.updated_hlc == last.hlc > first.hlc


def test_only_a_hotp_account_takes_a_counter() -> None:
    (a,) = fleet(1)
    aid, _ = a.create_account(draft("GitHub"), NOW)
    with pytest.raises(InvalidAccount, match="only hotp accounts have a counter") as err:
        a.update_account(aid, NOW + 1, counter=3)
    assert err.value.field == "counter"
    hotp, _ = a.create_account(
        AccountDraft("Bank", "me", OtpParams.create("hotp", SECRET), counter=1), NOW + 2
    )
    a.update_account(hotp, NOW + 3, counter=4)  # control: a HOTP account's counter moves
    assert a.account(hotp).counter == 4


def test_a_counter_a_lying_peer_writes_on_a_totp_account_carries_nowhere() -> None:
    """A stolen device signs a counter onto a TOTP account, which its own software allows.
    The others ignore it: it must not make their drafts invalid, or no export, backup or new
    vault could ever be made from them again."""
    a, b = fleet(2)
    aid, _ = a.create_account(draft("GitHub"), NOW)
    sync(a, b)
    forge_as(b, OpKind.ACCOUNT_WRITE, AccountWrite(aid, {}, 7), NOW + 5)
    sync(a, b)
    for v in (a, b):
        view = v.account(aid)
        assert view.counter == 0
        again = AccountDraft(view.issuer, view.name, view.otp, view.counter, view.note)
        assert again.otp == view.otp  # checks pass: it can be exported and carried over
