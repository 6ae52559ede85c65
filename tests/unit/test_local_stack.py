"""What `make run` says as it starts, in one block: everything that is on, and routes that will fail
for want of their key."""

import socket

import pytest

from local import stack
from local.stack import local_stack
from local.startup import startup_block

ROUTES = """
default = "general"

[[route]]
name = "general"
provider = "openai"
endpoint = "https://api.deepseek.com/v1"
model = "deepseek-chat"
key = "env:DEEPSEEK_API_KEY"

[[route]]
name = "qwen"
provider = "openai"
endpoint = "https://dashscope.aliyuncs.com/compatible-mode/v1"
model = "qwen-plus"
key = "env:DASHSCOPE_API_KEY"

[[route]]
name = "legal"
provider = "openai"
endpoint = "https://open.bigmodel.cn/api/paas/v4"
model = "glm-4-flash"
key = "env:ZHIPU_API_KEY"

[[route]]
name = "stored"
provider = "openai"
endpoint = "https://api.example.com/v1"
model = "m"
key = "ssm:/modelgate/stored"
"""


def start(environ):
    """The block `make run` prints as its stack starts (a table of its own: no embedded AWS here), and
    the environment the gateway is then given."""
    environ = {"AWS_ENDPOINT_URL": "http://127.0.0.1:1", "TABLE_NAME": "t", **environ}
    with local_stack(environ) as started:
        block = startup_block(started, environ, "http://127.0.0.1:3000")
    return block, environ


def test_start_names_each_route_whose_key_variable_is_unset_and_no_key(tmp_path):
    # Given the example's routes with one key set, one blank and one unset
    routes = tmp_path / "routes.toml"
    routes.write_text(ROUTES)
    said, _ = start(
        {"ROUTES_FILE": str(routes), "DASHSCOPE_API_KEY": "sk-dashscope-secret-1234", "ZHIPU_API_KEY": " "}
    )
    # Then the lines of the two routes that would fail name their variables, and no key's value shows
    unset = {line.split()[0]: line for line in said if "unset" in line}
    assert list(unset) == ["general", "legal"]
    assert "key DEEPSEEK_API_KEY unset" in unset["general"] and "key ZHIPU_API_KEY unset" in unset["legal"]
    assert not any("sk-dashscope-secret-1234" in line for line in said)


def test_an_unset_key_says_which_fallbacks_answer_for_the_route_and_when_none_can(tmp_path):
    # Given a route falling back to one without a key, and one falling back to a route with a key
    routes = tmp_path / "routes.toml"
    routes.write_text(
        ROUTES.replace(
            'key = "env:ZHIPU_API_KEY"', 'key = "env:ZHIPU_API_KEY"\nfallbacks = ["general"]'
        ).replace(
            'key = "env:DEEPSEEK_API_KEY"', 'key = "env:DEEPSEEK_API_KEY"\nfallbacks = ["qwen", "legal"]'
        )
    )
    said, _ = start({"ROUTES_FILE": str(routes), "DASHSCOPE_API_KEY": "k"})
    unset = {line.split()[0]: line for line in said if "unset" in line}
    # Then the first is a 503 until a key is set (a fallback's fallbacks are not tried), the second is served
    assert "(a 503 until set: none of its fallbacks has a key either)" in unset["legal"]
    assert "(qwen serves until set)" in unset["general"]


def test_start_is_silent_about_keys_when_every_route_has_one(tmp_path):
    routes = tmp_path / "routes.toml"
    routes.write_text(ROUTES)
    keys = {name: "k" for name in ("DEEPSEEK_API_KEY", "DASHSCOPE_API_KEY", "ZHIPU_API_KEY")}
    said, _ = start({"ROUTES_FILE": str(routes), **keys})
    assert not any("unset" in line for line in said)


@pytest.mark.parametrize(
    ("environ", "shown"),
    [
        ({}, "AUTH_MODE=none"),
        ({"AUTH_MODE": "keys"}, "AUTH_MODE=keys"),
        ({"AUTH_MODE": "none"}, "AUTH_MODE=none"),
    ],
)
def test_start_says_the_auth_mode(environ, shown):
    said, _ = start({"AI_MODEL_ENDPOINT": "http://127.0.0.1:1/v1", **environ})
    (line,) = [line for line in said if line.startswith("  auth ")]
    assert shown in line


