"""Benchmark: unlocking a passphrase-mode vault of 1,000 accounts, and what locking frees.

Not a test. Run by hand on an idle machine and record the output in bench/RESULTS.md:

    .venv/bin/python bench/unlock_bench.py [--accounts 1000] [--rounds 5]

A real daemon on a temporary home; the accounts are added through the API, then a
passphrase is set at the cost daemon/passphrase.py's rule picks for this machine. Each
round locks (POST /lock), then times POST /unlock to its 200 (Argon2id, opening the
device key, loading and folding the log, starting the peer port) and the first GET /codes
after it. Argon2id alone is timed in this process at the same cost, so the rest is the
load. Resident memory is read from /proc while unlocked and after each lock.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from daemon_bench import rss_and_cpu, start

from twofold.daemon import passphrase

PASSPHRASE = "correct horse battery staple"
SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


class Api:
    """One kept loopback connection with the token."""

    def __init__(self, port: int, token: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: object = None) -> tuple[int, object]:
        data = None if body is None else json.dumps(body)
        self.conn.request(method, f"/api/v1{path}", body=data, headers=self.headers)
        response = self.conn.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    cost = passphrase.cost_for(passphrase.machine_memory())
    held = passphrase.seal(os.urandom(32), PASSPHRASE, cost)
    kdf = []
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        passphrase.open_sealed(held, PASSPHRASE)
        kdf.append(time.perf_counter() - t0)
    unlocks, firsts, unlocked_rss, locked_rss = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        proc, _, port, token = start(home)
        try:
            api = Api(port, token)
            for i in range(args.accounts):
                body = {"issuer": f"Issuer {i}", "name": f"u{i}", "secret": SECRET}
                if api.call("POST", "/accounts", body)[0] != 201:
                    raise SystemExit("adding an account failed")
            status, _ = api.call("PUT", "/passphrase", {"passphrase": PASSPHRASE})
            assert status == 200, status
            for _ in range(args.rounds):
                assert api.call("GET", "/codes")[0] == 200
                unlocked_rss.append(rss_and_cpu(proc.pid)[0])
                assert api.call("POST", "/lock")[0] == 200
                time.sleep(0.5)
                locked_rss.append(rss_and_cpu(proc.pid)[0])
                t0 = time.perf_counter()
                assert api.call("POST", "/unlock", {"passphrase": PASSPHRASE})[0] == 200
                t1 = time.perf_counter()
                status, codes = api.call("GET", "/codes")
                t2 = time.perf_counter()
                assert status == 200
                assert isinstance(codes, dict)
                assert len(codes["codes"]) == args.accounts
                unlocks.append(t1 - t0)
                firsts.append(t2 - t1)
        finally:
            proc.terminate()
            proc.wait()
    ms = lambda xs: ", ".join(f"{x * 1000:.0f}" for x in xs)  # noqa: E731
    print(f"{platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print(f"cost: {cost.ops} passes over {cost.memory >> 20} MiB")
    print(f"Argon2id alone:  best {min(kdf) * 1000:.0f} ms (runs: {ms(kdf)})")
    print(
        f"POST /unlock, {args.accounts} accounts: best {min(unlocks) * 1000:.0f} ms, "
        f"median {statistics.median(unlocks) * 1000:.0f} ms (runs: {ms(unlocks)})"
    )
    print(f"first GET /codes after: median {statistics.median(firsts) * 1000:.1f} ms")
    print(
        f"resident memory: unlocked median {statistics.median(unlocked_rss) / 1024:.0f} MiB, "
        f"locked median {statistics.median(locked_rss) / 1024:.0f} MiB"
    )


if __name__ == "__main__":
    main()
