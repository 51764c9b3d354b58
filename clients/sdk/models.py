"""The API's objects as frozen dataclasses, parsed strictly so a mismatch fails loudly."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self, TypeVar

from .errors import ProtocolMismatch

JsonObject = dict[str, Any]
T = TypeVar("T")


def _mismatch(text: str) -> ProtocolMismatch:
    """The error for an answer outside the contract, with the likely cause."""
    return ProtocolMismatch(f"{text} (is the daemon a different version from this client?)")


class _Fields:
    """Typed reads of one JSON object's keys, each naming what it read when it fails."""

    def __init__(self, kind: str, obj: object) -> None:
        if not isinstance(obj, Mapping):
            raise _mismatch(f"the daemon sent {kind} that is not a JSON object")
        self.kind = kind
        self.obj = obj

    def _get(self, key: str) -> object:
        if key not in self.obj:
            raise _mismatch(f"the daemon sent {self.kind} without {key!r}")
        return self.obj[key]

    def _wrong(self, key: str, want: str) -> ProtocolMismatch:
        got = type(self.obj[key]).__name__
        return _mismatch(f"the daemon sent {self.kind} whose {key!r} is {got}, not {want}")

    def text(self, key: str) -> str:
        value = self._get(key)
        if not isinstance(value, str):
            raise self._wrong(key, "a string")
        return value

    def integer(self, key: str) -> int:
        value = self._get(key)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self._wrong(key, "an integer")
        return value

    def boolean(self, key: str) -> bool:
        value = self._get(key)
        if not isinstance(value, bool):
            raise self._wrong(key, "a boolean")
        return value

    def opt_text(self, key: str) -> str | None:
        return None if self._get(key) is None else self.text(key)

    def opt_integer(self, key: str) -> int | None:
        return None if self._get(key) is None else self.integer(key)

    def opt_number(self, key: str) -> float | None:
        value = self._get(key)
        if value is None:
            return None
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise self._wrong(key, "a number")
        return float(value)

    def time(self, key: str) -> datetime:
        text = self.text(key)
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            raise _mismatch(
                f"the daemon sent {self.kind} whose {key!r} is not a date-time: {text!r}"
            ) from None

    def opt_time(self, key: str) -> datetime | None:
        return None if self._get(key) is None else self.time(key)

    def array(self, key: str) -> list[object]:
        value = self._get(key)
        if not isinstance(value, list):
            raise self._wrong(key, "a list")
        return value

    def texts(self, key: str) -> tuple[str, ...]:
        items = self.array(key)
        if not all(isinstance(item, str) for item in items):
            raise _mismatch(f"the daemon sent {self.kind} whose {key!r} is not strings")
        return tuple(str(item) for item in items)

    def value(self, key: str) -> object:
        return self._get(key)

    def maybe_text(self, key: str) -> str | None:
        """A string the contract lets the daemon leave out."""
        return self.text(key) if key in self.obj else None

    def opt_object(self, key: str, kind: str) -> _Fields | None:
        """A nested object that may be null."""
        value = self._get(key)
        return None if value is None else _Fields(kind, value)


def _time_json(value: datetime) -> str:
    """RFC 3339 text for a date-time, with Z for UTC as the daemon writes it."""
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _opt_time_json(value: datetime | None) -> str | None:
    """RFC 3339 text for a date-time that may be unknown."""
    return None if value is None else _time_json(value)


@dataclass(frozen=True)
class Account:
    """One account's parameters as shown now (never its secret)."""

    id: str
    issuer: str
    name: str
    note: str
    kind: str
    algorithm: str
    digits: int
    period: int
    counter: int
    has_pin: bool
    deleted: bool
    conflicts: tuple[str, ...]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_json(cls, obj: object) -> Self:
        """Parse the API's Account object."""
        f = _Fields("an account", obj)
        return cls(
            id=f.text("id"),
            issuer=f.text("issuer"),
            name=f.text("name"),
            note=f.text("note"),
            kind=f.text("kind"),
            algorithm=f.text("algorithm"),
            digits=f.integer("digits"),
            period=f.integer("period"),
            counter=f.integer("counter"),
            has_pin=f.boolean("has_pin"),
            deleted=f.boolean("deleted"),
            conflicts=f.texts("conflicts"),
            created_at=f.time("created_at"),
            updated_at=f.time("updated_at"),
        )

    def to_json(self) -> JsonObject:
        """The API's Account object, for output that mirrors the API."""
        return {
            "id": self.id,
            "issuer": self.issuer,
            "name": self.name,
            "note": self.note,
            "kind": self.kind,
            "algorithm": self.algorithm,
            "digits": self.digits,
            "period": self.period,
            "counter": self.counter,
            "has_pin": self.has_pin,
            "deleted": self.deleted,
            "conflicts": list(self.conflicts),
            "created_at": _time_json(self.created_at),
            "updated_at": _time_json(self.updated_at),
        }


