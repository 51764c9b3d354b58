"""Text a person will read: nothing in it may hide or reorder what the rest of it says.

Names (account issuers and names, device names, pairing names) and notes come
from people, QR codes, import files and other devices, and are shown next to
decisions (the pairing confirmation line, which account a code is for). A
right-to-left override (U+202E) makes "moc.lapyap" read as "paypal.com"; a
zero-width space makes two names that look the same differ; a Hangul filler
looks like nothing at all. The rule, one for every such field:

- Refused anywhere: control characters (Cc; a note may hold tab, line feed
  and carriage return), lone surrogates (Cs), format characters (Cf: the bidi
  embeddings, overrides, isolates and marks, zero-width spaces, the word
  joiner and invisible operators, the BOM, soft hyphen, interlinear
  annotation anchors...), line and paragraph separators (Zl, Zp), and every
  Default_Ignorable_Code_Point of Unicode (the Hangul fillers U+115F, U+1160,
  U+3164, U+FFA0, the combining grapheme joiner U+034F, the Khmer inherent
  vowels U+17B4/U+17B5, U+180E, the unassigned U+FFF0..U+FFF8 and
  U+E0000..U+E0FFF).
- Allowed in context, because real names need them and there they hide
  nothing: ZERO WIDTH JOINER and NON-JOINER (U+200D, U+200C) between two
  visible characters (emoji ZWJ sequences such as a family or a rainbow flag,
  Indic conjuncts, Persian half-spaces); one variation selector (U+FE00..FE0F,
  U+E0100..E01EF, the Mongolian U+180B..180D and U+180F) straight after a
  visible character (emoji presentation, CJK ideographic variants); and tag
  characters only as an emoji subdivision flag (U+1F3F4, then lowercase tag
  letters or digits, then CANCEL TAG U+E007F: England, Scotland, Wales). A
  joiner at either end, two in a row, a run of selectors (a known way of
  smuggling bytes after one emoji) or stray tags are refused.

Where older data is shown, `neutralise` writes each refused character as a
visible escape (`\\u202e`, `\\U000e0041`), keeping the allowed sequences as they
are; clients/web/text.js is the same rule for the web page.
"""

from __future__ import annotations

import unicodedata
from typing import Final

from .errors import InputError, InvalidAccount

ZWNJ: Final = 0x200C
ZWJ: Final = 0x200D
BLACK_FLAG: Final = 0x1F3F4
CANCEL_TAG: Final = 0xE007F
LINE_BREAKS: Final = frozenset("\t\n\r")

# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt, 15.1).
_IGNORABLE: Final = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)
_SELECTORS: Final = ((0xFE00, 0xFE0F), (0xE0100, 0xE01EF), (0x180B, 0x180D), (0x180F, 0x180F))
_TAG_SPEC: Final = frozenset(range(0xE0030, 0xE003A)) | frozenset(range(0xE0061, 0xE007B))


