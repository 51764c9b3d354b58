"""The vault's state: a fold of account writes that ignores the order they arrive in.

Each field is a multi-value register. A write adds its value under its op's
hash and names the hashes of the values it replaces; the heads are the values
nothing replaces. Adding a write and taking the union of replaced sets
commute and are idempotent, so any delivery order gives the same heads. The
shown value is the head with the greatest (hlc, author, op hash), the hash for
two copies of one home that wrote with one clock; several heads are a
conflict. The trash flag is a register too, but an account is in the trash
only while every head says so: a restore concurrent with a delete keeps the
account visible. The HOTP counter is a max register, so codes that any
device has shown are never shown again after a merge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .account import OtpKind, OtpParams
from .account_write import AccountWrite


@dataclass(frozen=True, slots=True)
class Head:
    """A value no write replaces, with the op that wrote it."""

    value: Any
    hlc: int
    author: bytes
    op: bytes


@dataclass(slots=True)
class Register:
    """A multi-value register: every written value, and which ones were replaced."""

    values: dict[bytes, tuple[int, bytes, Any]] = field(default_factory=dict)
    replaced: set[bytes] = field(default_factory=set)

    def heads(self) -> tuple[Head, ...]:
        """The values nothing replaces, the shown one first."""
        live = [
            Head(value, hlc, author, op)
            for op, (hlc, author, value) in self.values.items()
            if op not in self.replaced
        ]
        live.sort(key=lambda h: (h.hlc, h.author, h.op), reverse=True)
        return tuple(live)


@dataclass(slots=True)
class AccountState:
    """Everything written to one account."""

    id: bytes
    registers: dict[str, Register] = field(default_factory=dict)
    counter: int = 0
    created: int = 0
    updated: int = 0


@dataclass(frozen=True, slots=True)
class AccountView:
    """An account as a person sees it; `conflicts` holds every field with several heads."""

    id: bytes
    issuer: str
    name: str
    note: str
    otp: OtpParams
    counter: int
    deleted: bool
    created_hlc: int
    updated_hlc: int
    conflicts: dict[str, tuple[Head, ...]]
    heads: dict[str, tuple[bytes, ...]]


class VaultState:
    """The fold of every account write that counts; `apply` in any order gives one state."""

    __slots__ = ("_sorted", "_views", "accounts")

    def __init__(self) -> None:
        self.accounts: dict[bytes, AccountState] = {}
        self._views: dict[bytes, AccountView | None] = {}
        self._sorted: list[AccountView] | None = None

    def apply(self, op_hash: bytes, hlc: int, author: bytes, write: AccountWrite) -> None:
        """Fold one write in; applying it again changes nothing."""
        self._views.pop(write.account, None)
        self._sorted = None
        acc = self.accounts.get(write.account)
        if acc is None:
            acc = self.accounts[write.account] = AccountState(write.account, created=hlc)
        elif hlc < acc.created:
            acc.created = hlc
        if hlc > acc.updated:
            acc.updated = hlc
        for name, fw in write.fields.items():
            reg = acc.registers.get(name)
            if reg is None:
                reg = acc.registers[name] = Register()
            reg.values[op_hash] = (hlc, author, fw.value)
            reg.replaced.update(fw.replaces)
        if write.counter is not None and write.counter > acc.counter:
            acc.counter = write.counter

    def view(self, account: bytes) -> AccountView | None:
        """The account as shown, or None while it lacks the OTP parameters to show a code."""
        try:
            return self._views[account]
        except KeyError:
            view = self._views[account] = self._make_view(account)
            return view

    def _make_view(self, account: bytes) -> AccountView | None:
        acc = self.accounts.get(account)
        if acc is None:
            return None
        heads = {name: reg.heads() for name, reg in sorted(acc.registers.items())}
        if not heads.get("otp"):
            return None
        trash = heads.get("trash", ())

        def shown(name: str, default: Any) -> Any:
            h = heads.get(name)
            return h[0].value if h else default

        otp: OtpParams = heads["otp"][0].value
        return AccountView(
            id=acc.id,
            issuer=shown("issuer", ""),
            name=shown("name", ""),
            note=shown("note", ""),
            otp=otp,
            # A counter written to another kind (by an older version, or a peer that lies)
            # means nothing: it must not follow the account into an export or a new vault.
            counter=acc.counter if otp.kind is OtpKind.HOTP else 0,
            deleted=bool(trash) and all(h.value for h in trash),
            created_hlc=acc.created,
            updated_hlc=acc.updated,
            conflicts={n: h for n, h in heads.items() if n != "trash" and _disagree(h)},
            heads={n: tuple(x.op for x in h) for n, h in heads.items()},
        )

    def views(self) -> list[AccountView]:
        """Every showable account, trashed ones included, in a stable order."""
        if self._sorted is None:
            out = [v for a in self.accounts if (v := self.view(a)) is not None]
            out.sort(key=lambda v: (v.issuer.casefold(), v.name.casefold(), v.id))
            self._sorted = out
        return list(self._sorted)


def _disagree(heads: tuple[Head, ...]) -> bool:
    """Several heads that hold different values; equal concurrent writes agree."""
    return any(h.value != heads[0].value for h in heads[1:])
