"""Errors of the daemon layer; the API maps them, with the protocol's, to problem details."""

from __future__ import annotations

from twofold.protocol.errors import TwofoldError


class DaemonError(TwofoldError):
    """Base of what the daemon raises on purpose."""


class HomeInUse(DaemonError):
    """Another daemon already runs on this home."""


class HomeUnsafe(DaemonError):
    """A file in the home that must be private is readable by others, or is not ours."""


class StorageFailed(DaemonError):
    """The database refused a write; the vault was reloaded from what is on disk."""


class StoreUnreadable(DaemonError):
    """The vault's database cannot be opened as this version's: the file is left as it was."""


class PeerRefused(DaemonError):
    """Another device answered, and refused (or answered what cannot be read): 502."""


class PeerUnreachable(DaemonError):
    """Another device could not be reached, or did not answer in time: 504."""


class Locked(DaemonError):
    """The vault is locked: nothing in it can be read or written until it is unlocked."""

    def __init__(self) -> None:
        super().__init__("the vault is locked: unlock it with its passphrase (twofold unlock)")


class NoPassphrase(DaemonError):
    """Locking, or removing a passphrase, asked of a home that has none."""

    def __init__(self) -> None:
        super().__init__(
            "this home has no passphrase, so its vault cannot lock: set one with "
            "twofold passphrase set"
        )


class BadRequest(DaemonError):
    """A request body or parameter the API cannot take; `field` names the input at fault."""

    def __init__(self, detail: str, field: str | None = None) -> None:
        self.detail = detail
        self.field = field
        super().__init__(detail)


class Ambiguous(BadRequest):
    """An ID prefix that matches several accounts."""


class NoCurrentCode(DaemonError):
    """A counter-based account has no current code; the next one must be asked for."""


class TooLarge(DaemonError):
    """A request body over the limit of its route."""

    def __init__(self, limit: int) -> None:
        self.detail = f"the request body is too large (at most {limit} bytes)"
        super().__init__(self.detail)


class DuplicateAccount(DaemonError):
    """The account to add is one the vault holds already (protocol/sameness.py), in the
    trash or not; `existing` is that account. The problem detail names it."""

    def __init__(self, account_id: str, issuer: str, name: str, trashed: bool) -> None:
        self.existing = {"id": account_id, "issuer": issuer, "name": name, "trashed": trashed}
        label = f"{issuer} ({name})" if issuer and name else issuer or name
        where = "in the trash" if trashed else "in the vault"
        self.detail = f"Already {where} as {label}, ID {account_id[:8]}."
        if trashed:
            self.detail += " Restore it from the trash rather than adding it again."
        super().__init__(self.detail)
