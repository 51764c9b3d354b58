"""The web page's sign-in and its guards, and the live event stream, on real daemons.

Raw HTTP on purpose: these tests play a browser (cookie, Origin, Sec-Fetch-Site)
and a hostile page, which no SDK call would.
"""

from __future__ import annotations

import http.client
import json
import queue
import socket
import threading
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.integration.daemon import Daemon
from tests.integration.test_pairing import final, invite

SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


def raw(
    d: Daemon, method: str, path: str, body: Any = None, **headers: str
) -> tuple[int, dict[str, str], Any]:
    """One request with exactly these headers (no token unless given)."""
    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
    data = None if body is None else json.dumps(body).encode()
    sent = {k.replace("_", "-"): v for k, v in headers.items()}
    if data is not None:
        sent.setdefault("Content-Type", "application/json")
    try:
        conn.request(method, path, body=data, headers=sent)
        r = conn.getresponse()
        payload = r.read()
        kind = r.getheader("Content-Type", "")
        parsed = json.loads(payload) if payload and "json" in kind else payload.decode()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, parsed
    finally:
        conn.close()


def sign_in_link(d: Daemon) -> str:
    r = d.request("POST", "/sessions")
    assert r.status == 201, r.body
    return r.body["url"]


def sign_in(d: Daemon) -> tuple[str, str]:
    """Open a one-time link as a browser would: the Cookie header and the CSRF token."""
    url = urlsplit(sign_in_link(d))
    status, headers, _ = raw(d, "GET", f"{url.path}?{url.query}", Sec_Fetch_Site="none")
    assert (status, headers["location"]) == (303, "/")
    cookie = SimpleCookie(headers["set-cookie"])
    morsel = cookie[f"twofold-{d.port}"]
    assert morsel["httponly"] is True
    assert morsel["samesite"] == "Strict"
    jar = f"twofold-{d.port}={morsel.value}"
    status, _, session = raw(d, "GET", "/api/v1/session", Cookie=jar)
    assert status == 200, session
    return jar, session["csrf_token"]


def own(d: Daemon) -> str:
    return f"http://127.0.0.1:{d.port}"


def test_the_page_is_served_with_a_strict_policy(daemon: Daemon) -> None:
    status, headers, body = raw(daemon, "GET", "/")
    assert status == 200
    assert "<html" in body
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert raw(daemon, "GET", "/web/../../etc/passwd")[0] == 404
    assert raw(daemon, "GET", "/web/nothing.js")[0] == 404


def test_a_session_reads_and_writes_with_its_csrf_token(daemon: Daemon) -> None:
    jar, csrf = sign_in(daemon)
    assert raw(daemon, "GET", "/api/v1/accounts", Cookie=jar)[0] == 200
    body = {"issuer": "GitHub", "secret": SECRET}
    status, _, made = raw(daemon, "POST", "/api/v1/accounts", body, Cookie=jar,
                          X_Twofold_CSRF=csrf, Origin=own(daemon))  # fmt: skip
    assert status == 201, made
    assert daemon.request("GET", "/accounts").body["accounts"][0]["id"] == made["id"]


@pytest.mark.parametrize(
    ("headers", "status", "slug"),
    [
        ({"Origin": "SELF"}, 403, "csrf"),  # no CSRF token
        ({"Origin": "SELF", "X_Twofold_CSRF": "wrong"}, 403, "csrf"),
        ({"Origin": "http://evil.example", "X_Twofold_CSRF": "TOKEN"}, 403, "forbidden-origin"),
        ({"Origin": "http://127.0.0.1:1", "X_Twofold_CSRF": "TOKEN"}, 403, "forbidden-origin"),
        ({"Origin": "null", "X_Twofold_CSRF": "TOKEN"}, 403, "forbidden-origin"),
        ({"Sec_Fetch_Site": "cross-site", "X_Twofold_CSRF": "TOKEN"}, 403, "forbidden-origin"),
        ({"Sec_Fetch_Site": "same-site", "X_Twofold_CSRF": "TOKEN"}, 403, "forbidden-origin"),
        ({"X_Twofold_CSRF": "TOKEN"}, 403, "forbidden-origin"),  # no Origin at all
        ({"Host": "evil.example", "Origin": "SELF", "X_Twofold_CSRF": "TOKEN"}, 403,
         "forbidden-host"),
    ],
)  # fmt: skip
def test_writes_that_a_foreign_page_could_send_are_refused(
    daemon: Daemon, headers: dict[str, str], status: int, slug: str
) -> None:
    jar, csrf = sign_in(daemon)
    sent = {k: v.replace("SELF", own(daemon)).replace("TOKEN", csrf) for k, v in headers.items()}
    body = {"issuer": "Evil", "secret": SECRET}
    got, _, problem = raw(daemon, "POST", "/api/v1/accounts", body, Cookie=jar, **sent)
    assert (got, problem["type"]) == (status, f"urn:twofold:problem:{slug}")
    assert daemon.request("GET", "/accounts").body["accounts"] == []


def test_even_the_token_is_refused_from_a_foreign_origin_and_no_cors_is_granted(
    daemon: Daemon,
) -> None:
    token = f"Bearer {daemon.token}"
    status, headers, _ = raw(daemon, "GET", "/api/v1/accounts", Authorization=token,
                             Origin="http://evil.example")  # fmt: skip
    assert status == 403
    assert "access-control-allow-origin" not in headers
    status, headers, _ = raw(daemon, "OPTIONS", "/api/v1/accounts", Origin="http://evil.example",
                             Access_Control_Request_Method="POST")  # fmt: skip
    assert status == 403
    assert "access-control-allow-origin" not in headers


