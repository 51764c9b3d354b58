"""The handlers of the local API: thin, they parse, call VaultService, and shape JSON."""

from __future__ import annotations

from aiohttp import web

from twofold.protocol.account import SHOWN_FIELDS, OtpKind, check_shown

from . import api_keys, api_views
from .api_body import check_fields, json_body
from .api_devices import standing_json
from .api_keys import STARTED
from .api_lock import lock_json
from .errors import BadRequest
from .vault_service import VaultService

PREFIX = "/api/v1"
VERSION = "0.1.0"
_FROM_URI = {"uri": str, "pin": str, "note": str, "allow_duplicate": bool}
_FROM_FIELDS = {
    "issuer": str, "name": str, "secret": str, "kind": str, "algorithm": str,
    "digits": int, "period": int, "counter": int, "pin": str, "note": str,
    "allow_duplicate": bool,
}  # fmt: skip
_PATCH = {"issuer": str, "name": str, "note": str, "counter": int}
_FIELDS = ("issuer", "name", "note", "otp")


def _service(request: web.Request) -> VaultService:
    return api_keys.service(request)


def _query(request: web.Request) -> str | None:
    q = request.query.get("q")
    if q is not None and len(q) > 256:
        raise BadRequest("q is at most 256 characters", "q")
    return q.casefold() if q else None


def _matches(q: str | None, issuer: str, name: str) -> bool:
    return q is None or q in issuer.casefold() or q in name.casefold()


async def status(request: web.Request) -> web.Response:
    """GET /status: while locked, only what needs no key."""
    keeper = api_keys.keeper(request)
    lock = lock_json(keeper)
    if not keeper.door.is_open:
        device = {"name": await keeper.device_name()}
        started = api_views.iso(request.app[STARTED])
        return web.json_response(
            {"version": VERSION, **lock, "device": device, "started_at": started}
        )
    s = _service(request)
    views = s.views()
    return web.json_response(
        {
            "version": VERSION,
            **lock,
            "device": {"id": s.identity.device_id, "name": s.identity.name},
            "vault": {"id": s.identity.vault_id},
            "accounts": sum(not v.deleted for v in views),
            "trash": sum(v.deleted for v in views),
            "conflicts": sum(bool(v.conflicts) for v in views),
            "members": len(s.members()),
            "standing": standing_json(s.vault),
            "started_at": api_views.iso(request.app[STARTED]),
        }
    )


async def list_accounts(request: web.Request) -> web.Response:
    """GET /accounts."""
    q = _query(request)
    views = [v for v in _service(request).vault.accounts() if _matches(q, v.issuer, v.name)]
    return web.json_response({"accounts": [api_views.account(v) for v in views]})


async def create_account(request: web.Request) -> web.Response:
    """POST /accounts, from a URI or from fields; the same account twice only if asked."""
    body = await json_body(request)
    s = _service(request)
    if "uri" in body:
        check_fields(body, _FROM_URI, {"uri"})
    else:
        check_fields(body, _FROM_FIELDS, {"secret"})
    for name in SHOWN_FIELDS:  # typed now: nothing hidden or reordering (protocol/text.py)
        if name in body:
            check_shown(body[name], name)
    twice = body.pop("allow_duplicate", False)
    if "uri" in body:
        view = await s.create_from_uri(
            body["uri"], body.get("pin"), body.get("note"), allow_duplicate=twice
        )
    else:
        view = await s.create_from_fields(body, allow_duplicate=twice)
    return web.json_response(
        api_views.account(view),
        status=201,
        headers={"Location": f"{PREFIX}/accounts/{view.id.hex()}"},
    )


async def get_account(request: web.Request) -> web.Response:
    """GET /accounts/{id}."""
    return web.json_response(api_views.account(_service(request).account(request.match_info["id"])))


async def update_account(request: web.Request) -> web.Response:
    """PATCH /accounts/{id}."""
    body = await json_body(request)
    check_fields(body, _PATCH, set())
    if not body:
        raise BadRequest("give at least one of issuer, name, note, counter")
    view = await _service(request).update(request.match_info["id"], body)
    return web.json_response(api_views.account(view))


async def delete_account(request: web.Request) -> web.Response:
    """DELETE /accounts/{id}: to the trash."""
    view = await _service(request).delete(request.match_info["id"])
    return web.json_response(api_views.account(view))


async def restore_account(request: web.Request) -> web.Response:
    """POST /accounts/{id}/restore."""
    view = await _service(request).restore(request.match_info["id"])
    return web.json_response(api_views.account(view))


async def get_code(request: web.Request) -> web.Response:
    """GET /accounts/{id}/code."""
    s = _service(request)
    view = s.account(request.match_info["id"])
    return web.json_response(api_views.code(view, s.current_code(view)))


async def next_code(request: web.Request) -> web.Response:
    """POST /accounts/{id}/next-code."""
    view, code, counter = await _service(request).next_code(request.match_info["id"])
    return web.json_response(api_views.code(view, code, counter))


async def list_codes(request: web.Request) -> web.Response:
    """GET /codes."""
    s = _service(request)
    q = _query(request)
    out = []
    for view in s.vault.accounts():
        if not _matches(q, view.issuer, view.name):
            continue
        if view.otp.kind is OtpKind.HOTP:
            out.append(api_views.code(view, None, view.counter))
        else:
            out.append(api_views.code(view, s.current_code(view)))
    return web.json_response({"codes": out})


async def list_trash(request: web.Request) -> web.Response:
    """GET /trash."""
    views = _service(request).vault.trash()
    return web.json_response({"accounts": [api_views.account(v) for v in views]})


async def list_conflicts(request: web.Request) -> web.Response:
    """GET /conflicts."""
    views = _service(request).vault.conflicts()
    return web.json_response({"conflicts": [c for v in views for c in api_views.conflicts(v)]})


async def resolve_conflict(request: web.Request) -> web.Response:
    """POST /accounts/{id}/conflicts/{field}."""
    field = request.match_info["field"]
    if field not in _FIELDS:
        raise BadRequest(f"{field!r} is not a field that can conflict", "field")
    body = await json_body(request)
    check_fields(body, {"choice": str}, {"choice"})
    view = await _service(request).resolve(request.match_info["id"], field, body["choice"])
    return web.json_response(api_views.account(view))


def add_routes(app: web.Application) -> None:
    """Every route of specs/openapi.yaml."""
    p = PREFIX
    app.router.add_get(f"{p}/status", status)
    app.router.add_get(f"{p}/accounts", list_accounts)
    app.router.add_post(f"{p}/accounts", create_account)
    app.router.add_get(f"{p}/accounts/{{id}}", get_account)
    app.router.add_patch(f"{p}/accounts/{{id}}", update_account)
    app.router.add_delete(f"{p}/accounts/{{id}}", delete_account)
    app.router.add_post(f"{p}/accounts/{{id}}/restore", restore_account)
    app.router.add_get(f"{p}/accounts/{{id}}/code", get_code)
    app.router.add_post(f"{p}/accounts/{{id}}/next-code", next_code)
    app.router.add_post(f"{p}/accounts/{{id}}/conflicts/{{field}}", resolve_conflict)
    app.router.add_get(f"{p}/codes", list_codes)
    app.router.add_get(f"{p}/trash", list_trash)
    app.router.add_get(f"{p}/conflicts", list_conflicts)
