"""Benchmark: a flood of the peer port, and what it does to the daemon's memory and local API.

Not a test. Run by hand on an idle machine and record the output in bench/RESULTS.md:

    .venv/bin/python bench/flood_bench.py [--before /path/to/checkout] [--tcp 2000] [--tls 500]

A real daemon on a fresh home (peers on 127.0.0.1, no mDNS), started with the soft
open-file limit a systemd service gets by default (1024; `--nofile`), gets in turn:

1. `--tcp` TCP connections to its peer port that never start TLS, from `--sources`
   loopback addresses (127.0.0.2, 127.0.0.3, ...), held `--hold` seconds after the last is made;
2. `--tls` TLS connections whose HTTP headers never finish (`GET / HTTP/1.1` and one
   header, no blank line), held the same;
3. nothing: every flood socket closed, and RSS read again `--after` seconds later.

Throughout, a prober times GET /api/v1/codes on the local API (a fresh connection each,
as the CLI makes them, 5 s timeout) and RSS is sampled from /proc/<pid>/status. For each
phase: RSS peak, API latency p50/p95/max and failures, how many flood sockets the daemon
had closed by the end of the hold, its open descriptors, and the size of its log.

`--before` is another checkout (say `git worktree add /tmp/before HEAD`), run the same way
first, so one run shows both.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import resource
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from start_bench import package_path

HERE = Path(__file__).resolve().parent
SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


class Daemon:
    """One daemon process on a fresh home, its API port, peer port and token."""

    def __init__(self, home: Path, pythonpath: str, nofile: int) -> None:
        home.mkdir(mode=0o700, parents=True)
        (home / "config.toml").write_text(
            'device_name = "flood"\npeer_host = "127.0.0.1"\nmdns = false\n'
        )
        (home / "config.toml").chmod(0o600)
        self.log = home.with_suffix(".log")
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]

        def limit() -> None:  # what a systemd service gets unless its unit says otherwise
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, hard))

        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "twofold.daemon", "run", "--home", str(home)],
                stdout=subprocess.DEVNULL,
                stderr=log,
                env={**os.environ, "PYTHONPATH": pythonpath, "PYTHONUNBUFFERED": "1"},
                preexec_fn=limit,  # before the prober threads start
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            api = home / "api.json"
            if api.exists():
                info = json.loads(api.read_text())
                if info["pid"] == self.proc.pid:
                    self.port, self.peer_port = info["port"], info["peer_port"]
                    self.token = (home / "api.token").read_text().strip()
                    return
            time.sleep(0.05)
        raise SystemExit("the daemon did not start")

    def call(self, method: str, path: str, body: object = None) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
            data = None if body is None else json.dumps(body).encode()
            conn.request(method, f"/api/v1{path}", body=data, headers=headers)
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def fds(self) -> int:
        try:
            return len(os.listdir(f"/proc/{self.proc.pid}/fd"))
        except OSError:
            return -1

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Watch:
    """Samples RSS and times GET /codes in the background until stopped."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.latencies: list[float] = []
        self.failures = 0
        self.rss_peak = 0.0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._probe), threading.Thread(target=self._rss)]
        for t in self._threads:
            t.start()

    def _probe(self) -> None:
        while not self._stop.is_set():
            t0 = time.perf_counter()
            try:
                status, _ = self.daemon.call("GET", "/codes")
                ok = status == 200
            except OSError:
                ok = False
            if ok:
                self.latencies.append(time.perf_counter() - t0)
            else:
                self.failures += 1
            self._stop.wait(0.05)

    def _rss(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError):
                self.rss_peak = max(self.rss_peak, self.daemon.rss_mib())
            self._stop.wait(0.1)

    def stop(self) -> str:
        self._stop.set()
        for t in self._threads:
            t.join()
        lat = sorted(self.latencies) or [float("nan")]
        p95 = lat[min(len(lat) - 1, int(len(lat) * 0.95))]
        return (
            f"RSS peak {self.rss_peak:.0f} MiB; GET /codes p50 {statistics.median(lat) * 1e3:.1f} "
            f"ms, p95 {p95 * 1e3:.1f} ms, max {lat[-1] * 1e3:.0f} ms, "
            f"{len(self.latencies)} answered, {self.failures} failed"
        )


def source(i: int, sources: int) -> str:
    return f"127.0.0.{2 + i % sources}"


