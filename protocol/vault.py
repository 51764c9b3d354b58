"""A replica this device writes to: every change a person makes becomes one signed op.

Each method builds an op, runs it through the same `_admit` a peer's op goes
through, and returns it. The daemon writes inside `prepare` instead: the ops
are sealed but not applied, so it can store them first and apply them only
once the disk holds them (`apply_own`); a store that fails leaves this replica
as it was. Writes name the heads they replace, so what the person saw is what
they overwrite, and a value written concurrently elsewhere survives as a
conflict.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from . import account_write, membership, membership_bodies
from .account import AccountDraft, OtpKind, check_label, check_note, check_shown, visible_draft
from .account_write import ACCOUNT_ID_SIZE, MAX_COUNTER, AccountWrite, FieldWrite
from .certificate import UNREADABLE_CERT, check_certificate, device_certificate, load_certificate
from .envelope import ZERO_HASH, Op, OpKind, seal_op
from .errors import (
    InvalidAccount,
    MalformedPayload,
    NotFound,
    Refused,
    RemovedFromVault,
    UsageError,
    VaultClosed,
    VaultLocked,
)
from .hlc import Clock, wall_ms
from .identity import DeviceKey, display_id, x25519_public
from .keywrap import key_check, new_epoch_key, seal
from .membership_bodies import (
    MAX_HEADS,
    MAX_NAME,
    SALT_SIZE,
    DeviceAdded,
    DeviceRemoved,
    DeviceRenamed,
    Genesis,
    KeyRotated,
    KeysGranted,
)
from .replica import BatchReport, Replica
from .state import AccountView
from .text import check_visible

_EDITABLE = ("issuer", "name", "note", "otp")

T = TypeVar("T")
_NO_WALL_CHECK = 1 << 48  # this device's own clock stamped its ops: no wall time to hold them to


@dataclass
class _Draft:
    """Ops sealed by `prepare` and not applied: where this device's chain and clock stand
    after them, and the epoch a rotation among them starts."""

    clock: Clock
    ops: list[Op] = field(default_factory=list)
    epoch: tuple[bytes, bytes] | None = None


class Vault(Replica):
    """The vault as seen and written by this device."""

    device: DeviceKey

    def __init__(self, vault: bytes, device: DeviceKey, clock: int = 0) -> None:
        super().__init__(vault, device, clock)
        self._draft: _Draft | None = None

    # -- prepare, store, apply -------------------------------------------------

    def prepare(self, make: Callable[[Vault], T]) -> tuple[T, list[Op]]:
        """What `make` returns, and the ops it wrote, sealed and chained one after another but
        not applied: nothing here changes, the clock included, until `apply_own` takes them.

        `make` reads the vault as it was before the draft, so no op of a draft may rest on
        another's effect: a new account goes to the trash in the op that creates it, not in a
        second one. A rotation is the exception the draft keeps track of: the ops after it are
        sealed under its key, and a device added after it gets that key too."""
        if self._draft is not None:
            raise UsageError("a draft is open already")
        self._draft = _Draft(Clock(self.clock.last))
        try:
            made = make(self)
            return made, self._draft.ops
        finally:
            self._draft = None

    def apply_own(self, ops: list[Op]) -> None:
        """Apply ops `prepare` sealed, once they are stored, through the same checks as any
        op. Each must extend this device's chain where it ends now: one made against another
        state would fork this device's own log, the evidence of a thief's device."""
        me = self.device.public
        for op in ops:
            chain = self.chains.get(me, [])
            if op.author != me or op.seq != len(chain) + 1 or (chain and op.prev != chain[-1].hash):
                raise UsageError(
                    f"op {op.seq} was not prepared where this device's log ends ({len(chain)})"
                )
            try:
                self._admit(op, _NO_WALL_CHECK, authenticated=True)
            finally:
                self._settle()

    @classmethod
    def found(
        cls,
        device: DeviceKey,
        name: str,
        now_ms: int,
        *,
        salt: bytes | None = None,
        epoch_key: bytes | None = None,
    ) -> Vault:
        """Make a new vault with this device as its founder (the genesis op)."""
        salt = salt if salt is not None else os.urandom(SALT_SIZE)
        key = epoch_key if epoch_key is not None else new_epoch_key()
        vault = cls(membership_bodies.vault_id(device.public, salt), device)
        body = Genesis(
            _device_name(name),
            device_certificate(device),
            salt,
            seal(key, device.public),
            key_check(key),
        )
        vault._append(OpKind.GENESIS, membership_bodies.encode(body), now_ms)
        return vault

    @classmethod
    def restore(
        cls, vault: bytes, device: DeviceKey, log: list[bytes], clock: int = 0
    ) -> tuple[Vault, BatchReport]:
        """Rebuild from a stored log, with what replaying it did.

        Receipt refuses only what is wrong whatever else exists, so a stored
        log replays whole; should a byte have rotted on disk, that op is
        reported and the rest still loads: a start never fails on its log.
        """
        replica = cls(vault, device, clock)
        return replica, replica.receive_batch(log, now_ms=_NO_WALL_CHECK)

    # -- accounts ------------------------------------------------------------

    def create_account(
        self,
        draft: AccountDraft,
        now_ms: int,
        *,
        account_id: bytes | None = None,
        nonce: bytes | None = None,
        trashed: bool = False,
    ) -> tuple[bytes, Op]:
        """Add an account (straight into the trash if `trashed`); returns its new ID and the op.

        What a person types is refused before it gets here if it holds characters that
        hide or reorder text (the API and parse_uri check); a draft that still holds some
        came from older data (accounts carried into a joined vault) and is written without
        them (account.visible_draft), so this device never writes such a label."""
        draft, _ = visible_draft(draft)
        aid = account_id if account_id is not None else os.urandom(ACCOUNT_ID_SIZE)
        fields = {
            "issuer": FieldWrite(draft.issuer, ()),
            "name": FieldWrite(draft.name, ()),
            "note": FieldWrite(draft.note, ()),
            "otp": FieldWrite(draft.otp, ()),
        }
        if trashed:
            fields["trash"] = FieldWrite(True, ())
        counter = draft.counter or None
        return aid, self._write(AccountWrite(aid, fields, counter), now_ms, nonce)

    def update_account(self, account: bytes, now_ms: int, **changes: Any) -> Op:
        """Change fields (issuer, name, note, otp), replacing every value shown for each."""
        view = self.account(account)
        unknown = set(changes) - set(_EDITABLE) - {"counter"}
        if unknown:
            raise UsageError(f"not editable: {sorted(unknown)}")
        fields = {
            name: FieldWrite(_checked(name, value), view.heads.get(name, ()))
            for name, value in changes.items()
            if name != "counter"
        }
        if not changes.get("issuer", view.issuer) and not changes.get("name", view.name):
            raise InvalidAccount("name", "give the account a name or an issuer")
        counter = changes.get("counter")
        if counter is not None:
            counter = _forward_counter(view, counter)
        if not fields and counter is None:
            raise InvalidAccount(None, "nothing to change")
        return self._write(AccountWrite(account, fields, counter), now_ms)

    def delete_account(self, account: bytes, now_ms: int) -> Op:
        """Move an account to the trash; it stays restorable."""
        return self._set_trash(account, True, now_ms)

    def restore_account(self, account: bytes, now_ms: int) -> Op:
        """Bring an account back from the trash."""
        return self._set_trash(account, False, now_ms)

    def resolve(self, account: bytes, field_name: str, value: Any, now_ms: int) -> Op:
        """End a conflict: one value that replaces every head of the field."""
        view = self.account(account)
        if field_name not in view.conflicts:
            raise InvalidAccount(field_name, f"{field_name} has no conflict to resolve")
        return self.update_account(account, now_ms, **{field_name: value})

    def next_hotp_counter(self, account: bytes, now_ms: int) -> tuple[int, Op]:
        """The counter to make the next HOTP code from, consumed by an op so no device reuses it."""
        view = self.account(account)
        if view.otp.kind is not OtpKind.HOTP:
            raise InvalidAccount("kind", "only hotp accounts have a counter to advance")
        if view.counter >= MAX_COUNTER:
            raise InvalidAccount("counter", "the counter is at its maximum")
        op = self._write(AccountWrite(account, {}, view.counter + 1), now_ms)
        return view.counter, op

    def account(self, account: bytes) -> AccountView:
        """One account, trashed or not."""
        view = self.state.view(account)
        if view is None:
            raise NotFound(f"no account with id {account.hex()}")
        return view

    def accounts(self) -> list[AccountView]:
        """The accounts not in the trash."""
        return [v for v in self.state.views() if not v.deleted]

    def trash(self) -> list[AccountView]:
        """The accounts in the trash."""
        return [v for v in self.state.views() if v.deleted]

    def conflicts(self) -> list[AccountView]:
        """Accounts with at least one field that has several values."""
        return [v for v in self.state.views() if v.conflicts]

    # -- membership ----------------------------------------------------------

    def add_device(self, cert: bytes, name: str, now_ms: int) -> Op:
        """Add the device a certificate names, sealing every epoch key held here to it."""
        public_key = certificate_key(cert)
        if public_key in self.membership.removals:
            raise Refused(
                f"device {display_id(public_key)} was removed from this vault and cannot come "
                "back with the same key: start a new vault on it (twofold vault new) and pair "
                "this device into that one instead"
            )
        if public_key in self.membership.added:
            raise Refused(f"device {display_id(public_key)} is a member already")
        wraps = {e: seal(k, public_key) for e, k in self._keys_held().items()}
        body = DeviceAdded(public_key, _device_name(name), cert, wraps)
        return self._append(OpKind.DEVICE_ADDED, membership_bodies.encode(body), now_ms)

    def remove_device(self, public_key: bytes, now_ms: int) -> Op:
        """Remove a device and rotate to a key it never sees.

        The removal names the device's ops held here that nothing follows (its
        heads): exactly those, and what they lead back to, keep counting.
        """
        members = self.membership.members
        if public_key not in members:
            raise NotFound(f"device {display_id(public_key)} is not a member")
        if public_key == self.device.public:
            raise Refused("a device cannot remove itself: remove it from another device")
        rest = [m for m in members if m != public_key]
        heads = self._heads_of(public_key)
        key = new_epoch_key()
        body = DeviceRemoved(
            public_key,
            max((h.seq for h in heads), default=0),
            tuple(h.hash for h in heads),
            {m: seal(key, m) for m in rest},
            key_check(key),
        )
        return self._append(OpKind.DEVICE_REMOVED, membership_bodies.encode(body), now_ms)

    def _heads_of(self, public_key: bytes) -> list[Op]:
        """The target's tips, or, when it forked under this device's own standing, only the
        tips of the branch this device was added from (a removal cannot cut below it)."""
        tips = self.graph.tips(public_key)[:MAX_HEADS]
        mine = self.chains.get(self.device.public)
        root = self.graph.root(mine[0]) if mine else None
        rest = membership.standing(self.graph, root) if root is not None else []
        under = [s for s in rest if s.author == public_key]
        if under and len(tips) > 1:
            tips = [t for t in tips if all(self.graph.is_ancestor(s, t) for s in under)]
        return tips

    def rename_device(self, name: str, now_ms: int) -> Op:
        """Give this device a new name, for the other devices' lists."""
        body = DeviceRenamed(_device_name(name))
        return self._append(OpKind.DEVICE_RENAMED, membership_bodies.encode(body), now_ms)

    def rotate_key(self, now_ms: int) -> Op:
        """Start a new epoch sealed to every current member."""
        key = new_epoch_key()
        body = KeyRotated({m: seal(key, m) for m in self.membership.members}, key_check(key))
        op = self._append(OpKind.KEY_ROTATED, membership_bodies.encode(body), now_ms)
        if self._draft is not None:
            self._draft.epoch = (op.hash, key)
        return op

    def needs_rotation(self) -> bool:
        """This member holds the key of no epoch it may write under, and a rotation of its own
        would count: it must start one. A forked device's rotation counts for no one."""
        me = self.device.public
        if me not in self.membership.members or me in self.graph.forks:
            return False
        return not any(e in self.epoch_keys for e in self.membership.usable)

    def missing_keys(self) -> dict[bytes, list[bytes]]:
        """Members lacking a wrap of some epoch key (added concurrently with a rotation)."""
        sealed = self.membership.sealed
        out = {}
        for member in sorted(self.membership.members):
            lacking = [e for e in self.membership.creators if member not in sealed.get(e, ())]
            if lacking:
                out[member] = lacking
        return out

    def grants_due(self) -> list[bytes]:
        """Members to whom this device can seal an epoch key they lack."""
        if self.device.public not in self.membership.members:
            return []
        return [
            m
            for m, lacking in self.missing_keys().items()
            if any(e in self.epoch_keys for e in lacking)
        ]

    def grant_keys(self, public_key: bytes, now_ms: int) -> Op:
        """Seal to a member the epoch keys it lacks and this device holds."""
        lacking = self.missing_keys().get(public_key, [])
        wraps = {e: seal(self.epoch_keys[e], public_key) for e in lacking if e in self.epoch_keys}
        if not wraps:
            raise Refused(f"device {display_id(public_key)} lacks no key this device holds")
        body = KeysGranted(public_key, wraps)
        return self._append(OpKind.KEYS_GRANTED, membership_bodies.encode(body), now_ms)

    def removal_of_me(self) -> membership.Removal | None:
        """The first removal of this device that counts, if it was removed."""
        return self.membership.first_removal(self.device.public)

    # -- building ops --------------------------------------------------------

    def _set_trash(self, account: bytes, value: bool, now_ms: int) -> Op:
        view = self.account(account)
        if view.deleted == value:
            raise InvalidAccount(
                None,
                "the account is in the trash already"
                if value
                else "the account is not in the trash",
            )
        fields = {"trash": FieldWrite(value, view.heads.get("trash", ()))}
        return self._write(AccountWrite(account, fields), now_ms)

    def _write(self, write: AccountWrite, now_ms: int, nonce: bytes | None = None) -> Op:
        return self._append(OpKind.ACCOUNT_WRITE, account_write.encode(write), now_ms, nonce)

    def _writing_key(self) -> tuple[bytes, bytes]:
        """The last epoch whose key only members hold, among those this device holds (a
        rotation earlier in the draft first), and its key."""
        if self._draft is not None and self._draft.epoch is not None:
            return self._draft.epoch
        for epoch in reversed(self.membership.usable):
            if epoch in self.epoch_keys:
                return epoch, self.epoch_keys[epoch]
        raise VaultLocked("this device holds no key of the vault yet")

    def _keys_held(self) -> dict[bytes, bytes]:
        keys = dict(self.epoch_keys)
        if self._draft is not None and self._draft.epoch is not None:
            epoch, key = self._draft.epoch
            keys[epoch] = key
        return keys

    def check_writable(self) -> None:
        """RemovedFromVault or VaultClosed when this device may write nothing: checked before
        anything else a write would refuse, so that is what the person hears first."""
        removal = self.removal_of_me()
        if removal is not None:
            remover = self.membership.added.get(removal.by)
            by = display_id(removal.by)
            by = f"{remover.name} ({by})" if remover else by
            raise RemovedFromVault(by, wall_ms(removal.hlc))
        if self.membership.closed:
            raise VaultClosed()

    def _append(self, kind: OpKind, body: bytes, now_ms: int, nonce: bytes | None = None) -> Op:
        self.check_writable()
        me = self.device.public
        if kind is not OpKind.GENESIS and self.chains.get(me) and me not in self.membership.members:
            raise VaultLocked("this device is not a member of the vault")
        chain = self.chains.get(self.device.public, [])
        draft = self._draft
        drafted = draft.ops if draft is not None else []
        if drafted:
            prev = drafted[-1].hash
        elif chain:
            prev = chain[-1].hash
        elif kind is OpKind.GENESIS:
            prev = ZERO_HASH
        else:
            member = self.membership.added.get(self.device.public)
            if member is None:
                raise VaultLocked("this device has not been added to the vault yet")
            prev = member.added_in
        epoch, key = ZERO_HASH, None
        if kind.encrypted:
            epoch, key = self._writing_key()
        raw = seal_op(
            self.device,
            kind=kind,
            vault=self.vault,
            seq=len(chain) + len(drafted) + 1,
            prev=prev,
            hlc=(draft.clock if draft is not None else self.clock).tick(now_ms),
            epoch=epoch,
            body=body,
            epoch_key=key,
            nonce=nonce,
        )
        op = Op(raw)
        if draft is not None:
            draft.ops.append(op)
        else:
            self.apply_own([op])
        return op


