"""The daemon's life: one per home, clean stops, and no acknowledged write lost to kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.eventually import eventually
from tests.integration.daemon import Daemon
from tests.integration.test_pairing import add, final, invite, issuers, join

SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
STOP_DEADLINE_S = 15.0  # generous: the daemon's own stop deadline is 8 s, then 2 s to cancel


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
    assert daemon.stop(sig, timeout=STOP_DEADLINE_S) == 0
    assert not (daemon.home / "api.json").exists()
    assert "stopping" in daemon.stderr()
    assert "Traceback" not in daemon.stderr()
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


def _spawn(home: Path, log: Path) -> subprocess.Popen[bytes]:
    """Start a daemon without waiting for it, its stop signals held until it takes them.

    A signal that reaches a process before its interpreter runs any of its code is beyond
    what the daemon can handle; held (blocked across exec, as a supervisor may hold it),
    it reaches the daemon at the first instant it can: main() keeps them blocked, and
    serve() unblocks them once its loop handles them. So every moment of the daemon's own
    start-up is one a signal can land in.
    """
    held = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        with log.open("wb") as err:
            return subprocess.Popen(
                [sys.executable, "-m", "twofold.daemon", "run", "--home", str(home)],
                stdout=subprocess.DEVNULL,
                stderr=err,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def test_a_signal_at_any_moment_of_start_up_stops_the_daemon_cleanly(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = Daemon(home).start()  # makes the vault, so each start below is a restart
    assert first.stop(timeout=STOP_DEADLINE_S) == 0
    began = time.monotonic()
    probe = _spawn(home, tmp_path / "probe.log")
    ready = eventually(lambda: (home / "api.json").exists() and time.monotonic() - began, 30)
    probe.send_signal(signal.SIGTERM)
    assert probe.wait(STOP_DEADLINE_S) == 0
    runs = 30
    for i in range(runs):
        delay = ready * 1.2 * i / (runs - 1)  # from 0 to a little after api.json appears
        sig = STOP_SIGNALS[i % 2]
        log = tmp_path / f"run-{i}.log"
        assert not (home / "api.json").exists()
        process = _spawn(home, log)
        time.sleep(delay)  # the stimulus: when the signal lands, not a wait for anything
        process.send_signal(sig)
        code = process.wait(STOP_DEADLINE_S)
        err = log.read_text(errors="replace")
        where = f"run {i}: {signal.Signals(sig).name} after {delay:.3f} s"
        assert code == 0, f"{where}: exit {code}\n{err}"
        assert "Traceback" not in err, f"{where}\n{err}"
        assert not (home / "api.json").exists(), where
        # the next start on this home would be refused (exit 1) if the lock were kept
    last = Daemon(home).start()
    try:
        assert last.request("GET", "/status").status == 200
    finally:
        assert last.stop(timeout=STOP_DEADLINE_S) == 0


def _connected(d: Daemon) -> set[str]:
    return {p["name"] for p in d.request("GET", "/peers").body["peers"] if p["connected"]}


def test_connected_daemons_stop_cleanly_while_their_peers_drop(tmp_path: Path) -> None:
    """One is killed, one frozen, and the rest are stopped at once: each exits 0, soon."""
    a, b, c = (Daemon(tmp_path / name, config="mdns = false\n").start() for name in "abc")
    devices = [a, b, c]
    try:
        for newcomer in (b, c):
            join(newcomer, invite(a, accept=True)["link"])
            assert final(newcomer)["state"] == "joined"
        d = Daemon(tmp_path / "d", config="mdns = false\n")
        devices.append(d)
        d.start("--peer", f"127.0.0.1:{b.peer_port}", "--peer", f"127.0.0.1:{c.peer_port}")
        join(d, invite(a, accept=True)["link"])
        assert final(d)["state"] == "joined"
        add(d, "from d")
        assert eventually(lambda: all("from d" in issuers(o) for o in (a, b, c)), 20)
        assert eventually(lambda: _connected(a) == {"b", "c", "d"}, 20)
        assert eventually(lambda: _connected(d) >= {"a", "b", "c"}, 20)

        b.kill()  # its sessions drop: a's and d's dialers start redialling it
        assert c.process is not None
        c.process.send_signal(signal.SIGSTOP)  # frozen mid-session: no close, no heartbeat
        try:
            started = time.monotonic()
            for stopping in (a, d):
                assert stopping.process is not None
                stopping.process.send_signal(signal.SIGTERM)
            for stopping in (a, d):
                assert stopping.process is not None
                assert stopping.process.wait(STOP_DEADLINE_S) == 0, stopping.stderr()
            assert time.monotonic() - started < STOP_DEADLINE_S
            c.process.send_signal(signal.SIGTERM)  # held while it is frozen
        finally:
            c.process.send_signal(signal.SIGCONT)
        assert c.process.wait(STOP_DEADLINE_S) == 0, c.stderr()
        for stopped in (a, c, d):
            assert not (stopped.home / "api.json").exists()
            assert "Traceback" not in stopped.stderr(), stopped.stderr()
        for stopped in (a, d):  # and what they stored is there on the next start
            stopped.start()
            assert "from d" in issuers(stopped)
            assert stopped.stop(timeout=STOP_DEADLINE_S) == 0
    finally:
        for dev in devices:
            dev.kill()


@pytest.mark.parametrize("peer", ["foo", "127.0.0.1:99999", "[::1]", ":7171"])
def test_a_malformed_peer_is_wrong_usage_before_any_home_is_made(tmp_path: Path, peer: str) -> None:
    home = tmp_path / "never"
    done = subprocess.run(
        [sys.executable, "-m", "twofold.daemon", "run", "--home", str(home), "--peer", peer],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert f"{peer!r} is not host:port" in done.stderr
    assert "Traceback" not in done.stderr
    assert not home.exists()