@dataclass(frozen=True)
class Code:
    """A code and its validity; code is None for HOTP accounts in a list of codes."""

    account_id: str
    issuer: str
    name: str
    kind: str
    code: str | None
    counter: int | None
    valid_from: float | None
    valid_until: float | None
    seconds_left: int | None

    @classmethod
    def from_json(cls, obj: object) -> Self:
        """Parse the API's Code object."""
        f = _Fields("a code", obj)
        return cls(
            account_id=f.text("account_id"),
            issuer=f.text("issuer"),
            name=f.text("name"),
            kind=f.text("kind"),
            code=f.opt_text("code"),
            counter=f.opt_integer("counter"),
            valid_from=f.opt_number("valid_from"),
            valid_until=f.opt_number("valid_until"),
            seconds_left=f.opt_integer("seconds_left"),
        )

    def to_json(self) -> JsonObject:
        """The API's Code object, for output that mirrors the API."""
        return {
            "account_id": self.account_id,
            "issuer": self.issuer,
            "name": self.name,
            "kind": self.kind,
            "code": self.code,
            "counter": self.counter,
            "valid_from": self.valid_from,
            "valid_until": self.valid_until,
            "seconds_left": self.seconds_left,
        }


@dataclass(frozen=True)
class ConflictValue:
    """One of a conflict's competing values and who wrote it."""

    choice: str
    value: Any
    device: str
    written_at: datetime

    @classmethod
    def from_json(cls, obj: object) -> Self:
        """Parse one item of a Conflict's values."""
        f = _Fields("a conflict value", obj)
        return cls(
            choice=f.text("choice"),
            value=f.value("value"),
            device=f.text("device"),
            written_at=f.time("written_at"),
        )

    def to_json(self) -> JsonObject:
        """The API's shape of a conflict value."""
        return {
            "choice": self.choice,
            "value": self.value,
            "device": self.device,
            "written_at": _time_json(self.written_at),
        }


@dataclass(frozen=True)
class Conflict:
    """A field of an account that holds several values written concurrently."""

    account_id: str
    issuer: str
    name: str
    field: str
    values: tuple[ConflictValue, ...]

    @classmethod
    def from_json(cls, obj: object) -> Self:
        """Parse the API's Conflict object."""
        f = _Fields("a conflict", obj)
        return cls(
            account_id=f.text("account_id"),
            issuer=f.text("issuer"),
            name=f.text("name"),
            field=f.text("field"),
            values=tuple(ConflictValue.from_json(v) for v in f.array("values")),
        )

    def to_json(self) -> JsonObject:
        """The API's Conflict object, for output that mirrors the API."""
        return {
            "account_id": self.account_id,
            "issuer": self.issuer,
            "name": self.name,
            "field": self.field,
            "values": [v.to_json() for v in self.values],
        }


@dataclass(frozen=True)
class StatusDevice:
    """This device as Status shows it; a locked daemon's status names it without its ID
    (None then)."""

    id: str | None
    name: str


@dataclass(frozen=True)
class Standing:
    """Where this device stands in its vault: member, removed (by whom, when) or waiting."""

    state: str
    closed: bool
    removed_by: StatusDevice | None
    removed_at: datetime | None
    forked: tuple[str, ...]

    @classmethod
    def from_json(cls, obj: object) -> Self:
        """Parse the API's Status standing object."""
        f = _Fields("a standing", obj)
        by = f.value("removed_by")
        remover = None
        if by is not None:
            b = _Fields("a remover", by)
            remover = StatusDevice(id=b.text("id"), name=b.text("name"))
        forked = f.value("forked")
        if not isinstance(forked, list) or not all(isinstance(x, str) for x in forked):
            raise _mismatch("the daemon sent a standing whose forked is not a list of IDs")
        return cls(
            state=f.text("state"),
            closed=f.boolean("closed"),
            removed_by=remover,
            removed_at=f.opt_time("removed_at"),
            forked=tuple(forked),
        )

    def to_json(self) -> JsonObject:
        """The API's standing object."""
        by = self.removed_by
        return {
            "state": self.state,
            "closed": self.closed,
            "removed_by": None if by is None else {"id": by.id, "name": by.name},
            "removed_at": _opt_time_json(self.removed_at),
            "forked": list(self.forked),
        }


