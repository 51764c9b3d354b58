"""The daemon's parts meet only through each other's public methods.

Read by AST: no module of daemon/ reads a private name (`x._name`) that another module
defines, and none changes a list, set or dict that another module's object holds
(`x.attr.append(...)` where `attr` is an attribute some other daemon module defines).
The parts are connected in one place, the composition root (daemon/assembly.py and
daemon/runner.py), through methods made for it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DAEMON = Path(__file__).resolve().parents[2] / "daemon"
MUTATORS = frozenset(
    {"append", "extend", "insert", "add", "remove", "discard", "update", "pop", "clear",
     "setdefault", "popitem"}
)  # fmt: skip
STDLIB_PRIVATE = frozenset({"_exit"})  # os._exit: the one way out past stuck threads


def _modules() -> dict[str, ast.Module]:
    return {p.stem: ast.parse(p.read_text(), str(p)) for p in sorted(DAEMON.glob("*.py"))}


def _defined(tree: ast.Module) -> set[str]:
    """Names a module defines: functions, classes, methods, module and class variables,
    and attributes set on self."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def _is_self(node: ast.expr) -> bool:
    if isinstance(node, ast.Name):
        return node.id in ("self", "cls")
    return (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"
    )


def crossings(modules: dict[str, ast.Module]) -> list[str]:
    """Every place a module reaches into what another module defines."""
    defined = {name: _defined(tree) for name, tree in modules.items()}
    found = []
    for name, tree in modules.items():
        own = defined[name]
        others = set().union(*(d for n, d in defined.items() if n != name)) - own
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and not _is_self(node.value)
                and node.attr not in own
                and node.attr not in STDLIB_PRIVATE
            ):
                found.append(f"{name}.py:{node.lineno} reads {ast.unparse(node)}")
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in MUTATORS
                and isinstance(node.func.value, ast.Attribute)
                and not _is_self(node.func.value.value)
                and node.func.value.attr in others
            ):
                found.append(f"{name}.py:{node.lineno} changes {ast.unparse(node.func.value)}")
    return found


def test_no_daemon_module_reaches_into_another() -> None:
    assert crossings(_modules()) == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def f(service):\n    service._feeds.discard(1)\n", "reads service._feeds"),
        ("def f(peers):\n    peers.extra_routes.append(1)\n", "changes peers.extra_routes"),
    ],
)
def test_the_check_finds_a_crossing(source: str, expected: str) -> None:
    owner = ast.parse(
        "class Service:\n    def __init__(self):\n        self._feeds = set()\n"
        "        self.extra_routes = []\n"
    )
    found = crossings({"owner": owner, "intruder": ast.parse(source)})
    assert any(expected in line for line in found), found
