"""specs/openapi.yaml as a test oracle: its routes, and a validator for every response."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_PATH = Path(__file__).resolve().parents[1] / "specs" / "openapi.yaml"
METHODS = {"get", "post", "put", "patch", "delete"}
BASE = "/api/v1"
_URN = "urn:twofold:openapi"
PROBLEM = {"$ref": "#/components/schemas/Problem"}


@cache
def spec() -> dict[str, Any]:
    """The parsed spec."""
    return yaml.safe_load(SPEC_PATH.read_text())


def routes() -> set[tuple[str, str]]:
    """(METHOD, /api/v1/path/{param}) for every operation in the spec."""
    return {
        (method.upper(), BASE + path)
        for path, item in spec()["paths"].items()
        for method in item
        if method in METHODS
    }


def check_response(method: str, path: str, status: int, body: Any, content_type: str) -> None:
    """Fail unless the spec allows this status, media type and body for the operation."""
    op = _operation(method, path)
    response = None if op is None else _resolved(op["responses"].get(str(status)))
    if response is None:
        assert status >= 400, f"{method} {path} answered {status}, which the spec lacks"
        if op is None:
            assert status in (401, 403, 404, 405), f"{method} {path} is not in the spec"
        media, schema = "application/problem+json", PROBLEM
    else:
        media, payload = next(iter(response["content"].items()))
        schema = payload["schema"]
    assert content_type.startswith(media), f"{method} {path}: {content_type}, not {media}"
    registry = Registry().with_resource(_URN, Resource(contents=spec(), specification=DRAFT202012))
    Draft202012Validator(_rebase(schema), registry=registry).validate(body)


def _operation(method: str, path: str) -> dict[str, Any] | None:
    path = path.split("?", 1)[0]
    for template, item in spec()["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", BASE + template) + "$"
        if re.match(pattern, path) and method.lower() in item:
            return item[method.lower()]  # type: ignore[no-any-return]
    return None


def _resolved(response: dict[str, Any] | None) -> dict[str, Any] | None:
    """A response as written, or the one its $ref names (#/components/responses/...)."""
    while response is not None and "$ref" in response:
        node: Any = spec()
        for part in response["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        response = node
    return response


def _rebase(node: Any) -> Any:
    """Point the spec's local $refs at the registered document."""
    if isinstance(node, dict):
        return {
            k: _URN + v if k == "$ref" and isinstance(v, str) and v.startswith("#") else _rebase(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_rebase(v) for v in node]
    return node
