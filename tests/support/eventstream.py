"""The AWS event stream wire format (`application/vnd.amazon.eventstream`), written: what Bedrock's
ConverseStream sends and botocore's decoder (botocore/eventstream.py) reads.

A frame: its total length and its headers' length (4 bytes each, big-endian), the CRC32 of those 8
bytes, the headers (each a name-length byte, the name, type byte 7 for a string, a 2-byte value length,
the value), the payload, and the CRC32 of everything before it.
"""

from __future__ import annotations

import binascii
import json
import struct
from typing import Any

CONTENT_TYPE = "application/vnd.amazon.eventstream"
_STRING = 7


def frame(headers: dict[str, str], payload: bytes) -> bytes:
    encoded = b"".join(_header(name, value) for name, value in headers.items())
    total = 4 + 4 + 4 + len(encoded) + len(payload) + 4
    prelude = struct.pack(">II", total, len(encoded))
    message = prelude + struct.pack(">I", binascii.crc32(prelude)) + encoded + payload
    return message + struct.pack(">I", binascii.crc32(message))


def event(event_type: str, body: dict[str, Any]) -> bytes:
    """One ConverseStream event (`messageStart`, `contentBlockDelta`, ...) with its JSON body."""
    headers = {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}
    return frame(headers, json.dumps(body).encode())


def exception(exception_type: str, message: str) -> bytes:
    """An exception event (`throttlingException`, ...) as Bedrock sends one mid-stream."""
    headers = {
        ":exception-type": exception_type,
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return frame(headers, json.dumps({"message": message}).encode())


def text_answer(
    *words: str, stop_reason: str = "end_turn", input_tokens: int = 7, output_tokens: int = 2
) -> list[bytes]:
    """The frames of a streamed text answer, in the order Bedrock sends them."""
    return [
        event("messageStart", {"role": "assistant"}),
        *(event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": word}}) for word in words),
        event("contentBlockStop", {"contentBlockIndex": 0}),
        event("messageStop", {"stopReason": stop_reason}),
        metadata(input_tokens, output_tokens),
    ]


def metadata(input_tokens: int, output_tokens: int) -> bytes:
    usage = {
        "inputTokens": input_tokens,
        "outputTokens": output_tokens,
        "totalTokens": input_tokens + output_tokens,
    }
    return event("metadata", {"usage": usage, "metrics": {"latencyMs": 140}})


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return (
        bytes([len(raw_name)]) + raw_name + bytes([_STRING]) + struct.pack(">H", len(raw_value)) + raw_value
    )
