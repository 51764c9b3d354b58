"""QR codes of pairing links, for a terminal, a web page (SVG) and an image (PNG)."""

from __future__ import annotations

import base64
import io

import segno


def svg(text: str) -> str:
    """An SVG QR code (medium error correction, a quiet zone, scalable)."""
    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="svg", scale=4, xmldecl=False)
    return out.getvalue().decode()


def png_base64(text: str) -> str:
    """A PNG QR code, base64-encoded for JSON."""
    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="png", scale=6)
    return base64.b64encode(out.getvalue()).decode()
