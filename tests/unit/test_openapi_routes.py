"""The server's routes and specs/openapi.yaml's are the same set."""

from __future__ import annotations

from aiohttp import web

from tests.openapi_spec import routes
from twofold.daemon import api_app


def test_server_routes_are_the_spec_routes() -> None:
    app = web.Application()
    api_app.add_routes(app)
    served = {
        (r.method, r.resource.canonical)
        for r in app.router.routes()
        if r.method != "HEAD" and r.resource is not None
    }
    assert served == routes()
