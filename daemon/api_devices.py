"""The local API's device routes: who is in the vault, who is reachable, and revocation."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from twofold.protocol.identity import display_id
from twofold.protocol.vault import Vault

from . import api_views
from .api_app import PEERS, SERVICE, check_fields, json_body
from .peers import Peers

PREFIX = "/api/v1"


def _lacks(vault: Vault, theirs: dict[bytes, int] | None) -> int | None:
    if theirs is None:
        return None
    return sum(max(0, len(chain) - theirs.get(author, 0)) for author, chain in vault.chains.items())


def device_json(vault: Vault, peers: Peers, key: bytes) -> dict[str, Any]:
    """A Device object."""
    member = vault.membership.added[key]
    added = vault.by_hash.get(member.added_in)
    sessions = peers.sessions.get(key, set())
    heard = max((s.last_heard for s in sessions), default=None)
    first = vault.membership.first_removal(key)
    return {
        "id": display_id(key),
        "name": member.name,
        "added_by": None if member.added_by is None else display_id(member.added_by),
        "added_at": None if added is None else api_views.timestamp(added.hlc),
        "this_device": key == vault.device.public,
        "revoked": first is not None,
        "removed_by": None if first is None else display_id(first.by),
        "removed_at": None if first is None else api_views.timestamp(first.hlc),
        "forked": key in vault.graph.forks,
        "connected": bool(sessions),
        "last_seen": None if heard is None else api_views.iso(heard),
    }


def standing_json(vault: Vault) -> dict[str, Any]:
    """Where this device stands in its vault: a member, removed (by whom, when), or waiting
    to be added; and whether the vault closed."""
    m = vault.membership
    me = vault.device.public
    removal = vault.removal_of_me()
    state = "member" if me in m.members else "removed" if removal is not None else "waiting"
    by = None
    if removal is not None:
        remover = m.added.get(removal.by)
        by = {"id": display_id(removal.by), "name": remover.name if remover else "?"}
    return {
        "state": state,
        "closed": m.closed,
        "removed_by": by,
        "removed_at": None if removal is None else api_views.timestamp(removal.hlc),
        "forked": sorted(display_id(k) for k in m.forks if k in m.added),
    }


async def start_new_vault(request: web.Request) -> web.Response:
    """POST /vault/new."""
    service = request.app[SERVICE]
    brought = await service.start_new_vault()
    return web.json_response(
        {"vault": {"id": service.identity.vault_id}, "accounts": brought}, status=201
    )


def peer_json(vault: Vault, peers: Peers, key: bytes) -> dict[str, Any]:
    """A Peer object: how this device reaches another member."""
    info = peers.known.get(key)
    sessions = peers.sessions.get(key, set())
    synced = max((s.last_synced or 0 for s in sessions), default=0) or None
    vectors = [s.peer_vector for s in sessions if s.peer_vector is not None]
    return {
        "device": display_id(key),
        "name": vault.membership.added[key].name,
        "address": None if info is None or info.address is None else _address(info.address),
        "found_by": None if info is None else info.found_by,
        "connected": bool(sessions),
        "last_sync": None if synced is None else api_views.iso(synced),
        "lacks": _lacks(vault, dict(vectors[-1])) if vectors else None,
    }


def _address(address: tuple[str, int]) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def list_devices(request: web.Request) -> web.Response:
    """GET /devices."""
    vault = request.app[SERVICE].vault
    keys = sorted(vault.membership.added, key=lambda k: display_id(k))
    return web.json_response({"devices": [device_json(vault, request.app[PEERS], k) for k in keys]})


async def revoke_device(request: web.Request) -> web.Response:
    """POST /devices/{id}/revoke."""
    service = request.app[SERVICE]
    key = await service.remove_device(request.match_info["id"])
    return web.json_response(device_json(service.vault, request.app[PEERS], key))


async def rename_this_device(request: web.Request) -> web.Response:
    """PATCH /devices/self."""
    body = await json_body(request)
    check_fields(body, {"name": str}, {"name"})
    service = request.app[SERVICE]
    await service.rename(body["name"])
    me = service.vault.device.public
    return web.json_response(device_json(service.vault, request.app[PEERS], me))


async def list_peers(request: web.Request) -> web.Response:
    """GET /peers."""
    vault = request.app[SERVICE].vault
    me = vault.device.public
    keys = sorted((k for k in vault.membership.members if k != me), key=display_id)
    return web.json_response({"peers": [peer_json(vault, request.app[PEERS], k) for k in keys]})


def add_routes(app: web.Application) -> None:
    """The device routes of specs/openapi.yaml."""
    app.router.add_get(f"{PREFIX}/devices", list_devices)
    app.router.add_post(f"{PREFIX}/devices/{{id}}/revoke", revoke_device)
    app.router.add_patch(f"{PREFIX}/devices/self", rename_this_device)
    app.router.add_get(f"{PREFIX}/peers", list_peers)
    app.router.add_post(f"{PREFIX}/vault/new", start_new_vault)
