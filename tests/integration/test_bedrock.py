"""The Bedrock provider: through botocore's Stubber on a real bedrock-runtime client (what is sent, what
comes back, AWS errors), and through a loopback server speaking Converse's HTTP wire format (timeouts,
connection failures, and answers in a shape Stubber would refuse to play). ConverseStream's own cases
are in test_bedrock_stream.py; its path through the handler is here."""

import json
import time

import boto3
import pytest
from botocore.stub import Stubber

from lib.core.request import ModelRequest
from lib.core.token_estimate import MESSAGE_TOKENS, REQUEST_TOKENS
from lib.platform.deadline import Deadline
from lib.platform.errors import InvalidRequest, UpstreamError, UpstreamTimeout
from lib.platform.route_table import Route
from lib.providers.bedrock import BedrockProvider
from lib.providers.bedrock_clients import ClientsByTimeout, boto3_client
from lib.providers.call_stats import CallStats
from tests.conftest import call
from tests.support.bedrock_loopback import bedrock_provider, converse_answer, serve_routes
from tests.support.eventstream import CONTENT_TYPE, exception, text_answer
from tests.support.fake_upstream import Behaviour

MODEL_ID = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
ROUTE = Route(name="claude", provider="bedrock", model=MODEL_ID)
SECRET_PROMPT = "the launch code is 0000"
USER_HI = {"role": "user", "content": "hi"}
EVENT_STREAM = {"Content-Type": CONTENT_TYPE}
STREAM_BODY = {
    "model": "claude",
    "messages": [USER_HI],
    "stream": True,
    "stream_options": {"include_usage": True},
}


def chat(*messages, **fields):
    return ModelRequest(kind="chat", model="claude", max_tokens=256, messages=messages, **fields)


@pytest.fixture
def stubbed():
    """A real bedrock-runtime client whose answers are scripted; never leaves the process."""
    client = boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with Stubber(client) as stubber:
        yield stubber, client
        stubber.assert_no_pending_responses()


def provider_over(client, sleeps=None, **options):
    built = []
    clients = ClientsByTimeout(lambda config: (built.append(config), client)[1])
    options.setdefault("backoff_base_s", 0.01)
    sleep = (sleeps if sleeps is not None else []).append
    provider = BedrockProvider(ROUTE, clients, sleep=sleep, jitter=lambda: 0.5, **options)
    return provider, built


def test_the_request_maps_system_tools_and_tool_history_to_converse(stubbed):
    # Given a conversation with a system prompt, an earlier tool call and its result, and tools
    stubber, client = stubbed
    weather_tool = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
    request = chat(
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Oslo?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "4 degrees"},
        {"role": "user", "content": [{"type": "text", "text": "And in words?"}]},
        temperature=0.5,
        extra={"tools": [weather_tool], "tool_choice": "auto", "top_p": 0.9, "stop": "END"},
    )
    stubber.add_response(
        "converse",
        converse_answer({"text": "Cold."}),
        expected_params={
            "modelId": MODEL_ID,
            "system": [{"text": "Be brief."}],
            "messages": [
                {"role": "user", "content": [{"text": "Weather in Oslo?"}]},
                {
                    "role": "assistant",
                    "content": [
                        {"toolUse": {"toolUseId": "call_1", "name": "get_weather", "input": {"city": "Oslo"}}}
                    ],
                },
                # The tool result and the next user text are one user turn: Converse wants roles to alternate.
                {
                    "role": "user",
                    "content": [
                        {"toolResult": {"toolUseId": "call_1", "content": [{"text": "4 degrees"}]}},
                        {"text": "And in words?"},
                    ],
                },
            ],
            "inferenceConfig": {"maxTokens": 256, "temperature": 0.5, "topP": 0.9, "stopSequences": ["END"]},
            "toolConfig": {
                "tools": [
                    {
                        "toolSpec": {
                            "name": "get_weather",
                            "description": "Weather for a city",
                            "inputSchema": {"json": weather_tool["function"]["parameters"]},
                        }
                    }
                ]
            },
        },
    )
    provider, _ = provider_over(client)
    stats = CallStats()

    # When the provider answers it
    body = provider.complete(request, Deadline(10), stats)

    # Then the answer is an OpenAI chat completion with Bedrock's token counts
    assert body["object"] == "chat.completion"
    assert body["choices"] == [
        {"index": 0, "message": {"role": "assistant", "content": "Cold."}, "finish_reason": "stop"}
    ]
    assert body["usage"] == {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}
    assert (stats.attempts, stats.retries, stats.last_status) == (1, 0, 200)


