"""Vaults of several in-memory devices, built the way the daemon builds them."""

from __future__ import annotations

from twofold.protocol.account import AccountDraft, OtpParams
from twofold.protocol.certificate import device_certificate
from twofold.protocol.identity import DeviceKey
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
        report = dst.receive_batch(src.ops_missing_from(dst.vector()), now)
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
