"""LangChain's OpenAIEmbeddings: its standard integration tests directly and through the gateway, the
vectors compared, and through a Bedrock (Titan) embeddings route."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_openai import OpenAIEmbeddings
from langchain_tests.integration_tests import EmbeddingsIntegrationTests

from compat.capable_answers import vector
from compat.conftest import URLS

TEXTS = ["The gateway keeps every field.", "你好，世界"]
ROUTES = """
[[route]]
name = "chat"
provider = "openai"
endpoint = "{model}"
model = "capable"
key = "env:CAPABLE_KEY"

[[route]]
name = "titan"
kind = "embeddings"
provider = "bedrock"
model = "amazon.titan-embed-text-v2:0"
"""


def embeddings(way: str, model: str = "capable-embed") -> OpenAIEmbeddings:
    # check_embedding_ctx_length=False: else LangChain sends token arrays from tiktoken (and fetches
    # tiktoken's tables from the web), as it does only for OpenAI's own API.
    return OpenAIEmbeddings(
        model=model,
        base_url=URLS[way],
        api_key="mg-compat-client-key",
        check_embedding_ctx_length=False,
        max_retries=0,
    )


class _OpenAIEmbeddingsOn(EmbeddingsIntegrationTests):
    way = "direct"

    @property
    def embeddings_class(self) -> type[OpenAIEmbeddings]:
        return OpenAIEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {
            "model": "capable-embed",
            "base_url": URLS[self.way],
            "api_key": "mg-compat-client-key",
            "check_embedding_ctx_length": False,
            "max_retries": 0,
        }


class TestOpenAIEmbeddingsDirect(_OpenAIEmbeddingsOn):
    way = "direct"


class TestOpenAIEmbeddingsThroughGateway(_OpenAIEmbeddingsOn):
    way = "gateway"


def test_the_vectors_through_the_gateway_are_the_ones_sent_directly() -> None:
    direct, through = embeddings("direct"), embeddings("gateway")
    assert through.embed_documents(TEXTS) == direct.embed_documents(TEXTS)
    assert through.embed_query(TEXTS[0]) == direct.embed_query(TEXTS[0])


@pytest.fixture
def titan_route(tmp_path: Any) -> Iterator[None]:
    """The gateway with a routes file whose embeddings route is Titan on Bedrock (the capable model
    answers InvokeModel), for this test only."""
    from lib import services

    routes = tmp_path / "routes.toml"
    routes.write_text(ROUTES.format(model=URLS["direct"]), encoding="utf-8")
    saved = dict(os.environ)
    os.environ.update(
        {
            "ROUTES_FILE": str(routes),
            "CAPABLE_KEY": "sk-compat-provider-key-0123456789",
            "BEDROCK_MODEL_IDS": "amazon.titan-embed-text-v2:0",
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": URLS["model_root"],
        }
    )
    services.reset()
    yield
    os.environ.clear()
    os.environ.update(saved)
    services.reset()


@pytest.mark.usefixtures("titan_route")
def test_a_bedrock_titan_route() -> None:
    titan = OpenAIEmbeddings(
        model="titan",
        base_url=URLS["gateway"],
        api_key="mg-compat-client-key",
        check_embedding_ctx_length=False,
        dimensions=256,
        max_retries=0,
    )
    vectors = titan.embed_documents(TEXTS)
    assert [len(item) for item in vectors] == [256, 256]
    assert vectors[0] == pytest.approx(vector(TEXTS[0], 256), rel=1e-6)  # float32 on the way


@pytest.fixture
def built_in_model() -> Iterator[None]:
    """The gateway in front of `make run`'s built-in model (local/model.py), for this test only."""
    from lib import services
    from local.model import LocalModel

    model = LocalModel().start()
    saved = dict(os.environ)
    os.environ["AI_MODEL_ENDPOINT"] = model.base_url
    services.reset()
    yield
    os.environ.clear()
    os.environ.update(saved)
    services.reset()
    model.stop()


@pytest.mark.usefixtures("built_in_model")
def test_the_built_in_model_of_make_run() -> None:
    vectors = embeddings("gateway", model="modelgate-local").embed_documents(TEXTS)
    assert len(vectors) == 2 and len(vectors[0]) == len(vectors[1]) > 0
    assert sum(value * value for value in vectors[0]) == pytest.approx(1.0, rel=1e-3)  # normalized
