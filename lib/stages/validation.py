"""Turn a request body into a validated `ModelRequest`, or raise a 4xx `GatewayError` that says why.

Three request shapes share one set of rules: `POST /api/generate` (the original design's contract),
OpenAI chat completions and OpenAI legacy completions. Every rule names the offending parameter.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

from lib.platform.config import Settings
from lib.platform.errors import InvalidRequest
from lib.stages.field_types import check_field_types

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
        "domain",  # a routing choice (docs/routes-and-providers.md), never sent to a provider
    }
)
MESSAGE_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_INT64_MAX = 2**63 - 1


def check_prompt(
    text: str, settings: Settings, param: str, *, media: bool = False, conversation: bool = False
) -> None:
    """MAX_PROMPT_CHARS over the caller's text (a `conversation`'s every turn); blank text is no
    prompt, unless images (or other media) are what the caller sent."""
    if not text.strip() and not media:
        raise InvalidRequest("the prompt is blank", param=param, code="missing_prompt")
    if len(text) > settings.max_prompt_chars:
        # A conversation's every turn is sent again each time: say so, or a chat that grows is a riddle.
        whole = " (the text of the whole conversation sent, earlier turns included)" if conversation else ""
        raise InvalidRequest(
            f"the prompt is {len(text)} characters{whole}; the limit is {settings.max_prompt_chars}"
            " (MAX_PROMPT_CHARS)",
            param=param,
            code="prompt_too_long",
        )


def read_domain(body: Mapping[str, Any]) -> str | None:
    domain = body.get("domain")
    if domain is None or domain == "":
        return None
    if not isinstance(domain, str) or len(domain) > 64:
        raise InvalidRequest("domain must be a string of at most 64 characters", param="domain")
    return domain


def is_content_parts(content: Any) -> bool:
    return isinstance(content, list) and all(
        isinstance(part, dict) and isinstance(part.get("type"), str) for part in content
    )


# URL schemes an `image_url` part may carry: the provider fetches an https one (the gateway never
# fetches a URL a caller gives it); a data: URL holds the image itself.
_IMAGE_URL_SCHEMES = ("https:", "data:")


def check_parts(messages: list[Any]) -> bool:
    """Check the text and image parts of every message's content (400 naming the part); True when
    some message holds a part that is not text (an image, audio, a file: media the provider reads)."""
    media = False
    for index, message in enumerate(messages):
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for number, part in enumerate(content):
            where, kind = f"messages[{index}].content[{number}]", part["type"]
            # A text part needs its text; any part's text is a string (as the schema says).
            if (kind == "text" or part.get("text") is not None) and not isinstance(part.get("text"), str):
                raise InvalidRequest(f"{where}.text must be a string", param=f"{where}.text")
            if kind == "text":
                continue
            media = True
            if kind == "image_url":
                image = part.get("image_url")
                url = image.get("url") if isinstance(image, dict) else None
                if not isinstance(url, str) or not url.lower().startswith(_IMAGE_URL_SCHEMES):
                    raise InvalidRequest(
                        f"{where}.image_url.url must be an https: URL or a data: URL of the image",
                        param=f"{where}.image_url.url",
                    )
    return media


def without_media(messages: list[Any]) -> list[Any]:
    """The messages with only their text parts: images and other media are not text, so the text
    limits (MAX_PROMPT_CHARS, MAX_INPUT_CHARS) and the blocklist leave them out."""
    return [
        {**message, "content": [part for part in message["content"] if part["type"] == "text"]}
        if isinstance(message.get("content"), list)
        else message
        for message in messages
    ]


def with_system_prompt(
    messages: tuple[Mapping[str, Any], ...], settings: Settings
) -> tuple[Mapping[str, Any], ...]:
    if not settings.system_prompt:
        return messages
    return ({"role": "system", "content": settings.system_prompt}, *messages)


def read_model(body: Mapping[str, Any], settings: Settings) -> str:
    """The caller's model ("" when none was sent: the route decides)."""
    model = body.get("model")
    if model is None or model == "":
        return ""
    if not isinstance(model, str) or len(model) > 256:
        raise InvalidRequest("model must be a string of at most 256 characters", param="model")
    return model


def read_max_tokens(body: Mapping[str, Any], settings: Settings, name: str) -> int:
    value = body.get(name)
    if value is None:
        return settings.default_max_tokens
    if not is_int(value) or not 1 <= value <= settings.max_tokens_limit:
        raise InvalidRequest(
            f"{name} must be a whole number from 1 to {settings.max_tokens_limit}", param=name
        )
    return int(value)


class Temperature(TypedDict, total=False):
    temperature: float | None
    requested_temperature: float | None


def read_temperature(body: Mapping[str, Any], settings: Settings) -> Temperature:
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


def read_seed(body: Mapping[str, Any]) -> int | None:
    value = body.get("seed")
    if value is None:
        return None
    if not is_int(value) or not -_INT64_MAX - 1 <= value <= _INT64_MAX:
        raise InvalidRequest("seed must be a whole number (64-bit)", param="seed")
    return int(value)


def read_stream(body: Mapping[str, Any]) -> bool:
    value = body.get("stream", False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidRequest("stream must be true or false", param="stream")
    return value


def check_single_choice(body: Mapping[str, Any]) -> None:
    # More choices (or more generated to pick the best from) would multiply the tokens the budget
    # admitted for this request.
    for name in ("n", "best_of"):
        value = body.get(name)
        if value is not None and (not is_int(value) or value != 1):
            raise InvalidRequest(
                f"{name} must be 1: the gateway asks for one completion per request", param=name
            )


def read_include_usage(body: Mapping[str, Any]) -> bool:
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


def passed_through(body: Mapping[str, Any]) -> dict[str, Any]:
    extra = {key: value for key, value in body.items() if key not in _CONTROLLED_FIELDS}
    check_field_types(extra)
    return extra


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