def test_a_tool_use_answer_becomes_tool_calls_with_json_arguments(stubbed):
    stubber, client = stubbed
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
    stubber.add_response(
        "converse",
        converse_answer(
            {"text": "Let me look."},
            {"toolUse": {"toolUseId": "tooluse_9", "name": "lookup", "input": {"q": "zürich", "n": 2}}},
            stop_reason="tool_use",
        ),
        expected_params={
            "modelId": MODEL_ID,
            "messages": [{"role": "user", "content": [{"text": "find it"}]}],
            "inferenceConfig": {"maxTokens": 256},
            "toolConfig": {
                "tools": [{"toolSpec": {"name": "lookup", "inputSchema": {"json": {"type": "object"}}}}],
                "toolChoice": {"tool": {"name": "lookup"}},
            },
        },
    )
    provider, _ = provider_over(client)
    request = chat(
        {"role": "user", "content": "find it"},
        extra={"tools": [tool], "tool_choice": {"type": "function", "function": {"name": "lookup"}}},
    )

    choice = provider.complete(request, Deadline(10), CallStats())["choices"][0]

    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "Let me look."
    (call,) = choice["message"]["tool_calls"]
    assert call["id"] == "tooluse_9" and call["type"] == "function"
    assert call["function"]["name"] == "lookup"
    assert json.loads(call["function"]["arguments"]) == {"q": "zürich", "n": 2}


def test_a_legacy_completion_is_one_user_message_and_a_text_completion(stubbed):
    stubber, client = stubbed
    stubber.add_response(
        "converse",
        converse_answer({"text": "upon a time"}, stop_reason="max_tokens"),
        expected_params={
            "modelId": MODEL_ID,
            "messages": [{"role": "user", "content": [{"text": "Once"}]}],
            "inferenceConfig": {"maxTokens": 3},
        },
    )
    provider, _ = provider_over(client)
    request = ModelRequest(kind="completion", model="claude", max_tokens=3, prompt="Once")

    body = provider.complete(request, Deadline(10), CallStats())

    assert body["object"] == "text_completion"
    assert body["choices"] == [
        {"index": 0, "text": "upon a time", "logprobs": None, "finish_reason": "length"}
    ]


@pytest.mark.parametrize(
    "code", ["ThrottlingException", "ServiceUnavailableException", "ModelNotReadyException"]
)
def test_a_passing_failure_is_retried_with_backoff(stubbed, code):
    stubber, client = stubbed
    stubber.add_client_error("converse", code, f"too busy for: {SECRET_PROMPT}", http_status_code=429)
    stubber.add_response("converse", converse_answer({"text": "ok"}))
    sleeps = []
    provider, _ = provider_over(client, sleeps)
    stats = CallStats()

    body = provider.complete(chat({"role": "user", "content": "hi"}), Deadline(10), stats)

    assert body["choices"][0]["message"]["content"] == "ok"
    assert (stats.attempts, stats.retries) == (2, 1)
    assert len(sleeps) == 1 and 0 < sleeps[0] < 1


def test_retries_stop_at_the_limit_and_name_the_error_code_only(stubbed):
    stubber, client = stubbed
    for _ in range(3):
        stubber.add_client_error("converse", "ThrottlingException", SECRET_PROMPT, http_status_code=429)
    provider, _ = provider_over(client, max_retries=2)
    stats = CallStats()

    with pytest.raises(UpstreamError) as raised:
        provider.complete(chat({"role": "user", "content": "hi"}), Deadline(10), stats)

    assert "ThrottlingException" in raised.value.message and "3 attempt(s)" in raised.value.message
    assert SECRET_PROMPT not in raised.value.message
    assert (stats.attempts, stats.last_status) == (3, 429)


