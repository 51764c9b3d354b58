"""Benchmark: what the membership rules cost a pull and a start, against another code tree.

Not a test. Run by hand on an idle machine and record the output in bench/RESULTS.md:

    .venv/bin/python bench/start_bench.py --before /path/to/checkout [--ops 20000] [--rounds 5]

`--before` is another checkout of Twofold (say `git worktree add ../before <commit>`). In one
run, alternating the two trees round by round so that a noisy machine weighs on both alike,
it times:

- a pull: a fresh replica receives the whole 20,000-op history as one batch;
- a start: a real daemon over a home holding that history, from spawning the process to
  the first 200 from GET /status (the replay of the stored log is most of it).

The home is made by the `--before` tree's daemon, so its database has the older schema; the
newer tree migrates its copy at a first, untimed start.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import pickle
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fold_bench import build_history

from twofold.daemon import keystore
from twofold.daemon.home import Home
from twofold.daemon.vault_service import _SEED_LABEL
from twofold.protocol.envelope import Op
from twofold.protocol.identity import DeviceKey
from twofold.protocol.vault import Vault

HERE = Path(__file__).resolve().parent
PULL = """
import pickle, sys, time, gc
from twofold.protocol.vault import Vault
from twofold.protocol.identity import DeviceKey
vault, log, seed = pickle.load(open(sys.argv[1], "rb"))
best = None
for _ in range(3):
    gc.collect()
    fresh = Vault(vault, DeviceKey(seed))
    start = time.perf_counter()
    report = fresh.receive_batch(log, 1 << 48)
    took = time.perf_counter() - start
    assert not report.refused and not report.held, report.refused[:3]
    best = took if best is None else min(best, took)
print(best)
"""


def package_path(tree: Path, scratch: Path) -> str:
    """A folder holding `twofold` as the tree's three folders, for PYTHONPATH."""
    pkg = scratch / f"pkg-{tree.name}" / "twofold"
    pkg.mkdir(parents=True, exist_ok=True)
    for part in ("protocol", "daemon", "clients"):
        link = pkg / part
        if not link.exists():
            link.symlink_to(tree / part)
    return str(pkg.parent)


def env_for(path: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1"}


def start_daemon(home: Path, path: str) -> tuple[subprocess.Popen[bytes], float]:
    """Spawn a daemon on `home`; seconds until GET /status answers 200."""
    (home / "api.json").unlink(missing_ok=True)
    began = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "twofold.daemon", "run", "--home", str(home), "--no-mdns"],
        env=env_for(path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"the daemon on {home} exited early")
        api = home / "api.json"
        if api.exists():
            try:
                info = json.loads(api.read_text())
            except ValueError:
                continue
            token = (home / "api.token").read_text().strip()
            conn = http.client.HTTPConnection("127.0.0.1", info["port"], timeout=30)
            conn.request("GET", "/api/v1/status", headers={"Authorization": f"Bearer {token}"})
            if conn.getresponse().status == 200:
                return proc, time.perf_counter() - began
        time.sleep(0.005)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait(30)


def make_home(
    home: Path, before_path: str, n_ops: int, n_accounts: int
) -> tuple[bytes, list[bytes], bytes]:
    """A home made by the older daemon, filled with a history written by its device."""
    home.mkdir(mode=0o700)
    (home / "config.toml").write_text(
        'device_name = "bench"\npeer_host = "127.0.0.1"\nstore_key = "file"\nmdns = false\n'
    )
    (home / "config.toml").chmod(0o600)
    stop(start_daemon(home, before_path)[0])
    with sqlite3.connect(home / "twofold.db") as db:
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        log = [bytes(r[0]) for r in db.execute("SELECT raw FROM ops")]
    store_key = keystore.load(Home(home), "file", "file")
    device = DeviceKey(store_key.open(meta["device_seed"], _SEED_LABEL))
    founder, _ = Vault.restore(meta["vault_id"], device, log)
    vault, history = build_history(n_ops, n_accounts, founder=founder)
    with sqlite3.connect(home / "twofold.db") as db:
        db.executemany(
            "INSERT OR IGNORE INTO ops (author, seq, hlc, hash, raw) VALUES (?, ?, ?, ?, ?)",
            [(o.author, o.seq, o.hlc, o.hash, o.raw) for o in map(Op, history)],
        )
    return vault, history, device.seed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="the other checkout")
    parser.add_argument("--ops", type=int, default=20_000)
    parser.add_argument("--accounts", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    trees = {"before": args.before.resolve(), "after": HERE.parent}
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        paths = {name: package_path(tree, scratch) for name, tree in trees.items()}
        vault, history, seed = make_home(scratch / "home", paths["before"], args.ops, args.accounts)
        print(f"history: {len(history)} ops in the home, {args.rounds} rounds, trees alternating")
        dump = scratch / "log.pickle"
        dump.write_bytes(pickle.dumps((vault, history, seed)))
        homes = {}
        for name in trees:
            homes[name] = scratch / f"home-{name}"
            shutil.copytree(scratch / "home", homes[name])
            stop(start_daemon(homes[name], paths[name])[0])  # the newer tree migrates here
        pulls: dict[str, list[float]] = {name: [] for name in trees}
        starts: dict[str, list[float]] = {name: [] for name in trees}
        for _ in range(args.rounds):
            for name in trees:
                out = subprocess.run(
                    [sys.executable, "-c", PULL, str(dump)],
                    env=env_for(paths[name]),
                    check=True,
                    capture_output=True,
                    text=True,
                )
                pulls[name].append(float(out.stdout))
                proc, took = start_daemon(homes[name], paths[name])
                stop(proc)
                starts[name].append(took)
    for label, runs in (("pull (best of 3 per round)", pulls), ("start to API-ready", starts)):
        print(label)
        for name in trees:
            r = runs[name]
            print(
                f"  {name:6} best {min(r):.3f} s, median {statistics.median(r):.3f} s "
                f"(runs: {', '.join(f'{x:.3f}' for x in r)})"
            )
        ratio = statistics.median(runs["after"]) / statistics.median(runs["before"])
        print(f"  after/before, medians: {ratio:.2f}")
    print(f"python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
