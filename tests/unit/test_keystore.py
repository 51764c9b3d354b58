"""The local store key: OS keyring first, else a private key file; never silently switched."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail

from twofold.daemon import keystore
from twofold.daemon.errors import HomeUnsafe
from twofold.daemon.home import Home


class MemoryKeyring(KeyringBackend):
    """A stand-in for the OS keyring, which this test machine does not have."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.items.pop((service, username), None)


@pytest.fixture
def home(tmp_path: Path) -> Home:
    h = Home(tmp_path / "home")
    h.prepare()
    return h


@pytest.fixture(autouse=True)
def no_os_keyring() -> Iterator[None]:
    """Like this machine: no keyring (and MemoryKeyring, once defined, must not be picked)."""
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        yield
    finally:
        keyring.set_keyring(previous)


@pytest.fixture
def os_keyring() -> MemoryKeyring:
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    return backend


def test_the_keyring_is_used_when_it_works(home: Home, os_keyring: MemoryKeyring) -> None:
    key = keystore.load(home, "auto", None)
    assert key.source == "keyring"
    assert not home.store_key.exists()
    assert keystore.load(home, "auto", "keyring") == key
    assert list(os_keyring.items) == [("twofold", f"store-key:{home.path}")]


def test_a_key_file_when_no_keyring_works(home: Home) -> None:
    key = keystore.load(home, "auto", None)
    assert key.source == "file"
    assert home.store_key.stat().st_mode & 0o777 == 0o600
    assert keystore.load(home, "auto", "file") == key


def test_a_keyring_key_that_became_unreachable_is_reported(home: Home) -> None:
    with pytest.raises(keystore.StoreKeyUnavailable, match="OS keyring"):
        keystore.load(home, "auto", "keyring")
    assert not home.store_key.exists()


def test_keyring_mode_without_a_keyring_is_refused(home: Home) -> None:
    with pytest.raises(keystore.StoreKeyUnavailable, match="OS keyring"):
        keystore.load(home, "keyring", None)


def test_a_missing_key_file_is_reported_not_replaced(home: Home) -> None:
    keystore.load(home, "file", None)
    home.store_key.unlink()
    with pytest.raises(keystore.StoreKeyUnavailable, match="missing"):
        keystore.load(home, "file", "file")
    assert not home.store_key.exists()


def test_a_key_file_others_can_read_is_refused(home: Home) -> None:
    keystore.load(home, "file", None)
    os.chmod(home.store_key, 0o644)
    with pytest.raises(HomeUnsafe, match="chmod 600"):
        keystore.load(home, "file", "file")


def test_sealed_secrets_open_only_with_their_key_and_label(home: Home) -> None:
    key = keystore.load(home, "file", None)
    blob = key.seal(b"device seed", b"label-a")
    assert key.open(blob, b"label-a") == b"device seed"
    with pytest.raises(keystore.StoreKeyUnavailable):
        key.open(blob, b"label-b")
    with pytest.raises(keystore.StoreKeyUnavailable):
        keystore.StoreKey(bytes(32), "file").open(blob, b"label-a")


def test_keep_puts_a_new_key_in_the_keyring_and_removes_the_file(
    home: Home, os_keyring: MemoryKeyring
) -> None:
    home.store_key.write_bytes(b"\x01" * 32)
    home.store_key.chmod(0o600)
    assert keystore.keep(home, "auto", b"\x02" * 32) == "keyring"
    assert not home.store_key.exists()
    assert keystore.load(home, "auto", "keyring").key == b"\x02" * 32


def test_keep_falls_back_to_the_file_only_where_the_mode_allows(home: Home) -> None:
    assert keystore.keep(home, "auto", b"\x03" * 32) == "file"
    assert keystore.load(home, "auto", "file").key == b"\x03" * 32
    with pytest.raises(keystore.StoreKeyUnavailable, match="keyring"):
        keystore.keep(home, "keyring", b"\x04" * 32)
    assert keystore.load(home, "auto", "file").key == b"\x03" * 32  # left as it was


def test_forget_leaves_no_copy_in_the_file_or_the_keyring(
    home: Home, os_keyring: MemoryKeyring
) -> None:
    keystore.keep(home, "file", b"\x05" * 32)
    keystore.keep(home, "keyring", b"\x06" * 32)
    home.store_key.write_bytes(b"\x05" * 32)  # a file beside the keyring entry, say left over
    keystore.forget(home, in_keyring=False)
    assert not home.store_key.exists()
    assert os_keyring.items  # not asked
    keystore.forget(home)
    assert os_keyring.items == {}
    keystore.forget(home)  # nothing left to forget: no error


@pytest.mark.parametrize("stored", ["not hex at all", "00" * 31, "00" * 33, "\ud800"])
def test_a_damaged_keyring_entry_is_reported_and_not_replaced(
    home: Home, os_keyring: MemoryKeyring, stored: str
) -> None:
    """Another program may write the entry: whatever it holds is named as damaged, and the
    entry is left as it is (the key it held may yet be restored)."""
    user = f"store-key:{home.path}"
    os_keyring.set_password("twofold", user, stored)
    with pytest.raises(keystore.StoreKeyUnavailable, match="damaged"):
        keystore.load(home, "auto", "keyring")
    assert os_keyring.get_password("twofold", user) == stored


def test_a_store_key_source_this_version_does_not_know_is_refused(home: Home) -> None:
    """Falling back to a key file would open nothing, or worse make a new key: say so."""
    with pytest.raises(keystore.StoreKeyUnavailable, match="does not know"):
        keystore.load(home, "auto", "tpm")
    assert not home.store_key.exists()
