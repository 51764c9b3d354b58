"""One fuzz target per entry point of `twofold.protocol` that takes untrusted input.

A target is bytes in, the entry point called: every input is a byte string, so a crash is a
file that replays on its own. Targets whose entry point takes more than bytes frame it:

- readers take `password line + "\\n" + file`, the password line being JSON
  (`{"password": null}` or a string, lone surrogates written as `\\ud800`); see `frame`;
- text entry points (otpauth URIs, invitation links) take UTF-8 with lone surrogates
  written by "surrogatepass";
- `membership-decode` takes the op kind as its first byte;
- the member-signed targets take the op BODY: the harness signs it (and encrypts an account
  write) as member device 2 would, and device 1 receives the op.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import cbor2
import segno

from tests.fuzz import mutate as m
from tests.fuzz import seeds as s
from tests.unit.fleet import NOW, cert, device, draft, fleet
from twofold.protocol import account_write, backup, cbor, membership_bodies, otpauth
from twofold.protocol.account_write import AccountWrite, FieldWrite
from twofold.protocol.certificate import device_certificate
from twofold.protocol.envelope import ZERO_HASH, Op, OpKind, seal_op
from twofold.protocol.formats import registry
from twofold.protocol.hlc import pack
from twofold.protocol.identity import DeviceKey
from twofold.protocol.invitation import Invitation
from twofold.protocol.keywrap import key_check, seal
from twofold.protocol.membership_bodies import KeysGranted
from twofold.protocol.pairing import Decision, Handshake, Hello, HelloReply
from twofold.protocol.sync import SyncMachine
from twofold.protocol.vault import Vault

Mutator = Callable[[random.Random, bytes, Sequence[bytes]], bytes]


@dataclass(frozen=True)
class Target:
    """An entry point: its seeds, how to mutate an input, and how to feed it one."""

    name: str
    seeds: Callable[[], list[bytes]]
    mutate: Mutator
    run: Callable[[bytes], object]


@contextlib.contextmanager
def fixed_randomness(seed: int = 0) -> Iterator[None]:
    """os.urandom from a seeded generator, so vaults, keys and nonces are the same every run.

    Every random byte the protocol draws comes through os.urandom (keywrap, envelope, vault),
    so this makes building fleets and sealing ops deterministic.
    """
    rng = random.Random(seed)  # noqa: S311 - seeded on purpose: a run replays
    real = os.urandom
    os.urandom = rng.randbytes
    try:
        yield
    finally:
        os.urandom = real


# -- framing -------------------------------------------------------------------------------


def frame(data: bytes, password: str | None) -> bytes:
    """A reader input: the password as a JSON line, then the file."""
    return json.dumps({"password": password}).encode() + b"\n" + data


def unframe(raw: bytes) -> tuple[bytes, str | None]:
    head, _, data = raw.partition(b"\n")
    try:
        password = json.loads(head)["password"]
    except (ValueError, KeyError, TypeError):
        return raw, None
    return data, password if isinstance(password, str) else None


def text_in(raw: bytes) -> str:
    """Text from input bytes: lone surrogates as written, other bad bytes as surrogateescape."""
    try:
        return raw.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return raw.decode("utf-8", "surrogateescape")


def text_out(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


# -- readers -------------------------------------------------------------------------------

_TEXT_FORMATS = {"otpauth", "google-migration"}


def _data_mutator(fmt: str) -> Mutator:
    if fmt in _TEXT_FORMATS:
        return lambda rng, data, others: (
            text_out(m.mutate_text(rng, text_in(data), [text_in(o) for o in others]))
            if rng.random() < 0.5
            else m.mutate_bytes(rng, data, others)
        )
    if fmt == "qr-image":
        return _mutate_qr
    if fmt == "twofold-backup":
        return m.mutate_cbor_bytes
    return m.mutate_json_bytes


def _mutate_qr(rng: random.Random, data: bytes, others: Sequence[bytes]) -> bytes:
    """A picture's bytes, or a fresh QR code of a mutated otpauth text (reaches the parser)."""
    if rng.random() < 0.5:
        return m.mutate_bytes(rng, data, others)
    text = m.mutate_text(rng, rng.choice([*s.URIS, s.google_links()[0].decode()]))
    buffer = io.BytesIO()
    try:
        segno.make(text, micro=False, error="L").save(buffer, kind="png", scale=1)
    except Exception:  # noqa: BLE001 - text segno cannot encode (too long): keep the picture
        return m.mutate_bytes(rng, data, others)
    return buffer.getvalue()


