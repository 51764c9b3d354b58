"""POST /qr/scan: the texts of the QR codes in a picture, for a page that has a camera.

A browser can film a QR code but, outside ChromeOS, Android and macOS, has no
decoder of its own. The page sends a frame (or a photo or screenshot the person
chose) here and the daemon decodes it with the same reader that imports QR
pictures. Decoding is CPU work: it runs in a thread, one picture at a time, so
the API keeps answering while a camera sends a few frames a second.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from typing import Final

from aiohttp import web

from twofold.protocol.formats import qr_image

from .api_body import check_fields, json_body
from .errors import BadRequest

PREFIX: Final = "/api/v1"
MAX_PICTURE: Final = 4 * 1024 * 1024
"""A camera frame is tens of KiB; a phone's photo a few MiB."""
MAX_SCAN_BODY: Final = MAX_PICTURE * 4 // 3 + 1024
_ONE_AT_A_TIME: Final = asyncio.Lock()


async def scan(request: web.Request) -> web.Response:
    """POST /qr/scan {"content": base64 picture} -> {"texts": [...]} ([] if none is seen)."""
    body = await json_body(request, limit=MAX_SCAN_BODY)
    check_fields(body, {"content": str}, {"content"})
    try:
        data = base64.b64decode(body["content"], validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("content must be standard base64", "content") from None
    if len(data) > MAX_PICTURE:
        raise BadRequest(f"a picture is at most {MAX_PICTURE // (1024 * 1024)} MiB", "content")
    async with _ONE_AT_A_TIME:
        texts = await asyncio.to_thread(qr_image.read_texts, data)
    return web.json_response({"texts": texts})


def add_routes(app: web.Application) -> None:
    """The picture routes of specs/openapi.yaml."""
    app.router.add_post(f"{PREFIX}/qr/scan", scan)
