"""The daemon's life: one per home, clean stops, and no acknowledged write lost to kill -9."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.integration.daemon import Daemon

SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


def test_a_second_daemon_on_the_same_home_is_refused(daemon: Daemon) -> None:
    second = subprocess.run(
        [sys.executable, "-m", "twofold.daemon", "run", "--home", str(daemon.home)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert second.returncode == 1
    assert f"already running on {daemon.home}" in second.stderr
    assert f"pid {daemon.process.pid}" in second.stderr  # type: ignore[union-attr]
    assert daemon.request("GET", "/status").status == 200


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_the_daemon_cleanly(daemon: Daemon, sig: int) -> None:
    assert daemon.stop(sig) == 0
    assert not (daemon.home / "api.json").exists()
    assert "stopping" in daemon.stderr()
    daemon.start()  # the lock was released
    assert daemon.request("GET", "/status").status == 200


def test_a_crash_leaves_a_stale_api_file_that_the_next_start_replaces(daemon: Daemon) -> None:
    old_port = daemon.port
    daemon.kill()
    assert (daemon.home / "api.json").exists()
    daemon.start()
    assert daemon.request("GET", "/status").status == 200
    assert daemon.port != old_port or daemon.request("GET", "/status").status == 200


def test_kill_9_in_a_burst_of_adds_keeps_every_acknowledged_one(tmp_path: Path) -> None:
    d = Daemon(tmp_path / "home").start()
    acknowledged: list[str] = []
    stop = threading.Event()

    def burst() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            try:
                r = d.request("POST", "/accounts", {"issuer": f"burst-{n}", "secret": SECRET})
            except OSError:
                return  # the daemon died mid-request: that add was never acknowledged
            if r.status == 201:
                acknowledged.append(r.body["id"])

    writers = [threading.Thread(target=burst) for _ in range(3)]
    for w in writers:
        w.start()
    while len(acknowledged) < 60:
        if not any(w.is_alive() for w in writers):
            break
        threading.Event().wait(0.01)
    d.kill()
    stop.set()
    for w in writers:
        w.join(10)
    assert len(acknowledged) >= 60
    d.start()
    try:
        stored = {a["id"] for a in d.request("GET", "/accounts").body["accounts"]}
        assert set(acknowledged) <= stored
    finally:
        d.kill()
