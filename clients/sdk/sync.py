"""The synchronous client: the async one run on a private event loop, for scripts and the CLI."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Coroutine, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from .client import DEFAULT_TIMEOUT, AsyncClient
from .events import Event, SignInLink
from .home import Endpoint
from .models import (
    Account,
    Code,
    Conflict,
    Device,
    Invitation,
    Joining,
    LockState,
    NewVault,
    PassphraseState,
    Peer,
    Status,
)
from .transfers import Backup, Export, ImportReport

T = TypeVar("T")


class Client:
    """Blocking twin of AsyncClient; not for use inside a running event loop (use that one)."""

    def __init__(self, home: str | Path | None = None, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._async = AsyncClient(home, timeout=timeout)
        self._runner: asyncio.Runner | None = None

    @property
    def home(self) -> Path:
        """The home whose daemon this client talks to."""
        return self._async.home

    @property
    def endpoint(self) -> Endpoint:
        """The daemon's address and token, read from the home at first use."""
        return self._async.endpoint

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP session and the private event loop."""
        runner, self._runner = self._runner, None
        if runner is not None:
            try:
                runner.run(self._async.close())
            finally:
                runner.close()

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run one call of the async client on this client's own loop."""
        if self._runner is None:
            self._runner = asyncio.Runner()
        return self._runner.run(coro)

    def status(self) -> Status:
        """getStatus: the daemon, this device and the vault at a glance."""
        return self._run(self._async.status())

    def unlock(self, passphrase: str) -> LockState:
        """unlock: open the vault with this home's passphrase; WrongPassphrase if it is not
        the one, TooSoon (see its `retry_after`) after wrong ones in a row."""
        return self._run(self._async.unlock(passphrase))

    def lock(self) -> LockState:
        """lock: close the vault now; NoPassphrase if this home has none to open it with."""
        return self._run(self._async.lock())

    def set_passphrase(self, passphrase: str, current: str | None = None) -> PassphraseState:
        """setPassphrase: put the vault under a passphrase, or change it, giving the
        `current` one. Forgotten, it cannot be recovered: the vault comes back only from
        another device or a backup."""
        return self._run(self._async.set_passphrase(passphrase, current))

    def remove_passphrase(self, current: str) -> PassphraseState:
        """removePassphrase: take the passphrase away, given the `current` one."""
        return self._run(self._async.remove_passphrase(current))

    def accounts(self, q: str | None = None) -> list[Account]:
        """listAccounts: accounts not in the trash, optionally those whose issuer/name has q."""
        return self._run(self._async.accounts(q))

    def create_account_from_uri(
        self,
        uri: str,
        pin: str | None = None,
        note: str | None = None,
        *,
        allow_duplicate: bool = False,
    ) -> Account:
        """createAccount from an otpauth:// (or motp://) URI; a duplicate only if allowed."""
        return self._run(
            self._async.create_account_from_uri(
                uri, pin=pin, note=note, allow_duplicate=allow_duplicate
            )
        )

    def create_account(
        self,
        *,
        secret: str,
        issuer: str | None = None,
        name: str | None = None,
        kind: str | None = None,
        algorithm: str | None = None,
        digits: int | None = None,
        period: int | None = None,
        counter: int | None = None,
        pin: str | None = None,
        note: str | None = None,
        allow_duplicate: bool = False,
    ) -> Account:
        """createAccount from its fields; what is left None takes the daemon's default; a
        duplicate only if allowed."""
        return self._run(
            self._async.create_account(
                secret=secret,
                issuer=issuer,
                name=name,
                kind=kind,
                algorithm=algorithm,
                digits=digits,
                period=period,
                counter=counter,
                pin=pin,
                note=note,
                allow_duplicate=allow_duplicate,
            )
        )

    def account(self, id: str) -> Account:
        """getAccount: one account by ID or unique prefix, in the trash or not."""
        return self._run(self._async.account(id))

    def update_account(
        self,
        id: str,
        *,
        issuer: str | None = None,
        name: str | None = None,
        note: str | None = None,
        counter: int | None = None,
    ) -> Account:
        """updateAccount: each given field replaces every value shown for it."""
        return self._run(
            self._async.update_account(id, issuer=issuer, name=name, note=note, counter=counter)
        )

    def delete_account(self, id: str) -> Account:
        """deleteAccount: move to the trash, where it stays restorable."""
        return self._run(self._async.delete_account(id))

    def restore_account(self, id: str) -> Account:
        """restoreAccount: bring an account back from the trash."""
        return self._run(self._async.restore_account(id))

    def code(self, id: str) -> Code:
        """getCode: the current code of a time-based account."""
        return self._run(self._async.code(id))

    def next_code(self, id: str) -> Code:
        """nextHotpCode: the next HOTP code; the counter moves past it on every device."""
        return self._run(self._async.next_code(id))

    def resolve_conflict(self, id: str, field: str, choice: str) -> Account:
        """resolveConflict: keep the value whose `choice` this is."""
        return self._run(self._async.resolve_conflict(id, field, choice))

    def codes(self, q: str | None = None) -> list[Code]:
        """listCodes: the current code of every account not in the trash (None for HOTP)."""
        return self._run(self._async.codes(q))

    def trash(self) -> list[Account]:
        """listTrash: the accounts in the trash."""
        return self._run(self._async.trash())

    def conflicts(self) -> list[Conflict]:
        """listConflicts: every field that holds several concurrent values."""
        return self._run(self._async.conflicts())

    def invitations(self) -> list[Invitation]:
        """listInvitations: the invitations this device opened, and what became of them."""
        return self._run(self._async.invitations())

    def open_invitation(self, ttl: int | None = None, accept: bool = False) -> Invitation:
        """openInvitation: invite a device into this vault for ttl seconds (the daemon's
        default when None). With accept, this side's yes is given as soon as a device's hello
        checks out; the device is added once its own person accepts too."""
        return self._run(self._async.open_invitation(ttl, accept=accept))

    def invitation(self, id: str) -> Invitation:
        """getInvitation: one invitation; its peer appears once a device answered it, and its
        error once it failed (or the other device declined)."""
        return self._run(self._async.invitation(id))

    def cancel_invitation(self, id: str) -> Invitation:
        """cancelInvitation: close an invitation (or an offer)."""
        return self._run(self._async.cancel_invitation(id))

    def accept_invitation(self, id: str) -> Invitation:
        """acceptInvitation: the codes match. The invitation reads `waiting` until the new
        device's person accepts too, then `accepted` once the device is added."""
        return self._run(self._async.accept_invitation(id))

    def decline_invitation(self, id: str) -> Invitation:
        """declineInvitation: the codes differ, or the device is not wanted; turn it away."""
        return self._run(self._async.decline_invitation(id))

    def joining(self) -> Joining:
        """getJoin: how joining is going, by a link (join) or by an offer (open_offer);
        NotFoundError if none started. Once `confirming`, its vault names the vault and its
        devices: check them and the code, then accept_join() or decline_join()."""
        return self._run(self._async.joining())

    def join(self, link: str, accept: bool = False) -> Joining:
        """join: start joining the vault a twofold://pair/ link names; poll joining() after.
        With accept, this device's yes is given as soon as the exchange checks out, without
        its person checking the code and the vault (for scripts)."""
        return self._run(self._async.join(link, accept=accept))

    def accept_join(self) -> Joining:
        """acceptJoin: this device's person checked the code and the vault: join it. The join
        reads `waiting` until the member's person accepts too, then `syncing`, `joined`."""
        return self._run(self._async.accept_join())

    def decline_join(self) -> Joining:
        """declineJoin: the code or the vault is not the one expected; nothing is sent."""
        return self._run(self._async.decline_join())

    def cancel_join(self) -> Joining:
        """cancelJoin: stop joining; a pairing being decided is declined, so nothing is sent."""
        return self._run(self._async.cancel_join())

    def open_offer(self, ttl: int | None = None, accept: bool = False) -> Invitation:
        """openOffer (reverse flow): this device shows a link for a vault member to scan;
        follow it with joining(), and decide with accept_join() or decline_join(). With
        accept, this device's yes is given as soon as a member's hello checks out."""
        return self._run(self._async.open_offer(ttl, accept=accept))

    def pairing(self) -> Joining:
        """getPairing (reverse flow): how adding the device of a scanned offer is going."""
        return self._run(self._async.pairing())

    def pair(self, link: str, accept: bool = False) -> Joining:
        """pairFromOffer (reverse flow): add the device whose offer link this is; with accept,
        this side's yes without waiting for accept_pairing(). Poll pairing() after."""
        return self._run(self._async.pair(link, accept=accept))

    def accept_pairing(self) -> Joining:
        """acceptPairing (reverse flow): the codes match. The pairing reads `waiting` until
        the new device's person accepts too, then `accepted` once the device is added."""
        return self._run(self._async.accept_pairing())

    def decline_pairing(self) -> Joining:
        """declinePairing (reverse flow): turn the device away."""
        return self._run(self._async.decline_pairing())

    def devices(self) -> list[Device]:
        """listDevices: every device ever in the vault, revoked ones included."""
        return self._run(self._async.devices())

    def revoke_device(self, id: str) -> Device:
        """revokeDevice: remove a lost device (by ID as shown, or a unique start of at least 4
        characters) and rotate the vault key; it keeps what it has but gets nothing new."""
        return self._run(self._async.revoke_device(id))

    def rename_this_device(self, name: str) -> Device:
        """renameThisDevice: a new name for this device, which every member then shows."""
        return self._run(self._async.rename_this_device(name))

    def start_new_vault(self) -> NewVault:
        """startNewVault: for a device that was removed or whose vault closed, a new vault on
        this device with every account it shows; pair the other devices into it."""
        return self._run(self._async.start_new_vault())

    def scan_qr(self, picture: bytes) -> list[str]:
        """scanQr: the texts of the QR codes in a picture, in reading order ([] if none)."""
        return self._run(self._async.scan_qr(picture))

    def peers(self) -> list[Peer]:
        """listPeers: the other members, and how this device reaches them."""
        return self._run(self._async.peers())

    def import_file(
        self,
        data: bytes | str,
        *,
        format: str | None = None,
        password: str | None = None,
        dry_run: bool = False,
    ) -> ImportReport:
        """importFile: add the accounts of another app's export (or of a Twofold backup) that
        the vault lacks; the format is detected when not named."""
        return self._run(
            self._async.import_file(data, format=format, password=password, dry_run=dry_run)
        )

    def export(self, format: str = "otpauth") -> Export:
        """exportAccounts: every account out of the trash with its secret, in plaintext."""
        return self._run(self._async.export(format))

    def backup(self, *, passphrase: str | None = None, recovery_key: bool = False) -> Backup:
        """makeBackup: the whole vault sealed under a passphrase or a new recovery key."""
        return self._run(self._async.backup(passphrase=passphrase, recovery_key=recovery_key))

    def sign_in_link(self) -> SignInLink:
        """createSignInLink: a one-time link for a browser, its ticket after the `#`. Whoever
        reads it can sign in once within a minute: hand it on privately (`twofold open` writes
        it into a 0600 file and opens that)."""
        return self._run(self._async.sign_in_link())

    def events(self) -> Iterator[Event]:
        """streamEvents: live events, blocking between them; stop iterating to disconnect."""
        stream = self._async.events()
        try:
            while True:
                try:
                    yield self._run(_next(stream))
                except StopAsyncIteration:
                    return
        finally:
            self._run(stream.aclose())


async def _next(stream: AsyncGenerator[Event, None]) -> Event:
    return await anext(stream)
