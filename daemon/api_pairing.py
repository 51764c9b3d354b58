"""The local API's pairing routes: open, watch and decide invitations; join a vault."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from . import api_views, qr
from .api_body import check_fields, json_body
from .api_keys import pairing as _pairing
from .errors import BadRequest
from .pairing_record import PairingRecord
from .pairing_service import join_state

PREFIX = "/api/v1"
MIN_TTL, MAX_TTL, DEFAULT_TTL = 5, 3600, 600


def invitation_json(entry: PairingRecord, with_qr: bool = False) -> dict[str, Any]:
    """An Invitation object: an invitation (or offer) this device shows."""
    link = entry.invitation.to_link()
    hs = entry.handshake
    out: dict[str, Any] = {
        "id": entry.invitation.invitation_id.hex(),
        "link": link,
        "expires_at": api_views.iso(entry.invitation.expires_at),
        "state": entry.state,
        "peer": {"name": hs.peer_name, "device": entry.peer_device, "code": hs.confirmation_code}
        if hs.verified
        else None,
        "error": entry.error,
        "declined_by": entry.declined_by,
    }
    if with_qr:
        out["qr_svg"] = qr.svg(link)
        out["qr_png"] = qr.png_base64(link)
    return out


def progress_json(progress: PairingRecord) -> dict[str, Any]:
    """A Joining object: how joining (or adding a scanned device) is going. A joining device
    sees the vault it is asked into: its ID and its devices' names."""
    hs = progress.handshake
    joining = hs.role == "newcomer"
    return {
        "state": join_state(progress) if progress.flow == "offer" else progress.state,
        "code": hs.confirmation_code if hs.verified else None,
        "peer": {"name": hs.peer_name, "device": progress.peer_device} if hs.verified else None,
        "vault": {"id": hs.vault.hex(), "devices": hs.vault_devices}
        if joining and hs.verified
        else None,
        "error": progress.error,
        "declined_by": progress.declined_by,
        "brought": progress.brought,
    }


def _ttl(body: dict[str, Any]) -> int:
    ttl = body.get("ttl", DEFAULT_TTL)
    if not MIN_TTL <= ttl <= MAX_TTL:
        raise BadRequest(f"ttl must be between {MIN_TTL} and {MAX_TTL} seconds", "ttl")
    return int(ttl)


async def open_offer(request: web.Request) -> web.Response:
    """POST /offers: this device shows a link for a member to scan."""
    body = await json_body(request) if request.can_read_body else {}
    check_fields(body, {"ttl": int, "accept": bool}, set())
    entry = _pairing(request).offer(_ttl(body), body.get("accept", False))
    return web.json_response(invitation_json(entry, with_qr=True), status=201)


async def scan(request: web.Request) -> web.Response:
    """POST /pair: add the device whose offer link this is."""
    body = await json_body(request)
    check_fields(body, {"link": str, "accept": bool}, {"link"})
    scanning = _pairing(request).scan(body["link"], body.get("accept", False))
    return web.json_response(progress_json(scanning), status=202)


async def get_scan(request: web.Request) -> web.Response:
    """GET /pair."""
    scanning = _pairing(request).scanning
    if scanning is None:
        raise web.HTTPNotFound()
    return web.json_response(progress_json(scanning))


async def accept_scan(request: web.Request) -> web.Response:
    """POST /pair/accept."""
    return web.json_response(progress_json(await _pairing(request).decide_scan(True)))


async def decline_scan(request: web.Request) -> web.Response:
    """POST /pair/decline."""
    return web.json_response(progress_json(await _pairing(request).decide_scan(False)))


async def open_invitation(request: web.Request) -> web.Response:
    """POST /invitations."""
    body = await json_body(request) if request.can_read_body else {}
    check_fields(body, {"ttl": int, "accept": bool}, set())
    entry = _pairing(request).open(_ttl(body), body.get("accept", False))
    return web.json_response(invitation_json(entry, with_qr=True), status=201)


async def list_invitations(request: web.Request) -> web.Response:
    """GET /invitations."""
    pairing = _pairing(request)
    entries = list(pairing.invitations.values())
    return web.json_response({"invitations": [invitation_json(e) for e in entries]})


async def get_invitation(request: web.Request) -> web.Response:
    """GET /invitations/{id}."""
    entry = _pairing(request).get(request.match_info["id"])
    return web.json_response(invitation_json(entry, with_qr=True))


async def accept_invitation(request: web.Request) -> web.Response:
    """POST /invitations/{id}/accept."""
    entry = await _pairing(request).decide(request.match_info["id"], True)
    return web.json_response(invitation_json(entry))


async def decline_invitation(request: web.Request) -> web.Response:
    """POST /invitations/{id}/decline."""
    entry = await _pairing(request).decide(request.match_info["id"], False)
    return web.json_response(invitation_json(entry))


async def cancel_invitation(request: web.Request) -> web.Response:
    """DELETE /invitations/{id}."""
    entry = _pairing(request).cancel(request.match_info["id"])
    return web.json_response(invitation_json(entry))


async def join(request: web.Request) -> web.Response:
    """POST /join."""
    body = await json_body(request)
    check_fields(body, {"link": str, "accept": bool}, {"link"})
    joining = _pairing(request).join(body["link"], body.get("accept", False))
    return web.json_response(progress_json(joining), status=202)


async def accept_join(request: web.Request) -> web.Response:
    """POST /join/accept: this device's person compared the code and wants in."""
    return web.json_response(progress_json(await _pairing(request).decide_join(True)))


async def cancel_join(request: web.Request) -> web.Response:
    """DELETE /join: stop joining; a pairing being decided is declined, so nothing is sent."""
    return web.json_response(progress_json(await _pairing(request).cancel_join()))


async def decline_join(request: web.Request) -> web.Response:
    """POST /join/decline: this device's person does not know that vault or code."""
    return web.json_response(progress_json(await _pairing(request).decide_join(False)))


async def get_join(request: web.Request) -> web.Response:
    """GET /join."""
    joining = _pairing(request).joining
    if joining is None:
        raise web.HTTPNotFound()
    return web.json_response(progress_json(joining))


def add_routes(app: web.Application) -> None:
    """The pairing routes of specs/openapi.yaml."""
    p = PREFIX
    app.router.add_post(f"{p}/invitations", open_invitation)
    app.router.add_get(f"{p}/invitations", list_invitations)
    app.router.add_get(f"{p}/invitations/{{id}}", get_invitation)
    app.router.add_delete(f"{p}/invitations/{{id}}", cancel_invitation)
    app.router.add_post(f"{p}/invitations/{{id}}/accept", accept_invitation)
    app.router.add_post(f"{p}/invitations/{{id}}/decline", decline_invitation)
    app.router.add_post(f"{p}/join", join)
    app.router.add_get(f"{p}/join", get_join)
    app.router.add_delete(f"{p}/join", cancel_join)
    app.router.add_post(f"{p}/join/accept", accept_join)
    app.router.add_post(f"{p}/join/decline", decline_join)
    app.router.add_post(f"{p}/offers", open_offer)
    app.router.add_post(f"{p}/pair", scan)
    app.router.add_get(f"{p}/pair", get_scan)
    app.router.add_post(f"{p}/pair/accept", accept_scan)
    app.router.add_post(f"{p}/pair/decline", decline_scan)
