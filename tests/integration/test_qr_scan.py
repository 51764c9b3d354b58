"""POST /qr/scan: what a page with a camera sends, decoded by the daemon."""

from __future__ import annotations

import base64
import io

import pytest
import segno
from PIL import Image

from tests.integration.daemon import Daemon

pytestmark = pytest.mark.integration


def picture(*texts: str) -> str:
    """A JPEG camera frame with these QR codes side by side, base64."""
    frame = Image.new("L", (200 * max(1, len(texts)), 240), 255)
    for i, text in enumerate(texts):
        out = io.BytesIO()
        segno.make(text, error="m").save(out, kind="png", scale=5)
        code = Image.open(io.BytesIO(out.getvalue())).convert("L")
        frame.paste(code, (200 * i + 5, 20))
    jpeg = io.BytesIO()
    frame.save(jpeg, format="JPEG", quality=90)
    return base64.b64encode(jpeg.getvalue()).decode()


def test_a_frame_gives_its_codes_in_reading_order(daemon: Daemon) -> None:
    r = daemon.request("POST", "/qr/scan", {"content": picture("twofold://pair/A", "hello")})
    assert r.status == 200, r.body
    assert r.body == {"texts": ["twofold://pair/A", "hello"]}


def test_a_frame_without_a_code_is_an_empty_list(daemon: Daemon) -> None:
    r = daemon.request("POST", "/qr/scan", {"content": picture()})
    assert (r.status, r.body) == (200, {"texts": []})


@pytest.mark.parametrize(
    ("content", "status"),
    [
        ("not base64!", 400),
        (base64.b64encode(b"plain text, not a picture").decode(), 422),
        (base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40).decode(), 422),
    ],
)
def test_what_is_not_a_picture_is_refused_clearly(
    daemon: Daemon, content: str, status: int
) -> None:
    r = daemon.request("POST", "/qr/scan", {"content": content})
    assert r.status == status, r.body
    assert r.body["detail"]
    assert "Traceback" not in daemon.log.read_text()
