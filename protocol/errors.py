"""Every error the protocol core raises, in four families.

`InputError`: what a person or a file handed us is wrong; the message says
what to fix and names the field (4xx). `Refused`: the request is well formed,
but the vault's rules or where things stand refuse it (this device is not a
member, a device cannot remove itself, a pairing is past that step); nothing
changed (409). `OpRefused`: an op from a peer cannot be accepted; the vault is
left exactly as it was (it never reaches the local API: the session that
brought it counts it). `UsageError`: the caller (our own code) did something
the core does not allow; that is our bug (500). The daemon adds a fifth, a
remote device's refusal or absence (daemon/errors.py: 502 and 504), and maps
them all to problem details in one place.
"""

from __future__ import annotations


class TwofoldError(Exception):
    """Base of every error the protocol core raises on purpose."""


class InputError(TwofoldError):
    """Input from a person or an import is wrong; `field` names what to fix."""

    def __init__(self, field: str | None, detail: str) -> None:
        self.field = field
        self.detail = detail
        super().__init__(f"{field}: {detail}" if field else detail)


class InvalidAccount(InputError):
    """Account fields that cannot make a working authenticator entry."""


class InvalidUri(InputError):
    """An otpauth:// URI that cannot be read; the account is not created."""


class UsageError(TwofoldError):
    """The caller broke a rule of the core's API: a bug on our side."""


class Refused(TwofoldError):
    """The vault's rules, or where things stand, refuse the request; nothing changed."""


class VaultLocked(Refused):
    """An operation needs a vault key this device does not hold."""


class RemovedFromVault(VaultLocked):
    """This device was removed from the vault: what it writes counts nowhere."""

    def __init__(self, by: str, at_ms: int) -> None:
        self.by = by
        self.at_ms = at_ms
        super().__init__(
            f"this device was removed from the vault by {by}: what it writes would count "
            "nowhere. Its accounts stay readable here; pair it again as a new device, or "
            "start a new vault from it"
        )


class VaultClosed(VaultLocked):
    """Every device of the vault was removed (a removal cycle): nothing written counts."""

    def __init__(self) -> None:
        super().__init__(
            "the vault is closed: every device in it was removed. Its accounts stay "
            "readable; start a new vault from a device you hold and pair the others into it"
        )


class OpRefused(TwofoldError):
    """An op from a peer was refused; nothing in the vault changed."""


class MalformedOp(OpRefused):
    """The bytes are not a well-formed op: truncated, padded or undecodable."""


class OpTooLarge(OpRefused):
    """The op is longer than the protocol allows."""


class UnsupportedVersion(OpRefused):
    """The op's version byte is one this build does not speak."""


class WrongVault(OpRefused):
    """The op belongs to another vault."""


class BadSignature(OpRefused):
    """The op's Ed25519 signature does not verify under its author's key."""


class BrokenChain(OpRefused):
    """The op does not link to its author's previous op (hash or clock)."""


class NotAMember(OpRefused):
    """The author was never added to this vault."""


class UnknownEpoch(OpRefused):
    """The op names a key epoch that no membership op created."""


class ClockTooFarAhead(OpRefused):
    """The op's clock is further in the future than the protocol tolerates."""


class UndecryptableOp(OpRefused):
    """The payload does not decrypt under the epoch key it names: forged or corrupt."""


class MalformedPayload(OpRefused):
    """The op verified, but its payload does not make sense for its kind."""


class NotHeld(OpRefused):
    """An op that cannot be placed yet was not held back: nothing is wrong with it.

    It is dropped, not judged: the peer sends it again at the next exchange of
    vectors, and it is taken then.
    """


class PendingLimit(NotHeld):
    """Held-back ops already fill what the sender (or this device) may hold."""


class UnknownAuthor(NotHeld):
    """The op cannot be placed yet and its author's addition is neither here nor on the way
    from the same peer: holding it would let a member park ops of throwaway keys."""


class NotFound(TwofoldError):
    """No account, device or epoch has the ID the caller gave."""


class UnreadableImport(InputError):
    """A whole import file cannot be read: not the format, truncated, or too large."""

    def __init__(self, detail: str) -> None:
        super().__init__("file", detail)


class UnknownFormat(UnreadableImport):
    """No import format recognises the file; the caller may name one."""


class UnsafeKdfParameters(UnreadableImport):
    """A file asks for a key derivation costlier than any real app writes: a memory bomb."""


class PasswordRequired(InputError):
    """The file is encrypted and no password was given."""

    def __init__(self, detail: str = "the file is encrypted: give its password") -> None:
        super().__init__("password", detail)


class WrongPassword(InputError):
    """The password does not open the file. Nothing more is said, on purpose."""

    def __init__(self) -> None:
        super().__init__("password", "the password is wrong")