def plain_reader(fmt: str, make: Callable[[], list[bytes]]) -> Target:
    mutate_data = _data_mutator(fmt)

    def seeds() -> list[bytes]:
        return [frame(d, pw) for d in make() for pw in (None, s.PASSWORD)]

    def mutate(rng: random.Random, raw: bytes, others: Sequence[bytes]) -> bytes:
        data, password = unframe(raw)
        new = mutate_data(rng, data, [unframe(o)[0] for o in others])
        return frame(new, m.random_password(rng, password))

    def run(raw: bytes) -> None:
        data, password = unframe(raw)
        registry.READERS[fmt](data, password)

    return Target(f"read-{fmt}", seeds, mutate, run)


def sealed_reader(name: str, fmt: str, sealer: s.Sealer, password: str) -> Target:
    """A reader fed sealed files: the outer file mutated, or the plaintext mutated and sealed
    again as the app would (which reaches the parser behind the decryption)."""

    def seeds() -> list[bytes]:
        files = [sealer.seal(p, password) for p in sealer.plaintexts()]
        return [frame(f, pw) for f in files for pw in (password, None)]

    def mutate(rng: random.Random, raw: bytes, others: Sequence[bytes]) -> bytes:
        data, given = unframe(raw)
        if rng.random() < 0.5:
            plain = rng.choice(sealer.plaintexts())
            if sealer.plaintext_is_json:
                plain = m.mutate_json_bytes(rng, plain)
            elif fmt == "twofold-backup":
                plain = m.mutate_cbor_bytes(rng, plain)
            else:
                plain = text_out(m.mutate_text(rng, text_in(plain)))
            return frame(sealer.seal(plain, password), m.random_password(rng, password))
        mutate_outer = m.mutate_cbor_bytes if fmt == "twofold-backup" else m.mutate_json_bytes
        if fmt == "twofold-backup" and rng.random() < 0.5:
            mutate_outer = m.mutate_bytes
        new = mutate_outer(rng, data, [unframe(o)[0] for o in others])
        return frame(new, m.random_password(rng, given))

    def run(raw: bytes) -> None:
        data, given = unframe(raw)
        if fmt == "twofold-backup":
            backup.sealed_with(data)
        registry.READERS[fmt](data, given)

    return Target(f"read-{name}", seeds, mutate, run)


def detect_reader() -> Target:
    def seeds() -> list[bytes]:
        out = [frame(d, None) for make in _PLAIN.values() for d in make()]
        for name, sealer in s.SEALERS.items():
            password = s.RECOVERY_KEY if name == "backup-recovery" else s.PASSWORD
            out += [frame(sealer.seal(p, password), password) for p in sealer.plaintexts()]
        return out

    def mutate(rng: random.Random, raw: bytes, others: Sequence[bytes]) -> bytes:
        data, password = unframe(raw)
        new = m.mutate_json_bytes(rng, data, [unframe(o)[0] for o in others])
        return frame(new, m.random_password(rng, password))

    def run(raw: bytes) -> None:
        data, password = unframe(raw)
        registry.read(data, password=password)

    return Target("read-detect", seeds, mutate, run)


_PLAIN: dict[str, Callable[[], list[bytes]]] = {
    "otpauth": s.uri_list,
    "google-migration": s.google_links,
    "aegis": s.aegis_plain,
    "2fas": s.twofas_plain,
    "bitwarden": s.bitwarden_plain,
    "andotp": s.andotp_plain,
    "freeotp": s.freeotp_plain,
    "proton": s.proton_plain,
    "qr-image": s.qr_images,
}
_SEALED: dict[str, tuple[str, str]] = {  # target name: (format, sealer)
    "aegis-encrypted": ("aegis", "aegis"),
    "2fas-encrypted": ("2fas", "2fas"),
    "bitwarden-pbkdf2": ("bitwarden", "bitwarden-pbkdf2"),
    "bitwarden-argon2": ("bitwarden", "bitwarden-argon2"),
    "ente": ("ente", "ente"),
    "proton-encrypted": ("proton", "proton"),
    "backup-passphrase": ("twofold-backup", "backup-passphrase"),
    "backup-recovery": ("twofold-backup", "backup-recovery"),
}


# -- a vault to receive ops ----------------------------------------------------------------


