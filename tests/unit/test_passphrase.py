"""The store key sealed under a passphrase: the cost rule, round trips, and what a damaged or
tampered record does (it refuses; it never spends unbounded memory)."""

from __future__ import annotations

import os

import pytest

from twofold.daemon.passphrase import (
    MEMORY,
    MIN_MEMORY,
    OPS,
    Cost,
    SealDamaged,
    SealedStoreKey,
    WeakPassphrase,
    WrongPassphrase,
    cost_for,
    cost_of,
    open_sealed,
    seal,
)
from twofold.protocol import cbor

CHEAP = Cost(1, 8 << 20)  # the tests' cost; the rule's is measured in bench/
KEY = bytes(range(32))


def test_the_rule_keeps_memory_times_passes_on_small_machines() -> None:
    assert cost_for(None) == cost_for(16 << 30) == cost_for(2 << 30) == Cost(OPS, MEMORY)
    small = cost_for(1 << 30)  # a 1 GiB board: 128 MiB, 6 passes
    assert small == Cost(6, 128 << 20)
    tiny = cost_for(256 << 20)  # never under 64 MiB; passes capped
    assert tiny.memory == MIN_MEMORY
    assert tiny.ops * tiny.memory >= OPS * MEMORY
    assert cost_for(2 << 30).memory * cost_for(2 << 30).ops == small.memory * small.ops


def test_the_store_key_round_trips_and_a_wrong_passphrase_is_refused() -> None:
    held = seal(KEY, "correct horse battery", CHEAP)
    assert open_sealed(held, "correct horse battery") == KEY
    with pytest.raises(WrongPassphrase):
        open_sealed(held, "correct horse batterY")
    assert cost_of(held) == CHEAP


def test_a_passphrase_is_the_same_however_its_accents_were_typed() -> None:
    held = seal(KEY, "cafe\u0301 au lait!", CHEAP)  # e + combining accent
    assert open_sealed(held, "caf\u00e9 au lait!") == KEY  # precomposed


def test_each_seal_has_its_own_salt_and_nonce() -> None:
    one, two = seal(KEY, "the same phrase", CHEAP), seal(KEY, "the same phrase", CHEAP)
    assert one.record != two.record
    assert one.sealed != two.sealed
    assert KEY not in one.sealed


def test_a_short_passphrase_is_refused_before_any_work() -> None:
    with pytest.raises(WeakPassphrase):
        seal(KEY, "123456789", CHEAP)


def test_a_passphrase_with_a_lone_surrogate_is_refused_when_set_and_wrong_when_tried() -> None:
    """A terminal can hand over half a UTF-16 pair; it is not text, and UTF-8 cannot hold it."""
    with pytest.raises(WeakPassphrase, match="lone surrogate"):
        seal(KEY, "correct horse \ud800battery", CHEAP)
    held = seal(KEY, "correct horse battery", CHEAP)
    with pytest.raises(WrongPassphrase):
        open_sealed(held, "correct horse \ud800battery")


def test_a_tampered_cost_record_refuses_rather_than_spend_memory() -> None:
    held = seal(KEY, "correct horse battery", CHEAP)
    fields = cbor.loads(held.record, "test")
    bomb = cbor.dumps({**fields, "mem": 1 << 40})
    with pytest.raises(SealDamaged, match="unusable"):
        open_sealed(SealedStoreKey(bomb, held.sealed), "correct horse battery")
    cheaper = cbor.dumps({**fields, "ops": 1, "mem": 8192})  # a cheaper cost is another key
    with pytest.raises(WrongPassphrase):
        open_sealed(SealedStoreKey(cheaper, held.sealed), "correct horse battery")
    for record in (b"\xff", cbor.dumps({**fields, "alg": "pbkdf2"}), cbor.dumps([1, 2])):
        with pytest.raises(SealDamaged):
            open_sealed(SealedStoreKey(record, held.sealed), "correct horse battery")
    with pytest.raises(SealDamaged):
        open_sealed(SealedStoreKey(held.record, held.sealed[:-1]), "correct horse battery")
    with pytest.raises(WrongPassphrase):
        open_sealed(SealedStoreKey(held.record, os.urandom(len(held.sealed))), "x" * 12)