@dataclass(frozen=True)
class Status:
    """The daemon, this device and the vault at a glance.

    A locked daemon (passphrase mode) shows only its version, this device's name, when it
    started and how it locks: the vault's part (`device.id`, `vault_id`, `accounts`,
    `trash`, `conflicts`, `members`, `standing`) is None until it is unlocked. `lock_after`
    is the minutes without use after which it locks (0: never, as always without a
    passphrase)."""

    version: str
    device: StatusDevice
    vault_id: str | None
    accounts: int | None
    trash: int | None
    conflicts: int | None
    members: int | None
    standing: Standing | None
    started_at: datetime
    locked: bool
    passphrase: bool
    lock_after: int

    @classmethod
    def from_json(cls, obj: object) -> Self:
        """Parse the API's Status object, locked (its short form) or not."""
        f = _Fields("a status", obj)
        device = _Fields("a status device", f.value("device"))
        version, started_at = f.text("version"), f.time("started_at")
        locked, passphrase = f.boolean("locked"), f.boolean("passphrase")
        lock_after = f.integer("lock_after")
        if locked:
            return cls(
                version=version,
                device=StatusDevice(id=None, name=device.text("name")),
                vault_id=None,
                accounts=None,
                trash=None,
                conflicts=None,
                members=None,
                standing=None,
                started_at=started_at,
                locked=True,
                passphrase=passphrase,
                lock_after=lock_after,
            )
        vault = _Fields("a status vault", f.value("vault"))
        return cls(
            version=version,
            device=StatusDevice(id=device.text("id"), name=device.text("name")),
            vault_id=vault.text("id"),
            accounts=f.integer("accounts"),
            trash=f.integer("trash"),
            conflicts=f.integer("conflicts"),
            members=f.integer("members"),
            standing=Standing.from_json(f.value("standing")),
            started_at=started_at,
            locked=False,
            passphrase=passphrase,
            lock_after=lock_after,
        )

    def to_json(self) -> JsonObject:
        """The API's Status object, for output that mirrors the API."""
        if self.locked:
            return {
                "version": self.version,
                "locked": True,
                "passphrase": self.passphrase,
                "lock_after": self.lock_after,
                "device": {"name": self.device.name},
                "started_at": _time_json(self.started_at),
            }
        return {
            "version": self.version,
            "device": {"id": self.device.id, "name": self.device.name},
            "vault": {"id": self.vault_id},
            "accounts": self.accounts,
            "trash": self.trash,
            "conflicts": self.conflicts,
            "members": self.members,
            "standing": None if self.standing is None else self.standing.to_json(),
            "started_at": _time_json(self.started_at),
            "locked": False,
            "passphrase": self.passphrase,
            "lock_after": self.lock_after,
        }


@dataclass(frozen=True)
class LockState:
    """Whether the vault is locked, as unlock and lock answer."""

    locked: bool

    @classmethod
    def from_json(cls, obj: object) -> Self:
        """Parse the answer of unlock or lock."""
        return cls(locked=_Fields("a lock state", obj).boolean("locked"))

    def to_json(self) -> JsonObject:
        """The API's answer, for output that mirrors the API."""
        return {"locked": self.locked}


@dataclass(frozen=True)
class PassphraseState:
    """Whether this home has a passphrase, and the minutes without use after which the
    vault then locks (0: never), as setting, changing or removing one answers."""

    passphrase: bool
    lock_after: int

    @classmethod
    def from_json(cls, obj: object) -> Self:
        """Parse the answer of setPassphrase or removePassphrase."""
        f = _Fields("a passphrase state", obj)
        return cls(passphrase=f.boolean("passphrase"), lock_after=f.integer("lock_after"))

    def to_json(self) -> JsonObject:
        """The API's answer, for output that mirrors the API."""
        return {"passphrase": self.passphrase, "lock_after": self.lock_after}


