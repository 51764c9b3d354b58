"""The web page's sign-in and its guards, and the live event stream, on real daemons.

Raw HTTP on purpose: these tests play a browser (cookie, Origin, Sec-Fetch-*), a
hostile page and a local thief, which no SDK call would. `twofold open` runs for real
with a stand-in browser (BROWSER) that records what any other local user could see.
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import re
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

import pytest

from tests.integration.daemon import Daemon
from tests.integration.test_pairing import final, invite

SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


def raw(
    d: Daemon,
    method: str,
    path: str,
    body: Any = None,
    *,
    form: str | None = None,
    **headers: str,
) -> tuple[int, dict[str, str], Any]:
    """One request with exactly these headers (no token unless given); `form` is sent as
    a form body, as a browser's form does."""
    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
    data = None if body is None else json.dumps(body).encode()
    sent = {k.replace("_", "-"): v for k, v in headers.items()}
    if data is not None:
        sent.setdefault("Content-Type", "application/json")
    if form is not None:
        data = form.encode(errors="surrogateescape")
        sent.setdefault("Content-Type", "application/x-www-form-urlencoded")
    try:
        conn.request(method, path, body=data, headers=sent)
        r = conn.getresponse()
        payload = r.read()
        kind = r.getheader("Content-Type", "")
        parsed = json.loads(payload) if payload and "json" in kind else payload.decode()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, parsed
    finally:
        conn.close()


# What Chromium sends when the redirect file (a file:// page) posts its form.
FROM_FILE = {
    "Origin": "null",
    "Sec_Fetch_Site": "cross-site",
    "Sec_Fetch_Mode": "navigate",
    "Sec_Fetch_Dest": "document",
}


def new_ticket(d: Daemon) -> str:
    """A one-time ticket, from the link POST /sessions answers (the ticket in its fragment)."""
    r = d.request("POST", "/sessions")
    assert r.status == 201, r.body
    url = urlsplit(r.body["url"])
    assert (url.scheme, url.netloc, url.path, url.query) == (
        "http",
        f"127.0.0.1:{d.port}",
        "/login",
        "",
    )
    assert url.fragment.startswith("ticket=")
    return url.fragment.removeprefix("ticket=")


