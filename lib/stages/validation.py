"""Turn a request body into a validated `ModelRequest`, or raise a 4xx `GatewayError` that says why.

Three request shapes share one set of rules: `POST /api/generate` (the original design's contract),
OpenAI chat completions and OpenAI legacy completions. Every rule names the offending parameter.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple, TypedDict

from lib.platform.config import Settings
from lib.platform.errors import InvalidRequest
from lib.stages.field_types import check_field_types
from lib.stages.request_body import parse_json_body
from lib.stages.text_rules import check_input, field_strings, message_strings

__all__ = ["ModelRequest", "parse_chat", "parse_completion", "parse_generate", "parse_json_body"]

# Fields the gateway decides itself; anything else in an OpenAI request is passed to the provider
# unchanged, so tools that send newer parameters (tools, response_format, ...) keep working.
_CONTROLLED_FIELDS = frozenset(
    {
        "model",
        "messages",
        "prompt",
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "seed",
        "stream",
        "stream_options",
        "n",
        "domain",  # a routing choice (see README: Routes), never sent to a provider
    }
)
_MESSAGE_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_INT64_MAX = 2**63 - 1


class ModelRequest(NamedTuple):
    """What the upstream is asked for, after validation."""

    kind: str  # "chat" or "completion"
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

    @property
    def reserved_tokens(self) -> int:
        """The worst case the budget reserves: a token per character of input, plus `max_tokens`."""
        return self.input_chars + self.max_tokens

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
        if self.kind == "completion":
            return self.prompt
        return "\n".join(_message_texts(self.messages))


def parse_generate(body: Mapping[str, Any], settings: Settings) -> ModelRequest:
    """`POST /api/generate`: {"prompt", "max_tokens"?, "temperature"?, "seed"?, "model"?}."""
    prompt = body.get("prompt")
    if prompt is None or prompt == "":
        raise InvalidRequest('missing prompt: send {"prompt": "..."}', param="prompt", code="missing_prompt")
    if not isinstance(prompt, str):
        raise InvalidRequest("prompt must be a string", param="prompt")
    _check_prompt(prompt, settings, "prompt")
    check_input({"prompt": [prompt]}, settings)
    messages = _with_system_prompt(({"role": "user", "content": prompt},), settings)
    return ModelRequest(
        kind="chat",
        model=_model(body, settings),
        max_tokens=_max_tokens(body, settings, "max_tokens"),
        messages=messages,
        **_temperature(body, settings),
        seed=_seed(body),
        prompt_chars=len(prompt),
        input_chars=len(prompt) + len(settings.system_prompt or ""),
        domain=_domain(body),
    )


def parse_chat(body: Mapping[str, Any], settings: Settings) -> ModelRequest:
    """`POST /v1/chat/completions`, OpenAI's contract."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest(
            "messages must be a non-empty array of messages", param="messages", code="missing_prompt"
        )
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise InvalidRequest(f"messages[{index}] must be an object", param=f"messages[{index}]")
        role = message.get("role")
        if not isinstance(role, str) or role not in _MESSAGE_ROLES:  # a list or object is not hashable
            raise InvalidRequest(
                f"messages[{index}].role must be one of {', '.join(sorted(_MESSAGE_ROLES))}",
                param=f"messages[{index}].role",
            )
        content = message.get("content")
        if not (content is None or isinstance(content, str) or _is_content_parts(content)):
            raise InvalidRequest(
                f"messages[{index}].content must be a string or an array of content parts",
                param=f"messages[{index}].content",
            )
    text = "".join(_message_texts(messages))
    _check_prompt(text, settings, "messages")
    _check_single_choice(body)
    extra = _extra(body)
    texts = {"messages": list(message_strings(messages)), **field_strings(extra)}
    input_chars = check_input(texts, settings)
    return ModelRequest(
        kind="chat",
        messages=_with_system_prompt(tuple(messages), settings),
        prompt_chars=len(text),
        input_chars=input_chars + len(settings.system_prompt or ""),
        extra=extra,
        **_openai_options(
            body, settings, "max_completion_tokens" if "max_completion_tokens" in body else "max_tokens"
        ),
    )


def parse_completion(body: Mapping[str, Any], settings: Settings) -> ModelRequest:
    """`POST /v1/completions`, OpenAI's legacy contract (one prompt per request)."""
    prompt = body.get("prompt")
    if isinstance(prompt, list):
        if len(prompt) != 1 or not isinstance(prompt[0], str):
            raise InvalidRequest(
                "prompt must be a string (or an array of exactly one string)", param="prompt"
            )
        prompt = prompt[0]
    if prompt is None or prompt == "":
        raise InvalidRequest("missing prompt", param="prompt", code="missing_prompt")
    if not isinstance(prompt, str):
        raise InvalidRequest("prompt must be a string", param="prompt")
    _check_prompt(prompt, settings, "prompt")
    _check_single_choice(body)
    extra = _extra(body)
    input_chars = check_input({"prompt": [prompt], **field_strings(extra)}, settings)
    full_prompt = f"{settings.system_prompt}\n\n{prompt}" if settings.system_prompt else prompt
    return ModelRequest(
        kind="completion",
        prompt=full_prompt,
        prompt_chars=len(prompt),
        input_chars=input_chars + len(full_prompt) - len(prompt),
        extra=extra,
        **_openai_options(body, settings, "max_tokens"),
    )


