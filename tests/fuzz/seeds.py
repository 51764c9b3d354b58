"""Valid inputs the mutators start from: exports of every format, sealed with the cheapest key
derivation each reader accepts, and the plaintext inside each sealed one.

Everything here is deterministic (salts, nonces and keys come from `fixed`), so a fuzz run
is a pure function of its seed. A sealed format is a `Sealer`: it seals any plaintext under
any password, so the harness can mutate what is inside and seal it again as the exporting
app would, reaching the parser behind the decryption.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import segno
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from nacl import bindings

from tests.unit.formats.google_payload import HOTP, Otp, migration_uri, payload
from twofold.protocol import backup, cbor
from twofold.protocol.account import AccountDraft, OtpParams
from twofold.protocol.formats import proton, twofas

PASSWORD = "fuzz password 1"  # 10+ characters: a backup passphrase needs them
RECOVERY_KEY = "Q5ZX-USW7-L4AB-EHE3-FNLL-NNAP-CH4S-3VTF"
HELLO = "JBSWY3DPEHPK3PXP"
OTHER = "GEZDGNBVGY3TQOJQ"
URIS = (
    f"otpauth://totp/Example:alice@example.com?secret={HELLO}&issuer=Example"
    "&algorithm=SHA256&digits=8&period=60",
    f"otpauth://hotp/Bank:bob?secret={OTHER}&counter=7&algorithm=SHA512",
    f"otpauth://totp/?secret={HELLO}",
    f"otpauth://steam/Steam:gamer?secret={HELLO}",
    f"otpauth://yandex/Yandex:y?secret={HELLO}&pin=1234",
    f"otpauth://motp/M:m?secret={OTHER}&pin=1234",
)


def fixed(size: int, label: str) -> bytes:
    """Bytes that look random but are the same every run."""
    out = b""
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{label}/{counter}".encode()).digest()
        counter += 1
    return out[:size]


def _json(doc: Any) -> bytes:
    return json.dumps(doc).encode()


# -- plain exports -------------------------------------------------------------------------


def uri_list() -> list[bytes]:
    return [
        "\n".join(URIS).encode(),
        ("# exported\n" + URIS[0] + "\r\n\n" + URIS[1]).encode(),
        URIS[2].encode(),
    ]


def google_links() -> list[bytes]:
    one = migration_uri(payload(Otp(), Otp(issuer="Two", type=HOTP, counter=5)))
    batch = "\n".join(
        migration_uri(payload(Otp(issuer=f"I{i}"), batch_index=i, batch_size=3, batch_id=77))
        for i in (2, 0, 1)
    )
    return [one.encode(), batch.encode()]


def aegis_plain_db() -> dict[str, Any]:
    def entry(type_: str, name: str, issuer: str, info: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": type_,
            "uuid": "01234567-89ab-cdef-0123-" + fixed(6, name).hex(),
            "name": name,
            "issuer": issuer,
            "note": "a note",
            "favorite": False,
            "icon": None,
            "info": info,
            "groups": [],
        }

    return {
        "version": 3,
        "entries": [
            entry(
                "totp",
                "alice",
                "Example",
                {"secret": HELLO, "algo": "SHA256", "digits": 7, "period": 20},
            ),
            entry(
                "hotp",
                "bob",
                "Bank",
                {"secret": OTHER, "algo": "SHA512", "digits": 8, "counter": 10},
            ),
            entry(
                "steam",
                "gaben",
                "Steam",
                {"secret": HELLO, "algo": "SHA1", "digits": 5, "period": 30},
            ),
            entry(
                "motp",
                "carol",
                "P",
                {
                    "secret": "4MKSV7XGEWM4Q",
                    "algo": "MD5",
                    "digits": 6,
                    "period": 10,
                    "pin": "1234",
                },
            ),
        ],
        "groups": [],
    }


def aegis_plain() -> list[bytes]:
    return [
        _json({"version": 1, "header": {"slots": None, "params": None}, "db": aegis_plain_db()})
    ]


def twofas_services() -> list[dict[str, Any]]:
    def service(name: str, secret: str, **otp: Any) -> dict[str, Any]:
        return {
            "name": name,
            "secret": secret,
            "updatedAt": 1700000000000,
            "otp": {"link": None, "source": "Manual"} | otp,
            "order": {"position": 0},
            "icon": {"selected": "Label", "label": {"text": "EX", "backgroundColor": "Orange"}},
        }

    return [
        service(
            "Example",
            HELLO,
            account="alice",
            issuer="Example Inc",
            digits=8,
            period=60,
            algorithm="SHA256",
            tokenType="TOTP",
        ),
        service(
            "Counter",
            OTHER,
            account="bob",
            digits=6,
            algorithm="SHA512",
            counter=7,
            tokenType="HOTP",
        ),
        service("Steam", HELLO, account="gamer", digits=5, period=30, tokenType="STEAM"),
    ]


def twofas_doc(services: list[Any], **extra: Any) -> dict[str, Any]:
    return {
        "services": services,
        "groups": [],
        "updatedAt": 1700000000000,
        "schemaVersion": 4,
        "appVersionCode": 5000000,
        "appVersionName": "5.0.0",
        "appOrigin": "android",
    } | extra


def twofas_plain() -> list[bytes]:
    return [_json(twofas_doc(twofas_services()))]


def bitwarden_items() -> list[dict[str, Any]]:
    def login(name: str, totp: Any, username: str | None = None) -> dict[str, Any]:
        return {
            "id": "3b5e1c8a-0000-4000-8000-000000000000",
            "type": 1,
            "name": name,
            "notes": None,
            "login": {
                "uris": [{"uri": "https://example.com"}],
                "username": username,
                "password": "hunter2",
                "totp": totp,
            },
        }

    return [
        login("Example", URIS[0], "someone"),
        login("Labelless", f"otpauth://totp/?secret={HELLO}", "lee"),
        login("Plain key", "jbsw y3dp ehpk 3pxp", "carol@example.com"),
        login("Steam", f"steam://{HELLO}", "gamer"),
        {"type": 2, "name": "A note", "notes": "text", "secureNote": {"type": 0}},
    ]


def bitwarden_doc() -> dict[str, Any]:
    return {"encrypted": False, "folders": [], "items": bitwarden_items()}


def bitwarden_plain() -> list[bytes]:
    return [_json(bitwarden_doc())]


def andotp_plain() -> list[bytes]:
    def entry(**fields: Any) -> dict[str, Any]:
        return {
            "secret": "OR3W6ZTPNRSC25DPORYC223FPE======",
            "issuer": "Example",
            "label": "alice@example.com",
            "digits": 6,
            "type": "TOTP",
            "algorithm": "SHA1",
            "thumbnail": "Default",
            "last_used": 1608146844162,
            "used_frequency": 3,
            "period": 30,
            "tags": ["work"],
        } | fields

    return [
        _json(
            [
                entry(algorithm="SHA256", digits=7, period=20),
                entry(secret=OTHER, label="bob", type="HOTP", counter=10300, period=None),
                entry(secret=HELLO, issuer="Steam", type="STEAM", digits=5, period=None),
            ]
        )
    ]


def freeotp_plain() -> list[bytes]:
    def token(**fields: Any) -> dict[str, Any]:
        return {
            "algo": "SHA1",
            "counter": 0,
            "digits": 6,
            "issuerExt": "Example",
            "issuerInt": "Example",
            "label": "alice@example.com",
            "period": 30,
            "secret": [b - 256 if b > 127 else b for b in b"twofold-totp-key"],
            "type": "TOTP",
        } | fields

    return [
        _json(
            {
                "tokenOrder": ["Example:alice@example.com", "Issuu:bob"],
                "tokens": [
                    token(algo="SHA256", digits=7, period=20),
                    token(
                        algo="SHA512",
                        counter=9,
                        label="bob",
                        issuerExt="Issuu",
                        type="HOTP",
                        secret=[-19, 64, -59, -18, -5, -20],
                    ),
                    token(issuerExt="Steam", issuerInt=None, digits=5),
                ],
            }
        )
    ]


def proton_doc() -> dict[str, Any]:
    def entry(uri: str, entry_type: str = "Totp", name: str | None = None) -> dict[str, Any]:
        return {
            "id": "0f8c3e2a-1b2c-4d5e-8f90-123456789abc",
            "content": {"uri": uri, "entry_type": entry_type, "name": name},
            "note": "a note",
        }

    return {
        "version": 1,
        "entries": [
            entry(URIS[0], name="alice"),
            entry(f"otpauth://totp/?secret={OTHER}&issuer=Nameless", name="Nameless"),
            entry(
                "steam://" + base64.b64encode(b"Hello!\xde\xad\xbe\xef").decode(),
                "Steam",
                name="gamer",
            ),
        ],
    }


def proton_plain() -> list[bytes]:
    return [_json(proton_doc())]


def qr_images() -> list[bytes]:
    out = []
    for text in (URIS[0], google_links()[0].decode()):
        buffer = io.BytesIO()
        segno.make(text, micro=False).save(buffer, kind="png", scale=2)
        out.append(buffer.getvalue())
    return out


# -- sealed exports ------------------------------------------------------------------------


@dataclass(frozen=True)
class Sealer:
    """How one app seals a plaintext under a password, and the plaintexts it is seeded with."""

    seal: Callable[[bytes, str], bytes]
    plaintexts: Callable[[], list[bytes]]
    plaintext_is_json: bool = True


@functools.lru_cache(maxsize=64)
def _scrypt(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8", "surrogatepass"), salt=salt, n=2, r=1, p=1, dklen=32
    )


@functools.lru_cache(maxsize=64)
def _pbkdf2(password: str, salt: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac(
        "sha256", password.encode("utf-8", "surrogatepass"), salt, iterations, 32
    )


@functools.lru_cache(maxsize=64)
def _argon2_sodium(password: str, salt: bytes, opslimit: int, memlimit: int) -> bytes:
    return bytes(
        bindings.crypto_pwhash_alg(
            32,
            password.encode("utf-8", "surrogatepass"),
            salt,
            opslimit,
            memlimit,
            bindings.crypto_pwhash_ALG_ARGON2ID13,
        )
    )


@functools.lru_cache(maxsize=64)
def _argon2_bitwarden(password: str, salt: bytes) -> bytes:
    return Argon2id(
        salt=hashlib.sha256(salt).digest(), length=32, iterations=2, lanes=1, memory_cost=16 * 1024
    ).derive(password.encode("utf-8", "surrogatepass"))


def seal_aegis(plaintext: bytes, password: str) -> bytes:
    """An Aegis vault with one password slot of scrypt N=2, r=1, p=1."""
    master, salt, nonce = fixed(32, "aegis master"), fixed(32, "aegis salt"), fixed(12, "an")
    slot_key = AESGCM(_scrypt(password, salt)).encrypt(nonce, master, None)
    sealed = AESGCM(master).encrypt(nonce, plaintext, None)
    slot = {
        "type": 1,
        "uuid": "01234567-89ab-cdef-0123-456789abcdef",
        "key": slot_key[:-16].hex(),
        "key_params": {"nonce": nonce.hex(), "tag": slot_key[-16:].hex()},
        "n": 2,
        "r": 1,
        "p": 1,
        "salt": salt.hex(),
        "repaired": True,
        "is_backup": False,
    }
    return _json(
        {
            "version": 1,
            "header": {
                "slots": [slot],
                "params": {"nonce": nonce.hex(), "tag": sealed[-16:].hex()},
            },
            "db": base64.b64encode(sealed[:-16]).decode(),
        }
    )


def seal_twofas(plaintext: bytes, password: str) -> bytes:
    """2FAS: PBKDF2 at its fixed 10,000 iterations, AES-GCM, with the reference text."""
    salt, iv = fixed(256, "2fas salt"), fixed(12, "2fas iv")
    key = _pbkdf2(password, salt, twofas.ITERATIONS)

    def sealed(data: bytes) -> str:
        parts = (AESGCM(key).encrypt(iv, data, None), salt, iv)
        return ":".join(base64.b64encode(part).decode() for part in parts)

    reference = b"tRViSsLKzd86Hprh4ceC2OP7xazn4rrt4xhfEUbOjxLX8Rc3mkISXE0lWbmnWfggogbBJhtYgpK6"
    return _json(twofas_doc([], servicesEncrypted=sealed(plaintext), reference=sealed(reference)))


def _encstring(plaintext: bytes, enc_key: bytes, mac_key: bytes) -> str:
    iv = fixed(16, "bitwarden iv")
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(enc_key), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    mac = hmac.digest(mac_key, iv + ciphertext, "sha256")
    return "2." + "|".join(base64.b64encode(part).decode() for part in (iv, ciphertext, mac))


def _seal_bitwarden(plaintext: bytes, password: str, *, argon2: bool) -> bytes:
    salt = base64.b64encode(fixed(16, "bitwarden salt")).decode()
    if argon2:
        master = _argon2_bitwarden(password, salt.encode())
    else:
        master = _pbkdf2(password, salt.encode(), 1)
    enc_key, mac_key = (hmac.digest(master, info + b"\x01", "sha256") for info in (b"enc", b"mac"))
    return _json(
        {
            "encrypted": True,
            "passwordProtected": True,
            "salt": salt,
            "kdfType": 1 if argon2 else 0,
            "kdfIterations": 2 if argon2 else 1,
            "kdfMemory": 16 if argon2 else None,
            "kdfParallelism": 1 if argon2 else None,
            "encKeyValidation_DO_NOT_EDIT": _encstring(b"validation", enc_key, mac_key),
            "data": _encstring(plaintext, enc_key, mac_key),
        }
    )


def seal_bitwarden_pbkdf2(plaintext: bytes, password: str) -> bytes:
    """Bitwarden, password protected with PBKDF2 at 1 iteration."""
    return _seal_bitwarden(plaintext, password, argon2=False)


def seal_bitwarden_argon2(plaintext: bytes, password: str) -> bytes:
    """Bitwarden, password protected with Argon2id at its floor: 2 passes, 16 MiB, 1 lane."""
    return _seal_bitwarden(plaintext, password, argon2=True)


def seal_ente(plaintext: bytes, password: str) -> bytes:
    """Ente Auth: Argon2id at libsodium's floor (8 KiB, 1 pass), one secretstream message."""
    salt = fixed(16, "ente salt")
    key = _argon2_sodium(password, salt, 1, 8192)
    # init_push draws its header from libsodium's RNG: the header is fixed by hand instead.
    header = fixed(24, "ente header")
    state = _push_state(key, header)
    data = bindings.crypto_secretstream_xchacha20poly1305_push(
        state, plaintext, None, bindings.crypto_secretstream_xchacha20poly1305_TAG_FINAL
    )
    return _json(
        {
            "version": 1,
            "kdfParams": {"memLimit": 8192, "opsLimit": 1, "salt": base64.b64encode(salt).decode()},
            "encryptedData": base64.b64encode(data).decode(),
            "encryptionNonce": base64.b64encode(header).decode(),
        }
    )


