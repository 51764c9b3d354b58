"""The web page's routes: its files, sign-in by one-time ticket, the session, and live events.

The page itself (clients/web/) is static: served with a strict Content
Security Policy, it talks to the API like any client, signed in by cookie.
Sign-in (see web_sessions): POST /login with the ticket in a form body, from
the redirect file `twofold open` writes (Origin null) or from the page at
GET /login that a printed link opens (this origin). GET /login redeems nothing.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from importlib import resources
from typing import Final

from aiohttp import web

from . import api_keys, problems
from .api_keys import DOOR, SESSIONS, own_port, request_session
from .api_views import iso
from .events import Event
from .web_sessions import FORM_TYPE, SESSION_TTL_S, cookie_name

PREFIX: Final = "/api/v1"
KEEPALIVE_S: Final = 15.0
WEB_PACKAGE: Final = "twofold.clients.web"
_ASSET: Final = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}\.(js|css|svg|png|ico)")
_TYPES: Final = {
    "js": "text/javascript",
    "css": "text/css",
    "svg": "image/svg+xml",
    "png": "image/png",
    "ico": "image/x-icon",
}
CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
PAGE_HEADERS: Final = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_SPENT: Final = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Twofold: sign-in link used</title></head>
<body><h1>This sign-in link cannot be used</h1>
<p>Each link works once, within a minute. Run <code>twofold open</code> again.</p></body></html>
"""
_REFUSED: Final = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Twofold: sign-in refused</title></head>
<body><h1>This sign-in request was refused</h1>
<p>Sign in with <code>twofold open</code>, or open the link
<code>twofold open --print</code> shows.</p></body></html>
"""
_SIGNED_IN: Final = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=/">
<title>Twofold: signed in</title></head>
<body><p>Signed in. <a href="/">Open Twofold</a>.</p></body></html>
"""
MAX_TICKET_FORM: Final = 1024


async def index(request: web.Request) -> web.Response:
    """GET /: the page; without a session it shows how to sign in (it asks GET /session)."""
    return _file("index.html", "text/html")


async def asset(request: web.Request) -> web.Response:
    """GET /web/{name}: the page's scripts and styles, nothing else."""
    name = request.match_info["name"]
    match = _ASSET.fullmatch(name)
    if match is None:
        raise web.HTTPNotFound
    return _file(name, _TYPES[match[1]])


async def login_page(request: web.Request) -> web.Response:
    """GET /login: the page a printed link opens. Its script takes the ticket from the URL's
    fragment (which no request carries) and POSTs it; a GET itself redeems nothing.

    Its referrer policy is same-origin, not no-referrer: under no-referrer a browser sends
    a form's POST with Origin null, even to its own origin."""
    response = _file("login.html", "text/html")
    response.headers["Referrer-Policy"] = "same-origin"
    return response


async def login(request: web.Request) -> web.Response:
    """POST /login: trade a one-time ticket (form field `ticket`) for a session cookie.

    Only as a browser's form navigation sends it: a form body, an Origin of null (the
    redirect file) or of this page, and no Sec-Fetch-* that says fetch() or a frame. The
    answer sets the cookie and moves on to / by a refresh from this origin (a redirect would
    keep a file page's cross-site mark, which the guard refuses on GET /)."""
    origin = request.headers.get("Origin")
    if (
        origin not in ("null", f"http://{request.headers.get('Host')}")
        or request.headers.get("Sec-Fetch-Mode", "navigate") != "navigate"
        or request.headers.get("Sec-Fetch-Dest", "document") != "document"
        or request.content_type != FORM_TYPE
        or (request.content_length or 0) > MAX_TICKET_FORM
    ):
        return _page(_REFUSED, 403)
    try:
        form = await request.post()
    except (LookupError, UnicodeDecodeError, ValueError):  # LookupError: an unknown charset
        return _page(_REFUSED, 403)
    tickets = form.getall("ticket", [])
    if set(form) != {"ticket"} or len(tickets) != 1 or not isinstance(tickets[0], str):
        return _page(_REFUSED, 403)
    redeemed = request.app[SESSIONS].redeem(tickets[0])
    if redeemed is None:
        return _page(_SPENT, 403)
    cookie, _ = redeemed
    response = _page(_SIGNED_IN, 200)
    response.set_cookie(
        cookie_name(own_port(request)),
        cookie,
        max_age=int(SESSION_TTL_S),
        path="/",
        httponly=True,
        samesite="Strict",
    )
    return response


