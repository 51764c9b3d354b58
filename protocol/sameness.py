"""When two accounts are the same account: the one rule for adding, importing, restoring and
joining, so a vault never lists one account twice unless a person asked for it.

Two accounts are the same when they have the same kind, the same secret and the same issuer
and name. The secret is compared as the key bytes, never as the text a person typed: base32
is read case-blind, with or without padding, spaces or hyphens (account.base32_secret), and a
Yandex secret with its checksum is cut to the 16 bytes that make codes. Issuer and name are
compared as they read: characters that hide or reorder text are left out (as the vault
writes them, account.visible_draft) and Unicode is normalised (NFC), so "é" typed as one
character or as e and an accent is the same name; case counts ("GitHub" is not "github"),
since a person may tell two accounts apart that way.

What does not count: the counter of an HOTP account (two copies of one HOTP account only
differ in how far each has counted), the note, the digits, period and algorithm (a copy
with one of them changed is still that secret at that service), and whether it is in the
trash.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Protocol, TypeVar

from .account import OtpKind, OtpParams
from .text import strip_hidden

AccountKey = tuple[OtpKind, bytes, str, str]
"""What makes an account itself: kind, secret bytes, issuer and name as they read."""


class Labelled(Protocol):
    """An account draft or an account view: anything with an issuer, a name and OTP params."""

    @property
    def issuer(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def otp(self) -> OtpParams: ...


class Held(Labelled, Protocol):
    """An account in a vault: it may be in the trash, and was made at some time."""

    @property
    def deleted(self) -> bool: ...

    @property
    def created_hlc(self) -> int: ...


H = TypeVar("H", bound=Held)


def _label(text: str) -> str:
    return unicodedata.normalize("NFC", strip_hidden(text).strip())


def account_key(account: Labelled) -> AccountKey:
    """The identity of an account: equal keys mean the same account."""
    return (account.otp.kind, account.otp.secret, _label(account.issuer), _label(account.name))


def same_account(a: Labelled, b: Labelled) -> bool:
    """Whether two accounts are the same account (see the module's rule)."""
    return account_key(a) == account_key(b)


def index(accounts: Iterable[H]) -> dict[AccountKey, H]:
    """The accounts a vault holds by identity. Where a person kept two copies of one account,
    the one shown is the copy out of the trash, else the oldest."""
    found: dict[AccountKey, H] = {}
    for account in accounts:
        key = account_key(account)
        held = found.get(key)
        if held is None or _rank(account) < _rank(held):
            found[key] = account
    return found


def find_same(accounts: Iterable[H], account: Labelled) -> H | None:
    """The account of `accounts` that is the same as `account`, chosen as `index` does; None
    if there is none. Only accounts with the same secret bytes are looked at closely."""
    secret = account.otp.secret
    return index(a for a in accounts if a.otp.secret == secret).get(account_key(account))


def _rank(account: Held) -> tuple[bool, int]:
    return (account.deleted, account.created_hlc)
