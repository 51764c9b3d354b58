"""Bad requests get a 4xx problem detail that says what to fix, and change nothing."""

from __future__ import annotations

import pytest

from tests.integration.daemon import Daemon

SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
GITHUB = f"otpauth://totp/GitHub:alice@example.com?secret={SECRET}&issuer=GitHub"


@pytest.fixture
def seeded(daemon: Daemon) -> Daemon:
    assert daemon.request("POST", "/accounts", {"uri": GITHUB}).status == 201
    return daemon


def snapshot(d: Daemon) -> object:
    return (d.request("GET", "/accounts").body, d.request("GET", "/trash").body)


def refused(d: Daemon, status: int, slug: str, *args, field: str | None = None, **kw) -> dict:  # type: ignore[no-untyped-def]
    before = snapshot(d)
    r = d.request(*args, **kw)
    assert r.status == status, r.body
    assert r.headers["Content-Type"].startswith("application/problem+json")
    assert r.body["type"] == f"urn:twofold:problem:{slug}"
    assert r.body["status"] == status
    assert r.body["detail"]
    if field is not None:
        assert r.body["field"] == field
    assert snapshot(d) == before
    return r.body


@pytest.mark.parametrize(
    ("uri", "field", "words"),
    [
        ("http://example.com", "uri", "otpauth://"),
        ("otpauth://totp/x?secret=1!!", "secret", "base32"),
        (
            "otpauth://hotp/x?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
            "counter",
            "hotp needs a counter",
        ),
        (
            "otpauth://totp/x?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&digits=12",
            "digits",
            "between 6 and 10",
        ),
        (
            "otpauth://totp/x?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&algorithm=SHA3",
            "algorithm",
            "SHA1",
        ),
        ("otpauth://totp/?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", "label", "empty"),
    ],
)
def test_malformed_uris(seeded: Daemon, uri: str, field: str, words: str) -> None:
    body = refused(seeded, 422, "invalid-uri", "POST", "/accounts", {"uri": uri}, field=field)
    assert words in body["detail"]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"uri": 5}, "uri", "text"),
        ({"secret": SECRET, "digits": "8"}, "digits", "whole number"),
        ({"secret": SECRET, "digits": True}, "digits", "whole number"),
        (
            {"secret": SECRET, "colour": "red"},
            "colour",
            "unknown field",
        ),
        ({"uri": GITHUB, "issuer": "x"}, "issuer", "unknown field"),
        ({"issuer": "x"}, "secret", "required"),
        ({"secret": None}, "secret", "text"),
    ],
)
def test_wrong_types_and_unknown_fields(seeded: Daemon, body: dict, field: str, words: str) -> None:
    problem = refused(seeded, 400, "bad-request", "POST", "/accounts", body, field=field)
    assert words in problem["detail"]


def test_invalid_field_values(seeded: Daemon) -> None:
    problem = refused(
        seeded,
        422,
        "invalid-account",
        "POST",
        "/accounts",
        {"secret": SECRET, "kind": "sms"},
        field="kind",
    )
    assert "totp, hotp" in problem["detail"]
    refused(
        seeded,
        422,
        "invalid-account",
        "POST",
        "/accounts",
        {"secret": SECRET, "issuer": "x" * 300},
        field="issuer",
    )


@pytest.mark.parametrize(
    ("raw", "content_type", "words"),
    [
        (b"{not json", "application/json", "not valid JSON"),
        (b"[1, 2]", "application/json", "JSON object"),
        (b"\xff\xfe", "application/json", "not valid JSON"),
        (b'{"uri": "x"}', "text/plain", "Content-Type"),
    ],
)
def test_bodies_that_are_not_json_objects(
    seeded: Daemon, raw: bytes, content_type: str, words: str
) -> None:
    problem = refused(
        seeded, 400, "bad-request", "POST", "/accounts", raw=raw, content_type=content_type
    )
    assert words in problem["detail"]


def test_a_huge_body_is_refused(seeded: Daemon) -> None:
    huge = {"uri": GITHUB, "note": "x" * 100_000}
    refused(seeded, 413, "too-large", "POST", "/accounts", huge)


def test_unknown_and_malformed_ids(seeded: Daemon) -> None:
    refused(seeded, 404, "not-found", "GET", "/accounts/ffffffffffffffffffffffffffffffff")
    refused(seeded, 404, "not-found", "DELETE", "/accounts/ffff")
    refused(seeded, 400, "bad-request", "GET", "/accounts/xyz", field="id")
    refused(seeded, 400, "bad-request", "PATCH", "/accounts/ab", {"name": "x"}, field="id")


def test_patch_needs_known_fields(seeded: Daemon) -> None:
    aid = seeded.request("GET", "/accounts").body["accounts"][0]["id"]
    refused(seeded, 400, "bad-request", "PATCH", f"/accounts/{aid}", {}, field=None)
    refused(
        seeded, 400, "bad-request", "PATCH", f"/accounts/{aid}", {"secret": "x"}, field="secret"
    )
    refused(
        seeded,
        422,
        "invalid-account",
        "PATCH",
        f"/accounts/{aid}",
        {"issuer": "", "name": ""},
        field="name",
    )


def test_trash_twice_and_restore_of_a_live_account(seeded: Daemon) -> None:
    aid = seeded.request("GET", "/accounts").body["accounts"][0]["id"]
    refused(seeded, 422, "invalid-account", "POST", f"/accounts/{aid}/restore")
    assert seeded.request("DELETE", f"/accounts/{aid}").status == 200
    refused(seeded, 422, "invalid-account", "DELETE", f"/accounts/{aid}")


def test_unknown_routes_and_methods(seeded: Daemon) -> None:
    refused(seeded, 404, "not-found", "GET", "/nothing-here")
    refused(seeded, 405, "method-not-allowed", "PUT", "/status")


def test_a_request_without_the_token_is_401(seeded: Daemon) -> None:
    r = seeded.request("GET", "/accounts", token="")
    assert (r.status, r.headers.get("WWW-Authenticate")) == (401, "Bearer")
    assert seeded.request("GET", "/accounts", token="0" * 64).status == 401
    assert seeded.request("GET", "/nothing-here", token="").status == 401


@pytest.mark.parametrize("host", ["evil.example", "192.168.1.5:8080", "localhost.evil.example"])
def test_a_host_that_is_not_loopback_is_403(seeded: Daemon, host: str) -> None:
    refused(seeded, 403, "forbidden-host", "GET", "/accounts", host=host)


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]:1234", "localhost:99"])
def test_loopback_hosts_are_served(seeded: Daemon, host: str) -> None:
    assert seeded.request("GET", "/status", host=host).status == 200


def test_a_broken_pairing_link_is_named_as_a_link(seeded: Daemon) -> None:
    for path in ("/join", "/pair"):
        body = refused(seeded, 422, "invalid-link", "POST", path, {"link": "twofold://pair/AAAA"})
        assert "link" in body["detail"]
