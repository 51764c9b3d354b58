"""protocol/ stays sans-IO: it loads no event loop or database, and imports no I/O module itself."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import twofold.protocol

LOADED_NEVER = [
    "asyncio", "sqlite3", "ssl", "aiohttp", "aiosqlite", "zeroconf",
    "twofold.daemon", "twofold.clients",
]  # fmt: skip
# cryptography's x509 module imports email.utils, which imports socket; protocol/ itself
# must not, which the source scan below checks.
IMPORTED_NEVER = {"asyncio", "socket", "sqlite3", "ssl", "subprocess", "selectors", "threading",
                  "aiohttp", "aiosqlite", "zeroconf", "pathlib", "shutil", "tempfile"}  # fmt: skip
PROTOCOL = Path(twofold.protocol.__file__).parent


def test_importing_the_protocol_loads_no_event_loop_or_database() -> None:
    modules = [m.name for m in pkgutil.walk_packages([str(PROTOCOL)], "twofold.protocol.")]
    assert len(modules) > 10
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in modules)
        + f"print(','.join(m for m in {LOADED_NEVER!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_no_protocol_module_imports_an_io_module() -> None:
    for path in sorted(PROTOCOL.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in IMPORTED_NEVER, f"{path.name} imports {name}"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in {"open", "input", "print"}, f"{path.name} does I/O"
