"""Mutators: byte-level for any input, structure-aware for JSON documents and CBOR values.

Every function takes the `random.Random` it draws from, so a run is a pure function of its
seed. Sizes stay bounded (a mutant is at most `MAX_BYTES`), so no input costs the harness
itself more than the parser it feeds.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from typing import Any

import cbor2

MAX_BYTES = 256 * 1024
HUGE_DIGITS = 4400  # past Python's 4,300-digit limit on int <-> str conversion
INTERESTING_8 = (0x00, 0x01, 0x7F, 0x80, 0xFF, 0x20, 0x22, 0x5C, 0x7B, 0x5B, 0x3A, 0x0A)
INTERESTING_INTS = (
    0,
    -1,
    1,
    2,
    255,
    256,
    65535,
    65536,
    2**31 - 1,
    2**31,
    2**32,
    2**53 + 1,
    2**63 - 1,
    2**63,
    2**64,
    -(2**63),
    -(2**64) - 1,
    1 << 30,
    4 << 30,
    1 << 20,
    10**30,
)
NASTY_STRINGS = (
    "",
    "\ud800",
    "a\udfffb",
    "\x00",
    "\u202e",
    "\ufeff",
    "otpauth://totp/?secret=JBSWY3DPEHPK3PXP",
    "otpauth://totp/\ud800?secret=JBSWY3DPEHPK3PXP",
    "%",
    "%zz",
    "%ED%A0%80",
    "JBSWY3DPEHPK3PXP",
    "SHA1",
    "TOTP",
    "2.AAAA|BBBB|CCCC",
    "é" * 3,
    "e\u0301",
    "\U0001f600",
    "0" * 5000,
)


# -- bytes ----------------------------------------------------------------------------------


def mutate_bytes(rng: random.Random, data: bytes, others: Sequence[bytes] = ()) -> bytes:
    """One to four havoc steps: flips, interesting bytes, chunk insert/delete/copy, splices."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        _havoc_step(rng, out, others)
    return bytes(out[:MAX_BYTES])


def _havoc_step(rng: random.Random, out: bytearray, others: Sequence[bytes]) -> None:
    step = rng.randrange(10)
    size = len(out)
    if step == 0 and size:
        i = rng.randrange(size)
        out[i] ^= 1 << rng.randrange(8)
    elif step == 1 and size:
        out[rng.randrange(size)] = rng.choice(INTERESTING_8)
    elif step == 2 and size:
        out[rng.randrange(size)] = rng.randrange(256)
    elif step == 3 and size >= 2:
        width = rng.choice((2, 4, 8))
        value = rng.choice(INTERESTING_INTS) % (1 << (8 * width))
        i = rng.randrange(max(1, size - width + 1))
        out[i : i + width] = value.to_bytes(width, rng.choice(("big", "little")))
    elif step == 4:
        i = rng.randrange(size + 1)
        out[i:i] = rng.randbytes(rng.choice((1, 2, 4, 16, 64)))
    elif step == 5 and size:
        i = rng.randrange(size)
        del out[i : i + rng.choice((1, 2, 4, 16, 64, size))]
    elif step == 6 and size:
        i = rng.randrange(size)
        chunk = out[i : i + rng.choice((1, 4, 16, 256))]
        j = rng.randrange(size + 1)
        out[j:j] = chunk * rng.choice((1, 2, 16))
    elif step == 7 and others:
        other = rng.choice(others)
        if other:
            cut, cut2 = rng.randrange(len(out) + 1), rng.randrange(len(other) + 1)
            out[cut:] = other[cut2:]
    elif step == 8 and size:
        del out[rng.randrange(size) :]
    elif step == 9 and size:
        i = rng.randrange(size)
        out[i : i + 1] = rng.choice((b"\xed\xa0\x80", b"\xff", b"\xc0\x80", b"\\ud800", b"%"))


# -- strings -------------------------------------------------------------------------------