def _push_state(key: bytes, header: bytes) -> Any:
    """A push state for a fixed header: init_pull leaves the state push needs (same layout)."""
    state = bindings.crypto_secretstream_xchacha20poly1305_state()
    bindings.crypto_secretstream_xchacha20poly1305_init_pull(state, header, key)
    return state


def seal_proton(plaintext: bytes, password: str) -> bytes:
    """Proton: Argon2id at the fixed 19 MiB x 2 its reader asks for, then AES-GCM."""
    salt, nonce = fixed(16, "proton salt"), fixed(12, "proton nonce")
    key = _argon2_sodium(password, salt, proton.ARGON2_OPSLIMIT, proton.ARGON2_MEMLIMIT)
    content = nonce + AESGCM(key).encrypt(nonce, plaintext, proton.AAD)
    return _json(
        {
            "version": 1,
            "salt": base64.b64encode(salt).decode(),
            "content": base64.b64encode(content).decode(),
        }
    )


def backup_body() -> bytes:
    otp = OtpParams.create("totp", b"12345678901234567890")
    drafts = [
        backup.BackupEntry(AccountDraft("GitHub", "alice", otp, note="codes in the safe")),
        backup.BackupEntry(AccountDraft("Bank", "bob", otp), trashed=True),
        backup.BackupEntry(
            AccountDraft("Ex", "hotp", OtpParams.create("hotp", b"h" * 20, digits=8), counter=41)
        ),
    ]
    return cbor.dumps(
        {
            "format": backup.FORMAT,
            "created": 1,
            "accounts": [backup._record(entry) for entry in drafts],
        }
    )


