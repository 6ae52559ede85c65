"""POST /v1/embeddings through the handler: an OpenAI-compatible route (the fake upstream on loopback),
Bedrock's Titan and Cohere through InvokeModel (a loopback server speaking its wire format), route
kinds, and the stages every model request passes (budget, cache, access line)."""

from __future__ import annotations

import base64
import struct
from urllib.parse import unquote

import pytest

from tests.conftest import call
from tests.support.bedrock_loopback import serve_routes
from tests.support.fake_upstream import Behaviour

TITAN = "amazon.titan-embed-text-v2:0"
COHERE = "cohere.embed-english-v3"
ROUTES = f"""
default = "general"
default_embeddings = "vectors"

[[route]]
name = "general"
provider = "openai"
endpoint = "{{upstream}}"
model = "chat-model"
key = "env:GENERAL_KEY"

[[route]]
name = "vectors"
kind = "embeddings"
provider = "openai"
endpoint = "{{upstream}}"
model = "text-embedding-3-small"
key = "env:GENERAL_KEY"

[[route]]
name = "titan"
kind = "embeddings"
provider = "bedrock"
model = "{TITAN}"

[[route]]
name = "cohere"
kind = "embeddings"
provider = "bedrock"
model = "{COHERE}"

[[route]]
name = "claude-vectors"
kind = "embeddings"
provider = "anthropic"
endpoint = "{{upstream}}"
model = "claude-sonnet"
key = "env:GENERAL_KEY"
"""
EMBEDDINGS = "/v1/embeddings"


def embedding_list(*vectors, prompt_tokens=8):
    """An OpenAI-compatible API's answer."""
    return {
        "object": "list",
        "data": [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)],
        "model": "text-embedding-3-small",
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    }


@pytest.fixture
def routed(gateway_env, upstream, bedrock_server, tmp_path):
    text = ROUTES.format(upstream=upstream.base_url)
    serve_routes(gateway_env, tmp_path, text, bedrock_server.base_url, f"{TITAN},{COHERE}")