def redeem(
    d: Daemon, ticket: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    """POST the sign-in form with this ticket: with the redirect file's headers, or these."""
    sent = FROM_FILE if headers is None else headers
    return raw(d, "POST", "/login", form=urlencode({"ticket": ticket}), **sent)


def jar_of(d: Daemon, headers: dict[str, str]) -> str:
    """The session cookie a sign-in set, checked, as a Cookie header."""
    cookie = SimpleCookie(headers["set-cookie"])
    morsel = cookie[f"twofold-{d.port}"]
    assert morsel["httponly"] is True
    assert morsel["samesite"] == "Strict"
    return f"twofold-{d.port}={morsel.value}"


def sign_in(d: Daemon) -> tuple[str, str]:
    """Sign in as a browser does from the redirect file: the Cookie header and the CSRF
    token."""
    status, headers, page = redeem(d, new_ticket(d))
    assert status == 200, page
    assert '<meta http-equiv="refresh" content="0;url=/">' in page
    jar = jar_of(d, headers)
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


def test_a_ticket_works_once(daemon: Daemon) -> None:
    ticket = new_ticket(daemon)
    assert redeem(daemon, ticket)[0] == 200
    status, headers, body = redeem(daemon, ticket)
    assert status == 403
    assert "set-cookie" not in headers
    assert "twofold open" in body
    assert redeem(daemon, "made-up")[0] == 403
    assert raw(daemon, "POST", "/login", form="", **FROM_FILE)[0] == 403


def test_a_get_never_redeems_a_ticket(daemon: Daemon) -> None:
    """Neither the old link (the ticket in the query) nor the printed link's page sets a
    cookie or spends the ticket."""
    ticket = new_ticket(daemon)
    for path in (f"/login?ticket={ticket}", "/login"):
        status, headers, page = raw(daemon, "GET", path, Sec_Fetch_Site="none")
        assert status == 200
        assert "set-cookie" not in headers
        assert '<script src="/web/login.js" defer></script>' in page
        assert ticket not in page
    assert redeem(daemon, ticket)[0] == 200, "the GETs spent nothing"


@pytest.mark.parametrize(
    ("headers", "form", "refusal"),
    [
        (FROM_FILE | {"Origin": "http://evil.example"}, None, "forbidden-origin"),
        (FROM_FILE | {"Origin": "http://127.0.0.1:1"}, None, "forbidden-origin"),
        (FROM_FILE | {"Sec_Fetch_Mode": "cors"}, None, "forbidden-origin"),  # a null fetch()
        (FROM_FILE | {"Sec_Fetch_Mode": "no-cors"}, None, "forbidden-origin"),
        (FROM_FILE | {"Sec_Fetch_Dest": "iframe"}, None, "forbidden-origin"),  # into a frame
        (FROM_FILE | {"Sec_Fetch_Site": "same-site"}, None, "forbidden-origin"),
        (FROM_FILE | {"Host": "attacker.example:80"}, None, "forbidden-host"),
        ({}, None, "page"),  # a script that says nothing of where it comes from
        (FROM_FILE | {"Content_Type": "application/json"}, None, "page"),
        (FROM_FILE | {"Content_Type": "text/plain"}, None, "page"),
        (FROM_FILE, "ticket=TICKET&ticket=TICKET", "page"),
        (FROM_FILE, "ticket=TICKET&next=/", "page"),
        (FROM_FILE, "TICKET", "page"),
        (FROM_FILE, "ticket=TICKET\udcff", "page"),  # not UTF-8
        (FROM_FILE | {"Content_Type": "application/x-www-form-urlencoded; charset=klingon"},
         None, "page"),  # a charset Python does not know
    ],
)  # fmt: skip
def test_redeeming_needs_the_form_of_the_file_or_of_the_page(
    daemon: Daemon, headers: dict[str, str], form: str | None, refusal: str
) -> None:
    """What is not a browser's sign-in form is refused, and spends nothing."""
    ticket = new_ticket(daemon)
    body = urlencode({"ticket": ticket}) if form is None else form.replace("TICKET", ticket)
    status, answered, answer = raw(daemon, "POST", "/login", form=body, **headers)
    assert status == 403
    assert "set-cookie" not in answered
    if refusal == "page":
        assert "This sign-in request was refused" in answer
    else:
        assert answer["type"] == f"urn:twofold:problem:{refusal}"
    assert redeem(daemon, ticket)[0] == 200, "the refusal spent nothing"


def test_the_null_origin_opens_nothing_but_the_sign_in_form(daemon: Daemon) -> None:
    jar, csrf = sign_in(daemon)
    token = f"Bearer {daemon.token}"
    for method, path, extra in [
        ("GET", "/", {}),
        ("GET", "/login", {}),
        ("GET", "/api/v1/accounts", {"Cookie": jar}),
        ("GET", "/api/v1/accounts", {"Authorization": token}),
        ("POST", "/api/v1/sessions", {"Authorization": token}),
        ("DELETE", "/api/v1/session", {"Cookie": jar, "X_Twofold_CSRF": csrf}),
    ]:
        status, headers, problem = raw(daemon, method, path, **FROM_FILE, **extra)
        assert (status, problem["type"]) == (403, "urn:twofold:problem:forbidden-origin"), path
        assert "set-cookie" not in headers
    assert raw(daemon, "GET", "/api/v1/accounts", Cookie=jar)[0] == 200


def test_non_loopback_hosts_are_refused_everywhere(daemon: Daemon) -> None:
    ticket = new_ticket(daemon)
    for path in ("/", "/login", "/api/v1/status", "/web/app.js"):
        status, headers, _ = raw(daemon, "GET", path, Host="attacker.example:80")
        assert status == 403, path
        assert "set-cookie" not in headers
    status, headers, _ = redeem(daemon, ticket, FROM_FILE | {"Host": "attacker.example:80"})
    assert (status, "set-cookie" in headers) == (403, False)
    assert redeem(daemon, ticket)[0] == 200, "the refusal spent nothing"


# -- twofold open, with a stand-in browser -------------------------------------------------

TWOFOLD = str(Path(sys.executable).with_name("twofold"))

# Records what any local user could read of the browser's process (its argv and, where
# /proc lets them, its environment), the file it was given, and every process's argv on
# the machine at that moment; then exits 0 as a browser that opened the page would.
STAND_IN = """#!{python}
import json, os, sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

given = sys.argv[1]
page = Path(unquote(urlsplit(given).path))
info = os.stat(page)
seen = {{}}
for proc in Path("/proc").iterdir():
    if proc.name.isdigit():
        for part in ("cmdline", "environ"):
            try:
                text = (proc / part).read_bytes().decode(errors="replace")
                seen[f"{{proc.name}}/{{part}}"] = text
            except OSError:
                pass
Path({record!r}).write_text(json.dumps({{
    "argv": sys.argv,
    "environ": dict(os.environ),
    "mode": info.st_mode,
    "folder_mode": os.stat(page.parent).st_mode,
    "owner": info.st_uid,
    "page": page.read_text(),
    "proc": seen,
}}))
"""


def stand_in_browser(tmp_path: Path) -> tuple[Path, Path]:
    """The stand-in browser's program, and where it writes what it saw."""
    record = tmp_path / "browser-saw.json"
    program = tmp_path / "stand-in-browser"
    program.write_text(STAND_IN.format(python=sys.executable, record=str(record)))
    program.chmod(0o700)
    return program, record


def twofold_open(d: Daemon, browser: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BROWSER": str(browser)}
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    return subprocess.run([TWOFOLD, "--home", str(d.home), "open", *args], env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def play_the_browser(d: Daemon, page: str) -> tuple[int, dict[str, str], Any]:
    """Do what a browser does with the redirect file: post its form, from a null origin."""
    action = re.search(r'<form id="sign-in" method="post" action="([^"]+)">', page)
    ticket = re.search(r'<input type="hidden" name="ticket" value="([^"]+)">', page)
    assert action is not None, page
    assert ticket is not None, page
    assert action[1] == f"http://127.0.0.1:{d.port}/login"
    assert 'document.getElementById("sign-in").submit();' in page
    return redeem(d, ticket[1])


def test_twofold_open_gives_the_browser_no_secret_and_the_file_signs_in(
    daemon: Daemon, tmp_path: Path
) -> None:
    browser, record = stand_in_browser(tmp_path)
    r = twofold_open(daemon, browser)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Opened Twofold in your browser.\n"
    saw = json.loads(record.read_text())
    page = saw["page"]
    ticket = re.search(r'name="ticket" value="([^"]+)"', page)
    assert ticket is not None
    secret = ticket[1]
    # nowhere another process could read it: the browser's argv and environment, any argv
    # or readable environment on the machine, nor what the command printed
    assert [secret in arg for arg in saw["argv"]] == [False, False]
    assert all(secret not in f"{k}={v}" for k, v in saw["environ"].items())
    assert [where for where, text in saw["proc"].items() if secret in text] == []
    assert any(
        TWOFOLD in text and "\0open" in text
        for where, text in saw["proc"].items()
        if where.endswith("/cmdline")
    ), "the stand-in saw the twofold command's own argv"
    assert secret not in r.stdout + r.stderr
    # the browser was given a file:// URL to a private file in the home
    given = urlsplit(saw["argv"][1])
    assert given.scheme == "file"
    path = Path(unquote(given.path))
    assert path.parent == daemon.home / "sign-in"
    assert (stat.S_IMODE(saw["mode"]), stat.S_IMODE(saw["folder_mode"])) == (0o600, 0o700)
    assert saw["owner"] == os.getuid()
    # and the file signs the browser in, once
    status, headers, answer = play_the_browser(daemon, page)
    assert status == 200, answer
    jar = jar_of(daemon, headers)
    status, _, listed = raw(daemon, "GET", "/api/v1/accounts", Cookie=jar)
    assert (status, listed["accounts"]) == (200, [])
    status, headers, _ = play_the_browser(daemon, path.read_text())
    assert (status, "set-cookie" in headers) == (403, False), "a spent file signs no one in"


def test_a_thief_who_replays_the_redirect_file_late_gets_nothing(
    daemon: Daemon, tmp_path: Path
) -> None:
    """Once the person's browser redeemed it, the file and its ticket are worth nothing, in
    any form: the file's own, a GET in a URL, or a script's."""
    browser, record = stand_in_browser(tmp_path)
    assert twofold_open(daemon, browser).returncode == 0
    page = json.loads(record.read_text())["page"]
    assert play_the_browser(daemon, page)[0] == 200
    secret = re.findall(r'name="ticket" value="([^"]+)"', page)[0]
    assert raw(daemon, "GET", f"/login?ticket={secret}")[0] == 200  # the page, no cookie
    for headers in (FROM_FILE, {"Origin": own(daemon)}, {}):
        status, answered, _ = redeem(daemon, secret, headers)
        assert (status, "set-cookie" in answered) == (403, False)


def test_open_print_prints_a_link_a_person_can_use(daemon: Daemon, tmp_path: Path) -> None:
    browser, record = stand_in_browser(tmp_path)
    r = twofold_open(daemon, browser, "--print")
    assert r.returncode == 0, r.stderr
    assert not record.exists(), "--print opens no browser"
    link, notice = r.stdout.splitlines()
    assert "works once" in notice
    assert "Whoever can read this terminal can use it" in notice
    url = urlsplit(link)
    assert (url.scheme, url.netloc, url.path, url.query) == (
        "http",
        f"127.0.0.1:{daemon.port}",
        "/login",
        "",
    )
    # pasted into the address bar, the browser asks GET /login (the fragment stays in the
    # browser), whose login.js posts the ticket from this origin
    status, headers, page = raw(daemon, "GET", url.path, Sec_Fetch_Site="none")
    assert (status, "set-cookie" in headers) == (200, False)
    assert '<form id="sign-in" method="post" action="/login" hidden>' in page
    script = raw(daemon, "GET", "/web/login.js")[2]
    assert 'get("ticket")' in script
    assert "form.submit()" in script
    ticket = url.fragment.removeprefix("ticket=")
    status, headers, _ = redeem(daemon, ticket, {
        "Origin": own(daemon), "Sec_Fetch_Site": "same-origin",
        "Sec_Fetch_Mode": "navigate", "Sec_Fetch_Dest": "document",
    })  # fmt: skip
    assert status == 200
    assert raw(daemon, "GET", "/api/v1/accounts", Cookie=jar_of(daemon, headers))[0] == 200


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
        phone.request("POST", "/join", {"link": shown["link"], "accept": True})
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
