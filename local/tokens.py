"""The built-in model's tokenizer: a word, a number, a punctuation mark or a CJK character is one token.

Every count the built-in model reports is a count of these tokens in what it read and wrote, so its
usage is honest by its own measure. `pieces` are the tokens as they stand in the text (each with the
whitespace before it): they join back to the text exactly, so a stream and its logprobs can be cut from
them.
"""

from __future__ import annotations

import re
from typing import Any

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+|[^\w\s]")


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text)


def count(text: str) -> int:
    return sum(1 for _ in _TOKEN.finditer(text))


def pieces(text: str) -> list[str]:
    """The text cut after each token; the last piece keeps any whitespace that ends the text."""
    cuts = [match.end() for match in _TOKEN.finditer(text)]
    if not cuts:
        return [text] if text else []
    cuts[-1] = len(text)
    starts = [0, *cuts[:-1]]
    return [text[start:end] for start, end in zip(starts, cuts, strict=True)]


def cut(text: str, max_tokens: int) -> tuple[str, int, bool]:
    """At most `max_tokens` tokens of `text`: the text kept, its token count, and whether it was cut."""
    ends = [match.end() for match in _TOKEN.finditer(text)]
    if len(ends) <= max_tokens:
        return text, len(ends), False
    return (text[: ends[max_tokens - 1]] if max_tokens > 0 else ""), max_tokens, True


def message_text(content: Any) -> str:
    """A message's text: a string, or the text parts of a list of parts (`[{"type": "text", "text": ...}]`,
    as the OpenAI API allows), joined by a space; other parts (images, audio) hold no text."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)
        )
    return ""


def json_text(value: Any) -> str:
    """What the model reads of a JSON value (tool definitions, a schema, tool-call arguments): its keys
    and its values, without the punctuation that only structures them."""
    if isinstance(value, dict):
        return " ".join(f"{key} {json_text(item)}".strip() for key, item in value.items())
    if isinstance(value, list):
        return " ".join(json_text(item) for item in value)
    if value is None or isinstance(value, bool):
        return ""
    return str(value)
