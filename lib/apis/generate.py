"""`POST /api/generate`, the original design's contract: {"prompt", "max_tokens"?, "temperature"?, "seed"?,
"model"?, "domain"?} in, {"id", "model", "text", "usage"} out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lib.apis.openai_replies import new_id
from lib.core.answer import Usage, completion_text
from lib.core.request import ModelRequest
from lib.platform.config import Settings
from lib.platform.errors import InvalidRequest
from lib.stages.text_rules import check_input
from lib.stages.validation import (
    check_prompt,
    read_domain,
    read_max_tokens,
    read_model,
    read_seed,
    read_temperature,
    with_system_prompt,
)


def parse_generate(body: Mapping[str, Any], settings: Settings) -> ModelRequest:
    """`POST /api/generate`: {"prompt", "max_tokens"?, "temperature"?, "seed"?, "model"?}."""
    prompt = body.get("prompt")
    if prompt is None or prompt == "":
        raise InvalidRequest('missing prompt: send {"prompt": "..."}', param="prompt", code="missing_prompt")
    if not isinstance(prompt, str):
        raise InvalidRequest("prompt must be a string", param="prompt")
    if body.get("stream") not in (None, False):
        # Ignoring it would answer a client waiting for events with one object it may not read.
        raise InvalidRequest(
            "stream is not served on /api/generate (its reply is one JSON object): "
            "use POST /v1/chat/completions with stream: true",
            param="stream",
        )
    check_prompt(prompt, settings, "prompt")
    check_input({"prompt": [prompt]}, settings)
    messages = with_system_prompt(({"role": "user", "content": prompt},), settings)
    return ModelRequest(
        kind="chat",
        model=read_model(body, settings),
        max_tokens=read_max_tokens(body, settings, "max_tokens"),
        messages=messages,
        **read_temperature(body, settings),
        seed=read_seed(body),
        prompt_chars=len(prompt),
        input_chars=len(prompt) + len(settings.system_prompt or ""),
        domain=read_domain(body),
    )


def generate_reply(body: Mapping[str, Any], request: ModelRequest, usage: Usage) -> dict[str, Any]:
    """The original design's contract: {"id", "model", "text", "usage"}."""
    return {
        "id": str(body.get("id") or new_id("gen")),
        "model": str(body.get("model") or request.model),
        "text": completion_text(body),
        "usage": usage.as_dict(),
    }
