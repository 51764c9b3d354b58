"""What the API says about accounts, codes and conflicts: the JSON of specs/openapi.yaml."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime
from typing import Any

from twofold.protocol.account import OtpKind, OtpParams
from twofold.protocol.codes import Code
from twofold.protocol.hlc import wall_ms
from twofold.protocol.identity import display_id
from twofold.protocol.state import AccountView


def timestamp(hlc: int) -> str:
    """An HLC as an ISO 8601 UTC time."""
    return iso(wall_ms(hlc) / 1000)


def iso(seconds: float) -> str:
    """Unix seconds as ISO 8601 UTC with milliseconds."""
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def account(view: AccountView) -> dict[str, Any]:
    """An Account object; never the secret or the PIN."""
    otp = view.otp
    return {
        "id": view.id.hex(),
        "issuer": view.issuer,
        "name": view.name,
        "note": view.note,
        "kind": str(otp.kind),
        "algorithm": str(otp.algorithm),
        "digits": otp.digits,
        "period": otp.period,
        "counter": view.counter if otp.kind is OtpKind.HOTP else 0,
        "has_pin": otp.pin is not None,
        "deleted": view.deleted,
        "conflicts": sorted(view.conflicts),
        "created_at": timestamp(view.created_hlc),
        "updated_at": timestamp(view.updated_hlc),
    }


def code(view: AccountView, c: Code | None, counter: int | None = None) -> dict[str, Any]:
    """A Code object; `c` is None for an HOTP account in a list of codes."""
    left = None
    if c is not None and c.valid_until is not None:
        left = max(1, int(c.valid_until - time.time() + 0.999))
    return {
        "account_id": view.id.hex(),
        "issuer": view.issuer,
        "name": view.name,
        "kind": str(view.otp.kind),
        "code": None if c is None else c.value,
        "counter": counter,
        "valid_from": None if c is None else c.valid_from,
        "valid_until": None if c is None else c.valid_until,
        "seconds_left": left,
    }


def otp_summary(otp: OtpParams) -> dict[str, Any]:
    """OTP parameters with a short fingerprint standing in for the secret."""
    return {
        "kind": str(otp.kind),
        "algorithm": str(otp.algorithm),
        "digits": otp.digits,
        "period": otp.period,
        "has_pin": otp.pin is not None,
        "secret_fingerprint": hashlib.sha256(otp.secret).hexdigest()[:8],
    }


def conflicts(view: AccountView) -> list[dict[str, Any]]:
    """One Conflict object per conflicting field of an account."""
    out = []
    for field, heads in sorted(view.conflicts.items()):
        out.append(
            {
                "account_id": view.id.hex(),
                "issuer": view.issuer,
                "name": view.name,
                "field": field,
                "values": [
                    {
                        "choice": h.op.hex(),
                        "value": otp_summary(h.value) if field == "otp" else h.value,
                        "device": display_id(h.author),
                        "written_at": timestamp(h.hlc),
                    }
                    for h in heads
                ],
            }
        )
    return out
