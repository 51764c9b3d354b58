"""The README's example runs as written, so it cannot rot."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_example_works() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    core = [b for b in blocks if "Vault.found" in b]
    assert len(core) == 1
    scope: dict[str, object] = {}
    exec(compile(core[0], str(README), "exec"), scope)  # noqa: S102 - our own README
    phone = scope["phone"]
    assert [a.issuer for a in phone.accounts()] == ["GitHub"]
