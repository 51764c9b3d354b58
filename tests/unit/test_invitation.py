"""Pairing links: they round-trip, stay short for a QR code, and refuse bad text in plain words."""

from __future__ import annotations

import base64
import dataclasses
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from twofold.protocol import cbor
from twofold.protocol.certificate import device_certificate, fingerprint
from twofold.protocol.identity import DeviceKey
from twofold.protocol.invitation import PREFIX, InvalidInvitation, Invitation

CERT = device_certificate(DeviceKey(bytes([1]) * 32))
NOW = 1_790_000_000
FIXED = Invitation(
    shower_role="member",
    fingerprint=fingerprint(CERT),
    addresses=("192.168.1.20",),
    port=51234,
    invitation_id=bytes(range(8)),
    secret=bytes(range(16)),
    expires_at=NOW + 600,
)
FIXED_LINK = (
    "twofold://pair/qGFhgUTAqAEUYWUaarE92GFmWCC_Cf5nDAJiGw0U20YAmjf4mh4PoMU5xL9L2wyRgN0nnGFp"
    "SAABAgMEBQYHYXAZyCJhcmFtYXNQAAECAwQFBgcICQoLDA0OD2F2AQ"
)
GOOD: dict[str, Any] = {
    "v": 1,
    "r": "m",
    "f": bytes(32),
    "a": [bytes([192, 0, 2, 1])],
    "p": 51234,
    "i": bytes(8),
    "s": bytes(16),
    "e": NOW,
}


def link_of(fields: object, extra: bytes = b"") -> str:
    raw = cbor.dumps(fields) + extra
    return PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def with_(**changes: object) -> dict[str, Any]:
    return {k: v for k, v in (GOOD | changes).items() if v is not None}


invitations = st.builds(
    Invitation,
    shower_role=st.sampled_from(["member", "newcomer"]),
    fingerprint=st.binary(min_size=32, max_size=32),
    addresses=st.lists(st.ip_addresses().map(str), min_size=1, max_size=4).map(tuple),
    port=st.integers(1, 65535),
    invitation_id=st.binary(min_size=8, max_size=8),
    secret=st.binary(min_size=16, max_size=16),
    expires_at=st.integers(0, 2**63 - 1),
)


def test_a_fixed_invitation_gives_a_fixed_link() -> None:
    assert FIXED.to_link() == FIXED_LINK
    assert Invitation.from_link(FIXED_LINK) == FIXED


@given(invitations)
def test_every_invitation_round_trips_through_its_link(invitation: Invitation) -> None:
    assert Invitation.from_link(invitation.to_link()) == invitation


@given(invitations)
def test_a_link_is_read_however_a_person_pasted_it(invitation: Invitation) -> None:
    link = invitation.to_link()
    payload = link[len(PREFIX) :]
    padded = payload + "=" * (-len(payload) % 4)
    for text in (
        f"  {link}\n",
        "TWOFOLD://PAIR/" + payload,
        "Twofold://Pair/" + padded,
        link[:40] + "\n" + link[40:],  # wrapped by a terminal
    ):
        assert Invitation.from_link(text) == invitation


def test_a_link_with_one_ipv4_address_fits_an_easy_qr_code() -> None:
    worst = dataclasses.replace(
        FIXED, addresses=("255.255.255.255",), port=65535, expires_at=2**63 - 1
    )
    assert len(worst.to_link()) <= 160
    assert len(FIXED.to_link()) <= 160


def test_new_derives_the_fingerprint_and_expiry_and_draws_the_secret() -> None:
    draws = iter([bytes([7]) * 8, bytes([9]) * 16])
    invitation = Invitation.new(
        "newcomer",
        CERT,
        ["2001:DB8:0::1", "10.0.0.2"],
        4000,
        NOW,
        ttl=60,
        rng=lambda n: next(draws),
    )
    assert invitation.shower_role == "newcomer"
    assert invitation.fingerprint == fingerprint(CERT)
    assert invitation.addresses == ("2001:db8::1", "10.0.0.2")
    assert (invitation.invitation_id, invitation.secret) == (bytes([7]) * 8, bytes([9]) * 16)
    assert invitation.expires_at == NOW + 60
    assert not invitation.expired(NOW + 59)
    assert invitation.expired(NOW + 60)


def test_the_secret_stays_out_of_the_repr() -> None:
    assert repr(FIXED.secret) not in repr(FIXED)
    assert "secret" not in repr(FIXED)


