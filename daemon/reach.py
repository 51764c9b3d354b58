"""Where to dial each member after a restart.

A member is dialled at the address this device last reached it at (found by pairing,
mDNS or a static entry) and else at the one saved when they paired. An incoming
connection tells the peer's host but not the port it listens on, so it is no address
to dial. Static entries that are still configured have a dialer of their own.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from .storage import Contact

Address = tuple[str, int]


def where_to_dial(
    members: Collection[bytes],
    me: bytes,
    paired_at: Mapping[bytes, Address],
    contacts: Mapping[bytes, Contact],
    static: Collection[Address] = (),
) -> dict[bytes, Address]:
    """One address per member other than this device, for those with one to try."""
    out: dict[bytes, Address] = {}
    for device in members:
        if device == me:
            continue
        contact = contacts.get(device)
        reached = _reached_at(contact)
        if reached is not None and reached not in static:
            out[device] = reached
        elif device in paired_at:
            out[device] = paired_at[device]
    return out


def _reached_at(contact: Contact | None) -> Address | None:
    if contact is None or contact.host is None or contact.port is None:
        return None
    if contact.found_by == "incoming":
        return None
    return contact.host, contact.port
