"""What `make run` says as it starts: the auth mode, and routes that will fail for want of their key."""

import socket

import pytest

from local import stack
from local.stack import local_stack

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
    """The lines `make run` prints as its stack starts (a table of its own: no embedded AWS here)."""
    said = []
    environ = {"AWS_ENDPOINT_URL": "http://127.0.0.1:1", "TABLE_NAME": "t", **environ}
    with local_stack(environ, said.append):
        pass
    return said


def test_start_names_each_route_whose_key_variable_is_unset_and_no_key(tmp_path):
    # Given the example's routes with one key set, one blank and one unset
    routes = tmp_path / "routes.toml"
    routes.write_text(ROUTES)
    said = start(
        {"ROUTES_FILE": str(routes), "DASHSCOPE_API_KEY": "sk-dashscope-secret-1234", "ZHIPU_API_KEY": " "}
    )
    # Then one line names the two routes that would fail, with their variables, and no key's value
    (line,) = [line for line in said if "unset" in line]
    assert "general (DEEPSEEK_API_KEY)" in line and "legal (ZHIPU_API_KEY)" in line
    assert "qwen" not in line and "stored" not in line  # set; a stored key is read later
    assert not any("sk-dashscope-secret-1234" in line for line in said)


def test_start_is_silent_about_keys_when_every_route_has_one(tmp_path):
    routes = tmp_path / "routes.toml"
    routes.write_text(ROUTES)
    keys = {name: "k" for name in ("DEEPSEEK_API_KEY", "DASHSCOPE_API_KEY", "ZHIPU_API_KEY")}
    said = start({"ROUTES_FILE": str(routes), **keys})
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
    said = start({"AI_MODEL_ENDPOINT": "http://127.0.0.1:1/v1", **environ})
    (line,) = [line for line in said if line.startswith("auth: ")]
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
