"""OpenAI's reply and stream chunk objects, field by field: what of a provider's answer reaches the caller.

Every field OpenAI documents for `chat.completion`, `chat.completion.chunk` and `text_completion`
passes unchanged, in the provider's order, at every level (`refusal`, `logprobs`, legacy
`function_call`, `tool_calls`, usage details, `system_fingerprint`, `service_tier`, a `null` kept
`null`), and so does every field no document names, as sent: the gateway is invisible. The key values
it holds are scrubbed where every reply leaves (lib/http/gateway.py), so an upstream (or a proxy in
front of it) that echoes the request's `Authorization` header does not hand the key to the caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# A field kept as the provider sent it (a documented object such as `logprobs`, or a scalar).
_ANY: Mapping[str, Any] = {}
_FUNCTION: Mapping[str, Any] = {"name": _ANY, "arguments": _ANY}
TOOL_CALL_FIELDS: Mapping[str, Any] = {
    "index": _ANY,
    "id": _ANY,
    "type": _ANY,
    "function": _FUNCTION,
    "custom": {"name": _ANY, "input": _ANY},
}
# A whole message and a stream's delta share their fields.
_MESSAGE: Mapping[str, Any] = {
    "role": _ANY,
    "content": _ANY,
    "refusal": _ANY,
    "reasoning_content": _ANY,  # DeepSeek, Qwen, vLLM, ...: the model's reasoning, beside the answer
    "annotations": _ANY,
    "audio": _ANY,
    "function_call": _FUNCTION,
    "tool_calls": [TOOL_CALL_FIELDS],
}
CHOICE_FIELDS: Mapping[str, Any] = {
    "index": _ANY,
    "text": _ANY,
    "message": _MESSAGE,
    "delta": _MESSAGE,
    "logprobs": _ANY,
    "finish_reason": _ANY,
}
USAGE_FIELDS: Mapping[str, Any] = {
    "prompt_tokens": _ANY,
    "completion_tokens": _ANY,
    "total_tokens": _ANY,
    "prompt_tokens_details": _ANY,
    "completion_tokens_details": _ANY,
}
ANSWER_FIELDS: Mapping[str, Any] = {
    "id": _ANY,
    "object": _ANY,
    "created": _ANY,
    "model": _ANY,
    "system_fingerprint": _ANY,
    "service_tier": _ANY,
    "choices": [CHOICE_FIELDS],
    "usage": USAGE_FIELDS,
    "obfuscation": _ANY,  # stream chunks' padding (stream_options.include_obfuscation)
}


def documented(value: Any, fields: Mapping[str, Any] = ANSWER_FIELDS) -> Any:
    """`value` with every field the provider sent, in its order: documented ones in their documented
    shape at every level (an answer or a chunk, by default), others as they came. Nothing is dropped:
    the key values the gateway holds are scrubbed where every reply leaves (lib/http/gateway.py)."""
    if not fields:
        return value
    if not isinstance(value, Mapping):
        return value if value is None else {}
    kept: dict[str, Any] = {}
    for name, child in value.items():
        shape = fields.get(name) if isinstance(name, str) else None
        if shape is None:
            kept[name] = child
            continue
        if isinstance(shape, list):
            kept[name] = [documented(item, shape[0]) for item in child] if isinstance(child, list) else child
        else:
            kept[name] = documented(child, shape)
    return kept


def prompt_cache_details(read: int | None, written: int | None) -> dict[str, Any] | None:
    """Tokens read from and written to a provider's prompt cache as OpenAI's usage details:
    `cached_tokens` (OpenAI's own) and `cache_write_tokens` (as OpenAI-compatible gateways name the
    writes OpenAI has no field for); None when the provider said nothing of its cache."""
    if read is None and written is None:
        return None
    details = {"cached_tokens": read or 0}
    if written is not None:
        details["cache_write_tokens"] = written
    return {"prompt_tokens_details": details}