@dataclass(frozen=True)
class NewVault:
    """The vault a removed device started, and how many accounts it brought into it."""

    vault_id: str
    accounts: int

    @classmethod
    def from_json(cls, obj: object) -> Self:
        """Parse the answer of startNewVault."""
        f = _Fields("a new vault", obj)
        vault = _Fields("a new vault's vault", f.value("vault"))
        return cls(vault_id=vault.text("id"), accounts=f.integer("accounts"))

    def to_json(self) -> JsonObject:
        """The API's answer, for output that mirrors the API."""
        return {"vault": {"id": self.vault_id}, "accounts": self.accounts}


@dataclass(frozen=True)
class InvitationPeer:
    """The device that answered an invitation, and the code its person should see there."""

    name: str
    device: str
    code: str

    def to_json(self) -> JsonObject:
        """The API's shape of an invitation's peer."""
        return {"name": self.name, "device": self.device, "code": self.code}


@dataclass(frozen=True)
class Invitation:
    """An invitation this device opened for another one to join its vault (or an offer it
    shows to join one). `error` says why it failed; `declined_by` which side said no."""

    id: str
    link: str
    expires_at: datetime
    state: str
    peer: InvitationPeer | None
    error: str | None
    qr_svg: str | None = None
    qr_png: str | None = None
    declined_by: str | None = None  # "this device" or "the other device", once declined

    @classmethod
    def from_json(cls, obj: object) -> Self:
        """Parse the API's Invitation object."""
        f = _Fields("an invitation", obj)
        peer = f.opt_object("peer", "an invitation peer")
        return cls(
            id=f.text("id"),
            link=f.text("link"),
            expires_at=f.time("expires_at"),
            state=f.text("state"),
            peer=None
            if peer is None
            else InvitationPeer(
                name=peer.text("name"), device=peer.text("device"), code=peer.text("code")
            ),
            error=f.opt_text("error"),
            qr_svg=f.maybe_text("qr_svg"),
            qr_png=f.maybe_text("qr_png"),
            declined_by=f.opt_text("declined_by"),
        )

    def to_json(self, with_qr: bool = True) -> JsonObject:
        """The API's Invitation object; the QR codes only when present and wanted."""
        out: JsonObject = {
            "id": self.id,
            "link": self.link,
            "expires_at": _time_json(self.expires_at),
            "state": self.state,
            "peer": None if self.peer is None else self.peer.to_json(),
            "error": self.error,
            "declined_by": self.declined_by,
        }
        if with_qr and self.qr_svg is not None:
            out["qr_svg"] = self.qr_svg
        if with_qr and self.qr_png is not None:
            out["qr_png"] = self.qr_png
        return out


@dataclass(frozen=True)
class JoiningPeer:
    """The other device of a pairing: the member whose vault this device is joining, or
    (adding the device of an offer) the device that would join."""

    name: str
    device: str


@dataclass(frozen=True)
class JoiningVault:
    """The vault a joining device is asked into, as its member describes it: its ID (hex)
    and the names of its devices. Check them before accepting."""

    id: str
    devices: tuple[str, ...]

    def to_json(self) -> JsonObject:
        """The API's shape of a joining's vault."""
        return {"id": self.id, "devices": list(self.devices)}


@dataclass(frozen=True)
class JoiningBrought:
    """What joining did with the accounts the joining device held: `added` to the vault;
    `already_there` not added, since the vault (or its trash) held the same account;
    `in_trash` of those only in the vault's trash, and left there."""

    added: int
    already_there: int
    in_trash: int

    def to_json(self) -> JsonObject:
        """The API's shape of what a join brought."""
        return {"added": self.added, "already_there": self.already_there, "in_trash": self.in_trash}


@dataclass(frozen=True)
class Joining:
    """How joining a vault (or, for a member, adding the device of an offer) is going.

    `vault` is set only on the joining device, once the exchange checked out; `brought`
    only there too, once joined.
    """

    state: str
    code: str | None
    peer: JoiningPeer | None
    vault: JoiningVault | None
    error: str | None
    declined_by: str | None = None  # "this device" or "the other device", once declined
    brought: JoiningBrought | None = None

    @classmethod
    def from_json(cls, obj: object) -> Self:
        """Parse the API's Joining object."""
        f = _Fields("a joining", obj)
        peer = f.opt_object("peer", "a joining peer")
        vault = f.opt_object("vault", "a joining vault")
        brought = f.opt_object("brought", "what a join brought")
        return cls(
            state=f.text("state"),
            code=f.opt_text("code"),
            peer=None
            if peer is None
            else JoiningPeer(name=peer.text("name"), device=peer.text("device")),
            vault=None
            if vault is None
            else JoiningVault(id=vault.text("id"), devices=vault.texts("devices")),
            error=f.opt_text("error"),
            declined_by=f.opt_text("declined_by"),
            brought=None
            if brought is None
            else JoiningBrought(
                added=brought.integer("added"),
                already_there=brought.integer("already_there"),
                in_trash=brought.integer("in_trash"),
            ),
        )

    def to_json(self) -> JsonObject:
        """The API's Joining object, for output that mirrors the API."""
        return {
            "state": self.state,
            "code": self.code,
            "peer": None
            if self.peer is None
            else {"name": self.peer.name, "device": self.peer.device},
            "vault": None if self.vault is None else self.vault.to_json(),
            "error": self.error,
            "declined_by": self.declined_by,
            "brought": None if self.brought is None else self.brought.to_json(),
        }