@pytest.mark.parametrize(
    ("code", "status", "ours"),
    [
        ("ValidationException", 400, 400),  # the request's own: the caller's to change
        ("AccessDeniedException", 403, 502),  # the deployment's: its IAM grant
        ("ResourceNotFoundException", 404, 502),  # the deployment's: the route's model id
    ],
)
def test_a_refusal_names_the_code_without_aws_text_and_is_not_retried(stubbed, code, status, ours):
    stubber, client = stubbed
    stubber.add_client_error("converse", code, f"Malformed input request: {SECRET_PROMPT}", status)
    provider, _ = provider_over(client)
    stats = CallStats()

    with pytest.raises(UpstreamError) as raised:
        provider.complete(chat({"role": "user", "content": SECRET_PROMPT}), Deadline(10), stats)

    assert raised.value.status == ours
    assert code in raised.value.message and "claude" in raised.value.message
    assert SECRET_PROMPT not in raised.value.message and "Malformed" not in raised.value.message
    assert (stats.attempts, stats.retries, stats.last_status) == (1, 0, status)


def test_a_validation_exception_about_the_model_id_is_the_deployments_502(stubbed):
    stubber, client = stubbed
    stubber.add_client_error(
        "converse", "ValidationException", "The provided model identifier is invalid.", 400
    )
    provider, _ = provider_over(client)

    with pytest.raises(UpstreamError) as raised:
        provider.complete(chat({"role": "user", "content": "hi"}), Deadline(10), CallStats())

    assert raised.value.status == 502 and "ValidationException (model id)" in raised.value.message
    assert "identifier is invalid" not in raised.value.message


def test_an_expired_deadline_makes_no_call(stubbed):
    _, client = stubbed  # no answer queued: a call would fail the test
    provider, built = provider_over(client)

    with pytest.raises(UpstreamTimeout):
        provider.complete(chat({"role": "user", "content": "hi"}), Deadline(0.05), CallStats())

    assert built == []


def test_no_backoff_is_slept_past_the_deadline(stubbed):
    stubber, client = stubbed
    stubber.add_client_error("converse", "ThrottlingException", "slow down", http_status_code=429)
    sleeps = []
    # A backoff far longer than the 5 s left
    provider, _ = provider_over(client, sleeps, backoff_base_s=60.0, backoff_cap_s=60.0)

    with pytest.raises(UpstreamError, match="ThrottlingException"):
        provider.complete(chat({"role": "user", "content": "hi"}), Deadline(5), CallStats())

    assert sleeps == []


def test_each_attempt_gets_a_client_whose_timeouts_fit_the_time_left(stubbed):
    stubber, client = stubbed
    stubber.add_client_error("converse", "ThrottlingException", "slow down", http_status_code=429)
    stubber.add_response("converse", converse_answer({"text": "ok"}))
    now = [100.0]
    provider, built = provider_over(client, clock=lambda: now[0])
    provider._sleep = lambda seconds: now.__setitem__(0, now[0] + 3.0)  # the backoff "takes" 3 s

    provider.complete(
        chat({"role": "user", "content": "hi"}), Deadline(9.5, clock=lambda: now[0]), CallStats()
    )

    assert [(config.read_timeout, config.connect_timeout) for config in built] == [(9.0, 5.0), (6.0, 5.0)]
    assert all(config.retries == {"total_max_attempts": 1} for config in built)


def at(seconds_left):
    return Deadline(seconds_left, clock=lambda: 0.0)


def test_clients_are_cached_per_whole_second_and_bounded():
    built = []
    clients = ClientsByTimeout(lambda config: built.append(config.read_timeout) or object(), max_clients=2)

    first = clients.within(at(7.9))
    assert clients.within(at(7.1)) is first  # same whole second: same client
    clients.within(at(3.5))
    clients.within(at(0.47))  # under a second: tenths
    assert clients.within(at(0.05)) is None  # nothing useful fits
    assert clients.within(at(7.5)) is not first  # 7 s was evicted by the two newer timeouts

    assert built == [7.0, 3.0, 0.4, 7.0]


