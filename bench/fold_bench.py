"""Benchmark: authenticate, decrypt and fold a 20,000-op history from 3 authors over 1,000 accounts.

Not a test. Run by hand on an idle machine and record the output in
bench/RESULTS.md:

    .venv/bin/python bench/fold_bench.py [--ops 20000] [--accounts 1000] [--rounds 3]

It compares, in one run, the batch path (hash chain plus the newest op's
signature per author run) with a signature check on every op, so the ratio
holds even on a noisy shared machine.
"""

from __future__ import annotations

import argparse
import gc
import platform
import random
import resource
import time
import tracemalloc
from unittest import mock

from twofold.protocol import replica
from twofold.protocol.account import AccountDraft, OtpParams
from twofold.protocol.certificate import device_certificate
from twofold.protocol.hlc import wall_ms
from twofold.protocol.identity import DeviceKey
from twofold.protocol.vault import Vault

NOW = 1_790_000_000_000


def build_history(
    n_ops: int, n_accounts: int, seed: int = 7, founder: Vault | None = None
) -> tuple[bytes, list[bytes]]:
    """Three devices create, edit, advance, delete and restore accounts, syncing now and then.

    `founder` is a vault to build on (a daemon's, to time its start); by default a new one.
    """
    rnd = random.Random(seed)
    keys = [DeviceKey(bytes([i]) * 32) for i in (1, 2, 3)]
    if founder is None:
        founder = Vault.found(keys[0], "laptop", NOW, salt=bytes(16))
    t = max(NOW, wall_ms(founder.clock.last))
    for k, name in zip(keys[1:], ("desktop", "server"), strict=True):
        founder.add_device(device_certificate(k), name, t)
    vaults = [founder] + [Vault(founder.vault, k) for k in keys[1:]]
    for v in vaults[1:]:
        v.receive_batch(founder.log(), t)

    def total() -> int:
        return len({raw for v in vaults for raw in v.log()})

    def sync_all() -> None:
        for a in vaults:
            for b in vaults:
                if a is not b:
                    b.receive_batch(a.ops_missing_from(b.vector()), t)

    for i in range(n_accounts):
        kind = "hotp" if i % 10 == 0 else "totp"
        draft = AccountDraft(
            f"Issuer {i}", f"user{i}@example.com", OtpParams.create(kind, rnd.randbytes(20))
        )
        t += 1
        vaults[i % 3].create_account(draft, t)
    sync_all()
    made = total()
    while made < n_ops:
        for _ in range(min(500, n_ops - made)):
            v = rnd.choice(vaults)
            aid = rnd.choice(list(v.state.accounts))
            view = v.state.view(aid)
            t += 1
            roll = rnd.random()
            if view is not None and view.otp.kind == "hotp" and roll < 0.3:
                v.next_hotp_counter(aid, t)
            elif view is not None and roll < 0.05:
                (v.restore_account if view.deleted else v.delete_account)(aid, t)
            else:
                field = rnd.choice(["name", "note", "issuer"])
                v.update_account(aid, t, **{field: f"{field} {rnd.randrange(10**6)}"})
        sync_all()
        made = total()
    return founder.vault, vaults[0].log()


def fold(vault: bytes, log: list[bytes]) -> Vault:
    """What a device does when it pulls the whole vault: one batch."""
    fresh = Vault(vault, DeviceKey(bytes([1]) * 32))
    report = fresh.receive_batch(log, NOW + 10**9)
    if report.refused or report.held:
        raise SystemExit(f"fold failed: {report.refused[:3]}, {len(report.held)} held")
    return fresh


def timed(fn, *args):
    gc.collect()
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=20_000)
    parser.add_argument("--accounts", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    t0 = time.perf_counter()
    vault, log = build_history(args.ops, args.accounts)
    print(
        f"history: {len(log)} ops, {sum(map(len, log)) / len(log):.0f} B/op average, "
        f"built in {time.perf_counter() - t0:.1f} s"
    )

    batch, every = [], []
    for _ in range(args.rounds):
        secs, result = timed(fold, vault, log)
        batch.append(secs)
        with mock.patch.object(replica, "_authenticated_runs", return_value=set()):
            secs, slow = timed(fold, vault, log)
        every.append(secs)
        assert len(result.accounts()) + len(result.trash()) == args.accounts
        assert result.state.views() == slow.state.views()

    n = len(log)
    best_batch, best_every = min(batch), min(every)
    print(
        f"batch (chain + newest signature): best {best_batch:.3f} s = {n / best_batch:,.0f} ops/s "
        f"(runs: {', '.join(f'{s:.3f}' for s in batch)})"
    )
    print(
        f"signature on every op:            best {best_every:.3f} s = {n / best_every:,.0f} ops/s "
        f"(runs: {', '.join(f'{s:.3f}' for s in every)})"
    )
    print(f"speed-up: {best_every / best_batch:.2f}x")

    gc.collect()
    tracemalloc.start()
    kept = fold(vault, log)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"memory (tracemalloc): peak {peak / 2**20:.1f} MiB during the fold, "
        f"{current / 2**20:.1f} MiB held after, log itself {sum(map(len, log)) / 2**20:.1f} MiB"
    )
    print(f"max RSS of the process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10} MiB")
    print(
        f"python {platform.python_version()}, {platform.machine()}, {platform.processor() or '?'}"
    )
    del kept


if __name__ == "__main__":
    main()