def _seal_backup(plaintext: bytes, password: str, *, recovery: bool) -> bytes:
    salt, nonce = fixed(16, "backup salt"), fixed(24, "backup nonce")
    header: dict[str, Any] = {"salt": salt, "nonce": nonce}
    if recovery:
        header["kdf"] = backup.KDF_RECOVERY_KEY
        try:
            key = backup._recovery_key(backup._read_recovery_key(password), salt)
        except Exception:  # noqa: BLE001 - a fuzzed key that is no key: seal under the real one
            key = backup._recovery_key(backup._read_recovery_key(RECOVERY_KEY), salt)
    else:
        header |= {"kdf": backup.KDF_PASSPHRASE, "opslimit": 1, "memlimit": 8192}
        key = _argon2_sodium(password, salt, 1, 8192)
    header_bytes = cbor.dumps(header)
    prefix = backup.MAGIC + backup._PREFIX.pack(backup.VERSION, len(header_bytes)) + header_bytes
    return prefix + bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        plaintext, prefix, nonce, key
    )


def seal_backup_passphrase(plaintext: bytes, password: str) -> bytes:
    """A Twofold backup under a passphrase, Argon2id at 8 KiB x 1."""
    return _seal_backup(plaintext, password, recovery=False)


def seal_backup_recovery(plaintext: bytes, password: str) -> bytes:
    """A Twofold backup under a recovery key (no password hashing)."""
    return _seal_backup(plaintext, password, recovery=True)


SEALERS: dict[str, Sealer] = {
    "aegis": Sealer(seal_aegis, lambda: [_json(aegis_plain_db())]),
    "2fas": Sealer(seal_twofas, lambda: [_json(twofas_services())]),
    "bitwarden-pbkdf2": Sealer(seal_bitwarden_pbkdf2, lambda: [_json(bitwarden_doc())]),
    "bitwarden-argon2": Sealer(seal_bitwarden_argon2, lambda: [_json(bitwarden_doc())]),
    "ente": Sealer(seal_ente, lambda: ["\n".join(URIS).encode()], plaintext_is_json=False),
    "proton": Sealer(seal_proton, lambda: [_json(proton_doc())]),
    "backup-passphrase": Sealer(seal_backup_passphrase, lambda: [backup_body()], False),
    "backup-recovery": Sealer(seal_backup_recovery, lambda: [backup_body()], False),
}
