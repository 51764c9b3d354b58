"""The SDK against the stand-in daemon of test_sdk_fakedaemon: requests, parsing, errors."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from twofold.clients import sdk
from twofold.clients.sdk import home as home_module

from .test_sdk_fakedaemon import (
    DEVICES,
    LINK,
    LOCKED_PROBLEM,
    NOW,
    OTHER_DECLINED,
    PEERS,
    PHONE,
    TOKEN,
    VAULT,
    FakeDaemon,
    Problem,
    problem_response,
    running,
    spec_operations,
)

VAULT_DEVICES = tuple(VAULT["devices"])
PASSPHRASE = "old passphrase 1"
NEW_PASSPHRASE = "new passphrase 2"


@pytest.fixture
def ids(fake: FakeDaemon) -> dict[str, str]:
    """A small vault: a TOTP account with a conflict, an HOTP one and one in the trash; an
    invitation a device answered, a join waiting for this device's answer, and an offer
    scanned."""
    github = fake.add("GitHub", "alice@example.com")
    bank = fake.add("Bank", "bob", "hotp", counter=4)
    old = fake.add("Old", "carol", deleted=True)
    fake.add_conflict(github, "name", ["alice@example.com", "alice"])
    invitation = fake.invite("confirming", peer=dict(PHONE))
    fake.start_join(at=1)
    fake.passphrase = PASSPHRASE  # unlocked: every route answers
    fake.scanning = {
        "state": "confirming", "code": "123456", "peer": None, "vault": None, "error": None,
        "declined_by": None,
    }  # fmt: skip
    return {
        "github": github["id"],
        "bank": bank["id"],
        "old": old["id"],
        "invitation": invitation["id"],
    }


def call(fake: FakeDaemon, fn: Callable[[sdk.AsyncClient], Awaitable[Any]], **kw: Any) -> Any:
    """Run one coroutine against the stand-in with a fresh AsyncClient, closed afterwards."""

    async def go() -> Any:
        async with sdk.AsyncClient(fake.home, **kw) as client:
            return await fn(client)

    return asyncio.run(go())


Op = Callable[[sdk.AsyncClient, dict[str, str]], Awaitable[Any]]
# name, the call, method, spec path, the path sent (ID keys filled in), body sent, result type
OPERATIONS: list[tuple[str, Op, str, str, str, Any, type]] = [
    ("status", lambda c, i: c.status(), "GET", "/status", "/status", None, sdk.Status),
    ("accounts", lambda c, i: c.accounts(), "GET", "/accounts", "/accounts", None, list),
    (
        "create_account_from_uri",
        lambda c, i: c.create_account_from_uri(
            "otpauth://totp/Acme:dan?secret=JBSWY3DPEHPK3PXP&issuer=Acme", note="work"
        ),
        "POST",
        "/accounts",
        "/accounts",
        {"uri": "otpauth://totp/Acme:dan?secret=JBSWY3DPEHPK3PXP&issuer=Acme", "note": "work"},
        sdk.Account,
    ),
    (
        "create_account",
        lambda c, i: c.create_account(secret="JBSWY3DPEHPK3PXP", issuer="Acme", digits=8),
        "POST",
        "/accounts",
        "/accounts",
        {"secret": "JBSWY3DPEHPK3PXP", "issuer": "Acme", "digits": 8},
        sdk.Account,
    ),
    ("account", lambda c, i: c.account(i["github"][:6]), "GET", "/accounts/{id}",
     "/accounts/{github6}", None, sdk.Account),
    ("update_account", lambda c, i: c.update_account(i["github"], note="n"), "PATCH",
     "/accounts/{id}", "/accounts/{github}", {"note": "n"}, sdk.Account),
    ("delete_account", lambda c, i: c.delete_account(i["github"]), "DELETE", "/accounts/{id}",
     "/accounts/{github}", None, sdk.Account),
    ("restore_account", lambda c, i: c.restore_account(i["old"]), "POST",
     "/accounts/{id}/restore", "/accounts/{old}/restore", None, sdk.Account),
    ("code", lambda c, i: c.code(i["github"]), "GET", "/accounts/{id}/code",
     "/accounts/{github}/code", None, sdk.Code),
    ("next_code", lambda c, i: c.next_code(i["bank"]), "POST", "/accounts/{id}/next-code",
     "/accounts/{bank}/next-code", None, sdk.Code),
    ("resolve_conflict", lambda c, i: c.resolve_conflict(i["github"], "name", "c1"), "POST",
     "/accounts/{id}/conflicts/{field}", "/accounts/{github}/conflicts/name", {"choice": "c1"},
     sdk.Account),
    ("codes", lambda c, i: c.codes("git"), "GET", "/codes", "/codes", None, list),
    ("trash", lambda c, i: c.trash(), "GET", "/trash", "/trash", None, list),
    ("conflicts", lambda c, i: c.conflicts(), "GET", "/conflicts", "/conflicts", None, list),
    ("invitations", lambda c, i: c.invitations(), "GET", "/invitations", "/invitations", None,
     list),
    ("open_invitation", lambda c, i: c.open_invitation(ttl=300, accept=True), "POST",
     "/invitations", "/invitations", {"ttl": 300, "accept": True}, sdk.Invitation),
    ("invitation", lambda c, i: c.invitation(i["invitation"]), "GET", "/invitations/{id}",
     "/invitations/{invitation}", None, sdk.Invitation),
    ("cancel_invitation", lambda c, i: c.cancel_invitation(i["invitation"]), "DELETE",
     "/invitations/{id}", "/invitations/{invitation}", None, sdk.Invitation),
    ("accept_invitation", lambda c, i: c.accept_invitation(i["invitation"]), "POST",
     "/invitations/{id}/accept", "/invitations/{invitation}/accept", None, sdk.Invitation),
    ("decline_invitation", lambda c, i: c.decline_invitation(i["invitation"]), "POST",
     "/invitations/{id}/decline", "/invitations/{invitation}/decline", None, sdk.Invitation),
    ("joining", lambda c, i: c.joining(), "GET", "/join", "/join", None, sdk.Joining),
    ("join", lambda c, i: c.join(LINK, accept=True), "POST", "/join", "/join",
     {"link": LINK, "accept": True}, sdk.Joining),
    ("accept_join", lambda c, i: c.accept_join(), "POST", "/join/accept", "/join/accept", None,
     sdk.Joining),
    ("decline_join", lambda c, i: c.decline_join(), "POST", "/join/decline", "/join/decline",
     None, sdk.Joining),
    ("cancel_join", lambda c, i: c.cancel_join(), "DELETE", "/join", "/join", None, sdk.Joining),
    ("open_offer", lambda c, i: c.open_offer(ttl=30, accept=True), "POST", "/offers", "/offers",
     {"ttl": 30, "accept": True}, sdk.Invitation),
    ("pairing", lambda c, i: c.pairing(), "GET", "/pair", "/pair", None, sdk.Joining),
    ("pair", lambda c, i: c.pair(LINK, accept=True), "POST", "/pair", "/pair",
     {"link": LINK, "accept": True}, sdk.Joining),
    ("accept_pairing", lambda c, i: c.accept_pairing(), "POST", "/pair/accept", "/pair/accept",
     None, sdk.Joining),
    ("decline_pairing", lambda c, i: c.decline_pairing(), "POST", "/pair/decline",
     "/pair/decline", None, sdk.Joining),
    ("devices", lambda c, i: c.devices(), "GET", "/devices", "/devices", None, list),
    ("revoke_device", lambda c, i: c.revoke_device(" ph0n-e2aa "), "POST",
     "/devices/{id}/revoke", "/devices/ph0n-e2aa/revoke", None, sdk.Device),
    ("rename_this_device", lambda c, i: c.rename_this_device("new name"), "PATCH",
     "/devices/self", "/devices/self", {"name": "new name"}, sdk.Device),
    ("peers", lambda c, i: c.peers(), "GET", "/peers", "/peers", None, list),
    ("scan_qr", lambda c, i: c.scan_qr(b"\x89PNG"), "POST", "/qr/scan", "/qr/scan",
     {"content": "iVBORw=="}, list),
    ("start_new_vault", lambda c, i: c.start_new_vault(), "POST", "/vault/new", "/vault/new",
     None, sdk.NewVault),
    ("import_file", lambda c, i: c.import_file(b"otpauth://totp/A:b?secret=JBSWY3DP",
                                                format="otpauth", dry_run=True),
     "POST", "/import", "/import",
     {"content": "b3RwYXV0aDovL3RvdHAvQTpiP3NlY3JldD1KQlNXWTNEUA==", "format": "otpauth",
      "dry_run": True}, sdk.ImportReport),
    ("export", lambda c, i: c.export("aegis"), "POST", "/export", "/export",
     {"format": "aegis"}, sdk.Export),
    ("backup", lambda c, i: c.backup(recovery_key=True), "POST", "/backup", "/backup",
     {"recovery_key": True}, sdk.Backup),
    ("sign_in_link", lambda c, i: c.sign_in_link(), "POST", "/sessions", "/sessions", None,
     sdk.SignInLink),
    ("events", lambda c, i: first_event(c), "GET", "/events", "/events", None, sdk.Event),
    ("unlock", lambda c, i: c.unlock(PASSPHRASE), "POST", "/unlock", "/unlock",
     {"passphrase": PASSPHRASE}, sdk.LockState),
    ("lock", lambda c, i: c.lock(), "POST", "/lock", "/lock", None, sdk.LockState),
    ("set_passphrase", lambda c, i: c.set_passphrase(NEW_PASSPHRASE, current=PASSPHRASE),
     "PUT", "/passphrase", "/passphrase", {"passphrase": NEW_PASSPHRASE, "current": PASSPHRASE},
     sdk.PassphraseState),
    ("remove_passphrase", lambda c, i: c.remove_passphrase(PASSPHRASE), "POST",
     "/passphrase/remove", "/passphrase/remove", {"current": PASSPHRASE}, sdk.PassphraseState),
]  # fmt: skip


async def first_event(client: sdk.AsyncClient) -> sdk.Event:
    async for event in client.events():
        return event
    raise AssertionError("the stream ended without an event")


def test_the_table_covers_every_operation_of_the_spec() -> None:
    assert {(op[2], op[3]) for op in OPERATIONS} == (spec_operations(browser_only=False))
    assert spec_operations() - spec_operations(browser_only=False) == {
        ("GET", "/session"),
        ("DELETE", "/session"),
    }


@pytest.mark.parametrize(
    ("op", "method", "sent", "body", "kind"),
    [(op[1], op[2], op[4], op[5], op[6]) for op in OPERATIONS],
    ids=[op[0] for op in OPERATIONS],
)
def test_each_method_sends_its_request_and_parses_the_answer(
    fake: FakeDaemon, ids: dict[str, str], op: Op, method: str, sent: str, body: Any, kind: type
) -> None:
    result = call(fake, lambda c: op(c, ids))
    path = "/api/v1" + sent.format(github6=ids["github"][:6], **ids)
    request = fake.seen[-1]
    assert (request.method, request.path, request.body) == (method, path, body)
    assert request.authorization == f"Bearer {TOKEN}"
    assert isinstance(result, kind)


def test_answers_are_parsed_into_typed_objects(fake: FakeDaemon, ids: dict[str, str]) -> None:
    async def go(c: sdk.AsyncClient) -> Any:
        return await c.accounts(), await c.codes(), await c.conflicts(), await c.status()

    accounts, codes, conflicts, status = call(fake, go)
    assert [(a.issuer, a.kind, a.counter) for a in accounts] == [
        ("Bank", "hotp", 4),
        ("GitHub", "totp", 0),
    ]
    assert accounts[1].conflicts == ("name",)
    assert accounts[1].created_at == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert accounts[1].to_json()["created_at"] == "2024-05-01T12:00:00Z"
    hotp, totp = codes
    assert (hotp.code, hotp.counter, hotp.seconds_left) == (None, 4, None)
    assert totp.code is not None
    assert len(totp.code) == 6
    assert totp.code.isdigit()
    assert isinstance(totp.valid_until, float)
    assert [v.choice for v in conflicts[0].values] == ["c0", "c1"]
    assert (status.device.name, status.accounts, status.trash, status.conflicts) == (
        "laptop",
        2,
        1,
        1,
    )
    assert status.to_json()["vault"] == {"id": "0f" * 16}


# -- locked mode (passphrase) ------------------------------------------------------------------


def test_a_locked_status_has_only_its_short_form(fake: FakeDaemon) -> None:
    fake.passphrase, fake.locked, fake.lock_after = PASSPHRASE, True, 20
    status = call(fake, lambda c: c.status())
    assert (status.locked, status.passphrase, status.lock_after) == (True, True, 20)
    assert status.device == sdk.StatusDevice(id=None, name="laptop")
    assert (status.vault_id, status.accounts, status.trash, status.conflicts) == (None,) * 4
    assert (status.members, status.standing) == (None, None)
    assert status.started_at == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert status.to_json() == {
        "version": "0.1.0",
        "locked": True,
        "passphrase": True,
        "lock_after": 20,
        "device": {"name": "laptop"},
        "started_at": "2024-05-01T12:00:00Z",
    }


def test_an_unlocked_status_says_whether_there_is_a_passphrase(fake: FakeDaemon) -> None:
    plain = call(fake, lambda c: c.status())
    assert (plain.locked, plain.passphrase, plain.lock_after) == (False, False, 0)
    assert plain.standing is not None
    assert plain.members == 2
    fake.passphrase = PASSPHRASE
    guarded = call(fake, lambda c: c.status())
    assert (guarded.locked, guarded.passphrase, guarded.lock_after) == (False, True, 15)
    assert guarded.to_json()["lock_after"] == 15
    assert guarded.to_json()["device"] == {"id": "JD3A-ZZQ3-T5K3-7EJC", "name": "laptop"}


@pytest.mark.parametrize("missing", ["locked", "passphrase", "lock_after"])
def test_a_status_without_its_lock_fields_is_a_protocol_mismatch(
    fake: FakeDaemon, missing: str
) -> None:
    answer = call(fake, lambda c: c._call("GET", "/status"))
    del answer[missing]
    fake.canned["GET", "/api/v1/status"] = web.json_response(answer)
    with pytest.raises(sdk.ProtocolMismatch, match=repr(missing)):
        call(fake, lambda c: c.status())


def test_only_a_locked_status_may_leave_the_vault_out(fake: FakeDaemon) -> None:
    fake.canned["GET", "/api/v1/status"] = web.json_response(
        {"version": "0.1.0", "locked": False, "passphrase": True, "lock_after": 15,
         "device": {"name": "laptop"}, "started_at": NOW}
    )  # fmt: skip
    with pytest.raises(sdk.ProtocolMismatch, match="without 'vault'"):
        call(fake, lambda c: c.status())


def test_unlock_and_lock_round_trip(fake: FakeDaemon) -> None:
    fake.passphrase, fake.locked = PASSPHRASE, True
    with sdk.Client(fake.home) as client:
        with pytest.raises(sdk.Locked):
            client.accounts()
        assert client.unlock(PASSPHRASE) == sdk.LockState(locked=False)
        assert client.accounts() == []
        assert client.lock() == sdk.LockState(locked=True)
        assert client.status().locked
        assert fake.locked


def test_a_locked_vault_raises_locked_with_the_daemons_words(fake: FakeDaemon) -> None:
    fake.passphrase, fake.locked = PASSPHRASE, True
    with pytest.raises(sdk.Locked) as caught:
        call(fake, lambda c: c.codes())
    assert isinstance(caught.value, sdk.ApiError)
    assert caught.value.status == 423
    assert caught.value.to_json() == LOCKED_PROBLEM
    assert str(caught.value) == LOCKED_PROBLEM["detail"]


def test_a_wrong_passphrase_raises_wrong_passphrase(fake: FakeDaemon) -> None:
    fake.passphrase, fake.locked = PASSPHRASE, True
    with pytest.raises(sdk.WrongPassphrase) as caught:
        call(fake, lambda c: c.unlock("not the one"))
    assert (caught.value.status, caught.value.field) == (422, "passphrase")
    assert fake.locked
    fake.locked = False
    with pytest.raises(sdk.WrongPassphrase) as caught:
        call(fake, lambda c: c.remove_passphrase("not the one"))
    assert caught.value.field == "current"
    assert fake.passphrase == PASSPHRASE


def test_too_soon_carries_the_wait_from_the_problem(fake: FakeDaemon) -> None:
    fake.passphrase, fake.locked, fake.wait = PASSPHRASE, True, 8
    with pytest.raises(sdk.TooSoon) as caught:
        call(fake, lambda c: c.unlock(PASSPHRASE))
    assert (caught.value.status, caught.value.retry_after) == (429, 8)
    assert caught.value.to_json()["retry_after"] == 8
    assert fake.locked


def test_too_soon_falls_back_to_the_retry_after_header(fake: FakeDaemon) -> None:
    body = {"type": "urn:twofold:problem:too-soon", "title": "Too soon", "status": 429,
            "detail": "wait"}  # fmt: skip
    fake.canned["POST", "/api/v1/unlock"] = problem_response(429, body, {"Retry-After": "32"})
    with pytest.raises(sdk.TooSoon) as caught:
        call(fake, lambda c: c.unlock(PASSPHRASE))
    assert caught.value.retry_after == 32
    fake.canned["POST", "/api/v1/unlock"] = problem_response(429, body)
    with pytest.raises(sdk.TooSoon) as caught:
        call(fake, lambda c: c.unlock(PASSPHRASE))
    assert caught.value.retry_after == 1, "no word on the wait: one second"


def test_locking_without_a_passphrase_raises_no_passphrase(fake: FakeDaemon) -> None:
    with pytest.raises(sdk.NoPassphrase) as caught:
        call(fake, lambda c: c.lock())
    assert caught.value.status == 409
    assert "twofold passphrase set" in str(caught.value)
    with pytest.raises(sdk.NoPassphrase):
        call(fake, lambda c: c.remove_passphrase(PASSPHRASE))


def test_setting_changing_and_removing_the_passphrase(fake: FakeDaemon) -> None:
    with sdk.Client(fake.home) as client:
        assert client.set_passphrase(PASSPHRASE) == sdk.PassphraseState(True, 15)
        assert fake.seen[-1].body == {"passphrase": PASSPHRASE}, "no current: none to send"
        changed = client.set_passphrase(NEW_PASSPHRASE, current=PASSPHRASE)
        assert changed.to_json() == {"passphrase": True, "lock_after": 15}
        assert fake.passphrase == NEW_PASSPHRASE
        assert client.remove_passphrase(NEW_PASSPHRASE) == sdk.PassphraseState(False, 0)
        assert fake.passphrase is None
        assert not client.status().passphrase


def test_a_weak_passphrase_is_an_api_error_with_its_field(fake: FakeDaemon) -> None:
    with pytest.raises(sdk.ApiError) as caught:
        call(fake, lambda c: c.set_passphrase("short"))
    assert type(caught.value) is sdk.ApiError
    assert (caught.value.status, caught.value.field) == (422, "passphrase")


@pytest.mark.parametrize(
    ("status", "slug", "error"),
    [
        (423, "locked", sdk.Locked),
        (422, "wrong-passphrase", sdk.WrongPassphrase),
        (429, "too-soon", sdk.TooSoon),
        (409, "no-passphrase", sdk.NoPassphrase),
        (422, "weak-passphrase", sdk.ApiError),
        (409, "duplicate-account", sdk.ApiError),
        (409, "not-allowed", sdk.NotAllowed),
        (502, "peer-refused", sdk.PeerRefused),
        (504, "peer-unreachable", sdk.PeerUnreachable),
        (500, "internal", sdk.ServerError),
        (404, "locked", sdk.Locked),  # the type decides where it has a class of its own
    ],
)
def test_the_problem_type_picks_the_error(
    fake: FakeDaemon, status: int, slug: str, error: type[sdk.ApiError]
) -> None:
    fake.canned["GET", "/api/v1/status"] = problem_response(
        status, Problem(status, slug, "said so").body
    )
    with pytest.raises(sdk.ApiError) as caught:
        call(fake, lambda c: c.status())
    assert type(caught.value) is error
    assert (caught.value.status, str(caught.value)) == (status, "said so")


def test_the_query_is_sent_as_q(fake: FakeDaemon, ids: dict[str, str]) -> None:
    found = call(fake, lambda c: c.accounts(q="GIT"))
    assert fake.seen[-1].query == {"q": "GIT"}
    assert [a.issuer for a in found] == ["GitHub"]


# -- pairing -------------------------------------------------------------------------------


def test_an_invitation_is_parsed_with_its_peer_and_qr_codes(fake: FakeDaemon) -> None:
    async def go(c: sdk.AsyncClient) -> Any:
        opened = await c.open_invitation()
        return opened, await c.invitation(opened.id.upper()), await c.invitations()

    opened, answered, listed = call(fake, go)
    assert fake.seen[0].body == {}
    assert fake.seen[1].path == f"/api/v1/invitations/{opened.id}"
    assert (opened.state, opened.peer, opened.qr_svg, opened.qr_png) == (
        "open",
        None,
        "<svg/>",
        "iVBORw0KGgo=",
    )
    assert opened.expires_at == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert answered.state == "confirming"
    assert answered.peer == sdk.InvitationPeer("phone", "PH0N-E2AA-BBCC-DDEE", "123456")
    assert answered.error is None
    assert answered.to_json() == fake.invitations[opened.id] | {
        "qr_svg": "<svg/>",
        "qr_png": "iVBORw0KGgo=",
    }
    assert answered.to_json(with_qr=False) == fake.invitations[opened.id]
    assert [i.qr_svg for i in listed] == [None]
    assert listed[0].to_json() == fake.invitations[opened.id]


def test_an_invitation_that_failed_or_was_declined_says_why(fake: FakeDaemon) -> None:
    exhausted = "too many failed attempts: this invitation is closed; open a new one"
    failed = fake.invite("failed")
    failed["error"] = exhausted
    declined = fake.invite("declined", peer=dict(PHONE))
    declined["error"] = OTHER_DECLINED

    async def go(c: sdk.AsyncClient) -> Any:
        return await c.invitation(failed["id"]), await c.invitations()

    one, listed = call(fake, go)
    assert (one.state, one.peer, one.error) == ("failed", None, exhausted)
    assert one.to_json(with_qr=False) == failed
    assert [(i.state, i.error) for i in listed] == [
        ("failed", exhausted),
        ("declined", OTHER_DECLINED),
    ]
    assert listed[1].to_json() == declined


def test_a_join_is_parsed_step_by_step(fake: FakeDaemon) -> None:
    async def go(c: sdk.AsyncClient) -> Any:
        steps = [await c.join(LINK), await c.joining(), await c.joining()]
        return [*steps, await c.accept_join(), await c.joining(), await c.joining()]

    started, confirming, undecided, waiting, syncing, joined = call(fake, go)
    assert fake.seen[0].body == {"link": LINK}
    assert started == sdk.Joining("connecting", None, None, None, None)
    vault = sdk.JoiningVault("0f" * 16, ("laptop", "phone"))
    assert confirming == sdk.Joining(
        "confirming", "123456", sdk.JoiningPeer("laptop", "JD3A-ZZQ3-T5K3-7EJC"), vault, None
    )
    assert confirming.to_json()["vault"] == VAULT
    assert undecided == confirming  # it waits for this device's person
    assert [s.state for s in (waiting, syncing, joined)] == ["waiting", "syncing", "joined"]
    assert joined.vault == vault
    assert joined.to_json() == fake.joining


def test_declining_a_join_ends_it(fake: FakeDaemon) -> None:
    fake.start_join(at=1)

    async def go(c: sdk.AsyncClient) -> Any:
        return await c.decline_join(), await c.joining()

    declined, after = call(fake, go)
    assert declined == after
    assert (declined.state, declined.error) == ("declined", None)
    with pytest.raises(sdk.ApiError, match="the pairing is declined") as caught:
        call(fake, lambda c: c.accept_join())
    assert caught.value.status == 409


@pytest.mark.parametrize(
    "vault",
    [{"id": "0f" * 16}, {"id": 15, "devices": []}, {"id": "0f", "devices": ["a", 2]}, ["a"]],
)
def test_a_malformed_joining_vault_is_a_protocol_mismatch(fake: FakeDaemon, vault: Any) -> None:
    fake.start_join(at=1)
    assert fake.joining is not None
    fake.joining["vault"] = vault
    with pytest.raises(sdk.ProtocolMismatch, match="the daemon sent a joining vault"):
        call(fake, lambda c: c.joining())


@pytest.mark.parametrize("key", ["vault", "error"])
def test_a_joining_without_a_field_of_the_contract_is_a_protocol_mismatch(
    fake: FakeDaemon, key: str
) -> None:
    fake.start_join(at=1)  # confirming: each read shows it as it is
    assert fake.joining is not None
    del fake.joining[key]
    with pytest.raises(sdk.ProtocolMismatch, match=f"a joining without '{key}'"):
        call(fake, lambda c: c.joining())


def test_an_invitation_without_its_error_is_a_protocol_mismatch(fake: FakeDaemon) -> None:
    invitation = fake.invite()
    del invitation["error"]
    with pytest.raises(sdk.ProtocolMismatch, match="an invitation without 'error'"):
        call(fake, lambda c: c.invitation(invitation["id"]))


def test_pairing_refusals_become_errors(fake: FakeDaemon) -> None:
    with pytest.raises(sdk.NotFoundError, match="not joining"):
        call(fake, lambda c: c.joining())
    with pytest.raises(sdk.ApiError, match="not a twofold://pair/ link") as caught:
        call(fake, lambda c: c.join("https://example.com"))
    assert caught.value.field == "link"
    with pytest.raises(sdk.NotFoundError, match="no open invitation"):
        call(fake, lambda c: c.accept_invitation("00" * 8))
    opened = fake.invite()
    with pytest.raises(sdk.ApiError, match="the invitation is open"):
        call(fake, lambda c: c.decline_invitation(opened["id"]))


@pytest.mark.parametrize("bad", ["abc", "../status", "0" * 15, "0" * 17, "zz" * 8])
def test_an_invitation_id_that_is_not_16_hex_digits_is_refused_before_sending(
    fake: FakeDaemon, bad: str
) -> None:
    with pytest.raises(sdk.InvalidArgument, match="not an invitation ID"):
        call(fake, lambda c: c.cancel_invitation(bad))
    assert fake.seen == []


@pytest.mark.parametrize(
    "peer",
    [{"name": "phone", "device": "X"}, "phone", {"name": 1, "device": "X", "code": "1"}],
)
def test_a_malformed_invitation_is_a_protocol_mismatch(fake: FakeDaemon, peer: Any) -> None:
    invitation = fake.invite("confirming", peer=peer)
    with pytest.raises(sdk.ProtocolMismatch, match="the daemon sent an invitation peer"):
        call(fake, lambda c: c.invitation(invitation["id"]))


# -- devices and peers ------------------------------------------------------------------------


def test_devices_and_peers_are_parsed_into_typed_objects(fake: FakeDaemon) -> None:
    async def go(c: sdk.AsyncClient) -> Any:
        return await c.devices(), await c.peers()

    devices, peers = call(fake, go)
    laptop, phone, tablet, _ = devices
    assert laptop == sdk.Device(
        id="JD3A-ZZQ3-T5K3-7EJC",
        name="laptop",
        added_by=None,
        added_at=datetime(2024, 5, 1, 12, tzinfo=UTC),
        this_device=True,
        revoked=False,
        removed_by=None,
        removed_at=None,
        forked=False,
        connected=False,
        last_seen=None,
        last_sync=None,
        last_write=datetime(2024, 5, 1, 12, tzinfo=UTC),
    )
    assert (phone.added_by, phone.connected) == ("JD3A-ZZQ3-T5K3-7EJC", True)
    assert phone.last_seen == datetime(2024, 5, 2, 8, 30, tzinfo=UTC)
    assert (tablet.added_at, tablet.revoked) == (None, True)
    assert (tablet.removed_by, tablet.removed_at) == (
        "JD3A-ZZQ3-T5K3-7EJC",
        datetime(2024, 5, 1, 12, tzinfo=UTC),
    )
    assert [d.to_json() for d in devices] == DEVICES
    near, far = peers
    assert near == sdk.Peer(
        device="PH0N-E2AA-BBCC-DDEE",
        name="phone",
        address="192.168.1.20:7700",
        found_by="pairing",
        connected=True,
        last_seen=datetime(2024, 5, 2, 8, 30, tzinfo=UTC),
        last_sync=datetime(2024, 5, 2, 8, 30, tzinfo=UTC),
        lacks=0,
        lacks_exact=True,
        lacks_known_at=datetime(2024, 5, 2, 8, 30, tzinfo=UTC),
    )
    assert (far.address, far.found_by, far.last_sync, far.lacks) == (None, None, None, None)
    assert (far.last_seen, far.lacks_exact, far.lacks_known_at) == (None, False, None)
    assert [p.to_json() for p in peers] == PEERS


def test_revoking_a_device_returns_it_revoked(fake: FakeDaemon) -> None:
    with sdk.Client(fake.home) as client:
        revoked = client.revoke_device("WA5CH3LN")
        assert fake.seen[-1].path == "/api/v1/devices/WA5CH3LN/revoke"
        assert (revoked.name, revoked.revoked, revoked.connected) == ("watch", True, False)
        assert [d.revoked for d in client.devices()] == [False, False, True, True]
        assert [p.name for p in client.peers()] == ["phone"]


@pytest.mark.parametrize(
    ("device", "error", "detail"),
    [
        ("ZZZZ", sdk.NotFoundError, "no device has an ID starting with ZZZZ"),
        ("TB7Q-K2MA", sdk.NotFoundError, "device TB7Q-K2MA-4XRD-6YEW is not a member"),
        ("JD3A", sdk.ApiError, "a device cannot revoke itself here"),
    ],
)
def test_a_refused_revocation_carries_the_daemons_detail(
    fake: FakeDaemon, device: str, error: type[sdk.ApiError], detail: str
) -> None:
    with pytest.raises(error, match=detail):
        call(fake, lambda c: c.revoke_device(device))


@pytest.mark.parametrize("bad", ["", "ab", "A-B-C", "../devices", "JD3A ZZQ3", "JD3A/revoke"])
def test_a_device_id_that_cannot_be_one_is_refused_before_sending(
    fake: FakeDaemon, bad: str
) -> None:
    with pytest.raises(sdk.InvalidArgument, match="not a device ID"):
        call(fake, lambda c: c.revoke_device(bad))
    assert fake.seen == []


@pytest.mark.parametrize(
    ("path", "answer", "kind"),
    [
        ("/devices", {"devices": [DEVICES[0] | {"added_at": "yesterday"}]}, "a device"),
        ("/devices", {"devices": [DEVICES[0] | {"revoked": None}]}, "a device"),
        ("/peers", {"peers": [{k: v for k, v in PEERS[0].items() if k != "lacks"}]}, "a peer"),
        ("/peers", {"peers": [PEERS[0] | {"lacks": "3"}]}, "a peer"),
        ("/peers", {"devices": []}, "the peer list"),
    ],
)
def test_a_malformed_device_or_peer_is_a_protocol_mismatch(
    fake: FakeDaemon, path: str, answer: Any, kind: str
) -> None:
    fake.canned["GET", "/api/v1" + path] = web.json_response(answer)
    with pytest.raises(sdk.ProtocolMismatch, match=f"the daemon sent {kind}"):
        call(fake, lambda c: c.devices() if path == "/devices" else c.peers())


# -- problem details become exceptions ------------------------------------------------------


def canned_problem(status: int, detail: str, **extra: Any) -> web.Response:
    body = {"type": "urn:twofold:problem:x", "title": "X", "status": status, "detail": detail}
    return web.Response(
        status=status, text=json.dumps(body | extra), content_type="application/problem+json"
    )


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, sdk.ApiError),
        (401, sdk.Unauthorized),
        (403, sdk.ApiError),
        (404, sdk.NotFoundError),
        (409, sdk.ApiError),
        (500, sdk.ServerError),
        (503, sdk.ServerError),
    ],
)
def test_a_problem_detail_becomes_the_matching_error(
    fake: FakeDaemon, status: int, error: type[sdk.ApiError]
) -> None:
    fake.canned["GET", "/api/v1/status"] = canned_problem(status, "do this", field="uri")
    with pytest.raises(error) as caught:
        call(fake, lambda c: c.status())
    assert type(caught.value) is error
    assert str(caught.value) == "do this"
    assert (caught.value.status, caught.value.field) == (status, "uri")
    assert caught.value.type == "urn:twofold:problem:x"


def test_the_real_handlers_problems_carry_their_detail(fake: FakeDaemon) -> None:
    with pytest.raises(sdk.NotFoundError, match="no account has an ID starting with beef"):
        call(fake, lambda c: c.account("BEEF"))
    with pytest.raises(sdk.ApiError) as caught:
        call(fake, lambda c: c.create_account_from_uri("https://example.com"))
    assert caught.value.field == "uri"


def test_a_wrong_token_is_unauthorized(fake: FakeDaemon) -> None:
    (fake.home / "api.token").write_text("00" * 32)
    with pytest.raises(sdk.Unauthorized, match="bad token"):
        call(fake, lambda c: c.status())


def test_an_error_without_a_problem_body_still_says_what_happened(fake: FakeDaemon) -> None:
    fake.canned["GET", "/api/v1/trash"] = web.Response(status=502, text="upstream gone")
    with pytest.raises(sdk.ServerError, match=r"GET /trash with HTTP 502 .*upstream gone"):
        call(fake, lambda c: c.trash())


@pytest.mark.parametrize("bad", ["abc", "../status", "xyz12", "0" * 33])
def test_an_id_that_is_not_hex_is_refused_before_sending(fake: FakeDaemon, bad: str) -> None:
    with pytest.raises(sdk.InvalidArgument, match="not an account ID"):
        call(fake, lambda c: c.account(bad))
    assert fake.seen == []


@pytest.mark.parametrize(
    "answer",
    [
        {"accounts": [{"id": "ab" * 16}]},
        {"accounts": "none"},
        {"nothing": []},
        {"accounts": [{"id": "ab" * 16, "issuer": 3}]},
    ],
)
def test_a_malformed_answer_is_a_protocol_mismatch(fake: FakeDaemon, answer: Any) -> None:
    fake.canned["GET", "/api/v1/accounts"] = web.json_response(answer)
    with pytest.raises(sdk.ProtocolMismatch, match="the daemon sent"):
        call(fake, lambda c: c.accounts())


def test_an_answer_that_is_not_json_is_a_protocol_mismatch(fake: FakeDaemon) -> None:
    fake.canned["GET", "/api/v1/status"] = web.Response(text="<html>")
    with pytest.raises(sdk.ProtocolMismatch, match="no JSON body"):
        call(fake, lambda c: c.status())


def test_a_slow_daemon_times_out(fake: FakeDaemon) -> None:
    fake.delay = 0.2
    with pytest.raises(sdk.DaemonUnreachable, match=r"did not answer GET /status within 0\.05 s"):
        call(fake, lambda c: c.status(), timeout=0.05)


# -- finding the daemon ---------------------------------------------------------------------


def expected(home: Path) -> str:
    return f"no Twofold daemon is running for {home}; start one with: twofold daemon --home {home}"


def write_api(home: Path, pid: int, port: int) -> None:
    home.mkdir(parents=True, exist_ok=True)
    info = {"host": "127.0.0.1", "port": port, "pid": pid, "version": "0.1.0"}
    (home / "api.json").write_text(json.dumps(info))
    (home / "api.token").write_text(TOKEN)


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.mark.parametrize("case", ["missing", "dead pid", "refused"])
def test_no_daemon_is_one_line_naming_the_home(tmp_path: Path, case: str) -> None:
    home = tmp_path / "home"
    if case == "dead pid":
        write_api(home, dead_pid(), free_port())
    elif case == "refused":
        write_api(home, os.getpid(), free_port())
    with pytest.raises(sdk.DaemonNotRunning) as caught, sdk.Client(home) as client:
        client.status()
    assert str(caught.value) == expected(home)
    assert "\n" not in str(caught.value)


def test_the_default_home_is_not_named_in_the_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TWOFOLD_HOME", raising=False)
    monkeypatch.setattr(home_module, "default_home", lambda: tmp_path)
    with pytest.raises(sdk.DaemonNotRunning) as caught:
        call_sync(lambda c: c.status())
    assert str(caught.value) == (
        f"no Twofold daemon is running for {tmp_path}; start one with: twofold daemon"
    )


def call_sync(fn: Callable[[sdk.Client], Any], home: Path | None = None) -> Any:
    with sdk.Client(home) as client:
        return fn(client)


def test_the_home_is_the_option_then_the_environment_then_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(home_module, "default_home", lambda: tmp_path / "default")
    monkeypatch.setenv("TWOFOLD_HOME", str(tmp_path / "env"))
    assert sdk.resolve_home(tmp_path / "opt") == tmp_path / "opt"
    assert sdk.resolve_home(None) == tmp_path / "env"
    monkeypatch.delenv("TWOFOLD_HOME")
    assert sdk.resolve_home(None) == tmp_path / "default"


def test_a_malformed_api_json_says_to_restart(tmp_path: Path) -> None:
    (tmp_path / "api.json").write_text('{"host": "127.0.0.1"}')
    with pytest.raises(sdk.SdkError, match=r"malformed.*restart the daemon"):
        sdk.load_endpoint(tmp_path)


# -- the sync client ------------------------------------------------------------------------


def test_the_sync_client_does_the_same_on_its_own_loop(
    fake: FakeDaemon, ids: dict[str, str]
) -> None:
    with sdk.Client(fake.home) as client:
        added = client.create_account(secret="JBSWY3DPEHPK3PXP", issuer="Acme", name="dan")
        assert client.account(added.id[:8]).name == "dan"
        assert client.next_code(ids["bank"]).counter == 5
        assert client.update_account(ids["bank"], counter=9).counter == 9
        assert client.delete_account(added.id).deleted
        assert [a.id for a in client.trash()] == sorted([added.id, ids["old"]])
        assert not client.restore_account(added.id).deleted
        assert client.code(ids["github"]).account_id == ids["github"]
        assert client.resolve_conflict(ids["github"], "name", "c1").name == "alice"
        assert client.conflicts() == []
        assert client.create_account_from_uri("otpauth://hotp/X:y?secret=AA").kind == "hotp"
        assert client.status().accounts == 4
        assert len(client.codes()) == 4
        assert client.endpoint.port == fake.port


def test_the_sync_client_pairs_too(fake: FakeDaemon) -> None:
    with sdk.Client(fake.home) as client:
        opened = client.open_invitation(ttl=120)
        assert fake.seen[-1].body == {"ttl": 120}
        assert client.invitation(opened.id).peer is not None
        assert client.accept_invitation(opened.id).state == "waiting"  # for the new device
        assert client.invitation(opened.id).state == "accepted"
        other = client.open_invitation()
        assert client.cancel_invitation(other.id).state == "cancelled"
        third = fake.invite("confirming", peer=dict(PHONE))
        assert client.decline_invitation(third["id"]).state == "declined"
        assert [i.state for i in client.invitations()] == ["accepted", "cancelled", "declined"]
        assert client.join(LINK).state == "connecting"
        assert fake.seen[-1].body == {"link": LINK}
        joining = client.joining()
        assert (joining.code, joining.vault) == (
            "123456",
            sdk.JoiningVault("0f" * 16, VAULT_DEVICES),
        )
        assert client.accept_join().state == "waiting"
        assert client.join(LINK, accept=True).state == "connecting"
        assert fake.seen[-1].body == {"link": LINK, "accept": True}
        assert client.joining().state == "confirming"
        assert client.joining().state == "waiting"  # the daemon said this device's yes
        client.join(LINK)
        client.joining()
        assert client.decline_join().state == "declined"


def test_the_reverse_flow_offers_a_link_and_scans_one(fake: FakeDaemon) -> None:
    with sdk.Client(fake.home) as client:
        offer = client.open_offer()
        assert (fake.seen[-1].body, offer.qr_svg, offer.error) == ({}, "<svg/>", None)
        assert fake.joining is not None
        assert fake.joining["state"] == "showing"
        scanned_by = client.joining()  # a member scanned it
        assert (scanned_by.state, scanned_by.vault) == (
            "confirming",
            sdk.JoiningVault("0f" * 16, VAULT_DEVICES),
        )
        assert client.accept_join().state == "waiting"
        client.open_offer(ttl=60, accept=True)
        assert fake.seen[-1].body == {"ttl": 60, "accept": True}
        with pytest.raises(sdk.NotFoundError):
            client.pairing()
        scanned = client.pair(offer.link)
        assert fake.seen[-1].body == {"link": offer.link}
        assert scanned.state == "confirming"
        assert (scanned.peer, scanned.vault) == (
            sdk.JoiningPeer("phone", "PH0N-E2AA-BBCC-DDEE"),
            None,  # only the joining device is shown the vault
        )
        assert client.pairing().code == "123456"
        assert client.decline_pairing().state == "declined"
        client.pair(offer.link)
        assert client.accept_pairing().state == "waiting"  # for the new device's person
        with pytest.raises(sdk.ApiError, match="the pairing is waiting"):
            client.decline_pairing()
        assert client.pairing().state == "accepted"
        fake.other_side = "declined"
        assert client.pair(offer.link, accept=True).state == "waiting"
        refused = client.pairing()
        assert (refused.state, refused.error) == ("declined", OTHER_DECLINED)


def test_a_client_rereads_the_home_after_the_daemon_restarts(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with sdk.Client(home) as client:
        with running(home):
            client.status()
        with pytest.raises(sdk.DaemonNotRunning):
            client.status()
        with running(home) as again:
            again.token = "cd" * 32
            (home / "api.token").write_text(again.token)
            assert client.status().version == "0.1.0"
