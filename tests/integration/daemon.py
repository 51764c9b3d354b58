"""Real daemons as subprocesses on temporary homes, and a plain HTTP client for their API."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.openapi_spec import check_response


@dataclass
class Response:
    """What the API answered."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Daemon:
    """One `python -m twofold.daemon run` process and its home."""

    home: Path
    process: subprocess.Popen[bytes] | None = None
    port: int = 0
    peer_port: int = 0
    token: str = ""
    log: Path = Path("/dev/null")
    check_spec: bool = True  # every answer must be one specs/openapi.yaml allows
    config: str = ""  # more config.toml lines
    wrap: list[str] = field(default_factory=list)  # runs the daemon under this (ip netns exec)

    def start(self, *extra: str, timeout: float = 15.0) -> Daemon:
        """Start the daemon and wait until its API answers."""
        (self.home / "api.json").unlink(missing_ok=True)
        if not (self.home / "config.toml").exists():  # peers on loopback only, in tests
            self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
            config = self.home / "config.toml"
            config.write_text(
                f'device_name = "{self.home.name}"\npeer_host = "127.0.0.1"\n'
                'advertise = ["127.0.0.1"]\nmdns_interfaces = ["127.0.0.1"]\n' + self.config
            )
            config.chmod(0o600)
        self.log = self.home.with_name(f"{self.home.name}.log")
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    *self.wrap,
                    sys.executable,
                    "-m",
                    "twofold.daemon",
                    "run",
                    "--home",
                    str(self.home),
                    *extra,
                ],
                stdout=subprocess.DEVNULL,
                stderr=log,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daemon exited early: {self.stderr()}")
            api = self.home / "api.json"
            if api.exists():
                info = json.loads(api.read_text())
                if info["pid"] == self.process.pid:
                    self.port = info["port"]
                    self.peer_port = info["peer_port"]
                    self.token = (self.home / "api.token").read_text().strip()
                    return self
            time.sleep(0.02)
        self.kill()
        raise RuntimeError("daemon did not become ready")

    def stderr(self) -> str:
        """What the daemon has logged so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        """Signal the daemon and wait for it to exit; its exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout)

    def kill(self) -> None:
        """kill -9: no cleanup at all."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        host: str | None = None,
        raw: bytes | None = None,
        content_type: str = "application/json",
    ) -> Response:
        """One API call over a fresh loopback connection."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        headers = {"Authorization": f"Bearer {self.token if token is None else token}"}
        if host is not None:
            headers["Host"] = host
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        if data is not None:
            headers["Content-Type"] = content_type
        try:
            conn.request(method, f"/api/v1{path}", body=data, headers=headers)
            r = conn.getresponse()
            payload = r.read()
            text = payload.decode()
            parsed = json.loads(text) if text else None
            headers = dict(r.getheaders())
            if self.check_spec:
                check_response(method, f"/api/v1{path}", r.status, parsed,
                               headers.get("Content-Type", ""))  # fmt: skip
            return Response(r.status, parsed, headers)
        finally:
            conn.close()