@pytest.mark.parametrize(
    ("addresses", "ttl", "field", "words"),
    [
        ((), 600, "addresses", "1 to 4 addresses"),
        (("1.2.3.4",) * 5, 600, "addresses", "1 to 4 addresses"),
        (("printer.local",), 600, "addresses", "not an IPv4 or IPv6 address"),
        (("fe80::1%eth0",), 600, "addresses", "zone"),
        (("1.2.3.4",), 0, "expires_at", "valid for some time"),
    ],
)
def test_new_refuses_what_no_link_can_carry(
    addresses: tuple[str, ...], ttl: int, field: str, words: str
) -> None:
    with pytest.raises(InvalidInvitation) as caught:
        Invitation.new("member", CERT, addresses, 4000, NOW, ttl=ttl)
    assert caught.value.field == field
    assert words in caught.value.detail


REFUSALS = [
    ("https://example.com/pair/abc", "link", "this is not a Twofold pairing link"),
    ("", "link", "this is not a Twofold pairing link"),
    ("otpauth://totp/x?secret=AAAA", "link", "this is not a Twofold pairing link"),
    (PREFIX, "link", "the link is cut short: copy all of it"),
    (link_of(GOOD)[:-12], "link", "the link is cut short: copy all of it"),
    (PREFIX + "A", "link", "the link is cut short: copy all of it"),
    (link_of(GOOD)[:30] + "!" + link_of(GOOD)[30:], "link", "characters that do not belong"),
    (PREFIX + "a" * 2000, "link", "too long"),
    (link_of(GOOD, extra=b"\x00"), "link", "trailing bytes"),
    (link_of([1, 2, 3]), "link", "damaged"),
    (link_of(with_(v=2)), "version", "unsupported link version 2: update Twofold"),
    (link_of(with_(v=0)), "version", "not valid"),
    (link_of(with_(v="1")), "version", "not valid"),
    (link_of(with_(v=None)), "version", "no version"),
    (link_of(with_(x=1)), "link", "fields Twofold does not know: 'x'"),
    (link_of(with_(s=None)), "link", "lacks s"),
    (link_of(with_(r="admin")), "shower_role", "unknown device role"),
    (link_of(with_(r=1)), "shower_role", "unknown device role"),
    (link_of(with_(f=bytes(31))), "fingerprint", "must be 32 bytes, is 31 bytes"),
    (link_of(with_(f="ab")), "fingerprint", "must be 32 bytes, is not bytes"),
    (link_of(with_(i=bytes(9))), "invitation_id", "must be 8 bytes"),
    (link_of(with_(s=bytes(15))), "secret", "must be 16 bytes"),
    (link_of(with_(a=[])), "addresses", "no address"),
    (link_of(with_(a=[bytes(4)] * 5)), "addresses", "more than 4 addresses"),
    (link_of(with_(a=[bytes(5)])), "addresses", "4 (IPv4) or 16 (IPv6) bytes"),
    (link_of(with_(a=["10.0.0.1"])), "addresses", "4 (IPv4) or 16 (IPv6) bytes"),
    (link_of(with_(a=bytes(4))), "addresses", "must be a list"),
    (link_of(with_(p=0)), "port", "0 is out of range 1 to 65535"),
    (link_of(with_(p=65536)), "port", "65536 is out of range 1 to 65535"),
    (link_of(with_(p=True)), "port", "whole number"),
    (link_of(with_(e=-1)), "expires_at", "out of range"),
    (link_of(with_(e=2**64 - 1)), "expires_at", "out of range"),
    (link_of(with_(e=1.5)), "expires_at", "whole number"),
]


@pytest.mark.parametrize(("text", "field", "words"), REFUSALS)
def test_a_bad_link_is_refused_naming_the_field(text: str, field: str, words: str) -> None:
    with pytest.raises(InvalidInvitation) as caught:
        Invitation.from_link(text)
    assert caught.value.field == field
    assert words in caught.value.detail


def test_the_good_fields_of_the_refusal_table_are_a_valid_link() -> None:
    assert Invitation.from_link(link_of(GOOD)).addresses == ("192.0.2.1",)


values = st.one_of(
    st.integers(-(2**64), 2**64),
    st.binary(max_size=40),
    st.text(max_size=4),
    st.none(),
    st.booleans(),
    st.floats(allow_nan=False),
    st.lists(st.binary(max_size=17), max_size=5),
)
maps = st.dictionaries(st.sampled_from(sorted(GOOD)) | st.text(max_size=2), values, max_size=9)
texts = st.one_of(
    st.text(),
    st.text().map(lambda t: PREFIX + t),
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=").map(
        lambda t: PREFIX + t
    ),
    st.binary(max_size=200).map(lambda b: PREFIX + base64.urlsafe_b64encode(b).decode()),
    maps.map(link_of),
    st.builds(lambda m: link_of(GOOD | m), maps),
)


@given(texts)
def test_any_text_is_an_invitation_or_an_invalid_invitation(text: str) -> None:
    try:
        invitation = Invitation.from_link(text)
    except InvalidInvitation as exc:
        refusal = exc
    else:
        assert Invitation.from_link(invitation.to_link()) == invitation
        return
    assert refusal.field
    assert refusal.detail
