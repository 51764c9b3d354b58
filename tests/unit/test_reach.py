"""Where a restarted daemon dials each member: the last address it reached it at."""

from __future__ import annotations

from twofold.daemon.reach import where_to_dial
from twofold.daemon.storage import Contact

ME, PHONE, TABLET, DESKTOP = b"me", b"phone", b"tablet", b"desktop"


def test_the_last_address_reached_beats_the_one_saved_at_pairing() -> None:
    contacts = {PHONE: Contact(host="10.0.0.7", port=7001, found_by="mdns")}
    assert where_to_dial([ME, PHONE], ME, {PHONE: ("10.0.0.5", 7000)}, contacts) == {
        PHONE: ("10.0.0.7", 7001)
    }


def test_an_incoming_contact_has_no_port_to_dial_so_pairing_is_used() -> None:
    contacts = {PHONE: Contact(host="10.0.0.7", port=None, found_by="incoming")}
    paired = {PHONE: ("10.0.0.5", 7000)}
    assert where_to_dial([ME, PHONE], ME, paired, contacts) == {PHONE: ("10.0.0.5", 7000)}


def test_a_still_configured_static_address_is_left_to_its_own_dialer() -> None:
    contacts = {PHONE: Contact(host="100.64.0.2", port=7000, found_by="static")}
    assert where_to_dial([ME, PHONE], ME, {}, contacts, static=[("100.64.0.2", 7000)]) == {}
    assert where_to_dial([ME, PHONE], ME, {}, contacts) == {PHONE: ("100.64.0.2", 7000)}


def test_only_members_other_than_this_device_are_dialled() -> None:
    contacts = {
        ME: Contact(host="127.0.0.1", port=1, found_by="static"),
        TABLET: Contact(host="10.0.0.9", port=7000, found_by="mdns"),  # revoked since
    }
    paired = {DESKTOP: ("10.0.0.3", 7000), TABLET: ("10.0.0.9", 7000)}
    assert where_to_dial([ME, DESKTOP], ME, paired, contacts) == {DESKTOP: ("10.0.0.3", 7000)}
