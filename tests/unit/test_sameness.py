"""The one rule of when two accounts are the same account (protocol/sameness.py)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from twofold.protocol.account import (
    AccountDraft,
    OtpKind,
    OtpParams,
    base32_secret,
    yandex_checksum_ok,
)
from twofold.protocol.sameness import account_key, find_same, index, same_account

KEY = "JBSWY3DPEHPK3PXP"


def draft(
    issuer: str = "GitHub",
    name: str = "alice",
    secret: str = KEY,
    kind: str = "totp",
    **otp: object,
) -> AccountDraft:
    counter = otp.pop("counter", 0)
    params = OtpParams.create(kind, base32_secret(secret), **otp)  # type: ignore[arg-type]
    return AccountDraft(issuer, name, params, counter=counter)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Held:
    """An account as a vault holds it: a draft's labels and params, in the trash or not."""

    issuer: str
    name: str
    otp: OtpParams
    deleted: bool = False
    created_hlc: int = 0
    id: str = ""


def held(d: AccountDraft, deleted: bool = False, at: int = 0, id: str = "") -> Held:
    return Held(d.issuer, d.name, d.otp, deleted, at, id)


@pytest.mark.parametrize(
    "written",
    [KEY.lower(), "JBSW Y3DP EHPK 3PXP", "jbsw-y3dp-ehpk-3pxp", f" {KEY}\t"],
)
def test_the_secret_is_its_bytes_not_how_it_was_written(written: str) -> None:
    assert same_account(draft(secret=written), draft())


def test_padding_does_not_make_another_secret() -> None:
    assert same_account(draft(secret="MZXW6==="), draft(secret="mzxw6"))


@pytest.mark.parametrize(
    "other",
    [
        draft(secret="JBSWY3DPEHPK3PXQ"),
        draft(issuer="GitLab"),
        draft(name="bob"),
        draft(name="Alice"),  # case tells accounts apart
        draft(kind="steam"),
        draft(issuer="", name="GitHub:alice"),
    ],
)
def test_a_different_secret_kind_issuer_or_name_is_another_account(other: AccountDraft) -> None:
    assert not same_account(other, draft())


def test_an_hotp_account_is_itself_whatever_its_counter() -> None:
    assert same_account(draft(kind="hotp", counter=0), draft(kind="hotp", counter=41))


def test_digits_period_algorithm_and_note_do_not_count() -> None:
    other = draft(digits=8, period=60, algorithm="SHA256")
    assert same_account(other, draft())
    noted = AccountDraft("GitHub", "alice", draft().otp, note="work")
    assert same_account(noted, draft())


def test_labels_compare_as_they_read() -> None:
    composed, decomposed = "Caf\u00e9", "Cafe\u0301"
    assert same_account(draft(issuer=composed), draft(issuer=decomposed))
    hidden = "Git\u200bHub"  # a zero-width space shows nothing; the vault writes it without
    assert same_account(draft(issuer=hidden), draft())


def test_a_yandex_secret_with_its_checksum_is_the_same_key() -> None:
    head = int.from_bytes(bytes(range(1, 17)) + bytes(10), "big") >> 12 << 12
    full = next(
        whole.to_bytes(26, "big")
        for whole in range(head, head + 4096)
        if yandex_checksum_ok(whole.to_bytes(26, "big"))
    )
    with_checksum = OtpParams.create(OtpKind.YANDEX, full, pin="1234")
    without = OtpParams.create(OtpKind.YANDEX, full[:16], pin="1234")
    assert same_account(
        AccountDraft("Yandex", "a", with_checksum), AccountDraft("Yandex", "a", without)
    )


def test_the_index_shows_the_copy_out_of_the_trash_else_the_oldest() -> None:
    d = draft()
    trashed = held(d, deleted=True, at=1, id="trashed")
    newer = held(d, at=9, id="newer")
    older = held(d, at=5, id="older")
    other = held(draft(name="bob"), id="bob")
    found = index([trashed, newer, other, older])
    assert found[account_key(d)].id == "older"
    assert found[account_key(other)].id == "bob"
    assert find_same([trashed], d) == trashed
    assert find_same([trashed, newer], d) == newer
    assert find_same([other], d) is None
    assert find_same([], d) is None
