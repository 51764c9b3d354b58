"""The local API's device routes: who is in the vault, who is reachable, and revocation."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from twofold.protocol.identity import display_id
from twofold.protocol.vault import Vault

from . import api_keys, api_views
from .api_body import check_fields, json_body
from .peers import Peers

PREFIX = "/api/v1"


def _lacks(vault: Vault, theirs: dict[bytes, int] | None) -> int | None:
    """Ops this device holds that a peer holding `theirs` does not."""
    if theirs is None:
        return None
    return sum(max(0, len(chain) - theirs.get(author, 0)) for author, chain in vault.chains.items())


def device_json(vault: Vault, peers: Peers, key: bytes) -> dict[str, Any]:
    """A Device object."""
    member = vault.membership.added[key]
    added = vault.by_hash.get(member.added_in)
    sessions = peers.sessions.get(key, set())
    contact = peers.contacts.get(key)
    # Connected: seen now (heartbeats every second say so). Else as remembered, across restarts.
    seen = time.time() if sessions else None if contact is None else contact.last_seen
    first = vault.membership.first_removal(key)
    wrote = max((op.hlc for op in vault.graph.tips(key)), default=None)
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
        "last_seen": None if seen is None else api_views.iso(seen),
        "last_sync": _opt_iso(_last_sync(peers, key)),
        "last_write": None if wrote is None else api_views.timestamp(wrote),
    }


def _opt_iso(when: float | None) -> str | None:
    return None if when is None else api_views.iso(when)


def _last_sync(peers: Peers, key: bytes) -> float | None:
    """The last exchange with it: live sessions' word, else what is remembered."""
    contact = peers.contacts.get(key)
    times = [s.last_synced for s in peers.sessions.get(key, set()) if s.last_synced is not None]
    if contact is not None and contact.last_sync is not None:
        times.append(contact.last_sync)
    return max(times, default=None)


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
    service = api_keys.service(request)
    brought = await service.start_new_vault()
    return web.json_response(
        {"vault": {"id": service.identity.vault_id}, "accounts": brought}, status=201
    )


def peer_json(vault: Vault, peers: Peers, key: bytes) -> dict[str, Any]:
    """A Peer object: how this device reaches another member."""
    info = peers.known.get(key)
    contact = peers.contacts.get(key)
    sessions = peers.sessions.get(key, set())
    now = time.time()
    seen = now if sessions else None if contact is None else contact.last_seen
    # Where it was last reached (or connected from), else where this device will dial it.
    address: str | None = None
    found_by: str | None = None
    if contact is not None and contact.host is not None:
        address, found_by = _address(contact.host, contact.port), contact.found_by
    elif info is not None:
        address = None if info.address is None else _address(*info.address)
        found_by = info.found_by
    # Exact while connected (the peer acknowledges what it gets); else the last word, aged.
    told = [s for s in sessions if s.holds_at is not None]
    lacks: int | None = None
    known_at: float | None = None
    if told:
        held: dict[bytes, int] = {}
        for session in told:
            for author, seq in session.holds.items():
                held[author] = max(held.get(author, 0), seq)
        lacks, known_at = _lacks(vault, held), now
    elif contact is not None and contact.holds is not None:
        lacks, known_at = _lacks(vault, contact.holds), contact.holds_at
    return {
        "device": display_id(key),
        "name": vault.membership.added[key].name,
        "address": address,
        "found_by": found_by,
        "connected": bool(sessions),
        "last_seen": _opt_iso(seen),
        "last_sync": _opt_iso(_last_sync(peers, key)),
        "lacks": lacks,
        "lacks_exact": bool(told),
        "lacks_known_at": _opt_iso(known_at),
    }


def _address(host: str, port: int | None) -> str:
    if port is None:
        return host
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def list_devices(request: web.Request) -> web.Response:
    """GET /devices."""
    vault = api_keys.service(request).vault
    keys = sorted(vault.membership.added, key=lambda k: display_id(k))
    return web.json_response(
        {"devices": [device_json(vault, api_keys.peers(request), k) for k in keys]}
    )


async def revoke_device(request: web.Request) -> web.Response:
    """POST /devices/{id}/revoke."""
    service = api_keys.service(request)
    key = await service.remove_device(request.match_info["id"])
    return web.json_response(device_json(service.vault, api_keys.peers(request), key))


async def rename_this_device(request: web.Request) -> web.Response:
    """PATCH /devices/self."""
    body = await json_body(request)
    check_fields(body, {"name": str}, {"name"})
    service = api_keys.service(request)
    await service.rename(body["name"])
    me = service.vault.device.public
    return web.json_response(device_json(service.vault, api_keys.peers(request), me))


async def list_peers(request: web.Request) -> web.Response:
    """GET /peers."""
    vault = api_keys.service(request).vault
    me = vault.device.public
    keys = sorted((k for k in vault.membership.members if k != me), key=display_id)
    return web.json_response(
        {"peers": [peer_json(vault, api_keys.peers(request), k) for k in keys]}
    )


def add_routes(app: web.Application) -> None:
    """The device routes of specs/openapi.yaml."""
    app.router.add_get(f"{PREFIX}/devices", list_devices)
    app.router.add_post(f"{PREFIX}/devices/{{id}}/revoke", revoke_device)
    app.router.add_patch(f"{PREFIX}/devices/self", rename_this_device)
    app.router.add_get(f"{PREFIX}/peers", list_peers)
    app.router.add_post(f"{PREFIX}/vault/new", start_new_vault)
