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
