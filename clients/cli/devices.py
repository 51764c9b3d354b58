"""twofold devices, devices revoke and peers: who is in the vault, and how this device reaches
the others."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ..sdk import Device, Peer
from .commands import Context
from .output import clean, dump_json, table
from .prompts import confirm

FOUNDER = "—"
"""ADDED BY of the device that made the vault."""
REVOKE_QUESTION = "Revoke {name} ({id})? It keeps what it already has, but gets nothing new. [y/N] "
REVOKED = (
    "Revoked {name}. The vault key is rotated: change the secrets of important accounts at their "
    "sites, since it held them."
)


def _when(value: datetime) -> str:
    """A date-time for a person: local time to the minute."""
    return f"{value.astimezone():%Y-%m-%d %H:%M}"


def _at(value: datetime) -> str:
    """A moment for a person, shortest first: the time alone when it was today."""
    local = value.astimezone()
    if local.date() == datetime.now().astimezone().date():
        return f"{local:%H:%M}"
    return _when(value)


def _lacks(peer: Peer) -> str:
    """LACKS: exact while connected; an estimate, and as of when, while not."""
    if peer.lacks is None:
        return ""
    if peer.lacks_exact:
        return str(peer.lacks)
    when = "" if peer.lacks_known_at is None else f" (as of {_at(peer.lacks_known_at)})"
    return f"~{peer.lacks}{when}"


def _peer_state(peer: Peer) -> str:
    if peer.connected:
        return "connected"
    if peer.last_seen is not None:
        return f"last seen {_when(peer.last_seen)}"
    return "not seen"


def _state(device: Device, names: dict[str, str]) -> str:
    """What a person wants to know first about a device."""
    if device.revoked:
        by = "" if device.removed_by is None else names.get(device.removed_by, device.removed_by)
        when = "" if device.removed_at is None else f" at {_when(device.removed_at)}"
        removed = f"removed by {by}{when}" if by else "removed"
        return f"this device, {removed}" if device.this_device else removed
    if device.forked:
        return "FORKED: its log was copied or tampered with; revoke it"
    if device.this_device:
        return "this device"
    if device.connected:
        return "connected"
    if device.last_seen is not None:
        return f"last seen {_when(device.last_seen)}"
    if device.last_write is not None:  # it syncs through the others only
        return f"wrote {_when(device.last_write)}, through others"
    return "not seen"


def device_table(devices: Sequence[Device]) -> str:
    """The devices as a table; who added each is named when it is in the list."""
    names = {d.id: d.name for d in devices}
    rows = [
        (
            d.name,
            d.id,
            FOUNDER if d.added_by is None else names.get(d.added_by, d.added_by),
            "" if d.added_at is None else f"{d.added_at.astimezone():%Y-%m-%d}",
            _state(d, names),
        )
        for d in devices
    ]
    return table(["NAME", "ID", "ADDED BY", "ADDED", "STATE"], rows)


def peer_table(peers: Sequence[Peer]) -> str:
    """The other members as a table: where they are and how far behind this device."""
    rows = [
        (
            p.name,
            p.device,
            p.address or "",
            p.found_by or "",
            _peer_state(p),
            "never" if p.last_sync is None else _when(p.last_sync),
            _lacks(p),
        )
        for p in peers
    ]
    return table(["NAME", "DEVICE", "ADDRESS", "FOUND BY", "STATE", "LAST SYNC", "LACKS"], rows)


def cmd_devices(ctx: Context) -> int:
    """List every device ever in the vault, revoked ones included."""
    devices = ctx.client.devices()
    if ctx.json:
        dump_json({"devices": [d.to_json() for d in devices]}, ctx.out)
    elif devices:
        ctx.say(device_table(devices))
    else:
        ctx.say("no devices")
    return 0


def _normal(device_id: str) -> str:
    """A device ID or a start of one, as the daemon compares them: no dashes, upper case."""
    return device_id.strip().replace("-", "").upper()


def _named(devices: Sequence[Device], text: str) -> list[Device]:
    """The devices an ID or a start of one may name: the shown ID starts with it, or (for
    more characters than are shown) it starts with the shown ID."""
    wanted = _normal(text)
    return [
        d for d in devices if _normal(d.id).startswith(wanted) or wanted.startswith(_normal(d.id))
    ]


def cmd_revoke(ctx: Context) -> int:
    """Revoke a lost device: the daemon removes it and rotates the vault key."""
    text: str = ctx.args.id
    if not ctx.args.yes:
        named = _named(ctx.client.devices(), text)
        # With no single live device named, the daemon refuses the request and says why;
        # otherwise the person decides first.
        if len(named) == 1 and not named[0].revoked:
            device = named[0]
            question = REVOKE_QUESTION.format(name=clean(device.name), id=clean(device.id))
            if not confirm(ctx, question, yes_does="revokes it"):
                if ctx.json:
                    dump_json(device.to_json(), ctx.out)
                else:
                    ctx.say("Not revoked.")
                return 1
    device = ctx.client.revoke_device(text)
    if ctx.json:
        dump_json(device.to_json(), ctx.out)
    else:
        ctx.say(REVOKED.format(name=clean(device.name)))
    return 0


def cmd_rename(ctx: Context) -> int:
    """Rename this device."""
    device = ctx.client.rename_this_device(ctx.args.name)
    if ctx.json:
        dump_json(device.to_json(), ctx.out)
    else:
        ctx.say(f"This device is now called {clean(device.name)}.")
    return 0


def cmd_vault(ctx: Context) -> int:
    """The vault group has one action, `new`; argparse requires it."""
    raise AssertionError("unreachable: `twofold vault` needs an action")


def cmd_new_vault(ctx: Context) -> int:
    """Start a new vault on a device that was removed from its own, or whose vault closed."""
    made = ctx.client.start_new_vault()
    if ctx.json:
        dump_json(made.to_json(), ctx.out)
        return 0
    now = ctx.client.status()  # what it holds as `status` counts it: the trash apart
    accounts = f"{now.accounts} account{'s' if now.accounts != 1 else ''}"
    if now.trash:
        accounts += f" (and {now.trash} in the trash)"
    ctx.say(
        f"Started vault {made.vault_id} on this device with {accounts}.\n"
        "Pair your other devices into it: run `twofold pair` here and `twofold join LINK` "
        "on each of them. The old vault's database is kept aside in this device's home."
    )
    return 0


def cmd_peers(ctx: Context) -> int:
    """List the other members and how this device reaches them."""
    peers = ctx.client.peers()
    if ctx.json:
        dump_json({"peers": [p.to_json() for p in peers]}, ctx.out)
    elif peers:
        ctx.say(peer_table(peers))
    else:
        ctx.say("no other devices in this vault; add one with: twofold pair")
    return 0