@dataclass(frozen=True)
class Device:
    """A device of the vault, revoked ones included, and when it was last heard from."""

    id: str
    name: str
    added_by: str | None
    added_at: datetime | None
    this_device: bool
    revoked: bool
    removed_by: str | None
    removed_at: datetime | None
    forked: bool
    connected: bool
    last_seen: datetime | None
    last_sync: datetime | None
    last_write: datetime | None

    @classmethod
    def from_json(cls, obj: object) -> Self:
        """Parse the API's Device object."""
        f = _Fields("a device", obj)
        return cls(
            id=f.text("id"),
            name=f.text("name"),
            added_by=f.opt_text("added_by"),
            added_at=f.opt_time("added_at"),
            this_device=f.boolean("this_device"),
            revoked=f.boolean("revoked"),
            removed_by=f.opt_text("removed_by"),
            removed_at=f.opt_time("removed_at"),
            forked=f.boolean("forked"),
            connected=f.boolean("connected"),
            last_seen=f.opt_time("last_seen"),
            last_sync=f.opt_time("last_sync"),
            last_write=f.opt_time("last_write"),
        )

    def to_json(self) -> JsonObject:
        """The API's Device object, for output that mirrors the API."""
        return {
            "id": self.id,
            "name": self.name,
            "added_by": self.added_by,
            "added_at": _opt_time_json(self.added_at),
            "this_device": self.this_device,
            "revoked": self.revoked,
            "removed_by": self.removed_by,
            "removed_at": _opt_time_json(self.removed_at),
            "forked": self.forked,
            "connected": self.connected,
            "last_seen": _opt_time_json(self.last_seen),
            "last_sync": _opt_time_json(self.last_sync),
            "last_write": _opt_time_json(self.last_write),
        }


@dataclass(frozen=True)
class Peer:
    """Another member of the vault, and how this device reaches it.

    `lacks` is exact while `lacks_exact`; otherwise an estimate as of `lacks_known_at`."""

    device: str
    name: str
    address: str | None
    found_by: str | None
    connected: bool
    last_seen: datetime | None
    last_sync: datetime | None
    lacks: int | None
    lacks_exact: bool
    lacks_known_at: datetime | None

    @classmethod
    def from_json(cls, obj: object) -> Self:
        """Parse the API's Peer object."""
        f = _Fields("a peer", obj)
        return cls(
            device=f.text("device"),
            name=f.text("name"),
            address=f.opt_text("address"),
            found_by=f.opt_text("found_by"),
            connected=f.boolean("connected"),
            last_seen=f.opt_time("last_seen"),
            last_sync=f.opt_time("last_sync"),
            lacks=f.opt_integer("lacks"),
            lacks_exact=f.boolean("lacks_exact"),
            lacks_known_at=f.opt_time("lacks_known_at"),
        )

    def to_json(self) -> JsonObject:
        """The API's Peer object, for output that mirrors the API."""
        return {
            "device": self.device,
            "name": self.name,
            "address": self.address,
            "found_by": self.found_by,
            "connected": self.connected,
            "last_seen": _opt_time_json(self.last_seen),
            "last_sync": _opt_time_json(self.last_sync),
            "lacks": self.lacks,
            "lacks_exact": self.lacks_exact,
            "lacks_known_at": _opt_time_json(self.lacks_known_at),
        }


def parse_list(kind: str, obj: object, key: str, parse: Callable[[object], T]) -> list[T]:
    """Parse a {key: [...]} envelope, the shape every list response of the API has."""
    return [parse(item) for item in _Fields(kind, obj).array(key)]