def random_text(rng: random.Random) -> str:
    """A string worth trying where text goes: nasty, random code points, or long."""
    pick = rng.randrange(6)
    if pick == 0:
        return rng.choice(NASTY_STRINGS)
    if pick == 1:
        return "".join(chr(rng.randrange(0x110000)) for _ in range(rng.randint(1, 12)))
    if pick == 2:
        return "".join(chr(rng.randrange(0xD800, 0xE000)) for _ in range(rng.randint(1, 3)))
    if pick == 3:
        return rng.choice("aé\ud800 ") * rng.choice((65, 257, 4097, 70_000))
    if pick == 4:
        return "".join(rng.choice("abcXYZ019 :/?&=%+#@.-_") for _ in range(rng.randint(0, 40)))
    return "".join(chr(rng.randrange(0x80)) for _ in range(rng.randint(0, 20)))


def mutate_text(rng: random.Random, text: str, others: Sequence[str] = ()) -> str:
    """Text mutated as text: code points swapped, nasty strings inserted, spliced, or mangled as
    UTF-8 bytes and decoded back with surrogateescape (which yields lone surrogates)."""
    step = rng.randrange(6)
    if step == 0:
        raw = text.encode("utf-8", "surrogatepass")
        return mutate_bytes(rng, raw, [o.encode("utf-8", "surrogatepass") for o in others]).decode(
            "utf-8", "surrogateescape"
        )
    if step == 1 and others:
        other = rng.choice(others)
        return text[: rng.randrange(len(text) + 1)] + other[rng.randrange(len(other) + 1) :]
    i = rng.randrange(len(text) + 1)
    if step == 2:
        return text[:i] + random_text(rng) + text[i:]
    if step == 3 and text:
        return text[:i] + text[i + rng.randint(1, 8) :]
    if step == 4 and text:
        j = rng.randrange(len(text))
        return (
            text[:j]
            + chr(rng.choice((0xD800, 0xDFFF, 0, 0x202E, 0xFFFF, 0x10FFFF)))
            + text[j + 1 :]
        )
    return random_text(rng) if rng.random() < 0.2 else text + random_text(rng)


def random_password(rng: random.Random, password: str | None) -> str | None:
    """The password a caller passes: kept, None, or any string (lone surrogates included)."""
    pick = rng.random()
    if pick < 0.6:
        return password
    if pick < 0.75:
        return None
    if pick < 0.85 and password:
        return mutate_text(rng, password)
    return random_text(rng)


# -- JSON ----------------------------------------------------------------------------------


class _Raw:
    """JSON text spliced in after `json.dumps`: an integer too long for Python to print, or a
    nest too deep for its encoder."""

    def __init__(self, text: str) -> None:
        self.text = text


def _Huge(digits: str) -> _Raw:  # noqa: N802 - reads as the value it stands for
    return _Raw(digits)


def deep_json(depth: int, as_list: bool) -> _Raw:
    """A nest of `depth` lists or objects, as text."""
    return _Raw(("[" * depth + "]" * depth) if as_list else ('{"a":' * depth + "0" + "}" * depth))


