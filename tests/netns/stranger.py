"""A stranger on the LAN who copies every Twofold mDNS record it hears and announces each copy
at its own address, where a TLS server with a certificate of its own answers.

Run inside a namespace: `python stranger.py ADDRESS REPORT SECONDS`. It writes one line per
copied record to REPORT and exits after SECONDS (a bounded run, whatever the test does).
"""

from __future__ import annotations

import asyncio
import datetime
import ssl
import sys
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from zeroconf import IPVersion, ServiceStateChange
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

SERVICE_TYPE = "_twofold._tcp.local."


def tls_context(folder: Path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stranger")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return ctx


async def main(address: str, report: Path, seconds: float) -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    with tempfile.TemporaryDirectory() as folder:
        server = await asyncio.start_server(answer, address, 0, ssl=tls_context(Path(folder)))
    port = server.sockets[0].getsockname()[1]
    zc = AsyncZeroconf(interfaces=[address], ip_version=IPVersion.V4Only)
    copied: set[str] = set()
    tasks: set[asyncio.Task[None]] = set()

    async def copy(name: str) -> None:
        if name in copied or name.startswith("copy-"):
            return
        info = AsyncServiceInfo(SERVICE_TYPE, name)
        if not await info.async_request(zc.zeroconf, 3000):
            return
        copied.add(name)
        props = {k.decode(): (v or b"").decode() for k, v in info.properties.items()}
        fake = AsyncServiceInfo(
            SERVICE_TYPE,
            f"copy-{len(copied)}.{SERVICE_TYPE}",
            addresses=[bytes(int(x) for x in address.split("."))],
            port=port,
            properties=props,
        )
        await zc.async_register_service(fake)
        with report.open("a") as out:
            out.write(f"{props.get('id')} at {address}:{port}\n")

    def on_change(
        zeroconf: object, service_type: str, name: str, state_change: ServiceStateChange
    ) -> None:
        if state_change is ServiceStateChange.Added:
            task = asyncio.ensure_future(copy(name))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    browser = AsyncServiceBrowser(zc.zeroconf, SERVICE_TYPE, handlers=[on_change])
    await asyncio.sleep(seconds)
    await browser.async_cancel()
    await zc.async_close()
    server.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], Path(sys.argv[2]), float(sys.argv[3])))
