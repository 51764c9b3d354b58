"""The local API's aiohttp application: loopback-only Host, bearer token or session, problems.

Middlewares run outermost first: errors become problem details, then the
guard: the Host header must be a loopback name (so a web page cannot reach
the API through DNS rebinding); a request from another origin (its Origin or
Sec-Fetch-Site says so) is refused, but for the sign-in redirect file's form
(web_sessions.is_sign_in_from_file), and no CORS preflight is ever granted;
then an API request needs the bearer token or, from the web page, a session
cookie, and, to change anything, the session's CSRF token in a header.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from aiohttp import web
from aiohttp.typedefs import Middleware

from . import problems
from .errors import BadRequest, TooLarge
from .pairing_service import Pairing
from .peers import Peers
from .transfer import Transfers
from .vault_service import VaultService
from .web_sessions import Session, Sessions, cookie_name, is_sign_in_from_file

MAX_BODY = 64 * 1024
SERVICE: web.AppKey[VaultService] = web.AppKey("service", VaultService)
PAIRING: web.AppKey[Pairing] = web.AppKey("pairing", Pairing)
PEERS: web.AppKey[Peers] = web.AppKey("peers", Peers)
STARTED: web.AppKey[float] = web.AppKey("started", float)
SESSIONS: web.AppKey[Sessions] = web.AppKey("sessions", Sessions)
SESSION: Final = "twofold.session"
CSRF_HEADER: Final = "X-Twofold-CSRF"
_SAFE_METHODS: Final = frozenset({"GET", "HEAD"})
TRANSFERS: web.AppKey[Transfers] = web.AppKey("transfers", Transfers)

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


def own_port(request: web.Request) -> int:
    """The port this request came in on, which names the session cookie."""
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    return int(sockname[1]) if sockname else 0


def request_session(request: web.Request) -> Session | None:
    """The browser session a request was let in by, if it came from the web page."""
    session = request.get(SESSION)
    return session if isinstance(session, Session) else None


async def json_body(request: web.Request, *, limit: int | None = None) -> dict[str, Any]:
    """The request's JSON object, or a 400 that says what is wrong with it.

    `limit` lets one route take a larger body than the app's 64 KiB (an import
    carries a whole file); it is enforced while reading, before the body is held.
    """
    if request.content_type != "application/json":
        raise BadRequest("send the body as JSON with Content-Type: application/json")
    raw = await (request.read() if limit is None else _read_at_most(request, limit))
    try:
        body = json.loads(raw)
    except RecursionError:
        raise BadRequest("the body is not valid JSON: it nests too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        # ValueError also covers a number too long for int() (over 4300 digits).
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    _refuse_lone_surrogates(body)
    return body


def _refuse_lone_surrogates(body: object) -> None:
    """A \\ud800 escape with no partner parses to a lone surrogate: not a character, and
    any later encode() of it raises. Refuse it here, once, for every route."""
    stack = [body]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and not _encodable(item):
            raise BadRequest("the body is not valid JSON text: it holds a lone surrogate escape")


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


async def _read_at_most(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise TooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(256 * 1024):
        size += len(chunk)
        if size > limit:
            raise TooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def check_fields(body: dict[str, Any], types: Mapping[str, type], required: set[str]) -> None:
    """Refuse unknown fields, missing ones, and values of the wrong JSON type."""
    for name in body:
        if name not in types:
            allowed = ", ".join(sorted(types))
            raise BadRequest(f"unknown field {name!r}; this request takes {allowed}", name)
    for name in sorted(required - set(body)):
        raise BadRequest(f"{name} is required", name)
    for name, value in body.items():
        wanted = types[name]
        if (
            value is None
            or isinstance(value, bool) != (wanted is bool)
            or not isinstance(value, wanted)
        ):
            kind = {str: "text", int: "a whole number", bool: "true or false"}[wanted]
            raise BadRequest(f"{name} must be {kind}", name)


def make_app(
    service: VaultService, pairing: Pairing, token: str, started: float
) -> web.Application:
    """The API application, every route of specs/openapi.yaml under /api/v1."""
    from . import api_web

    sessions = Sessions()
    app = web.Application(
        middlewares=[problem_middleware, guard_middleware(token, sessions)],
        client_max_size=MAX_BODY,
    )
    app[SESSIONS] = sessions
    app[SERVICE] = service
    app[STARTED] = started
    app[PAIRING] = pairing
    app[PEERS] = pairing.peers
    app[TRANSFERS] = Transfers(service)
    add_routes(app)
    api_web.add_page_routes(app)

    async def end_streams(_: web.Application) -> None:
        service.events.close()

    app.on_shutdown.append(end_streams)
    return app


def add_routes(app: web.Application) -> None:
    """Every route of specs/openapi.yaml (a unit test compares the two sets)."""
    from . import api_devices, api_pairing, api_qr, api_routes, api_transfer, api_web

    for module in (api_routes, api_transfer, api_pairing, api_devices, api_qr, api_web):
        module.add_routes(app)
