"""Verification on receipt: every refusal leaves the vault as it was; missing dependencies hold."""

from __future__ import annotations

import struct

import pytest

from tests.unit.fleet import NOW, cert, device, draft, fleet, snapshot
from twofold.protocol import account_write, replica
from twofold.protocol.account_write import AccountWrite, FieldWrite
from twofold.protocol.envelope import HEADER_SIZE, MAX_OP_SIZE, ZERO_HASH, Op, OpKind, seal_op
from twofold.protocol.errors import (
    BadSignature,
    BrokenChain,
    ClockTooFarAhead,
    MalformedOp,
    MalformedPayload,
    NotAMember,
    OpTooLarge,
    PendingLimit,
    UndecryptableOp,
    UnknownEpoch,
    UnsupportedVersion,
    WrongVault,
)
from twofold.protocol.hlc import pack
from twofold.protocol.identity import DeviceKey
from twofold.protocol.vault import Vault


def frozen(v: Vault) -> object:
    """Everything receiving can change."""
    return (snapshot(v), v.vector(), sorted(v.by_hash), sorted(v.pending))


def forge(
    v: Vault,
    author: DeviceKey,
    *,
    seq: int,
    prev: bytes,
    hlc: int | None = None,
    kind: OpKind = OpKind.ACCOUNT_WRITE,
    epoch: bytes | None = None,
    body: bytes | None = None,
    key: bytes | None = None,
) -> bytes:
    """An op signed by `author` with any header the test wants."""
    epoch = v.membership.current_epoch if epoch is None else epoch
    if body is None:
        body = account_write.encode(AccountWrite(b"\x01" * 16, {"note": FieldWrite("x", ())}))
    return seal_op(
        author,
        kind=kind,
        vault=v.vault,
        seq=seq,
        prev=prev,
        hlc=hlc if hlc is not None else pack(NOW + 1, 0),
        epoch=epoch,
        body=body,
        epoch_key=key if key is not None else v.epoch_keys.get(epoch),
    )


@pytest.fixture
def pair() -> tuple[Vault, Vault]:
    a, b = fleet(2)
    a.create_account(draft(), NOW)
    b.receive_batch(a.log(), NOW)
    return a, b


def refuse(v: Vault, raw: bytes, error: type[Exception], match: str | None = None) -> Exception:
    before = frozen(v)
    with pytest.raises(error, match=match) as info:
        v.receive(raw, NOW)
    assert frozen(v) == before
    return info.value


def test_a_bad_signature_is_refused(pair: tuple[Vault, Vault]) -> None:
    a, b = pair
    _, op = b.create_account(draft("Mine"), NOW)
    raw = bytearray(op.raw)
    raw[-1] ^= 1
    refuse(a, bytes(raw), BadSignature, "bad signature")
    raw = bytearray(op.raw)
    raw[HEADER_SIZE + 30] ^= 1  # ciphertext: the signature covers it
    refuse(a, bytes(raw), BadSignature)


def test_a_broken_hash_chain_is_refused(pair: tuple[Vault, Vault]) -> None:
    a, b = pair
    _, first = b.create_account(draft("Mine"), NOW)
    a.receive(first.raw, NOW)
    genesis = a.chains[device(1).public][0]
    refuse(a, forge(a, device(2), seq=2, prev=genesis.hash), BrokenChain, "prev")
    refuse(a, forge(a, device(2), seq=3, prev=first.hash), BrokenChain, "prev")


def test_an_op_naming_an_unknown_prev_waits_and_marks_its_author_suspect(
    pair: tuple[Vault, Vault],
) -> None:
    a, b = pair
    _, first = b.create_account(draft("Mine"), NOW)
    a.receive(first.raw, NOW)
    receipt = a.receive(forge(a, device(2), seq=2, prev=b"\x07" * 32), NOW)
    assert receipt.status == "held"
    assert a.suspects == {device(2).public}  # it signed a history other than the one held


def test_a_clock_that_goes_backwards_in_a_chain_is_refused(pair: tuple[Vault, Vault]) -> None:
    a, b = pair
    _, first = b.create_account(draft("Mine"), NOW)
    a.receive(first.raw, NOW)
    raw = forge(a, device(2), seq=2, prev=first.hash, hlc=first.hlc)
    refuse(a, raw, BrokenChain, "clock")


def test_an_outsider_is_refused(pair: tuple[Vault, Vault]) -> None:
    a, _ = pair
    genesis = a.chains[device(1).public][0]
    refuse(a, forge(a, device(9), seq=1, prev=genesis.hash), NotAMember, "never added")


def test_an_outsider_cannot_forge_a_second_genesis(pair: tuple[Vault, Vault]) -> None:
    a, _ = pair
    other = Vault.found(device(9), "evil", NOW, salt=bytes(16))
    with pytest.raises(WrongVault):
        a.receive(other.log()[0], NOW)
    raw = seal_op(
        device(9),
        kind=OpKind.GENESIS,
        vault=a.vault,
        seq=1,
        prev=ZERO_HASH,
        hlc=pack(NOW, 0),
        epoch=ZERO_HASH,
        body=other.bodies and next(iter(other.chains.values()))[0].payload,
    )
    refuse(a, raw, NotAMember, "already has a genesis")


