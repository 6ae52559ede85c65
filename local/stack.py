"""The local stack behind `make run` and `make invoke`: an embedded AWS and, without ROUTES_FILE or
AI_MODEL_ENDPOINT, the built-in local model. It only sets environment variables; the gateway code is the
deployed code. What it started is handed back (`LocalStack`) for the start-up block (local/startup.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, MutableMapping
from contextlib import ExitStack, contextmanager
from typing import NamedTuple

from lib.platform.config import ConfigError
from lib.platform.route_table import RouteTable, load_route_table
from lib.providers import PROVIDERS
from lib.services import single_model_variables_set  # the gateway's own list of what a routes file overrides
from local.aws import LOCAL_TABLE_NAME, EmbeddedAws, create_table
from local.model import MODEL_NAME, LocalModel

# Where routes find the built-in model (routes.example.toml's "local" route points here).
LOCAL_MODEL_PORT = 3001

LOCAL_DEFAULTS = {
    "AUTH_MODE": "none",
    "POWERTOOLS_SERVICE_NAME": "modelgate",
    "POWERTOOLS_METRICS_NAMESPACE": "modelgate",
}


class LocalStack(NamedTuple):
    aws: str  # where the table is
    built_in_model: str | None  # the built-in model's base URL, when it serves
    routes: RouteTable | None  # the routes file's routes; None: the single model of AI_MODEL_*
    ignored: tuple[str, ...] = ()  # AI_MODEL_* variables set, which the routes file overrides


@contextmanager
def local_stack(environ: MutableMapping[str, str] = os.environ) -> Iterator[LocalStack]:
    with ExitStack() as stack:
        for name, value in LOCAL_DEFAULTS.items():
            environ.setdefault(name, value)
        if not environ.get("AWS_ENDPOINT_URL") and not environ.get("TABLE_NAME"):
            aws = EmbeddedAws().start()
            stack.callback(aws.stop)
            aws.point_environment(environ)
            create_table(aws.client("dynamodb"), LOCAL_TABLE_NAME)
            environ["TABLE_NAME"] = LOCAL_TABLE_NAME
            where = f"embedded (moto) at {aws.endpoint_url}, table {LOCAL_TABLE_NAME}"
        else:
            where = (
                f"{environ.get('AWS_ENDPOINT_URL') or 'your AWS account'}, table {environ.get('TABLE_NAME')}"
            )
        if environ.get("ROUTES_FILE"):
            yield _serve_routes(environ, stack, where)
        elif environ.get("AI_MODEL_ENDPOINT"):
            yield LocalStack(where, None, None)
        else:
            model = LocalModel().start()
            stack.callback(model.stop)
            environ["AI_MODEL_ENDPOINT"] = model.base_url
            environ.setdefault("AI_MODEL_NAME", MODEL_NAME)
            yield LocalStack(where, model.base_url, None)


def _serve_routes(environ: MutableMapping[str, str], stack: ExitStack, aws: str) -> LocalStack:
    """Check the routes file as the gateway will (a bad one stops `make run` with the same message), and
    start the built-in model only if a route points at it. The single-model variables it overrides are
    named in the start-up block and dropped, so the gateway has nothing left to warn about later."""
    try:
        table = load_route_table(environ["ROUTES_FILE"], PROVIDERS, None)
    except ConfigError as exc:
        raise SystemExit(f"modelgate: the gateway is misconfigured: {exc}") from None
    ignored = single_model_variables_set(environ)
    for name in ignored:
        del environ[name]
    local_url = f"http://127.0.0.1:{LOCAL_MODEL_PORT}/v1"
    if not any(route.endpoint == local_url for route in table.routes.values()):
        return LocalStack(aws, None, table, ignored)
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
    return LocalStack(aws, local_url, table, ignored)
