"""DynamoDB access for the one table: client keys and per-caller limits/usage. Nothing else talks to it.

Item layout (partition `pk`, sort `sk`):
    pk="KEYS"    sk=<sha256 of a client key>   name, enabled, rpm, burst, daily_tokens, caller_id, created_at
    pk="LIMITS"  sk=<caller id>                tat_ms (rate bucket), and per window:
                                               requests_<day>, tokens_<day>, cost_<day>,
                                               requests_<month>, tokens_<month>, cost_<month>
    pk="LIMITS"  sk="#global"                  tokens_<day> across every caller
    pk="CACHE"   sk=<sha256 of the cache key>  body (JSON text), usage, expires_at (see lib/stages/cache.py)
    pk="RESPONSES#<conversation>" sk=<turn>    one stored Responses turn: caller, previous, response,
                                               input (JSON text), expires_at (lib/stages/stored_responses.py)
LIMITS items carry `expires_at` (lib/callers/limits.py sets it on every write): DynamoDB deletes an idle
caller's item some weeks after its last request.
Windowed attributes carry their window in their name, so correctness never depends on TTL or on a
reset job: yesterday's counter is simply not today's.

Only UpdateItem, PutItem, GetItem, DeleteItem and Query with condition expressions are used, so the same code
runs on AWS, DynamoDB Local, a moto server or dynalite (whatever AWS_ENDPOINT_URL names).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

KEYS_PARTITION = "KEYS"
LIMITS_PARTITION = "LIMITS"
GLOBAL_SORT_KEY = "#global"
QUOTAS_PARTITION = "QUOTAS"
CACHE_PARTITION = "CACHE"
# On a request's path no store call may wait longer than this, whatever boto3's timeouts and retries
# would do: a frozen or throttled store costs each request at most this per call, fail open or closed.
REQUEST_CALL_LIMIT_S = 1.5
# The table's TTL attribute (template.yaml): epoch seconds after which DynamoDB may delete an item.
TTL_ATTRIBUTE = "expires_at"


class StoreError(Exception):
    """The table could not be read or written (throttled, unreachable, missing)."""


class ConditionFailed(Exception):
    """A conditional write's condition was false: the expected, non-error refusal path.

    `item` is the item as it stood, when the write asked for it (`return_item_on_failure`) and the store
    returned it (DynamoDB does; an emulator without ReturnValuesOnConditionCheckFailure gives None).
    """

    def __init__(self, item: dict[str, Any] | None = None) -> None:
        super().__init__("the condition was false")
        self.item = item


class Table:
    """Thin wrapper over a boto3 DynamoDB client bound to one table; SDK errors become StoreError.

    With `call_limit_s`, each call waits at most that long (and, inside `time_limit`, never past
    the time given there): the SDK call runs on a worker thread and is abandoned when time is up. An
    abandoned write may still land later, which only ever over-counts (never loses) usage.
    """

    def __init__(self, client: Any, table_name: str, call_limit_s: float | None = None) -> None:
        self._client = client
        self.name = table_name
        self._call_limit_s = call_limit_s
        self._deadline = threading.local()

    @contextlib.contextmanager
    def time_limit(self, seconds: float | None) -> Iterator[None]:
        """Every call in this block (on this thread) ends within `seconds` from now."""
        previous = getattr(self._deadline, "at", None)
        self._deadline.at = None if seconds is None else time.monotonic() + seconds
        try:
            yield
        finally:
            self._deadline.at = previous

    def update(
        self,
        key: Mapping[str, str],
        expression: str,
        names: Mapping[str, str],
        values: Mapping[str, Any],
        condition: str | None = None,
        return_item_on_failure: bool = False,
    ) -> dict[str, Any]:
        request: dict[str, Any] = {
            "TableName": self.name,
            "Key": _encode_key(key),
            "UpdateExpression": expression,
            "ExpressionAttributeNames": dict(names),
            "ExpressionAttributeValues": {name: _encode(value) for name, value in values.items()},
            "ReturnValues": "ALL_NEW",
        }
        if condition:
            request["ConditionExpression"] = condition
            if return_item_on_failure:
                # The refused write says why, so a refusal needs no read.
                request["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        response = self._call("update_item", request)
        return _decode_item(response.get("Attributes", {}))

    def put_new(self, key: Mapping[str, str], attributes: Mapping[str, Any]) -> None:
        """Create an item; ConditionFailed if it already exists."""
        item = {**_encode_key(key), **{name: _encode(value) for name, value in attributes.items()}}
        self._call(
            "put_item",
            {"TableName": self.name, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"},
        )

    def put(self, key: Mapping[str, str], attributes: Mapping[str, Any]) -> None:
        """Create or replace an item."""
        item = {**_encode_key(key), **{name: _encode(value) for name, value in attributes.items()}}
        self._call("put_item", {"TableName": self.name, "Item": item})

    def get(self, key: Mapping[str, str], consistent: bool = True) -> dict[str, Any] | None:
        response = self._call(
            "get_item", {"TableName": self.name, "Key": _encode_key(key), "ConsistentRead": consistent}
        )
        item = response.get("Item")
        return _decode_item(item) if item else None

    def query_partition(
        self, pk: str, sk_prefix: str | None = None, consistent: bool = False
    ) -> list[dict[str, Any]]:
        """Every item of one partition, in sort-key order (one Query; more only past 1 MB a page)."""
        request: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": pk}},
            "ConsistentRead": consistent,
        }
        if sk_prefix:
            request["KeyConditionExpression"] += " AND begins_with(sk, :prefix)"
            request["ExpressionAttributeValues"][":prefix"] = {"S": sk_prefix}
        items: list[dict[str, Any]] = []
        while True:
            response = self._call("query", request)
            items.extend(_decode_item(item) for item in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return items
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def delete(
        self, key: Mapping[str, str], condition: str, names: Mapping[str, str], values: Mapping[str, Any]
    ) -> None:
        """Delete an item only while `condition` holds; ConditionFailed otherwise (an absent item too,
        when the condition names one of its attributes)."""
        request: dict[str, Any] = {
            "TableName": self.name,
            "Key": _encode_key(key),
            "ConditionExpression": condition,
            "ExpressionAttributeValues": {name: _encode(value) for name, value in values.items()},
        }
        if names:
            request["ExpressionAttributeNames"] = dict(names)
        self._call("delete_item", request)

    def _call(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        limits = [self._call_limit_s] if self._call_limit_s is not None else []
        deadline = getattr(self._deadline, "at", None)
        if deadline is not None:
            limits.append(deadline - time.monotonic())
        if not limits:
            return self._send(operation, request)
        seconds = min(limits)
        if seconds <= 0:
            raise StoreError(f"DynamoDB {operation} skipped: no time left")
        future = _workers().submit(self._send, operation, request)
        try:
            return future.result(timeout=seconds)
        except FutureTimeout:
            future.cancel()  # not started yet (every worker busy with a frozen store): never send it
            raise StoreError(f"DynamoDB {operation} did not answer within {seconds:.2f} s") from None

    def _send(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        try:
            result: dict[str, Any] = getattr(self._client, operation)(**request)
            return result
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ConditionalCheckFailedException":
                item = exc.response.get("Item")
                raise ConditionFailed(_decode_item(item) if item else None) from None
            raise StoreError(f"DynamoDB {operation} failed: {code or 'error'}") from exc
        except BotoCoreError as exc:
            raise StoreError(f"DynamoDB {operation} failed: {type(exc).__name__}") from exc


class KeyRecords:
    """Client-key records (hashes only), for `CallerResolver` and the admin command."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def find_key(self, key_hash: str) -> dict[str, Any] | None:
        return self._table.get({"pk": KEYS_PARTITION, "sk": key_hash}, consistent=False)

    def create(self, key_hash: str, attributes: Mapping[str, Any]) -> None:
        self._table.put_new({"pk": KEYS_PARTITION, "sk": key_hash}, attributes)

    def all(self) -> list[dict[str, Any]]:
        return self._table.query_partition(KEYS_PARTITION)

    def find_by_prefix(self, hash_prefix: str) -> list[dict[str, Any]]:
        return self._table.query_partition(KEYS_PARTITION, hash_prefix)

    def set_enabled(self, key_hash: str, enabled: bool) -> None:
        self._table.update(
            {"pk": KEYS_PARTITION, "sk": key_hash},
            "SET enabled = :enabled",
            {},
            {":enabled": enabled},
            condition="attribute_exists(pk)",
        )


def _encode_key(key: Mapping[str, str]) -> dict[str, Any]:
    return {name: {"S": value} for name, value in key.items()}


def _encode(value: Any) -> dict[str, Any]:
    # DynamoDB numbers are decimals; boto3 refuses floats to avoid silent rounding, so convert exactly.
    if isinstance(value, float):
        value = Decimal(repr(value))
    encoded: dict[str, Any] = _serializer.serialize(value)
    return encoded


def _decode_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _plain(_deserializer.deserialize(typed)) for name, typed in item.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _workers() -> ThreadPoolExecutor:
    """A few threads per container for time-limited calls; a frozen store can hold them only as long
    as boto3's own timeouts and retries allow (services.py keeps those short)."""
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="store")
        return _executor
