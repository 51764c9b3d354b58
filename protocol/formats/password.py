"""A password as the bytes a key derivation takes: its UTF-8, or WrongPassword.

Every reader of an encrypted file (2FAS, Bitwarden, Ente, Proton, Aegis) and
the Twofold backup derive their key from the password's UTF-8, as the apps
that wrote them do. A string can hold a lone surrogate (half of a UTF-16 pair,
not a character: JSON carries one as a "\\ud800" escape), which has no UTF-8.
Such a password is answered WrongPassword, the same way by every reader:
whatever wrote the file encoded its password as UTF-8, so no file can be
opened by it, and that is exactly what "the password is wrong" tells the
person (the Aegis reader answered it so first). WrongPassword says nothing
more about the file, on purpose; the person types the password again.

Where a password is chosen rather than tried (sealing a backup), such a
string is refused as input instead (text.is_text says whether it can be one).
"""

from __future__ import annotations

from ..errors import WrongPassword
from ..text import is_text


def password_bytes(password: str) -> bytes:
    """The password's UTF-8, as a key derivation takes it; WrongPassword if it has none."""
    if not is_text(password):
        raise WrongPassword
    return password.encode("utf-8")
