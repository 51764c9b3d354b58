"""Property: whatever is written where, and however ops travel, every replica converges.

Membership (additions, removals, rotations, forks, restarts, and the daemon's key
grants) is checked against an independent model in test_membership_model.py.
"""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.fleet import NOW, device, fleet, snapshot, sync
from twofold.protocol.account import AccountDraft, OtpParams
from twofold.protocol.envelope import Op
from twofold.protocol.errors import InvalidAccount, NotFound, Refused
from twofold.protocol.vault import Vault

N = 3
replica_ix = st.integers(0, N - 1)
account_ix = st.integers(0, 5)
text = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), max_size=8)

action = st.one_of(
    st.tuples(st.just("create"), replica_ix, text, st.booleans()),
    st.tuples(
        st.just("edit"), replica_ix, account_ix, st.sampled_from(["issuer", "name", "note"]), text
    ),
    st.tuples(st.just("secret"), replica_ix, account_ix, st.binary(min_size=10, max_size=20)),
    st.tuples(st.just("delete"), replica_ix, account_ix),
    st.tuples(st.just("restore"), replica_ix, account_ix),
    st.tuples(st.just("hotp"), replica_ix, account_ix),
    st.tuples(st.just("resolve"), replica_ix, account_ix),
    st.tuples(st.just("rotate"), replica_ix),
    st.tuples(st.just("sync"), replica_ix, replica_ix),
)


def by_position(raws: set[bytes]) -> list[bytes]:
    """Ops in (author, seq) order: their bytes hold random nonces, their positions do not."""
    return sorted(raws, key=lambda raw: Op(raw).ref)


def run(vaults: list[Vault], actions: list[tuple]) -> None:
    """Play the actions; ones that make no sense where they land are skipped, as a UI would."""
    for step, (verb, r, *args) in enumerate(actions):
        v, now = vaults[r], NOW + step * 7
        ids = sorted(v.state.accounts)
        try:
            if verb == "create":
                kind = "hotp" if args[1] else "totp"
                v.create_account(
                    AccountDraft(
                        args[0] or "x",
                        "n",
                        OtpParams.create(kind, b"k" * 20),
                        counter=3 if args[1] else 0,
                    ),
                    now,
                    account_id=step.to_bytes(16, "big"),  # random IDs would reorder `ids`
                )
            elif verb == "sync":
                sync(v, vaults[args[0]])
            elif verb == "rotate":
                v.rotate_key(now)
            elif ids:
                aid = ids[args[0] % len(ids)]
                if verb == "edit":
                    v.update_account(aid, now, **{args[1]: args[2]})
                elif verb == "secret":
                    v.update_account(aid, now, otp=OtpParams.create("totp", args[1]))
                elif verb == "delete":
                    v.delete_account(aid, now)
                elif verb == "restore":
                    v.restore_account(aid, now)
                elif verb == "hotp":
                    v.next_hotp_counter(aid, now)
                elif verb == "resolve":
                    view = v.account(aid)
                    for name, heads in view.conflicts.items():
                        v.resolve(aid, name, heads[-1].value, now)
        except (InvalidAccount, Refused, NotFound):
            pass  # VaultLocked (a refusal) once this device was removed


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(action, max_size=25), st.randoms(use_true_random=False))
def test_replicas_converge_whatever_the_delivery_order(actions, rnd: random.Random) -> None:
    vaults = fleet(N)
    run(vaults, actions)
    everything = by_position({raw for v in vaults for raw in v.log()})
    for i in range(N):
        for j in range(N):
            sync(vaults[i], vaults[j])
    expected = snapshot(vaults[0])
    assert all(snapshot(v) == expected for v in vaults)

    for i in range(N):
        fresh = Vault(vaults[0].vault, device(i + 1))
        delivery = everything + rnd.sample(everything, k=len(everything) // 3)
        rnd.shuffle(delivery)
        for raw in delivery:
            fresh.receive(raw, NOW)
        assert fresh.pending == {}
        assert snapshot(fresh) == expected
        for raw in rnd.sample(everything, k=min(5, len(everything))):
            assert fresh.receive(raw, NOW).status == "duplicate"
        assert snapshot(fresh) == expected
