"""LangChain's standard integration tests for ChatOpenAI (tool calling, structured output, JSON mode,
usage in streams, image inputs on), against the capable model directly and through the gateway."""

from __future__ import annotations

from typing import Any

from langchain_openai import ChatOpenAI
from langchain_tests.integration_tests import ChatModelIntegrationTests

from compat.conftest import URLS


class _ChatOpenAIOn(ChatModelIntegrationTests):
    way = "direct"

    @property
    def chat_model_class(self) -> type[ChatOpenAI]:
        return ChatOpenAI

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {
            "model": "capable",
            "base_url": URLS[self.way],
            "api_key": "mg-compat-client-key",
            "stream_usage": True,
            "use_responses_api": False,
            "max_retries": 0,
        }

    @property
    def has_tool_choice(self) -> bool:
        return True

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def supports_image_inputs(self) -> bool:
        return True

    @property
    def supports_image_urls(self) -> bool:
        return True

    @property
    def supports_image_tool_message(self) -> bool:
        return True


class TestChatOpenAIDirect(_ChatOpenAIOn):
    way = "direct"


class TestChatOpenAIThroughGateway(_ChatOpenAIOn):
    way = "gateway"