def random_json(rng: random.Random, depth: int = 0) -> Any:
    """Any JSON value, of any type, including the ones parsers choke on."""
    pick = rng.randrange(12 if depth < 3 else 8)
    if pick == 0:
        return None
    if pick == 1:
        return rng.random() < 0.5
    if pick == 2:
        return rng.choice(INTERESTING_INTS)
    if pick == 3:
        return rng.choice((0.5, -0.0, 1e308, 1e-320, float("nan"), float("inf")))
    if pick == 4:
        return _Huge(("-" if rng.random() < 0.3 else "") + "9" * rng.choice((20, HUGE_DIGITS)))
    if pick in (5, 6):
        return random_text(rng)
    if pick == 7:
        return deep_json(rng.choice((50, 900, 3000, 100_000)), rng.random() < 0.5)
    if pick in (8, 9):
        return [random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {random_text(rng): random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def deep(depth: int, as_list: bool) -> Any:
    """A value nested `depth` levels deep, built without recursion."""
    value: Any = []
    for _ in range(depth):
        value = [value] if as_list else {"a": value}
    return value


def _nodes(doc: Any) -> list[tuple[Any, Any]]:
    """(container, key) for every value inside `doc`, breadth first, at most 2,000."""
    out: list[tuple[Any, Any]] = []
    queue = [doc]
    while queue and len(out) < 2000:
        node = queue.pop(0)
        if isinstance(node, dict):
            items: list[tuple[Any, Any]] = [(node, k) for k in node]
        elif isinstance(node, list):
            items = [(node, i) for i in range(len(node))]
        else:
            continue
        out.extend(items)
        queue.extend(c[k] for c, k in items)
    return out


def mutate_json_value(rng: random.Random, doc: Any, *, text_keys: bool = True) -> Any:
    """A deep copy of `doc` with one to three structure-aware changes.

    Values are replaced by values of another type, huge ints, deep nests, long or
    lone-surrogate strings; keys are dropped or added; list items are repeated.
    """
    doc = json.loads(json.dumps(doc))
    for _ in range(rng.randint(1, 3)):
        nodes = _nodes(doc)
        if not nodes:
            return random_json(rng)
        container, key = rng.choice(nodes)
        step = rng.randrange(9)
        old = container[key]
        if step in (0, 1):
            container[key] = random_json(rng)
        elif step == 2 and isinstance(old, str):
            container[key] = mutate_text(rng, old)
        elif step == 3 and isinstance(old, int) and not isinstance(old, bool):
            container[key] = rng.choice((*INTERESTING_INTS, _Huge("9" * HUGE_DIGITS), old + 1))
        elif step == 4 and isinstance(container, dict):
            del container[key]
        elif step == 5 and isinstance(container, dict):
            new_key = random_text(rng) if text_keys or rng.random() < 0.5 else str(key)
            container[new_key] = random_json(rng)
        elif step == 6 and isinstance(container, list):
            container.extend([old] * rng.choice((1, 2, 50)))
        elif step == 7 and isinstance(old, str):
            container[key] = old[: rng.randrange(len(old) + 1)] + "\ud800"
        else:
            container[key] = rng.choice(([], {}, "", 0, None, [old], {"x": old}))
    return doc


def dump_json(rng: random.Random, doc: Any) -> bytes:
    """`doc` as JSON bytes, sometimes with lone surrogates raw (invalid UTF-8) or a BOM."""
    huge: list[str] = []

    def default(value: Any) -> Any:
        if isinstance(value, _Raw):
            huge.append(value.text)
            return f"\x00HUGE{len(huge) - 1}\x00"
        raise TypeError(type(value).__name__)

    ascii_only = rng.random() < 0.8
    text = json.dumps(doc, ensure_ascii=ascii_only, default=default)
    for i, digits in enumerate(huge):
        marker = json.dumps(f"\x00HUGE{i}\x00", ensure_ascii=ascii_only)
        text = text.replace(marker, digits)
    data = text.encode("utf-8", "surrogatepass")
    if rng.random() < 0.05:
        data = b"\xef\xbb\xbf" + data
    return data


def mutate_json_bytes(rng: random.Random, data: bytes, others: Sequence[bytes] = ()) -> bytes:
    """Mutate a JSON file: structure-aware on its parsed value, or as bytes."""
    if rng.random() < 0.35:
        return mutate_bytes(rng, data, others)
    try:
        doc = json.loads(data.decode("utf-8-sig"))
        return dump_json(rng, mutate_json_value(rng, doc))[:MAX_BYTES]
    except (UnicodeDecodeError, ValueError, RecursionError):
        return mutate_bytes(rng, data, others)


# -- CBOR ----------------------------------------------------------------------------------


def random_cbor(rng: random.Random, depth: int = 0) -> Any:
    """Any CBOR value: every major type, big ints, tags, floats, undefined."""
    pick = rng.randrange(14 if depth < 3 else 10)
    if pick == 0:
        return None
    if pick == 1:
        return rng.random() < 0.5
    if pick == 2:
        return rng.choice(INTERESTING_INTS)
    if pick == 3:
        return rng.choice((10**4300, -(10**4300), 2**64, -(2**64) - 1))
    if pick == 4:
        return rng.randbytes(rng.choice((0, 1, 4, 8, 16, 24, 32, 64, 80, 300)))
    if pick == 5:
        return random_text(rng)
    if pick == 6:
        return rng.choice((0.5, float("nan"), float("inf"), -0.0))
    if pick == 7:
        return cbor2.undefined
    if pick == 8:
        return cbor2.CBORTag(rng.choice((0, 1, 2, 24, 258, 55799, 99999)), random_cbor(rng, 9))
    if pick == 9:
        return deep(rng.choice((10, 200, 2000)), rng.random() < 0.5)
    if pick in (10, 11):
        return [random_cbor(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {_random_key(rng): random_cbor(rng, depth + 1) for _ in range(rng.randint(0, 3))}


def _random_key(rng: random.Random) -> Any:
    pick = rng.randrange(6)
    if pick == 0:
        return 10**4300
    if pick == 1:
        return rng.randbytes(rng.choice((0, 8, 32)))
    if pick == 2:
        return rng.choice(INTERESTING_INTS)
    if pick == 3:
        return (1, 2)
    return random_text(rng)


_cbor_nodes = _nodes  # a decoded CBOR value is maps and lists too


def _thaw(value: Any) -> Any:
    """Decoded CBOR as plain mutable containers (cbor2 may hand back frozen ones for keys)."""
    if isinstance(value, dict):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_thaw(v) for v in value]
    return value


def mutate_cbor_value(rng: random.Random, value: Any) -> Any:
    """A copy of `value` with one to three changes: another type, big ints, extra keys."""
    value = _thaw(value)
    for _ in range(rng.randint(1, 3)):
        nodes = _cbor_nodes(value)
        if not nodes:
            return random_cbor(rng) if rng.random() < 0.5 else {_random_key(rng): value}
        container, key = rng.choice(nodes)
        old = container[key]
        step = rng.randrange(9)
        if step in (0, 1):
            container[key] = random_cbor(rng)
        elif step == 2 and isinstance(container, dict):
            del container[key]
        elif step == 3 and isinstance(container, dict):
            container[_random_key(rng)] = random_cbor(rng)
        elif step == 4 and isinstance(old, bytes):
            container[key] = mutate_bytes(rng, old)
        elif step == 5 and isinstance(old, str):
            container[key] = mutate_text(rng, old)
        elif step == 6 and isinstance(old, int) and not isinstance(old, bool):
            container[key] = rng.choice((*INTERESTING_INTS, 10**4300, -old - 1))
        elif step == 7 and isinstance(container, list):
            container.extend([old] * rng.choice((1, 2, 70)))
        elif step == 8 and isinstance(container, dict) and isinstance(key, str):
            container[rng.choice((10**4300, key.encode(), 0))] = container.pop(key)
        else:
            container[key] = rng.choice(([], {}, b"", "", 0, None, [old]))
    return value


def dump_cbor(value: Any) -> bytes:
    """CBOR bytes of any value; a value cbor2 cannot write (a lone surrogate) becomes bytes."""
    try:
        return bytes(cbor2.dumps(value))
    except Exception:  # noqa: BLE001 - any value the encoder refuses: write what it can
        return bytes(cbor2.dumps(repr(value).encode("utf-8", "surrogatepass")))


def mutate_cbor_bytes(rng: random.Random, data: bytes, others: Sequence[bytes] = ()) -> bytes:
    """Mutate CBOR bytes: structure-aware on the decoded value, or as bytes."""
    if rng.random() < 0.4:
        return mutate_bytes(rng, data, others)
    try:
        value = cbor2.loads(data)
        return dump_cbor(mutate_cbor_value(rng, value))[:MAX_BYTES]
    except Exception:  # noqa: BLE001 - a mutant that no longer decodes: mutate its bytes
        return mutate_bytes(rng, data, others)


Mutator = Callable[[random.Random, bytes, Sequence[bytes]], bytes]
