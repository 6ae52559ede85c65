"""`POST /api/generate/batch`: several `/api/generate` bodies in one request, answered in the order sent.

Items run side by side in a small thread pool, all inside the batch's one deadline. Each item is a
request of its own: validated, rate-limited, budgeted and cached on its own (`lib/stages/completion.py`, with
its own `RequestRecord`), so one item's 400 or 429 is that item's result, not the batch's. What a
single request says in headers (`x-cache`, `X-Temperature-Clamped`, `Retry-After`) an item says in its
result's `headers`.
Item records are written out by `telemetry.finish` on the request's thread once the pool is done.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools import Logger

from lib.apis.generate import generate_reply, parse_generate
from lib.callers.identity import Caller
from lib.platform.deadline import Deadline
from lib.platform.errors import GatewayError, InvalidRequest, UpstreamTimeout
from lib.stages.cache import DEFAULT_DIRECTIVES, CacheDirectives
from lib.stages.completion import complete
from lib.stages.context import Services
from lib.stages.telemetry import RequestRecord

logger = Logger(child=True)

# Items in flight at once: enough to overlap model calls, few enough not to trip a provider's own
# rate limit, and within the HTTP session's pool of 16 connections.
MAX_CONCURRENT_ITEMS = 4


def batch_items(body: Mapping[str, Any], max_items: int) -> list[dict[str, Any]]:
    """The batch's items, or a 400 naming what is wrong with the batch itself."""
    items = body.get("requests")
    if not isinstance(items, list):
        raise InvalidRequest(
            'send {"requests": [<an /api/generate body>, ...]}', param="requests", code="invalid_batch"
        )
    if not items:
        raise InvalidRequest(
            "the batch is empty: send at least one request", param="requests", code="invalid_batch"
        )
    if len(items) > max_items:
        raise InvalidRequest(
            f"the batch has {len(items)} requests; the limit is {max_items} (BATCH_MAX_ITEMS)",
            param="requests",
            code="invalid_batch",
        )
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise InvalidRequest(
                f"requests[{index}] must be an object (an /api/generate body)",
                param=f"requests[{index}]",
                code="invalid_batch",
            )
    return items


def run_batch(
    items: list[dict[str, Any]],
    caller: Caller,
    services: Services,
    batch_record: RequestRecord,
    deadline: Deadline,
    *,
    refresh_cache: CacheDirectives = DEFAULT_DIRECTIVES,
) -> dict[str, Any]:
    """Every item's result, in the order sent: {"results": [{"status", "body", "headers"?}, ...]}."""
    batch_id = batch_record.batch = batch_record.batch or uuid.uuid4().hex
    records = [
        RequestRecord(
            method=batch_record.method,
            route=batch_record.route,
            settings=services.settings,
            caller_id=caller.caller_id,
            batch=batch_id,
            batch_item=index,
        )
        for index in range(len(items))
    ]
    batch_record.batch_items = records

    def run(index: int) -> dict[str, Any]:
        return _run_item(items[index], records[index], caller, services, deadline, refresh_cache)

    with ThreadPoolExecutor(max_workers=min(MAX_CONCURRENT_ITEMS, len(items))) as pool:
        results = list(pool.map(run, range(len(items))))
    return {"results": results}


def _run_item(
    item: Mapping[str, Any],
    record: RequestRecord,
    caller: Caller,
    services: Services,
    deadline: Deadline,
    refresh_cache: CacheDirectives,
) -> dict[str, Any]:
    record.started = time.monotonic()  # its latency is its own, not the time it waited for a worker
    headers: dict[str, str] = {}
    try:
        request = parse_generate(item, services.settings)
        if deadline.expired():  # nothing is admitted or spent for an item the deadline left no time for
            raise UpstreamTimeout(
                f"the batch's deadline ({deadline.seconds:g} s) passed before this request started"
            )
        body, usage = complete(request, caller, services, record, deadline, refresh_cache=refresh_cache)
        result: dict[str, Any] = {"status": 200, "body": generate_reply(body, request, usage)}
    except GatewayError as error:
        record.fail(error.outcome, error.code)
        result = {"status": error.status, "body": error.body()}
        headers = error.headers()
    except Exception as error:  # a bug of ours fails this item, never the batch
        logger.exception("unhandled error in a batch item", extra={"error_type": type(error).__name__})
        internal = GatewayError("internal error; the request id is in the logs")
        record.fail(internal.outcome, internal.code)
        result = {"status": internal.status, "body": internal.body()}
    record.finished = time.monotonic()
    record.status = result["status"]
    headers = {**record.response_headers, **headers}
    if headers:
        result["headers"] = headers
    return result
