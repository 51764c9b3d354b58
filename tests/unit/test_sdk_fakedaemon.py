"""A stand-in for the daemon's local REST API, so the SDK and the CLI can be tested alone.

It is not the daemon and holds no crypto: accounts live in a dict, codes are made up, and
it answers each route of specs/openapi.yaml with just enough behaviour (ID prefixes, the
trash, HOTP counters, a conflict, pairing played from a script, devices to list and revoke)
to show whether a client sends the right request and reads the answer right. It runs on
127.0.0.1, port 0, in a thread with its own event loop, so that the test's thread is free
to block: in asyncio.run for the AsyncClient, or in a call of the sync Client (which waits
for the loop it runs in a thread of its own). The integration tests in tests/integration
run the real daemon instead.

The test at the end keeps the stand-in honest: it serves exactly the spec's operations.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml
from aiohttp import web

SPEC = Path(__file__).resolve().parents[2] / "specs" / "openapi.yaml"
TOKEN = "ab" * 32
NOW = "2024-05-01T12:00:00Z"
LINK = "twofold://pair/AAAABBBBCCCCDDDD"
PHONE = {"name": "phone", "device": "PH0N-E2AA-BBCC-DDEE", "code": "123456"}
MEMBER = {"name": "laptop", "device": "JD3A-ZZQ3-T5K3-7EJC"}
VAULT = {"id": "0f" * 16, "devices": ["laptop", "phone"]}  # what the joining device is shown
OTHER_DECLINED = "the other device declined"  # the error of a pairing the other side declined
JOINED = [  # what GET /join shows, one step per read, the last one kept; it stays confirming
    # until this device decides (POST /join/accept plays the next step, waiting) or, joining
    # with accept, its daemon does
    {"state": "confirming", "code": "123456", "peer": MEMBER, "vault": VAULT},
    {"state": "waiting"},
    {"state": "syncing"},
    {"state": "joined", "brought": {"added": 2, "already_there": 3, "in_trash": 1}},
]
LATER = "2024-05-02T08:30:00Z"
LAPTOP_ID, PHONE_ID = MEMBER["device"], PHONE["device"]
TABLET_ID, WATCH_ID = "TB7Q-K2MA-4XRD-6YEW", "WA5C-H3LN-QQ2Z-JUTA"
GONE_ID = "GN4X-AAAA-BBBB-CCCC"  # added the watch, yet is not in the list
DEVICES = [  # what GET /devices shows, in the daemon's order (by ID)
    {"id": LAPTOP_ID, "name": "laptop", "added_by": None, "added_at": NOW,
     "this_device": True, "revoked": False, "removed_by": None, "removed_at": None,
     "forked": False, "connected": False, "last_seen": None, "last_sync": None,
     "last_write": NOW},
    {"id": PHONE_ID, "name": "phone", "added_by": LAPTOP_ID, "added_at": NOW,
     "this_device": False, "revoked": False, "removed_by": None, "removed_at": None,
     "forked": False, "connected": True, "last_seen": LATER, "last_sync": LATER,
     "last_write": LATER},
    {"id": TABLET_ID, "name": "tablet", "added_by": LAPTOP_ID, "added_at": None,
     "this_device": False, "revoked": True, "removed_by": LAPTOP_ID, "removed_at": NOW,
     "forked": False, "connected": False, "last_seen": NOW, "last_sync": NOW,
     "last_write": NOW},
    {"id": WATCH_ID, "name": "watch", "added_by": GONE_ID, "added_at": LATER,
     "this_device": False, "revoked": False, "removed_by": None, "removed_at": None,
     "forked": False, "connected": False, "last_seen": LATER, "last_sync": None,
     "last_write": None},
]  # fmt: skip
MEMBER_STANDING = {
    "state": "member", "closed": False, "removed_by": None, "removed_at": None, "forked": []
}  # fmt: skip
PEERS = [  # what GET /peers shows: the members other than this device
    {"device": PHONE_ID, "name": "phone", "address": "192.168.1.20:7700", "found_by": "pairing",
     "connected": True, "last_seen": LATER, "last_sync": LATER, "lacks": 0,
     "lacks_exact": True, "lacks_known_at": LATER},
    {"device": WATCH_ID, "name": "watch", "address": None, "found_by": None,
     "connected": False, "last_seen": None, "last_sync": None, "lacks": None,
     "lacks_exact": False, "lacks_known_at": None},
]  # fmt: skip
Json = dict[str, Any]


@dataclass
class Seen:
    """One request as the stand-in received it."""

    method: str
    path: str
    query: dict[str, str]
    authorization: str | None
    body: Any


class Problem(Exception):
    """An RFC 9457 answer the handlers raise."""

    def __init__(self, status: int, slug: str, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.body: Json = {
            "type": f"urn:twofold:problem:{slug}",
            "title": slug.replace("-", " ").capitalize(),
            "status": status,
            "detail": detail,
        }
        if field is not None:
            self.body["field"] = field
        self.headers: dict[str, str] = {}


def problem_response(
    status: int, body: Json, headers: dict[str, str] | None = None
) -> web.Response:
    """A problem detail with its media type."""
    return web.Response(
        status=status,
        text=json.dumps(body),
        content_type="application/problem+json",
        headers=headers,
    )


@dataclass
class FakeDaemon:
    """The stand-in: state in memory, every request logged, canned answers on demand."""

    home: Path
    token: str = TOKEN
    accounts: dict[str, Json] = field(default_factory=dict)
    # account ID: the secret it was added with through POST /accounts
    secrets: dict[str, str] = field(default_factory=dict)
    conflicts: list[Json] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    canned: dict[tuple[str, str], web.Response] = field(default_factory=dict)
    delay: float = 0.0
    port: int = 0
    # pairing: an open invitation is answered by `peer` on its `answer_after`-th read, or
    # ends as `invitation_end` instead (say "expired", with `invitation_error`). Once this
    # side said yes (accept, or opened with accept: its daemon says it one read later) it
    # is "waiting", and the next read has the other side decide: `other_side` is
    # "accepted", "declined" or another end (say "failed", with `other_error`). A join walks
    # through `join_steps`.
    invitations: dict[str, Json] = field(default_factory=dict)
    peer: Json = field(default_factory=lambda: dict(PHONE))
    answer_after: int = 1
    invitation_end: str | None = None
    invitation_error: str | None = None
    other_side: str = "accepted"
    other_error: str | None = None
    joining: Json | None = None
    join_steps: list[Json] = field(default_factory=lambda: [dict(s) for s in JOINED])
    scanning: Json | None = None  # the reverse flow: a member adding the device of an offer
    # ...which by default answers at once; with `scan_steps`, POST /pair answers "connecting"
    # and each GET /pair plays one step, the last one kept; then `other_side` decides.
    scan_steps: list[Json] | None = None
    _scan_step: int = 0
    _scan_accept: bool = False
    devices: list[Json] = field(default_factory=lambda: [dict(d) for d in DEVICES])
    peers: list[Json] = field(default_factory=lambda: [dict(p) for p in PEERS])
    standing: Json = field(default_factory=lambda: dict(MEMBER_STANDING))
    events: list[str] = field(default_factory=list)  # raw text/event-stream after the hello
    # passphrase mode: with a `passphrase` the vault may be `locked`, and then every route
    # but those of LOCKED_OPEN answers 423; `wait` > 0 answers an unlock or a passphrase
    # change 429 too-soon, as after wrong passphrases in a row (it never counts them itself)
    passphrase: str | None = None
    locked: bool = False
    lock_after: int = 15
    wait: int = 0
    _pairing: dict[str, Json] = field(default_factory=dict)
    _join_step: int = 0
    _join_accept: bool = False  # joining with accept: the daemon says this device's yes
    _join_decided: bool = False
    _next: int = 1
    _thread: threading.Thread | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _stop: asyncio.Event | None = None

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Serve in a thread and write api.json and api.token into the home."""
        ready = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(ready),))
        self._thread.start()
        if not ready.wait(5):
            raise RuntimeError("the stand-in daemon did not start")

    def stop(self) -> None:
        """Stop serving, remove api.json as the daemon does, and join the thread."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(5)
            assert not self._thread.is_alive()
        (self.home / "api.json").unlink(missing_ok=True)

    async def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        runner = web.AppRunner(self.app())
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        self.port = runner.addresses[0][1]
        self.home.mkdir(parents=True, exist_ok=True)
        info = {"host": "127.0.0.1", "port": self.port, "pid": os.getpid(), "version": "0.1.0"}
        (self.home / "api.json").write_text(json.dumps(info))
        (self.home / "api.token").write_text(self.token + "\n")
        ready.set()
        try:
            await self._stop.wait()
        finally:
            await runner.cleanup()

    def app(self) -> web.Application:
        """The routes of specs/openapi.yaml under /api/v1."""
        app = web.Application(middlewares=[self._middleware])
        r = app.router
        p = "/api/v1"
        r.add_get(p + "/status", self.get_status)
        r.add_get(p + "/accounts", self.list_accounts)
        r.add_post(p + "/accounts", self.create_account)
        r.add_get(p + "/accounts/{id}", self.get_account)
        r.add_patch(p + "/accounts/{id}", self.update_account)
        r.add_delete(p + "/accounts/{id}", self.delete_account)
        r.add_post(p + "/accounts/{id}/restore", self.restore_account)
        r.add_get(p + "/accounts/{id}/code", self.get_code)
        r.add_post(p + "/accounts/{id}/next-code", self.next_code)
        r.add_post(p + "/accounts/{id}/conflicts/{field}", self.resolve_conflict)
        r.add_get(p + "/codes", self.list_codes)
        r.add_get(p + "/trash", self.list_trash)
        r.add_get(p + "/conflicts", self.list_conflicts)
        r.add_get(p + "/invitations", self.list_invitations)
        r.add_post(p + "/invitations", self.open_invitation)
        r.add_get(p + "/invitations/{id}", self.get_invitation)
        r.add_delete(p + "/invitations/{id}", self.cancel_invitation)
        r.add_post(p + "/invitations/{id}/accept", self.accept_invitation)
        r.add_post(p + "/invitations/{id}/decline", self.decline_invitation)
        r.add_get(p + "/join", self.get_join)
        r.add_post(p + "/join", self.join)
        r.add_post(p + "/join/accept", self.accept_join)
        r.add_post(p + "/join/decline", self.decline_join)
        r.add_delete(p + "/join", self.cancel_join)
        r.add_post(p + "/offers", self.open_offer)
        r.add_post(p + "/qr/scan", self.scan_qr)
        r.add_get(p + "/pair", self.get_pair)
        r.add_post(p + "/pair", self.pair)
        r.add_post(p + "/pair/accept", self.accept_pair)
        r.add_post(p + "/pair/decline", self.decline_pair)
        r.add_get(p + "/devices", self.list_devices)
        r.add_post(p + "/devices/{id}/revoke", self.revoke_device)
        r.add_patch(p + "/devices/self", self.rename_this_device)
        r.add_get(p + "/peers", self.list_peers)
        r.add_post(p + "/vault/new", self.start_new_vault)
        r.add_post(p + "/import", self.import_file)
        r.add_post(p + "/export", self.export)
        r.add_post(p + "/backup", self.backup)
        r.add_post(p + "/sessions", self.create_sign_in)
        r.add_get(p + "/session", self.get_session)
        r.add_delete(p + "/session", self.end_session)
        r.add_get(p + "/events", self.stream_events)
        r.add_post(p + "/unlock", self.unlock)
        r.add_post(p + "/lock", self.lock)
        r.add_put(p + "/passphrase", self.set_passphrase)
        r.add_post(p + "/passphrase/remove", self.remove_passphrase)
        return app

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        raw = await request.read()
        self.seen.append(
            Seen(
                request.method,
                request.path,
                dict(request.query),
                request.headers.get("Authorization"),
                json.loads(raw) if raw else None,
            )
        )
        if self.delay:
            await asyncio.sleep(self.delay)
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return problem_response(401, Problem(401, "unauthorized", "bad token").body)
        canned = self.canned.pop((request.method, request.path), None)
        if canned is not None:
            return canned
        if self.locked and request.path.removeprefix("/api/v1") not in LOCKED_OPEN:
            return problem_response(423, LOCKED_PROBLEM)
        try:
            return await handler(request)
        except Problem as exc:
            return problem_response(exc.body["status"], exc.body, exc.headers)

    # -- state helpers -------------------------------------------------------------------

    def add(self, issuer: str, name: str, kind: str = "totp", **extra: Any) -> Json:
        """Put an account in the vault directly, as if another device had added it."""
        account_id = hashlib.md5(f"{self._next}".encode(), usedforsecurity=False).hexdigest()
        self._next += 1
        account: Json = {
            "id": account_id,
            "issuer": issuer,
            "name": name,
            "note": "",
            "kind": kind,
            "algorithm": "SHA1",
            "digits": 6,
            "period": 30,
            "counter": 0,
            "has_pin": False,
            "deleted": False,
            "conflicts": [],
            "created_at": NOW,
            "updated_at": NOW,
        }
        account.update(extra)
        self.accounts[account_id] = account
        return account

    def add_conflict(self, account: Json, field: str, values: list[str]) -> Json:
        """Make a field hold several values, the first shown."""
        conflict = {
            "account_id": account["id"],
            "issuer": account["issuer"],
            "name": account["name"],
            "field": field,
            "values": [
                {"choice": f"c{i}", "value": v, "device": f"DEV{i}-AAAA", "written_at": NOW}
                for i, v in enumerate(values)
            ],
        }
        self.conflicts.append(conflict)
        account["conflicts"].append(field)
        account[field] = values[0]
        return conflict

    def invite(self, state: str = "open", peer: Json | None = None, accept: bool = False) -> Json:
        """Open an invitation directly, as POST /invitations does (without its QR codes)."""
        invitation_id = f"{len(self.invitations) + 1:016x}"
        invitation: Json = {
            "id": invitation_id,
            "link": f"{LINK}{invitation_id}",
            "expires_at": NOW,
            "state": state,
            "peer": peer,
            "error": None,
            "declined_by": None,
        }
        self.invitations[invitation_id] = invitation
        self._pairing[invitation_id] = {"reads": 0, "accept": accept}
        return invitation

    def start_join(self, state: str = "connecting", accept: bool = False, at: int = 0) -> Json:
        """Begin joining, as POST /join (or, showing, POST /offers) does: the steps play
        from the first, or from step `at` with the steps before it played already."""
        self.joining = {
            "state": state, "code": None, "peer": None, "vault": None, "error": None,
            "declined_by": None, "brought": None,
        }  # fmt: skip
        self._join_step = 0
        self._join_accept, self._join_decided = accept, False
        for _ in range(at):
            self._play_join()
        return self.joining

    def _play_join(self) -> None:
        """The next step of the join, if any is left and the join has not ended."""
        assert self.joining is not None
        ended = self.joining["state"] in ("joined", "declined", "failed", "cancelled", "expired")
        if self._join_step < len(self.join_steps) and not ended:
            self.joining.update(self.join_steps[self._join_step])
            self._join_step += 1

    def other_decides(self, pairing: Json) -> None:
        """The other side's person answers this side's yes, as `other_side` says."""
        declined = self.other_side == "declined"
        error = OTHER_DECLINED if declined else self.other_error
        pairing.update(
            state=self.other_side, error=error, declined_by="the other device" if declined else None
        )

    def invitation_of(self, request: web.Request, *states: str) -> Json:
        invitation = self.invitations.get(request.match_info["id"])
        if invitation is None:
            raise Problem(404, "not-found", f"no open invitation {request.match_info['id']}")
        if states and invitation["state"] not in states:
            raise Problem(400, "bad-request", f"the invitation is {invitation['state']}")
        return invitation

    def find(self, request: web.Request) -> Json:
        prefix = request.match_info["id"]
        hits = [a for k, a in self.accounts.items() if k.startswith(prefix)]
        if not hits:
            raise Problem(404, "no-account", f"no account has an ID starting with {prefix}")
        if len(hits) > 1:
            raise Problem(409, "ambiguous-id", f"{prefix} starts several IDs; give more digits")
        return hits[0]

    def device_of(self, request: web.Request) -> Json:
        """A device by its ID as shown or a unique start of it, compared as the daemon does."""
        text = request.match_info["id"]
        wanted = text.replace("-", "").upper()
        if len(wanted) < 4:
            raise Problem(400, "bad-request", "give at least 4 characters of the device ID", "id")
        hits = [d for d in self.devices if d["id"].replace("-", "").startswith(wanted)]
        if not hits:
            raise Problem(404, "not-found", f"no device has an ID starting with {text}")
        if len(hits) > 1:
            raise Problem(409, "ambiguous-id", f"{len(hits)} devices have IDs starting with {text}")
        return hits[0]

    def code_of(self, account: Json, counter: int | None = None) -> Json:
        digits = account["digits"]
        step = counter if counter is not None else int(time.time()) // account["period"]
        value = int(hashlib.sha256(f"{account['id']}{step}".encode()).hexdigest(), 16)
        base: Json = {k: account[k] for k in ("issuer", "name", "kind")}
        base["account_id"] = account["id"]
        if counter is not None:
            return base | {
                "code": f"{value % 10**digits:0{digits}d}",
                "counter": counter,
                "valid_from": None,
                "valid_until": None,
                "seconds_left": None,
            }
        start = step * account["period"]
        return base | {
            "code": f"{value % 10**digits:0{digits}d}",
            "counter": None,
            "valid_from": start,
            "valid_until": start + account["period"],
            "seconds_left": start + account["period"] - int(time.time()),
        }

    async def body(self, request: web.Request, allowed: set[str]) -> Json:
        body = await request.json()
        for key in body:
            if key not in allowed:
                raise Problem(400, "unknown-field", f"{key} is not a field of this request", key)
        return dict(body)

    def listed(self, request: web.Request, deleted: bool) -> list[Json]:
        q = request.query.get("q", "").casefold()
        found = [
            a
            for a in self.accounts.values()
            if a["deleted"] == deleted
            and (q in a["issuer"].casefold() or q in a["name"].casefold())
        ]
        return sorted(found, key=lambda a: (a["issuer"].casefold(), a["name"].casefold()))

    # -- handlers ------------------------------------------------------------------------

    async def get_status(self, request: web.Request) -> web.Response:
        live = [a for a in self.accounts.values() if not a["deleted"]]
        lock_after = self.lock_after if self.passphrase is not None else 0
        if self.locked:
            return web.json_response(
                {
                    "version": "0.1.0",
                    "locked": True,
                    "passphrase": True,
                    "lock_after": lock_after,
                    "device": {"name": "laptop"},
                    "started_at": NOW,
                }
            )
        return web.json_response(
            {
                "version": "0.1.0",
                "device": {"id": "JD3A-ZZQ3-T5K3-7EJC", "name": "laptop"},
                "vault": {"id": "0f" * 16},
                "accounts": len(live),
                "trash": len(self.accounts) - len(live),
                "conflicts": len({c["account_id"] for c in self.conflicts}),
                "members": 2,
                "standing": self.standing,
                "started_at": NOW,
                "locked": False,
                "passphrase": self.passphrase is not None,
                "lock_after": lock_after,
            }
        )

    async def list_accounts(self, request: web.Request) -> web.Response:
        return web.json_response({"accounts": self.listed(request, deleted=False)})

    async def create_account(self, request: web.Request) -> web.Response:
        raw = await request.json()
        if "uri" in raw:
            body = await self.body(request, {"uri", "pin", "note", "allow_duplicate"})
            parts = urlsplit(body["uri"])
            params = {k: v[0] for k, v in parse_qs(parts.query).items()}
            if parts.scheme != "otpauth" or "secret" not in params:
                raise Problem(400, "invalid-uri", "that is not an otpauth:// URI", "uri")
            issuer, _, name = unquote(parts.path[1:]).rpartition(":")
            issuer, kind, secret = params.get("issuer", issuer), parts.netloc, params["secret"]
            self.refuse_duplicate(body, (kind, secret, issuer, name))
            account = self.add(issuer, name, kind)
        else:
            fields = {"issuer", "name", "secret", "kind", "algorithm", "digits", "period"}
            body = await self.body(request, fields | {"counter", "pin", "note", "allow_duplicate"})
            if "secret" not in body:
                raise Problem(400, "missing-field", "give the secret", "secret")
            extra = {k: body[k] for k in ("algorithm", "digits", "period", "counter") if k in body}
            issuer, name, kind = (
                body.get("issuer", ""),
                body.get("name", ""),
                body.get("kind", "totp"),
            )
            secret = body["secret"]
            self.refuse_duplicate(body, (kind, secret, issuer, name))
            account = self.add(issuer, name, kind, **extra)
        self.secrets[account["id"]] = secret
        account["note"] = body.get("note", "")
        account["has_pin"] = "pin" in body
        location = f"/api/v1/accounts/{account['id']}"
        return web.json_response(account, status=201, headers={"Location": location})

    def refuse_duplicate(self, body: Json, key: tuple[str, str, str, str]) -> None:
        """409 duplicate-account, as the daemon answers, for an account added before with the
        same kind, secret (its text, upper case without spaces), issuer and name."""
        if body.get("allow_duplicate"):
            return
        kind, secret, issuer, name = key
        for account_id, held in self.secrets.items():
            same = self.accounts[account_id]
            if (same["kind"], same["issuer"], same["name"]) == (kind, issuer, name) and (
                held.upper().replace(" ", "") == secret.upper().replace(" ", "")
            ):
                place = "trash" if same["deleted"] else "vault"
                problem = Problem(409, "duplicate-account", f"Already in the {place} as {name}.")
                problem.body["existing"] = {
                    "id": account_id,
                    "issuer": issuer,
                    "name": name,
                    "trashed": same["deleted"],
                }
                raise problem

    async def get_account(self, request: web.Request) -> web.Response:
        return web.json_response(self.find(request))

    async def update_account(self, request: web.Request) -> web.Response:
        account = self.find(request)
        body = await self.body(request, {"issuer", "name", "note", "counter"})
        if not body:
            raise Problem(400, "empty-patch", "give at least one field to change")
        account.update(body)
        return web.json_response(account)

    async def delete_account(self, request: web.Request) -> web.Response:
        account = self.find(request)
        account["deleted"] = True
        return web.json_response(account)

    async def restore_account(self, request: web.Request) -> web.Response:
        account = self.find(request)
        account["deleted"] = False
        return web.json_response(account)

    async def get_code(self, request: web.Request) -> web.Response:
        account = self.find(request)
        if account["kind"] == "hotp":
            raise Problem(409, "hotp-account", "HOTP accounts have no current code")
        return web.json_response(self.code_of(account))

    async def next_code(self, request: web.Request) -> web.Response:
        account = self.find(request)
        if account["kind"] != "hotp":
            raise Problem(409, "not-hotp", "only HOTP accounts have a next code")
        account["counter"] += 1
        return web.json_response(self.code_of(account, account["counter"]))

    async def resolve_conflict(self, request: web.Request) -> web.Response:
        account = self.find(request)
        field = request.match_info["field"]
        choice = (await self.body(request, {"choice"}))["choice"]
        for conflict in self.conflicts:
            if conflict["account_id"] == account["id"] and conflict["field"] == field:
                for value in conflict["values"]:
                    if value["choice"] == choice:
                        account[field] = value["value"]
                        account["conflicts"].remove(field)
                        self.conflicts.remove(conflict)
                        return web.json_response(account)
                raise Problem(400, "no-such-choice", f"{choice} is not a choice", "choice")
        raise Problem(404, "no-conflict", f"the {field} of this account has no conflict")

    async def list_codes(self, request: web.Request) -> web.Response:
        codes = []
        for account in self.listed(request, deleted=False):
            code = self.code_of(account)
            if account["kind"] == "hotp":
                code |= {"code": None, "counter": account["counter"]}
                code |= dict.fromkeys(("valid_from", "valid_until", "seconds_left"))
            codes.append(code)
        return web.json_response({"codes": codes})

    async def list_trash(self, request: web.Request) -> web.Response:
        return web.json_response({"accounts": self.listed(request, deleted=True)})

    async def list_conflicts(self, request: web.Request) -> web.Response:
        return web.json_response({"conflicts": self.conflicts})

    async def list_invitations(self, request: web.Request) -> web.Response:
        return web.json_response({"invitations": list(self.invitations.values())})

    async def open_invitation(self, request: web.Request) -> web.Response:
        body = await self.body(request, {"ttl", "accept"}) if request.body_exists else {}
        if not 60 <= body.get("ttl", 600) <= 3600:
            raise Problem(400, "bad-request", "ttl must be between 60 and 3600 seconds", "ttl")
        invitation = self.invite(accept=body.get("accept", False))
        return web.json_response(invitation | QR, status=201)

    async def get_invitation(self, request: web.Request) -> web.Response:
        invitation = self.invitation_of(request)
        plan = self._pairing[invitation["id"]]
        if invitation["state"] == "open":
            plan["reads"] += 1
            if plan["reads"] >= self.answer_after:
                if self.invitation_end is not None:
                    invitation.update(state=self.invitation_end, error=self.invitation_error)
                else:
                    invitation.update(state="confirming", peer=dict(self.peer))
        elif invitation["state"] == "confirming" and plan["accept"]:
            invitation["state"] = "waiting"
        elif invitation["state"] == "waiting":
            self.other_decides(invitation)
        return web.json_response(invitation | QR)

    async def cancel_invitation(self, request: web.Request) -> web.Response:
        invitation = self.invitation_of(request)
        if invitation["state"] in ("open", "confirming", "waiting"):
            invitation["state"] = "cancelled"
        return web.json_response(invitation)

    async def accept_invitation(self, request: web.Request) -> web.Response:
        invitation = self.invitation_of(request, "confirming")
        invitation["state"] = "waiting"
        return web.json_response(invitation)

    async def decline_invitation(self, request: web.Request) -> web.Response:
        invitation = self.invitation_of(request, "confirming")
        invitation.update(state="declined", declined_by="this device")
        return web.json_response(invitation)

    def joined_so_far(self, *states: str) -> Json:
        if self.joining is None:
            raise Problem(409, "not-allowed", "this device is not joining a vault")
        if states and self.joining["state"] not in states:
            raise Problem(
                409,
                "not-allowed",
                f"the pairing is {self.joining['state']}: there is nothing to decide",
            )
        return self.joining

    async def get_join(self, request: web.Request) -> web.Response:
        if self.joining is None:
            raise Problem(404, "not-found", "this device is not joining a vault")
        undecided = self.joining["state"] == "confirming" and not self._join_decided
        if not undecided or self._join_accept:
            self._join_decided = self._join_decided or self.joining["state"] == "confirming"
            self._play_join()
        return web.json_response(self.joining)

    async def join(self, request: web.Request) -> web.Response:
        body = await self.body(request, {"link", "accept"})
        link = body.get("link")
        if not isinstance(link, str) or not link.startswith("twofold://pair/"):
            raise Problem(400, "bad-request", "that is not a twofold://pair/ link", "link")
        return web.json_response(self.start_join(accept=body.get("accept", False)), status=202)

    async def accept_join(self, request: web.Request) -> web.Response:
        joining = self.joined_so_far("confirming")
        self._join_decided = True
        self._play_join()
        return web.json_response(joining)

    async def decline_join(self, request: web.Request) -> web.Response:
        joining = self.joined_so_far("confirming", "waiting")
        self._join_decided = True
        self._join_step = len(self.join_steps)  # the join ends here
        joining.update(state="declined", declined_by="this device")
        return web.json_response(joining)

    async def cancel_join(self, request: web.Request) -> web.Response:
        joining = self.joined_so_far()
        if joining["state"] in ("confirming", "waiting"):
            return await self.decline_join(request)
        if joining["state"] in ("connecting", "showing"):
            self._join_step = len(self.join_steps)
            joining["state"] = "cancelled"
        return web.json_response(joining)

    async def scan_qr(self, request: web.Request) -> web.Response:
        body = await self.body(request, {"content"})
        if not isinstance(body.get("content"), str):
            raise Problem(400, "bad-request", "content must be standard base64", "content")
        return web.json_response({"texts": [LINK] if body["content"] else []})

    # the reverse flow: the newcomer offers a link, a member scans it with POST /pair

    async def open_offer(self, request: web.Request) -> web.Response:
        body = await self.body(request, {"ttl", "accept"}) if request.body_exists else {}
        if not 5 <= body.get("ttl", 600) <= 3600:
            raise Problem(400, "bad-request", "ttl must be between 5 and 3600 seconds", "ttl")
        offer = self.invite()
        self.start_join("showing", accept=body.get("accept", False))
        return web.json_response(offer | QR, status=201)

    async def pair(self, request: web.Request) -> web.Response:
        body = await self.body(request, {"link", "accept"})
        if not str(body.get("link", "")).startswith("twofold://pair/"):
            raise Problem(400, "bad-request", "that is not a twofold://pair/ link", "link")
        peer = {k: self.peer[k] for k in ("name", "device")}
        self._scan_accept = bool(body.get("accept"))
        state = "waiting" if self._scan_accept else "confirming"
        self.scanning = {
            "state": state, "code": self.peer["code"], "peer": peer, "vault": None, "error": None,
            "declined_by": None, "brought": None,
        }  # fmt: skip
        if self.scan_steps is not None:
            self.scanning.update(state="connecting", code=None, peer=None)
            self._scan_step = 0
        return web.json_response(self.scanning, status=202)

    def scanned(self, *states: str) -> Json:
        if self.scanning is None:
            raise Problem(404, "not-found", "this device is not adding a device")
        if states and self.scanning["state"] not in states:
            raise Problem(400, "bad-request", f"the pairing is {self.scanning['state']}")
        self.scanning.setdefault("brought", None)  # a test may set one without it
        return self.scanning

    async def get_pair(self, request: web.Request) -> web.Response:
        scanning = self.scanned()
        if self.scan_steps is not None and self._scan_step < len(self.scan_steps):
            scanning.update(self.scan_steps[self._scan_step])
            self._scan_step += 1
        elif scanning["state"] == "confirming" and self._scan_accept:
            scanning["state"] = "waiting"
        elif scanning["state"] == "waiting":
            self.other_decides(scanning)
        return web.json_response(scanning)

    async def accept_pair(self, request: web.Request) -> web.Response:
        scanning = self.scanned("confirming")
        scanning["state"] = "waiting"
        return web.json_response(scanning)

    async def decline_pair(self, request: web.Request) -> web.Response:
        scanning = self.scanned("confirming")
        scanning.update(state="declined", declined_by="this device")
        return web.json_response(scanning)

    # devices

    async def list_devices(self, request: web.Request) -> web.Response:
        return web.json_response({"devices": self.devices})

    async def revoke_device(self, request: web.Request) -> web.Response:
        device = self.device_of(request)
        if device["this_device"]:
            raise Problem(409, "usage", "a device cannot revoke itself here: revoke it elsewhere")
        if device["revoked"]:
            raise Problem(404, "not-found", f"device {device['id']} is not a member")
        device.update(revoked=True, removed_by=LAPTOP_ID, removed_at=NOW, connected=False)
        self.peers = [p for p in self.peers if p["device"] != device["id"]]
        return web.json_response(device)

    async def rename_this_device(self, request: web.Request) -> web.Response:
        body = await request.json()
        me = next(d for d in self.devices if d["this_device"])
        me["name"] = body["name"]
        return web.json_response(me)

    async def list_peers(self, request: web.Request) -> web.Response:
        return web.json_response({"peers": self.peers})

    async def start_new_vault(self, request: web.Request) -> web.Response:
        self.standing = dict(MEMBER_STANDING)  # the real daemon refuses a member: integration
        return web.json_response(
            {"vault": {"id": "1e" * 16}, "accounts": len(self.accounts)}, status=201
        )

    # moving in and out: an "import" reads otpauth lines by their label only; a file whose
    # text says "sealed" needs the password BACKUP_PASSWORD

    async def import_file(self, request: web.Request) -> web.Response:
        body = await self.body(request, {"content", "text", "format", "password", "dry_run"})
        text = body.get("text") or base64.b64decode(body.get("content", "")).decode()
        if "sealed" in text:
            if "password" not in body:
                raise Problem(422, "password-required", "the file is encrypted", "password")
            if body["password"] != BACKUP_PASSWORD:
                raise Problem(422, "wrong-password", "the password is wrong", "password")
        report: Json = {"format": "otpauth", "dry_run": bool(body.get("dry_run")),
                        "added": [], "skipped": [], "failed": [], "warnings": []}  # fmt: skip
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.startswith("otpauth://totp/"):
                if line.strip() and line != "sealed":
                    report["failed"].append({"entry": f"line {number}", "reason": "not a URI"})
                continue
            issuer, _, name = unquote(line[15:].split("?")[0]).partition(":")
            entry = {"entry": f"line {number}", "issuer": issuer, "name": name,
                     "kind": "totp", "trashed": False}  # fmt: skip
            same = [a for a in self.accounts.values() if (a["issuer"], a["name"]) == (issuer, name)]
            if same:
                report["skipped"].append(entry | {"id": same[0]["id"], "reason": "present"})
            elif report["dry_run"]:
                report["added"].append(entry | {"id": None})
            else:
                report["added"].append(entry | {"id": self.add(issuer, name)["id"]})
        return web.json_response(report)

    async def export(self, request: web.Request) -> web.Response:
        body = await self.body(request, {"format"})
        live = [a for a in self.accounts.values() if not a["deleted"]]
        content = "".join(
            f"otpauth://totp/{a['issuer']}:{a['name']}?secret=JBSWY3DPEHPK3PXP\n" for a in live
        )
        return web.json_response(
            {"format": body["format"], "accounts": len(live), "content": content, "left_out": []}
        )

    async def backup(self, request: web.Request) -> web.Response:
        body = await self.body(request, {"passphrase", "recovery_key"})
        sealed = base64.b64encode(b"twofold-backup\x00sealed").decode()
        answer: Json = {"content": sealed, "accounts": len(self.accounts)}
        if body.get("recovery_key"):
            answer |= {"sealed_with": "recovery-key", "recovery_key": RECOVERY_KEY}
        else:
            answer["sealed_with"] = "argon2id"
        return web.json_response(answer)

    # the web page: sign-in links, a browser session (never the SDK's), and a short stream

    async def create_sign_in(self, request: web.Request) -> web.Response:
        ticket = f"t{len(self.seen)}"
        url = f"http://127.0.0.1:{self.port}/login#ticket={ticket}"
        return web.json_response({"url": url, "expires_at": NOW}, status=201)

    async def get_session(self, request: web.Request) -> web.Response:
        raise Problem(404, "not-found", "this request carries no browser session")

    async def end_session(self, request: web.Request) -> web.Response:
        raise Problem(404, "not-found", "this request carries no browser session")

    async def stream_events(self, request: web.Request) -> web.StreamResponse:
        """The hello, then what `events` holds (raw SSE text), then the stream ends."""
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b'retry: 2000\nevent: hello\ndata: {"device": "D"}\n\n')
        for chunk in self.events:
            await response.write(chunk.encode())
        await response.write_eof()
        return response

    # passphrase mode: unlock, lock, and setting, changing or removing the passphrase

    def too_soon(self) -> None:
        """429 while `wait` says wrong passphrases came in a row, as the daemon answers."""
        if self.wait:
            problem = Problem(429, "too-soon", f"wait {self.wait} s before trying again")
            problem.body["retry_after"] = self.wait
            problem.headers["Retry-After"] = str(self.wait)
            raise problem

    def check_current(self, body: Json) -> None:
        """A change or removal names the current passphrase; 422 if it is not the one."""
        self.too_soon()
        if "current" not in body:
            raise Problem(400, "bad-request", "give the current passphrase", "current")
        if body["current"] != self.passphrase:
            raise Problem(422, "wrong-passphrase", "the passphrase is wrong", "current")

    async def unlock(self, request: web.Request) -> web.Response:
        body = await self.body(request, {"passphrase"})
        if self.locked:
            self.too_soon()
            if body.get("passphrase") != self.passphrase:
                raise Problem(422, "wrong-passphrase", "the passphrase is wrong", "passphrase")
            self.locked = False
        return web.json_response({"locked": False})

    async def lock(self, request: web.Request) -> web.Response:
        if self.passphrase is None:
            raise Problem(
                409,
                "no-passphrase",
                "this home has no passphrase: set one with twofold passphrase set",
            )
        self.locked = True
        return web.json_response({"locked": True})

    async def set_passphrase(self, request: web.Request) -> web.Response:
        body = await self.body(request, {"passphrase", "current"})
        if self.passphrase is not None:
            self.check_current(body)
        if len(body.get("passphrase", "")) < PASSPHRASE_MIN:
            raise Problem(422, "weak-passphrase", "give at least 10 characters", "passphrase")
        self.passphrase = body["passphrase"]
        return web.json_response({"passphrase": True, "lock_after": self.lock_after})

    async def remove_passphrase(self, request: web.Request) -> web.Response:
        body = await self.body(request, {"current"})
        if self.passphrase is None:
            raise Problem(409, "no-passphrase", "this home has no passphrase")
        self.check_current(body)
        self.passphrase = None
        return web.json_response({"passphrase": False, "lock_after": 0})


PASSPHRASE_MIN = 10
LOCKED_OPEN = {"/status", "/events", "/sessions", "/session", "/unlock", "/lock"}
"""The routes a locked daemon still answers; every other one is 423 locked."""
LOCKED_PROBLEM = {
    "type": "urn:twofold:problem:locked",
    "title": "The vault is locked",
    "status": 423,
    "detail": "the vault is locked: unlock it with its passphrase (twofold unlock)",
}
QR = {"qr_svg": "<svg/>", "qr_png": "iVBORw0KGgo="}
BACKUP_PASSWORD = "correct horse battery"
RECOVERY_KEY = "AAAA-BBBB-CCCC-DDDD-EEEE-FFFF-GGGG-HHHH"


@contextmanager
def running(home: Path) -> Iterator[FakeDaemon]:
    """A started stand-in for the home, stopped (thread joined) on the way out."""
    fake = FakeDaemon(home)
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


def spec_operations(*, browser_only: bool = True) -> set[tuple[str, str]]:
    """(METHOD, path template) of every operation in specs/openapi.yaml; without those
    marked x-browser-only (a browser session's own, of no use to a token holder) if asked."""
    spec = yaml.safe_load(SPEC.read_text())
    verbs = {"get", "put", "post", "patch", "delete"}
    return {
        (verb.upper(), path)
        for path, item in spec["paths"].items()
        for verb, op in item.items()
        if verb in verbs and (browser_only or not op.get("x-browser-only"))
    }


def test_the_stand_in_serves_exactly_the_spec_operations(tmp_path: Path) -> None:
    served = set()
    for route in FakeDaemon(tmp_path).app().router.routes():
        if route.method != "HEAD":
            template = route.resource.canonical if route.resource else ""
            served.add((route.method, template.removeprefix("/api/v1")))
    assert served == spec_operations()