def _within(cp: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    return any(low <= cp <= high for low, high in ranges)


def invisible(c: str) -> bool:
    """True for a character that shows nothing, or changes how the text around it shows,
    whatever surrounds it (the context rules are `hidden`'s)."""
    cp = ord(c)
    return unicodedata.category(c) in ("Cf", "Zl", "Zp") or _within(cp, _IGNORABLE)


def _selector(cp: int) -> bool:
    return _within(cp, _SELECTORS)


def _plain(c: str, lines: bool) -> bool:
    """A character that shows itself: not invisible, not a control, not a surrogate."""
    category = unicodedata.category(c)
    if category == "Cc":
        return lines and c in LINE_BREAKS
    return category != "Cs" and not invisible(c)


def _base(c: str) -> bool:
    """Something a joiner or a selector may attach to: shown, and not blank."""
    return _plain(c, False) and not c.isspace()


def hidden(text: str, *, lines: bool = False) -> list[int]:
    """The positions of the characters the rule refuses; [] when the text is all visible.

    `lines` lets tab, line feed and carriage return through (a note).
    """
    out: list[int] = []
    n = len(text)
    i = 0
    while i < n:
        c = text[i]
        cp = ord(c)
        if _plain(c, lines):
            i += 1
            continue
        if cp in (ZWJ, ZWNJ):
            before = i > 0 and (_base(text[i - 1]) or _attached_selector(text, i - 1))
            after = i + 1 < n and _base(text[i + 1])
            if not (before and after):
                out.append(i)
            i += 1
            continue
        if _selector(cp):
            if not (i > 0 and _base(text[i - 1])):
                out.append(i)
            i += 1
            continue
        if i > 0 and ord(text[i - 1]) == BLACK_FLAG and cp in _TAG_SPEC:
            end = i
            while end < n and ord(text[end]) in _TAG_SPEC:
                end += 1
            if end < n and ord(text[end]) == CANCEL_TAG:
                i = end + 1
                continue
        out.append(i)
        i += 1
    return out


def _attached_selector(text: str, j: int) -> bool:
    """A variation selector at j that itself follows a visible character (❤️‍🔥)."""
    return _selector(ord(text[j])) and j > 0 and _base(text[j - 1])


def visible(text: str, *, lines: bool = False) -> bool:
    """True when nothing in `text` is hidden or reorders the rest (see the module)."""
    return not hidden(text, lines=lines)


def describe(c: str) -> str:
    """A character as a person can look it up: 'U+202E RIGHT-TO-LEFT OVERRIDE'."""
    name = unicodedata.name(c, "")
    return f"U+{ord(c):04X} {name}".rstrip()


def check_visible(
    text: str, field: str, *, lines: bool = False, error: type[InputError] = InvalidAccount
) -> None:
    """Refuse text holding a character that hides or reorders; the message names the first."""
    found = hidden(text, lines=lines)
    if found:
        first = found[0]
        what = {"Cc": "a control character", "Cs": "a lone surrogate (not a character)"}.get(
            unicodedata.category(text[first]), "a hidden or direction-changing character"
        )
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise error(
            field,
            f"{field} holds {what} ({describe(text[first])}) at position {first + 1}{more}: "
            "remove it",
        )


def escape(c: str) -> str:
    """A character written so it shows: \\u202e, or \\U000e0041 beyond the BMP."""
    cp = ord(c)
    return f"\\u{cp:04x}" if cp <= 0xFFFF else f"\\U{cp:08x}"


def neutralise(text: str, *, lines: bool = False) -> str:
    """Text safe to show: each refused character becomes its visible escape; joiners,
    selectors and flag tags that belong to a visible sequence stay."""
    found = hidden(text, lines=lines)
    if not found:
        return text
    parts = list(text)
    for i in found:
        parts[i] = escape(text[i])
    return "".join(parts)


def strip_hidden(text: str, *, lines: bool = False) -> str:
    """Text without its refused characters (an import keeps the account, not the trick)."""
    found = set(hidden(text, lines=lines))
    if not found:
        return text
    kept = "".join(c for i, c in enumerate(text) if i not in found)
    # Removing one character can strand a joiner or selector that was attached to it.
    return strip_hidden(kept, lines=lines)


def is_text(text: str) -> bool:
    """True when the string holds no lone surrogate, so UTF-8 (and a URI, a file, an op)
    can carry it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_text(text: str, field: str, *, error: type[InputError] = InvalidAccount) -> None:
    """Refuse text holding a lone surrogate: half of a UTF-16 pair, not a character, which
    JSON can carry (as an escape) but no UTF-8, so no URI, file or op, can."""
    for position, c in enumerate(text):
        if unicodedata.category(c) == "Cs":
            raise error(
                field,
                f"{field} holds a lone surrogate (not a character) ({describe(c)}) at "
                f"position {position + 1}: remove it",
            )


def quoted(value: object, limit: int = 40) -> str:
    """An untrusted value (a map key from a peer, a field of a file) as an error message
    may show it: its repr, hidden characters escaped, cut to `limit` characters. An
    integer too long to write out (Python refuses more than 4,300 digits) is described."""
    if isinstance(value, int) and value.bit_length() > 128:
        return f"<a {value.bit_length()}-bit number>"
    try:
        shown = repr(value)
    except (ValueError, RecursionError):  # a container holding such an integer, or deep
        return f"<a {type(value).__name__} too large to show>"
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."
