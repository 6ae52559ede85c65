"""An upper bound of the tokens a provider bills for a request's input, and an estimate of an answer's.

The budget and the free allowances reserve it before the model is called (`ModelRequest.reserved_tokens`
adds `max_tokens`), so it must never count fewer tokens than a provider bills, whatever the request's
shape. Every caller format and `/v1/messages/count_tokens` count with the same functions.

- **Text**: its UTF-8 bytes. No byte-level BPE tokenizer (OpenAI's, Anthropic's, Llama 3's) and no
  SentencePiece one with byte fallback makes more tokens of a text than it has bytes, whereas CJK
  text can take more than one token a character (OpenAI's cl100k: 2.4 a character of random CJK
  ideographs, 4 for those outside the Basic Multilingual Plane). ASCII text counts one a character.
- **Messages**: `MESSAGE_TOKENS` each for the role and delimiters (OpenAI documents 3 or 4, Llama 3's
  chat template 5), `TOOL_CALL_TOKENS` for each tool call in one, `REQUEST_TOKENS` once (the primed
  reply). Every other field of a message (a name, a tool call's arguments) counts as text.
- **Tools and schemas**: their JSON text, one more token per member for the layout a provider renders
  them in, `TOOL_TOKENS` per tool, and `TOOLS_TOKENS` once when there are any (the largest tool-use
  system prompt Anthropic documents: 530, Claude 3 Opus). Every other passed-through field counts as
  its JSON text. JSON mode (`response_format` `json_object`) counts as one more tool besides, since a
  provider without a JSON mode is given one.
- **Images**: the most any provider the gateway speaks bills for one of that size (`image_tokens`),
  the size read from a `data:` image's own header (lib/core/image_size.py). An image of unknown size
  (an `https:` URL, which the gateway never fetches) counts as the largest the provider accepts.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from lib.core.image_size import data_url_size

REQUEST_TOKENS = 8
MESSAGE_TOKENS = 8
TOOL_CALL_TOKENS = 8
TOOL_TOKENS = 16
TOOLS_TOKENS = 530
# OpenAI (gpt-4o, gpt-4.1, gpt-5 families): 85 tokens, plus 170 per 512-pixel tile at high detail,
# after the image is scaled to fit 2048 x 2048 and then its shortest side to 768.
OPENAI_IMAGE_BASE = 85
OPENAI_IMAGE_TILE = 170
OPENAI_LARGEST_IMAGE = OPENAI_IMAGE_BASE + 8 * OPENAI_IMAGE_TILE  # 768 x 2048: 2 x 4 tiles
# Anthropic: width x height / 750, the image first scaled to a long edge of at most 1568 pixels and
# to about 1,600 tokens at most. Bedrock's Converse takes `data:` images only (lib/providers/converse.py).
ANTHROPIC_PIXELS_PER_TOKEN = 750
ANTHROPIC_LONG_EDGE = 1568
ANTHROPIC_LARGEST_IMAGE = 1600
# Fields whose value is a list of tool or function definitions.
_TOOL_LISTS = ("tools", "functions")
# JSON mode, on a provider without one, is a tool the model must call (lib/providers/json_mode_tool.py):
# its definition and the tool choice forcing it are under this many tokens (a test checks), besides
# TOOL_TOKENS and the tool-use prompt.
JSON_MODE_TOOL_TOKENS = 200
JSON_MODE = {"type": "json_object"}
# A JSON schema to answer in: Anthropic (and Claude on Bedrock) adds a system prompt explaining the
# format, whose size it does not publish; it is reserved as the largest tool-use prompt it documents.
STRUCTURED_OUTPUT_TOKENS = TOOLS_TOKENS + TOOL_TOKENS


def text_tokens(text: str) -> int:
    """At least what any tokenizer makes of `text` (see the module's docstring)."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def json_tokens(value: Any) -> int:
    """A JSON value's compact text, plus one token per object member and array item for its layout."""
    if isinstance(value, str):
        return text_tokens(value)
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return text_tokens(text) + _members(value)


def input_tokens(messages: Iterable[Mapping[str, Any]], prompt: str, extra: Mapping[str, Any]) -> int:
    """The upper bound of the input's tokens: the messages (or a legacy completion's prompt) and
    every passed-through field."""
    total = REQUEST_TOKENS + text_tokens(prompt)
    for message in messages:
        total += message_tokens(message)
    for name, value in extra.items():
        if name in _TOOL_LISTS and isinstance(value, list):
            total += (TOOLS_TOKENS if value else 0) + sum(TOOL_TOKENS + json_tokens(tool) for tool in value)
        else:
            total += json_tokens(value)
    response_format = extra.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        total += STRUCTURED_OUTPUT_TOKENS
    if response_format == JSON_MODE:
        has_tools = any(isinstance(extra.get(name), list) and extra[name] for name in _TOOL_LISTS)
        total += JSON_MODE_TOOL_TOKENS + TOOL_TOKENS + (0 if has_tools else TOOLS_TOKENS)
    return total


def message_tokens(message: Mapping[str, Any]) -> int:
    total = MESSAGE_TOKENS
    for name, value in message.items():
        if name == "role":
            continue  # within MESSAGE_TOKENS
        if name == "content":
            total += content_tokens(value)
        elif name == "tool_calls" and isinstance(value, list):
            total += sum(TOOL_CALL_TOKENS + json_tokens(call) for call in value)
        else:
            total += json_tokens(value)
    return total


def content_tokens(content: Any) -> int:
    """A message's content: a string, or parts (text, images, anything else as its JSON text)."""
    if content is None:
        return 0
    if not isinstance(content, list):
        return json_tokens(content)
    total = 0
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            total += text_tokens(part["text"])
        elif kind == "image_url":
            total += image_tokens(part.get("image_url"))
        else:
            total += json_tokens(part)
    return total


def image_tokens(image_url: Any) -> int:
    """The most a provider bills for this `image_url` part's image."""
    url = image_url.get("url") if isinstance(image_url, dict) else image_url
    detail = image_url.get("detail") if isinstance(image_url, dict) else None
    low = detail == "low"
    if not isinstance(url, str) or not url.startswith("data:"):
        # A web URL: only OpenAI-compatible APIs fetch one (Anthropic's provider refuses it here).
        return OPENAI_IMAGE_BASE if low else OPENAI_LARGEST_IMAGE
    size = data_url_size(url)
    if size is None:
        return max(OPENAI_LARGEST_IMAGE, ANTHROPIC_LARGEST_IMAGE)
    return max(openai_image_tokens(*size, low=low), anthropic_image_tokens(*size))


def openai_image_tokens(width: int, height: int, *, low: bool = False) -> int:
    if low:
        return OPENAI_IMAGE_BASE
    fitted = min(1.0, 2048 / max(width, height))
    scale = fitted * min(1.0, 768 / (min(width, height) * fitted))
    tiles = math.ceil(width * scale / 512) * math.ceil(height * scale / 512)
    return OPENAI_IMAGE_BASE + OPENAI_IMAGE_TILE * tiles


def anthropic_image_tokens(width: int, height: int) -> int:
    scale = min(1.0, ANTHROPIC_LONG_EDGE / max(width, height))
    pixels = (width * scale) * (height * scale)
    return min(math.ceil(pixels / ANTHROPIC_PIXELS_PER_TOKEN), ANTHROPIC_LARGEST_IMAGE)


def output_tokens(text: str, tool_calls: Iterable[Any] = ()) -> int:
    """An estimate of an answer's tokens from what it says: its text and tool calls (used when the
    provider reports no usage, and for what a stream sent before it broke off)."""
    return text_tokens(text) + sum(TOOL_CALL_TOKENS + json_tokens(call) for call in tool_calls)


def _members(value: Any) -> int:
    if isinstance(value, dict):
        return len(value) + sum(_members(child) for child in value.values())
    if isinstance(value, list):
        return len(value) + sum(_members(child) for child in value)
    return 0
