"""Test keys the format tests share: each base32 text beside the bytes it stands for."""

from __future__ import annotations

HELLO = "JBSWY3DPEHPK3PXP"
HELLO_BYTES = b"Hello!\xde\xad\xbe\xef"
OTHER = "GEZDGNBVGY3TQOJQ"
OTHER_BYTES = b"1234567890"