@dataclass(frozen=True)
class World:
    """A three-device vault (device 1 founded it and made an account; 2 and 3 were added), the
    bodies member 2 would write next, and what it takes to sign as member 2."""

    vault: bytes
    log: list[bytes]
    seq: int  # member 2's next op: its seq, and the hash it follows
    prev: bytes
    epoch: bytes
    epoch_key: bytes
    bodies: dict[OpKind, list[bytes]]
    later_ops: list[bytes]  # member 2's next ops, signed: seeds for raw receive


@cache
def world() -> World:
    with fixed_randomness(1):
        a, b, _ = fleet(3)
        a.create_account(draft(), NOW)
        b.receive_batch(a.log(), NOW)
        log = a.log()
    chain = b.chains.get(b.device.public)
    seq = chain[-1].seq + 1 if chain else 1
    prev = chain[-1].hash if chain else b.membership.added[b.device.public].added_in
    epoch = b.membership.current_epoch
    assert epoch is not None, "a vault with members has a current epoch"
    bodies: dict[OpKind, list[bytes]] = {k: [] for k in OpKind}
    later: list[bytes] = []
    account = a.state.views()[0].id
    actions: list[Callable[[Vault], object]] = [
        lambda v: v.add_device(cert(4), "device-4", NOW + 1),
        lambda v: v.remove_device(device(3).public, NOW + 1),
        lambda v: v.rename_device("renamed", NOW + 1),
        lambda v: v.rotate_key(NOW + 1),
        lambda v: v.update_account(account, NOW + 1, note="new note", issuer="New"),
        lambda v: v.create_account(draft("Other", "bob"), NOW + 1),
        lambda v: v.delete_account(account, NOW + 1),
    ]
    for act in actions:
        with fixed_randomness(1):  # the same fleet again, then one step of member 2's
            a2, b2, _ = fleet(3)
            a2.create_account(draft(), NOW)
            b2.receive_batch(a2.log(), NOW)
            done: Any = act(b2)
        op = next(x for x in done if isinstance(x, Op)) if isinstance(done, tuple) else done
        later.append(op.raw)
        body = op.decrypt(b2.epoch_keys[op.epoch]) if op.kind.encrypted else op.payload
        bodies[op.kind].append(body)
    genesis = Op(log[0])
    bodies[OpKind.GENESIS].append(genesis.payload)
    with fixed_randomness(2):
        granted = KeysGranted(
            device(3).public, {epoch: seal(b.epoch_keys[epoch], device(3).public)}
        )
        bodies[OpKind.KEYS_GRANTED].append(membership_bodies.encode(granted))
        bodies[OpKind.ACCOUNT_WRITE].append(
            account_write.encode(
                AccountWrite(
                    account, {"trash": FieldWrite(True, ()), "name": FieldWrite("x", ())}, counter=3
                )
            )
        )
    bodies[OpKind.KEY_ROTATED].append(
        membership_bodies.encode(
            membership_bodies.KeyRotated(
                {d: bytes(80) for d in b.membership.members}, key_check(bytes(32))
            )
        )
    )
    return World(a.vault, log, seq, prev, epoch, b.epoch_keys[epoch], bodies, later)


def receiver() -> Vault:
    """Device 1 holding the whole log: built again for every input, so none leaks into the next."""
    w = world()
    v = Vault(w.vault, device(1))
    v.receive_batch(w.log, NOW)
    return v


HLC = pack(NOW + 1000, 0)
RECEIVED_AT = NOW + 2000


def signed_op(kind: OpKind, body: bytes) -> tuple[bytes, bytes]:
    """(vault, op): `body` signed as its author would: member 2 after its last op, or, for a
    genesis, device 1 founding the vault whose id its (fuzzed) salt derives."""
    w = world()
    if kind is OpKind.GENESIS:
        salt = _cbor_field(body, "salt")
        salt = salt if isinstance(salt, bytes) else bytes(16)
        vault = membership_bodies.vault_id(device(1).public, salt)
        raw = seal_op(
            device(1),
            kind=kind,
            vault=vault,
            seq=1,
            prev=ZERO_HASH,
            hlc=HLC,
            epoch=ZERO_HASH,
            body=body,
        )
        return vault, raw
    encrypted = kind.encrypted
    raw = seal_op(
        device(2),
        kind=kind,
        vault=w.vault,
        seq=w.seq,
        prev=w.prev,
        hlc=HLC,
        epoch=w.epoch if encrypted else ZERO_HASH,
        body=body,
        epoch_key=w.epoch_key if encrypted else None,
        nonce=bytes(24) if encrypted else None,
    )
    return w.vault, raw


