"""The local stack behind `make run` and `make invoke`: an embedded AWS and, without AI_MODEL_ENDPOINT,
the built-in local model. It only sets environment variables; the gateway code is the deployed code."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import ExitStack, contextmanager

from lib.platform.config import ConfigError
from lib.platform.route_table import load_route_table
from lib.providers import PROVIDERS
from local.aws import LOCAL_TABLE_NAME, EmbeddedAws, create_table
from local.model import MODEL_NAME, LocalModel

# Where routes find the built-in model (routes.example.toml's "local" route points here).
LOCAL_MODEL_PORT = 3001

# The start-up line that says who may call (AUTH_MODE's values, lib/platform/config.py).
_AUTH_LINES = {
    "none": "auth: AUTH_MODE=none, no client keys: each source IP is a caller",
    "keys": "auth: AUTH_MODE=keys, every request needs a client key (make keys-create NAME=...)",
}

LOCAL_DEFAULTS = {
    "AUTH_MODE": "none",
    "POWERTOOLS_SERVICE_NAME": "modelgate",
    "POWERTOOLS_METRICS_NAMESPACE": "modelgate",
}


@contextmanager
def local_stack(
    environ: MutableMapping[str, str] = os.environ, say: Callable[[str], None] = print
) -> Iterator[None]:
    with ExitStack() as stack:
        for name, value in LOCAL_DEFAULTS.items():
            environ.setdefault(name, value)
        say(_AUTH_LINES.get(environ["AUTH_MODE"], f"auth: AUTH_MODE={environ['AUTH_MODE']}"))
        if not environ.get("AWS_ENDPOINT_URL") and not environ.get("TABLE_NAME"):
            aws = EmbeddedAws().start()
            stack.callback(aws.stop)
            aws.point_environment(environ)
            create_table(aws.client("dynamodb"), LOCAL_TABLE_NAME)
            environ["TABLE_NAME"] = LOCAL_TABLE_NAME
            say(f"AWS: embedded (moto) at {aws.endpoint_url}, table {LOCAL_TABLE_NAME}")
        else:
            where = environ.get("AWS_ENDPOINT_URL") or "your AWS account"
            say(f"AWS: {where}, table {environ.get('TABLE_NAME')}")
        if environ.get("ROUTES_FILE"):
            _serve_routes(environ, stack, say)
        elif environ.get("AI_MODEL_ENDPOINT"):
            say(f"model endpoint: {environ['AI_MODEL_ENDPOINT']}")
        else:
            model = LocalModel().start()
            stack.callback(model.stop)
            environ["AI_MODEL_ENDPOINT"] = model.base_url
            environ.setdefault("AI_MODEL_NAME", MODEL_NAME)
            say(
                f"model endpoint: the built-in local model at {model.base_url} "
                "(not a real model; set AI_MODEL_ENDPOINT and AI_MODEL_API_KEY for one)"
            )
        yield


def _serve_routes(environ: MutableMapping[str, str], stack: ExitStack, say: Callable[[str], None]) -> None:
    """Check the routes file as the gateway will (a bad one stops `make run` with the same message), and
    start the built-in model only if a route points at it."""
    try:
        table = load_route_table(environ["ROUTES_FILE"], PROVIDERS, None)
    except ConfigError as exc:
        raise SystemExit(f"modelgate: the gateway is misconfigured: {exc}") from None
    local_url = f"http://127.0.0.1:{LOCAL_MODEL_PORT}/v1"
    if any(route.endpoint == local_url for route in table.routes.values()):
        try:
            model = LocalModel(port=LOCAL_MODEL_PORT).start()
        except OSError as exc:
            raise SystemExit(
                f"modelgate: the built-in local model cannot serve on 127.0.0.1:{LOCAL_MODEL_PORT} "
                f"({exc.strerror}), where routes in {environ['ROUTES_FILE']} reach it: is another "
                "make run using it?"
            ) from None
        stack.callback(model.stop)
        environ.setdefault("LOCAL_MODEL_KEY", "local")
        say(f"the built-in local model at {local_url} (routes that point at it)")
    say(f"routes: {', '.join(table.names)} from {environ['ROUTES_FILE']} (default {table.default})")
    unset = [
        f"{route.name} ({variable})"
        for route in table.routes.values()
        if (variable := _env_key_variable(route.key)) and not (environ.get(variable) or "").strip()
    ]
    if unset:
        say(f"routes whose key variable is unset (503, or their fallbacks, until set): {', '.join(unset)}")


def _env_key_variable(key: str | None) -> str | None:
    """The variable an `env:NAME` key names (the gateway reads a blank one as unset, as here)."""
    scheme, _, name = (key or "").partition(":")
    return name if scheme == "env" else None
