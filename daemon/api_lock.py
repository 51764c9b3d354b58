"""The local API's routes for passphrase mode: unlock, lock, set, change and remove."""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

from .api_body import check_fields, json_body
from .api_keys import keeper as _keeper
from .errors import BadRequest
from .keeper import Keeper

PREFIX: Final = "/api/v1"
LONGEST_PASSPHRASE: Final = 1024


def _text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and len(value) > LONGEST_PASSPHRASE:
        raise BadRequest(f"{name} is at most {LONGEST_PASSPHRASE} characters", name)
    return value


def lock_json(keeper: Keeper) -> dict[str, object]:
    """Whether the vault is locked, whether it can be, and when it locks by itself."""
    return {
        "locked": not keeper.door.is_open,
        "passphrase": keeper.has_passphrase,
        "lock_after": keeper.lock_after,
    }


async def unlock(request: web.Request) -> web.Response:
    """POST /unlock."""
    body = await json_body(request)
    check_fields(body, {"passphrase": str}, {"passphrase"})
    keeper = _keeper(request)
    await keeper.unlock(_text(body, "passphrase") or "")
    return web.json_response({"locked": False})


async def lock(request: web.Request) -> web.Response:
    """POST /lock."""
    await _keeper(request).lock()
    return web.json_response({"locked": True})


async def set_passphrase(request: web.Request) -> web.Response:
    """PUT /passphrase: set one, or change it with the current one."""
    body = await json_body(request)
    check_fields(body, {"passphrase": str, "current": str}, {"passphrase"})
    keeper = _keeper(request)
    await keeper.set_passphrase(_text(body, "passphrase") or "", _text(body, "current"))
    return web.json_response({"passphrase": True, "lock_after": keeper.lock_after})


async def remove_passphrase(request: web.Request) -> web.Response:
    """POST /passphrase/remove."""
    body = await json_body(request)
    check_fields(body, {"current": str}, {"current"})
    keeper = _keeper(request)
    await keeper.remove_passphrase(_text(body, "current") or "")
    return web.json_response({"passphrase": False, "lock_after": keeper.lock_after})


def add_routes(app: web.Application) -> None:
    """The routes above, under /api/v1."""
    app.router.add_post(f"{PREFIX}/unlock", unlock)
    app.router.add_post(f"{PREFIX}/lock", lock)
    app.router.add_put(f"{PREFIX}/passphrase", set_passphrase)
    app.router.add_post(f"{PREFIX}/passphrase/remove", remove_passphrase)
