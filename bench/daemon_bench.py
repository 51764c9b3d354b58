"""Benchmark: the daemon's start-up, GET /codes latency, and what it costs at rest.

Not a test. Run by hand on an idle machine and record the output in
bench/RESULTS.md:

    .venv/bin/python bench/daemon_bench.py [--accounts 500] [--requests 500] [--idle 60]

Targets (issue 3): start to API-ready under 1 s, GET /codes with 500 accounts
p50 under 5 ms, idle resident memory under 60 MB, idle CPU over 60 s under
0.5% (no busy polling).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


def start(home: Path) -> tuple[subprocess.Popen[bytes], float, int, str]:
    """Start a daemon; seconds until its API answers, its port and token."""
    (home / "api.json").unlink(missing_ok=True)
    if not (home / "config.toml").exists():  # loopback only: no mDNS on the machine's network
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        (home / "config.toml").write_text(
            'device_name = "bench"\npeer_host = "127.0.0.1"\nmdns = false\n'
        )
        (home / "config.toml").chmod(0o600)
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "twofold.daemon", "run", "--home", str(home)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while True:
        api = home / "api.json"
        if api.exists():
            info = json.loads(api.read_text())
            if info["pid"] == proc.pid:
                token = (home / "api.token").read_text().strip()
                conn = http.client.HTTPConnection("127.0.0.1", info["port"])
                conn.request("GET", "/api/v1/status", headers={"Authorization": f"Bearer {token}"})
                if conn.getresponse().status == 200:
                    return proc, time.perf_counter() - t0, info["port"], token
        if proc.poll() is not None:
            raise SystemExit("daemon exited")
        time.sleep(0.002)


def rss_and_cpu(pid: int) -> tuple[int, float]:
    """Resident set (KiB) and CPU seconds used so far, from /proc."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    return rss, ticks / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=500)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--idle", type=float, default=60.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        proc, first_start, port, token = start(home)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        conn = http.client.HTTPConnection("127.0.0.1", port)
        for i in range(args.accounts):
            body = json.dumps({"issuer": f"Issuer {i}", "name": f"u{i}", "secret": SECRET})
            conn.request("POST", "/api/v1/accounts", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status != 201:
                raise SystemExit(f"adding an account failed: {response.status}")
        proc.terminate()
        proc.wait()

        starts = []
        for _ in range(5):
            proc, seconds, port, token = start(home)
            starts.append(seconds)
            proc.terminate()
            proc.wait()
        proc, seconds, port, token = start(home)
        conn = http.client.HTTPConnection("127.0.0.1", port)
        auth = {"Authorization": f"Bearer {token}"}
        latencies = []
        for _ in range(args.requests):
            t0 = time.perf_counter()
            conn.request("GET", "/api/v1/codes", headers=auth)
            body = conn.getresponse().read()
            latencies.append((time.perf_counter() - t0) * 1000)
        assert len(json.loads(body)["codes"]) == args.accounts
        conn.close()
        time.sleep(2)
        rss0, cpu0 = rss_and_cpu(proc.pid)
        time.sleep(args.idle)
        rss1, cpu1 = rss_and_cpu(proc.pid)
        proc.terminate()
        proc.wait()

    latencies.sort()
    p = lambda q: latencies[int(q * (len(latencies) - 1))]  # noqa: E731
    print(f"first start (new vault): {first_start * 1000:.0f} ms")
    print(
        f"start to API-ready, {args.accounts} accounts: best {min(starts) * 1000:.0f} ms, "
        f"median {statistics.median(starts) * 1000:.0f} ms over {len(starts)} starts"
    )
    print(
        f"GET /codes ({args.accounts} accounts, kept connection, {args.requests} requests): "
        f"p50 {p(0.5):.2f} ms, p90 {p(0.9):.2f} ms, p99 {p(0.99):.2f} ms"
    )
    print(f"idle RSS: {rss1 / 1024:.1f} MiB (after the requests: {rss0 / 1024:.1f} MiB)")
    print(
        f"idle CPU over {args.idle:.0f} s: {(cpu1 - cpu0) / args.idle * 100:.3f}% "
        f"({cpu1 - cpu0:.2f} s of CPU)"
    )
    print(f"python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cpus")


if __name__ == "__main__":
    main()
