"""Bad requests get a 4xx problem detail that says what to fix, and change nothing."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator

import pytest

from tests.integration.daemon import Daemon
from twofold.daemon.web_sessions import Sessions

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


# -- malformed headers, cookies and bodies: always a 4xx, never a traceback -------------


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """One daemon for the tests that only read: starting one per case costs seconds each."""
    d = Daemon(tmp_path_factory.mktemp("shared") / "home").start()
    try:
        yield d
    finally:
        d.kill()


def raw_request(
    d: Daemon,
    method: str,
    path: str,
    headers: list[tuple[str, bytes]],
    body: bytes | None = None,
) -> tuple[int, str, bytes]:
    """One request whose header bytes are exactly these (http.client would encode str)."""
    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in headers:
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)).encode())
        conn.endheaders(body)
        r = conn.getresponse()
        return r.status, r.getheader("Content-Type") or "", r.read()
    finally:
        conn.close()


def no_traceback(d: Daemon) -> None:
    log = d.stderr()
    assert "Traceback" not in log, log[-3000:]
    assert " ERROR " not in log, log[-3000:]


def host(d: Daemon) -> tuple[str, bytes]:
    return ("Host", f"127.0.0.1:{d.port}".encode())


def bearer(d: Daemon) -> tuple[str, bytes]:
    return ("Authorization", f"Bearer {d.token}".encode())


@pytest.mark.parametrize(
    "value",
    [b"Bearer \xff\xfe", b"Bearer \xe9", "Bearer é".encode(), b"\xff", b"Bearer " + b"\x80" * 64],
)
def test_an_authorization_header_that_is_not_ascii_is_401(shared: Daemon, value: bytes) -> None:
    status, kind, body = raw_request(
        shared, "GET", "/api/v1/status", [host(shared), ("Authorization", value)]
    )
    assert status == 401
    assert kind.startswith("application/problem+json")
    assert json.loads(body)["type"] == "urn:twofold:problem:unauthorized"
    no_traceback(shared)


@pytest.mark.parametrize(
    "cookie",
    [
        "twofold-{port}=\xff\xfe",
        "twofold-{port}=\xe9t\xe9",
        "twofold-{port}=é",
        'twofold-{port}="\\\\"',
        ";;;=;=",
        "\xff=\xff; twofold-{port}=x",
        "twofold-{port}=" + "A" * 4000,
        "twofold-{port}",
    ],
)
def test_a_cookie_that_is_broken_or_not_ascii_is_401(shared: Daemon, cookie: str) -> None:
    value = cookie.format(port=shared.port).encode("latin-1")
    status, kind, _ = raw_request(
        shared, "GET", "/api/v1/status", [host(shared), ("Cookie", value)]
    )
    assert status == 401
    assert kind.startswith("application/problem+json")
    no_traceback(shared)


def test_a_control_session_cookie_still_works_after_a_broken_one(shared: Daemon) -> None:
    raw_request(shared, "GET", "/api/v1/status", [host(shared), ("Cookie", b"x=\xff")])
    assert shared.request("GET", "/status").status == 200


@pytest.mark.parametrize(
    "value", [b"\xff\xfe", "lócalhost".encode(), b"[::1]x:80", b"[::1", b"127.0.0.1:abc", b""]
)
def test_a_host_that_is_malformed_is_403(shared: Daemon, value: bytes) -> None:
    status, kind, _ = raw_request(
        shared, "GET", "/api/v1/status", [("Host", value), bearer(shared)]
    )
    assert status == 403
    assert kind.startswith("application/problem+json")
    no_traceback(shared)


@pytest.mark.parametrize(
    ("name", "value"),
    [("Origin", b"http://\xff"), ("Origin", b"null"), ("Sec-Fetch-Site", b"cross-site")],
)
def test_an_origin_that_is_odd_is_403(shared: Daemon, name: str, value: bytes) -> None:
    status, kind, _ = raw_request(
        shared, "GET", "/api/v1/status", [host(shared), bearer(shared), (name, value)]
    )
    assert status == 403
    assert kind.startswith("application/problem+json")
    no_traceback(shared)


@pytest.mark.parametrize(
    "headers",
    [
        [("Host", b"127.0.0.1"), ("Host", b"evil.example")],  # two Hosts
        [],  # no Host at all (HTTP/1.1 requires one)
        [("Host", b"127.0.0.1"), ("X-Odd", b"a\x01b")],  # a control byte in a value
        [("Host", b"127.0.0.1"), ("Content-Length", b"-1")],
        [("Host", b"127.0.0.1"), ("Content-Length", b"1, 2")],
        [("Host", b"127.0.0.1"), ("Transfer-Encoding", b"chunked, identity")],
    ],
)
def test_headers_the_http_parser_refuses_are_400_and_logged_without_traceback(
    shared: Daemon, headers: list[tuple[str, bytes]]
) -> None:
    """aiohttp refuses these before any handler runs: its own plain 400, one line of log."""
    status, _, _ = raw_request(shared, "GET", "/api/v1/status", [*headers, bearer(shared)])
    assert status == 400
    no_traceback(shared)
    assert shared.request("GET", "/status").status == 200


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b'{"digits": ' + b"9" * 5000 + b', "secret": "x"}', "not valid JSON"),
        (b'{"secret": "\\ud800"}', "lone surrogate"),
        (b'{"note": ["\\udfff"], "secret": "x"}', "lone surrogate"),
        (b'{"a": ' + b"[" * 30_000 + b"]" * 30_000 + b"}", "nests too deeply"),
        (b'{"digits": 1e999, "secret": "x"}', "whole number"),
        (b'{"digits": NaN, "secret": "x"}', "whole number"),
        ("{}".encode("utf-16"), "required"),  # JSON may be UTF-16: read, then refused
        (b"", "not valid JSON"),
    ],
)
def test_bodies_with_odd_numbers_text_or_depth_are_400(
    shared: Daemon, raw: bytes, words: str
) -> None:
    problem = refused(shared, 400, "bad-request", "POST", "/accounts", raw=raw)
    assert words in problem["detail"]
    no_traceback(shared)


@pytest.mark.parametrize(
    ("method", "path", "raw"),
    [
        ("PATCH", "/devices/self", b'{"name": "\\ud800"}'),
        ("POST", "/import", b'{"text": "\\ud800"}'),
        ("POST", "/backup", b'{"passphrase": "\\ud800 correct horse battery staple"}'),
        ("POST", "/invitations", b'{"ttl": ' + b"9" * 5000 + b"}"),
        ("POST", "/join", b'{"link": "\\udc80"}'),
    ],
)
def test_every_route_refuses_a_lone_surrogate_or_a_huge_number(
    shared: Daemon, method: str, path: str, raw: bytes
) -> None:
    refused(shared, 400, "bad-request", method, path, raw=raw)
    no_traceback(shared)


@pytest.mark.parametrize(
    "content_type",
    ["application/json; charset=latin-1", "application/json; charset=nonesuch", "text/json"],
)
def test_an_odd_content_type_is_refused_or_read_as_json(shared: Daemon, content_type: str) -> None:
    r = shared.request("POST", "/accounts", raw=b'{"secret": 5}', content_type=content_type)
    assert r.status == 400
    no_traceback(shared)


def test_a_session_header_or_cookie_that_is_not_utf8_is_compared_not_raised() -> None:
    """Sessions: aiohttp hands header bytes that are not UTF-8 on as lone surrogates."""
    sessions = Sessions()
    ticket, _ = sessions.ticket()
    redeemed = sessions.redeem(ticket)
    assert redeemed is not None
    cookie, session = redeemed
    assert sessions.find("\udcff\udcfe") is None
    assert sessions.redeem("\udce9") is None
    sessions.end("\udcff")
    assert not session.csrf_ok("\udcff\udcfe")
    assert not session.csrf_ok("é")
    assert session.csrf_ok(session.csrf)
    assert sessions.find(cookie) is session


# -- names that hide or reorder text (U+202E and friends) ------------------------------

RLO = "\u202e"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"secret": SECRET, "issuer": f"{RLO}lapyaP"}, "issuer"),
        ({"secret": SECRET, "name": "bob\u200b"}, "name"),
        ({"secret": SECRET, "issuer": "x", "note": f"see {RLO}this"}, "note"),
        ({"uri": GITHUB, "note": "\u2066x\u2069"}, "note"),
    ],
)
def test_a_new_account_with_a_hidden_character_is_refused(
    seeded: Daemon, body: dict, field: str
) -> None:
    problem = refused(seeded, 422, "invalid-account", "POST", "/accounts", body, field=field)
    assert "U+" in problem["detail"]
    no_traceback(seeded)


def test_a_uri_whose_label_hides_a_character_is_refused(seeded: Daemon) -> None:
    uri = f"otpauth://totp/PayPal:%E2%80%AEmoc.evil?secret={SECRET}"
    problem = refused(seeded, 422, "invalid-uri", "POST", "/accounts", {"uri": uri}, field="name")
    assert "U+202E RIGHT-TO-LEFT OVERRIDE" in problem["detail"]


@pytest.mark.parametrize(
    ("issuer", "name"),
    [("Zoë's Bank", "東京"), ("👨\u200d👩\u200d👧", "क्\u200dष"), ("🏳️\u200d🌈", "1️⃣")],
)
def test_real_names_with_accents_scripts_and_emoji_are_taken(
    daemon: Daemon, issuer: str, name: str
) -> None:
    r = daemon.request("POST", "/accounts", {"secret": SECRET, "issuer": issuer, "name": name})
    assert r.status == 201, r.body
    assert (r.body["issuer"], r.body["name"]) == (issuer, name)
    r = daemon.request("PATCH", f"/accounts/{r.body['id']}", {"name": f"{name} 2"})
    assert r.status == 200, r.body


def test_an_edit_or_a_rename_with_a_hidden_character_is_refused(seeded: Daemon) -> None:
    aid = seeded.request("GET", "/accounts").body["accounts"][0]["id"]
    refused(seeded, 422, "invalid-account", "PATCH", f"/accounts/{aid}", {"name": f"a{RLO}"})
    before = seeded.request("GET", "/devices").body
    r = seeded.request("PATCH", "/devices/self", {"name": f"laptop{RLO}"})
    assert (r.status, r.body["field"]) == (422, "name")
    assert seeded.request("GET", "/devices").body == before
    assert seeded.request("PATCH", "/devices/self", {"name": "Zoë's 📱"}).status == 200


def test_an_import_takes_every_account_and_strips_what_hides(daemon: Daemon) -> None:
    text = "\n".join(
        [
            f"otpauth://totp/%E2%80%AElapyaP:bob?secret={SECRET}",
            f"otpauth://totp/Zo%C3%AB:alice?secret={SECRET}",
        ]
    )
    r = daemon.request("POST", "/import", {"text": text})
    assert r.status == 200, r.body
    assert [(a["issuer"], a["name"]) for a in r.body["added"]] == [
        ("lapyaP", "bob"),
        ("Zoë", "alice"),
    ]
    assert r.body["warnings"] == [
        "line 1: took out characters that hide or reorder text "
        "(issuer: U+202E RIGHT-TO-LEFT OVERRIDE)"
    ]
    no_traceback(daemon)


@pytest.mark.parametrize("encoding", [b"gzip", b"deflate", b"br", b"zstd", b"x-unknown"])
def test_a_body_that_is_not_what_its_content_encoding_says_is_400(
    shared: Daemon, encoding: bytes
) -> None:
    headers = [
        host(shared),
        bearer(shared),
        ("Content-Type", b"application/json"),
        ("Content-Encoding", encoding),
    ]
    status, kind, _ = raw_request(shared, "POST", "/api/v1/accounts", headers, b"\x1f\x8bjunk")
    assert status == 400
    if encoding in (b"gzip", b"deflate"):  # these reach the handler, which reads the body
        assert kind.startswith("application/problem+json")
    no_traceback(shared)
