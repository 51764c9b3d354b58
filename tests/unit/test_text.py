"""Names that hide or reorder text are refused where they are written, and shown neutralised.

Each attack sits beside a control: a real name in another script or with an emoji sequence
that uses the same kind of character legitimately, which must keep working.
"""

from __future__ import annotations

import json
import os
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.fleet import NOW, SECRET, cert, draft, fleet, forge_as
from twofold.protocol.account import AccountDraft, OtpParams, visible_draft
from twofold.protocol.account_write import AccountWrite, FieldWrite
from twofold.protocol.envelope import OpKind
from twofold.protocol.errors import InvalidAccount, InvalidUri
from twofold.protocol.formats import registry
from twofold.protocol.formats.entries import describe as describe_entry
from twofold.protocol.identity import DeviceKey
from twofold.protocol.membership_bodies import DeviceRenamed
from twofold.protocol.otpauth import parse_uri
from twofold.protocol.text import (
    check_visible,
    escape,
    hidden,
    invisible,
    neutralise,
    strip_hidden,
    visible,
)
from twofold.protocol.vault import Vault

RLO = "\u202e"
URI = "otpauth://totp/{label}?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

# Real names the rule must leave alone: accents, CJK, RTL scripts, emoji ZWJ sequences
# (family, rainbow flag, heart on fire), Persian ZWNJ, a Devanagari conjunct with ZWJ,
# a keycap, subdivision flags (tag characters), a CJK ideographic variation sequence.
LEGITIMATE = [
    "Zoë's Bank",
    "東京",
    "Ελληνικά",
    "שלום עולם",
    "مرحبا",
    "👨\u200d👩\u200d👧\u200d👦 family",
    "🏳️\u200d🌈",
    "❤️\u200d🔥",
    "👁️\u200d🗨️",
    "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",  # Persian, with a ZWNJ
    "क्\u200dष",
    "1️⃣ key",
    "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f England",
    "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",
    "葛\U000e0100城",
    "a b\u00a0c",
]

# One of each kind of character that hides or reorders, in the middle of a name.
ATTACKS = [
    "\u200b",  # ZWSP (ZWNJ and ZWJ between letters are real text: see below)
    "\u200e",
    "\u200f",  # LRM, RLM
    *(chr(c) for c in range(0x202A, 0x202F)),  # LRE, RLE, PDF, LRO, RLO
    *(chr(c) for c in range(0x2060, 0x2065)),  # word joiner, invisible operators
    *(chr(c) for c in range(0x2066, 0x206A)),  # isolates
    "\ufeff",  # BOM / ZWNBSP
    "\u180e",  # Mongolian vowel separator
    "\u115f",
    "\u1160",
    "\u3164",
    "\uffa0",  # Hangul fillers
    "\u00ad",  # soft hyphen
    "\u034f",  # combining grapheme joiner
    "\u061c",  # Arabic letter mark
    "\u2028",
    "\u2029",  # line and paragraph separators
    "\ufff9",  # interlinear annotation anchor
    "\U000e0041",  # a tag letter outside a flag ("ASCII smuggling")
    "\U000e0001",  # language tag
]


@pytest.mark.parametrize("name", LEGITIMATE)
def test_real_names_in_any_script_pass(name: str) -> None:
    assert hidden(name) == []
    assert visible(name)
    assert neutralise(name) == name
    assert strip_hidden(name) == name
    check_visible(name, "name")


@pytest.mark.parametrize("char", ATTACKS, ids=lambda c: f"U+{ord(c):04X}")
def test_each_hiding_or_reordering_character_is_refused_and_named(char: str) -> None:
    name = f"pay{char}pal"
    assert hidden(name) == [3]
    with pytest.raises(InvalidAccount) as caught:
        check_visible(name, "issuer")
    assert caught.value.field == "issuer"
    assert f"U+{ord(char):04X}" in caught.value.detail
    assert "position 4" in caught.value.detail
    assert neutralise(name) == f"pay{escape(char)}pal"
    assert strip_hidden(name) == "paypal"


