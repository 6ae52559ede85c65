"""LangChain's standard integration tests for ChatAnthropic, configured as langchain-anthropic's own
tests/integration_tests/test_standard.py configures them (images, image URLs, PDFs, image and PDF tool
messages, Anthropic-style inputs, cache read and creation counts; its native structured output), with
JSON mode on too (ChatAnthropic's json_mode is its json_schema method), against the capable model's own
Messages API directly and through the gateway's, which translates to OpenAI chat for that model and
back."""

from __future__ import annotations

from typing import Any, Literal

import pytest
from langchain_anthropic import ChatAnthropic
from langchain_core.messages import AIMessage
from langchain_tests.integration_tests import ChatModelIntegrationTests

from compat.conftest import URLS, answer

SchemaType = Literal["pydantic", "typeddict", "json_schema"]


class _ChatAnthropicOn(ChatModelIntegrationTests):
    way = "gateway"
    structured_output_method: str | None = None

    @property
    def chat_model_class(self) -> type[ChatAnthropic]:
        return ChatAnthropic

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {
            "model": "capable",
            "base_url": URLS[self.way].removesuffix("/v1"),  # the SDK appends /v1/messages
            "api_key": "mg-compat-client-key",
            "max_retries": 0,
        }

    @property
    def structured_output_kwargs(self) -> dict[str, Any]:
        return {"method": self.structured_output_method} if self.structured_output_method else {}

    @property
    def model_override_value(self) -> str:
        return "capable-mini"  # the gateway without a routes file passes the caller's model on

    @property
    def supports_image_inputs(self) -> bool:
        return True

    @property
    def supports_image_urls(self) -> bool:
        return True

    @property
    def supports_pdf_inputs(self) -> bool:
        return True

    @property
    def supports_image_tool_message(self) -> bool:
        return True

    @property
    def supports_pdf_tool_message(self) -> bool:
        return True

    @property
    def supports_anthropic_inputs(self) -> bool:
        return True

    @property
    def supports_json_mode(self) -> bool:
        return True  # not on in langchain-anthropic's own configuration; the gateway has JSON mode

    @property
    def supported_usage_metadata_details(self) -> dict[str, list[Any]]:
        # cache_creation is always 0 (the test asks for an integer, 0 included): the capable model writes
        # no cache, and OpenAI chat's usage, which it speaks to the gateway, has no cache-write count.
        return {
            "invoke": ["cache_read_input", "cache_creation_input"],
            "stream": ["cache_read_input", "cache_creation_input"],
        }

    def invoke_with_cache_read_input(self, *, stream: bool = False) -> AIMessage:
        return self._cached_prompt(stream)

    def invoke_with_cache_creation_input(self, *, stream: bool = False) -> AIMessage:
        return self._cached_prompt(stream)

    def _cached_prompt(self, stream: bool) -> AIMessage:
        model = ChatAnthropic(**{**self.standard_chat_model_params, **self.chat_model_params})
        block = {"type": "text", "text": "What is LangChain?", "cache_control": {"type": "ephemeral"}}
        return answer(model, [{"role": "user", "content": [block]}], stream)  # type: ignore[no-any-return]


class TestChatAnthropicDirect(_ChatAnthropicOn):
    way = "direct"


class TestChatAnthropicThroughGateway(_ChatAnthropicOn):
    way = "gateway"


class _NativeStructuredOutput(_ChatAnthropicOn):
    """langchain-anthropic's NativeStructuredOutputTests: structured output as output_config.format."""

    structured_output_method = "json_schema"


class _NativeStructuredOutputOn:
    """As langchain-anthropic's test_native_structured_output(_async), for the three schema types."""

    way = "gateway"

    def suite(self) -> _NativeStructuredOutput:
        tests = _NativeStructuredOutput()
        tests.way = self.way
        return tests

    @pytest.mark.parametrize("schema_type", ["pydantic", "typeddict", "json_schema"])
    def test_structured_output(self, schema_type: SchemaType) -> None:
        tests = self.suite()
        tests.test_structured_output(ChatAnthropic(**tests.chat_model_params), schema_type)

    @pytest.mark.parametrize("schema_type", ["pydantic", "typeddict", "json_schema"])
    async def test_structured_output_async(self, schema_type: SchemaType) -> None:
        tests = self.suite()
        await tests.test_structured_output_async(ChatAnthropic(**tests.chat_model_params), schema_type)


class TestChatAnthropicNativeStructuredOutputDirect(_NativeStructuredOutputOn):
    way = "direct"


class TestChatAnthropicNativeStructuredOutputThroughGateway(_NativeStructuredOutputOn):
    way = "gateway"
