"""The local store key: what keeps the device key and vault keys encrypted at rest.

It comes from the OS keyring where one works (the secret then never touches
the home), else from a 0600 key file in the home, else (passphrase mode,
daemon/passphrase.py) from the person's passphrase, in which case neither of
the first two holds it. Which one was used is recorded in the database, so a
later start that cannot reach the same source says so instead of failing to
decrypt.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import keyring
import keyring.errors
from nacl import bindings

from .errors import DaemonError
from .home import Home, read_private, write_private

log = logging.getLogger(__name__)

KEY_SIZE = 32
_SERVICE = "twofold"
_NONCE = 24


class StoreKeyUnavailable(DaemonError):
    """The store key cannot be had from where it was kept."""


@dataclass(frozen=True)
class StoreKey:
    """The 32-byte key and where it lives ("keyring", "file" or "passphrase")."""

    key: bytes
    source: str

    def seal(self, data: bytes, label: bytes) -> bytes:
        """Encrypt a secret for the disk; `label` binds it to its one use."""
        nonce = os.urandom(_NONCE)
        return nonce + bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
            data, label, nonce, self.key
        )

    def open(self, blob: bytes, label: bytes) -> bytes:
        """Decrypt a secret sealed by `seal` with the same label."""
        try:
            return bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
                blob[_NONCE:], label, blob[:_NONCE], self.key
            )
        except Exception:  # noqa: BLE001 - libsodium's CryptoError
            raise StoreKeyUnavailable(
                "the stored device key does not decrypt with this store key: the store key "
                "was replaced or the database belongs to another home"
            ) from None


def load(home: Home, mode: str, recorded: str | None) -> StoreKey:
    """The store key from the keyring or the key file, as `mode` and the history allow."""
    if recorded not in (None, "keyring", "file"):  # a newer version's, or damage
        raise StoreKeyUnavailable(
            f"the database says its store key is kept in {recorded[:40]!r}, which this version "
            "does not know: run the version that wrote it, or restore the database"
        )
    if recorded == "keyring" or (recorded is None and mode in ("auto", "keyring")):
        key = _from_keyring(home, create=recorded is None)
        if key is not None:
            return StoreKey(key, "keyring")
        if recorded == "keyring" or mode == "keyring":
            raise StoreKeyUnavailable(
                "the store key is kept in the OS keyring, which is not available now: "
                "unlock the keyring (log in to the desktop session) and start again"
            )
    return StoreKey(_from_file(home, create=recorded is None), "file")


def _usable_keyring() -> keyring.backend.KeyringBackend | None:
    backend = keyring.get_keyring()
    priority = getattr(backend, "priority", 0)
    if priority is None or priority <= 0:
        return None
    return backend


def _from_keyring(home: Home, *, create: bool) -> bytes | None:
    backend = _usable_keyring()
    if backend is None:
        return None
    user = f"store-key:{home.path}"
    try:
        stored = backend.get_password(_SERVICE, user)
        if stored is None and create:
            stored = os.urandom(KEY_SIZE).hex()
            backend.set_password(_SERVICE, user, stored)
    except keyring.errors.KeyringError as exc:
        log.warning("OS keyring unusable (%s); using a key file in the home", exc)
        return None
    if stored is None:
        return None
    try:
        key = bytes.fromhex(stored)
    except ValueError:
        key = b""
    if len(key) != KEY_SIZE:  # another program wrote there, or the entry was cut short
        raise StoreKeyUnavailable(
            f"the OS keyring's entry {user!r} of service {_SERVICE!r} is damaged: it must hold "
            f"{KEY_SIZE} bytes in hexadecimal. Restore it, or pair this machine again as a new "
            "device"
        )
    return key


def _from_file(home: Home, *, create: bool) -> bytes:
    if not home.store_key.exists():
        if not create:
            raise StoreKeyUnavailable(
                f"{home.store_key} is missing: without it the vault in this home cannot be "
                "opened. Restore the file, or pair this machine again as a new device"
            )
        write_private(home.store_key, os.urandom(KEY_SIZE))
    key = read_private(home.store_key)
    if len(key) != KEY_SIZE:
        raise StoreKeyUnavailable(f"{home.store_key} is damaged: it must hold 32 bytes")
    return key


def keep(home: Home, mode: str, key: bytes) -> str:
    """Keep a new store key in the keyring or the key file, as `mode` allows; where it went.

    Used when a passphrase is removed: the key that replaces the sealed one goes where a
    home without a passphrase keeps it.
    """
    backend = _usable_keyring() if mode in ("auto", "keyring") else None
    if backend is not None:
        try:
            backend.set_password(_SERVICE, f"store-key:{home.path}", key.hex())
        except keyring.errors.KeyringError as exc:
            log.warning("OS keyring unusable (%s); using a key file in the home", exc)
        else:
            home.store_key.unlink(missing_ok=True)
            return "keyring"
    if mode == "keyring":
        raise StoreKeyUnavailable(
            "config.toml says store_key = keyring, and no OS keyring is available now: "
            "unlock the keyring (log in to the desktop session) and try again"
        )
    write_private(home.store_key, key)
    return "file"


def forget(home: Home, *, in_keyring: bool = True) -> None:
    """No copy of a store key left in the key file, nor (`in_keyring`) in the keyring: a
    passphrase was set.

    The file is overwritten before it is unlinked; on a copy-on-write or journaling file
    system the old blocks may survive that, which the threat model says.
    """
    backend = _usable_keyring() if in_keyring else None
    if backend is not None:
        try:
            backend.delete_password(_SERVICE, f"store-key:{home.path}")
        except keyring.errors.PasswordDeleteError:
            pass  # there was none
        except keyring.errors.KeyringError as exc:
            log.warning("could not delete the store key from the OS keyring: %s", exc)
    path = home.store_key
    if path.exists():
        with path.open("r+b") as file:
            file.write(os.urandom(max(KEY_SIZE, path.stat().st_size)))
            file.flush()
            os.fsync(file.fileno())
        path.unlink()