def raw_connections(port: int, n: int, sources: int) -> list[socket.socket]:
    """n TCP connections that never send a byte."""
    socks = []
    for i in range(n):
        s = socket.socket()
        s.settimeout(3)
        try:
            s.bind((source(i, sources), 0))
            s.connect(("127.0.0.1", port))
        except OSError:
            s.close()
            continue
        s.setblocking(False)
        socks.append(s)
    return socks


def slow_tls_connections(port: int, n: int, sources: int) -> list[socket.socket]:
    """n TLS connections that send the start of a request and never finish its headers."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    socks = []
    for i in range(n):
        raw = socket.socket()
        raw.settimeout(5)
        try:
            raw.bind((source(i, sources), 0))
            raw.connect(("127.0.0.1", port))
            s = ctx.wrap_socket(raw)
            s.sendall(b"GET /peer/v1/sync HTTP/1.1\r\nHost: flood\r\n")
        except OSError:
            raw.close()
            continue
        s.setblocking(False)
        socks.append(s)
    return socks


def closed_by_peer(s: socket.socket) -> bool:
    """The daemon has closed this connection (EOF or reset seen)."""
    try:
        return not s.recv(1)  # non-blocking: b"" is the daemon's FIN
    except (BlockingIOError, ssl.SSLWantReadError):
        return False
    except OSError:  # reset, or a TLS connection cut without close_notify
        return True


def phase(
    d: Daemon, name: str, make: Callable[[], list[socket.socket]], asked: int, hold: float
) -> list[socket.socket]:
    watch = Watch(d)
    t0 = time.monotonic()
    socks = make()
    made = time.monotonic() - t0
    time.sleep(hold)
    fds = d.fds()
    closed = sum(closed_by_peer(s) for s in socks)
    print(f"  {name}: {asked} asked, {len(socks)} connected in {made:.1f} s")
    print(f"    {watch.stop()}")
    print(
        f"    {hold:.0f} s after the last one the daemon had closed {closed} of {len(socks)}; "
        f"it held {fds} open files"
    )
    return socks


def run(tree: Path, scratch: Path, args: argparse.Namespace) -> None:
    d = Daemon(scratch / f"home-{tree.name}", package_path(tree, scratch), args.nofile)
    try:
        for i in range(20):
            d.call("POST", "/accounts", {"issuer": f"site {i}", "secret": SECRET})
        for _ in range(50):
            d.call("GET", "/codes")
        time.sleep(1)
        watch = Watch(d)
        time.sleep(3)
        print(f"  at rest: {watch.stop()}; {d.fds()} open files")
        tcp = phase(
            d,
            "unhandshaken TCP",
            lambda: raw_connections(d.peer_port, args.tcp, args.sources),
            args.tcp,
            args.hold,
        )
        tls = phase(
            d,
            "slow-header TLS",
            lambda: slow_tls_connections(d.peer_port, args.tls, args.sources),
            args.tls,
            args.hold,
        )
        for s in tcp + tls:
            s.close()
        watch = Watch(d)
        time.sleep(args.after)
        print(f"  {args.after:.0f} s after closing them all: {watch.stop()}")
        print(f"    RSS now {d.rss_mib():.0f} MiB; {d.fds()} open files")
        lines = d.log.read_text(errors="replace").splitlines()
        print(f"    daemon log: {d.log.stat().st_size} bytes, {len(lines)} lines; the last 4:")
        for line in lines[-4:]:
            print(f"      {line[:160]}")
    finally:
        d.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, help="another checkout to run the same way first")
    parser.add_argument("--tcp", type=int, default=2000)
    parser.add_argument("--tls", type=int, default=500)
    parser.add_argument("--sources", type=int, default=100, help="loopback source addresses")
    parser.add_argument("--hold", type=float, default=15.0, help="seconds each flood is held")
    parser.add_argument("--after", type=float, default=30.0)
    parser.add_argument("--nofile", type=int, default=1024, help="the daemon's soft limit")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = args.tcp + args.tls + 256
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))
    print(
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"{args.tcp} TCP + {args.tls} TLS from {args.sources} addresses, held {args.hold:.0f} s "
        f"each; daemon soft open-file limit at launch {args.nofile}"
    )
    trees = ([("before", args.before.resolve())] if args.before else []) + [("after", HERE.parent)]
    with tempfile.TemporaryDirectory() as tmp:
        for name, tree in trees:
            print(f"{name} ({tree}):")
            run(tree, Path(tmp), args)


if __name__ == "__main__":
    main()
