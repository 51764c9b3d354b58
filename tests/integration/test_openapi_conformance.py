"""Schemathesis against a running daemon: no server errors, no answer the contract forbids.

Schemathesis reads specs/openapi.yaml and sends every operation generated
requests, valid and invalid, checking each answer's status, media type and
schema. Pairing routes take links that name addresses to dial; fuzzed links
cannot name a real one (they must be valid CBOR with eight typed fields), but
to be sure no generated request leaves the machine, when namespaces can be
made the daemon and schemathesis run in a private network namespace whose
only interface is loopback. Without one (not root), the two routes that dial
are left out, and the test says so.

The event stream is left out: it never ends, so a fuzzer would only time out
on it; tests/integration/test_web_auth.py reads it.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.daemon import Daemon
from tests.netns.hosts import IP, can_make_namespaces, run

SPEC = Path(__file__).resolve().parents[2] / "specs" / "openapi.yaml"
SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))
CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_schema_conformance,response_headers_conformance"
)
DIALLING = ("join", "pairFromOffer")


@pytest.fixture
def private_network() -> Iterator[list[str]]:
    """A command prefix that runs inside a namespace with only loopback, or [] if none."""
    if can_make_namespaces() is not None:
        yield []
        return
    name = f"tfst{secrets.token_hex(3)}"
    run(IP, "netns", "add", name)
    try:
        run(IP, "-n", name, "link", "set", "lo", "up")
        yield [IP, "netns", "exec", name]
    finally:
        run(IP, "netns", "del", name)


def test_the_daemon_answers_as_its_contract_says(
    tmp_path: Path, private_network: list[str]
) -> None:
    daemon = Daemon(tmp_path / "home", wrap=private_network).start()
    excluded = ["--exclude-operation-id", "streamEvents"]
    if not private_network:
        for operation in DIALLING:
            excluded += ["--exclude-operation-id", operation]
    try:
        result = subprocess.run(
            [*private_network, SCHEMATHESIS, "run", str(SPEC),
             "--url", f"http://127.0.0.1:{daemon.port}/api/v1",
             "--header", f"Authorization: Bearer {daemon.token}",
             "--checks", CHECKS, *excluded,
             "--max-examples", "30", "--seed", "20261128", "--workers", "1",
             "--phases", "examples,coverage,fuzzing,stateful", "--request-timeout", "30",
             "--generation-database", "none", "--no-color",
             "--report-dir", str(tmp_path / "report")],
            capture_output=True, text=True, timeout=900, cwd=tmp_path,
        )  # fmt: skip
    finally:
        daemon.kill()
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    assert "No issues found" in result.stdout or "passed" in result.stdout.lower()
    if not private_network:
        pytest.skip(f"ran without {', '.join(DIALLING)}: no network namespace here (not root)")
