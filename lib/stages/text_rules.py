"""What caller text may contain: the blocklist, matched on a normalised form of the text.

A blocked word must not pass because it was written differently: `BLOCKED_PATTERNS` is matched,
case-insensitively, against the text after
- compatibility folding (NFKC: full-width letters, ligatures, circled letters, ideographic space),
- removing combining marks (an accent put on a letter of a blocked word), invisible format
  characters (zero-width space, joiners, soft hyphen, word joiner, byte-order mark), every other
  character Unicode says to draw as nothing (Default_Ignorable_Code_Point: the Hangul fillers, the
  variation selectors, the tag characters), blanks that show as empty (the braille blank) and code
  points this Python's Unicode does not assign,
- folding Cyrillic and Greek letters that look like Latin ones to those (Cyrillic `\\u0430` to `a`,
  Greek `\\u03bf` to `o`),
and then once more with every kind of space and line break removed, so that a word split by spaces
is still caught while `\\b` and spaces in a pattern keep their meaning on the first form. The pattern
gets the same folding, so a pattern written with accents or kana still matches.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from lib.platform.blocklist import is_blocked
from lib.platform.errors import InvalidRequest

if TYPE_CHECKING:
    from lib.platform.config import Settings


def check_input(texts: Mapping[str, list[str]], settings: Settings) -> int:
    """Every caller text sent upstream, by field: MAX_INPUT_CHARS together, the blocklist each field.

    Returns the number of characters, which the budget reserves as tokens.
    """
    total = sum(len(text) for field_texts in texts.values() for text in field_texts)
    if total > settings.max_input_chars:
        largest = max(texts, key=lambda name: sum(len(text) for text in texts[name]))
        raise InvalidRequest(
            f"the request's text (messages, tools, schemas, stop words and every other field sent to "
            f"the model) is {total} characters; the limit is {settings.max_input_chars}",
            param=largest,
            code="input_too_long",
        )
    if settings.blocked_patterns is not None:
        for name, field_texts in texts.items():
            if is_blocked(settings.blocked_patterns, field_texts):
                raise InvalidRequest(
                    "the request contains content this gateway does not accept",
                    param=name,
                    code="content_blocked",
                )
    return total


def message_strings(messages: list[Any]) -> Iterator[str]:
    """Every text of every message the model reads: contents, names, tool-call ids and arguments."""
    for message in messages:
        for key, value in message.items():
            if key != "role":
                yield from _strings(value, with_keys=False)


def field_strings(extra: Mapping[str, Any]) -> dict[str, list[str]]:
    # Object keys count inside passed-through fields: a schema's property names are text the model reads.
    return {name: list(_strings(value, with_keys=True)) for name, value in extra.items()}


def _strings(value: Any, *, with_keys: bool) -> Iterator[str]:
    """The strings in a parsed JSON value, in order (its depth is bounded by the body parser)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, child in value.items():
            if with_keys:
                yield str(key)
            yield from _strings(child, with_keys=with_keys)
    elif isinstance(value, list):
        for child in value:
            yield from _strings(child, with_keys=with_keys)
