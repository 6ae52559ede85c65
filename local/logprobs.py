"""The built-in model's log probabilities, honest for a deterministic model: the token it wrote had
probability 1 (logprob 0.0); the alternatives it lists had none, shown as OpenAI shows a vanishing one
(-9999.0). Tokens are the pieces of local/tokens.py, so they join back to the text exactly.
"""

from __future__ import annotations

from typing import Any

from local.tokens import pieces

NEVER = -9999.0
_ALTERNATIVES = (
    " the", ",", " and", ".", " a", " of", " to", " is", " in", " it",
    " that", " for", " on", " with", " as", " was", " be", " at", " by", " this", " or",
)  # fmt: skip


def _others(token: str, top: int) -> list[str]:
    return [other for other in _ALTERNATIVES if other != token][: max(top - 1, 0)]


def chat_logprobs(text: str, top: int) -> dict[str, Any]:
    """A chat choice's (or a streamed chunk's) `logprobs` for `text`, with `top` top_logprobs each."""

    def entry(token: str, logprob: float) -> dict[str, Any]:
        return {"token": token, "logprob": logprob, "bytes": list(token.encode())}

    content = [
        {
            **entry(token, 0.0),
            "top_logprobs": [entry(token, 0.0), *(entry(o, NEVER) for o in _others(token, top))][:top],
        }
        for token in pieces(text)
    ]
    return {"content": content, "refusal": None}


def completion_logprobs(text: str, top: int, offset: int = 0) -> dict[str, Any]:
    """A legacy completion's `logprobs` for `text` (which starts `offset` characters into the answer)."""
    tokens = pieces(text)
    offsets = []
    for token in tokens:
        offsets.append(offset)
        offset += len(token)
    return {
        "tokens": tokens,
        "token_logprobs": [0.0] * len(tokens),
        "top_logprobs": [{token: 0.0, **dict.fromkeys(_others(token, top), NEVER)} for token in tokens],
        "text_offset": offsets,
    }