def _openai_options(body: Mapping[str, Any], settings: Settings, max_tokens_field: str) -> dict[str, Any]:
    """The fields both OpenAI contracts share, validated."""
    return {
        "model": _model(body, settings),
        "max_tokens": _max_tokens(body, settings, max_tokens_field),
        **_temperature(body, settings),
        "seed": _seed(body),
        "stream": _stream(body),
        "include_usage": _include_usage(body),
        "domain": _domain(body),
    }


def _check_prompt(text: str, settings: Settings, param: str) -> None:
    if not text.strip():
        raise InvalidRequest("the prompt is blank", param=param, code="missing_prompt")
    if len(text) > settings.max_prompt_chars:
        raise InvalidRequest(
            f"the prompt is {len(text)} characters; the limit is {settings.max_prompt_chars}",
            param=param,
            code="prompt_too_long",
        )


def _domain(body: Mapping[str, Any]) -> str | None:
    domain = body.get("domain")
    if domain is None or domain == "":
        return None
    if not isinstance(domain, str) or len(domain) > 64:
        raise InvalidRequest("domain must be a string of at most 64 characters", param="domain")
    return domain


def _is_content_parts(content: Any) -> bool:
    return isinstance(content, list) and all(
        isinstance(part, dict) and isinstance(part.get("type"), str) for part in content
    )


def _message_texts(messages: Any) -> Iterator[str]:
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            yield content
        elif isinstance(content, list):
            for part in content:
                if isinstance(part.get("text"), str):
                    yield part["text"]


def _with_system_prompt(
    messages: tuple[Mapping[str, Any], ...], settings: Settings
) -> tuple[Mapping[str, Any], ...]:
    if not settings.system_prompt:
        return messages
    return ({"role": "system", "content": settings.system_prompt}, *messages)


def _model(body: Mapping[str, Any], settings: Settings) -> str:
    """The caller's model ("" when none was sent: the route decides)."""
    model = body.get("model")
    if model is None or model == "":
        return ""
    if not isinstance(model, str) or len(model) > 256:
        raise InvalidRequest("model must be a string of at most 256 characters", param="model")
    return model


def _max_tokens(body: Mapping[str, Any], settings: Settings, name: str) -> int:
    value = body.get(name)
    if value is None:
        return settings.default_max_tokens
    if not _is_int(value) or not 1 <= value <= settings.max_tokens_limit:
        raise InvalidRequest(
            f"{name} must be a whole number from 1 to {settings.max_tokens_limit}", param=name
        )
    return int(value)


class _Temperature(TypedDict, total=False):
    temperature: float | None
    requested_temperature: float | None


def _temperature(body: Mapping[str, Any], settings: Settings) -> _Temperature:
    """`temperature` for the upstream, plus `requested_temperature` when the clamp policy moved it.

    Common tools send temperatures outside the original design's range by default (LangChain 0,
    the SDK's examples 0.0, 1 or 2), so by default they are brought into range rather than refused.
    Anything that is not an OpenAI temperature (a number from 0 to 2) is refused either way.
    """
    value = body.get("temperature")
    if value is None:
        return {"temperature": None}
    low, high = settings.temperature_min, settings.temperature_max
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 2:
        raise InvalidRequest("temperature must be a number from 0 to 2", param="temperature")
    if low <= value <= high:
        return {"temperature": float(value)}
    if settings.temperature_policy == "reject":
        raise InvalidRequest(f"temperature must be a number from {low} to {high}", param="temperature")
    return {"temperature": min(max(float(value), low), high), "requested_temperature": float(value)}


def _seed(body: Mapping[str, Any]) -> int | None:
    value = body.get("seed")
    if value is None:
        return None
    if not _is_int(value) or not -_INT64_MAX - 1 <= value <= _INT64_MAX:
        raise InvalidRequest("seed must be a whole number (64-bit)", param="seed")
    return int(value)


def _stream(body: Mapping[str, Any]) -> bool:
    value = body.get("stream", False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidRequest("stream must be true or false", param="stream")
    return value


def _check_single_choice(body: Mapping[str, Any]) -> None:
    # More choices (or more generated to pick the best from) would multiply the tokens the budget
    # admitted for this request.
    for name in ("n", "best_of"):
        value = body.get(name)
        if value is not None and (not _is_int(value) or value != 1):
            raise InvalidRequest(
                f"{name} must be 1: the gateway asks for one completion per request", param=name
            )


def _include_usage(body: Mapping[str, Any]) -> bool:
    options = body.get("stream_options")
    if options is None:
        return False
    if not isinstance(options, dict):
        raise InvalidRequest("stream_options must be an object", param="stream_options")
    include_usage = options.get("include_usage", False)
    if include_usage is None:
        return False
    if not isinstance(include_usage, bool):
        raise InvalidRequest(
            "stream_options.include_usage must be true or false", param="stream_options.include_usage"
        )
    return include_usage


def _extra(body: Mapping[str, Any]) -> dict[str, Any]:
    extra = {key: value for key, value in body.items() if key not in _CONTROLLED_FIELDS}
    check_field_types(extra)
    return extra


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
