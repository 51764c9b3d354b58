"""Small helpers the browser tests share."""

from __future__ import annotations

import base64
import time
from typing import Any

import pyotp
from playwright.sync_api import Locator, Page

from tests.integration.daemon import Daemon

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
OTHER_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


def add(d: Daemon, **fields: Any) -> dict[str, Any]:
    """Add an account through the API (not the page)."""
    r = d.request("POST", "/accounts", {"secret": SECRET, **fields})
    assert r.status == 201, r.body
    account: dict[str, Any] = r.body
    return account


def row(page: Page, account_id: str) -> Locator:
    return page.locator(f'[data-testid="account-row"][data-account-id="{account_id}"]')


def row_named(page: Page, issuer: str) -> Locator:
    return page.get_by_test_id("account-row").filter(
        has=page.get_by_test_id("account-issuer").get_by_text(issuer, exact=True)
    )


def shown_code(r: Locator) -> str:
    """The code a row shows, without the space that groups its digits."""
    return r.get_by_test_id("code").inner_text().replace(" ", "")


def totp_near_now(secret: str, digits: int = 6, period: int = 30) -> set[str]:
    """The code of this step and of its neighbours: a test may straddle a boundary."""
    totp = pyotp.TOTP(secret, digits=digits, interval=period)
    now = time.time()
    return {totp.at(now + shift) for shift in (-period, 0, period)}


def drop_file(page: Page, testid: str, name: str, data: bytes, mime: str) -> None:
    """Drop one file onto the element, as a person dragging it from their files does."""
    page.evaluate(
        """([testid, name, b64, mime]) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const data = new DataTransfer();
            data.items.add(new File([bytes], name, { type: mime }));
            const zone = document.querySelector(`[data-testid="${testid}"]`);
            const init = { dataTransfer: data, bubbles: true, cancelable: true };
            for (const type of ["dragover", "drop"]) zone.dispatchEvent(new DragEvent(type, init));
        }""",
        [testid, name, base64.b64encode(data).decode(), mime],
    )