def test_the_right_to_left_override_is_shown_as_an_escape_not_obeyed() -> None:
    spoof = f"{RLO}moc.lapyap"  # renders as "paypal.com" where it is obeyed
    assert neutralise(spoof) == "\\u202emoc.lapyap"
    assert escape("\U000e0041") == "\\U000e0041"


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("\u200dabc", [0]),  # a joiner at the start joins nothing
        ("abc\u200d", [3]),  # ... nor at the end
        ("a\u200d\u200db", [1, 2]),  # two in a row
        ("a \u200db", [2]),  # next to a space
        ("a\u200c b", [1]),
        (f"a{RLO}\u200db", [1, 2]),  # next to something hidden
        ("x\ufe0f\ufe0f\ufe0f", [2, 3]),  # stacked selectors: a way to smuggle bytes
        ("\ufe0fx", [0]),  # a selector with nothing to select
        ("a \ufe0f", [2]),
        ("😀\U000e0067\U000e007f", [1, 2]),  # tags after anything but the black flag
        ("🏴\U000e0067\U000e0062", [1, 2]),  # a flag that is never closed
        ("🏴\U000e0041\U000e007f", [1, 2]),  # upper-case tags are no subdivision
        ("a\nb", [1]),
        ("a\x1b[31mb", [1]),
        ("a\ud800b", [1]),
    ],
)
def test_joiners_selectors_and_tags_outside_their_sequences_are_refused(
    text: str, where: list[int]
) -> None:
    assert hidden(text) == where
    assert visible(strip_hidden(text))


def test_a_note_keeps_its_lines_but_nothing_hidden() -> None:
    assert hidden("line one\nline two\ttab\r\n", lines=True) == []
    assert hidden(f"line{RLO}\n", lines=True) == [4]
    assert hidden("a\x07b", lines=True) == [1]
    assert neutralise("a\nb", lines=True) == "a\nb"


def test_control_characters_and_surrogates_are_named_as_such() -> None:
    with pytest.raises(InvalidAccount, match="a control character"):
        check_visible("a\x1bb", "name")
    with pytest.raises(InvalidAccount, match="lone surrogate"):
        check_visible("a\udc80b", "name")
    with pytest.raises(InvalidUri, match=r"and 1 more"):
        check_visible(f"{RLO}x{RLO}", "name", error=InvalidUri)


def test_invisible_covers_every_format_character() -> None:
    formats = [chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) == "Cf"]
    assert formats
    assert all(invisible(c) for c in formats)
    assert not any(invisible(c) for c in "aé東 😀\u00a0")


TEXT = st.text(
    st.one_of(
        st.characters(),
        st.sampled_from([RLO, "\u200d", "\u200c", "\ufe0f", "🏴", "\U000e0067", "\U000e007f"]),
    ),
    max_size=30,
)


@given(TEXT, st.booleans())
def test_neutralised_and_stripped_text_is_always_visible(text: str, lines: bool) -> None:
    assert visible(neutralise(text, lines=lines), lines=lines)
    assert visible(strip_hidden(text, lines=lines), lines=lines)
    if visible(text, lines=lines):
        assert neutralise(text, lines=lines) == text
        assert strip_hidden(text, lines=lines) == text


# -- where names are written -------------------------------------------------------------


def test_otpauth_labels_with_hidden_characters_are_refused_control_kept() -> None:
    with pytest.raises(InvalidUri) as caught:
        parse_uri(URI.format(label="PayPal:%E2%80%AEmoc.evil"))
    assert caught.value.field == "name"
    with pytest.raises(InvalidUri) as caught:
        parse_uri(URI.format(label="x") + "&issuer=Pay%E2%80%8BPal")
    assert caught.value.field == "issuer"
    ok = parse_uri(URI.format(label="Zo%C3%AB%27s%20Bank:%E6%9D%B1%E4%BA%AC"))
    assert (ok.issuer, ok.name) == ("Zoë's Bank", "東京")
    lenient = parse_uri(URI.format(label="Pay%E2%80%AEPal:x"), visible_only=False)
    assert lenient.issuer == f"Pay{RLO}Pal"


def test_account_edits_refuse_hidden_characters_control_kept() -> None:
    (v,) = fleet(1)
    aid, _ = v.create_account(draft(), NOW)
    for field in ("issuer", "name", "note"):
        with pytest.raises(InvalidAccount) as caught:
            v.update_account(aid, NOW, **{field: f"Pay{RLO}Pal"})
        assert caught.value.field == field
    v.update_account(aid, NOW, issuer="Zoë's Bank", name="👨\u200d👩\u200d👧", note="a\nb")
    view = v.account(aid)
    assert (view.issuer, view.name, view.note) == ("Zoë's Bank", "👨\u200d👩\u200d👧", "a\nb")


def test_device_names_refuse_hidden_characters_everywhere_they_are_written() -> None:
    with pytest.raises(InvalidAccount, match="U\\+202E"):
        Vault.found(DeviceKey(os.urandom(32)), f"laptop{RLO}", NOW)
    (v,) = fleet(1)
    with pytest.raises(InvalidAccount):
        v.rename_device(f"evil{RLO}moc", NOW)
    with pytest.raises(InvalidAccount):
        v.add_device(cert(2), "phone\u200b", NOW)
    with pytest.raises(InvalidAccount):
        v.rename_device("\u3164", NOW)
    v.rename_device("東京の📱", NOW)
    v.add_device(cert(2), "Zoë's phone", NOW)
    names = {m.name for m in v.membership.added.values()}
    assert names == {"東京の📱", "Zoë's phone"}


