"""Human and JSON output of the twofold command: aligned tables, grouped codes, stable JSON."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

from twofold.protocol.text import neutralise

from ..sdk import Account, Code

SHORT_ID = 8
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def clean(value: object) -> str:
    """Text safe for a terminal: names come from other devices and may hold escape codes,
    or characters that hide or reorder text (a right-to-left override, a zero-width space),
    which written before they were refused, stay in a vault: each shows as its escape
    (\\u202e), while emoji and scripts that need a joiner show as they are."""
    text = "" if value is None else str(value)
    return neutralise(_CONTROL.sub("?", text))


def _width(text: str) -> int:
    """Columns a string takes, counting East Asian wide characters as two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Columns aligned with two spaces between them and no trailing blanks, no dependency."""
    cells = [[clean(h) for h in headers]] + [[clean(c) for c in row] for row in rows]
    widths = [max(_width(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        padded = [cell + " " * (widths[i] - _width(cell)) for i, cell in enumerate(row)]
        lines.append("  ".join(padded).rstrip())
    return "\n".join(lines)


def fields(pairs: Iterable[tuple[str, object]]) -> str:
    """Key and value lines, keys aligned, for one object such as the status."""
    return table(["", ""], pairs).split("\n", 1)[1]


def short_id(account_id: str) -> str:
    """The first hex digits of an ID, enough to name an account on the command line."""
    return account_id[:SHORT_ID]


def label(issuer: str, name: str) -> str:
    """How a person names an account: 'GitHub: alice', or whichever part there is."""
    if issuer and name:
        return clean(f"{issuer}: {name}")
    return clean(issuer or name or "(no name)")


def group_code(code: str) -> str:
    """A code split in two halves (123 456) so it is easier to read and type."""
    if len(code) >= 6 and len(code) % 2 == 0 and code.isdigit():
        half = len(code) // 2
        return f"{code[:half]} {code[half:]}"
    return code


def account_table(accounts: Sequence[Account]) -> str:
    """The accounts as a table: issuer, name, kind, short ID."""
    rows = [(a.issuer, a.name, a.kind, short_id(a.id)) for a in accounts]
    return table(["ISSUER", "NAME", "KIND", "ID"], rows)


def code_table(codes: Sequence[Code]) -> str:
    """Codes as a table; HOTP accounts show how to get their next code."""
    rows = []
    for c in codes:
        if c.code is None:
            rows.append((c.issuer, c.name, "(hotp: use next)", "", short_id(c.account_id)))
        else:
            left = "" if c.seconds_left is None else f"{c.seconds_left}s"
            rows.append((c.issuer, c.name, group_code(c.code), left, short_id(c.account_id)))
    return table(["ISSUER", "NAME", "CODE", "LEFT", "ID"], rows)


def dump_json(obj: Any, out: TextIO) -> None:
    """JSON for scripts: keys in the API's order, two-space indent, newline-terminated."""
    out.write(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")
