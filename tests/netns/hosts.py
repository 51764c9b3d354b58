"""Test hosts in network namespaces: a bridge, and a namespace per host joined to it by veth.

Only for tests that run as root (CI does). Everything is created with unique
names and removed in a finally, so a crashed run does not block the next one.
The addresses (10.77.0.0/16) exist only inside these namespaces.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

IP = "/usr/sbin/ip" if Path("/usr/sbin/ip").exists() else "ip"


def run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=30)


def can_make_namespaces() -> str | None:
    """None when namespaces can be made here, else why not."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    name = f"tfprobe{secrets.token_hex(3)}"
    try:
        run(IP, "netns", "add", name)
    except (OSError, subprocess.CalledProcessError) as exc:
        return f"cannot create a network namespace here: {exc}"
    run(IP, "netns", "del", name)
    return None


@dataclass
class Host:
    """One namespace with one daemon in it, driven through its own API from inside."""

    ns: str
    address: str
    home: Path
    bridge: str = ""
    port: str = ""
    process: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.home.with_suffix(".log")

    def start(self) -> Host:
        (self.home / "api.json").unlink(missing_ok=True)
        if not (self.home / "config.toml").exists():
            self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
            (self.home / "config.toml").write_text(
                f'device_name = "{self.home.name}"\npeer_host = "{self.address}"\n'
                f'advertise = ["{self.address}"]\nmdns_interfaces = ["{self.address}"]\n'
            )
            (self.home / "config.toml").chmod(0o600)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [IP, "netns", "exec", self.ns, sys.executable, "-m", "twofold.daemon", "run",
                 "--home", str(self.home)],
                stdout=subprocess.DEVNULL,
                stderr=log,
            )  # fmt: skip
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            api = self.home / "api.json"
            if api.exists():
                return self
            if self.process.poll() is not None:
                raise RuntimeError(self.log.read_text())
            time.sleep(0.05)
        raise RuntimeError("daemon did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def api(self, method: str, path: str, body: Any = None) -> Any:
        """Call the daemon's API from inside its namespace (it listens on that 127.0.0.1)."""
        script = (
            "import http.client, json, sys\n"
            "home, method, path, body = sys.argv[1:5]\n"
            "info = json.load(open(home + '/api.json'))\n"
            "token = open(home + '/api.token').read().strip()\n"
            "c = http.client.HTTPConnection('127.0.0.1', info['port'], timeout=20)\n"
            "h = {'Authorization': 'Bearer ' + token, 'Content-Type': 'application/json'}\n"
            "c.request(method, '/api/v1' + path, body=None if body == '-' else body, headers=h)\n"
            "r = c.getresponse()\n"
            "print(json.dumps({'status': r.status, 'body': json.loads(r.read() or b'null')}))\n"
        )
        payload = "-" if body is None else json.dumps(body)
        out = subprocess.run(
            [IP, "netns", "exec", self.ns, sys.executable, "-c", script, str(self.home), method,
             path, payload],
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        return json.loads(out.stdout)

    def isolate(self) -> None:
        """Isolated bridge ports cannot reach each other, only the ports that are not."""
        run(IP, "-n", self.bridge, "link", "set", "dev", self.port, "type", "bridge_slave",
            "isolated", "on")  # fmt: skip

    def link(self, up: bool) -> None:
        """Plug or unplug this host's cable."""
        run(IP, "-n", self.ns, "link", "set", "eth0", "up" if up else "down")


@contextmanager
def network(tmp: Path, count: int) -> Iterator[list[Host]]:
    """`count` hosts on one bridge, torn down whatever happens."""
    tag = secrets.token_hex(3)
    subnet = int(tag, 16) % 250 + 1
    bridge = f"tfbr{tag}"
    names = [f"tfh{i}{tag}" for i in range(count)]
    created: list[str] = []
    try:
        run(IP, "netns", "add", bridge)
        created.append(bridge)
        run(IP, "-n", bridge, "link", "add", "br0", "type", "bridge")
        run(IP, "-n", bridge, "link", "set", "br0", "up")
        hosts = []
        for i, ns in enumerate(names):
            run(IP, "netns", "add", ns)
            created.append(ns)
            inner, outer = f"tfi{i}{tag}", f"tfo{i}{tag}"
            run(IP, "link", "add", inner, "type", "veth", "peer", "name", outer)
            run(IP, "link", "set", inner, "netns", ns)
            run(IP, "link", "set", outer, "netns", bridge)
            run(IP, "-n", ns, "link", "set", inner, "name", "eth0")
            address = f"10.77.{subnet}.{i + 1}"
            run(IP, "-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
            run(IP, "-n", ns, "link", "set", "eth0", "up", "multicast", "on")
            run(IP, "-n", ns, "link", "set", "lo", "up")
            run(IP, "-n", bridge, "link", "set", outer, "master", "br0")
            run(IP, "-n", bridge, "link", "set", outer, "up")
            hosts.append(Host(ns, address, tmp / f"host{i}", bridge, outer))
        yield hosts
        for host in hosts:
            host.stop()
    finally:
        for ns in reversed(created):
            subprocess.run([IP, "netns", "del", ns], capture_output=True, timeout=30)