def _cbor_field(body: bytes, key: str) -> Any:
    try:
        value = cbor2.loads(body)
    except Exception:  # noqa: BLE001 - a body that does not decode names no salt
        return None
    return value.get(key) if isinstance(value, dict) else None


def receive_signed(kind: OpKind) -> Target:
    def seeds() -> list[bytes]:
        return list(world().bodies[kind])

    def run(body: bytes) -> None:
        if len(body) > 60_000:
            return  # seal_op refuses an op over the limit: a member could not send it
        vault, raw = signed_op(kind, body)
        v = Vault(vault, device(3)) if kind is OpKind.GENESIS else receiver()
        v.receive(raw, RECEIVED_AT)

    return Target(f"receive-signed-{kind.name.lower()}", seeds, m.mutate_cbor_bytes, run)


def _receive_raw(raw: bytes) -> None:
    receiver().receive(raw, RECEIVED_AT)


def _op_seeds() -> list[bytes]:
    return [*world().log, *world().later_ops]


def _envelope(raw: bytes) -> None:
    op = Op(raw)
    op.signature_valid()
    if op.kind.encrypted:
        op.decrypt(world().epoch_key)


def _membership_decode(raw: bytes) -> None:
    if not raw:
        return
    kinds = list(OpKind)
    membership_bodies.decode(kinds[raw[0] % len(kinds)], raw[1:])


def _membership_seeds() -> list[bytes]:
    kinds = list(OpKind)
    return [
        bytes([kinds.index(kind)]) + body
        for kind, bodies in world().bodies.items()
        for body in bodies
    ]


def _membership_mutate(rng: random.Random, raw: bytes, others: Sequence[bytes]) -> bytes:
    head, body = raw[:1] or b"\x00", raw[1:]
    if rng.random() < 0.1:
        head = bytes([rng.randrange(len(OpKind))])
    return head + m.mutate_cbor_bytes(rng, body, [o[1:] for o in others])


# -- pairing, invitations, sync ------------------------------------------------------------

MEMBER_CERT = device_certificate(DeviceKey(bytes([1]) * 32))
NEWCOMER_CERT = device_certificate(DeviceKey(bytes([2]) * 32))
INVITATION = Invitation(
    shower_role="member",
    fingerprint=hashlib.sha256(MEMBER_CERT).digest(),
    addresses=("192.168.1.20", "fe80::1"),
    port=45123,
    invitation_id=bytes([3]) * 8,
    secret=bytes([4]) * 16,
    expires_at=2_000_000_000,
)
PAIRING_NOW = 1_900_000_000


def _shower() -> Handshake:
    return Handshake.shower(
        INVITATION, MEMBER_CERT, "Laptop", "member", vault=bytes(16), devices=["Laptop", "Phone"]
    )


def _scanner(
    cert_der: bytes = NEWCOMER_CERT, name: str = "New phone", nonce: bytes = bytes([5]) * 16
) -> Handshake:
    return Handshake.scanner(INVITATION, cert_der, name, "newcomer", rng=lambda n: nonce)


def _pairing_seeds() -> dict[str, list[bytes]]:
    scanner, shower = _scanner(), _shower()
    hello = scanner.hello()
    reply = shower.on_hello(hello, PAIRING_NOW)
    member_hello = Hello(
        bytes(8), MEMBER_CERT, "Laptop", bytes(16), bytes(32), bytes(16), ["Laptop"]
    )
    return {
        "hello": [hello.encode(), member_hello.encode()],
        "hello-reply": [reply.encode(), HelloReply("Laptop", bytes(32)).encode()],
        "decision": [
            Decision(True, bytes(32)).encode(),
            Decision(False).encode(),
            Decision(True).encode(),
        ],
    }


def _on_hello(raw: bytes) -> None:
    """A hostile scanner's hello as the shower sees it: decoded, and (half the time) with the
    right MAC over whatever certificate and name it carries, so the checks behind the MAC run."""
    hello = Hello.decode(raw)
    if raw[-1:] and raw[-1] & 1 and hello.vault is None and hello.devices is None:
        hello = _scanner(hello.cert, hello.name, hello.nonce).hello()
    _shower().on_hello(hello, PAIRING_NOW)


def _invitation_seeds() -> list[bytes]:
    link = INVITATION.to_link()
    return [
        text_out(link),
        text_out("  " + link.upper()[:20] + link[20:] + "\n"),
        text_out(link + "=="),
    ]