async def create_sign_in(request: web.Request) -> web.Response:
    """POST /sessions: a one-time sign-in ticket for a browser (needs the API token), as a
    link whose fragment holds it: http://<host>/login#ticket=<ticket>."""
    if request_session(request) is not None:
        return problems.problem(
            403, "forbidden", "Token needed", "a signed-in page cannot make sign-in links"
        )
    ticket, ttl = request.app[SESSIONS].ticket()
    host = request.headers["Host"]
    return web.json_response(
        {"url": f"http://{host}/login#ticket={ticket}", "expires_at": iso(time.time() + ttl)},
        status=201,
        headers={"Cache-Control": "no-store"},
    )


async def get_session(request: web.Request) -> web.Response:
    """GET /session: the page's CSRF token and who it talks to."""
    session = request_session(request)
    if session is None:
        return _no_session()
    hello = await _hello(request)
    left = max(session.expires - time.monotonic(), 0)
    return web.json_response(
        {
            "csrf_token": session.csrf,
            "device": {"id": hello["device"], "name": hello["name"]},
            "expires_at": iso(time.time() + left),
        },
        headers={"Cache-Control": "no-store"},
    )


async def end_session(request: web.Request) -> web.Response:
    """DELETE /session: sign the browser out."""
    if request_session(request) is None:
        return _no_session()
    name = cookie_name(own_port(request))
    request.app[SESSIONS].end(request.cookies.get(name))
    response = web.json_response({"signed_out": True})
    response.del_cookie(name, path="/")
    return response


async def events(request: web.Request) -> web.StreamResponse:
    """GET /events: server-sent events until the client goes or the daemon stops."""
    door = request.app[DOOR]
    listener = door.events.subscribe()
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )
    try:
        await response.prepare(request)
        hello = await _hello(request)
        await response.write(b"retry: 2000\n" + _frame("hello", hello))
        while True:
            try:
                event = await asyncio.wait_for(listener.get(), KEEPALIVE_S)
            except TimeoutError:
                await response.write(b": keepalive\n\n")
                continue
            if event is None:
                break
            await response.write(_sse(event))
    except ConnectionResetError:
        pass
    finally:
        listener.close()
    return response


async def _hello(request: web.Request) -> dict[str, object]:
    """Who is speaking: the device ID is known only while the vault is open."""
    keeper = api_keys.keeper(request)
    name = await keeper.device_name()
    if not keeper.door.is_open:
        return {"device": None, "name": name, "locked": True}
    device_id = keeper.door.parts().service.identity.device_id
    return {"device": device_id, "name": name, "locked": False}


def _sse(event: Event) -> bytes:
    return f"id: {event.id}\n".encode() + _frame(event.kind, event.data)


def _frame(kind: str, data: object) -> bytes:
    return f"event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def _file(name: str, content_type: str) -> web.Response:
    try:
        body = resources.files(WEB_PACKAGE).joinpath(name).read_bytes()
    except (FileNotFoundError, IsADirectoryError, ModuleNotFoundError):
        raise web.HTTPNotFound from None
    return web.Response(body=body, content_type=content_type, headers=PAGE_HEADERS)


def _page(html: str, status: int) -> web.Response:
    return web.Response(status=status, text=html, content_type="text/html", headers=PAGE_HEADERS)


def _no_session() -> web.Response:
    return problems.problem(
        404, "not-found", "No browser session", "this request carries no browser session"
    )


def add_routes(app: web.Application) -> None:
    """The API routes (under /api/v1, in specs/openapi.yaml)."""
    app.router.add_post(f"{PREFIX}/sessions", create_sign_in)
    app.router.add_get(f"{PREFIX}/session", get_session)
    app.router.add_delete(f"{PREFIX}/session", end_session)
    app.router.add_get(f"{PREFIX}/events", events)


def add_page_routes(app: web.Application) -> None:
    """The page's own routes, outside the API."""
    app.router.add_get("/", index)
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login)
    app.router.add_get("/web/{name}", asset)
