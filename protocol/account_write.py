"""The decrypted body of an account op: field writes that name what they replace."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import cbor
from .account import OtpParams
from .errors import InputError, MalformedPayload
from .text import quoted

ACCOUNT_ID_SIZE = 16
MAX_REPLACES = 256
MAX_COUNTER = (1 << 63) - 1
TEXT_LIMITS = {"issuer": 256, "name": 256, "note": 4096}
FIELDS = ("issuer", "name", "note", "otp", "trash")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")  # Unicode category Cc, exactly

Value = str | bool | OtpParams


@dataclass(frozen=True, slots=True)
class FieldWrite:
    """One register write: the new value and the op hashes of the values it replaces."""

    value: Value
    replaces: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class AccountWrite:
    """Writes to one account: registers by field name, and the HOTP counter (a max register)."""

    account: bytes
    fields: Mapping[str, FieldWrite]
    counter: int | None = None


def otp_to_wire(otp: OtpParams) -> dict[str, Any]:
    """OtpParams as a CBOR map."""
    return {
        "kind": str(otp.kind),
        "secret": otp.secret,
        "algorithm": str(otp.algorithm),
        "digits": otp.digits,
        "period": otp.period,
        "pin": otp.pin,
    }


def otp_from_wire(value: Any) -> OtpParams:
    """OtpParams from a CBOR map, validated as if a person had typed it."""
    if not isinstance(value, dict) or set(value) != {
        "kind",
        "secret",
        "algorithm",
        "digits",
        "period",
        "pin",
    }:
        raise MalformedPayload("otp must be a map of kind, secret, algorithm, digits, period, pin")
    try:
        return OtpParams(**value)
    except (InputError, TypeError, ValueError) as exc:
        raise MalformedPayload(f"otp is not a valid account: {exc}") from exc


def encode(write: AccountWrite) -> bytes:
    """The plaintext bytes that get encrypted into an account op."""
    fields = {
        name: {
            "v": otp_to_wire(fw.value) if isinstance(fw.value, OtpParams) else fw.value,
            "r": list(fw.replaces),
        }
        for name, fw in write.fields.items()
    }
    body: dict[str, Any] = {"account": write.account, "set": fields}
    if write.counter is not None:
        body["counter"] = write.counter
    return cbor.dumps(body)


def decode(data: bytes) -> AccountWrite:
    """Decode and check an account write; a value a person could not have typed is refused."""
    body = cbor.loads(data, "account write")
    if not isinstance(body, dict) or not set(body) <= {"account", "set", "counter"}:
        raise MalformedPayload("account write must be a map of account, set and counter")
    account = body.get("account")
    if not isinstance(account, bytes) or len(account) != ACCOUNT_ID_SIZE:
        raise MalformedPayload(f"account id must be {ACCOUNT_ID_SIZE} bytes")
    raw_fields = body.get("set", {})
    if not isinstance(raw_fields, dict):
        raise MalformedPayload("account write 'set' must be a map")
    fields = {}
    for name, entry in raw_fields.items():
        if name not in FIELDS:
            raise MalformedPayload(f"account write sets an unknown field {quoted(name)}")
        if not isinstance(entry, dict) or set(entry) != {"v", "r"}:
            raise MalformedPayload(f"write to {name} must be a map of v and r")
        fields[name] = FieldWrite(check_value(name, entry["v"]), _replaces(name, entry["r"]))
    counter = body.get("counter")
    if counter is not None and (type(counter) is not int or not 0 <= counter <= MAX_COUNTER):
        raise MalformedPayload("counter must be a non-negative integer")
    if not fields and counter is None:
        raise MalformedPayload("account write changes nothing")
    return AccountWrite(account, fields, counter)


def check_value(name: str, value: Any) -> Value:
    """Refuse a field value out of type or bounds; the same rules bind local writes."""
    if name == "otp":
        return value if isinstance(value, OtpParams) else otp_from_wire(value)
    if name == "trash":
        if type(value) is not bool:
            raise MalformedPayload("trash must be true or false")
        return value
    limit = TEXT_LIMITS[name]
    if not isinstance(value, str) or len(value) > limit:
        raise MalformedPayload(f"{name} must be text of at most {limit} characters")
    if name != "note" and _CONTROL.search(value):
        raise MalformedPayload(f"{name} must not contain control characters")
    return value


def _replaces(name: str, value: Any) -> tuple[bytes, ...]:
    if type(value) is not list or len(value) > MAX_REPLACES:
        raise MalformedPayload(f"write to {name} must replace a list of at most {MAX_REPLACES}")
    for h in value:
        if type(h) is not bytes or len(h) != 32:
            raise MalformedPayload(f"write to {name} replaces something that is not an op hash")
    return tuple(value)