def test_a_taken_local_model_port_is_a_clear_message(tmp_path, monkeypatch):
    # Given a route to the built-in model, whose port something else holds
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    monkeypatch.setattr(stack, "LOCAL_MODEL_PORT", port)
    routes = tmp_path / "routes.toml"
    routes.write_text(
        f'default = "local"\n[[route]]\nname = "local"\nprovider = "openai"\n'
        f'endpoint = "http://127.0.0.1:{port}/v1"\nmodel = "modelgate-local"\nkey = "env:LOCAL_MODEL_KEY"\n'
    )
    try:
        with pytest.raises(SystemExit) as exit_:
            start({"ROUTES_FILE": str(routes)})
    finally:
        taken.close()
    assert f"the built-in local model cannot serve on 127.0.0.1:{port}" in str(exit_.value)


def test_the_block_says_everything_that_is_on_with_the_built_in_model():
    # Given `make run` with nothing set but ZERO_COST, CORS origins and the cache for everything
    said, environ = start(
        {"ZERO_COST": "true", "CORS_ALLOW_ORIGINS": "http://localhost:5173", "CACHE_MODE": "all"}
    )
    # Then one block says where it serves, the model and the names a client may send, and each setting
    shown = {line.split()[0]: line for line in said[1:]}
    assert said[0] == "modelgate: serving http://127.0.0.1:3000 (Ctrl-C stops everything)"
    assert f"the built-in local model at {environ['AI_MODEL_ENDPOINT']}" in shown["model"]
    assert "any name" in shown["models"] and "modelgate-local when none is sent" in shown["models"]
    assert "never serves" in shown["ZERO_COST"]  # the single model has neither an allowance nor price 0
    assert "CACHE_MODE=all" in shown["cache"] and "per caller" in shown["cache"]
    assert shown["CORS"].split() == ["CORS", "http://localhost:5173"]
    assert list(shown) == ["auth", "AWS", "model", "models", "limits", "ZERO_COST", "cache", "CORS"]
    assert "60 requests/minute" in shown["limits"] and "5,000 tokens/day per caller" in shown["limits"]


def test_the_block_lists_the_routes_their_allowances_and_the_variables_a_routes_file_overrides(tmp_path):
    # Given a routes file, and the single-model variables of the README's recipe for a real provider
    routes = tmp_path / "routes.toml"
    routes.write_text(
        ROUTES.replace(
            'key = "env:DEEPSEEK_API_KEY"',
            'key = "env:DEEPSEEK_API_KEY"\nfree_tokens_per_month = 100000\nprice_per_1k_tokens = 0.0011',
        )
    )
    said, environ = start(
        {
            "ROUTES_FILE": str(routes),
            "AI_MODEL_ENDPOINT": "https://api.openai.com/v1",
            "AI_MODEL_NAME": "gpt-4o-mini",
        }
    )
    # Then the block says the routes come from the file, and how to run without it
    text = "\n".join(said)
    assert f"  routes     from {routes} (to run without it: ROUTES_FILE= make run)" in said
    # and each route with its provider, model, allowance and price, and the names a client may send
    assert (
        "general  openai deepseek-chat at api.deepseek.com; 100,000 free tokens/month; $0.0011/1k tokens"
        in text
    )
    assert "  models     general (the default, when none is sent), qwen, legal, stored" in said
    # and the variables it overrides, there, and not again at the first request: the gateway never sees them
    (ignored,) = [line for line in said if line.startswith("  ignored")]
    assert "AI_MODEL_ENDPOINT, AI_MODEL_NAME: the routes file decides" in ignored
    assert "AI_MODEL_ENDPOINT" not in environ and "AI_MODEL_NAME" not in environ
    assert "ZERO_COST  off" in text


def test_a_bad_variable_stops_the_start_with_the_gateway_s_own_message():
    with pytest.raises(SystemExit) as exit_:
        start({"AI_MODEL_ENDPOINT": "http://127.0.0.1:1/v1", "CACHE_MODE": "sometimes"})
    assert "the gateway is misconfigured: CACHE_MODE" in str(exit_.value)


def test_an_embeddings_route_is_named_as_one_with_the_names_a_client_may_send_for_embeddings(tmp_path):
    # Given a routes file with a chat route and an embeddings route
    routes = tmp_path / "routes.toml"
    routes.write_text(
        ROUTES + '\n[[route]]\nname = "vectors"\nkind = "embeddings"\nprovider = "openai"\n'
        'endpoint = "https://api.example.com/v1"\nmodel = "embed-1"\nkey = "ssm:/modelgate/vectors"\n'
    )
    said, _ = start({"ROUTES_FILE": str(routes)})
    # Then its line says what it answers, and the block says which names ask for embeddings
    (line,) = [line for line in said if line.split()[0] == "vectors"]
    assert "embeddings: openai embed-1 at api.example.com" in line
    assert "  embeddings vectors (the default, when none is sent)" in said
    assert "vectors" not in next(line for line in said if line.startswith("  models"))
