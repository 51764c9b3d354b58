"""Benchmark: what hostile import files cost the reader (issue 16), each in a fresh process.

Not a test. Run by hand on an idle machine and record the output in bench/RESULTS.md:

    .venv/bin/python bench/hostile_files_bench.py

Each case goes through `registry.read` (detection included) in a child process of its own,
so the peak resident memory it reports is that case's alone. The limits issue 16 sets: no
input over 2 s outside key derivation, none growing memory by over 500 MiB, and key
derivation bounded per file so a wrong password costs seconds, not minutes. The last case
is the control: a real Aegis vault's cost (scrypt N=2^15, r=8, p=1), tried with a wrong
password, which must still be derived.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import platform
import resource
import time
from collections.abc import Callable
from typing import Any

SIXTEEN_MIB = 16 * 1024 * 1024 - 4096


def _aegis(slots: list[dict[str, Any]]) -> bytes:
    header = {"slots": slots, "params": {"nonce": "00" * 12, "tag": "00" * 16}}
    return json.dumps({"version": 1, "header": header, "db": "AAAA"}).encode()


def _slot(n: int, r: int, p: int) -> dict[str, Any]:
    return {
        "type": 1,
        "uuid": os.urandom(16).hex(),
        "key": os.urandom(32).hex(),
        "key_params": {"nonce": os.urandom(12).hex(), "tag": os.urandom(16).hex()},
        "n": n,
        "r": r,
        "p": p,
        "salt": os.urandom(32).hex(),
    }


def _padded_json(unit: str) -> bytes:
    """An Aegis-shaped document whose db is a list of `unit` repeated to nearly 16 MiB."""
    head, tail = '{"version": 1, "header": {"slots": null, "params": null}, "db": [', "]}"
    count = (SIXTEEN_MIB - len(head) - len(tail)) // (len(unit) + 1)
    return (head + ",".join([unit] * count) + tail).encode()


def _google_links() -> bytes:
    import base64

    def varint(value: int) -> bytes:
        out = bytearray()
        while True:
            byte, value = value & 0x7F, value >> 7
            out.append(byte | (0x80 if value else 0))
            if not value:
                return bytes(out)

    lines = []
    for batch in range(9_999):
        otp = b"\x0a\x0a" + b"0123456789" + b"\x12\x01a"  # secret, name
        body = b"\x0a" + varint(len(otp)) + otp
        body += b"\x10\x01" + b"\x18" + varint(10_000) + b"\x20\x00" + b"\x28" + varint(batch + 1)
        data = base64.b64encode(body).decode().replace("+", "%2B").replace("/", "%2F")
        lines.append(f"otpauth-migration://offline?data={data.replace('=', '%3D')}")
    return "\n".join(lines).encode()


CASES: dict[str, tuple[Callable[[], bytes], str | None]] = {
    "Aegis, 16 MiB of sibling 900-deep arrays": (
        lambda: _padded_json("[" * 900 + "]" * 900),
        None,
    ),
    "Aegis, 16 MiB of sibling 28-deep arrays": (lambda: _padded_json("[" * 28 + "]" * 28), None),
    "16 MiB of [] (small containers)": (lambda: _padded_json("[]"), None),
    '16 MiB of "ab" (the most admitted)': (lambda: _padded_json('"ab"'), None),
    "9,999 Google links, each a batch of 10,000": (_google_links, None),
    "Aegis, 8 slots of scrypt 2^20, 2, 16": (
        lambda: _aegis([_slot(2**20, 2, 16) for _ in range(8)]),
        "wrong",
    ),
    "Aegis, 1 slot of scrypt 2^20, 2, 16": (lambda: _aegis([_slot(2**20, 2, 16)]), "wrong"),
    "control: Aegis, 1 slot at Aegis's cost (2^15, 8, 1)": (
        lambda: _aegis([_slot(2**15, 8, 1)]),
        "wrong",
    ),
}


def _case(name: str, out: Any) -> None:
    from twofold.protocol.errors import TwofoldError
    from twofold.protocol.formats import registry

    build, password = CASES[name]
    data = build()
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    try:
        parsed = registry.read(data, password=password)
        outcome = f"read: {len(parsed.accounts)} accounts, {len(parsed.warnings)} warnings"
    except TwofoldError as exc:
        outcome = f"{type(exc).__name__}: {str(exc)[:90]}"
    seconds = time.perf_counter() - started
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024
    out.send((len(data), seconds, grown, outcome))


def main() -> None:
    print(f"{platform.node()}, {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}")  # fmt: skip
    ctx = multiprocessing.get_context("spawn")
    for name in CASES:
        mine, theirs = ctx.Pipe()
        child = ctx.Process(target=_case, args=(name, theirs))
        child.start()
        size, seconds, grown, outcome = mine.recv()
        child.join()
        print(f"{name}: {size / 2**20:.1f} MiB, {seconds:.3f} s, +{grown:.0f} MiB RSS; {outcome}")


if __name__ == "__main__":
    main()
