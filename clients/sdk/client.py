"""The asynchronous client of the daemon's local REST API (specs/openapi.yaml)."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncGenerator
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import aiohttp
from yarl import URL

from .errors import (
    DaemonUnreachable,
    InvalidArgument,
    ProtocolMismatch,
    Unauthorized,
    error_for,
)
from .events import Event, SignInLink, read_events
from .home import Endpoint, load_endpoint, not_running, resolve_home
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
    parse_list,
)
from .transfers import Backup, Export, ImportReport

API_PREFIX = "/api/v1"
DEFAULT_TIMEOUT = 10.0
SLOW_TIMEOUT = 120.0
"""Imports and backups derive keys from passwords (up to seconds by design) and read files."""
_ID = re.compile(r"[0-9a-f]{4,32}")
_FIELD = re.compile(r"[a-z][a-z_]{0,63}")
_INVITATION_ID = re.compile(r"[0-9a-f]{16}")
_DEVICE_ID = re.compile(r"[0-9A-Za-z-]+")
DEVICE_ID_MIN = 4


def account_path(account_id: str, *rest: str) -> str:
    """The path of an account, refusing IDs that are not 4 to 32 hex digits before sending."""
    key = account_id.strip().lower()
    if not _ID.fullmatch(key):
        raise InvalidArgument(
            f"{account_id!r} is not an account ID: give 4 to 32 of its hex digits "
            "(twofold list shows them)"
        )
    return "/".join(["/accounts", key, *(quote(part, safe="") for part in rest)])


def invitation_path(invitation_id: str, *rest: str) -> str:
    """The path of an invitation, refusing IDs that are not 16 hex digits before sending."""
    key = invitation_id.strip().lower()
    if not _INVITATION_ID.fullmatch(key):
        raise InvalidArgument(f"{invitation_id!r} is not an invitation ID: give its 16 hex digits")
    return "/".join(["/invitations", key, *rest])


def device_path(device_id: str, *rest: str) -> str:
    """The path of a device, refusing what cannot be a device ID (or a start of at least 4 of
    its characters) before sending."""
    key = device_id.strip()
    if not _DEVICE_ID.fullmatch(key) or len(key.replace("-", "")) < DEVICE_ID_MIN:
        raise InvalidArgument(
            f"{device_id!r} is not a device ID: give it as shown (e.g. JD3A-ZZQ3-T5K3-7EJC), "
            "or at least its first 4 characters (twofold devices shows them)"
        )
    return "/".join(["/devices", key, *rest])


class AsyncClient:
    """Speaks the local REST API of the daemon of one home; use it as an async context manager."""

    def __init__(self, home: str | Path | None = None, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.home = resolve_home(home)
        self.timeout = timeout
        self._endpoint: Endpoint | None = None
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session; the client opens a new one if used again."""
        session, self._session = self._session, None
        self._endpoint = None
        if session is not None:
            await session.close()

    @property
    def endpoint(self) -> Endpoint:
        """The daemon's address and token, read from the home at first use."""
        if self._endpoint is None:
            self._endpoint = load_endpoint(self.home)
        return self._endpoint

    # -- the operations of specs/openapi.yaml, in its order -------------------------------

    async def status(self) -> Status:
        """getStatus: the daemon, this device and the vault at a glance."""
        return Status.from_json(await self._call("GET", "/status"))

    async def unlock(self, passphrase: str) -> LockState:
        """unlock: open the vault with this home's passphrase (it takes about half a second,
        right or wrong). WrongPassphrase if it is not the one; TooSoon, with its
        `retry_after` seconds, after wrong ones in a row. Unlocked already, or without a
        passphrase: unlocked, unchecked."""
        body = await self._call("POST", "/unlock", body={"passphrase": passphrase}, slow=True)
        return LockState.from_json(body)

    async def lock(self) -> LockState:
        """lock: close the vault now; NoPassphrase if this home has none to open it with."""
        return LockState.from_json(await self._call("POST", "/lock"))

    async def set_passphrase(self, passphrase: str, current: str | None = None) -> PassphraseState:
        """setPassphrase: put the vault under a passphrase (at least 10 characters), or
        change it, giving the `current` one. From then on the daemon starts locked and
        locks after `lock_after` minutes without use. WrongPassphrase (field "current") if
        `current` is not the one; Locked while locked. Forgotten, it cannot be recovered:
        the vault comes back only from another device or a backup."""
        body = _without_none({"passphrase": passphrase, "current": current})
        return PassphraseState.from_json(
            await self._call("PUT", "/passphrase", body=body, slow=True)
        )

    async def remove_passphrase(self, current: str) -> PassphraseState:
        """removePassphrase: take the passphrase away, given the `current` one; the vault
        then never locks. NoPassphrase if there is none; WrongPassphrase; Locked."""
        body = {"current": current}
        return PassphraseState.from_json(
            await self._call("POST", "/passphrase/remove", body=body, slow=True)
        )

    async def accounts(self, q: str | None = None) -> list[Account]:
        """listAccounts: accounts not in the trash, optionally those whose issuer/name has q."""
        body = await self._call("GET", "/accounts", params=_query(q))
        return parse_list("the account list", body, "accounts", Account.from_json)

    async def create_account_from_uri(
        self,
        uri: str,
        pin: str | None = None,
        note: str | None = None,
        *,
        allow_duplicate: bool = False,
    ) -> Account:
        """createAccount from an otpauth:// (or motp://) URI. The same account as one the vault
        holds is refused (ApiError, type urn:twofold:problem:duplicate-account, its `extra`
        naming the `existing` one) unless `allow_duplicate`."""
        body = _without_none(
            {"uri": uri, "pin": pin, "note": note, "allow_duplicate": allow_duplicate or None}
        )
        return Account.from_json(await self._call("POST", "/accounts", body=body))

    async def create_account(
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
        """createAccount from its fields; what is left None takes the daemon's default. A
        duplicate is refused as create_account_from_uri says, unless `allow_duplicate`."""
        body = _without_none(
            {
                "issuer": issuer,
                "name": name,
                "secret": secret,
                "kind": kind,
                "algorithm": algorithm,
                "digits": digits,
                "period": period,
                "counter": counter,
                "pin": pin,
                "note": note,
                "allow_duplicate": allow_duplicate or None,
            }
        )
        return Account.from_json(await self._call("POST", "/accounts", body=body))

    async def account(self, id: str) -> Account:
        """getAccount: one account by ID or unique prefix, in the trash or not."""
        return Account.from_json(await self._call("GET", account_path(id)))

    async def update_account(
        self,
        id: str,
        *,
        issuer: str | None = None,
        name: str | None = None,
        note: str | None = None,
        counter: int | None = None,
    ) -> Account:
        """updateAccount: each given field replaces every value shown for it."""
        body = _without_none({"issuer": issuer, "name": name, "note": note, "counter": counter})
        return Account.from_json(await self._call("PATCH", account_path(id), body=body))

    async def delete_account(self, id: str) -> Account:
        """deleteAccount: move to the trash, where it stays restorable."""
        return Account.from_json(await self._call("DELETE", account_path(id)))

    async def restore_account(self, id: str) -> Account:
        """restoreAccount: bring an account back from the trash."""
        return Account.from_json(await self._call("POST", account_path(id, "restore")))

    async def code(self, id: str) -> Code:
        """getCode: the current code of a time-based account."""
        return Code.from_json(await self._call("GET", account_path(id, "code")))

    async def next_code(self, id: str) -> Code:
        """nextHotpCode: the next HOTP code; the counter moves past it on every device."""
        return Code.from_json(await self._call("POST", account_path(id, "next-code")))

    async def resolve_conflict(self, id: str, field: str, choice: str) -> Account:
        """resolveConflict: keep the value whose `choice` this is."""
        if not _FIELD.fullmatch(field):
            raise InvalidArgument(f"{field!r} is not a field name (issuer, name, note or otp)")
        path = account_path(id, "conflicts", field)
        return Account.from_json(await self._call("POST", path, body={"choice": choice}))

    async def codes(self, q: str | None = None) -> list[Code]:
        """listCodes: the current code of every account not in the trash (None for HOTP)."""
        body = await self._call("GET", "/codes", params=_query(q))
        return parse_list("the code list", body, "codes", Code.from_json)

    async def trash(self) -> list[Account]:
        """listTrash: the accounts in the trash."""
        body = await self._call("GET", "/trash")
        return parse_list("the trash", body, "accounts", Account.from_json)

    async def conflicts(self) -> list[Conflict]:
        """listConflicts: every field that holds several concurrent values."""
        body = await self._call("GET", "/conflicts")
        return parse_list("the conflict list", body, "conflicts", Conflict.from_json)

    async def invitations(self) -> list[Invitation]:
        """listInvitations: the invitations this device opened, and what became of them."""
        body = await self._call("GET", "/invitations")
        return parse_list("the invitation list", body, "invitations", Invitation.from_json)

    async def open_invitation(self, ttl: int | None = None, accept: bool = False) -> Invitation:
        """openInvitation: invite a device into this vault for ttl seconds (the daemon's
        default when None). With accept, this side's yes is given as soon as a device's hello
        checks out; the device is added once its own person accepts too."""
        body: dict[str, Any] = {} if ttl is None else {"ttl": ttl}
        if accept:
            body["accept"] = True
        return Invitation.from_json(await self._call("POST", "/invitations", body=body))

    async def invitation(self, id: str) -> Invitation:
        """getInvitation: one invitation; its peer appears once a device answered it, and its
        error once it failed (or the other device declined)."""
        return Invitation.from_json(await self._call("GET", invitation_path(id)))

    async def cancel_invitation(self, id: str) -> Invitation:
        """cancelInvitation: close an invitation (or an offer)."""
        return Invitation.from_json(await self._call("DELETE", invitation_path(id)))

    async def accept_invitation(self, id: str) -> Invitation:
        """acceptInvitation: the codes match. The invitation reads `waiting` until the new
        device's person accepts too, then `accepted` once the device is added."""
        return Invitation.from_json(await self._call("POST", invitation_path(id, "accept")))

    async def decline_invitation(self, id: str) -> Invitation:
        """declineInvitation: the codes differ, or the device is not wanted; turn it away."""
        return Invitation.from_json(await self._call("POST", invitation_path(id, "decline")))

    async def joining(self) -> Joining:
        """getJoin: how joining is going, by a link (join) or by an offer (open_offer);
        NotFoundError if none started. Once `confirming`, its vault names the vault and its
        devices: check them and the code, then accept_join() or decline_join()."""
        return Joining.from_json(await self._call("GET", "/join"))

    async def join(self, link: str, accept: bool = False) -> Joining:
        """join: start joining the vault a twofold://pair/ link names; poll joining() after.
        With accept, this device's yes is given as soon as the exchange checks out, without
        its person checking the code and the vault (for scripts)."""
        body: dict[str, Any] = {"link": link}
        if accept:
            body["accept"] = True
        return Joining.from_json(await self._call("POST", "/join", body=body))

    async def accept_join(self) -> Joining:
        """acceptJoin: this device's person checked the code and the vault: join it. The join
        reads `waiting` until the member's person accepts too, then `syncing`, `joined`."""
        return Joining.from_json(await self._call("POST", "/join/accept"))

    async def decline_join(self) -> Joining:
        """declineJoin: the code or the vault is not the one expected; nothing is sent."""
        return Joining.from_json(await self._call("POST", "/join/decline"))

    async def cancel_join(self) -> Joining:
        """cancelJoin: stop joining; a pairing being decided is declined, so nothing is sent."""
        return Joining.from_json(await self._call("DELETE", "/join"))

    async def open_offer(self, ttl: int | None = None, accept: bool = False) -> Invitation:
        """openOffer (reverse flow): this device shows a link for a vault member to scan;
        follow it with joining(), and decide with accept_join() or decline_join(). With
        accept, this device's yes is given as soon as a member's hello checks out."""
        body: dict[str, Any] = {} if ttl is None else {"ttl": ttl}
        if accept:
            body["accept"] = True
        return Invitation.from_json(await self._call("POST", "/offers", body=body))

    async def pairing(self) -> Joining:
        """getPairing (reverse flow): how adding the device of a scanned offer is going."""
        return Joining.from_json(await self._call("GET", "/pair"))

    async def pair(self, link: str, accept: bool = False) -> Joining:
        """pairFromOffer (reverse flow): add the device whose offer link this is; with accept,
        this side's yes without waiting for accept_pairing(). Poll pairing() after."""
        body: dict[str, Any] = {"link": link}
        if accept:
            body["accept"] = True
        return Joining.from_json(await self._call("POST", "/pair", body=body))

    async def accept_pairing(self) -> Joining:
        """acceptPairing (reverse flow): the codes match. The pairing reads `waiting` until
        the new device's person accepts too, then `accepted` once the device is added."""
        return Joining.from_json(await self._call("POST", "/pair/accept"))

    async def decline_pairing(self) -> Joining:
        """declinePairing (reverse flow): turn the device away."""
        return Joining.from_json(await self._call("POST", "/pair/decline"))

    async def devices(self) -> list[Device]:
        """listDevices: every device ever in the vault, revoked ones included."""
        body = await self._call("GET", "/devices")
        return parse_list("the device list", body, "devices", Device.from_json)

    async def revoke_device(self, id: str) -> Device:
        """revokeDevice: remove a lost device (by ID as shown, or a unique start of at least 4
        characters) and rotate the vault key; it keeps what it has but gets nothing new."""
        return Device.from_json(await self._call("POST", device_path(id, "revoke")))

    async def rename_this_device(self, name: str) -> Device:
        """renameThisDevice: a new name for this device, which every member then shows."""
        return Device.from_json(await self._call("PATCH", "/devices/self", body={"name": name}))

    async def start_new_vault(self) -> NewVault:
        """startNewVault: for a device that was removed or whose vault closed, a new vault on
        this device with every account it shows; pair the other devices into it."""
        return NewVault.from_json(await self._call("POST", "/vault/new"))

    async def scan_qr(self, picture: bytes) -> list[str]:
        """scanQr: the texts of the QR codes in a picture, in reading order ([] if none)."""
        body = await self._call(
            "POST", "/qr/scan", body={"content": base64.b64encode(picture).decode("ascii")}
        )
        texts = body.get("texts") if isinstance(body, dict) else None
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise ProtocolMismatch("the daemon sent a QR scan without a list of texts")
        return list(texts)

    async def peers(self) -> list[Peer]:
        """listPeers: the other members, and how this device reaches them."""
        body = await self._call("GET", "/peers")
        return parse_list("the peer list", body, "peers", Peer.from_json)

    async def import_file(
        self,
        data: bytes | str,
        *,
        format: str | None = None,
        password: str | None = None,
        dry_run: bool = False,
    ) -> ImportReport:
        """importFile: add the accounts of another app's export (or of a Twofold backup) that
        the vault lacks. Text (URIs) may be given as str; files as bytes. The format is
        detected when not named; dry_run reports without changing anything."""
        body: dict[str, Any] = (
            {"text": data}
            if isinstance(data, str)
            else {"content": base64.b64encode(data).decode("ascii")}
        )
        body |= _without_none({"format": format, "password": password})
        if dry_run:
            body["dry_run"] = True
        answer = await self._call("POST", "/import", body=body, slow=True)
        return ImportReport.from_json(answer)

    async def export(self, format: str = "otpauth") -> Export:
        """exportAccounts: every account out of the trash with its secret in plaintext, as
        otpauth URIs or an Aegis vault. Handle the content as you would the secrets."""
        return Export.from_json(await self._call("POST", "/export", body={"format": format}))

    async def backup(self, *, passphrase: str | None = None, recovery_key: bool = False) -> Backup:
        """makeBackup: the whole vault sealed under a passphrase, or under a recovery key the
        daemon makes and returns once (write it down: nothing else opens the file)."""
        body: dict[str, Any] = (
            {"recovery_key": True} if recovery_key else _without_none({"passphrase": passphrase})
        )
        return Backup.from_json(await self._call("POST", "/backup", body=body, slow=True))

    async def sign_in_link(self) -> SignInLink:
        """createSignInLink: a one-time link for a browser, its ticket after the `#`. Whoever
        reads it can sign in once within a minute: hand it on privately (`twofold open` writes
        it into a 0600 file and opens that)."""
        return SignInLink.from_json(await self._call("POST", "/sessions"))

    async def events(self) -> AsyncGenerator[Event, None]:
        """streamEvents: live events for as long as the caller iterates (or the daemon runs).

        The first is `hello`; then accounts, devices, peers, sync, pairing and lock as they
        happen. The stream stays open while the vault is locked.
        A silence longer than three keep-alives (45 s) is a lost connection.
        """
        endpoint = self.endpoint
        url = _url(endpoint, "/events")
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.timeout, sock_read=45)
        headers = {"Authorization": f"Bearer {endpoint.token}", "Accept": "text/event-stream"}
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout, headers=headers) as session,
                session.get(url, allow_redirects=False) as resp,
            ):
                if resp.status != 200:
                    _decode("GET", "/events", resp, await resp.read())
                async for event in read_events(resp.content):
                    yield event
        except aiohttp.ClientConnectorError:
            raise not_running(self.home) from None
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise DaemonUnreachable(f"the event stream from the daemon broke off: {exc}") from exc

    # -- transport ------------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        slow: bool = False,
    ) -> Any:
        """Send one request and return its JSON body, or raise the error it stands for."""
        endpoint = self.endpoint
        if self._session is None:
            # trust_env stays False: a proxy from the environment must never see the token.
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers={"Authorization": f"Bearer {endpoint.token}"},
            )
        url = _url(endpoint, path)
        try:
            limit = aiohttp.ClientTimeout(total=max(SLOW_TIMEOUT if slow else 0, self.timeout))
            async with self._session.request(
                method, url, params=params, json=body, allow_redirects=False, timeout=limit
            ) as resp:
                raw = await resp.read()
                return _decode(method, path, resp, raw)
        except Unauthorized:
            await self.close()  # the daemon may have restarted with a new token: reread it
            raise
        except aiohttp.ClientConnectorError:
            await self.close()  # a daemon started later writes a new api.json: reread it
            raise not_running(self.home) from None
        except TimeoutError:
            raise DaemonUnreachable(
                f"the Twofold daemon at {endpoint.host}:{endpoint.port} did not answer "
                f"{method} {path} within {max(SLOW_TIMEOUT if slow else 0, self.timeout):g} s"
            ) from None
        except aiohttp.ClientError as exc:
            raise DaemonUnreachable(
                f"lost the connection to the Twofold daemon at {endpoint.host}:{endpoint.port}: "
                f"{exc}"
            ) from exc