def test_a_slow_first_build_gets_a_client_that_still_fits_the_deadline():
    now = [0.0]
    built = []

    def slow_then_fast(config):
        built.append(config.read_timeout)
        now[0] += 0.6 if len(built) == 1 else 0.01  # the first build imports boto3
        return object()

    client = ClientsByTimeout(slow_then_fast).within(Deadline(5.2, clock=lambda: now[0]))

    assert built == [5.0, 4.0] and client is not None


def test_the_default_client_has_botocore_retries_off_and_the_given_timeouts(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    client = ClientsByTimeout(boto3_client).within(at(12.4))

    assert client.meta.service_model.service_name == "bedrock-runtime"
    assert client.meta.region_name == "eu-west-1"
    assert (client.meta.config.read_timeout, client.meta.config.connect_timeout) == (12.0, 5.0)
    assert client.meta.config.retries["total_max_attempts"] == 1


# ---- Converse's HTTP wire format on loopback: what Stubber cannot play ----


@pytest.fixture
def bedrock_on_loopback(upstream, monkeypatch):
    """The registered provider, built by `create`, with boto3 pointed at the loopback server."""
    return bedrock_provider(ROUTE, upstream.base_url, monkeypatch), upstream


def test_the_wire_request_is_a_signed_post_to_the_models_converse_path(bedrock_on_loopback):
    provider, upstream = bedrock_on_loopback
    upstream.then(Behaviour(body=converse_answer({"text": "hi there"})))

    body = provider.complete(chat({"role": "user", "content": "hi"}), Deadline(5), CallStats())

    assert body["choices"][0]["message"]["content"] == "hi there"
    sent = upstream.received[0]
    assert (
        sent.method == "POST" and sent.path == "/model/us.anthropic.claude-3-5-haiku-20241022-v1%3A0/converse"
    )
    assert sent.headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=testing/")
    assert sent.body["messages"] == [{"role": "user", "content": [{"text": "hi"}]}]


@pytest.mark.parametrize(
    "answer",
    [
        {"stopReason": "end_turn"},  # no output at all
        {"output": {"message": {"role": "assistant"}}, "stopReason": "end_turn"},
        {
            "output": {"message": {"role": "assistant", "content": [{"toolUse": {"name": "x"}}]}},
            "stopReason": "tool_use",
        },
        {"output": {"message": {"role": "assistant", "content": [{"text": "hi"}]}}},  # no stop reason
    ],
)
def test_an_answer_in_an_unexpected_shape_is_a_502(bedrock_on_loopback, answer):
    provider, upstream = bedrock_on_loopback
    upstream.then(Behaviour(body=answer))
    stats = CallStats()

    with pytest.raises(UpstreamError, match="unexpected shape") as raised:
        provider.complete(chat({"role": "user", "content": "hi"}), Deadline(5), stats)

    assert raised.value.status == 502
    assert stats.maybe_billed  # Bedrock answered: the tokens may well be billed


def test_throttling_on_the_wire_is_retried_and_its_message_never_echoed(bedrock_on_loopback):
    provider, upstream = bedrock_on_loopback
    throttled = Behaviour(
        status=429,
        body={"message": f"Too many tokens: {SECRET_PROMPT}"},
        headers={"x-amzn-ErrorType": "ThrottlingException:http://internal.amazon.com/coral/"},
    )
    upstream.then(throttled, throttled, throttled)
    stats = CallStats()

    with pytest.raises(UpstreamError) as raised:
        provider.complete(chat({"role": "user", "content": "hi"}), Deadline(10), stats)

    assert "ThrottlingException" in raised.value.message and SECRET_PROMPT not in raised.value.message
    assert (stats.attempts, len(upstream.received)) == (3, 3)  # max_retries=2, botocore's own retries off


def test_a_reset_connection_is_retried(bedrock_on_loopback):
    provider, upstream = bedrock_on_loopback
    upstream.then(Behaviour(reset=True), Behaviour(body=converse_answer({"text": "second time"})))
    stats = CallStats()

    body = provider.complete(chat({"role": "user", "content": "hi"}), Deadline(10), stats)

    assert body["choices"][0]["message"]["content"] == "second time"
    assert stats.retries == 1


def test_a_stalled_answer_ends_at_the_deadline_as_a_timeout(bedrock_on_loopback):
    provider, upstream = bedrock_on_loopback
    # The first read times out at 1 s; the retry gets only what is left, and stalls as well.
    upstream.then(*[Behaviour(delay_s=15, body=converse_answer({"text": "too late"}))] * 3)
    stats = CallStats()
    started = time.monotonic()

    with pytest.raises(UpstreamTimeout):
        provider.complete(chat({"role": "user", "content": "hi"}), Deadline(1.5), stats)

    assert time.monotonic() - started < 6  # the 1.5 s deadline, not the server's 15 s, ended the wait
    assert stats.maybe_billed


def test_a_botocore_limit_the_mapping_missed_is_a_400_without_the_value(bedrock_on_loopback):
    provider, upstream = bedrock_on_loopback
    # Converse's maxTokens has a minimum of 1: the gateway never sends 0, a hand-built request can.
    request = ModelRequest(
        kind="chat", model="claude", max_tokens=0, messages=({"role": "user", "content": "x"},)
    )

    with pytest.raises(InvalidRequest, match=r"inferenceConfig\.maxTokens") as raised:
        provider.complete(request, Deadline(5), CallStats())

    assert "value" not in raised.value.message and upstream.received == []


def test_a_field_an_older_botocore_does_not_know_is_a_400_naming_it():
    # Given a botocore older than Converse's outputConfig (the Lambda runtime's boto3 can lag)
    from botocore.exceptions import ParamValidationError

    class OlderClient:
        def converse(self, **arguments):
            assert "outputConfig" in arguments
            report = 'Unknown parameter in input: "outputConfig", must be one of: modelId, messages'
            raise ParamValidationError(report=report)

    schema = {"type": "json_schema", "json_schema": {"name": "w", "schema": {"type": "object"}}}
    request = chat(USER_HI, extra={"response_format": schema})

    # When structured output is asked for
    with pytest.raises(InvalidRequest) as raised:
        provider_over(OlderClient())[0].complete(request, Deadline(5), CallStats())

    # Then the 400 names the parameter the installed botocore refused
    assert "(outputConfig)" in raised.value.message and raised.value.status == 400


# ---- Through the handler: a routes file with a Bedrock route ----

BEDROCK_ROUTES = """
default = "general"

[[route]]
name = "claude"
provider = "bedrock"
model = "{model}"
fallbacks = ["general"]

[[route]]
name = "general"
provider = "openai"
endpoint = "{general}"
model = "deepseek-chat"
key = "env:GENERAL_KEY"
"""


def tokens_today() -> int:
    return int(call("GET", "/v1/usage").json["tokens_today"])


@pytest.fixture
def bedrock_routed(gateway_env, upstream, bedrock_server, tmp_path):
    text = BEDROCK_ROUTES.format(model=MODEL_ID, general=upstream.base_url)
    model_ids = f"anthropic.claude-3-haiku-20240307-v1:0,{MODEL_ID}"
    serve_routes(gateway_env, tmp_path, text, bedrock_server.base_url, model_ids)
    return gateway_env


@pytest.mark.usefixtures("bedrock_routed")
class TestThroughTheHandler:
    def test_a_bedrock_route_answers_in_openai_shape(self, bedrock_server, upstream):
        bedrock_server.then(
            Behaviour(body=converse_answer({"text": "Hej!"}, input_tokens=7, output_tokens=2))
        )

        reply = call(
            "POST",
            "/v1/chat/completions",
            {"model": "claude", "messages": [{"role": "system", "content": "Swedish."}, USER_HI]},
        )

        assert reply.status == 200, reply.text
        assert reply.json["model"] == "claude"
        assert reply.json["choices"][0]["message"]["content"] == "Hej!"
        assert reply.json["usage"] == {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}
        sent = bedrock_server.received[0]
        assert sent.body["system"] == [{"text": "Swedish."}] and upstream.received == []

    def test_a_field_bedrock_cannot_take_is_a_400_before_anything_is_sent(self, bedrock_server, upstream):
        reply = call("POST", "/v1/chat/completions", {"model": "claude", "messages": [USER_HI], "seed": 3})

        assert reply.status == 400
        assert reply.error["param"] == "seed" and "claude" in reply.error["message"]
        assert bedrock_server.received == [] and upstream.received == []

    def test_a_throttled_bedrock_route_falls_back(self, bedrock_server, upstream):
        throttled = Behaviour(
            status=429,
            body={"message": "Too many requests"},
            headers={"x-amzn-ErrorType": "ThrottlingException"},
        )
        bedrock_server.then(throttled, throttled)

        reply = call("POST", "/v1/chat/completions", {"model": "claude", "messages": [USER_HI]})

        assert reply.status == 200, reply.text
        assert reply.json["model"] == "general"
        assert len(bedrock_server.received) == 2  # one retry (AI_MODEL_MAX_RETRIES=1), then the fallback
        assert upstream.received[0].body["model"] == "deepseek-chat"

    def test_a_stream_is_forwarded_as_openai_chunks_from_converse_stream(self, aws, bedrock_server, output):
        bedrock_server.then(
            Behaviour(
                parts=tuple(text_answer("Hej", "!", input_tokens=7, output_tokens=2)), headers=EVENT_STREAM
            )
        )

        reply = call("POST", "/v1/chat/completions", STREAM_BODY)

        assert reply.status == 200 and reply.headers["content-type"].startswith("text/event-stream")
        events = [line.removeprefix("data: ") for line in reply.text.split("\n\n") if line]
        assert events[-1] == "[DONE]"
        chunks = [json.loads(event) for event in events[:-1]]
        assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
        assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]) == "Hej!"
        assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "stop"
        assert chunks[-1]["usage"] == {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}
        assert bedrock_server.received[0].path.endswith("/converse-stream")
        access = output.access_lines()[-1]
        assert "buffered" not in access["stream"] and access["stream"]["chunks"] == 4
        assert tokens_today() == 9  # Bedrock's own count replaced the reservation

    def test_an_exception_event_mid_stream_ends_with_an_error_event_and_charges_the_reservation(
        self, aws, bedrock_server, upstream, output
    ):
        answer = text_answer("Hej", " då")
        bedrock_server.then(
            Behaviour(
                parts=(*answer[:2], exception("modelStreamErrorException", f"failed: {SECRET_PROMPT}")),
                headers=EVENT_STREAM,
            )
        )

        reply = call("POST", "/v1/chat/completions", {**STREAM_BODY, "max_tokens": 40})

        events = [line.removeprefix("data: ") for line in reply.text.split("\n\n") if line]
        assert "[DONE]" not in events
        error = json.loads(events[-1])["error"]
        assert (
            error["code"] == "upstream_stream_malformed" and "ModelStreamErrorException" in error["message"]
        )
        assert SECRET_PROMPT not in reply.text
        assert "".join(json.loads(e)["choices"][0]["delta"].get("content", "") for e in events[:-1]) == "Hej"
        access = output.access_lines()[-1]
        assert access["stream"]["fault"] == "malformed"
        # Usage unknown after a break: the input's bound and what streamed, not the whole reservation
        charged = REQUEST_TOKENS + MESSAGE_TOKENS + len("hi") + len("Hej")
        assert access["charged_tokens"] == charged and tokens_today() == charged
        assert len(bedrock_server.received) == 1 and upstream.received == []  # no retry, no fallback

    def test_a_stream_throttled_before_its_first_piece_falls_back(self, bedrock_server, upstream):
        throttled = Behaviour(parts=(exception("throttlingException", "slow down"),), headers=EVENT_STREAM)
        bedrock_server.then(throttled, throttled)

        reply = call("POST", "/v1/chat/completions", STREAM_BODY)

        assert reply.status == 200 and reply.text.endswith("data: [DONE]\n\n")
        assert '"model":"general"' in reply.text.replace(" ", "")
        assert len(bedrock_server.received) == 2 and upstream.received[0].body["stream"] is True