def test_a_removed_authors_later_op_is_stored_but_counts_nowhere(
    pair: tuple[Vault, Vault],
) -> None:
    a, b = pair
    _, seen = b.create_account(draft("Mine"), NOW)
    a.receive(seen.raw, NOW)
    a.remove_device(device(2).public, NOW + 1)
    _, late = b.create_account(draft("Late"), NOW + 2)
    assert a.receive(late.raw, NOW).status == "applied"
    assert late.hash in a.by_hash
    assert not a.membership.counts(late)
    assert {x.issuer for x in a.accounts()} == {"GitHub", "Mine"}


def test_two_ops_with_one_seq_are_both_kept_as_a_fork(pair: tuple[Vault, Vault]) -> None:
    a, b = pair
    _, op = b.create_account(draft("Mine"), NOW)
    a.receive(op.raw, NOW)
    fork = forge(a, device(2), seq=op.seq, prev=op.prev, hlc=op.hlc + 1)
    assert a.receive(fork, NOW).status == "applied"
    assert a.graph.forks == {device(2).public: op.seq}
    assert a.evidence == [(op.raw, fork)]
    assert a.vector() == b.vector()  # the vector counts the first branch; the fork travels apart
    assert set(a.ops_missing_from(b.vector())) == {op.raw, fork}  # both branches, from the fork


def test_an_op_naming_something_that_is_not_an_epoch_is_refused(
    pair: tuple[Vault, Vault],
) -> None:
    a, _ = pair
    not_epoch = a.chains[device(1).public][2]  # the account write
    raw = forge(
        a,
        device(1),
        seq=len(a.chains[device(1).public]) + 1,
        prev=a.chains[device(1).public][-1].hash,
        hlc=pack(NOW + 9, 0),
        epoch=not_epoch.hash,
        key=bytes(32),
    )
    refuse(a, raw, UnknownEpoch, "no op created")


def test_a_clock_too_far_ahead_is_refused(pair: tuple[Vault, Vault]) -> None:
    a, _ = pair
    chain = a.chains.get(device(2).public, [])
    add = a.membership.added[device(2).public].added_in
    raw = forge(a, device(2), seq=len(chain) + 1, prev=add, hlc=pack(NOW + 6 * 60_000, 0))
    refuse(a, raw, ClockTooFarAhead, "ahead")
    a.receive(forge(a, device(2), seq=1, prev=add, hlc=pack(NOW + 4 * 60_000, 0)), NOW)


@pytest.mark.parametrize(
    ("mangle", "error"),
    [
        (lambda raw: raw[:40], MalformedOp),
        (lambda raw: raw[:-1], MalformedOp),
        (lambda raw: raw + b"\x00", MalformedOp),
        (lambda raw: raw[: HEADER_SIZE + 64], MalformedOp),
        (lambda raw: raw + bytes(MAX_OP_SIZE), OpTooLarge),
        (lambda raw: b"\x02" + raw[1:], UnsupportedVersion),
        (lambda raw: raw[:1] + b"\x63" + raw[2:], MalformedOp),
        (lambda raw: raw[:2] + b"\xff" * 16 + raw[18:], WrongVault),
    ],
    ids=[
        "truncated",
        "short-by-one",
        "trailing",
        "no-payload",
        "oversized",
        "version",
        "kind",
        "vault",
    ],
)
def test_malformed_bytes_are_refused(pair: tuple[Vault, Vault], mangle, error) -> None:
    a, b = pair
    _, op = b.create_account(draft("Mine"), NOW)
    refuse(a, mangle(op.raw), error)


def test_a_payload_that_does_not_decrypt_is_refused(pair: tuple[Vault, Vault]) -> None:
    a, _ = pair
    add = a.membership.added[device(2).public].added_in
    refuse(a, forge(a, device(2), seq=1, prev=add, key=b"\x09" * 32), UndecryptableOp)


def test_a_payload_that_is_not_an_account_write_is_refused(pair: tuple[Vault, Vault]) -> None:
    a, _ = pair
    add = a.membership.added[device(2).public].added_in
    for body in (b"\xff\xff", b"\xa1\x61x\x01", account_write.cbor.dumps({"account": b"x"})):
        refuse(a, forge(a, device(2), seq=1, prev=add, body=body), MalformedPayload)


def test_a_membership_body_out_of_shape_is_refused(pair: tuple[Vault, Vault]) -> None:
    a, _ = pair
    add = a.membership.added[device(2).public].added_in
    for body in (b"\x01", account_write.cbor.dumps({"device": b"short", "name": "x", "wraps": {}})):
        raw = forge(
            a, device(2), seq=1, prev=add, kind=OpKind.DEVICE_ADDED, epoch=ZERO_HASH, body=body
        )
        refuse(a, raw, MalformedPayload)


