"""Vaults of several in-memory devices, built the way the daemon builds them."""

from __future__ import annotations

from twofold.protocol import account_write, membership_bodies
from twofold.protocol.account import AccountDraft, OtpParams
from twofold.protocol.account_write import AccountWrite
from twofold.protocol.certificate import device_certificate
from twofold.protocol.envelope import ZERO_HASH, Op, OpKind, seal_op
from twofold.protocol.hlc import wall_ms
from twofold.protocol.identity import DeviceKey
from twofold.protocol.keywrap import key_check, new_epoch_key, seal
from twofold.protocol.membership_bodies import Body, DeviceRemoved
from twofold.protocol.vault import Vault

NOW = 1_790_000_000_000
SECRET = b"12345678901234567890"


def seed(n: int) -> bytes:
    """A fixed 32-byte seed, so failures replay the same keys."""
    return bytes([n]) * 32


def device(n: int) -> DeviceKey:
    """Device number n with a fixed key."""
    return DeviceKey(seed(n))


def cert(n: int) -> bytes:
    """Device number n's certificate."""
    return device_certificate(device(n))


def draft(issuer: str = "GitHub", name: str = "alice", **otp: object) -> AccountDraft:
    """A valid TOTP account."""
    return AccountDraft(issuer, name, OtpParams.create("totp", SECRET, **otp))


def fleet(n: int, now: int = NOW) -> list[Vault]:
    """A founder and n-1 devices it added, each holding the whole log."""
    founder = Vault.found(device(1), "device-1", now, salt=bytes(16))
    for i in range(2, n + 1):
        founder.add_device(cert(i), f"device-{i}", now)
    vaults = [founder]
    for i in range(2, n + 1):
        v = Vault(founder.vault, device(i))
        report = v.receive_batch(founder.log(), now)
        assert not report.refused
        assert not report.held
        vaults.append(v)
    return vaults


def sync(a: Vault, b: Vault, now: int = NOW) -> None:
    """Anti-entropy both ways, as two daemons would."""
    for src, dst in ((a, b), (b, a)):
        report = dst.receive_batch(src.ops_missing_from(dst.vector(), dst.tips()), now)
        assert not report.refused, report.refused


def snapshot(v: Vault) -> object:
    """Everything a person could see of a vault, for comparing replicas."""
    views = v.state.views()
    return (
        [
            (
                x.id,
                x.issuer,
                x.name,
                x.note,
                x.otp,
                x.counter,
                x.deleted,
                {f: tuple((h.value, h.op) for h in hs) for f, hs in x.conflicts.items()},
            )
            for x in views
        ],
        sorted(v.membership.members),
        sorted(v.membership.cutoffs.items()),
        v.membership.current_epoch,
    )


def forge_as(
    v: Vault, kind: OpKind, body: Body | AccountWrite, hlc: int, *, prev: Op | None = None
) -> Op:
    """An op `v`'s device signs with any clock its chain allows, after `prev` (default: its
    last op; its first op may carry any clock at all).

    What a stolen device can do: its own software keeps no rule, so this goes
    straight into its log without the checks `Vault` makes before writing.
    """
    chain = v.chains.get(v.device.public)
    after = prev if prev is not None else chain[-1] if chain else None
    if kind.encrypted:
        assert isinstance(body, AccountWrite)
        epoch = next(e for e in reversed(v.membership.epochs) if e in v.epoch_keys)
        payload, key = account_write.encode(body), v.epoch_keys[epoch]
    else:
        assert not isinstance(body, AccountWrite)
        epoch, payload, key = ZERO_HASH, membership_bodies.encode(body), None
    raw = seal_op(
        v.device,
        kind=kind,
        vault=v.vault,
        seq=after.seq + 1 if after else 1,
        prev=after.hash if after else v.membership.added[v.device.public].added_in,
        hlc=hlc,
        epoch=epoch,
        body=payload,
        epoch_key=key,
    )
    v.receive(raw, max(NOW, wall_ms(hlc)))  # its own clock: whatever it signed
    return Op(raw)


def removal_body(v: Vault, target: bytes, *, heads: list[Op] | None = None) -> DeviceRemoved:
    """A removal of `target` by `v`, naming what `v` holds of it unless `heads` says otherwise."""
    chosen = v.graph.tips(target) if heads is None else heads
    rest = [m for m in v.membership.members if m != target]
    key = new_epoch_key()
    return DeviceRemoved(
        target,
        max((h.seq for h in chosen), default=0),
        tuple(h.hash for h in chosen),
        {m: seal(key, m) for m in rest},
        key_check(key),
    )


def issuers(v: Vault) -> set[str]:
    """The issuers of the accounts a vault shows, trash included."""
    return {x.issuer for x in v.state.views()}
