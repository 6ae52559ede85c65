"""LangChain's standard integration tests for ChatOpenAI (tool calling, structured output, JSON mode,
usage in streams, image inputs on), against the capable model directly and through the gateway."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage
from langchain_openai import ChatOpenAI
from langchain_tests.integration_tests import ChatModelIntegrationTests

from compat.conftest import URLS, answer


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
    def supported_usage_metadata_details(self) -> dict[str, list[Any]]:
        # The capable model reports reasoning and cached tokens, whole and in the usage chunk.
        return {
            "invoke": ["reasoning_output", "cache_read_input"],
            "stream": ["reasoning_output", "cache_read_input"],
        }

    def invoke_with_reasoning_output(self, *, stream: bool = False) -> AIMessage:
        return self._hello(stream)

    def invoke_with_cache_read_input(self, *, stream: bool = False) -> AIMessage:
        return self._hello(stream)

    def _hello(self, stream: bool) -> AIMessage:
        model = ChatOpenAI(**{**self.standard_chat_model_params, **self.chat_model_params})
        return answer(model, "Hello", stream)  # type: ignore[no-any-return]

    @property
    def model_override_value(self) -> str:
        return "capable-mini"  # the gateway without a routes file passes the caller's model on

    @property
    def supports_pdf_inputs(self) -> bool:
        return True

    @property
    def supports_pdf_tool_message(self) -> bool:
        return True

    @property
    def supports_audio_inputs(self) -> bool:
        return True

    @property
    def supports_anthropic_inputs(self) -> bool:
        return True

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
