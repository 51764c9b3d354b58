"""Known answers: fixed keys and nonces give fixed bytes, so the wire format cannot drift.

If one of these fails, the wire format changed: old ops no longer verify. Bump
the version byte and describe the change in specs/protocol.md instead.
"""

from __future__ import annotations

from twofold.protocol import account_write, membership_bodies
from twofold.protocol.account import OtpParams
from twofold.protocol.account_write import AccountWrite, FieldWrite
from twofold.protocol.certificate import device_certificate, fingerprint
from twofold.protocol.envelope import ZERO_HASH, Op, OpKind, seal_op
from twofold.protocol.hlc import pack
from twofold.protocol.identity import DeviceKey, device_id, display_id
from twofold.protocol.keywrap import key_check, open_wrap, seal, vault_tag

DEVICE = DeviceKey(bytes([1]) * 32)
EPOCH_KEY = bytes([2]) * 32
EPHEMERAL = bytes([3]) * 32
ACCOUNT = bytes([4]) * 16
NONCE = bytes([5]) * 24
SALT = bytes(16)
T = 1_790_000_000_000

GENESIS = bytes.fromhex(
    "01011279effb0dbecdff81a5ef2ccb2f0c0e8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94"
    "121bf3748801b40f6f5c000000000000000100000000000000000000000000000000000000000000"
    "0000000000000000000001a0c4506c00000000000000000000000000000000000000000000000000"
    "00000000000000000000000001b8a5646365727459011f3082011b3081cea00302010202101a3a87"
    "cc5eacfe7e4a36d22d555f499d300506032b657030263124302206035504030c1b74776f666f6c64"
    "204a4433412d5a5a51332d54354b332d37454a433020170d3030303130313030303030305a180f39"
    "393939313233313233353935395a30263124302206035504030c1b74776f666f6c64204a4433412d"
    "5a5a51332d54354b332d37454a43302a300506032b65700321008a88e3dd7409f195fd52db2d3cba"
    "5d72ca6709bf1d94121bf3748801b40f6f5ca310300e300c0603551d130101ff0402300030050603"
    "2b657003410080131c5d5868ade49eb537527ca14e0528a4fefd8fc7397810fe7e9d9004e5b16669"
    "b48d4879ab620db31d895c75cb24675cfa612be03b99e4d31d93560d0605646e616d65666c617074"
    "6f706473616c7450000000000000000000000000000000006477726170585075e270df2952c57ba8"
    "367ba8618c178f9fe50db2799d304e74e918d98568614611630ae5c7dd2bb17efb24ba9b332d38c4"
    "2fec8c7f54374a31d9ac7d27b1347002c662ea51f00a0b28d95ff0d88d99a265636865636b50294a"
    "ac176a8b1f7c4921d6e1048ce5989dfa3a414dfd355e73d76786702f0116dd67abf8907b8d45fc24"
    "d23c6233e42dc61d4a60975b457b75ef9db9bad5cfeca940e302e49e832c1b3163672b2e0b02"
)
ACCOUNT_OP = bytes.fromhex(
    "01101279effb0dbecdff81a5ef2ccb2f0c0e8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94"
    "121bf3748801b40f6f5c0000000000000002e9f595756fcd22e96597b660c47c7de3291eb16663cb"
    "77657db6b69ae563f5af01a0c4506c000001e9f595756fcd22e96597b660c47c7de3291eb16663cb"
    "77657db6b69ae563f5af000000ce05050505050505050505050505050505050505050505050518e7"
    "75fbafea54d0840d967afa97e898f9a50cef2dcb05b5f4f1a41b6953307c08e9787baca22d9135cc"
    "cc553c8aed213f7778df8b39507b52f9257e29c8d59b7055ad46678f452b354348eaf5f883e2fca3"
    "d42d454185edaee869e572c43ef231d10a9d10e36924c8a4a92f5838a2ed15ff9ef632de7c769b2d"
    "0b6eb47e659e7ea1ea6fbed145e535d7a47e8f4521f60cc29898e936d935095b4ca38431d06fe835"
    "4f65db28a1d869d2e124d4e89ee53b407b232e91045e97f392812de42c1ecd08f2e3ecb01d86fee1"
    "1ec464225590d16bf9d974d6b902f117c57dd619c36e60ea8bab05fbddd3a970c437f63865ae79a0"
    "600ab80b"
)


def test_device_identity() -> None:
    assert DEVICE.public.hex() == "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c"
    assert device_id(DEVICE.public).hex() == (
        "48f60ce61b9f55bf91228d42ac643d48fee9de2da958ae024e15bfdcf7d1ceee"
    )
    assert display_id(DEVICE.public) == "JD3A-ZZQ3-T5K3-7EJC"


