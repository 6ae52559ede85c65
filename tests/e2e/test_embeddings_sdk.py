"""The `openai` SDK's `embeddings.create`, over HTTP, against the gateway served as `make run` serves it:
an OpenAI-compatible route and a Bedrock (Titan) route, each a loopback server in its wire format."""

import openai
import pytest

from local.server import serving
from tests.support.bedrock_loopback import serve_routes
from tests.support.fake_upstream import Behaviour

ROUTES = """
[[route]]
name = "general"
provider = "openai"
endpoint = "{upstream}"
model = "chat-model"
key = "env:GENERAL_KEY"

[[route]]
name = "vectors"
kind = "embeddings"
provider = "openai"
endpoint = "{upstream}"
model = "text-embedding-3-small"
key = "env:GENERAL_KEY"

[[route]]
name = "titan"
kind = "embeddings"
provider = "bedrock"
model = "amazon.titan-embed-text-v2:0"
"""


@pytest.fixture
def client(gateway_env, upstream, bedrock_server, tmp_path):
    import handler

    text = ROUTES.format(upstream=upstream.base_url)
    serve_routes(gateway_env, tmp_path, text, bedrock_server.base_url, "amazon.titan-embed-text-v2:0")
    with serving(handler.wsgi_app) as url:
        yield openai.OpenAI(base_url=f"{url}/v1", api_key="mg-not-checked", max_retries=0, timeout=10)


def test_an_openai_compatible_route(client, upstream):
    # Given an OpenAI-compatible embeddings API
    vectors = [{"object": "embedding", "index": i, "embedding": [0.1 * i, 0.2]} for i in range(2)]
    usage = {"prompt_tokens": 4, "total_tokens": 4}
    upstream.then(Behaviour(body={"object": "list", "data": vectors, "model": "x", "usage": usage}))
    # When the SDK asks for two embeddings (it asks for base64 by default, and decodes them)
    result = client.embeddings.create(model="vectors", input=["one", "two"], encoding_format="float")
    # Then it gets them, in order, with the usage
    assert [item.embedding for item in result.data] == [[0.0, 0.2], [0.1, 0.2]]
    assert (result.model, result.usage.prompt_tokens, result.usage.total_tokens) == ("vectors", 4, 4)


def test_a_bedrock_route_with_the_sdks_default_base64(client, bedrock_server):
    # Given Titan Text Embeddings V2 on Bedrock
    bedrock_server.then(Behaviour(body={"embedding": [0.5, -0.25], "inputTextTokenCount": 2}))
    # When the SDK asks without encoding_format (it then asks for base64 and decodes the float32s)
    result = client.embeddings.create(model="titan", input="hello there")
    # Then the vector arrives as Titan wrote it
    assert result.data[0].embedding == [0.5, -0.25]
    assert result.usage.prompt_tokens == 2


def test_a_chat_route_named_for_embeddings_raises_bad_request(client):
    with pytest.raises(openai.BadRequestError, match="serves chat"):
        client.embeddings.create(model="general", input="hello")
