"""The CLI's output helpers: tables a terminal shows safely, codes grouped for reading."""

from __future__ import annotations

import pytest

from twofold.clients.cli import output


def test_table_aligns_wide_text_and_neutralises_control_characters() -> None:
    text = output.table(["A", "B"], [["\x1b[31mred", "x"], ["日本", "y"]])
    assert text.splitlines() == ["A         B", "?[31mred  x", "日本      y"]


@pytest.mark.parametrize(
    ("raw", "shown"),
    [("123456", "123 456"), ("12345678", "1234 5678"), ("5XJ7Q", "5XJ7Q"), ("1234567", "1234567")],
)
def test_codes_are_grouped_for_reading(raw: str, shown: str) -> None:
    assert output.group_code(raw) == shown


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\u202emoc.lapyap", "\\u202emoc.lapyap"),  # would read "paypal.com"
        ("pay\u200bpal", "pay\\u200bpal"),
        ("\u3164", "\\u3164"),  # a Hangul filler: looks like no name at all
        ("evil\u2066x\u2069", "evil\\u2066x\\u2069"),
        ("a\ufeffb\u00adc", "a\\ufeffb\\u00adc"),
    ],
)
def test_names_that_hide_or_reorder_text_show_their_escapes(raw: str, shown: str) -> None:
    assert output.clean(raw) == shown
    assert output.label(raw, "alice") == f"{shown}: alice"
    assert shown in output.table(["NAME"], [[raw]])


@pytest.mark.parametrize(
    "name",
    ["Zoë's Bank", "東京", "👨\u200d👩\u200d👧", "🏳️\u200d🌈", "क्\u200dष", "1️⃣"],
)
def test_real_names_with_joiners_and_selectors_show_as_they_are(name: str) -> None:
    assert output.clean(name) == name
