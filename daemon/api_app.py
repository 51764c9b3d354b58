"""The local API's aiohttp application: loopback-only Host, bearer token or session, problems.

Middlewares run outermost first: errors become problem details, then the
guard: the Host header must be a loopback name (so a web page cannot reach
the API through DNS rebinding); a request from another origin (its Origin or
Sec-Fetch-Site says so) is refused, but for the sign-in redirect file's form
(web_sessions.is_sign_in_from_file), and no CORS preflight is ever granted;
then an API request needs the bearer token or, from the web page, a session
cookie, and, to change anything, the session's CSRF token in a header; last, a
request that uses the vault puts off the idle lock.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Middleware

from . import (
    api_devices,
    api_lock,
    api_pairing,
    api_qr,
    api_routes,
    api_transfer,
    api_web,
    problems,
)
from .api_keys import DOOR, KEEPER, SESSION, SESSIONS, STARTED, own_port
from .keeper import Keeper
from .web_sessions import Sessions, cookie_name, is_sign_in_from_file

MAX_BODY = 64 * 1024
CSRF_HEADER: Final = "X-Twofold-CSRF"
BACKGROUND_HEADER: Final = "X-Twofold-Background"
# Requests that do not use the vault: asking whether it is locked must not keep it open.
_NOT_USES: Final = frozenset(
    f"/api/v1{p}"
    for p in ("/status", "/events", "/session", "/sessions", "/unlock", "/lock", "/passphrase",
              "/passphrase/remove")
)  # fmt: skip
_SAFE_METHODS: Final = frozenset({"GET", "HEAD"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_loopback_host(host: str | None) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1, with or without a port."""
    if not host:
        return False
    name = host.strip().lower()
    port = ""
    if name.startswith("["):
        close = name.find("]")
        if close < 0 or name[close + 1 : close + 2] not in ("", ":"):
            return False
        name, port = name[1:close], name[close + 2 :]
    elif name.count(":") == 1:
        name, port = name.split(":")
    if port and not (port.isascii() and port.isdigit()):
        return False
    if name in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure leaves as an RFC 9457 problem detail."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return problems.from_http(exc)
    except Exception as exc:  # noqa: BLE001 - mapped in one place, logged there
        return problems.from_error(exc)


def guard_middleware(token: str, sessions: Sessions) -> Middleware:
    """Refuse foreign Hosts and origins (403), and API calls with neither the token nor a
    session (401); a session's writes also need its CSRF token (403)."""
    expected = f"Bearer {token}".encode()

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        host = request.headers.get("Host")
        if not is_loopback_host(host):
            return problems.problem(
                403,
                "forbidden-host",
                "Host not allowed",
                "the local API answers only requests addressed to localhost or 127.0.0.1",
            )
        origin = request.headers.get("Origin")
        site = request.headers.get("Sec-Fetch-Site")
        foreign = (origin is not None and origin != f"http://{host}") or site in (
            "cross-site",
            "same-site",
        )
        if foreign and not is_sign_in_from_file(request.method, request.path, request.headers):
            return problems.problem(
                403,
                "forbidden-origin",
                "Origin not allowed",
                "requests from other sites (or other ports) are refused; no CORS is granted",
            )
        if request.method == "OPTIONS":
            return problems.problem(
                403, "forbidden-origin", "No CORS", "this API grants no cross-origin requests"
            )
        if not request.path.startswith("/api/"):
            return await handler(request)
        given = request.headers.get("Authorization")
        if given is not None:
            if not hmac.compare_digest(header_bytes(given), expected):
                return _unauthorized()
            return await handler(request)
        session = sessions.find(request.cookies.get(cookie_name(own_port(request))))
        if session is None:
            return _unauthorized()
        if request.method not in _SAFE_METHODS:
            if not session.csrf_ok(request.headers.get(CSRF_HEADER)):
                return problems.problem(
                    403,
                    "csrf",
                    "CSRF token missing or wrong",
                    f"a change from the web page needs the {CSRF_HEADER} header of its session",
                )
            if origin is None and site != "same-origin":
                return problems.problem(
                    403,
                    "forbidden-origin",
                    "Origin unknown",
                    "a change from a browser must say where it comes from (Origin)",
                )
        request[SESSION] = session
        return await handler(request)

    return guard


def use_middleware(keeper: Keeper) -> Middleware:
    """A request that reached the vault's routes is a use, unless its client marks it as
    one nobody asked for (`X-Twofold-Background: 1`: the page's own refreshes)."""

    @web.middleware
    async def note_use(request: web.Request, handler: Handler) -> web.StreamResponse:
        if (
            request.path.startswith("/api/")
            and request.path not in _NOT_USES
            and request.headers.get(BACKGROUND_HEADER) != "1"
        ):
            keeper.used()
        return await handler(request)

    return note_use


def header_bytes(value: str) -> bytes:
    """A header's text back as bytes, whatever it holds: aiohttp keeps bytes that are not
    UTF-8 as lone surrogates, which a plain encode() (and compare_digest on str, for
    anything not ASCII) raises on. The mapping is one to one, so comparisons stay exact."""
    return value.encode("utf-8", "surrogatepass")


def _unauthorized() -> web.Response:
    return problems.problem(
        401,
        "unauthorized",
        "Token missing or wrong",
        "send 'Authorization: Bearer <token>' with the token from the home's api.token, "
        "or sign the browser in with: twofold open",
    )


def make_app(keeper: Keeper, token: str, started: float) -> web.Application:
    """The API application, every route of specs/openapi.yaml under /api/v1."""
    sessions = Sessions()
    door = keeper.door
    app = web.Application(
        middlewares=[
            problem_middleware,
            guard_middleware(token, sessions),
            use_middleware(keeper),
        ],
        client_max_size=MAX_BODY,
    )
    app[SESSIONS] = sessions
    app[DOOR] = door
    app[KEEPER] = keeper
    app[STARTED] = started
    add_routes(app)
    api_web.add_page_routes(app)

    async def end_streams(_: web.Application) -> None:
        door.events.close()

    app.on_shutdown.append(end_streams)
    return app


def add_routes(app: web.Application) -> None:
    """Every route of specs/openapi.yaml (a unit test compares the two sets)."""
    for module in (
        api_routes, api_transfer, api_pairing, api_devices, api_qr, api_web, api_lock
    ):  # fmt: skip
        module.add_routes(app)
