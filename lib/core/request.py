"""The neutral request: what every caller format parses into and every provider is handed."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from lib.core.token_estimate import input_tokens


class Native(NamedTuple):
    """The caller's own request, for a route whose provider speaks the caller's API: it is sent as it
    came, except for the model id and the fields the gateway decides (model, max_tokens, temperature,
    stream), with `headers` of the caller's beside it (lib/providers/anthropic_native.py,
    lib/providers/openai_responses.py). Such a provider answers with the API's own reply under the
    answer's `NATIVE_REPLY` key, and streams each of the API's own events in a piece of its own
    (`StreamPiece.native`)."""

    api: str  # the caller's API: "messages" or "responses"
    body: Mapping[str, Any]
    headers: Mapping[str, str] = MappingProxyType({})


NATIVE_REPLY = "native"
ANTHROPIC_MESSAGES = "messages"  # Native.api of a request to Anthropic's POST /v1/messages


class ModelRequest(NamedTuple):
    """What the upstream is asked for, after validation."""

    kind: str  # "chat", "completion" or "embeddings" (`prompt` holds the inputs, `extra` their request)
    model: str
    max_tokens: int
    messages: tuple[Mapping[str, Any], ...] = ()
    prompt: str = ""
    temperature: float | None = None
    requested_temperature: float | None = None  # set only when TEMPERATURE_POLICY=clamp changed it
    seed: int | None = None
    stream: bool = False
    include_usage: bool = False
    extra: Mapping[str, Any] = MappingProxyType({})
    prompt_chars: int = 0  # the caller's message text (MAX_PROMPT_CHARS)
    input_chars: int = 0  # every text sent upstream, passed-through fields and the system prompt included
    domain: str | None = None  # /api/generate's explicit routing choice
    native: Native | None = (
        None  # the caller's own body: set only when the chosen route speaks the caller's API
    )
    # An upper bound of what `native` sends that `messages` and `extra` leave out (earlier thinking
    # blocks, reasoning items): reserved too, since a provider that reads them bills them.
    native_only_tokens: int = 0

    @property
    def input_tokens(self) -> int:
        """An upper bound of what a provider bills for the input (lib/core/token_estimate.py)."""
        prompt = self.prompt if self.kind == "completion" else ""
        return input_tokens(self.messages, prompt, self.extra) + self.native_only_tokens

    @property
    def reserved_tokens(self) -> int:
        """The worst case the budget and the free allowances reserve: the input's bound plus `max_tokens`."""
        return self.input_tokens + self.max_tokens

    def upstream_path(self) -> str:
        return "/chat/completions" if self.kind == "chat" else "/completions"

    def upstream_payload(self) -> dict[str, Any]:
        # Streams are answered from one upstream response: API Gateway buffers the reply anyway.
        payload: dict[str, Any] = {**self.extra, "model": self.model, "max_tokens": self.max_tokens}
        if self.kind == "chat":
            payload["messages"] = list(self.messages)
        else:
            payload["prompt"] = self.prompt
        if self.temperature is not None:
            payload["temperature"] = self.temperature
        if self.seed is not None:
            payload["seed"] = self.seed
        return payload

    def temperature_clamp(self) -> str | None:
        """ "requested->applied" when the clamp policy changed the temperature, for the log and a header."""
        if self.requested_temperature is None or self.temperature is None:
            return None
        return f"{self.requested_temperature:g}->{self.temperature:g}"

    def prompt_text(self) -> str:
        """The caller's text, for LOG_PROMPTS only."""
        if self.kind in ("completion", "embeddings"):
            return self.prompt
        return "\n".join(message_texts(self.messages))


def message_texts(messages: Any) -> Iterator[str]:
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            yield content
        elif isinstance(content, list):
            for part in content:
                if isinstance(part.get("text"), str):
                    yield part["text"]