def test_vault_id_check_and_tag() -> None:
    assert (
        membership_bodies.vault_id(DEVICE.public, SALT).hex() == "1279effb0dbecdff81a5ef2ccb2f0c0e"
    )
    assert key_check(EPOCH_KEY).hex() == "294aac176a8b1f7c4921d6e1048ce598"
    assert vault_tag(EPOCH_KEY).hex() == "0ef041003344d8e5"


def test_sealed_epoch_key_with_a_fixed_ephemeral_key() -> None:
    wrap = seal(EPOCH_KEY, DEVICE.public, ephemeral_seed=EPHEMERAL)
    assert wrap.hex() == (
        "75e270df2952c57ba8367ba8618c178f9fe50db2799d304e74e918d98568614611630ae5c7dd2bb1"
        "7efb24ba9b332d38c42fec8c7f54374a31d9ac7d27b1347002c662ea51f00a0b28d95ff0d88d99a2"
    )
    assert open_wrap(wrap, DEVICE) == EPOCH_KEY
    assert open_wrap(wrap, DeviceKey(bytes([9]) * 32)) is None


def genesis() -> bytes:
    wrap = seal(EPOCH_KEY, DEVICE.public, ephemeral_seed=EPHEMERAL)
    body = membership_bodies.encode(
        membership_bodies.Genesis(
            "laptop", device_certificate(DEVICE), SALT, wrap, key_check(EPOCH_KEY)
        )
    )
    return seal_op(
        DEVICE,
        kind=OpKind.GENESIS,
        vault=membership_bodies.vault_id(DEVICE.public, SALT),
        seq=1,
        prev=ZERO_HASH,
        hlc=pack(T, 0),
        epoch=ZERO_HASH,
        body=body,
    )


def account_op(prev: bytes) -> bytes:
    write = AccountWrite(
        ACCOUNT,
        {
            "issuer": FieldWrite("GitHub", ()),
            "name": FieldWrite("alice@example.com", ()),
            "otp": FieldWrite(OtpParams.create("totp", b"12345678901234567890"), ()),
        },
    )
    return seal_op(
        DEVICE,
        kind=OpKind.ACCOUNT_WRITE,
        vault=membership_bodies.vault_id(DEVICE.public, SALT),
        seq=2,
        prev=prev,
        hlc=pack(T, 1),
        epoch=prev,
        body=account_write.encode(write),
        epoch_key=EPOCH_KEY,
        nonce=NONCE,
    )


def test_device_certificate() -> None:
    cert = device_certificate(DEVICE)
    assert cert == device_certificate(DeviceKey(bytes([1]) * 32))
    assert (
        fingerprint(cert).hex()
        == "bf09fe670c02621b0d14db46009a37f89a1e0fa0c539c4bf4bdb0c9180dd279c"
    )


def test_genesis_bytes() -> None:
    assert genesis() == GENESIS
    op = Op(GENESIS)
    assert op.hash.hex() == "e9f595756fcd22e96597b660c47c7de3291eb16663cb77657db6b69ae563f5af"
    assert op.signature_valid()


def test_account_op_bytes() -> None:
    assert account_op(Op(GENESIS).hash) == ACCOUNT_OP
    op = Op(ACCOUNT_OP)
    assert (op.kind, op.seq, op.prev, op.epoch) == (
        OpKind.ACCOUNT_WRITE,
        2,
        Op(GENESIS).hash,
        Op(GENESIS).hash,
    )
    assert op.hash.hex() == "55905627195565f848ad30a3c89cd7cd8888b97d50fe65d6f6cb4d7bf54750cd"
    assert op.signature_valid()
    write = account_write.decode(op.decrypt(EPOCH_KEY))
    assert write.account == ACCOUNT
    assert write.fields["name"].value == "alice@example.com"
    assert write.fields["otp"].value.secret == b"12345678901234567890"


def test_plaintext_is_deterministic_cbor() -> None:
    write = account_write.decode(Op(ACCOUNT_OP).decrypt(EPOCH_KEY))
    assert account_write.encode(write).hex() == (
        "a263736574a3636f7470a26172806176a66370696ef6646b696e6464746f74706664696769747306"
        "66706572696f64181e6673656372657454313233343536373839303132333435363738393069616c"
        "676f726974686d6453484131646e616d65a2617280617671616c696365406578616d706c652e636f"
        "6d66697373756572a2617280617666476974487562676163636f756e745004040404040404040404"
        "040404040404"
    )
