"""Reading a request's JSON body for the local API: one object, size-capped, strictly typed."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from twofold.protocol.text import is_text

from .errors import BadRequest, TooLarge


async def json_body(request: web.Request, *, limit: int | None = None) -> dict[str, Any]:
    """The request's JSON object, or a 400 that says what is wrong with it.

    `limit` lets one route take a larger body than the app's 64 KiB (an import
    carries a whole file); it is enforced while reading, before the body is held.
    """
    if request.content_type != "application/json":
        raise BadRequest("send the body as JSON with Content-Type: application/json")
    raw = await (request.read() if limit is None else _read_at_most(request, limit))
    try:
        body = json.loads(raw)
    except RecursionError:
        raise BadRequest("the body is not valid JSON: it nests too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        # ValueError also covers a number too long for int() (over 4300 digits).
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    _refuse_lone_surrogates(body)
    return body


def _refuse_lone_surrogates(body: object) -> None:
    """A \\ud800 escape with no partner parses to a lone surrogate: not a character, and
    any later encode() of it raises. Refuse it here, once, for every route."""
    stack = [body]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and not is_text(item):
            raise BadRequest("the body is not valid JSON text: it holds a lone surrogate escape")


async def _read_at_most(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise TooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(256 * 1024):
        size += len(chunk)
        if size > limit:
            raise TooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def check_fields(body: dict[str, Any], types: Mapping[str, type], required: set[str]) -> None:
    """Refuse unknown fields, missing ones, and values of the wrong JSON type."""
    for name in body:
        if name not in types:
            allowed = ", ".join(sorted(types))
            raise BadRequest(f"unknown field {name!r}; this request takes {allowed}", name)
    for name in sorted(required - set(body)):
        raise BadRequest(f"{name} is required", name)
    for name, value in body.items():
        wanted = types[name]
        if (
            value is None
            or isinstance(value, bool) != (wanted is bool)
            or not isinstance(value, wanted)
        ):
            kind = {str: "text", int: "a whole number", bool: "true or false"}[wanted]
            raise BadRequest(f"{name} must be {kind}", name)
