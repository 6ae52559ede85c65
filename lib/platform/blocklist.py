"""The blocklist's matching: the pattern and the caller's text folded alike (lib/stages/text_rules.py says
what is folded and why), so a blocked word does not pass because it was written differently."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

# Simplified and traditional forms: password, verification code, bank card.
DEFAULT_BLOCKED_PATTERNS = "(密码|密碼|验证码|驗證碼|银行卡|銀行卡)"


_DROPPED_CATEGORIES = frozenset({"Mn", "Mc", "Me", "Cf"})


def normalise(text: str) -> str:
    """The text folded as the blocklist sees it, spaces kept (see the module docstring)."""
    if text.isascii():
        return text  # the common case: nothing to fold or remove
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(char for char in decomposed if unicodedata.category(char) not in _DROPPED_CATEGORIES)
    return unicodedata.normalize("NFKC", kept)


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
