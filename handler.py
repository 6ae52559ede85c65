"""The entry points (docs/architecture.md): `api_handler` (the HTTP API), `wsgi_app` (the same gateway over
HTTP: `make run`, and the streaming Function URL, whose run.sh runs this module), `rotation_handler`."""

from __future__ import annotations

import gc

# The 80,000 objects a cold start builds live as long as the container: collecting during the imports
# frees nothing and cost ~20 ms (bench/cold_import.py). Collect after, and never walk them (freeze).
gc.disable()

import os
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths

if TYPE_CHECKING:  # an annotation only: a cold start need not import it
    from aws_lambda_powertools.utilities.typing import LambdaContext

from lib import services
from lib.http.app import get_app
from lib.http.gateway import Gateway
from lib.http.wsgi import WsgiGateway, serve_on_adapter_port

logger = Logger()
# The fallback keeps a bare `sam local invoke` (no env.json) from failing to flush.
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "modelgate")
gateway = Gateway(get_app, logger, metrics)  # the resolver is built on first use, for the CORS origins
wsgi_app = WsgiGateway(gateway, logger)

gc.freeze()
gc.enable()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics(capture_cold_start_metric=True)
def api_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return gateway.lambda_response(event, context)


@logger.inject_lambda_context
def rotation_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    """Secrets Manager's four rotation steps, or the scheduled rotation of an SSM parameter."""
    return services.rotate(event, request_id=context.aws_request_id)


if __name__ == "__main__":  # the streaming function's run.sh: serve on the Web Adapter's port
    serve_on_adapter_port(wsgi_app)
