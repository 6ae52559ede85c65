"""The OpenAI stream writer: a provider's own chunks passed as sent (model replaced, usage as the caller
asked), other providers' pieces written as chunks of ours with their usage details."""

import json

from lib.apis.openai_stream import replay, writer
from lib.core.answer import Usage
from lib.core.pieces import ChunkHeader, StreamPiece, answer_of
from lib.core.request import ModelRequest

HEADER = ChunkHeader(id="chatcmpl-ours", created=1, model="general")
USAGE = {
    "prompt_tokens": 5,
    "completion_tokens": 2,
    "total_tokens": 7,
    "prompt_tokens_details": {"cached_tokens": 1},
}


def request(include_usage):
    return ModelRequest(kind="chat", model="general", max_tokens=10, stream=True, include_usage=include_usage)


def chunks(data: bytes):
    return [
        json.loads(event.removeprefix(b"data: "))
        for event in data.split(b"\n\n")
        if event and event != b"data: [DONE]"
    ]


def provider_chunk(**fields):
    return {"id": "up-1", "object": "chat.completion.chunk", "created": 9, "model": "gpt-x", **fields}


def test_a_providers_chunk_passes_with_the_routes_model_and_its_usage_when_asked():
    # Given a stream whose caller asked for usage, and the provider's content and usage chunks
    stream = writer(request(include_usage=True), HEADER)
    content = provider_chunk(choices=[{"index": 0, "delta": {"content": None, "refusal": "no"}}], usage=None)
    usage = provider_chunk(choices=[], usage=USAGE)
    # When they are written, and the stream ends
    written = stream.piece(StreamPiece(chunk=content)) + stream.piece(StreamPiece(chunk=usage))
    written += stream.end(Usage(5, 2))
    # Then both passed as sent (model replaced in its place), and no second usage chunk was added
    assert chunks(written) == [{**content, "model": "general"}, {**usage, "model": "general"}]
    assert written.endswith(b"data: [DONE]\n\n")


def test_without_stream_options_the_usage_chunk_and_usage_fields_are_left_out():
    # Given a caller that did not ask for usage (the gateway asked the provider all the same)
    stream = writer(request(include_usage=False), HEADER)
    content = provider_chunk(choices=[{"index": 0, "delta": {"content": "Hi"}}], usage=None)
    # When the provider's chunks are written
    written = stream.piece(StreamPiece(chunk=content))
    written += stream.piece(StreamPiece(chunk=provider_chunk(choices=[], usage=USAGE))) + stream.end(
        Usage(5, 2)
    )
    # Then the caller sees what OpenAI would send it: no usage anywhere
    only = {name: value for name, value in content.items() if name != "usage"}
    assert chunks(written) == [{**only, "model": "general"}]


def test_a_chunk_without_id_or_created_gets_the_streams_own():
    stream = writer(request(include_usage=False), HEADER)
    written = stream.piece(StreamPiece(chunk={"choices": [{"index": 0, "delta": {"content": "Hi"}}]}))
    assert chunks(written)[0] == {
        "choices": [{"index": 0, "delta": {"content": "Hi"}}],
        "model": "general",
        "id": "chatcmpl-ours",
        "object": "chat.completion.chunk",
        "created": 1,
    }


def test_another_providers_usage_details_reach_the_usage_chunk():
    # Given pieces of a provider that does not speak OpenAI (Anthropic, Bedrock), its last with cache details
    stream = writer(request(include_usage=True), HEADER)
    details = {"prompt_tokens_details": {"cached_tokens": 30, "cache_write_tokens": 20}}
    stream.piece(StreamPiece(text="Hi", role="assistant"))
    stream.piece(StreamPiece(finish_reason="stop", usage=(60, 2), usage_details=details))
    # When the stream ends
    usage_chunk = chunks(stream.end(Usage(60, 2)))[-1]
    # Then the usage chunk carries the counts and the details
    assert usage_chunk["usage"] == {
        "prompt_tokens": 60,
        "completion_tokens": 2,
        "total_tokens": 62,
        **details,
    }


def test_a_whole_answer_replayed_as_a_stream_keeps_its_fields():
    # Given a whole answer (a cached one) with a refusal, a legacy function call, log probabilities
    # and the provider's fingerprint
    logprobs = {"content": [{"token": "No", "logprob": -0.1, "bytes": [78, 111], "top_logprobs": []}]}
    message = {
        "role": "assistant",
        "content": None,
        "refusal": "No.",
        "function_call": {"name": "f", "arguments": "{}"},
    }
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 5,
        "model": "general",
        "system_fingerprint": "fp_1",
        "choices": [{"index": 0, "message": message, "logprobs": logprobs, "finish_reason": "stop"}],
    }
    # When it is replayed to a caller that asked for a stream
    first, last = chunks(replay(body, request(include_usage=False), Usage(5, 2)))
    # Then the chunks carry them as a provider's stream would
    assert first["system_fingerprint"] == last["system_fingerprint"] == "fp_1"
    assert first["choices"][0]["delta"] == {**message, "content": ""}
    assert first["choices"][0]["logprobs"] == logprobs and last["choices"][0]["finish_reason"] == "stop"


def test_a_finished_stream_is_kept_as_the_whole_answer_with_the_providers_fields():
    # Given an OpenAI-compatible provider's stream that refused, in two pieces, with its fingerprint
    def piece(**delta):
        return StreamPiece(
            chunk=provider_chunk(system_fingerprint="fp_9", choices=[{"index": 0, "delta": delta}])
        )

    pieces = [piece(role="assistant", content=None), piece(refusal="I can"), piece(refusal="not.")]
    pieces.append(StreamPiece(finish_reason="stop", chunk=provider_chunk(choices=[None])))
    # When the stream is put together for the cache
    answer = answer_of(pieces, request(include_usage=False), HEADER)
    # Then the whole answer has the refusal and the fingerprint
    assert answer["system_fingerprint"] == "fp_9"
    assert answer["choices"][0]["message"] == {"role": "assistant", "content": "", "refusal": "I cannot."}