def test_a_duplicate_changes_nothing(pair: tuple[Vault, Vault]) -> None:
    a, b = pair
    _, op = b.create_account(draft("Mine"), NOW)
    assert a.receive(op.raw, NOW).status == "applied"
    before = frozen(a)
    assert a.receive(op.raw, NOW).status == "duplicate"
    assert a.receive_batch([op.raw, op.raw], NOW).duplicates == 2
    assert frozen(a) == before


# -- held back until what they depend on arrives ---------------------------------


def test_an_op_waits_for_its_predecessor(pair: tuple[Vault, Vault]) -> None:
    a, b = pair
    ops = [b.create_account(draft(f"n{i}"), NOW + i)[1] for i in range(3)]
    assert a.receive(ops[2].raw, NOW).status == "held"
    assert a.receive(ops[1].raw, NOW).status == "held"
    assert {x.issuer for x in a.accounts()} == {"GitHub"}
    receipt = a.receive(ops[0].raw, NOW)
    assert [o.seq for o in receipt.applied] == [1, 2, 3]
    assert {x.issuer for x in a.accounts()} == {"GitHub", "n0", "n1", "n2"}
    assert a.pending == {}


def test_an_op_waits_for_the_op_that_added_its_author() -> None:
    a, b, _ = fleet(3)
    d = device(4)
    add = a.add_device(cert(4), "d", NOW + 1)
    vd = Vault(a.vault, d)
    vd.receive_batch(a.log(), NOW)
    _, op = vd.create_account(draft("from-d"), NOW + 2)
    receipt = b.receive(op.raw, NOW)
    assert receipt.status == "held"
    assert receipt.waiting_for == "the op that added its author"
    assert [o.hash for o in b.receive(add.raw, NOW).applied] == [add.hash, op.hash]
    assert "from-d" in {x.issuer for x in b.accounts()}


def test_an_op_waits_for_the_op_that_created_its_epoch() -> None:
    a, b, c = fleet(3)
    rotation = a.rotate_key(NOW + 1)
    b.receive(rotation.raw, NOW)
    _, op = b.create_account(draft("new-epoch"), NOW + 2)
    assert op.epoch == rotation.hash
    assert c.receive(op.raw, NOW).status == "held"
    c.receive(rotation.raw, NOW)
    assert "new-epoch" in {x.issuer for x in c.accounts()}


def test_held_back_ops_are_bounded(pair: tuple[Vault, Vault], monkeypatch) -> None:
    a, b = pair
    monkeypatch.setattr(replica, "MAX_PENDING", 2)
    ops = [b.create_account(draft(f"n{i}"), NOW + i)[1] for i in range(4)]
    a.receive(ops[1].raw, NOW)
    a.receive(ops[2].raw, NOW)
    with pytest.raises(PendingLimit):
        a.receive(ops[3].raw, NOW)


# -- batches: one signature per run of one author's chain ---------------------------


def test_a_batch_checks_one_signature_per_author_run(pair, monkeypatch) -> None:
    a, b = pair
    ops = [b.create_account(draft(f"n{i}"), NOW + i)[1].raw for i in range(50)]
    calls = []
    real = Op.signature_valid
    monkeypatch.setattr(Op, "signature_valid", lambda self: calls.append(self.seq) or real(self))
    report = a.receive_batch(ops[::-1], NOW)
    assert len(report.applied) == 50
    assert calls == [50]


def test_a_tampered_op_in_a_batch_is_refused_and_the_rest_is_not_lost(pair) -> None:
    a, b = pair
    ops = [b.create_account(draft(f"n{i}"), NOW + i)[1].raw for i in range(6)]
    bad = bytearray(ops[2])
    bad[-5] ^= 0x40
    report = a.receive_batch([*ops[:2], bytes(bad), *ops[3:]], NOW)
    assert [o.seq for o in report.applied] == [1, 2]
    assert [type(e) for _, e in report.refused] == [BadSignature]
    assert [o.seq for o in report.held] == [4, 5, 6]
    assert a.receive(ops[2], NOW).applied[-1].seq == 6


def test_a_forged_newest_op_authenticates_nothing_in_its_run(pair) -> None:
    a, b = pair
    ops = [b.create_account(draft(f"n{i}"), NOW + i)[1].raw for i in range(3)]
    forged = bytearray(ops[2])
    forged[-1] ^= 1
    report = a.receive_batch([*ops[:2], bytes(forged)], NOW)
    assert [o.seq for o in report.applied] == [1, 2]  # each checked on its own
    assert [type(e) for _, e in report.refused] == [BadSignature]


def test_header_fields_are_where_the_spec_says(pair: tuple[Vault, Vault]) -> None:
    a, _ = pair
    op = a.chains[device(1).public][2]
    version, kind, vault, author, seq = struct.unpack_from(">BB16s32sQ", op.raw)
    assert (version, kind, vault, author, seq) == (1, 16, a.vault, device(1).public, 3)