@pytest.mark.usefixtures("routed")
class TestRoutes:
    def test_an_openai_compatible_route_gets_the_callers_fields_and_answers_in_openai_shape(self, upstream):
        # Given an OpenAI-compatible embeddings API
        upstream.then(Behaviour(body=embedding_list([0.1, 0.2], [0.3, 0.4])))
        # When a caller asks with every field OpenAI documents, naming no model
        body = {"input": ["first", "second"], "dimensions": 2, "encoding_format": "float", "user": "u-1"}
        reply = call("POST", EMBEDDINGS, body)
        # Then the default embeddings route passed them on with its model, and the reply is OpenAI's
        assert reply.status == 200, reply.text
        assert reply.json == {
            "object": "list",
            "data": [
                {"object": "embedding", "index": 0, "embedding": [0.1, 0.2]},
                {"object": "embedding", "index": 1, "embedding": [0.3, 0.4]},
            ],
            "model": "vectors",
            "usage": {"prompt_tokens": 8, "total_tokens": 8},
        }
        sent = upstream.received[0]
        assert sent.path == "/v1/embeddings"
        assert sent.body == {**body, "model": "text-embedding-3-small"}

    def test_titan_gets_one_call_per_input_and_base64_is_written_as_openai_does(self, bedrock_server):
        # Given Titan Text Embeddings V2 on Bedrock, which embeds one text per call
        for vector, tokens in (([0.5, -1.0], 3), ([0.25, 2.0], 4)):
            bedrock_server.then(Behaviour(body={"embedding": vector, "inputTextTokenCount": tokens}))
        # When a caller asks for two texts at 256 dimensions, base64-encoded
        body = {"model": "titan", "input": ["a", "b"], "dimensions": 256, "encoding_format": "base64"}
        reply = call("POST", EMBEDDINGS, body)
        # Then each text was one InvokeModel call in Titan's body, and the vectors are float32 base64
        assert reply.status == 200, reply.text
        assert [unquote(sent.path) for sent in bedrock_server.received] == [f"/model/{TITAN}/invoke"] * 2
        assert bedrock_server.received[0].body == {"inputText": "a", "dimensions": 256, "normalize": True}
        first = base64.b64decode(reply.json["data"][0]["embedding"])
        assert struct.unpack("<2f", first) == (0.5, -1.0)
        assert reply.json["usage"] == {"prompt_tokens": 7, "total_tokens": 7}

    def test_cohere_gets_the_texts_in_one_call_and_its_token_count_from_bedrocks_header(self, bedrock_server):
        # Given Cohere Embed on Bedrock, whose body holds no token count (Bedrock's header does)
        answer = {
            "id": "x",
            "embeddings": [[0.1], [0.2]],
            "texts": ["a", "b"],
            "response_type": "embeddings_floats",
        }
        bedrock_server.then(Behaviour(body=answer, headers={"X-Amzn-Bedrock-Input-Token-Count": "5"}))
        # When a caller asks for two texts
        reply = call("POST", EMBEDDINGS, {"model": "cohere", "input": ["a", "b"]})
        # Then one call carried both, and the usage is Bedrock's count
        assert reply.status == 200, reply.text
        assert bedrock_server.received[0].body == {
            "texts": ["a", "b"],
            "input_type": "search_document",
            "embedding_types": ["float"],
        }
        assert [item["embedding"] for item in reply.json["data"]] == [[0.1], [0.2]]
        assert reply.json["usage"] == {"prompt_tokens": 5, "total_tokens": 5}

    @pytest.mark.parametrize(
        ("body", "param"),
        [
            ({"model": "titan", "input": "a", "dimensions": 300}, "dimensions"),
            ({"model": "cohere", "input": "a", "dimensions": 256}, "dimensions"),
            ({"model": "titan", "input": "a", "truncate": "END"}, "truncate"),
        ],
    )
    def test_what_a_bedrock_model_cannot_take_is_a_400_before_anything_is_sent(
        self, body, param, bedrock_server
    ):
        reply = call("POST", EMBEDDINGS, body)
        assert reply.status == 400 and reply.error["param"] == param
        assert body["model"] in reply.error["message"] and bedrock_server.received == []

    @pytest.mark.parametrize("answer", [{"inputTextTokenCount": 3}, b"<html>not JSON</html>"])
    def test_an_unusable_bedrock_answer_is_a_502_charged_its_reservation(
        self, aws, bedrock_server, answer, output
    ):
        # Given Titan answering without an embedding, or not in JSON (Bedrock billed the call all the same)
        bedrock_server.then(Behaviour(body=answer))
        # When a caller asks
        reply = call("POST", EMBEDDINGS, {"model": "titan", "input": "twelve chars"})
        # Then it is a 502, and the budget was charged the reservation (the input's bound)
        assert reply.status == 502
        access = next(line for line in output.access_lines() if line["route"] == "POST /v1/embeddings")
        assert access["charged_tokens"] == access["reserved_tokens"] >= len("twelve chars")
        assert call("GET", "/v1/usage").json["tokens_today"] == access["charged_tokens"]

    def test_a_route_of_the_other_kind_is_a_400_listing_the_right_ones(self, upstream):
        # When a chat request names an embeddings route, and an embeddings request a chat route
        chat = call(
            "POST",
            "/v1/chat/completions",
            {"model": "vectors", "messages": [{"role": "user", "content": "hi"}]},
        )
        embeddings = call("POST", EMBEDDINGS, {"model": "general", "input": "hi"})
        # Then each is a 400 naming the routes of the kind it needs, and nothing is sent
        assert (chat.status, embeddings.status) == (400, 400)
        assert chat.error["message"].endswith("this gateway serves chat with: general")
        assert embeddings.error["message"].endswith("with: vectors, titan, cohere, claude-vectors")
        assert upstream.received == []

    def test_an_anthropic_route_has_no_embeddings(self, upstream):
        reply = call("POST", EMBEDDINGS, {"model": "claude-vectors", "input": "hi"})
        assert reply.status == 400 and "'claude-vectors' (anthropic)" in reply.error["message"]
        assert upstream.received == []

    def test_the_model_list_names_embedding_routes_too(self):
        names = [entry["id"] for entry in call("GET", "/v1/models").json["data"]]
        assert names == ["general", "vectors", "titan", "cohere", "claude-vectors"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "input"),
        ({"input": []}, "input"),
        ({"input": [1, 2, 3]}, "input"),
        ({"input": ["ok", "  "]}, "input[1]"),
        ({"input": "x" * 3000}, "input"),
        ({"input": "a", "dimensions": 0}, "dimensions"),
        ({"input": "a", "encoding_format": "int8"}, "encoding_format"),
        ({"input": "a", "user": 7}, "user"),
    ],
)
def test_bad_input_is_a_400_naming_the_parameter(gateway_env, upstream, body, param):
    reply = call("POST", EMBEDDINGS, body)
    assert reply.status == 400 and reply.error["param"] == param
    assert upstream.received == []


def test_the_blocklist_reads_every_input(gateway_env, upstream):
    gateway_env.setenv("BLOCKED_PATTERNS", "forbidden")
    reply = call("POST", EMBEDDINGS, {"input": ["fine", "a f o r b i d d e n word"]})
    assert reply.status == 400 and reply.error["code"] == "content_blocked" and upstream.received == []


def test_budget_cache_and_access_line_apply_as_to_chat(aws, upstream, output):
    # Given a table (budgets, the cache) and the single-model route, whose API answers embeddings
    upstream.then(Behaviour(body=embedding_list([0.1], prompt_tokens=3)))
    before = call("GET", "/v1/usage").json["tokens_today"]
    # When the same caller asks twice for the same text
    first = call("POST", EMBEDDINGS, {"model": "test-model", "input": "what is a vector?"})
    second = call("POST", EMBEDDINGS, {"model": "test-model", "input": "what is a vector?"})
    # Then the second is the cached answer, and the budget was charged the reported usage once
    assert (first.status, second.status) == (200, 200)
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("miss", "hit")
    assert second.json["data"] == first.json["data"] and len(upstream.received) == 1
    assert call("GET", "/v1/usage").json["tokens_today"] - before == 3
    access = [line for line in output.access_lines() if line["route"] == "POST /v1/embeddings"]
    assert [line["charged_tokens"] for line in access] == [3, 0]
