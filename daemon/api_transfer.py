"""Routes that move accounts in and out: POST /import, /export and /backup.

An import body carries a whole file (base64), so this route reads its body
itself with a larger limit than the rest of the API's 64 KiB.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from typing import Any, Final

from aiohttp import web

from twofold.protocol import backup
from twofold.protocol.errors import TwofoldError
from twofold.protocol.formats.entries import MAX_IMPORT_BYTES
from twofold.protocol.formats.registry import FORMATS
from twofold.protocol.otpauth import parse_uri

from . import api_keys, qr
from .api_body import check_fields, json_body
from .errors import BadRequest
from .transfer import EXPORT_FORMATS

PREFIX: Final = "/api/v1"
MAX_IMPORT_BODY: Final = MAX_IMPORT_BYTES * 4 // 3 + 64 * 1024
_IMPORT = {"content": str, "text": str, "format": str, "password": str, "dry_run": bool}
_EXPORT = {"format": str, "qr": bool}
_BACKUP = {"passphrase": str, "recovery_key": bool}


async def import_file(request: web.Request) -> web.Response:
    """POST /import."""
    body = await json_body(request, limit=MAX_IMPORT_BODY)
    check_fields(body, _IMPORT, set())
    if ("content" in body) == ("text" in body):
        raise BadRequest("give the file as content (base64) or as text, one of the two")
    if "text" in body:
        data = body["text"].encode("utf-8")
    else:
        try:
            data = base64.b64decode(body["content"], validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest("content must be standard base64", "content") from None
    format = body.get("format")
    if format is not None and format not in FORMATS:
        raise BadRequest(f"format must be one of {', '.join(FORMATS)}", "format")
    report = await api_keys.transfers(request).import_file(
        data, format=format, password=body.get("password"), dry_run=body.get("dry_run", False)
    )
    return web.json_response(report.to_json())


async def export(request: web.Request) -> web.Response:
    """POST /export."""
    body = await json_body(request)
    check_fields(body, _EXPORT, {"format"})
    if body["format"] not in EXPORT_FORMATS:
        raise BadRequest(f"format must be one of {', '.join(EXPORT_FORMATS)}", "format")
    wants_qr = body.get("qr", False)
    if wants_qr and body["format"] != "otpauth":
        raise BadRequest("qr codes are made of otpauth links: ask for format otpauth", "qr")
    content, count, left_out = await api_keys.transfers(request).export(body["format"])
    answer: dict[str, Any] = {
        "format": body["format"],
        "accounts": count,
        "content": content,
        "left_out": left_out,
    }
    if wants_qr:
        uris = content.splitlines()
        answer["qr_svg"] = await asyncio.to_thread(lambda: [qr.svg(uri) for uri in uris])
        answer["labels"] = [_uri_label(uri) for uri in uris]
    return web.json_response(answer, headers={"Cache-Control": "no-store"})


def _uri_label(uri: str) -> str:
    """The account an exported otpauth URI holds, as "issuer: name", read as imports read it."""
    try:
        draft = parse_uri(uri, visible_only=False)
    except TwofoldError:  # one this daemon wrote reads back; the code still shows regardless
        return "an account"
    if draft.issuer and draft.name:
        return f"{draft.issuer}: {draft.name}"
    return draft.issuer or draft.name


async def make_backup(request: web.Request) -> web.Response:
    """POST /backup."""
    body = await json_body(request)
    check_fields(body, _BACKUP, set())
    wants_key = body.get("recovery_key", False)
    if wants_key == ("passphrase" in body):
        raise BadRequest("give a passphrase, or ask for a recovery key: one of the two")
    key = backup.new_recovery_key() if wants_key else None
    sealed, count = await api_keys.transfers(request).backup(
        passphrase=body.get("passphrase"), recovery_key=key
    )
    answer: dict[str, Any] = {
        "content": base64.b64encode(sealed).decode("ascii"),
        "accounts": count,
        "sealed_with": backup.KDF_RECOVERY_KEY if key else backup.KDF_PASSPHRASE,
    }
    if key:
        answer["recovery_key"] = key
    return web.json_response(answer, headers={"Cache-Control": "no-store"})


def add_routes(app: web.Application) -> None:
    app.router.add_post(f"{PREFIX}/import", import_file)
    app.router.add_post(f"{PREFIX}/export", export)
    app.router.add_post(f"{PREFIX}/backup", make_backup)