def _mutate_link(rng: random.Random, raw: bytes, others: Sequence[bytes]) -> bytes:
    text = text_in(raw)
    if rng.random() < 0.5 and text.startswith("twofold://pair/"):
        body = text[len("twofold://pair/") :].rstrip("=")
        try:
            data = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except ValueError:
            data = b""
        new = m.mutate_cbor_bytes(rng, data)
        return text_out("twofold://pair/" + base64.urlsafe_b64encode(new).decode().rstrip("="))
    return text_out(m.mutate_text(rng, text, [text_in(o) for o in others]))


def _sync_seeds() -> list[bytes]:
    w = world()
    author = device(1).public
    return [
        cbor.dumps({"t": "vector", "v": {author: 3}, "h": {author: bytes(8)}}),
        cbor.dumps({"t": "ops", "ops": w.log[:2]}),
        cbor.dumps({"t": "ack", "v": {author: 2}}),
        cbor.dumps({"t": "caught-up"}),
    ]


def _sync_receive(raw: bytes) -> None:
    machine = SyncMachine(device(2).public)
    machine.start()
    machine.vector({}, {})
    machine.receive(raw, 1.0)


def _otpauth(raw: bytes) -> None:
    otpauth.parse_uri(text_in(raw))


def _text_mutator(rng: random.Random, raw: bytes, others: Sequence[bytes]) -> bytes:
    if rng.random() < 0.3:
        return m.mutate_bytes(rng, raw, others)
    return text_out(m.mutate_text(rng, text_in(raw), [text_in(o) for o in others]))


def _cbor_seeds() -> list[bytes]:
    w = world()
    out = [b for bodies in w.bodies.values() for b in bodies]
    out += _sync_seeds() + [x for xs in _pairing_seeds().values() for x in xs]
    return out


def _cbor_loads(raw: bytes) -> None:
    cbor.loads(raw, "fuzz input")


def _pairing_decode(
    cls: type[Hello] | type[HelloReply] | type[Decision],
) -> Callable[[bytes], None]:
    def run(raw: bytes) -> None:
        cls.decode(raw)

    return run


# -- the registry --------------------------------------------------------------------------


def _build() -> dict[str, Target]:
    targets = [plain_reader(fmt, make) for fmt, make in _PLAIN.items()]
    for name, (fmt, sealer) in _SEALED.items():
        password = s.RECOVERY_KEY if sealer == "backup-recovery" else s.PASSWORD
        targets.append(sealed_reader(name, fmt, s.SEALERS[sealer], password))
    targets.append(detect_reader())
    targets += [
        Target("otpauth-uri", lambda: [text_out(u) for u in s.URIS], _text_mutator, _otpauth),
        Target("cbor-loads", _cbor_seeds, m.mutate_cbor_bytes, _cbor_loads),
        Target("op-envelope", _op_seeds, m.mutate_bytes, _envelope),
        Target("receive-raw", _op_seeds, m.mutate_bytes, _receive_raw),
        *(receive_signed(kind) for kind in OpKind),
        Target("membership-decode", _membership_seeds, _membership_mutate, _membership_decode),
        Target(
            "account-write-decode",
            lambda: list(world().bodies[OpKind.ACCOUNT_WRITE]),
            m.mutate_cbor_bytes,
            lambda raw: account_write.decode(raw),
        ),
        Target(
            "invitation-link",
            _invitation_seeds,
            _mutate_link,
            lambda raw: Invitation.from_link(text_in(raw)),
        ),
        Target(
            "pairing-hello",
            lambda: _pairing_seeds()["hello"],
            m.mutate_cbor_bytes,
            _pairing_decode(Hello),
        ),
        Target(
            "pairing-hello-reply",
            lambda: _pairing_seeds()["hello-reply"],
            m.mutate_cbor_bytes,
            _pairing_decode(HelloReply),
        ),
        Target(
            "pairing-decision",
            lambda: _pairing_seeds()["decision"],
            m.mutate_cbor_bytes,
            _pairing_decode(Decision),
        ),
        Target(
            "pairing-on-hello", lambda: _pairing_seeds()["hello"], m.mutate_cbor_bytes, _on_hello
        ),
        Target("sync-receive", _sync_seeds, m.mutate_cbor_bytes, _sync_receive),
    ]
    return {t.name: t for t in targets}


TARGETS: dict[str, Target] = _build()