def test_older_data_still_replays_and_is_shown_neutralised() -> None:
    """Ops written before the rule (or by a device that ignores it) are still taken: receipt
    judges signatures and shape, not taste. Showing them is the clients' job."""
    a, b = fleet(2)
    aid = bytes(16)
    write = AccountWrite(
        aid,
        {
            "issuer": FieldWrite(f"{RLO}lapyaP", ()),
            "name": FieldWrite("alice", ()),
            "note": FieldWrite("", ()),
            "otp": FieldWrite(OtpParams.create("totp", SECRET), ()),
        },
        None,
    )
    last = a.chains[a.device.public][-1].hlc
    forged = [
        forge_as(a, OpKind.ACCOUNT_WRITE, write, last + 1),
        forge_as(a, OpKind.DEVICE_RENAMED, DeviceRenamed(f"evil{RLO}"), last + 2),
    ]
    report = b.receive_batch([op.raw for op in forged], NOW + 10)
    assert not report.refused
    assert b.account(aid).issuer == f"{RLO}lapyaP"
    assert neutralise(b.account(aid).issuer) == "\\u202elapyaP"
    assert neutralise(b.membership.added[a.device.public].name) == "evil\\u202e"


def test_accounts_carried_from_older_data_are_written_without_hidden_characters() -> None:
    (v,) = fleet(1)
    carried = AccountDraft(f"Pay{RLO}Pal", "bob\u200b", OtpParams.create("totp", SECRET))
    aid, _ = v.create_account(carried, NOW)
    assert (v.account(aid).issuer, v.account(aid).name) == ("PayPal", "bob")


# -- imports ----------------------------------------------------------------------------


def test_visible_draft_takes_hidden_characters_out_and_says_which() -> None:
    otp = OtpParams.create("totp", SECRET)
    clean, removed = visible_draft(AccountDraft(f"{RLO} PayPal", "東京", otp, note="x\u200by"))
    assert (clean.issuer, clean.name, clean.note) == ("PayPal", "東京", "xy")  # and trimmed
    assert removed == [
        "issuer: U+202E RIGHT-TO-LEFT OVERRIDE",
        "note: U+200B ZERO WIDTH SPACE",
    ]
    same = AccountDraft("👨\u200d👩\u200d👧", "", otp)
    assert visible_draft(same) == (same, [])
    with pytest.raises(InvalidAccount, match="name or an issuer"):
        visible_draft(AccountDraft("\u200b", "", otp))


def test_an_import_keeps_every_account_and_strips_the_trick_with_a_warning() -> None:
    lines = [
        URI.format(label="Zo%C3%AB%27s%20Bank:alice"),
        URI.format(label="%E2%80%AElapyaP:bob"),
        URI.format(label="%E2%80%8B:%E2%80%8B"),  # nothing visible left: that entry fails
        URI.format(label="%F0%9F%91%A8%E2%80%8D%F0%9F%91%A9:carol"),
    ]
    parsed = registry.read("\n".join(lines).encode())
    labels = [(a.draft.issuer, a.draft.name) for a in parsed.accounts]
    assert labels == [("Zoë's Bank", "alice"), ("lapyaP", "bob"), ("👨\u200d👩", "carol")]
    assert parsed.warnings == (
        "line 2: took out characters that hide or reorder text "
        "(issuer: U+202E RIGHT-TO-LEFT OVERRIDE)",
    )
    assert [f.source for f in parsed.failures] == ["line 3"]
    assert "name or an issuer" in parsed.failures[0].reason


def test_an_aegis_import_reports_entries_with_their_names_neutralised() -> None:
    entry = {
        "type": "totp",
        "name": f"bob{RLO}",
        "issuer": f"{RLO}lapyaP",
        "note": "",
        "info": {"secret": "not base32!", "algo": "SHA1", "digits": 6, "period": 30},
    }
    doc = {"version": 1, "header": {"slots": None, "params": None}, "db": {"version": 3}}
    doc["db"]["entries"] = [entry]  # type: ignore[index]
    parsed = registry.read(json.dumps(doc).encode(), format="aegis")
    assert not parsed.accounts
    assert RLO not in parsed.failures[0].source
    assert "\\u202e" in parsed.failures[0].source
    assert describe_entry(0, f"{RLO}x", "y") == "entry 1 (\\u202ex: y)"
