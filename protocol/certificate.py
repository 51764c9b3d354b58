"""Device certificates: self-signed X.509 over the device's own Ed25519 key.

Peers pin each other by these exact certificates (Python's ssl trusts a peer
only through a CA list, so each member's certificate is one), which is why a
membership op carries the certificate of the device it names. A certificate
is built deterministically from the key (fixed serial, validity and names;
Ed25519 signatures are deterministic), so a device rebuilds the same bytes at
every start, and CA:FALSE keeps a member from minting certificates the other
members would accept.
"""

from __future__ import annotations

import datetime
import hashlib
import warnings

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import NameOID

from .errors import MalformedPayload
from .identity import DeviceKey, display_id

MAX_CERT_SIZE = 1024
# What cryptography raises for a certificate it cannot read: bytes that are not DER, a key
# of an algorithm it does not know, an extension given twice or one it cannot parse.
UNREADABLE_CERT = (
    ValueError,
    TypeError,
    UnsupportedAlgorithm,
    x509.ExtensionNotFound,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
    x509.InvalidVersion,
    CryptographyDeprecationWarning,
)
_NOT_BEFORE = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
_NOT_AFTER = datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=datetime.UTC)


def device_certificate(device: DeviceKey) -> bytes:
    """The device's certificate (DER): the same bytes every time for the same key."""
    key = Ed25519PrivateKey.from_private_bytes(device.seed)
    name = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, f"twofold {display_id(device.public)}")]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(int.from_bytes(hashlib.sha256(device.public).digest()[:16], "big") >> 1)
        .not_valid_before(_NOT_BEFORE)
        .not_valid_after(_NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, None)
    )
    return cert.public_bytes(serialization.Encoding.DER)


def fingerprint(cert_der: bytes) -> bytes:
    """SHA-256 of the certificate: what an invitation pins and TLS peers compare."""
    return hashlib.sha256(cert_der).digest()


def load_certificate(cert_der: bytes) -> x509.Certificate:
    """Parse a certificate from another device; any of UNREADABLE_CERT if it cannot be read.

    What cryptography only warns of today (a serial number that is not positive, which RFC
    5280 forbids and a later release refuses) is refused now: a device's own certificate
    never has one, and a warning must not be what decides whether a peer's bytes are read."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", CryptographyDeprecationWarning)
        cert = x509.load_der_x509_certificate(cert_der)
        cert.public_key()
        cert.extensions  # noqa: B018 - parsed lazily, so their errors come out here
    return cert


def check_certificate(cert_der: bytes, public_key: bytes) -> None:
    """Refuse a certificate that is not a self-signed CA:FALSE certificate over this key.

    Every refusal is MalformedPayload, whatever cryptography raised: the certificate
    travels in a signed op (or a pairing message), so the op is well formed and its
    payload is what makes no sense."""
    if len(cert_der) > MAX_CERT_SIZE:
        raise MalformedPayload(f"device certificate is over {MAX_CERT_SIZE} bytes")
    try:
        cert = load_certificate(cert_der)
        key = cert.public_key()
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except UNREADABLE_CERT as exc:
        raise MalformedPayload(
            f"device certificate cannot be read: {str(exc)[:200] or type(exc).__name__}"
        ) from None
    if not isinstance(key, Ed25519PublicKey) or key.public_bytes_raw() != public_key:
        raise MalformedPayload("device certificate is not over the device's own key")
    if constraints.ca:
        raise MalformedPayload("device certificate claims to be a CA; it must be CA:FALSE")
    try:
        key.verify(cert.signature, cert.tbs_certificate_bytes)
    except (InvalidSignature, *UNREADABLE_CERT):
        raise MalformedPayload("device certificate is not signed by its own key") from None