def test_a_one_time_link_works_once(daemon: Daemon) -> None:
    url = urlsplit(sign_in_link(daemon))
    target = f"{url.path}?{url.query}"
    assert raw(daemon, "GET", target)[0] == 303
    status, headers, body = raw(daemon, "GET", target)
    assert status == 403
    assert "set-cookie" not in headers
    assert "twofold open" in body
    assert raw(daemon, "GET", "/login?ticket=made-up")[0] == 403
    assert raw(daemon, "GET", "/login")[0] == 403


def test_non_loopback_hosts_are_refused_everywhere(daemon: Daemon) -> None:
    url = urlsplit(sign_in_link(daemon))
    for path in ("/", f"{url.path}?{url.query}", "/api/v1/status", "/web/app.js"):
        status, headers, _ = raw(daemon, "GET", path, Host="attacker.example:80")
        assert status == 403, path
        assert "set-cookie" not in headers
    assert raw(daemon, "GET", f"{url.path}?{url.query}")[0] == 303, "the refusal spent nothing"


def test_signing_out_ends_the_session_and_a_session_cannot_mint_links(daemon: Daemon) -> None:
    jar, csrf = sign_in(daemon)
    status, _, problem = raw(daemon, "POST", "/api/v1/sessions", Cookie=jar, X_Twofold_CSRF=csrf,
                             Origin=own(daemon))  # fmt: skip
    assert (status, problem["type"]) == (403, "urn:twofold:problem:forbidden")
    status, headers, _ = raw(daemon, "DELETE", "/api/v1/session", Cookie=jar,
                             X_Twofold_CSRF=csrf, Origin=own(daemon))  # fmt: skip
    assert status == 200
    assert "Max-Age=0" in headers["set-cookie"]
    assert raw(daemon, "GET", "/api/v1/accounts", Cookie=jar)[0] == 401
    assert daemon.request("GET", "/session").status == 404, "a token holder has no session"


def test_sessions_end_when_the_daemon_restarts(daemon: Daemon) -> None:
    jar, _ = sign_in(daemon)
    value = jar.split("=", 1)[1]
    daemon.stop()
    daemon.start()
    status, _, _ = raw(daemon, "GET", "/api/v1/accounts", Cookie=f"twofold-{daemon.port}={value}")
    assert status == 401


# -- live events ---------------------------------------------------------------------------


@pytest.fixture
def stream(daemon: Daemon) -> Iterator[queue.Queue[tuple[str, dict[str, Any]]]]:
    yield from open_stream(daemon)


def open_stream(d: Daemon) -> Iterator[queue.Queue[tuple[str, dict[str, Any]]]]:
    """Read d's event stream in a thread; events arrive on the queue as (kind, data)."""
    events: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=30)
    conn.request("GET", "/api/v1/events", headers={"Authorization": f"Bearer {d.token}"})
    response = conn.getresponse()
    assert response.status == 200
    assert response.getheader("Content-Type") == "text/event-stream"

    def read() -> None:
        kind = ""
        try:
            for line in response:
                text = line.decode().rstrip("\n")
                if text.startswith("event: "):
                    kind = text[7:]
                elif text.startswith("data: "):
                    events.put((kind, json.loads(text[6:])))
        except (OSError, ValueError, AttributeError, http.client.HTTPException):
            pass  # the stream was cut: by the test, or by the daemon stopping
        events.put(("end", {}))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert next_of(events, "hello")["device"]
        yield events
    finally:
        if conn.sock is not None:
            conn.sock.shutdown(socket.SHUT_RDWR)
        reader.join(5)
        conn.close()


def next_of(events: queue.Queue[tuple[str, dict[str, Any]]], kind: str, **match: Any) -> Any:
    """The next event of this kind (whose data has these values), within 10 s."""
    while True:
        got, data = events.get(timeout=10)
        if got == kind and all(data.get(k) == v for k, v in match.items()):
            return data


def test_an_edit_is_an_accounts_event(daemon: Daemon, stream: Any) -> None:
    made = daemon.request("POST", "/accounts", {"issuer": "GitHub", "secret": SECRET}).body
    assert next_of(stream, "accounts") == {"ids": [made["id"]], "local": True}
    daemon.request("PATCH", f"/accounts/{made['id']}", {"name": "alice"})
    assert next_of(stream, "accounts")["ids"] == [made["id"]]


def test_pairing_sync_peers_and_a_remote_edit_arrive_as_events(tmp_path: Path) -> None:
    laptop = Daemon(tmp_path / "laptop").start()
    phone = Daemon(tmp_path / "phone").start()
    try:
        streams = open_stream(laptop)
        events = next(streams)
        shown = invite(laptop)
        phone.request("POST", "/join", {"link": shown["link"]})
        waiting = next_of(events, "pairing", state="confirming")
        assert waiting == {"flow": "invitation", "invitation": shown["id"], "state": "confirming"}
        assert laptop.request("POST", f"/invitations/{shown['id']}/accept").status == 200
        assert final(phone)["state"] == "joined"
        next_of(events, "devices")
        phone_id = phone.request("GET", "/status").body["device"]["id"]
        next_of(events, "peers", device=phone_id, connected=True)
        made = phone.request("POST", "/accounts", {"issuer": "Bank", "secret": SECRET}).body
        assert next_of(events, "accounts", ids=[made["id"]])["local"] is False
        next_of(events, "sync", device=phone_id)
        phone.kill()
        next_of(events, "peers", device=phone_id, connected=False)
        streams.close()
    finally:
        laptop.kill()
        phone.kill()


def test_the_stream_ends_when_the_daemon_stops(daemon: Daemon, stream: Any) -> None:
    assert daemon.stop() == 0
    assert next_of(stream, "end") == {}
