"""Benchmark: how fast an edit on one device shows on another, and how fast a device joins.

Not a test. Run by hand and record the output in bench/RESULTS.md:

    .venv/bin/python bench/sync_bench.py [--edits 300] [--accounts 1000] [--ops 20000]

Two real daemons on loopback. Latency: from sending an API write to one
daemon until the other's API shows it (polling it as fast as it answers).
Join: a third daemon joins a vault of N accounts and M ops of history through
an invitation that accepts by itself; timed from POST /join until GET /join
says joined, i.e. the vault is pulled, verified, stored and folded.
Targets (issue 4): p50 under 5 ms, p99 under 25 ms; join under 1 s.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.daemon import Daemon

SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


def wait(check, timeout: float = 60.0, pause: float = 0.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        time.sleep(pause)
    return value


class Kept:
    """One kept HTTP connection to a daemon's API, so polling measures the daemon, not TCP."""

    def __init__(self, d: Daemon) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", d.port)
        self.headers = {"Authorization": f"Bearer {d.token}", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: object = None) -> dict:  # type: ignore[type-arg]
        data = None if body is None else json.dumps(body)
        self.conn.request(method, f"/api/v1{path}", body=data, headers=self.headers)
        return json.loads(self.conn.getresponse().read() or b"null")  # type: ignore[no-any-return]


def pair(inviter: Daemon, joiner: Daemon) -> float:
    link = inviter.request("POST", "/invitations", {"accept": True}).body["link"]
    t0 = time.perf_counter()
    joiner.request("POST", "/join", {"link": link, "accept": True})
    states = ("joined", "failed", "declined")  # polled every 5 ms, so as not to slow it down
    wait(lambda: joiner.request("GET", "/join").body["state"] in states, pause=0.005)
    elapsed = time.perf_counter() - t0
    if joiner.request("GET", "/join").body["state"] != "joined":
        raise SystemExit(f"join failed: {joiner.request('GET', '/join').body}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=300)
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--ops", type=int, default=20000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        a = Daemon(Path(tmp) / "a", check_spec=False).start()
        b = Daemon(Path(tmp) / "b", check_spec=False).start()
        try:
            pair(a, b)
            acc = a.request("POST", "/accounts", {"issuer": "x", "secret": SECRET}).body
            wait(lambda: b.request("GET", f"/accounts/{acc['id']}").status == 200)
            latencies = []
            ka, kb = Kept(a), Kept(b)
            path = f"/accounts/{acc['id']}"
            for i in range(args.edits):
                writer, reader = (ka, kb) if i % 2 == 0 else (kb, ka)
                t0 = time.perf_counter()
                writer.call("PATCH", path, {"note": f"n{i}"})
                wait(lambda r=reader, i=i: r.call("GET", path)["note"] == f"n{i}")
                latencies.append((time.perf_counter() - t0) * 1000)
            latencies.sort()
            q = lambda p: latencies[int(p * (len(latencies) - 1))]  # noqa: E731
            print(f"edit on one device until the other's API shows it ({args.edits} edits, "
                  f"alternating): p50 {q(0.5):.2f} ms, p90 {q(0.9):.2f} ms, "
                  f"p99 {q(0.99):.2f} ms, max {latencies[-1]:.2f} ms")  # fmt: skip

            t0 = time.perf_counter()
            made = 2 + 2  # genesis, add, account, edits so far are few; count real ops below
            ids = []
            for i in range(args.accounts):
                body = {"issuer": f"Issuer {i}", "name": f"u{i}", "secret": SECRET}
                ids.append(a.request("POST", "/accounts", body).body["id"])
            made = args.accounts + args.edits + 4
            i = 0
            while made < args.ops:
                a.request("PATCH", f"/accounts/{ids[i % len(ids)]}", {"note": f"edit {i}"})
                made += 1
                i += 1
            print(f"history built through the API: {made} ops in {time.perf_counter() - t0:.0f} s")
            c = Daemon(Path(tmp) / "c", check_spec=False).start()
            try:
                seconds = pair(a, c)
                n = len(c.request("GET", "/accounts").body["accounts"])
                print(f"join and pull {n} accounts, ~{made} ops: {seconds * 1000:.0f} ms "
                      "from POST /join to joined (the invitation accepts by itself)")  # fmt: skip
            finally:
                c.kill()
        finally:
            a.kill()
            b.kill()
    print(f"python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cpus")


if __name__ == "__main__":
    main()