def _url(endpoint: Endpoint, path: str) -> URL:
    base = URL.build(scheme="http", host=endpoint.host, port=endpoint.port)
    return base.with_path(API_PREFIX + path, encoded=True)


_PROBLEM_MEMBERS = frozenset({"type", "title", "status", "detail", "field"})


def _decode(method: str, path: str, resp: aiohttp.ClientResponse, raw: bytes) -> Any:
    """The JSON of a 2xx answer, or the ApiError its problem detail describes."""
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = None
    if resp.status >= 400:
        if isinstance(body, dict) and isinstance(body.get("detail"), str):
            field = body.get("field")
            raise error_for(
                resp.status,
                str(body.get("type", "about:blank")),
                str(body.get("title", resp.reason or "")),
                body["detail"],
                field if isinstance(field, str) else None,
                {k: v for k, v in body.items() if k not in _PROBLEM_MEMBERS},
                retry_after=resp.headers.get("Retry-After"),
            )
        text = raw.decode("utf-8", "replace").strip()[:200]
        detail = f"the daemon answered {method} {path} with HTTP {resp.status} {resp.reason}"
        if text:
            detail += f": {text}"
        raise error_for(
            resp.status,
            "about:blank",
            resp.reason or "",
            detail,
            retry_after=resp.headers.get("Retry-After"),
        )
    if not 200 <= resp.status < 300 or body is None:
        raise ProtocolMismatch(
            f"the daemon answered {method} {path} with HTTP {resp.status} and no JSON body"
        )
    return body


def _query(q: str | None) -> dict[str, str] | None:
    """The q parameter when there is one."""
    return None if q is None else {"q": q}


def _without_none(body: dict[str, Any]) -> dict[str, Any]:
    """A request body with the unset keys left out, since the API refuses unknown or null ones."""
    return {key: value for key, value in body.items() if value is not None}
