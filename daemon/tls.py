"""TLS between devices: each presents its own device certificate and pins the other's.

Python's ssl cannot check a peer certificate with custom code, so trust is
expressed as CA lists: a server trusts every member's exact certificate (each
is self-signed and CA:FALSE, so none can vouch for another), and a client
trusts only the one certificate it expects. The server also asks for, but does
not require, a client certificate: a device that is pairing has none a member
would accept yet, and the pairing routes check it by other means. Whether a
verified client is still a member is checked on every request.

The private key has to reach OpenSSL as a file; it is written encrypted
(PKCS#8, AES-256) under a random password that only the running daemon holds,
and written afresh each time the vault opens: the file is useless to anyone
who copies the home, whatever its mode, and locking the vault deletes it.
"""

from __future__ import annotations

import secrets
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from twofold.protocol.certificate import device_certificate, fingerprint
from twofold.protocol.identity import DeviceKey

from .home import Home, write_private


@dataclass(frozen=True)
class DeviceTls:
    """This device's certificate and the encrypted key file OpenSSL loads."""

    cert_der: bytes
    cert_file: Path
    key_file: Path
    password: bytes

    @property
    def fingerprint(self) -> bytes:
        """SHA-256 of the certificate, as invitations carry it."""
        return fingerprint(self.cert_der)

    @classmethod
    def prepare(cls, home: Home, device: DeviceKey) -> DeviceTls:
        """Write the certificate and the encrypted key into the home (rewritten at each open)."""
        folder = home.path / "tls"
        folder.mkdir(mode=0o700, exist_ok=True)
        cert = device_certificate(device)
        secret = secrets.token_hex(32).encode()
        key_pem = Ed25519PrivateKey.from_private_bytes(device.seed).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(secret),
        )
        cert_pem = ssl.DER_cert_to_PEM_cert(cert).encode()
        write_private(folder / "device.pem", cert_pem)
        write_private(folder / "device.key", key_pem)
        return cls(cert, folder / "device.pem", folder / "device.key", secret)

    def remove_key_file(self) -> None:
        """The vault locked: the key file goes (its password went with the daemon's parts)."""
        self.key_file.unlink(missing_ok=True)

    def server_context(self, trusted: list[bytes]) -> ssl.SSLContext:
        """For the peer server: TLS 1.3, our certificate, members' certificates as the CA list."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.load_cert_chain(self.cert_file, self.key_file, password=self.password)
        ctx.verify_mode = ssl.CERT_OPTIONAL
        for cert in trusted:
            trust(ctx, cert)
        return ctx

    def client_context(self, peer_cert: bytes, *, present_own: bool = True) -> ssl.SSLContext:
        """For connecting to one peer: only its exact certificate is accepted."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cadata=peer_cert)
        if present_own:
            ctx.load_cert_chain(self.cert_file, self.key_file, password=self.password)
        return ctx

    def client_context_for_any(self, peer_certs: list[bytes]) -> ssl.SSLContext:
        """For a static peer: whichever member answers there is accepted, nobody else."""
        ctx = self.client_context(peer_certs[0])
        for cert in peer_certs[1:]:
            trust(ctx, cert)
        return ctx


def trust(ctx: ssl.SSLContext, cert_der: bytes) -> None:
    """Accept this certificate from now on; OpenSSL cannot forget it, so requests re-check."""
    ctx.load_verify_locations(cadata=cert_der)


def peer_certificate(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> bytes | None:
    """The certificate the other side presented (DER), if any."""
    if ssl_object is None:
        return None
    return ssl_object.getpeercert(binary_form=True)
