"""protocol/ stays sans-IO: importing all of it loads no event loop, socket or database."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import twofold.protocol

FORBIDDEN = ["asyncio", "socket", "sqlite3", "aiohttp", "aiosqlite", "zeroconf", "twofold.daemon"]


def test_importing_the_protocol_loads_no_io_modules() -> None:
    modules = [
        f"twofold.protocol.{m.name}" for m in pkgutil.iter_modules(twofold.protocol.__path__)
    ]
    assert len(modules) > 10
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in modules)
        + f"print(','.join(m for m in {FORBIDDEN!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
