"""The server's routes and specs/openapi.yaml's are the same set."""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp import web

import twofold.daemon
from tests.openapi_spec import routes, spec
from twofold.daemon import api_app, problems

DAEMON = Path(twofold.daemon.__file__).parent


def test_server_routes_are_the_spec_routes() -> None:
    app = web.Application()
    api_app.add_routes(app)
    served = {
        (r.method, r.resource.canonical)
        for r in app.router.routes()
        if r.method != "HEAD" and r.resource is not None
    }
    assert served == routes()


def test_every_problem_type_the_daemon_can_send_is_in_the_spec() -> None:
    listed = set(spec()["components"]["schemas"]["Problem"]["properties"]["type"]["enum"])
    mapped = {slug for _, _, slug, _ in problems._MAP} | {"internal", "http-error"}
    source = "\n".join(path.read_text() for path in DAEMON.glob("*.py"))
    literal = set(re.findall(r'problem\(\s*\d{3},\s*"([a-z-]+)"', source))
    literal |= set(re.findall(r'\d{3}: \("([a-z-]+)"', source))
    assert len(literal) >= 8
    sent = {f"urn:twofold:problem:{slug}" for slug in mapped | literal}
    assert sent == listed
