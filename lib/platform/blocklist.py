"""The blocklist's matching: the pattern and the caller's text folded alike (lib/stages/text_rules.py says
what is folded and why), so a blocked word does not pass because it was written differently."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

# Simplified and traditional forms: password, verification code, bank card.
DEFAULT_BLOCKED_PATTERNS = "(密码|密碼|验证码|驗證碼|银行卡|銀行卡)"


# Marks, format characters, and code points unassigned in this Python's Unicode (nothing a reader sees).
_DROPPED_CATEGORIES = frozenset({"Mn", "Mc", "Me", "Cf", "Cn"})

# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt, which `unicodedata` does not
# expose): characters a renderer draws as nothing, so text that holds them reads as if they were not
# there. Most are marks or format characters, dropped by category anyway; the Hangul fillers are
# letters (Lo), so the categories alone let them through. The tag block (U+E0000..U+E0FFF) is left
# out of the table: all of it is format characters, marks or unassigned, dropped by category.
_DEFAULT_IGNORABLE = (
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
)
# Blanks that are neither ignorable nor spaces to `str.split`, yet show as empty: the braille blank.
_INVISIBLE_BLANKS = (0x2800,)
_REMOVED = dict.fromkeys(
    [code for first, last in _DEFAULT_IGNORABLE for code in range(first, last + 1)] + list(_INVISIBLE_BLANKS)
)

# Cyrillic and Greek letters that look like a Latin one (after Unicode's confusables.txt), folded to it
# in both cases, so that matching stays case-insensitive for a pattern in Cyrillic or Greek too. Where
# a capital and its small letter look like different Latin letters (Greek Η/η, Ν/ν, Υ/υ, Cyrillic Ӏ/ӏ),
# the small letter's likeness wins: running text is mostly small letters.
_CONFUSABLE_SOURCE = "АаВвЕеКкМмНнОоРрСсТтУуХхЅѕІіЈјԀԁҺһӀӏԚԛԜԝ" + "ΑαΒβΕεΖζΗηΙιΚκΜμΝνΟοΡρΤτΥυΧχ"
_CONFUSABLE_LATIN = "AaBbEeKkMmHhOoPpCcTtYyXxSsIiJjDdHhLlQqWw" + "AaBbEeZzNnIiKkMmVvOoPpTtUuXx"
_CONFUSABLES = str.maketrans(_CONFUSABLE_SOURCE, _CONFUSABLE_LATIN)


def normalise(text: str) -> str:
    """The text folded as the blocklist sees it, spaces kept (see the module docstring)."""
    if text.isascii():
        return text  # the common case: nothing to fold or remove
    decomposed = unicodedata.normalize("NFKD", text).translate(_REMOVED)
    kept = "".join(char for char in decomposed if unicodedata.category(char) not in _DROPPED_CATEGORIES)
    return unicodedata.normalize("NFKC", kept).translate(_CONFUSABLES)


def compile_blocklist(source: str) -> re.Pattern[str]:
    """The pattern with the text's folding applied; raises ValueError saying what is wrong."""
    try:
        return re.compile(normalise(source), re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"is not a valid regular expression ({exc})") from None


def is_blocked(pattern: re.Pattern[str], texts: Iterable[str]) -> bool:
    """True when the pattern matches the caller's texts (one field's), folded, with or without spaces."""
    folded = "\n".join(normalise(text) for text in texts)
    return pattern.search(folded) is not None or pattern.search("".join(folded.split())) is not None
