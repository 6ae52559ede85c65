"""The OpenAI Agents SDK's own `Agent` and `Runner` through the gateway: a function tool round trip, a
structured `output_type`, a streamed run and a handoff, each with the SDK's default Responses API model
(`OpenAIResponsesModel`: the gateway's /v1/responses, translated to chat for the capable model) and with
`OpenAIChatCompletionsModel`, which also runs directly against the capable model. Tracing is off:
nothing leaves the machine."""

from __future__ import annotations

from agents import (
    Agent,
    Model,
    OpenAIChatCompletionsModel,
    OpenAIResponsesModel,
    Runner,
    function_tool,
    set_tracing_disabled,
)
from openai import AsyncOpenAI
from openai.types.responses import ResponseTextDeltaEvent
from pydantic import BaseModel

from compat.conftest import URLS

set_tracing_disabled(True)
CALLS: list[str] = []


@function_tool
def weather(city: str) -> str:
    """The weather in a city."""
    CALLS.append(city)
    return f"Sunny, 21 degrees in {city}"


class Forecast(BaseModel):
    city: str
    temperature_c: int
    sunny: bool


class _AgentsOn:
    way = "gateway"

    def model(self) -> Model:
        raise NotImplementedError

    def client(self) -> AsyncOpenAI:
        return AsyncOpenAI(base_url=URLS[self.way], api_key="mg-compat-client-key", max_retries=0)

    async def test_a_function_tool_round_trip(self) -> None:
        # Given an agent with a function tool
        CALLS.clear()
        agent = Agent(name="Forecaster", instructions="Use the tool.", tools=[weather], model=self.model())
        # When it is asked about a city
        result = await Runner.run(agent, "What is the weather in 'Lisbon'?")
        # Then the tool ran with the model's arguments and the answer reads its result
        assert CALLS == ["Lisbon"]
        assert "Sunny, 21 degrees in Lisbon" in result.final_output
        assert [item.type for item in result.new_items] == [
            "tool_call_item",
            "tool_call_output_item",
            "message_output_item",
        ]

    async def test_a_structured_output_type(self) -> None:
        # Given an agent whose output is a pydantic model
        agent = Agent(name="Forecaster", instructions="Forecast.", output_type=Forecast, model=self.model())
        # When it runs
        result = await Runner.run(agent, "Tomorrow in Porto?")
        # Then the SDK parsed the model's JSON into it
        assert isinstance(result.final_output, Forecast)
        assert result.context_wrapper.usage.output_tokens > 0

    async def test_a_streamed_run(self) -> None:
        # Given an agent without tools
        agent = Agent(name="Greeter", instructions="Greet.", model=self.model())
        # When it runs streamed
        result = Runner.run_streamed(agent, "Say hello to everyone in the room")
        deltas = [
            event.data.delta
            async for event in result.stream_events()
            if event.type == "raw_response_event" and isinstance(event.data, ResponseTextDeltaEvent)
        ]
        # Then the text arrived in several deltas that make up the final output
        assert len(deltas) > 1
        assert "".join(deltas) == result.final_output
        assert "Say hello to everyone in the room" in result.final_output

    async def test_a_handoff(self) -> None:
        # Given a triage agent that can hand off to a second agent
        specialist = Agent(name="Specialist", instructions="Answer.", model=self.model())
        triage = Agent(name="Triage", instructions="Hand off.", handoffs=[specialist], model=self.model())
        # When the triage agent runs
        result = await Runner.run(triage, "I need the specialist")
        # Then the model called the handoff tool and the specialist gave the final answer
        assert result.last_agent is specialist
        handoff = [item for item in result.new_items if item.type == "handoff_output_item"]
        assert len(handoff) == 1 and handoff[0].target_agent is specialist  # type: ignore[attr-defined]
        assert result.final_output


class TestAgentsResponsesModelThroughGateway(_AgentsOn):
    def model(self) -> Model:
        return OpenAIResponsesModel(model="capable", openai_client=self.client())


class _ChatCompletionsModel(_AgentsOn):
    def model(self) -> Model:
        return OpenAIChatCompletionsModel(model="capable", openai_client=self.client())


class TestAgentsChatCompletionsModelDirect(_ChatCompletionsModel):
    way = "direct"


class TestAgentsChatCompletionsModelThroughGateway(_ChatCompletionsModel):
    way = "gateway"
