"""The entry points. Everything below them lives in lib/ (see README: layout).

- `api_handler`: Lambda behind the API Gateway HTTP API (answers whole, streams included).
- `wsgi_app`: the same gateway as an HTTP application, served by lib/http/wsgi.py for `make run`
  and, behind the Lambda Web Adapter, for the streaming Function URL.
- `rotation_handler`: the provider key's rotation.
"""

from __future__ import annotations

import gc

# A cold start builds some 80,000 objects (boto3's, powertools', ours) that all live as long as the
# container, so a garbage collection during these imports frees next to nothing: the collector ran about
# a hundred times in them, for some 20 ms of CPU (bench/cold_import.py). It waits until they are done;
# then they are frozen (gc.freeze) so that no later collection walks them either.
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
from lib.http.wsgi import WsgiGateway

# Powertools reads POWERTOOLS_SERVICE_NAME itself (lib/'s child loggers must agree with this one).
# The namespace fallback only keeps a bare `sam local invoke` (no env.json) from failing to flush.
logger = Logger()
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "modelgate")
# The resolver is built on first use, for the configured CORS origins (powertools fixes CORS per app).
gateway = Gateway(get_app, logger, metrics)
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
    from lib.rotation import (
        steps as rotation,  # here: the API function, which shares this module, never needs it
    )

    try:
        return rotation.handle(event, services.build_rotation(), request_id=context.aws_request_id)
    except rotation.RotationError as exc:
        # Raising fails the step, so Secrets Manager retries it; nothing so far touched AWSCURRENT
        # unless the step was finishSecret, which says so itself.
        logger.error("rotation failed; the current key is unchanged", extra={"reason": str(exc)})
        raise