def _checked(name: str, value: Any) -> Any:
    if name in ("issuer", "name"):
        check_label(value, name)
        check_shown(value, name)
    elif name == "note":
        check_note(value)
        check_shown(value, name)
    try:
        return account_write.check_value(name, value)
    except MalformedPayload as exc:
        raise InvalidAccount(name, str(exc)) from None


def _forward_counter(view: AccountView, counter: Any) -> int:
    if view.otp.kind is not OtpKind.HOTP:
        kind = view.otp.kind
        raise InvalidAccount("counter", f"only hotp accounts have a counter (this is {kind})")
    if type(counter) is not int or not 0 <= counter <= MAX_COUNTER:
        raise InvalidAccount("counter", "counter must be a non-negative integer")
    if counter < view.counter:
        raise InvalidAccount(
            "counter",
            f"the counter can only move forward (it is {view.counter}): codes already shown "
            "must not be shown again",
        )
    return counter


def _device_name(name: str) -> str:
    """A name this device writes for a device (its own, or one it adds): 1 to 64
    characters, none of them a control or one that hides or reorders text (protocol/text.py),
    since other people read it, as the pairing confirmation line does."""
    if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME:
        raise InvalidAccount("name", f"a device name is 1 to {MAX_NAME} characters")
    check_visible(name, "name")
    return name


def certificate_key(cert: bytes) -> bytes:
    """The device key a certificate is over, once it passes the checks a receiver makes."""
    try:
        key = load_certificate(cert).public_key()
    except UNREADABLE_CERT:
        raise InvalidAccount("cert", "not a device certificate") from None
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidAccount("cert", "not a device certificate: its key is not Ed25519")
    public = key.public_bytes_raw()
    try:
        check_certificate(cert, public)
        x25519_public(public)
    except (MalformedPayload, ValueError) as exc:
        raise InvalidAccount("cert", f"not a device certificate: {exc}") from None
    return public
